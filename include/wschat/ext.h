/* SPDX-License-Identifier: MIT */
/* WebSocket extensions (RFC 6455 section 9): a public interface, and
 * permessage-deflate (RFC 7692) built on nothing but that interface.
 *
 * On a server an extension negotiates from the client's offer; on a client
 * it writes the offer and accepts the server's answer. It may claim RSV
 * bits, and transforms whole message payloads on the way in and out. Extensions are
 * enabled for the whole server (ws_server_extension) or one route
 * (ws_route_extension); a route may also opt out (ws_route_no_extensions).
 * Several can be stacked: they are negotiated in the order the client
 * offers them, applied in that order to outgoing messages and in reverse to
 * incoming ones.
 *
 * Threading: every callback runs on the loop thread of the session it is
 * called for; callbacks for different sessions may run at the same time on
 * different loops, so shared state (ud) must be thread-safe.
 */
#ifndef WSCHAT_EXT_H
#define WSCHAT_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "server.h"
#include "session.h"

WS_BEGIN_DECLS

/* RSV bits as an extension claims them. */
enum { WS_RSV1 = 4, WS_RSV2 = 2, WS_RSV3 = 1 };

/* An output buffer owned by the library, bounded by the session's
 * max_message_size: appending past it fails with WS_ETOOBIG, so a
 * decompression bomb is stopped after at most that many bytes of output. */
typedef struct ws_ext_buf ws_ext_buf;

/* Appends bytes. Returns 0, WS_ETOOBIG (over the limit) or WS_ENOMEM. */
WS_API int ws_ext_buf_append(ws_ext_buf *b, const void *data, size_t len);
/* Writable space at the end, for writing in place (zlib): returns a pointer
 * to at least 1 and at most `want` bytes (*got says how many), or NULL with
 * *got = 0 when the limit is reached (WS_ETOOBIG) or memory ran out. */
WS_API uint8_t *ws_ext_buf_space(ws_ext_buf *b, size_t want, size_t *got);
/* Marks n bytes written into the space as part of the buffer. */
WS_API void ws_ext_buf_commit(ws_ext_buf *b, size_t n);
WS_API size_t ws_ext_buf_len(const ws_ext_buf *b);
WS_API uint8_t *ws_ext_buf_data(ws_ext_buf *b);
/* Shortens the buffer to n bytes (n <= length). */
WS_API void ws_ext_buf_truncate(ws_ext_buf *b, size_t n);

/* One parameter of an offer: value is NULL when the parameter has none;
 * quoted values arrive unquoted. */
typedef struct ws_ext_param {
    const char *name;
    const char *value;
} ws_ext_param;

typedef struct ws_extension {
    const char *name;      /* the token in Sec-WebSocket-Extensions */
    /* WS_RSV* bits it claims (0 if none), on the first frame of a data
     * message only: the same bits on a control or continuation frame fail
     * the connection with 1002 (RFC 7692 section 6). */
    unsigned rsv;
    /* One offer of `name` with its parameters. Return 0 to accept: write the
     * response parameters (e.g. "server_no_context_takeover", or "") into
     * resp and the per-session state into *session. Return 1 to decline this
     * offer (the client's next offer of the same name is tried). A negative
     * ws_err refuses the handshake with 400. Must not keep params. */
    int (*negotiate)(const ws_ext_param *params, size_t n, char *resp, size_t resp_cap,
                     void **session, void *ud);
    /* A received message whose first frame had one of `rsv` set: write the
     * plain payload to out. WS_ETOOBIG closes the session with 1009, any
     * other error with 1007. */
    int (*decode)(void *session, const uint8_t *in, size_t len, ws_ext_buf *out);
    /* An outgoing message: return 1 with the wire payload in out and the RSV
     * bits to set in *rsv, 0 to send it unchanged, or a negative ws_err
     * (the send fails with it). */
    int (*encode)(void *session, ws_msg_type type, const uint8_t *in, size_t len, ws_ext_buf *out,
                  unsigned *rsv);
    /* Frees the per-session state when the session ends. May be NULL. */
    void (*session_free)(void *session);
    void *ud;
    /* The client's half (both NULL for a server-only extension; a client
     * cannot offer it then). offer writes this extension's offer
     * parameters into params ("client_max_window_bits", or "" for none) and
     * returns 0, or a negative ws_err (the connect fails with it). accept
     * gets the parameters the server answered with: return 0 with the
     * per-session state in *session, or WS_EEXTENSION to refuse the answer
     * (the handshake then fails with it). Must not keep params. decode,
     * encode and session_free serve both sides. */
    int (*offer)(char *params, size_t cap, void *ud);
    int (*accept)(const ws_ext_param *params, size_t n, void **session, void *ud);
} ws_extension;

/* Enables an extension on every route (before start). The struct is copied;
 * ud must outlive the server. Returns 0, WS_EINVAL (no name/negotiate, or
 * RSV bits another enabled extension claims), WS_ESTATE, WS_ENOMEM. */
WS_API int ws_server_extension(ws_server *srv, const ws_extension *ext);
/* Enables an extension on one route only. Same returns, plus WS_ENOTFOUND. */
WS_API int ws_route_extension(ws_server *srv, const char *path, const ws_extension *ext);
/* Turns every extension off for one route (for ws_recv_frame handlers, which
 * see frames as sent). Returns 0, WS_ENOTFOUND, WS_ESTATE. */
WS_API int ws_route_no_extensions(ws_server *srv, const char *path);

/* --- permessage-deflate --------------------------------------------------- */

typedef struct ws_deflate_options {
    int level;                    /* zlib level 1-9; 0 = 6 */
    size_t min_size;              /* messages shorter go uncompressed; 0 = 64 */
    int max_window_bits;          /* our LZ77 window, 9-15; 0 = 15 */
    int mem_level;                /* zlib memLevel 1-9; 0 = 8 */
    bool server_context_takeover; /* keep our context across messages (more
                                     memory per session, better ratio); by
                                     default we answer server_no_context_takeover
                                     and share pooled compressors */
} ws_deflate_options;

/* Creates a permessage-deflate extension, for servers (ws_server_extension)
 * and clients (ws_connect_options.extensions) alike; the options mean the
 * same on both sides, "our" being the side using it. opts may be NULL.
 * Returns NULL
 * with *err set: WS_ENOTSUP when the library was built without zlib,
 * WS_EINVAL, WS_ENOMEM. Free with ws_deflate_free after every server using
 * it has been freed. */
WS_API ws_extension *ws_deflate_new(const ws_deflate_options *opts, int *err);
WS_API void ws_deflate_free(ws_extension *ext);

WS_END_DECLS

#endif
