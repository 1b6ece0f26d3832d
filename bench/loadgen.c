/* SPDX-License-Identifier: MIT */
/* libwschat load generator: drives a WebSocket (or, with --raw, a plain TCP)
 * server and reports throughput, latency and the server's CPU time and RSS
 * per operation, read from /proc/<pid>. Every echoed or broadcast payload is
 * verified.
 *
 *   loadgen echo      --port P --pid PID [--raw] -c CONNS -d INFLIGHT -s BYTES -n MSGS [--binary]
 *   loadgen broadcast --port P --pid PID [--raw] -r RECEIVERS -n MSGS -s BYTES [--path /chat]
 *                     [-b BURST]
 *   loadgen idle      --port P --pid PID [--raw] -c CONNS [--after BYTES]
 *   loadgen connect   --port P --pid PID [--raw] -n HANDSHAKES
 *   loadgen hop       --port P --port2 Q -n MSGS -s BYTES [--path /chat]
 *
 * --pid may list several processes (--pid 11,12,13): their CPU is summed
 * (a cluster's nodes). hop: one sender on P and one receiver on Q (P == Q
 * for one node), one message in flight: the latency of a broadcast from a
 * member on one node to a member on another.
 *
 * --tls speaks TLS to the server (when built with OpenSSL): the certificate
 * is not checked, every connection makes a full handshake (no resumption)
 * and asks for TLS_AES_128_GCM_SHA256, so every server does the same work.
 * idle --after BYTES then sends each connection one BYTES message, reads
 * its echo and measures again (memory after traffic).
 *
 * Output: one line "key=value ..." (parsed by bench/run.py). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef BENCH_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

typedef struct opts {
    const char *mode, *path;
    int port, port2, conns, inflight, receivers, burst;
    int pid, pids[8], npids; /* --pid: the first, and all of them */
    long msgs;
    size_t size, after;
    bool raw, binary, tls;
    void *tls_ctx; /* SSL_CTX * with --tls */
} opts;

/* A connection: its fd and, with --tls, its SSL. */
typedef struct wire {
    int fd;
    void *ssl;
} wire;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Server CPU seconds (user + system) and RSS bytes from /proc. */
static double one_cpu(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU of every --pid together. */
static double proc_cpu(const opts *o)
{
    double sum = 0;
    for (int i = 0; i < o->npids; i++)
        sum += one_cpu(o->pids[i]);
    return sum;
}

static long proc_rss(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One read or write on a wire: like read(2)/write(2), -1 with errno
 * EAGAIN when it would block. TLS asks for more, or for the socket to
 * drain, either way it is "try again". */
static ssize_t wire_io(wire *w, void *p, size_t n, bool out)
{
#ifdef BENCH_TLS
    if (w->ssl) {
        size_t done = 0;
        int ok = out ? SSL_write_ex(w->ssl, p, n, &done) : SSL_read_ex(w->ssl, p, n, &done);
        if (ok)
            return (ssize_t)done;
        int e = SSL_get_error(w->ssl, 0);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            errno = EAGAIN;
            return -1;
        }
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPROTO;
        return -1;
    }
#endif
    return out ? write(w->fd, p, n) : read(w->fd, p, n);
}

/* Reads what there is, up to cap: with TLS until OpenSSL has nothing
 * buffered either, so that level-triggered epoll stays truthful. */
static ssize_t wire_read(wire *w, void *buf, size_t cap)
{
    ssize_t total = 0;
    do {
        ssize_t r = wire_io(w, (char *)buf + total, cap - (size_t)total, false);
        if (r <= 0)
            return total ? total : r;
        total += r;
    } while (w->ssl && (size_t)total < cap);
    return total;
}

static void send_all(wire *wr, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = wire_io(wr, (void *)c, n, true);
        if (w < 0 && errno == EAGAIN) {
            usleep(50);
            continue;
        }
        if (w <= 0)
            die("write");
        c += w;
        n -= (size_t)w;
    }
}

/* Blocking TLS (with --tls) and WebSocket handshakes; returns the wire,
 * non-blocking afterwards. */
static wire ws_open(const opts *o, const char *path)
{
    wire w = {dial(o->port), NULL};
    int fd = w.fd;
#ifdef BENCH_TLS
    if (o->tls) {
        SSL *ssl = SSL_new(o->tls_ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_connect(ssl) != 1) {
            fprintf(stderr, "loadgen: TLS handshake failed\n");
            ERR_print_errors_fp(stderr);
            exit(1);
        }
        w.ssl = ssl;
    }
#endif
    if (!o->raw) {
        char req[256];
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n", path);
        send_all(&w, req, (size_t)n);
        char resp[512];
        size_t got = 0;
        while (got < sizeof resp - 1) {
            ssize_t r = wire_io(&w, resp + got, 1, false); /* byte by byte: never eat a frame */
            if (r <= 0)
                die("handshake");
            got += (size_t)r;
            if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
                break;
        }
        if (strncmp(resp, "HTTP/1.1 101", 12) != 0) {
            fprintf(stderr, "loadgen: handshake refused: %.40s\n", resp);
            exit(1);
        }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return w;
}

static void wire_close(wire *w)
{
#ifdef BENCH_TLS
    SSL_free(w->ssl);
#endif
    close(w->fd);
}

/* A masked client frame (or the raw payload with --raw) into out. */
static size_t encode(const opts *o, uint8_t *out, const uint8_t *p, size_t n)
{
    if (o->raw) {
        memcpy(out, p, n);
        return n;
    }
    size_t h = 0;
    out[h++] = (uint8_t)(0x80 | (o->binary ? 2 : 1));
    if (n < 126) {
        out[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(out + h, key, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = p[i] ^ key[i & 3];
    return h + n;
}

/* Bytes a server frame with an n-byte payload occupies (--raw: n). */
static size_t wire_len(const opts *o, size_t n)
{
    if (o->raw)
        return n;
    return n + (n < 126 ? 2 : n < 65536 ? 4 : 10);
}

/* Total length of the unmasked server frame at p, or 0 if incomplete. */
static size_t frame_len(const uint8_t *p, size_t n)
{
    if (n < 2)
        return 0;
    size_t h = 2, len = p[1] & 0x7F;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (size_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h = 10;
    }
    return n >= h + len ? h + len : 0;
}

/* A read of a connection the server must keep open: end of stream or an
 * error other than "try again" ends the run (instead of spinning on a
 * readable, closed socket). Returns the count, or 0 for "nothing yet". */
static ssize_t read_live(wire *w, void *buf, size_t cap)
{
    ssize_t r = wire_read(w, buf, cap);
    if (r > 0)
        return r;
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    fprintf(stderr, "loadgen: the server closed a connection (%s)\n", r ? strerror(errno) : "EOF");
    exit(1);
}

typedef struct conn {
    wire w;
    uint8_t *in;
    size_t have;
    int outstanding;
    double sent_at[64];     /* per in-flight message, FIFO */
    int head, tail;
} conn;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report_lat(double *lat, long n)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("p50_us=%.1f p99_us=%.1f ", lat[n / 2] * 1e6, lat[(long)(n * 0.99)] * 1e6);
}

static void run_echo(const opts *o)
{
    uint8_t *payload = calloc(1, o->size + 1), *frame = calloc(1, o->size + 15);
    for (size_t i = 0; i < o->size; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    size_t flen = encode(o, frame, payload, o->size), want = wire_len(o, o->size);
    conn *cs = calloc((size_t)o->conns, sizeof *cs);
    int ep = epoll_create1(0);
    for (int i = 0; i < o->conns; i++) {
        cs[i].w = ws_open(o, o->path);
        cs[i].in = malloc(want * (size_t)o->inflight + 65536);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].w.fd, &ev);
    }
    double *lat = malloc(sizeof(double) * (size_t)o->msgs);
    long sent = 0, done = 0;
    double cpu0 = proc_cpu(o), t0 = now();
    for (int i = 0; i < o->conns; i++)
        for (int k = 0; k < o->inflight && sent < o->msgs; k++, sent++) {
            cs[i].sent_at[cs[i].tail++ % 64] = now();
            send_all(&cs[i].w, frame, flen);
        }
    struct epoll_event evs[256];
    while (done < o->msgs) {
        int n = epoll_wait(ep, evs, 256, 5000);
        if (n <= 0) {
            fprintf(stderr, "loadgen: stalled at %ld/%ld\n", done, o->msgs);
            exit(1);
        }
        for (int e = 0; e < n; e++) {
            conn *c = &cs[evs[e].data.u32];
            ssize_t r = read_live(&c->w, c->in + c->have,
                                  want * (size_t)o->inflight + 65536 - c->have);
            if (r == 0)
                continue;
            c->have += (size_t)r;
            while (c->have >= want) {
                /* Verify: the echo must be byte-identical. */
                if (memcmp(c->in + (want - o->size), payload, o->size) != 0) {
                    fprintf(stderr, "loadgen: wrong echo\n");
                    exit(1);
                }
                memmove(c->in, c->in + want, c->have - want);
                c->have -= want;
                lat[done++] = now() - c->sent_at[c->head++ % 64];
                if (sent < o->msgs) {
                    c->sent_at[c->tail++ % 64] = now();
                    send_all(&c->w, frame, flen);
                    sent++;
                }
            }
        }
    }
    double secs = now() - t0, cpu = proc_cpu(o) - cpu0;
    printf("mode=echo msgs=%ld secs=%.3f rate=%.0f server_cpu_s=%.3f server_us_per_op=%.3f ", done,
           secs, done / secs, cpu, cpu * 1e6 / (double)done);
    report_lat(lat, done);
    printf("\n");
    for (int i = 0; i < o->conns; i++) {
        wire_close(&cs[i].w);
        free(cs[i].in);
    }
    close(ep);
    free(cs);
    free(lat);
    free(payload);
    free(frame);
}

static void run_broadcast(const opts *o)
{
    size_t want = wire_len(o, o->size);
    wire *rx = malloc(sizeof(wire) * (size_t)o->receivers);
    long *got = calloc((size_t)o->receivers, sizeof(long));
    size_t *have = calloc((size_t)o->receivers, sizeof(size_t));
    uint8_t **pend = malloc(sizeof(uint8_t *) * (size_t)o->receivers);
    for (int i = 0; i < o->receivers; i++)
        pend[i] = malloc(1 << 16);
    int ep = epoll_create1(0);
    for (int i = 0; i < o->receivers; i++) {
        rx[i] = ws_open(o, o->path);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, rx[i].fd, &ev);
    }
    usleep(200000); /* let welcomes arrive, then drain them */
    char junk[65536];
    for (int i = 0; i < o->receivers; i++)
        while (wire_read(&rx[i], junk, sizeof junk) > 0)
            ;
    wire tx = ws_open(o, o->path);
    usleep(100000);
    while (wire_read(&tx, junk, sizeof junk) > 0)
        ;
    uint8_t *payload = calloc(1, o->size + 1), *frame = calloc(1, o->size + 15);
    memset(payload, 'b', o->size);
    size_t flen = encode(o, frame, payload, o->size);
    /* -b B: B frames in one write, the next burst only once every copy of
     * this one has arrived, so every server is fed the same chunks. */
    int burst = o->burst > 0 ? o->burst : 1;
    uint8_t *frames = malloc(flen * (size_t)burst);
    for (int b = 0; b < burst; b++)
        memcpy(frames + (size_t)b * flen, frame, flen);
    long expected = o->msgs * o->receivers, total = 0;
    double cpu0 = proc_cpu(o), t0 = now();
    long sent = 0;
    struct epoll_event evs[256];
    while (total < expected) {
        /* Keep a window of messages in flight so the fan-out, not the
         * sender, is what is measured. */
        if (o->burst > 0) {
            if (sent < o->msgs && total == sent * o->receivers) {
                long k = o->msgs - sent < burst ? o->msgs - sent : burst;
                send_all(&tx, frames, flen * (size_t)k);
                sent += k;
            }
        } else {
            while (sent < o->msgs && sent - total / o->receivers < 64) {
                send_all(&tx, frame, flen);
                sent++;
            }
        }
        int n = epoll_wait(ep, evs, 256, 5000);
        if (n <= 0) {
            fprintf(stderr, "loadgen: broadcast stalled at %ld/%ld\n", total, expected);
            exit(1);
        }
        for (int e = 0; e < n; e++) {
            int i = (int)evs[e].data.u32;
            ssize_t r = read_live(&rx[i], pend[i] + have[i], (1 << 16) - have[i]);
            if (r == 0)
                continue;
            have[i] += (size_t)r;
            long k = 0;
            size_t off = 0;
            if (o->raw) {
                k = (long)(have[i] / want);
                off = (size_t)k * want;
            } else {
                /* Whole frames only; each must carry the payload we sent. */
                for (;;) {
                    size_t fl = frame_len(pend[i] + off, have[i] - off);
                    if (!fl)
                        break;
                    if (fl < o->size || memcmp(pend[i] + off + fl - o->size, payload, o->size) != 0) {
                        fprintf(stderr, "loadgen: wrong broadcast payload\n");
                        exit(1);
                    }
                    off += fl;
                    k++;
                }
            }
            memmove(pend[i], pend[i] + off, have[i] - off);
            have[i] -= off;
            got[i] += k;
            total += k;
        }
        while (wire_read(&tx, junk, sizeof junk) > 0)
            ; /* the sender's own copies */
    }
    double secs = now() - t0, cpu = proc_cpu(o) - cpu0;
    printf("mode=broadcast deliveries=%ld secs=%.3f rate=%.0f server_cpu_s=%.3f "
           "server_us_per_op=%.4f\n", total, secs, total / secs, cpu, cpu * 1e6 / (double)total);
    for (int i = 0; i < o->receivers; i++) {
        wire_close(&rx[i]);
        free(pend[i]);
    }
    wire_close(&tx);
    close(ep);
    free(frames);
    free(pend);
    free(rx);
    free(got);
    free(have);
    free(payload);
    free(frame);
}

/* Waits (bounded) until w has brought `want` bytes, discarding them. */
static void drain_exact(wire *w, size_t want)
{
    char buf[65536];
    double deadline = now() + 10;
    while (want) {
        ssize_t r = read_live(w, buf, want < sizeof buf ? want : sizeof buf);
        if (r == 0) {
            if (now() > deadline) {
                fprintf(stderr, "loadgen: no echo within 10 s\n");
                exit(1);
            }
            usleep(100);
            continue;
        }
        want -= (size_t)r;
    }
}

static void run_idle(const opts *o)
{
    long base = proc_rss(o->pid);
    wire *ws = malloc(sizeof(wire) * (size_t)o->conns);
    for (int i = 0; i < o->conns; i++)
        ws[i] = ws_open(o, o->path);
    usleep(500000);
    long held = proc_rss(o->pid);
    printf("mode=idle conns=%d server_rss_base=%ld server_rss_held=%ld server_bytes_per_op=%.0f",
           o->conns, base, held, (double)(held - base) / o->conns);
    if (o->after) {
        uint8_t *payload = calloc(1, o->after), *frame = malloc(o->after + 14);
        size_t flen = encode(o, frame, payload, o->after);
        for (int i = 0; i < o->conns; i++) {
            send_all(&ws[i], frame, flen);
            drain_exact(&ws[i], wire_len(o, o->after));
        }
        usleep(500000);
        long after = proc_rss(o->pid);
        printf(" server_bytes_after=%.0f", (double)(after - base) / o->conns);
        free(payload);
        free(frame);
    }
    printf("\n");
    for (int i = 0; i < o->conns; i++)
        wire_close(&ws[i]);
    free(ws);
}

static void run_connect(const opts *o)
{
    double cpu0 = proc_cpu(o), t0 = now();
    for (long i = 0; i < o->msgs; i++) {
        wire w = ws_open(o, o->path);
        if (o->raw) { /* a raw ceiling "handshake": one round trip */
            fcntl(w.fd, F_SETFL, fcntl(w.fd, F_GETFL) & ~O_NONBLOCK);
            send_all(&w, "x", 1);
            char c;
            if (wire_io(&w, &c, 1, false) != 1)
                die("raw round trip");
        }
        wire_close(&w);
    }
    double secs = now() - t0, cpu = proc_cpu(o) - cpu0;
    printf("mode=connect handshakes=%ld secs=%.3f rate=%.0f server_cpu_s=%.3f server_us_per_op=%.2f\n",
           o->msgs, secs, o->msgs / secs, cpu, cpu * 1e6 / (double)o->msgs);
}

static void run_hop(const opts *o)
{
    opts rx_o = *o;
    rx_o.port = o->port2 ? o->port2 : o->port;
    wire rx = ws_open(&rx_o, o->path);
    usleep(200000);
    char junk[65536];
    while (wire_read(&rx, junk, sizeof junk) > 0)
        ; /* its welcome */
    wire tx = ws_open(o, o->path);
    usleep(200000);
    while (wire_read(&tx, junk, sizeof junk) > 0)
        ;
    while (wire_read(&rx, junk, sizeof junk) > 0)
        ; /* the sender's join, if announced */
    uint8_t *payload = calloc(1, o->size + 1), *frame = calloc(1, o->size + 15);
    memset(payload, 'h', o->size);
    size_t flen = encode(o, frame, payload, o->size);
    double *lat = malloc(sizeof(double) * (size_t)o->msgs);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, rx.fd, &ev);
    uint8_t in[65536];
    for (long i = 0; i < o->msgs; i++) {
        double t0 = now();
        send_all(&tx, frame, flen);
        size_t have = 0;
        for (;;) { /* until one whole frame ending in our payload */
            struct epoll_event got;
            if (epoll_wait(ep, &got, 1, 5000) <= 0) {
                fprintf(stderr, "loadgen: hop %ld never arrived\n", i);
                exit(1);
            }
            ssize_t r = read_live(&rx, in + have, sizeof in - have);
            have += (size_t)(r > 0 ? r : 0);
            size_t fl = frame_len(in, have);
            if (fl && fl >= o->size && memcmp(in + fl - o->size, payload, o->size) == 0)
                break;
        }
        lat[i] = now() - t0;
        while (wire_read(&tx, junk, sizeof junk) > 0)
            ; /* the sender's own copy */
    }
    printf("mode=hop msgs=%ld ", o->msgs);
    report_lat(lat, o->msgs);
    printf("\n");
    wire_close(&rx);
    wire_close(&tx);
    close(ep);
    free(lat);
    free(payload);
    free(frame);
}

int main(int argc, char **argv)
{
    opts o = {.path = "/", .conns = 100, .inflight = 1, .receivers = 1000, .msgs = 100000,
              .size = 32};
    if (argc < 2) {
        fprintf(stderr, "usage: loadgen echo|broadcast|idle|connect --port P --pid PID ...\n");
        return 2;
    }
    o.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--raw")) o.raw = true;
        else if (!strcmp(a, "--tls"))
            o.tls = true;
        else if (!strcmp(a, "--after"))
            o.after = (size_t)atol(v), i++;
        else if (!strcmp(a, "--binary")) o.binary = true;
        else if (!strcmp(a, "--port")) o.port = atoi(v), i++;
        else if (!strcmp(a, "--pid")) {
            for (const char *p = v; *p && o.npids < 8; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
                o.pids[o.npids++] = atoi(p);
            o.pid = o.pids[0];
            i++;
        } else if (!strcmp(a, "--port2"))
            o.port2 = atoi(v), i++;
        else if (!strcmp(a, "--path")) o.path = v, i++;
        else if (!strcmp(a, "-c")) o.conns = atoi(v), i++;
        else if (!strcmp(a, "-d")) o.inflight = atoi(v), i++;
        else if (!strcmp(a, "-r")) o.receivers = atoi(v), i++;
        else if (!strcmp(a, "-b")) o.burst = atoi(v), i++;
        else if (!strcmp(a, "-n")) o.msgs = atol(v), i++;
        else if (!strcmp(a, "-s")) o.size = (size_t)atol(v), i++;
        else { fprintf(stderr, "loadgen: unknown flag %s\n", a); return 2; }
    }
    if (o.inflight > 64)
        o.inflight = 64;
    if (o.tls) {
#ifdef BENCH_TLS
        SSL_CTX *c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
        SSL_CTX_set_ciphersuites(c, "TLS_AES_128_GCM_SHA256");
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
        o.tls_ctx = c;
#else
        fprintf(stderr, "loadgen: built without OpenSSL: no --tls\n");
        return 2;
#endif
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (!strcmp(o.mode, "echo")) run_echo(&o);
    else if (!strcmp(o.mode, "hop"))
        run_hop(&o);
    else if (!strcmp(o.mode, "broadcast")) run_broadcast(&o);
    else if (!strcmp(o.mode, "idle")) run_idle(&o);
    else if (!strcmp(o.mode, "connect")) run_connect(&o);
    else { fprintf(stderr, "loadgen: unknown mode %s\n", o.mode); return 2; }
    return 0;
}
