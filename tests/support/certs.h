/* SPDX-License-Identifier: MIT */
/* Certificates made at test time (no private key is ever committed): a CA,
 * and a server certificate it signs for localhost and 127.0.0.1, written as
 * PEM files into a fresh temporary directory. */
#ifndef WS_TEST_CERTS_H
#define WS_TEST_CERTS_H

typedef struct test_certs {
    char dir[64];
    char ca[96];         /* the CA's certificate */
    char cert[96];       /* the server's chain (leaf, then the CA) */
    char key[96];        /* the server's key */
    char other_cert[96]; /* a second server certificate, from another CA */
    char other_key[96];
    char other_ca[96];
} test_certs;

/* Returns 0, or -1 (OpenSSL failed or no temporary directory). */
int test_certs_make(test_certs *c);
/* Removes the files and the directory. */
void test_certs_remove(test_certs *c);

#endif
