/* SPDX-License-Identifier: MIT */
#include "io/resolver.h"
#include "wschat/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct lookup {
    struct lookup *next;
    ws__loop *loop;
    ws__resolve_cb cb;
    uint64_t tag;
    int port;
    int err;
    struct addrinfo *ai;
    char host[]; /* copied */
} lookup;

/* Shared with the helper threads, which are detached: the last of the
 * owner and the threads to let go frees it, so finishing never waits for a
 * slow DNS server. */
struct ws__resolver_shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lookup *head, *tail;
    int threads, idle, refs;
    bool stopped;
};

static void release(ws__resolver_shared *sh)
{
    /* Called with sh->mu held; unlocks it. */
    bool last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (last) {
        for (lookup *q = sh->head, *n; q; q = n) {
            n = q->next;
            free(q);
        }
        pthread_cond_destroy(&sh->cv);
        pthread_mutex_destroy(&sh->mu);
        free(sh);
    }
}

static void deliver(ws__loop *l, void *arg)
{
    lookup *q = arg;
    q->cb(l, q->tag, q->err, q->ai);
    free(q);
}

static void *resolver_main(void *arg)
{
    ws__resolver_shared *sh = arg;
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        while (!sh->head && !sh->stopped) {
            sh->idle++;
            pthread_cond_wait(&sh->cv, &sh->mu);
            sh->idle--;
        }
        if (sh->stopped)
            break;
        lookup *q = sh->head;
        sh->head = q->next;
        if (!sh->head)
            sh->tail = NULL;
        pthread_mutex_unlock(&sh->mu);

        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV};
        char port[8];
        snprintf(port, sizeof port, "%d", q->port);
        int rc = getaddrinfo(q->host, port, &hints, &q->ai);
        q->err = rc == 0 ? 0 : rc == EAI_MEMORY ? WS_ENOMEM : WS_ERESOLVE;
        if (rc != 0)
            q->ai = NULL;

        /* Posted under the lock: finishing sets `stopped` under it too, so
         * a loop is never posted to after the owner let go of it. */
        pthread_mutex_lock(&sh->mu);
        if (sh->stopped || ws__loop_post(q->loop, deliver, q) != 0) {
            if (q->ai)
                freeaddrinfo(q->ai);
            free(q);
        }
    }
    sh->threads--;
    release(sh);
    return NULL;
}

static ws__resolver_shared *shared_of(ws__resolver *r)
{
    if (!r->sh) {
        ws__resolver_shared *sh = calloc(1, sizeof *sh);
        if (!sh)
            return NULL;
        pthread_mutex_init(&sh->mu, NULL);
        pthread_cond_init(&sh->cv, NULL);
        sh->refs = 1;
        r->sh = sh;
    }
    return r->sh;
}

int ws__resolve(ws__resolver *r, ws__loop *l, const char *host, int port, ws__resolve_cb cb,
                uint64_t tag)
{
    ws__resolver_shared *sh = shared_of(r);
    size_t hl = strlen(host);
    lookup *q = sh ? calloc(1, sizeof *q + hl + 1) : NULL;
    if (!q)
        return WS_ENOMEM;
    *q = (lookup){.loop = l, .cb = cb, .tag = tag, .port = port};
    memcpy(q->host, host, hl + 1);
    pthread_mutex_lock(&sh->mu);
    if (sh->tail)
        sh->tail->next = q;
    else
        sh->head = q;
    sh->tail = q;
    if (sh->idle == 0 && sh->threads < WS__RESOLVER_THREADS) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, resolver_main, sh) == 0) {
            sh->threads++;
            sh->refs++;
        }
        pthread_attr_destroy(&attr);
    }
    bool none = sh->threads == 0;
    if (none) { /* no thread could start: take the lookup back */
        sh->head = sh->tail = NULL;
        free(q);
    }
    pthread_cond_signal(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
    return none ? WS_ENOMEM : 0;
}

void ws__resolver_fini(ws__resolver *r)
{
    ws__resolver_shared *sh = r->sh;
    if (!sh)
        return;
    r->sh = NULL;
    pthread_mutex_lock(&sh->mu);
    sh->stopped = true;
    pthread_cond_broadcast(&sh->cv);
    release(sh);
}
