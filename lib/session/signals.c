/* SPDX-License-Identifier: MIT */
/* SIGINT/SIGTERM for ws_server_run and ws_client_run without any global
 * state: the signals are blocked in every loop thread and a dedicated
 * thread takes them with sigwait(), then asks the host to stop like any
 * other thread would. */
#include "session/host.h"
#include "wschat/error.h"

#include <signal.h>

static void *sig_main(void *arg)
{
    ws__host *srv = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (atomic_load(&srv->sig_exit))
            return NULL;
        ws__log(&srv->log, WS_LOG_INFO, "signal %d: stopping", sig);
        ws__host_stop(srv);
    }
}

int ws__signals_start(ws__host *srv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Blocked in the calling thread before any worker exists, so every
     * thread created afterwards inherits the mask. */
    pthread_sigmask(SIG_BLOCK, &set, &srv->sig_old_mask);
    if (pthread_create(&srv->sig_thread, NULL, sig_main, srv) != 0) {
        pthread_sigmask(SIG_SETMASK, &srv->sig_old_mask, NULL);
        return WS_ESYS;
    }
    srv->sig_thread_started = true;
    return 0;
}

void ws__signals_stop(ws__host *srv)
{
    if (!srv->sig_thread_started)
        return;
    atomic_store(&srv->sig_exit, 1);
    pthread_kill(srv->sig_thread, SIGTERM);
    pthread_join(srv->sig_thread, NULL);
    srv->sig_thread_started = false;
    pthread_sigmask(SIG_SETMASK, &srv->sig_old_mask, NULL);
}
