/*  oim-test-receiver: the webhook receiver of the container tests (deploy/compose-test.sh).

    Runs in its own container on the compose network, from the project's runtime image
    (oim-market), which has libmicrohttpd but no python3 — nor has any other image here, and
    nothing can be pulled. compose-test.sh compiles this file at test time in the build base
    image (oim-base:bookworm-build: gcc + libmicrohttpd-dev) and mounts the binary read-only
    (deploy/compose-test.override.yml). SHA-256, HMAC and base64 are implemented below so that
    it needs no OpenSSL headers (the build base carries none).

    Usage: oim-test-receiver PORT
      POST /secret          body = the endpoint's "whsec_..." secret (from PUT /v1/orgs/{id}/webhook)
      POST /hook/...        a webhook (/hook/slow/<ms>/...: answered after <ms> ms, so that
                            a killed notify leaves deliveries in flight): verified the Standard Webhooks way (webhook-id,
                            webhook-timestamp within 5 minutes, webhook-signature "v1,<base64
                            HMAC-SHA256 of id.timestamp.body>" keyed with the base64-decoded
                            secret); 200 when valid, else 400 (counted as rejected)
      GET /stats            {"received","verified","rejected","deliveries":[{"id","count","body"}]}
                            one entry per distinct webhook-id, body = the first verified body
*/
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// ------------------------------------------------------------------------------- SHA-256
typedef struct { uint32_t h[8]; uint64_t len; uint8_t buf[64]; size_t n; } sha256_t;
static const uint32_t K[64] = {
    0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
    0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
    0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
    0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
    0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
    0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
    0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
    0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void sha_block(sha256_t *s, const uint8_t *p) {
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t) p[4*i] << 24 | (uint32_t) p[4*i+1] << 16 | (uint32_t) p[4*i+2] << 8 | p[4*i+3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3);
        uint32_t s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
        w[i] = w[i-16] + s0 + w[i-7] + s1;
    }
    a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3]; e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}
static void sha_init(sha256_t *s) {
    static const uint32_t h0[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,
                                   0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
    memcpy(s->h, h0, sizeof h0); s->len = 0; s->n = 0;
}
static void sha_update(sha256_t *s, const void *data, size_t len) {
    const uint8_t *p = data;
    s->len += len;
    while (len--) { s->buf[s->n++] = *p++; if (s->n == 64) { sha_block(s, s->buf); s->n = 0; } }
}
static void sha_final(sha256_t *s, uint8_t out[32]) {
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80, zero = 0, lenb[8];
    sha_update(s, &pad, 1);
    while (s->n != 56) sha_update(s, &zero, 1);
    for (int i = 0; i < 8; i++) lenb[i] = (uint8_t) (bits >> (56 - 8 * i));
    sha_update(s, lenb, 8);
    for (int i = 0; i < 8; i++) {
        out[4*i] = s->h[i] >> 24; out[4*i+1] = s->h[i] >> 16; out[4*i+2] = s->h[i] >> 8; out[4*i+3] = s->h[i];
    }
}
// HMAC-SHA256 over the concatenation of up to 5 parts.
static void hmac_sha256(const uint8_t *key, size_t klen, const void *parts[], const size_t lens[],
                        int nparts, uint8_t out[32]) {
    uint8_t k[64] = {0}, ipad[64], opad[64], inner[32];
    sha256_t s;
    if (klen > 64) { sha_init(&s); sha_update(&s, key, klen); sha_final(&s, k); }
    else memcpy(k, key, klen);
    for (int i = 0; i < 64; i++) { ipad[i] = k[i] ^ 0x36; opad[i] = k[i] ^ 0x5c; }
    sha_init(&s); sha_update(&s, ipad, 64);
    for (int i = 0; i < nparts; i++) sha_update(&s, parts[i], lens[i]);
    sha_final(&s, inner);
    sha_init(&s); sha_update(&s, opad, 64); sha_update(&s, inner, 32); sha_final(&s, out);
}

// -------------------------------------------------------------------------------- base64
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static void b64_encode(const uint8_t *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < n ? (uint32_t) in[i+1] << 8 : 0) | (i + 2 < n ? in[i+2] : 0);
        out[o++] = B64[v >> 18 & 63]; out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = 0;
}
static long b64_decode(const char *in, uint8_t *out, size_t cap) {
    uint32_t v = 0; int bits = 0; size_t o = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(B64, *in);
        if (!p || !*in) return -1;
        v = v << 6 | (uint32_t) (p - B64); bits += 6;
        if (bits >= 8) { bits -= 8; if (o >= cap) return -1; out[o++] = (uint8_t) (v >> bits); }
    }
    return (long) o;
}

// ------------------------------------------------------------------------------- records
typedef struct { char *id; long count; char *body; } record_t;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static record_t *records; static size_t nrecords, caprecords;
static long received, verified, rejected;
static uint8_t key[256]; static long keylen = -1;

static int verify(const char *id, const char *ts, const char *sigs, const char *body, size_t blen) {
    if (!id || !ts || !sigs || keylen < 0) return 0;
    long long t = atoll(ts), now = (long long) time(NULL);
    if (t < now - 300 || t > now + 300) return 0;
    const void *parts[5] = {id, ".", ts, ".", body};
    size_t lens[5] = {strlen(id), 1, strlen(ts), 1, blen};
    uint8_t mac[32]; char expected[64];
    hmac_sha256(key, (size_t) keylen, parts, lens, 5, mac);
    b64_encode(mac, 32, expected);
    char *copy = strdup(sigs), *save = NULL; int ok = 0;
    for (char *s = strtok_r(copy, " ", &save); s && !ok; s = strtok_r(NULL, " ", &save))
        ok = strncmp(s, "v1,", 3) == 0 && strcmp(s + 3, expected) == 0;
    free(copy);
    return ok;
}

static void record(const char *id, const char *body, size_t blen) {
    for (size_t i = 0; i < nrecords; i++)
        if (strcmp(records[i].id, id) == 0) { records[i].count++; return; }
    if (nrecords == caprecords) {
        caprecords = caprecords ? 2 * caprecords : 1024;
        records = realloc(records, caprecords * sizeof *records);
    }
    char *b = malloc(blen + 1); memcpy(b, body, blen); b[blen] = 0;
    records[nrecords++] = (record_t) {strdup(id), 1, b};
}

// ---------------------------------------------------------------------------------- HTTP
typedef struct { char *data; size_t len; } body_t;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *text, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static char *stats_json(size_t *len) {
    size_t cap = 256, n = 0;
    for (size_t i = 0; i < nrecords; i++) cap += strlen(records[i].id) + strlen(records[i].body) + 64;
    char *out = malloc(cap);
    n += (size_t) sprintf(out + n, "{\"received\":%ld,\"verified\":%ld,\"rejected\":%ld,\"deliveries\":[",
                          received, verified, rejected);
    for (size_t i = 0; i < nrecords; i++)
        n += (size_t) sprintf(out + n, "%s{\"id\":\"%s\",\"count\":%ld,\"body\":%s}", i ? "," : "",
                              records[i].id, records[i].count, records[i].body[0] ? records[i].body : "null");
    n += (size_t) sprintf(out + n, "]}");
    *len = n;
    return out;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **state) {
    (void) cls; (void) version;
    if (!*state) { *state = calloc(1, sizeof(body_t)); return MHD_YES; }
    body_t *b = *state;
    if (*size) {
        b->data = realloc(b->data, b->len + *size + 1);
        memcpy(b->data + b->len, data, *size);
        b->len += *size; b->data[b->len] = 0;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&lock);
    unsigned code = 200; char *text = strdup(""); size_t tlen = 0; long delay_ms = 0;
    if (strcmp(method, "GET") == 0 && strcmp(url, "/stats") == 0) {
        free(text); text = stats_json(&tlen);
    } else if (strcmp(method, "POST") == 0 && strcmp(url, "/secret") == 0) {
        const char *s = b->data ? b->data : "";
        if (strncmp(s, "whsec_", 6) == 0) keylen = b64_decode(s + 6, key, sizeof key);
        code = keylen >= 0 ? 200 : 400;
    } else if (strcmp(method, "POST") == 0 && strncmp(url, "/hook", 5) == 0) {
        const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
        const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp");
        const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature");
        received++;
        if (strncmp(url, "/hook/slow/", 11) == 0) delay_ms = atol(url + 11);
        if (verify(id, ts, sig, b->data ? b->data : "", b->len)) {
            verified++;
            record(id, b->data ? b->data : "", b->len);
        } else {
            rejected++;
            code = 400;
            fprintf(stderr, "receiver: REJECTED webhook-id=%s (bad or missing signature)\n", id ? id : "-");
        }
    } else code = 404;
    pthread_mutex_unlock(&lock);
    if (delay_ms > 0 && delay_ms < 60000) usleep((useconds_t) delay_ms * 1000);
    return reply(c, code, text, tlen);
}

static void done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode t) {
    (void) cls; (void) c; (void) t;
    body_t *b = *state;
    if (b) { free(b->data); free(b); }
    *state = NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8090;
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                                            (uint16_t) port, NULL, NULL, handle, NULL,
                                            MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) { fprintf(stderr, "receiver: cannot listen on %d\n", port); return 1; }
    fprintf(stderr, "receiver: listening on %d\n", port);
    for (;;) pause();
}
