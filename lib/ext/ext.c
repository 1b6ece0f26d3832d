/* SPDX-License-Identifier: MIT */
/* The negotiation driver and the extension chain. Extensions see only the
 * public ws_extension interface. */
#include "ext/ext.h"
#include "proto/ext_offer.h"
#include "wschat/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- ws_ext_buf: the public face of a bounded ws__buf -------------------- */

int ws_ext_buf_append(ws_ext_buf *b, const void *data, size_t len)
{
    return ws__buf_append(&b->buf, data, len);
}

uint8_t *ws_ext_buf_space(ws_ext_buf *b, size_t want, size_t *got)
{
    size_t room = b->buf.limit ? b->buf.limit - b->buf.len : want;
    size_t n = want < room ? want : room;
    *got = 0;
    if (n == 0 || ws__buf_reserve(&b->buf, n) < 0)
        return NULL;
    *got = n;
    return b->buf.data + b->buf.len;
}

void ws_ext_buf_commit(ws_ext_buf *b, size_t n) { b->buf.len += n; }
size_t ws_ext_buf_len(const ws_ext_buf *b) { return b->buf.len; }
uint8_t *ws_ext_buf_data(ws_ext_buf *b) { return b->buf.data; }

void ws_ext_buf_truncate(ws_ext_buf *b, size_t n)
{
    if (n < b->buf.len)
        b->buf.len = n;
}

/* --- negotiation ---------------------------------------------------------- */

static const ws_extension *find(const ws_extension *const *avail, size_t n, ws__slice name)
{
    for (size_t i = 0; i < n; i++)
        if (ws__slice_ieq(name, avail[i]->name))
            return avail[i];
    return NULL;
}

static bool accepted(const ws__ext_chain *c, const ws_extension *e)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].ext == e)
            return true;
    return false;
}

/* Copies an offer's parameters as NUL-terminated strings into store. */
static size_t to_params(const ws__ext_offer *o, ws_ext_param *out, char *store)
{
    for (size_t i = 0; i < o->nparams; i++) {
        const ws__ext_param *p = &o->params[i];
        out[i].name = store;
        memcpy(store, p->name.p, p->name.n);
        store += p->name.n;
        *store++ = '\0';
        out[i].value = NULL;
        if (p->value.p) {
            out[i].value = store;
            memcpy(store, p->value.p, p->value.n);
            store += p->value.n;
            *store++ = '\0';
        }
    }
    return o->nparams;
}

/* The parameter strings of one offer (or answer) live here while an
 * extension looks at them. */
typedef struct param_set {
    ws_ext_param v[WS__EXT_MAX_PARAMS];
    size_t n;
    char store[1024];
} param_set;

/* false for absurdly long parameters (the offer is declined, the answer
 * refused). */
static bool params_of(const ws__ext_offer *o, param_set *ps)
{
    size_t need = 0;
    for (size_t i = 0; i < o->nparams; i++)
        need += o->params[i].name.n + o->params[i].value.n + 2;
    if (need > sizeof ps->store)
        return false;
    ps->n = to_params(o, ps->v, ps->store);
    return true;
}

static void chain_push(ws__ext_chain *c, const ws_extension *e, void *session)
{
    c->v[c->n].ext = e;
    c->v[c->n].session = session;
    c->n++;
    c->rsv_mask |= e->rsv;
}

static int try_offer(ws__ext_chain *c, const ws_extension *e, const ws__ext_offer *o, char *hdr,
                     size_t cap)
{
    param_set ps;
    if (!params_of(o, &ps))
        return 1; /* decline this offer */
    char resp[256] = "";
    void *session = NULL;
    int rc = e->negotiate(ps.v, ps.n, resp, sizeof resp, &session, e->ud);
    if (rc != 0)
        return rc;
    size_t used = strlen(hdr);
    int n = snprintf(hdr + used, cap - used, "%s%s%s%s", used ? ", " : "", e->name,
                     resp[0] ? "; " : "", resp);
    if (n < 0 || (size_t)n >= cap - used) {
        if (e->session_free)
            e->session_free(session);
        hdr[used] = '\0';
        return 1;
    }
    chain_push(c, e, session);
    return 0;
}

int ws__ext_negotiate(const ws_extension *const *avail, size_t navail, const ws__http_request *req,
                      char *hdr, size_t hdr_cap, ws__ext_chain **out)
{
    *out = NULL;
    hdr[0] = '\0';
    if (navail == 0)
        return 0;
    ws__ext_chain *c = calloc(1, sizeof *c);
    if (!c)
        return WS_ENOMEM;
    int status = 0;
    const ws__http_header *h;
    for (size_t i = 0; status == 0 && (h = ws__http_find(req, "Sec-WebSocket-Extensions", i)); i++) {
        char *scratch = malloc(h->value.n + 1);
        ws__ext_offer *offers = malloc(WS__EXT_MAX_OFFERS * sizeof *offers);
        size_t count = 0;
        if (!scratch || !offers)
            status = WS_ENOMEM;
        else if (ws__ext_offer_parse(h->value.p, h->value.n, scratch, offers, WS__EXT_MAX_OFFERS,
                                     &count) < 0)
            status = 400;
        for (size_t k = 0; status == 0 && k < count; k++) {
            const ws_extension *e = find(avail, navail, offers[k].name);
            if (!e || accepted(c, e) || (e->rsv & c->rsv_mask) || c->n == WS__EXT_MAX)
                continue;
            int rc = try_offer(c, e, &offers[k], hdr, hdr_cap);
            if (rc < 0)
                status = rc == WS_ENOMEM ? WS_ENOMEM : 400;
        }
        free(scratch);
        free(offers);
    }
    if (status || c->n == 0) {
        ws__ext_chain_free(c);
        hdr[0] = '\0';
        return status;
    }
    *out = c;
    return 0;
}

/* --- the client's side ----------------------------------------------------- */

int ws__ext_write_offer(const ws_extension *const *exts, size_t n, char *hdr, size_t cap)
{
    size_t used = 0;
    hdr[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const ws_extension *e = exts[i];
        if (!e || !e->name || !e->offer || !e->accept)
            return WS_EINVAL;
        char params[256] = "";
        int rc = e->offer(params, sizeof params, e->ud);
        if (rc < 0)
            return rc;
        int k = snprintf(hdr + used, cap - used, "%s%s%s%s", used ? ", " : "", e->name,
                         params[0] ? "; " : "", params);
        if (k < 0 || (size_t)k >= cap - used)
            return WS_ENOMEM;
        used += (size_t)k;
    }
    return 0;
}

static int accept_one(ws__ext_chain *c, const ws_extension *const *offered, size_t n,
                      const ws__ext_offer *o)
{
    const ws_extension *e = find(offered, n, o->name);
    if (!e || accepted(c, e) || (e->rsv & c->rsv_mask) || c->n == WS__EXT_MAX)
        return WS_EEXTENSION; /* not offered, answered twice, or clashing bits */
    param_set ps;
    if (!params_of(o, &ps))
        return WS_EEXTENSION;
    void *session = NULL;
    int rc = e->accept(ps.v, ps.n, &session, e->ud);
    if (rc < 0)
        return rc == WS_ENOMEM ? rc : WS_EEXTENSION;
    chain_push(c, e, session);
    return 0;
}

int ws__ext_accept(const ws_extension *const *offered, size_t n, const ws__http_header *headers,
                   size_t nheaders, ws__ext_chain **out)
{
    *out = NULL;
    if (!ws__headers_find(headers, nheaders, "Sec-WebSocket-Extensions", 0))
        return 0;
    ws__ext_chain *c = calloc(1, sizeof *c);
    if (!c)
        return WS_ENOMEM;
    int rc = 0;
    const ws__http_header *h;
    for (size_t i = 0;
         rc == 0 && (h = ws__headers_find(headers, nheaders, "Sec-WebSocket-Extensions", i)); i++) {
        char *scratch = malloc(h->value.n + 1);
        ws__ext_offer *list = malloc(WS__EXT_MAX_OFFERS * sizeof *list);
        size_t count = 0;
        if (!scratch || !list)
            rc = WS_ENOMEM;
        else if (ws__ext_offer_parse(h->value.p, h->value.n, scratch, list, WS__EXT_MAX_OFFERS,
                                     &count) < 0)
            rc = WS_EEXTENSION;
        for (size_t k = 0; rc == 0 && k < count; k++)
            rc = accept_one(c, offered, n, &list[k]);
        free(scratch);
        free(list);
    }
    if (rc || c->n == 0) {
        ws__ext_chain_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void ws__ext_chain_free(ws__ext_chain *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].ext->session_free)
            c->v[i].ext->session_free(c->v[i].session);
    ws__buf_free(&c->tmp);
    free(c);
}

/* --- the transform --------------------------------------------------------- */

/* Incoming: undo the extensions whose bits are set, last applied first. */
static int chain_decode(void *st, uint8_t rsv, const uint8_t *in, size_t len, ws__buf *out)
{
    ws__ext_chain *c = st;
    ws__buf *bufs[2] = {out, &c->tmp};
    int which = 0, applied = 0;
    c->tmp.limit = out->limit;
    for (size_t k = c->n; k-- > 0;) {
        const ws_extension *e = c->v[k].ext;
        if (!(e->rsv & rsv) || !e->decode)
            continue;
        ws__buf *dst = bufs[which];
        ws__buf_reset(dst);
        int rc = e->decode(c->v[k].session, in, len, (ws_ext_buf *)dst);
        if (rc < 0)
            return rc;
        in = dst->data;
        len = dst->len;
        which ^= 1;
        applied++;
    }
    if (!applied)
        return ws__buf_append(out, in, len);
    if (in != out->data) { /* the result ended in tmp */
        ws__buf_reset(out);
        return ws__buf_append(out, in, len);
    }
    return 0;
}

static int chain_encode(void *st, uint8_t opcode, const uint8_t *in, size_t len, ws__buf *out,
                        uint8_t *rsv)
{
    ws__ext_chain *c = st;
    ws__buf *bufs[2] = {out, &c->tmp};
    int which = 0, changed = 0;
    unsigned bits = 0;
    for (size_t k = 0; k < c->n; k++) {
        const ws_extension *e = c->v[k].ext;
        if (!e->encode)
            continue;
        ws__buf *dst = bufs[which];
        ws__buf_reset(dst);
        unsigned r = 0;
        int rc = e->encode(c->v[k].session, (ws_msg_type)opcode, in, len, (ws_ext_buf *)dst, &r);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        bits |= r & e->rsv;
        in = dst->data;
        len = dst->len;
        which ^= 1;
        changed = 1;
    }
    if (!changed)
        return 0;
    if (in != out->data) {
        ws__buf_reset(out);
        int rc = ws__buf_append(out, in, len);
        if (rc < 0)
            return rc;
    }
    *rsv = (uint8_t)bits;
    return 1;
}

int ws__ext_chain_attach(ws__ext_chain *c, ws__conn *conn)
{
    ws__buf_init(&c->tmp, 0);
    c->xform.decode = chain_decode;
    c->xform.encode = chain_encode;
    c->xform.st = c;
    c->xform.rsv_mask = (uint8_t)c->rsv_mask;
    return ws__conn_set_xform(conn, &c->xform);
}
