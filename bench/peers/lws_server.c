/* SPDX-License-Identifier: MIT */
/* Peer for bench/run.py: the echo ("/") and chat ("/chat") behaviour of
 * examples/echo and examples/chat, on Debian's libwebsockets (4.1), written
 * the way lws's own minimal examples do it: a message is queued and sent
 * from the WRITEABLE callback, and the chat fans out through one lws_ring
 * with a tail per member (lws-minimal-ws-server-ring).
 *
 *   lws_server [port [CERT KEY]]   prints "ready PORT" once listening on 127.0.0.1
 *   (with CERT and KEY: over TLS)
 */
#include <libwebsockets.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_SLOTS 65536 /* far more than the 64 messages the loadgen keeps in flight */

typedef struct msg {
    unsigned char *buf; /* LWS_PRE bytes of headroom, then the payload */
    size_t len;
    int binary;
    struct msg *next;
} msg;

typedef struct pss {
    struct pss *pss_list; /* chat members, for lws_ring's oldest-tail update */
    struct lws *wsi;
    uint32_t tail;        /* chat: next ring element to send */
    int chat;
    int welcome;          /* chat: the greeting is still to send */
    int id;
    unsigned char *in;    /* the message being received */
    size_t in_len, in_cap;
    msg *out, *out_last;  /* echo: whole messages waiting for WRITEABLE */
} pss;

typedef struct vhd {
    struct lws_ring *ring;
    pss *pss_list;
    int members;
    int next_id;
} vhd;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void msg_free(void *p)
{
    msg *m = p;
    free(m->buf);
    m->buf = NULL;
}

static msg *msg_new(const void *data, size_t len, int binary)
{
    msg *m = calloc(1, sizeof *m);
    if (m && !(m->buf = malloc(LWS_PRE + len + 1))) {
        free(m);
        return NULL;
    }
    if (m) {
        memcpy(m->buf + LWS_PRE, data, len);
        m->len = len;
        m->binary = binary;
    }
    return m;
}

static int gather(pss *p, const void *in, size_t len)
{
    if (p->in_len + len > p->in_cap) {
        size_t cap = p->in_cap ? p->in_cap : 256;
        while (cap < p->in_len + len)
            cap *= 2;
        unsigned char *b = realloc(p->in, cap);
        if (!b)
            return -1;
        p->in = b;
        p->in_cap = cap;
    }
    memcpy(p->in + p->in_len, in, len);
    p->in_len += len;
    return 0;
}

static int send_text(struct lws *wsi, const char *text)
{
    size_t n = strlen(text);
    unsigned char buf[LWS_PRE + 128];
    if (n > sizeof buf - LWS_PRE)
        n = sizeof buf - LWS_PRE;
    memcpy(buf + LWS_PRE, text, n);
    return lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n ? -1 : 0;
}

static int chat_writeable(vhd *v, pss *p)
{
    if (p->welcome) {
        char w[96];
        snprintf(w, sizeof w, "You are connected! There are %d users here.", v->members);
        p->welcome = 0;
        if (send_text(p->wsi, w) < 0)
            return -1;
        lws_callback_on_writable(p->wsi);
        return 0;
    }
    const msg *m = lws_ring_get_element(v->ring, &p->tail);
    if (!m)
        return 0;
    if (lws_write(p->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
        return -1;
    lws_ring_consume_and_update_oldest_tail(v->ring, pss, &p->tail, 1, v->pss_list, tail,
                                            pss_list);
    if (lws_ring_get_element(v->ring, &p->tail))
        lws_callback_on_writable(p->wsi);
    return 0;
}

static int echo_writeable(pss *p)
{
    msg *m = p->out;
    if (!m)
        return 0;
    p->out = m->next;
    if (!p->out)
        p->out_last = NULL;
    int n = lws_write(p->wsi, m->buf + LWS_PRE, m->len,
                      m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    int bad = n < (int)m->len;
    msg_free(m);
    free(m);
    if (bad)
        return -1;
    if (p->out)
        lws_callback_on_writable(p->wsi);
    return 0;
}

static void chat_message(struct lws *wsi, vhd *v, pss *p, const void *data, size_t len)
{
    char line[64 + 1];
    int h = snprintf(line, sizeof line, "[user%d]: ", p->id);
    msg m = {0};
    if (!(m.buf = malloc(LWS_PRE + (size_t)h + len)))
        return;
    memcpy(m.buf + LWS_PRE, line, (size_t)h);
    memcpy(m.buf + LWS_PRE + h, data, len);
    m.len = (size_t)h + len;
    if (!lws_ring_insert(v->ring, &m, 1)) {
        free(m.buf); /* ring full: dropped, as the lws example does */
        return;
    }
    lws_callback_on_writable_all_protocol(lws_get_context(wsi), lws_get_protocol(wsi));
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    pss *p = user;
    vhd *v = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        v = lws_protocol_vh_priv_zalloc(lws_get_vhost(wsi), lws_get_protocol(wsi), sizeof *v);
        if (!v || !(v->ring = lws_ring_create(sizeof(msg), RING_SLOTS, msg_free)))
            return 1;
        break;
    case LWS_CALLBACK_PROTOCOL_DESTROY:
        if (v)
            lws_ring_destroy(v->ring);
        break;
    case LWS_CALLBACK_ESTABLISHED: {
        char uri[64] = "";
        lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
        memset(p, 0, sizeof *p);
        p->wsi = wsi;
        if (strncmp(uri, "/chat", 5) == 0) {
            p->chat = 1;
            p->id = v->next_id++;
            p->welcome = 1;
            p->tail = lws_ring_get_oldest_tail(v->ring);
            lws_ll_fwd_insert(p, pss_list, v->pss_list);
            v->members++;
            lws_callback_on_writable(wsi);
        }
        break;
    }
    case LWS_CALLBACK_CLOSED:
        if (p->chat) {
            lws_ll_fwd_remove(pss, pss_list, p, v->pss_list);
            v->members--;
        }
        while (p->out) {
            msg *m = p->out;
            p->out = m->next;
            msg_free(m);
            free(m);
        }
        free(p->in);
        p->in = NULL;
        break;
    case LWS_CALLBACK_RECEIVE: {
        int whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
        const void *data = in;
        size_t n = len;
        if (p->in_len || !whole) { /* part of a longer message: gather it */
            if (gather(p, in, len) < 0)
                return -1;
            if (!whole)
                break;
            data = p->in;
            n = p->in_len;
        }
        if (p->chat) {
            if (!lws_frame_is_binary(wsi))
                chat_message(wsi, v, p, data, n);
        } else {
            msg *m = msg_new(data, n, lws_frame_is_binary(wsi));
            if (!m)
                return -1;
            if (p->out_last)
                p->out_last->next = m;
            else
                p->out = m;
            p->out_last = m;
            lws_callback_on_writable(wsi);
        }
        p->in_len = 0;
        break;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (p->chat ? chat_writeable(v, p) < 0 : echo_writeable(p) < 0)
            return -1;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    /* rx_buffer_size: a 64 KiB message arrives in one callback when the
     * kernel has it, as it does for the other servers. */
    {"bench", callback, sizeof(pss), 65536 + 16, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int main(int argc, char **argv)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = argc > 1 ? atoi(argv[1]) : 0;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.pt_serv_buf_size = 65536 + LWS_PRE + 16;
    if (argc > 3) { /* TLS through libwebsockets' OpenSSL */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = argv[2];
        info.ssl_private_key_filepath = argv[3];
    }
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx)
        return 1;
    struct lws_vhost *vh = lws_create_vhost(ctx, &info);
    if (!vh) {
        lws_context_destroy(ctx);
        return 1;
    }
    printf("ready %d\n", lws_get_vhost_listen_port(vh));
    fflush(stdout);
    int n = 0;
    while (n >= 0 && !interrupted)
        n = lws_service(ctx, 0);
    lws_context_destroy(ctx);
    return 0;
}
