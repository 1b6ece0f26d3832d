/* SPDX-License-Identifier: MIT */
#include "ext/deflate_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bits(const char *v)
{
    /* 1*DIGIT, no sign, no leading zeros, 8..15 (RFC 7692 7.1.2). */
    if (!v || !*v || strlen(v) > 2 || v[0] == '0')
        return -1;
    for (const char *p = v; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    int b = atoi(v);
    return b >= 8 && b <= 15 ? b : -1;
}

int ws__pmd_parse_offer(const ws_ext_param *p, size_t n, ws__pmd_offer *o)
{
    memset(o, 0, sizeof *o);
    bool seen[4] = {false, false, false, false};
    for (size_t i = 0; i < n; i++) {
        const char *name = p[i].name, *v = p[i].value;
        int k;
        if (strcmp(name, "server_no_context_takeover") == 0)
            k = 0;
        else if (strcmp(name, "client_no_context_takeover") == 0)
            k = 1;
        else if (strcmp(name, "server_max_window_bits") == 0)
            k = 2;
        else if (strcmp(name, "client_max_window_bits") == 0)
            k = 3;
        else
            return -1;
        if (seen[k])
            return -1;
        seen[k] = true;
        switch (k) {
        case 0:
        case 1:
            if (v)
                return -1;
            if (k == 0)
                o->server_no_context_takeover = true;
            else
                o->client_no_context_takeover = true;
            break;
        case 2:
            if ((o->server_max_window_bits = bits(v)) < 0)
                return -1;
            break;
        default:
            if (!v)
                o->client_max_window_bits = -1;
            else if ((o->client_max_window_bits = bits(v)) < 0)
                return -1;
            break;
        }
    }
    return 0;
}

int ws__pmd_answer(const ws__pmd_offer *o, bool want_context, int max_window_bits,
                   ws__pmd_agreed *a, char *resp, size_t cap)
{
    int w = max_window_bits;
    if (o->server_max_window_bits && o->server_max_window_bits < w)
        w = o->server_max_window_bits;
    a->own_window_bits = w;
    /* Without context we can share pooled compressors between sessions;
     * a server may announce this even when the client did not ask. */
    a->own_no_context = o->server_no_context_takeover || !want_context;
    /* Asking the client not to keep context lets us pool inflaters too. */
    a->peer_no_context = o->client_no_context_takeover || !want_context;
    int n = snprintf(resp, cap, "%s%s%s", a->own_no_context ? "server_no_context_takeover" : "",
                     a->own_no_context && a->peer_no_context ? "; " : "",
                     a->peer_no_context ? "client_no_context_takeover" : "");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    /* The window is answered when the client limited it or we use less than
     * the default; client_max_window_bits is never needed in the answer
     * (our inflater accepts every window size). */
    if (o->server_max_window_bits || w < 15) {
        int k = snprintf(resp + n, cap - (size_t)n, "%sserver_max_window_bits=%d", n ? "; " : "", w);
        if (k < 0 || (size_t)k >= cap - (size_t)n)
            return -1;
    }
    return 0;
}

int ws__pmd_client_offer(bool want_context, int max_window_bits, char *params, size_t cap)
{
    /* client_max_window_bits lets the server limit our window; a value
     * tells it ours is smaller than 15 already. */
    char bits[48] = "client_max_window_bits";
    if (max_window_bits < 15)
        snprintf(bits, sizeof bits, "client_max_window_bits=%d", max_window_bits);
    int n = snprintf(params, cap, "%s%s", bits,
                     want_context ? ""
                                  : "; client_no_context_takeover; server_no_context_takeover");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int ws__pmd_client_accept(const ws_ext_param *p, size_t n, bool want_context, int max_window_bits,
                          ws__pmd_agreed *a)
{
    /* The answer has the offer's grammar, and the same four parameters. */
    ws__pmd_offer o;
    if (ws__pmd_parse_offer(p, n, &o) < 0 || o.client_max_window_bits == -1)
        return -1;
    a->own_window_bits = max_window_bits;
    if (o.client_max_window_bits && o.client_max_window_bits < a->own_window_bits)
        a->own_window_bits = o.client_max_window_bits;
    /* We may always reset our own context; the server may tell us to. */
    a->own_no_context = o.client_no_context_takeover || !want_context;
    a->peer_no_context = o.server_no_context_takeover;
    return 0;
}
