/* SPDX-License-Identifier: MIT */
/* Command-line flags and logging shared by the example servers. */
#ifndef EXAMPLES_CLI_H
#define EXAMPLES_CLI_H

#include <stdbool.h>
#include <wschat.h>

typedef struct cli {
    ws_config cfg;
    const char *style;       /* echo: "handler" or "events" */
    const char *web_root;    /* chat: serve the client from here */
    bool no_deflate;
    bool verbose;
    const char *tls_cert; /* --tls-cert: serve TLS on --port */
    const char *tls_key;
    int tls_min;       /* --tls-min 1.2|1.3 */
    int redirect_from; /* --redirect-from PORT: plain HTTP there, redirected to https */
} cli;

/* Parses the common flags (--port --bind --threads --backend --verbose
 * --help) plus the ones named in `extra` ("style", "web-root"). Exits on
 * --help or a bad flag. */
void cli_parse(cli *c, int argc, char **argv, const char *prog, const char *usage_extra,
               const char *const *extra);

/* Enables permessage-deflate on srv unless --no-deflate was given (or the
 * library was built without zlib). Returns the extension to free with
 * ws_deflate_free after ws_server_free, or NULL. */
ws_extension *cli_deflate(ws_server *srv, const cli *c);

/* Adds the listeners the flags ask for (TLS on --port with --tls-cert and
 * --tls-key, and a plain one redirecting to it with --redirect-from), and
 * reloads the certificate on SIGHUP. Call after ws_server_new, before
 * ws_server_start; exits with a message if the files do not load. */
void cli_listen(ws_server *srv, const cli *c, const char *prog);

/* A log hook printing "[level] message" to stderr. */
void cli_log(ws_log_level level, const char *msg, void *ud);

/* Prints "<what> at <scheme>://HOST:PORT" once the server is bound. */
void cli_announce(ws_server *srv, const cli *c, const char *what, const char *scheme);

#endif
