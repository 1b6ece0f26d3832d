/* SPDX-License-Identifier: MIT */
/* The ceilings' listener: loopback, the given port (0: any), backlog 4096,
 * and "ready PORT" on stdout once it listens. Returns the fd, or -1. */
#ifndef BENCH_CEILING_LISTEN_H
#define BENCH_CEILING_LISTEN_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static int ceiling_listen(const char *port, int type_flags)
{
    int lfd = socket(AF_INET, SOCK_STREAM | type_flags, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Inherited by every accepted socket on Linux, as in libwschat. */
    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0)
        return -1;
    socklen_t sl = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &sl);
    printf("ready %d\n", ntohs(a.sin_port));
    fflush(stdout);
    return lfd;
}

#endif
