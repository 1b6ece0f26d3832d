/* SPDX-License-Identifier: MIT */
/* The ceiling: the smallest epoll TCP server that does the same job with no
 * protocol at all. echo: every byte comes straight back. fanout: every chunk
 * read from any connection is written to every connection. Whatever a
 * WebSocket server spends above this, per operation, is its own cost.
 *
 *   ceiling echo|fanout PORT      (prints "ready PORT" when listening) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 65536

static int conns[MAXFD], nconns;
static char *pending[MAXFD]; /* bytes a slow receiver could not take yet */
static size_t npending[MAXFD];

static void put(int ep, int fd, const char *p, size_t n)
{
    if (npending[fd] == 0) {
        ssize_t w = write(fd, p, n);
        if (w == (ssize_t)n)
            return;
        if (w < 0)
            w = 0;
        p += w;
        n -= (size_t)w;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    }
    pending[fd] = realloc(pending[fd], npending[fd] + n);
    memcpy(pending[fd] + npending[fd], p, n);
    npending[fd] += n;
}

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(pending[fd]);
    pending[fd] = NULL;
    npending[fd] = 0;
    for (int i = 0; i < nconns; i++)
        if (conns[i] == fd) {
            conns[i] = conns[--nconns];
            break;
        }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int fanout = strcmp(argv[1], "fanout") == 0;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0)
        return 1;
    socklen_t sl = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &sl);
    printf("ready %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static char buf[1 << 18]; /* as big as libwschat's receive buffer: a fair ceiling */
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                    conns[nconns++] = c;
                }
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && npending[fd]) {
                ssize_t w = write(fd, pending[fd], npending[fd]);
                if (w > 0) {
                    memmove(pending[fd], pending[fd] + w, npending[fd] - (size_t)w);
                    npending[fd] -= (size_t)w;
                }
                if (!npending[fd]) {
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN)
                    drop(ep, fd);
                continue;
            }
            if (!fanout)
                put(ep, fd, buf, (size_t)r);
            else
                for (int k = 0; k < nconns; k++)
                    put(ep, conns[k], buf, (size_t)r);
        }
    }
}
