/* SPDX-License-Identifier: MIT */
/* A client for whole-session tests on the in-memory backend: it writes the
 * HTTP request and masked frames itself and parses the server's frames, and
 * it drives the server with ws_server_step(), so every test is
 * deterministic and needs no socket. */
#ifndef WS_TEST_PEER_H
#define WS_TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wschat.h"
#include "wsframe.h"

typedef struct peer {
    ws_mem_net *net;
    ws_server *srv;
    int c;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t payload[1 << 16];   /* last frame's payload, NUL-terminated */
    size_t payload_len;
    int status;                  /* HTTP status of the handshake */
    char response[4096];
    bool closed;                 /* the server closed the connection */
} peer;

/* Runs the server's loop n times without waiting. */
void pump(ws_server *srv, int n);

/* Opens a connection and sends `request` verbatim (NULL: a standard upgrade
 * for `path` with extra headers `extra`, each ending in \r\n). Returns the
 * HTTP status the server answered (101 for an upgrade), 0 if none. */
int peer_open(peer *p, ws_server *srv, ws_mem_net *net, int port, const char *path,
              const char *extra, const char *request);
void peer_free(peer *p);

int peer_send(peer *p, bool fin, uint8_t op, const void *data, size_t len);
int peer_send_text(peer *p, const char *text);
int peer_send_raw(peer *p, const void *data, size_t len);

/* Pumps until one frame arrives (at most `rounds` iterations). Returns the
 * opcode (payload in p->payload), -1 if none arrived, -2 if the server closed
 * the connection with nothing left to read. */
int peer_recv(peer *p, int rounds, wsf_frame *out);
/* Receives and checks a text frame. Returns 1 on match. */
int peer_expect_text(peer *p, const char *text);
/* Receives a close frame; returns its code (1005 if empty) or -1. */
int peer_expect_close(peer *p);

#endif
