/* SPDX-License-Identifier: MIT */
#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_LIBEDIT
#include <histedit.h>
#endif

#define PROMPT "> "
#define MAX_LINE 65536

struct terminal {
#ifdef HAVE_LIBEDIT
    EditLine *el;
    History *hist;
#endif
    ws_loop *loop;
    ws_watch *watch; /* stdin, when it can be polled */
    ws_timer *drip;  /* stdin that cannot (a regular file): read in turns */
    terminal_line_fn fn;
    void *ud;
    bool editing;
    bool paused;
    bool ended;
    char *buf; /* plain mode: bytes read, not yet a whole line */
    size_t len;
};

bool terminal_editing(const terminal *t) { return t->editing; }

static void end_of_input(terminal *t)
{
    if (t->ended)
        return;
    t->ended = true;
    t->fn(NULL, t->ud);
}

/* Hands over every complete line in buf. */
static void plain_lines(terminal *t)
{
    char *start = t->buf, *nl;
    while (!t->paused && (nl = memchr(start, '\n', t->len - (size_t)(start - t->buf)))) {
        *nl = '\0';
        if (nl > start && nl[-1] == '\r')
            nl[-1] = '\0';
        t->fn(start, t->ud);
        start = nl + 1;
    }
    t->len -= (size_t)(start - t->buf);
    memmove(t->buf, start, t->len);
}

/* Reads what stdin has. Returns false at its end. */
static bool plain_read(terminal *t)
{
    if (t->len == MAX_LINE) { /* a line longer than any message: cut it */
        t->buf[MAX_LINE - 1] = '\n';
        plain_lines(t);
    }
    ssize_t n = read(0, t->buf + t->len, MAX_LINE - t->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0) {
        if (t->len) { /* a last line without its newline */
            t->buf[t->len++] = '\n';
            plain_lines(t);
        }
        return false;
    }
    t->len += (size_t)n;
    plain_lines(t);
    return true;
}

#ifdef HAVE_LIBEDIT
static const char *prompt(EditLine *el)
{
    (void)el;
    return PROMPT;
}

/* One key: libedit's native API in unbuffered mode edits the line a key
 * at a time and says when it is complete, so the loop never waits for a
 * whole line. (Its readline emulation falls back to blocking, whole-line
 * reads after the first line.) */
static void edit_key(terminal *t)
{
    int n;
    const char *line = el_gets(t->el, &n);
    if (!line) {
        if (n == 0) /* stdin closed */
            end_of_input(t);
        return; /* n == -1: still editing */
    }
    if (n == 1 && line[0] == 4) { /* ^D on an empty line */
        end_of_input(t);
        return;
    }
    if (n == 0 || line[n - 1] != '\n')
        return;
    char *copy = malloc((size_t)n);
    if (copy) {
        memcpy(copy, line, (size_t)n - 1);
        copy[n - 1] = '\0';
    }
    /* A fresh line and prompt for what comes next. */
    el_set(t->el, EL_UNBUFFERED, 0);
    el_set(t->el, EL_UNBUFFERED, 1);
    if (copy) {
        HistEvent ev;
        if (copy[0])
            history(t->hist, &ev, H_ENTER, copy);
        t->fn(copy, t->ud);
        free(copy);
    }
}

static bool edit_open(terminal *t)
{
    t->el = el_init("chat-client", stdin, stdout, stderr);
    t->hist = history_init();
    if (!t->el || !t->hist)
        return false;
    HistEvent ev;
    history(t->hist, &ev, H_SETSIZE, 500);
    el_set(t->el, EL_EDITOR, "emacs");
    el_set(t->el, EL_PROMPT, prompt);
    el_set(t->el, EL_HIST, history, t->hist);
    /* The arrows as terminals send them outside keypad mode (terminfo only
     * knows the keypad form). */
    static const char *const keys[][2] = {
        {"\\e[A", "ed-prev-history"}, {"\\e[B", "ed-next-history"}, {"\\e[C", "ed-next-char"},
        {"\\e[D", "ed-prev-char"},    {"\\e[H", "ed-move-to-beg"},  {"\\e[F", "ed-move-to-end"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        el_set(t->el, EL_BIND, keys[i][0], keys[i][1], NULL);
    el_source(t->el, NULL); /* ~/.editrc, as every libedit program */
    el_set(t->el, EL_UNBUFFERED, 1);
    return true;
}
#endif

static void on_stdin(ws_watch *w, int fd, unsigned events, void *ud)
{
    terminal *t = ud;
    (void)w;
    (void)fd;
    (void)events;
#ifdef HAVE_LIBEDIT
    if (t->editing) {
        edit_key(t);
        return;
    }
#endif
    if (!plain_read(t)) {
        ws_watch_free(t->watch);
        t->watch = NULL;
        end_of_input(t);
    }
}

static void on_drip(ws_timer *tm, void *ud)
{
    terminal *t = ud;
    (void)tm;
    if (!t->paused && !plain_read(t)) {
        ws_timer_stop(t->drip);
        end_of_input(t);
    }
}

terminal *terminal_open(ws_loop *l, terminal_line_fn fn, void *ud)
{
    terminal *t = calloc(1, sizeof *t);
    if (!t || !(t->buf = malloc(MAX_LINE))) {
        free(t);
        return NULL;
    }
    t->loop = l;
    t->fn = fn;
    t->ud = ud;
#ifdef HAVE_LIBEDIT
    t->editing = isatty(0) && isatty(1) && edit_open(t);
#endif
    if (!t->editing)
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    int err;
    t->watch = ws_watch_fd(l, 0, WS_IO_READ, on_stdin, t, &err);
    if (!t->watch && !t->editing) {
        /* A regular file cannot be polled (epoll refuses it), but its reads
         * never block: read it in turns instead. */
        t->drip = ws_timer_new(l, on_drip, t);
        if (t->drip)
            ws_timer_start(t->drip, 0, 5);
    }
    if (!t->watch && !t->drip) {
        fprintf(stderr, "chat-client: cannot read stdin: %s\n", ws_strerror(err));
        terminal_close(t);
        return NULL;
    }
    return t;
}

/* A paused terminal is not watched at all: a pipe whose writer is gone
 * reports a hang-up even with no interest, so an idle watch would spin. */
void terminal_pause(terminal *t)
{
#ifdef HAVE_LIBEDIT
    if (t->editing && !t->paused)
        fputs("\r\033[K", stdout); /* no prompt while nothing typed is read */
#endif
    t->paused = true;
    ws_watch_free(t->watch);
    t->watch = NULL;
}

void terminal_resume(terminal *t)
{
    t->paused = false;
    if (!t->editing)
        plain_lines(t); /* lines that waited */
    if (t->ended || t->paused || t->drip)
        return;
    if (!t->watch)
        t->watch = ws_watch_fd(t->loop, 0, WS_IO_READ, on_stdin, t, NULL);
#ifdef HAVE_LIBEDIT
    if (t->editing)
        el_set(t->el, EL_REFRESH); /* the prompt, now that typing is read again */
#endif
}

void terminal_print(terminal *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
#ifdef HAVE_LIBEDIT
    if (t->editing && !t->ended && !t->paused) {
        /* Erase the prompt line, print above it, then let the editor draw
         * the prompt and the line being typed again. */
        fputs("\r\033[K", stdout);
        vprintf(fmt, ap);
        fputs("\n", stdout);
        fflush(stdout);
        el_set(t->el, EL_REFRESH);
        va_end(ap);
        return;
    }
#endif
    vprintf(fmt, ap);
    fputs("\n", stdout);
    fflush(stdout);
    va_end(ap);
}

void terminal_close(terminal *t)
{
    if (!t)
        return;
#ifdef HAVE_LIBEDIT
    if (t->el) {
        el_set(t->el, EL_UNBUFFERED, 0); /* the terminal back as it was */
        el_end(t->el);
    }
    if (t->hist)
        history_end(t->hist);
#endif
    ws_watch_free(t->watch);
    ws_timer_free(t->drip);
    free(t->buf);
    free(t);
}
