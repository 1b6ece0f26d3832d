/* SPDX-License-Identifier: MIT */
#include "certs.h"

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static EVP_PKEY *new_key(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); }

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext) {
        X509_add_ext(cert, ext, -1);
        X509_EXTENSION_free(ext);
    }
}

/* A certificate for `cn`, signed by (issuer, issuer_key), or self-signed. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                       long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    if (ca) {
        add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
        add_ext(x, issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
        add_ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

static int write_pem(const char *path, X509 *a, X509 *b, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = 1;
    if (a)
        ok &= PEM_write_X509(f, a);
    if (b)
        ok &= PEM_write_X509(f, b);
    if (key)
        ok &= PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    return ok ? 0 : -1;
}

/* A CA and a server certificate it signs. */
static int make_pair(const char *ca_path, const char *cert_path, const char *key_path,
                     const char *ca_name, long serial)
{
    EVP_PKEY *cak = new_key(), *k = new_key();
    if (!cak || !k)
        return -1;
    X509 *ca = make_cert(cak, ca_name, NULL, NULL, true, serial);
    X509 *leaf = make_cert(k, "localhost", ca, cak, false, serial + 1);
    int rc = write_pem(ca_path, ca, NULL, NULL) | write_pem(cert_path, leaf, ca, NULL) |
             write_pem(key_path, NULL, NULL, k);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    return rc;
}

int test_certs_make(test_certs *c)
{
    memset(c, 0, sizeof *c);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(c->dir, sizeof c->dir, "%.40s/wstls-XXXXXX", tmp);
    if (!mkdtemp(c->dir))
        return -1;
    snprintf(c->ca, sizeof c->ca, "%s/ca.pem", c->dir);
    snprintf(c->cert, sizeof c->cert, "%s/cert.pem", c->dir);
    snprintf(c->key, sizeof c->key, "%s/key.pem", c->dir);
    snprintf(c->other_ca, sizeof c->other_ca, "%s/other-ca.pem", c->dir);
    snprintf(c->other_cert, sizeof c->other_cert, "%s/other-cert.pem", c->dir);
    snprintf(c->other_key, sizeof c->other_key, "%s/other-key.pem", c->dir);
    return make_pair(c->ca, c->cert, c->key, "libwschat test CA", 1) |
           make_pair(c->other_ca, c->other_cert, c->other_key, "another test CA", 10);
}

void test_certs_remove(test_certs *c)
{
    const char *files[] = {c->ca, c->cert, c->key, c->other_ca, c->other_cert, c->other_key};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i][0])
            unlink(files[i]);
    if (c->dir[0])
        rmdir(c->dir);
}
