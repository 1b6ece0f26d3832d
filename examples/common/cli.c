/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(const char *prog, const char *extra, int code)
{
    fprintf(code ? stderr : stdout,
            "usage: %s [--port N] [--bind ADDR] [--threads N] [--backend NAME]%s [--verbose]\n"
            "  --port N        TCP port (default 8080; 0 picks a free one)\n"
            "  --bind ADDR     address to listen on (default 0.0.0.0)\n"
            "  --threads N     event loops (default 1)\n"
            "  --backend NAME  I/O backend: epoll, poll (default: the build's)\n"
            "  --handshake-timeout MS  time allowed for the HTTP upgrade (default 10000)\n"
            "  --max-connections N     refuse (503) above N connections (default 100000)\n"
            "  --send-limit BYTES      close (1008) a session whose queue passes BYTES\n"
            "  --ping-period MS        ping every session this often (default 30000)\n"
            "  --idle-timeout MS       close (1001) a session silent this long (default 60000)\n"
            "  --tls-cert FILE --tls-key FILE  serve TLS (wss://, https://) on --port\n"
            "  --tls-min 1.2|1.3       oldest TLS version accepted (default 1.2)\n"
            "  --redirect-from PORT    also listen on PORT in plain HTTP, redirecting to https\n"
            "  --reuseport     share the port with other processes (SO_REUSEPORT)\n"
            "  --no-deflate    do not offer permessage-deflate\n"
            "  --verbose       log debug messages\n",
            prog, extra);
    exit(code);
}

static bool allowed(const char *const *extra, const char *name)
{
    for (; extra && *extra; extra++)
        if (strcmp(*extra, name) == 0)
            return true;
    return false;
}

static long number(const char *prog, const char *extra, const char *v, long lo, long hi)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < lo || n > hi)
        usage(prog, extra, 2);
    return n;
}

void cli_parse(cli *c, int argc, char **argv, const char *prog, const char *usage_extra,
               const char *const *extra)
{
    memset(c, 0, sizeof *c);
    c->cfg.port = 8080;
    c->cfg.log = cli_log;
    c->cfg.log_ud = c;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            usage(prog, usage_extra, 0);
        else if (strcmp(a, "--port") == 0)
            c->cfg.port = (int)number(prog, usage_extra, v, 0, 65535), i++;
        else if (strcmp(a, "--threads") == 0)
            c->cfg.threads = (int)number(prog, usage_extra, v, 1, 64), i++;
        else if (strcmp(a, "--bind") == 0 && v)
            c->cfg.bind = v, i++;
        else if (strcmp(a, "--backend") == 0 && v)
            c->cfg.backend = v, i++;
        else if (strcmp(a, "--verbose") == 0)
            c->verbose = true;
        else if (strcmp(a, "--reuseport") == 0)
            c->cfg.reuse_port = true;
        else if (strcmp(a, "--style") == 0 && v && allowed(extra, "style"))
            c->style = v, i++;
        else if (strcmp(a, "--web-root") == 0 && v && allowed(extra, "web-root"))
            c->web_root = v, i++;
        else if (strcmp(a, "--max-connections") == 0)
            c->cfg.max_connections = (size_t)number(prog, usage_extra, v, 1, 1000000), i++;
        else if (strcmp(a, "--send-limit") == 0) {
            /* Hard limit; the high-water mark is a quarter of it. */
            c->cfg.send_hard_limit = (size_t)number(prog, usage_extra, v, 4096, 1L << 40), i++;
            c->cfg.send_high_water = c->cfg.send_hard_limit / 4;
        } else if (strcmp(a, "--handshake-timeout") == 0)
            c->cfg.handshake_timeout_ms = (uint32_t)number(prog, usage_extra, v, 1, 600000), i++;
        else if (strcmp(a, "--ping-period") == 0)
            c->cfg.ping_period_ms = (uint32_t)number(prog, usage_extra, v, 1, 86400000), i++;
        else if (strcmp(a, "--idle-timeout") == 0)
            c->cfg.timeout_ms = (uint32_t)number(prog, usage_extra, v, 1, 86400000), i++;
        else if (strcmp(a, "--no-deflate") == 0)
            c->no_deflate = true;
        else if (strcmp(a, "--tls-cert") == 0 && v)
            c->tls_cert = v, i++;
        else if (strcmp(a, "--tls-key") == 0 && v)
            c->tls_key = v, i++;
        else if (strcmp(a, "--tls-min") == 0 && v && (!strcmp(v, "1.2") || !strcmp(v, "1.3")))
            c->tls_min = strcmp(v, "1.3") == 0 ? WS_TLS_1_3 : WS_TLS_1_2, i++;
        else if (strcmp(a, "--redirect-from") == 0)
            c->redirect_from = (int)number(prog, usage_extra, v, 1, 65535), i++;
        else
            usage(prog, usage_extra, 2);
    }
    c->cfg.log_level = c->verbose ? WS_LOG_DEBUG : WS_LOG_INFO;
    if (!c->tls_cert != !c->tls_key || (c->redirect_from && !c->tls_cert)) {
        fprintf(stderr,
                "%s: --tls-cert and --tls-key go together (and --redirect-from needs them)\n",
                prog);
        exit(2);
    }
}

static void *reload_on_hup(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) == 0)
            ws_server_tls_reload(arg); /* logs what went wrong, keeps the old one */
    }
    return NULL;
}

void cli_listen(ws_server *srv, const cli *c, const char *prog)
{
    if (!c->tls_cert)
        return;
    ws_tls_options tls = {
        .cert_file = c->tls_cert, .key_file = c->tls_key, .min_version = c->tls_min};
    int rc = ws_server_listen(srv, &(ws_listen_options){.bind = c->cfg.bind,
                                                        .port = c->cfg.port,
                                                        .tls = &tls,
                                                        .reuse_port = c->cfg.reuse_port});
    if (rc < 0) {
        fprintf(stderr, "%s: TLS on port %d: %s\n", prog, c->cfg.port, ws_strerror(rc));
        exit(1);
    }
    if (c->redirect_from &&
        ws_server_listen(srv, &(ws_listen_options){.bind = c->cfg.bind,
                                                   .port = c->redirect_from,
                                                   .redirect_port = WS_REDIRECT_TLS}) < 0) {
        fprintf(stderr, "%s: cannot listen on %d\n", prog, c->redirect_from);
        exit(1);
    }
    /* SIGHUP reloads the certificate: blocked here, before the server's
     * threads exist (they inherit the mask), and taken by a thread of ours. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, reload_on_hup, srv) == 0)
        pthread_detach(t);
}

void cli_log(ws_log_level level, const char *msg, void *ud)
{
    static const char *const names[] = {"", "error", "warn", "info", "debug"};
    (void)ud;
    fprintf(stderr, "[%s] %s\n", names[level], msg);
}

void cli_announce(ws_server *srv, const cli *c, const char *what, const char *scheme)
{
    const char *host = c->cfg.bind && strcmp(c->cfg.bind, "0.0.0.0") != 0 ? c->cfg.bind : "localhost";
    /* With TLS the same scheme gains its "s": http -> https, ws -> wss. */
    printf("%s at %s%s://%s:%d\n", what, scheme, c->tls_cert ? "s" : "", host, ws_server_port(srv));
    fflush(stdout);
}

ws_extension *cli_deflate(ws_server *srv, const cli *c)
{
    if (c->no_deflate)
        return NULL;
    int err;
    ws_extension *pmd = ws_deflate_new(NULL, &err);
    if (!pmd) {
        if (err != WS_ENOTSUP)
            fprintf(stderr, "permessage-deflate: %s\n", ws_strerror(err));
        return NULL;
    }
    if (ws_server_extension(srv, pmd) != 0) {
        ws_deflate_free(pmd);
        return NULL;
    }
    return pmd;
}
