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
    a->server_window_bits = w;
    /* Without context we can share pooled compressors between sessions;
     * a server may announce this even when the client did not ask. */
    a->server_no_context_takeover = o->server_no_context_takeover || !want_context;
    /* Asking the client not to keep context lets us pool inflaters too. */
    a->client_no_context_takeover = o->client_no_context_takeover || !want_context;
    int n = snprintf(resp, cap, "%s%s%s", a->server_no_context_takeover ? "server_no_context_takeover" : "",
                     a->server_no_context_takeover && a->client_no_context_takeover ? "; " : "",
                     a->client_no_context_takeover ? "client_no_context_takeover" : "");
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
