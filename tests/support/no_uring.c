/* SPDX-License-Identifier: MIT */
/* Runs a program with io_uring_setup refused, as a container's default
 * seccomp profile refuses it:
 *
 *   no_uring eperm PROGRAM ARGS...   io_uring_setup fails with EPERM
 *   no_uring kill  PROGRAM ARGS...   calling io_uring_setup kills the process
 *
 * "kill" is how the fallback test proves that a server told to use epoll
 * never probes io_uring (some sandboxes kill a process that tries). Exits
 * 77 (skipped) where seccomp filters cannot be installed. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "eperm") != 0 && strcmp(argv[1], "kill") != 0)) {
        fprintf(stderr, "usage: no_uring eperm|kill PROGRAM [ARGS...]\n");
        return 2;
    }
#if defined(NATIVE_ARCH) && defined(__NR_io_uring_setup)
    unsigned action = strcmp(argv[1], "kill") == 0 ? SECCOMP_RET_KILL_PROCESS
                                                   : SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
    struct sock_filter code[] = {
        /* A foreign architecture's numbers mean other calls: let it be. */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        printf("SKIP: seccomp filters cannot be installed here (%s)\n", strerror(errno));
        return 77;
    }
    execvp(argv[2], argv + 2);
    fprintf(stderr, "no_uring: %s: %s\n", argv[2], strerror(errno));
    return 127;
#else
    printf("SKIP: no seccomp filter for io_uring_setup on this architecture\n");
    return 77;
#endif
}
