/* SPDX-License-Identifier: MIT */
#include "proto/ext_offer.h"

#include <string.h>

typedef struct cursor {
    const char *p, *end;
    char *scratch;
} cursor;

static int tchar(char c)
{
    unsigned char u = (unsigned char)c;
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9'))
        return 1;
    return u != 0 && strchr("!#$%&'*+-.^_`|~", u) != NULL;
}

static void ows(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int token(cursor *c, ws__slice *out)
{
    const char *s = c->p;
    while (c->p < c->end && tchar(*c->p))
        c->p++;
    *out = (ws__slice){s, (size_t)(c->p - s)};
    return out->n ? 0 : -1;
}

static int quoted(cursor *c, ws__slice *out)
{
    char *dst = c->scratch, *start = dst;
    c->p++; /* opening quote */
    while (c->p < c->end && *c->p != '"') {
        if (*c->p == '\\') {
            if (++c->p == c->end)
                return -1;
        }
        *dst++ = *c->p++;
    }
    if (c->p == c->end)
        return -1;
    c->p++;
    c->scratch = dst;
    *out = (ws__slice){start, (size_t)(dst - start)};
    /* RFC 6455 9.1: a quoted value must still be a token once unquoted. */
    for (char *q = start; q < dst; q++)
        if (!tchar(*q))
            return -1;
    return out->n ? 0 : -1;
}

static int param(cursor *c, ws__ext_param *prm)
{
    if (token(c, &prm->name))
        return -1;
    prm->value = (ws__slice){NULL, 0};
    ows(c);
    if (c->p == c->end || *c->p != '=')
        return 0;
    c->p++;
    ows(c);
    if (c->p < c->end && *c->p == '"')
        return quoted(c, &prm->value);
    return token(c, &prm->value);
}

static int extension(cursor *c, ws__ext_offer *o)
{
    if (token(c, &o->name))
        return -1;
    o->nparams = 0;
    for (;;) {
        ows(c);
        if (c->p == c->end || *c->p == ',')
            return 0;
        if (*c->p != ';' || o->nparams == WS__EXT_MAX_PARAMS)
            return -1;
        c->p++;
        ows(c);
        if (param(c, &o->params[o->nparams++]))
            return -1;
    }
}

int ws__ext_offer_parse(const char *s, size_t n, char *scratch, ws__ext_offer *offers, size_t max,
                        size_t *count)
{
    cursor c = {s, s + n, scratch};
    for (;;) {
        ows(&c);
        if (c.p == c.end)
            return 0;
        if (*c.p == ',') { /* empty list elements are allowed by the # rule */
            c.p++;
            continue;
        }
        if (*count == max)
            return -1;
        if (extension(&c, &offers[*count]))
            return -1;
        (*count)++;
    }
}
