/*  oim_curve — CURVE security for every ZeroMQ socket of OI Market (DESIGN: trust round).

    One configuration for every process: OIM_CURVE (--curve) "on" (default) or "off", and
    OIM_CURVE_DIR (--curve-dir), a directory of czmq zcert files with fixed names:
      gateway.cert / gateway.cert_secret   the gateway's server keypair (broker, ingest, feed,
                                           feed intake); daemons and clients need the public one
      daemon.cert / daemon.cert_secret     the internal daemons' client keypair; the gateway
                                           needs the public one (the only key of domain
                                           "internal")
    With CURVE on, a needed file missing is an error naming the file: the process must not
    start. With CURVE off (plain ZeroMQ) every endpoint the process binds or connects must be
    loopback (127.0.0.0/8, [::1], localhost, inproc://, ipc://), checked with
    oim_curve_check_endpoint; the mode is logged at start as a warning.

    An oim_curve_t is read-only once made: several threads of one process may share it.
*/
#ifndef OIM_CURVE_H_INCLUDED
#define OIM_CURVE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>

//  The two options, for the daemon template's common table and the gateway's own.
#define OIM_CURVE_OPTIONS \
    { "curve", "OIM_CURVE", "on", "CURVE on every ZeroMQ socket: on, or off (plain ZeroMQ, "  \
      "allowed only when every endpoint is loopback; logged as a warning)", false },           \
    { "curve-dir", "OIM_CURVE_DIR", "", "directory of the zcert key files (gateway.cert, "    \
      "daemon.cert and their _secret halves; `oimctl curve-keygen DIR` makes them)", false }

#define OIM_CURVE_GATEWAY_CERT  "gateway.cert"
#define OIM_CURVE_DAEMON_CERT   "daemon.cert"
#define OIM_CURVE_KEY_CHARS     40              //  a Z85 public or secret key

typedef enum {
    OIM_CURVE_ROLE_GATEWAY,     //  server: gateway.cert_secret + daemon.cert
    OIM_CURVE_ROLE_DAEMON       //  client: daemon.cert_secret + gateway.cert
} oim_curve_role_t;

typedef struct _oim_curve_t oim_curve_t;

//  Reads the configuration. mode: "on", "off" (also "1"/"0", "true"/"false", "yes"/"no";
//  NULL or "" = on); dir: the key directory. Loads the files role needs and, when off, logs
//  the curve_off warning. Returns NULL when the mode is unknown or a needed file is missing
//  or unreadable (logged, naming the file).
oim_curve_t *oim_curve_new (const char *mode, const char *dir, oim_curve_role_t role);
void oim_curve_destroy (oim_curve_t **self_p);

//  True when CURVE is on.
bool oim_curve_enabled (const oim_curve_t *self);

//  0 when the process may use endpoint (CURVE on, or off and endpoint loopback); -1 (logged)
//  when plain ZeroMQ would expose it beyond this host.
int oim_curve_check_endpoint (const oim_curve_t *self, const char *endpoint);

//  True for inproc://, ipc://, and tcp:// on 127.0.0.0/8, [::1], ::1 or localhost.
bool oim_curve_is_loopback (const char *endpoint);

//  Makes socket a CURVE server with this process' keypair, its ZAP requests in domain.
//  Call before bind. Nothing when off. Returns 0, or -1 when this role holds no secret key.
int oim_curve_server (const oim_curve_t *self, zsock_t *socket, const char *domain);

//  Binds socket to endpoint as a CURVE server of domain (domain NULL: no security, for inproc
//  sockets) and writes the endpoint it got (a port chosen by the kernel resolved) to bound.
//  Set the socket's other options first: a listener copies them when it is made. Returns 0,
//  or -1 (logged once) when plain ZeroMQ would expose it beyond this host, this role holds no
//  secret key, or the bind fails; the socket is left unbound and still the caller's.
int oim_curve_bind (const oim_curve_t *self, zsock_t *socket, const char *domain,
                    const char *endpoint, char *bound, size_t bound_size);

//  Makes socket a CURVE client with this process' keypair, trusting the gateway's public key.
//  Call before connect. Nothing when off. Returns 0, or -1 for the gateway role.
int oim_curve_client (const oim_curve_t *self, zsock_t *socket);

//  The Z85 public key of the other side: daemon.cert's for the gateway, gateway.cert's for a
//  daemon; "" when off.
const char *oim_curve_peer_public (const oim_curve_t *self);

//  Writes gateway.cert and daemon.cert (each with its _secret, mode 0600) into dir when
//  missing (dir is made, mode 0700, when missing); prints the public keys to out. Returns 0,
//  or -1 with the reason on err.
int oim_curve_keygen (const char *dir, FILE *out, FILE *err);

//  Self test.
void oim_curve_test (bool verbose);

#endif
