/* SPDX-License-Identifier: MIT */
/* The envelope of a shared group's broadcast, and per-origin sequence
 * tracking (envelope.h). Integers are big-endian on the wire. */
#include "broker/envelope.h"

#include <string.h>

#define MAGIC0 'W'
#define MAGIC1 'S'
#define VERSION 1

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void ws__envelope_header(const ws__envelope *e, uint8_t out[WS__ENV_HEADER])
{
    out[0] = MAGIC0;
    out[1] = MAGIC1;
    out[2] = VERSION;
    out[3] = e->binary ? 1 : 0;
    put64(out + 4, e->node);
    put64(out + 12, e->seq);
}

int ws__envelope_parse(const uint8_t *p, size_t n, ws__envelope *e)
{
    if (n < WS__ENV_HEADER || p[0] != MAGIC0 || p[1] != MAGIC1 || p[2] != VERSION || p[3] > 1)
        return -1;
    e->binary = p[3] == 1;
    e->node = get64(p + 4);
    e->seq = get64(p + 12);
    e->data = p + WS__ENV_HEADER;
    e->len = n - WS__ENV_HEADER;
    return 0;
}

ws__seq_verdict ws__origins_note(ws__origins *o, uint64_t node, uint64_t seq, uint64_t *gap)
{
    *gap = 0;
    size_t oldest = 0;
    o->clock++;
    for (size_t i = 0; i < WS__ORIGINS; i++) {
        if (o->slot[i].node == node && o->slot[i].seq) {
            o->slot[i].heard = o->clock;
            if (seq <= o->slot[i].seq)
                return WS__SEQ_DUPLICATE;
            *gap = seq - o->slot[i].seq - 1;
            o->slot[i].seq = seq;
            return WS__SEQ_NEW;
        }
        if (o->slot[i].heard < o->slot[oldest].heard)
            oldest = i;
    }
    /* A new origin: what it sent before we listened is not a gap. */
    o->slot[oldest].node = node;
    o->slot[oldest].seq = seq;
    o->slot[oldest].heard = o->clock;
    return WS__SEQ_NEW;
}
