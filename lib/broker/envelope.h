/* SPDX-License-Identifier: MIT */
/* What a shared group's broadcast looks like on the broker: a 20-byte
 * header (magic, version, kind, the origin node, its sequence number for
 * this channel) and the message. Receivers drop their own node's messages
 * (delivered locally already) and count gaps and duplicates per origin. */
#ifndef WS_BROKER_ENVELOPE_H
#define WS_BROKER_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS__ENV_HEADER 20

typedef struct ws__envelope {
    uint64_t node; /* the origin */
    uint64_t seq;  /* 1, 2, ... per origin and channel */
    bool binary;
    const uint8_t *data;
    size_t len;
} ws__envelope;

/* Writes the header for e (data not copied) into out. */
void ws__envelope_header(const ws__envelope *e, uint8_t out[WS__ENV_HEADER]);
/* Parses a message from the broker; data points into p. Returns 0, or -1
 * if it is not one of ours (too short, another magic or version). */
int ws__envelope_parse(const uint8_t *p, size_t n, ws__envelope *e);

/* The last sequence number seen per origin on one channel: a small table
 * with a fixed number of slots, the least recently heard origin evicted
 * (a node that restarts comes back under a new id). */
#define WS__ORIGINS 32
typedef struct ws__origins {
    struct {
        uint64_t node, seq, heard;
    } slot[WS__ORIGINS];
    uint64_t clock;
} ws__origins;

typedef enum { WS__SEQ_NEW, WS__SEQ_DUPLICATE } ws__seq_verdict;
/* Records e's sequence number; *gap gets how many were skipped before it
 * (0 in order). A number not above the last one is a duplicate. */
ws__seq_verdict ws__origins_note(ws__origins *o, uint64_t node, uint64_t seq, uint64_t *gap);

#endif
