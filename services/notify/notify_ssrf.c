/*  notify_ssrf — SSRF guard for webhook targets (see notify_ssrf.h for the contract).  */
#include "notify_ssrf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _notify_ssrf_t {
    unsigned allow_mask;
};

typedef struct {
    uint32_t network;          //  host byte order
    int prefix;
    notify_ssrf_class_t klass;
} s_range4_t;

static const s_range4_t s_ranges4 [] = {
    { 0x00000000u,  8, NOTIFY_SSRF_UNSPECIFIED },   //  0.0.0.0/8 ("this network")
    { 0x0A000000u,  8, NOTIFY_SSRF_PRIVATE },       //  10/8
    { 0x64400000u, 10, NOTIFY_SSRF_CGNAT },         //  100.64/10
    { 0x7F000000u,  8, NOTIFY_SSRF_LOOPBACK },      //  127/8
    { 0xA9FE0000u, 16, NOTIFY_SSRF_LINK_LOCAL },    //  169.254/16
    { 0xAC100000u, 12, NOTIFY_SSRF_PRIVATE },       //  172.16/12
    { 0xC0000000u, 24, NOTIFY_SSRF_RESERVED },      //  192.0.0/24 IETF protocol assignments
    { 0xC0000200u, 24, NOTIFY_SSRF_RESERVED },      //  192.0.2/24 TEST-NET-1
    { 0xC0A80000u, 16, NOTIFY_SSRF_PRIVATE },       //  192.168/16
    { 0xC6120000u, 15, NOTIFY_SSRF_RESERVED },      //  198.18/15 benchmarking
    { 0xC6336400u, 24, NOTIFY_SSRF_RESERVED },      //  198.51.100/24 TEST-NET-2
    { 0xCB007100u, 24, NOTIFY_SSRF_RESERVED },      //  203.0.113/24 TEST-NET-3
    { 0xE0000000u,  4, NOTIFY_SSRF_MULTICAST },     //  224/4
    { 0xF0000000u,  4, NOTIFY_SSRF_RESERVED },      //  240/4 incl. 255.255.255.255
};

static notify_ssrf_class_t
s_classify4 (uint32_t addr)
{
    for (size_t i = 0; i < sizeof s_ranges4 / sizeof s_ranges4 [0]; i++) {
        uint32_t mask = 0xFFFFFFFFu << (32 - s_ranges4 [i].prefix);
        if ((addr & mask) == s_ranges4 [i].network)
            return s_ranges4 [i].klass;
    }
    return NOTIFY_SSRF_PUBLIC;
}

static uint32_t
s_embedded4 (const uint8_t *b)
{
    return (uint32_t) b [12] << 24 | (uint32_t) b [13] << 16 | (uint32_t) b [14] << 8 | b [15];
}

static notify_ssrf_class_t
s_classify6 (const struct in6_addr *addr)
{
    const uint8_t *b = addr->s6_addr;
    static const uint8_t zero [16] = { 0 };
    if (memcmp (b, zero, 16) == 0)
        return NOTIFY_SSRF_UNSPECIFIED;
    if (memcmp (b, zero, 15) == 0 && b [15] == 1)
        return NOTIFY_SSRF_LOOPBACK;
    //  ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated): judge the IPv4 part
    if (memcmp (b, zero, 10) == 0
    &&  ((b [10] == 0xff && b [11] == 0xff) || (b [10] == 0 && b [11] == 0)))
        return s_classify4 (s_embedded4 (b));
    //  64:ff9b::/96 NAT64 reaches the IPv4 address it embeds
    static const uint8_t nat64 [12] = { 0x00, 0x64, 0xff, 0x9b };
    if (memcmp (b, nat64, 12) == 0)
        return s_classify4 (s_embedded4 (b));
    //  64:ff9b:1::/48, local-use NAT64 (RFC 8215): the operator picks the prefix length, so
    //  where the IPv4 address sits (and whether it is internal) cannot be told: refused.
    static const uint8_t nat64_local [6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };
    if (memcmp (b, nat64_local, 6) == 0)
        return NOTIFY_SSRF_RESERVED;
    //  2002::/16 6to4 (RFC 3056, deprecated by RFC 7526) embeds an IPv4 address a relay
    //  would reach, and 2001::/32 Teredo one (obfuscated) behind a NAT: both refused whole.
    if (b [0] == 0x20 && b [1] == 0x02)
        return NOTIFY_SSRF_RESERVED;
    if (b [0] == 0x20 && b [1] == 0x01 && b [2] == 0x00 && b [3] == 0x00)
        return NOTIFY_SSRF_RESERVED;
    if ((b [0] & 0xfe) == 0xfc)
        return NOTIFY_SSRF_PRIVATE;                 //  fc00::/7 unique local
    if (b [0] == 0xfe && (b [1] & 0xc0) == 0x80)
        return NOTIFY_SSRF_LINK_LOCAL;              //  fe80::/10
    if (b [0] == 0xfe && (b [1] & 0xc0) == 0xc0)
        return NOTIFY_SSRF_RESERVED;                //  fec0::/10 site-local (deprecated)
    if (b [0] == 0xff)
        return NOTIFY_SSRF_MULTICAST;               //  ff00::/8
    if (b [0] == 0x20 && b [1] == 0x01 && b [2] == 0x0d && b [3] == 0xb8)
        return NOTIFY_SSRF_RESERVED;                //  2001:db8::/32 documentation
    static const uint8_t discard [8] = { 0x01, 0x00 };
    if (memcmp (b, discard, 8) == 0)
        return NOTIFY_SSRF_RESERVED;                //  100::/64 discard
    return NOTIFY_SSRF_PUBLIC;
}

notify_ssrf_t *
notify_ssrf_new (unsigned allow_mask)
{
    notify_ssrf_t *self = (notify_ssrf_t *) calloc (1, sizeof (notify_ssrf_t));
    if (self)
        self->allow_mask = allow_mask;
    return self;
}

void
notify_ssrf_destroy (notify_ssrf_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

notify_ssrf_class_t
notify_ssrf_classify (const struct sockaddr *addr)
{
    assert (addr);
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) addr;
        return s_classify4 (ntohl (in->sin_addr.s_addr));
    }
    if (addr->sa_family == AF_INET6)
        return s_classify6 (&((const struct sockaddr_in6 *) addr)->sin6_addr);
    return NOTIFY_SSRF_RESERVED;
}

const char *
notify_ssrf_class_name (notify_ssrf_class_t klass)
{
    switch (klass) {
        case NOTIFY_SSRF_PUBLIC:      return "public";
        case NOTIFY_SSRF_LOOPBACK:    return "loopback";
        case NOTIFY_SSRF_PRIVATE:     return "private";
        case NOTIFY_SSRF_LINK_LOCAL:  return "link-local";
        case NOTIFY_SSRF_CGNAT:       return "cgnat";
        case NOTIFY_SSRF_MULTICAST:   return "multicast";
        case NOTIFY_SSRF_UNSPECIFIED: return "unspecified";
        case NOTIFY_SSRF_RESERVED:    return "reserved";
    }
    return "reserved";
}

bool
notify_ssrf_allowed (const notify_ssrf_t *self, const struct sockaddr *addr)
{
    assert (self);
    notify_ssrf_class_t klass = notify_ssrf_classify (addr);
    return klass == NOTIFY_SSRF_PUBLIC || (self->allow_mask & (unsigned) klass) != 0;
}

static void
s_describe (const struct sockaddr *addr, char *text, size_t text_size)
{
    const void *raw = addr->sa_family == AF_INET
        ? (const void *) &((const struct sockaddr_in *) addr)->sin_addr
        : (const void *) &((const struct sockaddr_in6 *) addr)->sin6_addr;
    if (!inet_ntop (addr->sa_family, raw, text, (socklen_t) text_size))
        snprintf (text, text_size, "?");
}

//  Writes "address 127.0.0.1 is loopback" style reasons.
static void
s_refusal (const struct sockaddr *addr, char *reason, size_t reason_size)
{
    char text [INET6_ADDRSTRLEN];
    s_describe (addr, text, sizeof text);
    snprintf (reason, reason_size, "address %s is %s: refused by the SSRF policy", text,
              notify_ssrf_class_name (notify_ssrf_classify (addr)));
}

//  Extracts scheme and host of url into owned strings. Returns 0, or -1 with a reason.
static int
s_url_host (const char *url, char **host, char *reason, size_t reason_size)
{
    CURLU *handle = curl_url ();
    char *scheme = NULL, *user = NULL;
    int rc = -1;
    if (!handle)
        snprintf (reason, reason_size, "out of memory");
    else
    if (curl_url_set (handle, CURLUPART_URL, url, 0) != CURLUE_OK
    ||  curl_url_get (handle, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        snprintf (reason, reason_size, "not a valid absolute URL");
    else
    if (strcmp (scheme, "http") != 0 && strcmp (scheme, "https") != 0)
        snprintf (reason, reason_size, "scheme must be http or https");
    else
    if (curl_url_get (handle, CURLUPART_USER, &user, 0) == CURLUE_OK)
        snprintf (reason, reason_size, "credentials in the URL are not accepted");
    else
    if (curl_url_get (handle, CURLUPART_HOST, host, 0) != CURLUE_OK || !**host)
        snprintf (reason, reason_size, "URL has no host");
    else
        rc = 0;
    curl_free (scheme);
    curl_free (user);
    curl_url_cleanup (handle);
    return rc;
}

//  True when name (lower case, no trailing dot) ends with the label suffix ("localhost"
//  matches "localhost" and "a.localhost", not "notlocalhost").
static bool
s_in_domain (const char *name, const char *suffix)
{
    size_t len = strlen (name), suffix_len = strlen (suffix);
    if (len < suffix_len || strcmp (name + len - suffix_len, suffix) != 0)
        return false;
    return len == suffix_len || name [len - suffix_len - 1] == '.';
}

int
notify_ssrf_check_url (const notify_ssrf_t *self, const char *url,
                       char *reason, size_t reason_size)
{
    assert (self);
    assert (url);
    assert (reason && reason_size > 0);
    char *host = NULL;
    if (s_url_host (url, &host, reason, reason_size) != 0) {
        curl_free (host);
        return -1;
    }
    //  curl keeps brackets around IPv6 literals; inet_pton wants them off.
    char *name = host;
    size_t len = strlen (name);
    if (len >= 2 && name [0] == '[' && name [len - 1] == ']') {
        name [len - 1] = '\0';
        name++;
        len -= 2;
    }
    if (len > 0 && name [len - 1] == '.')
        name [--len] = '\0';
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char) (*c - 'A' + 'a');
    struct sockaddr_storage storage;
    memset (&storage, 0, sizeof storage);
    struct sockaddr_in *in = (struct sockaddr_in *) &storage;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &storage;
    bool literal = true;
    //  inet_aton takes every form getaddrinfo would (2130706433, 0x7f.1, 127.1).
    if (inet_pton (AF_INET6, name, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
    if (inet_aton (name, &in->sin_addr) != 0)
        in->sin_family = AF_INET;
    else
    if (s_in_domain (name, "localhost")) {         //  RFC 6761: always loopback
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl (0x7F000001u);
    }
    else
        literal = false;
    int rc = 0;
    if (literal) {
        if (!notify_ssrf_allowed (self, (struct sockaddr *) &storage)) {
            s_refusal ((struct sockaddr *) &storage, reason, reason_size);
            rc = -1;
        }
    }
    else
    if (s_in_domain (name, "invalid")) {           //  RFC 6761: never resolves
        snprintf (reason, reason_size, "host %s does not resolve (.invalid)", name);
        rc = -1;
    }
    //  Any other name is not resolved here (see the header): its addresses are checked when
    //  a delivery connects.
    curl_free (host);
    return rc;
}

//  CURLOPT_OPENSOCKETFUNCTION: the last word before connect(2).
static curl_socket_t
s_open_socket (void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    notify_ssrf_guard_t *guard = (notify_ssrf_guard_t *) clientp;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    if (!notify_ssrf_allowed (guard->policy, &address->addr)) {
        guard->refused = true;
        s_refusal (&address->addr, guard->reason, sizeof guard->reason);
        return CURL_SOCKET_BAD;
    }
    return socket (address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

int
notify_ssrf_attach (const notify_ssrf_t *self, CURL *easy, notify_ssrf_guard_t *guard)
{
    assert (self);
    assert (easy);
    assert (guard);
    guard->policy = self;
    guard->refused = false;
    guard->reason [0] = '\0';
    if (curl_easy_setopt (easy, CURLOPT_OPENSOCKETFUNCTION, s_open_socket) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_OPENSOCKETDATA, guard) != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_NOPROXY, "*") != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK
    ||  curl_easy_setopt (easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return -1;
    return 0;
}
