/* SPDX-License-Identifier: MIT */
/* permessage-deflate (RFC 7692) over zlib, built only on the public
 * ws_extension interface. Memory: a session that keeps no context (our
 * default) holds no zlib state between messages; compressors and inflaters
 * come from a small pool for the duration of one message. A session that
 * keeps context owns its streams. Inflating is bounded by the output
 * buffer's limit (the session's max_message_size): a decompression bomb
 * fails with WS_ETOOBIG after at most that many bytes, never more memory. */
#include "ext/deflate_params.h"
#include "wschat/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define POOL_MAX 16
#define CHUNK 16384

typedef struct pmd {
    ws_extension ext;         /* first: the public struct the user holds */
    ws_deflate_options opt;
    pthread_mutex_t mu;
    z_stream *defl[POOL_MAX]; /* pooled compressors (window opt.max_window_bits) */
    int ndefl;
    z_stream *infl[POOL_MAX]; /* pooled inflaters (window 15) */
    int ninfl;
} pmd;

typedef struct pmd_session {
    pmd *p;
    ws__pmd_agreed a;
    z_stream *own_defl;       /* only with context takeover */
    z_stream *own_infl;
} pmd_session;

static const uint8_t TAIL[4] = {0x00, 0x00, 0xff, 0xff};

static z_stream *new_deflater(const pmd *p, int window)
{
    z_stream *z = calloc(1, sizeof *z);
    /* zlib has no raw 8-bit window; with Huffman-only coding there are no
     * back-references at all, so a 9-bit stream is valid for any window. */
    int strategy = window == 8 ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY;
    if (z && deflateInit2(z, p->opt.level, Z_DEFLATED, -(window < 9 ? 9 : window),
                          p->opt.mem_level, strategy) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

static z_stream *new_inflater(void)
{
    z_stream *z = calloc(1, sizeof *z);
    if (z && inflateInit2(z, -15) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

static z_stream *take(pmd *p, z_stream **pool, int *n)
{
    z_stream *z = NULL;
    pthread_mutex_lock(&p->mu);
    if (*n)
        z = pool[--*n];
    pthread_mutex_unlock(&p->mu);
    return z;
}

/* Returns a reset stream to its pool, or frees it when the pool is full. */
static void give(pmd *p, z_stream **pool, int *n, z_stream *z, bool deflater)
{
    pthread_mutex_lock(&p->mu);
    bool kept = *n < POOL_MAX;
    if (kept)
        pool[(*n)++] = z;
    pthread_mutex_unlock(&p->mu);
    if (!kept) {
        if (deflater)
            deflateEnd(z);
        else
            inflateEnd(z);
        free(z);
    }
}

static int negotiate(const ws_ext_param *params, size_t n, char *resp, size_t cap,
                     void **session, void *ud)
{
    pmd *p = ud;
    ws__pmd_offer offer;
    if (ws__pmd_parse_offer(params, n, &offer) < 0)
        return 1;
    pmd_session *s = calloc(1, sizeof *s);
    if (!s)
        return WS_ENOMEM;
    s->p = p;
    if (ws__pmd_answer(&offer, p->opt.server_context_takeover, p->opt.max_window_bits, &s->a, resp,
                       cap) < 0) {
        free(s);
        return 1;
    }
    *session = s;
    return 0;
}

static void session_free(void *st)
{
    pmd_session *s = st;
    if (s->own_defl) {
        deflateEnd(s->own_defl);
        free(s->own_defl);
    }
    if (s->own_infl) {
        inflateEnd(s->own_infl);
        free(s->own_infl);
    }
    free(s);
}

/* Pooled compressors all have the configured window; a session that agreed
 * on a smaller one gets a stream of its own for the message. */
static z_stream *get_deflater(pmd_session *s, bool *pooled)
{
    *pooled = false;
    if (!s->a.own_no_context) {
        if (!s->own_defl)
            s->own_defl = new_deflater(s->p, s->a.own_window_bits);
        return s->own_defl;
    }
    if (s->a.own_window_bits == s->p->opt.max_window_bits) {
        z_stream *z = take(s->p, s->p->defl, &s->p->ndefl);
        *pooled = true;
        return z ? z : new_deflater(s->p, s->a.own_window_bits);
    }
    return new_deflater(s->p, s->a.own_window_bits);
}

static void put_deflater(pmd_session *s, z_stream *z, bool pooled)
{
    if (z == s->own_defl)
        return;
    deflateReset(z);
    if (pooled) {
        give(s->p, s->p->defl, &s->p->ndefl, z, true);
    } else {
        deflateEnd(z);
        free(z);
    }
}

static int encode(void *st, ws_msg_type type, const uint8_t *in, size_t len, ws_ext_buf *out,
                  unsigned *rsv)
{
    pmd_session *s = st;
    (void)type;
    if (len < s->p->opt.min_size)
        return 0;
    bool pooled;
    z_stream *z = get_deflater(s, &pooled);
    if (!z)
        return WS_ENOMEM;
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)len;
    int rc = 0;
    do {
        size_t got;
        uint8_t *dst = ws_ext_buf_space(out, CHUNK, &got);
        if (!dst) {
            rc = WS_ENOMEM;
            break;
        }
        z->next_out = dst;
        z->avail_out = (uInt)got;
        int zr = deflate(z, Z_SYNC_FLUSH);
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = WS_ESYS;
            break;
        }
        ws_ext_buf_commit(out, got - z->avail_out);
    } while (z->avail_out == 0);
    size_t n = ws_ext_buf_len(out);
    /* RFC 7692 7.2.1: drop the 00 00 ff ff the sync flush ends with. */
    if (rc == 0 && n >= 4 && memcmp(ws_ext_buf_data(out) + n - 4, TAIL, 4) == 0)
        ws_ext_buf_truncate(out, n - 4);
    bool reset = s->a.own_no_context;
    put_deflater(s, z, pooled);
    if (rc < 0)
        return rc;
    /* Without context, sending a message that did not shrink as is costs
     * nothing later; with context the peer's window must see every byte. */
    if (reset && ws_ext_buf_len(out) >= len)
        return 0;
    *rsv = WS_RSV1;
    return 1;
}

static int inflate_into(z_stream *z, const uint8_t *in, size_t len, ws_ext_buf *out)
{
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)len;
    for (;;) {
        size_t got;
        uint8_t *dst = ws_ext_buf_space(out, CHUNK, &got);
        if (!dst)
            return WS_ETOOBIG; /* the limit, or no memory: either way, stop */
        z->next_out = dst;
        z->avail_out = (uInt)got;
        int zr = inflate(z, Z_SYNC_FLUSH);
        ws_ext_buf_commit(out, got - z->avail_out);
        if (zr == Z_STREAM_END)
            return 1; /* a final block: the stream must be reset before reuse */
        if ((zr == Z_BUF_ERROR && z->avail_in == 0) ||
            (zr == Z_OK && z->avail_in == 0 && z->avail_out != 0))
            return 0;
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return WS_EPROTO;
    }
}

static int decode(void *st, const uint8_t *in, size_t len, ws_ext_buf *out)
{
    pmd_session *s = st;
    bool pooled = s->a.peer_no_context;
    z_stream *z;
    if (pooled) {
        z = take(s->p, s->p->infl, &s->p->ninfl);
        if (!z)
            z = new_inflater();
    } else {
        if (!s->own_infl)
            s->own_infl = new_inflater();
        z = s->own_infl;
    }
    if (!z)
        return WS_ENOMEM;
    int rc = inflate_into(z, in, len, out);
    if (rc == 0)
        rc = inflate_into(z, TAIL, sizeof TAIL, out);
    if (pooled || rc != 0)
        inflateReset(z); /* after a final block or a failure, start afresh */
    if (rc == 1)
        rc = 0;
    if (pooled)
        give(s->p, s->p->infl, &s->p->ninfl, z, false);
    return rc;
}

/* --- the client's side ----------------------------------------------------- */

static int client_offer(char *params, size_t cap, void *ud)
{
    const pmd *p = ud;
    return ws__pmd_client_offer(p->opt.server_context_takeover, p->opt.max_window_bits, params,
                                cap) < 0
               ? WS_ENOMEM
               : 0;
}

static int client_accept(const ws_ext_param *params, size_t n, void **session, void *ud)
{
    pmd *p = ud;
    pmd_session *s = calloc(1, sizeof *s);
    if (!s)
        return WS_ENOMEM;
    s->p = p;
    if (ws__pmd_client_accept(params, n, p->opt.server_context_takeover, p->opt.max_window_bits,
                              &s->a) < 0) {
        free(s);
        return WS_EEXTENSION;
    }
    *session = s;
    return 0;
}

ws_extension *ws_deflate_new(const ws_deflate_options *opts, int *err)
{
    ws_deflate_options o = opts ? *opts : (ws_deflate_options){0};
    if (!o.level)
        o.level = 6;
    if (!o.min_size)
        o.min_size = 64;
    if (!o.max_window_bits)
        o.max_window_bits = 15;
    if (!o.mem_level)
        o.mem_level = 8;
    if (o.level < 1 || o.level > 9 || o.max_window_bits < 9 || o.max_window_bits > 15 ||
        o.mem_level < 1 || o.mem_level > 9) {
        if (err)
            *err = WS_EINVAL;
        return NULL;
    }
    pmd *p = calloc(1, sizeof *p);
    if (!p) {
        if (err)
            *err = WS_ENOMEM;
        return NULL;
    }
    p->opt = o;
    pthread_mutex_init(&p->mu, NULL);
    p->ext = (ws_extension){.name = "permessage-deflate",
                            .rsv = WS_RSV1,
                            .negotiate = negotiate,
                            .decode = decode,
                            .encode = encode,
                            .session_free = session_free,
                            .ud = p,
                            .offer = client_offer,
                            .accept = client_accept};
    if (err)
        *err = 0;
    return &p->ext;
}

void ws_deflate_free(ws_extension *ext)
{
    if (!ext)
        return;
    pmd *p = (pmd *)ext;
    for (int i = 0; i < p->ndefl; i++) {
        deflateEnd(p->defl[i]);
        free(p->defl[i]);
    }
    for (int i = 0; i < p->ninfl; i++) {
        inflateEnd(p->infl[i]);
        free(p->infl[i]);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}
