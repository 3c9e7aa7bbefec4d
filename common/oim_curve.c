/*  oim_curve — see oim_curve.h. */
#include "oim_curve.h"
#include "oim_log.h"

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct _oim_curve_t {
    bool enabled;
    oim_curve_role_t role;
    zcert_t *own;                   //  our keypair (secret included)
    char peer_public [OIM_CURVE_KEY_CHARS + 1];
};

//  dir/name into path; -1 when it does not fit.
static int
s_path (char *path, size_t size, const char *dir, const char *name)
{
    int n = snprintf (path, size, "%s/%s", dir, name);
    return n < 0 || (size_t) n >= size? -1: 0;
}

//  Loads dir/name (with its _secret half when secret is set). NULL (logged) when missing.
static zcert_t *
s_load (const char *dir, const char *name, bool secret)
{
    char path [1024], needed [1100];
    if (s_path (path, sizeof path, dir, name)) {
        oim_error ("event=curve_key_missing file=%s/%s reason=\"path too long\"", dir, name);
        return NULL;
    }
    snprintf (needed, sizeof needed, "%s%s", path, secret? "_secret": "");
    if (access (needed, R_OK) != 0) {
        oim_error ("event=curve_key_missing file=%s reason=\"%s\"", needed, strerror (errno));
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert)
        oim_error ("event=curve_key_unreadable file=%s", needed);
    return cert;
}

static int
s_mode (const char *mode, bool *enabled)
{
    static const char *on [] = { "on", "1", "true", "yes", NULL };
    static const char *off [] = { "off", "0", "false", "no", NULL };
    if (!mode || !*mode) {
        *enabled = true;
        return 0;
    }
    for (int i = 0; on [i]; i++)
        if (strcasecmp (mode, on [i]) == 0) {
            *enabled = true;
            return 0;
        }
    for (int i = 0; off [i]; i++)
        if (strcasecmp (mode, off [i]) == 0) {
            *enabled = false;
            return 0;
        }
    return -1;
}

oim_curve_t *
oim_curve_new (const char *mode, const char *dir, oim_curve_role_t role)
{
    bool enabled;
    if (s_mode (mode, &enabled)) {
        oim_error ("event=bad_config option=curve value=\"%s\" reason=\"on or off\"", mode);
        return NULL;
    }
    oim_curve_t *self = zmalloc (sizeof *self);
    self->enabled = enabled;
    self->role = role;
    if (!enabled) {
        oim_warn ("event=curve_off reason=\"plain ZeroMQ: loopback development only\"");
        return self;
    }
    if (!dir || !*dir) {
        oim_error ("event=curve_key_missing option=curve-dir reason=\"OIM_CURVE_DIR is not set "
                   "(oimctl curve-keygen DIR makes the keys; OIM_CURVE=off for loopback development)\"");
        oim_curve_destroy (&self);
        return NULL;
    }
    bool gateway = role == OIM_CURVE_ROLE_GATEWAY;
    self->own = s_load (dir, gateway? OIM_CURVE_GATEWAY_CERT: OIM_CURVE_DAEMON_CERT, true);
    zcert_t *peer = self->own? s_load (dir, gateway? OIM_CURVE_DAEMON_CERT: OIM_CURVE_GATEWAY_CERT,
                                       false): NULL;
    if (peer)
        snprintf (self->peer_public, sizeof self->peer_public, "%s", zcert_public_txt (peer));
    zcert_destroy (&peer);
    if (!*self->peer_public) {
        oim_curve_destroy (&self);
        return NULL;
    }
    oim_info ("event=curve_on dir=%s public_key=%s", dir, zcert_public_txt (self->own));
    return self;
}

void
oim_curve_destroy (oim_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    oim_curve_t *self = *self_p;
    zcert_destroy (&self->own);
    free (self);
    *self_p = NULL;
}

bool
oim_curve_enabled (const oim_curve_t *self)
{
    return self && self->enabled;
}

bool
oim_curve_is_loopback (const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp (endpoint, "inproc://", 9) == 0 || strncmp (endpoint, "ipc://", 6) == 0)
        return true;
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *semicolon = strchr (host, ';');     //  tcp://source;destination: the latter
    if (semicolon)
        host = semicolon + 1;
    const char *colon = strrchr (host, ':');
    size_t len = colon? (size_t) (colon - host): strlen (host);
    char name [256];
    if (len == 0 || len >= sizeof name)
        return false;
    memcpy (name, host, len);
    name [len] = 0;
    if (strcmp (name, "localhost") == 0 || strcmp (name, "[::1]") == 0 || strcmp (name, "::1") == 0)
        return true;
    unsigned a, b, c, d;
    char extra;
    return sscanf (name, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4
        && a == 127 && b < 256 && c < 256 && d < 256;
}

int
oim_curve_check_endpoint (const oim_curve_t *self, const char *endpoint)
{
    if (oim_curve_enabled (self) || oim_curve_is_loopback (endpoint))
        return 0;
    oim_error ("event=curve_off_refused endpoint=%s reason=\"plain ZeroMQ is allowed on loopback "
               "endpoints only: set OIM_CURVE_DIR and OIM_CURVE=on\"", endpoint? endpoint: "");
    return -1;
}

int
oim_curve_server (const oim_curve_t *self, zsock_t *socket, const char *domain)
{
    if (!oim_curve_enabled (self))
        return 0;
    if (self->role != OIM_CURVE_ROLE_GATEWAY)
        return -1;
    zcert_apply (self->own, socket);
    zsock_set_curve_server (socket, 1);
    zsock_set_zap_domain (socket, domain);
    return 0;
}

int
oim_curve_bind (const oim_curve_t *self, zsock_t *socket, const char *domain,
                const char *endpoint, char *bound, size_t bound_size)
{
    if (domain && (oim_curve_check_endpoint (self, endpoint)
               ||  oim_curve_server (self, socket, domain)))
        return -1;
    if (zsock_bind (socket, "%s", endpoint) < 0) {
        oim_error ("event=bind_failed endpoint=%s error=\"%s\"", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    char *last = zsock_last_endpoint (socket);        //  a fresh string: ours to free
    snprintf (bound, bound_size, "%s", last? last: endpoint);
    free (last);
    return 0;
}

int
oim_curve_client (const oim_curve_t *self, zsock_t *socket)
{
    if (!oim_curve_enabled (self))
        return 0;
    if (self->role != OIM_CURVE_ROLE_DAEMON)
        return -1;
    zcert_apply (self->own, socket);
    zsock_set_curve_serverkey (socket, self->peer_public);
    return 0;
}

const char *
oim_curve_peer_public (const oim_curve_t *self)
{
    return oim_curve_enabled (self)? self->peer_public: "";
}

//  Writes dir/name (+ _secret) when the secret half is missing; prints the public key.
static int
s_keygen_one (const char *dir, const char *name, FILE *out, FILE *err)
{
    char path [1024], secret [1100];
    if (s_path (path, sizeof path, dir, name)) {
        fprintf (err, "curve-keygen: %s/%s: path too long\n", dir, name);
        return -1;
    }
    snprintf (secret, sizeof secret, "%s_secret", path);
    zcert_t *cert = access (secret, R_OK) == 0? zcert_load (path): NULL;
    bool made = false;
    if (!cert) {
        cert = zcert_new ();
        mode_t old = umask (077);       //  the secret file is never readable by others
        int rc = cert? zcert_save (cert, path): -1;
        umask (old);
        if (rc || chmod (secret, 0600) || chmod (path, 0644)) {
            fprintf (err, "curve-keygen: cannot write %s: %s\n", path, strerror (errno));
            zcert_destroy (&cert);
            return -1;
        }
        made = true;
    }
    fprintf (out, "%s %s %s\n", name, zcert_public_txt (cert), made? "created": "kept");
    zcert_destroy (&cert);
    return 0;
}

int
oim_curve_keygen (const char *dir, FILE *out, FILE *err)
{
    struct stat st;
    if (stat (dir, &st) != 0 && mkdir (dir, 0700) != 0) {
        fprintf (err, "curve-keygen: cannot make %s: %s\n", dir, strerror (errno));
        return -1;
    }
    if (s_keygen_one (dir, OIM_CURVE_GATEWAY_CERT, out, err)
    ||  s_keygen_one (dir, OIM_CURVE_DAEMON_CERT, out, err))
        return -1;
    return 0;
}

//  ---------------------------------------------------------------------------------------
void
oim_curve_test (bool verbose)
{
    (void) verbose;
    assert (oim_curve_is_loopback ("tcp://127.0.0.1:5555"));
    assert (oim_curve_is_loopback ("tcp://127.3.4.5:*"));
    assert (oim_curve_is_loopback ("tcp://localhost:1"));
    assert (oim_curve_is_loopback ("tcp://[::1]:1"));
    assert (oim_curve_is_loopback ("inproc://x"));
    assert (oim_curve_is_loopback ("ipc:///tmp/x"));
    assert (!oim_curve_is_loopback ("tcp://*:5555"));
    assert (!oim_curve_is_loopback ("tcp://0.0.0.0:5555"));
    assert (!oim_curve_is_loopback ("tcp://gateway:5555"));
    assert (!oim_curve_is_loopback ("tcp://127.0.0.1.evil:5555"));
    assert (!oim_curve_is_loopback ("tcp://10.0.0.1:5555"));
    assert (!oim_curve_is_loopback (NULL));

    oim_curve_t *off = oim_curve_new ("off", NULL, OIM_CURVE_ROLE_DAEMON);
    assert (off && !oim_curve_enabled (off));
    assert (oim_curve_check_endpoint (off, "tcp://127.0.0.1:1") == 0);
    assert (oim_curve_check_endpoint (off, "tcp://gateway:1") == -1);
    oim_curve_destroy (&off);
    assert (!oim_curve_new ("maybe", NULL, OIM_CURVE_ROLE_DAEMON));

    char dir [] = "/tmp/oim-curve-test-XXXXXX";
    assert (mkdtemp (dir));
    assert (!oim_curve_new ("on", dir, OIM_CURVE_ROLE_GATEWAY));        //  no files yet
    FILE *null = fopen ("/dev/null", "w");
    assert (oim_curve_keygen (dir, null, null) == 0);
    assert (oim_curve_keygen (dir, null, null) == 0);                   //  kept
    fclose (null);
    char path [1100];
    struct stat st;
    snprintf (path, sizeof path, "%s/gateway.cert_secret", dir);
    assert (stat (path, &st) == 0 && (st.st_mode & 077) == 0);

    oim_curve_t *gateway = oim_curve_new ("on", dir, OIM_CURVE_ROLE_GATEWAY);
    oim_curve_t *daemon = oim_curve_new (NULL, dir, OIM_CURVE_ROLE_DAEMON);
    assert (gateway && daemon);
    assert (oim_curve_check_endpoint (gateway, "tcp://*:5555") == 0);
    //  A CURVE round trip (no ZAP handler here: libzmq accepts any client key).
    zsock_t *server = zsock_new (ZMQ_PULL);
    assert (oim_curve_server (gateway, server, "internal") == 0);
    assert (oim_curve_client (gateway, server) == -1);
    int port = zsock_bind (server, "tcp://127.0.0.1:*");
    assert (port > 0);
    zsock_t *client = zsock_new (ZMQ_PUSH);
    assert (oim_curve_client (daemon, client) == 0);
    assert (oim_curve_server (daemon, client, "x") == -1);
    zsock_connect (client, "tcp://127.0.0.1:%d", port);
    zstr_send (client, "hello");
    zsock_set_rcvtimeo (server, 5000);
    char *hello = zstr_recv (server);
    assert (hello && streq (hello, "hello"));
    zstr_free (&hello);
    zsock_destroy (&client);
    zsock_destroy (&server);
    oim_curve_destroy (&gateway);
    oim_curve_destroy (&daemon);
    const char *files [] = { "gateway.cert", "gateway.cert_secret", "daemon.cert",
                             "daemon.cert_secret", NULL };
    for (int i = 0; files [i]; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, files [i]);
        unlink (path);
    }
    rmdir (dir);
}
