/*  notify_ssrf — keeps webhooks away from internal networks (server-side request forgery).

    A webhook URL is chosen by a customer, so without a guard oim-notify could be made to POST
    to Redis, the gateway or a cloud metadata service. Two layers:

    1. notify_ssrf_check_url, when an endpoint is configured (PUT /v1/orgs/{id}/webhook): the
       URL must be http(s) with a host. An address literal (any form getaddrinfo accepts:
       10.0.0.1, 2130706433, [::1]) and the names RFC 6761 fixes (localhost and *.localhost
       = loopback, *.invalid = never resolves) are judged at once, with a clear reason for
       the 422 reply. Any other name is NOT resolved here: the check runs on oim-notify's
       loop, and a customer's DNS that never answers would hold the loop (every delivery,
       every API request) for as long as the resolver waits — seconds per try. Where such a
       name points is checked by layer 2 on every delivery, which is the only check that
       also catches a name that changes its answer later (DNS rebinding); a refused address
       shows as a failed delivery with the reason in the delivery log.
    2. notify_ssrf_attach, on every delivery: installs CURLOPT_OPENSOCKETFUNCTION so the
       address curl is about to connect to — after curl's own asynchronous resolution, for
       every connection and every address tried — is checked again. A name that resolved to a
       public address at configuration time and to 127.0.0.1 now (DNS rebinding) is refused
       at connect time. Proxies are switched off on the handle (CURLOPT_NOPROXY "*"), since
       through a proxy the checked address would be the proxy's.

    Forbidden unless allowed: loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16,
    fc00::/7), link-local (169.254/16, fe80::/10), CGNAT shared space (100.64/10),
    multicast (224/4, ff00::/8), unspecified (0/8, ::), and reserved/documentation ranges
    (192.0.0/24, 192.0.2/24, 198.18/15, 198.51.100/24, 203.0.113/24, 240/4, 2001:db8::/32,
    fec0::/10, 100::/64), and IPv6 ranges that tunnel to an IPv4 address that cannot be
    judged: local-use NAT64 64:ff9b:1::/48 (RFC 8215), 6to4 2002::/16 and Teredo 2001::/32
    (reserved). IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible and well-known NAT64
    (64:ff9b::/96) IPv6 addresses are judged by the IPv4 address they carry.
    OIM_WEBHOOK_ALLOW_PRIVATE=1 maps to NOTIFY_SSRF_ALLOW_PRIVATE (tests allow loopback).

    A notify_ssrf_t is immutable after _new and may be shared between threads.
*/
#ifndef NOTIFY_SSRF_H_INCLUDED
#define NOTIFY_SSRF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Address classes; the allow mask of notify_ssrf_new is an OR of these.
typedef enum {
    NOTIFY_SSRF_PUBLIC       = 0,
    NOTIFY_SSRF_LOOPBACK     = 1 << 0,
    NOTIFY_SSRF_PRIVATE      = 1 << 1,
    NOTIFY_SSRF_LINK_LOCAL   = 1 << 2,
    NOTIFY_SSRF_CGNAT        = 1 << 3,
    NOTIFY_SSRF_MULTICAST    = 1 << 4,
    NOTIFY_SSRF_UNSPECIFIED  = 1 << 5,
    NOTIFY_SSRF_RESERVED     = 1 << 6
} notify_ssrf_class_t;

//  What OIM_WEBHOOK_ALLOW_PRIVATE=1 allows: every non-public unicast class. Multicast and
//  the unspecified address stay refused: no TCP endpoint lives there.
#define NOTIFY_SSRF_ALLOW_PRIVATE \
    (NOTIFY_SSRF_LOOPBACK | NOTIFY_SSRF_PRIVATE | NOTIFY_SSRF_LINK_LOCAL \
   | NOTIFY_SSRF_CGNAT | NOTIFY_SSRF_RESERVED)

#define NOTIFY_SSRF_REASON_MAX 160

typedef struct _notify_ssrf_t notify_ssrf_t;

//  What a delivery's handle refused, filled in by the callback notify_ssrf_attach installs.
//  Owned by the caller; must outlive the transfer. refused is false until a refusal.
typedef struct {
    const notify_ssrf_t *policy;
    bool refused;
    char reason [NOTIFY_SSRF_REASON_MAX];
} notify_ssrf_guard_t;

//  Creates a policy allowing the classes in allow_mask (0 = public addresses only).
//  Returns NULL only when out of memory.
notify_ssrf_t *
    notify_ssrf_new (unsigned allow_mask);

//  Destroys the policy and nulls *self_p. Accepts NULL and *self_p == NULL.
void
    notify_ssrf_destroy (notify_ssrf_t **self_p);

//  The class of an IPv4 or IPv6 socket address (another family gives NOTIFY_SSRF_RESERVED).
notify_ssrf_class_t
    notify_ssrf_classify (const struct sockaddr *addr);

//  Name of a class for messages and metrics: "public", "loopback", "private", ...
const char *
    notify_ssrf_class_name (notify_ssrf_class_t klass);

//  True when the policy lets a delivery connect to addr.
bool
    notify_ssrf_allowed (const notify_ssrf_t *self, const struct sockaddr *addr);

//  Validates a webhook URL: http or https, a host, no user:password (the length is the
//  caller's). Never blocks: no name is resolved (see 1. above). Returns 0, or -1 with a
//  reason in reason (NUL-terminated, reason_size bytes at most) if the URL is malformed,
//  its host is an address (or localhost) the policy refuses, or a .invalid name.
int
    notify_ssrf_check_url (const notify_ssrf_t *self, const char *url,
                           char *reason, size_t reason_size);

//  Arms an easy handle: connect-time check through guard (guard->policy is set to self and
//  guard->refused cleared), no proxies, http/https only. Returns 0, or -1 if curl refused an
//  option (the handle may then be partly armed: do not use it).
int
    notify_ssrf_attach (const notify_ssrf_t *self, CURL *easy, notify_ssrf_guard_t *guard);

#ifdef __cplusplus
}
#endif

#endif
