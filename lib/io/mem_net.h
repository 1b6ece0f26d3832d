/* SPDX-License-Identifier: MIT */
/* The in-memory network shared by mem.c (the test's side) and
 * mem_backend.c (the loops' side). See mem.c for the model. */
#ifndef WS_IO_MEM_NET_H
#define WS_IO_MEM_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wschat/io.h"

typedef struct pipe_buf {
    uint8_t *data;
    size_t len, cap;
} pipe_buf;

enum { CLIENT = 0, SERVER = 1 };

typedef struct mem_conn {
    bool used;
    int test_end;     /* the end the test holds, or -1 (both ends are loops') */
    int fd[2];        /* each end's virtual fd, -1 if the test's or closed */
    pipe_buf out[2];  /* out[e]: bytes written by end e, read by the other */
    bool closed[2];   /* end e writes no more (closed or half-closed) */
    bool reset[2];    /* end e closed abortively: the other's writes fail */
    bool gone[2];     /* end e is fully closed (a loop's fd closed) */
    size_t window[2]; /* how much end e may have in out[e] unread */
} mem_conn;

typedef struct mem_fd {
    int kind;  /* 0 free, 1 listener, 2 connection end */
    int index; /* listener slot or connection index */
    int end;   /* connection ends: CLIENT or SERVER */
} mem_fd;

#define MAX_PENDING 4096

typedef struct listener {
    int port;
    int fd; /* the loop's listening fd, or -1 if the test listens */
    bool used;
    int pending[MAX_PENDING];
    int head, count;
} listener;

struct ws_mem_net {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t now;
    mem_conn *conns;
    int nconns, conns_cap;
    mem_fd *fds;
    int fds_cap;
    listener *ls;
    int nls;
    int next_port;
};

typedef struct mem_state {
    ws_mem_net *net;
    unsigned *interest; /* by fd */
    int cap;
    bool woken;
} mem_state;

/* With net->mu held. */
int ws__mem_pipe_put(pipe_buf *p, const void *d, size_t len);
size_t ws__mem_pipe_take(pipe_buf *p, void *out, size_t cap);
listener *ws__mem_find_listener(ws_mem_net *n, int port);
listener *ws__mem_add_listener(ws_mem_net *n, int *port, int *err);
int ws__mem_new_conn(ws_mem_net *n, int port, int test_end);

#endif
