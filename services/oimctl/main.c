/*  oimctl — the OI Market command-line client, for the agency and for scripts.

    HTTP commands go to the gateway's API (libcurl) and print the reply's JSON on stdout;
    `publish` sends demand events over the ZeroMQ ingest endpoint in batches, with a progress
    line on stderr, and returns only when every batch is acknowledged (re-sending a batch
    whose ack did not come within the timeout: the registry's processing is idempotent).
    Exit codes: 0 success, 1 the server refused or failed, 2 usage error.

    Configuration: OIM_URL (http://127.0.0.1:8080), OIM_API_KEY, OIM_INGEST_ENDPOINT
    (tcp://127.0.0.1:5570), each also a flag (--url, --key, --ingest-endpoint). `publish`
    over CURVE (the deployed ingest port accepts nothing else): OIM_CURVE_SERVER_KEY
    (--curve-server-key, the gateway's public key, Z85) and OIM_CURVE_KEYPAIR
    (--curve-keypair, the publisher's zcert secret file; its public key registered with
    `publisher create --curve-public-key` or `publisher curve-key`).
*/
#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.pb-c.h"
#include "oimctl_commands.h"
#include "oim_clock.h"
#include "oim_curve.h"
#include "oim_pbjson.h"

#define MAX_BODY_BYTES (16 * 1024 * 1024)
#define MAX_LINE_BYTES (1024 * 1024)
#define MAX_EVENTS 1000000

typedef struct {
    const char *url;
    const char *key;
    const char *ingest;
    const char *curve_server_key;   //  publish: the gateway's CURVE public key (Z85)
    const char *curve_keypair;      //  publish: the publisher's zcert secret file
    int batch_size;             //  publish: events per batch (<= 1000)
    int window;                 //  publish: batches in flight
    int timeout_msec;           //  publish: re-send a batch without an ack after this
} ctl_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: oimctl [--url URL] [--key KEY] [--ingest-endpoint EP]\n"
        "              [--curve-server-key Z85 --curve-keypair SECRET_FILE] COMMAND ...\n"
        "\n"
        "  org create --kind startup|company|agency --name NAME [--json '{...}']\n"
        "  org get ORG_ID\n"
        "  org approve|suspend|delete ORG_ID\n"
        "  api-keys list ORG_ID              an organization's named API keys (never the secret)\n"
        "  api-keys create ORG_ID NAME       a new key, its secret printed once\n"
        "  api-keys delete ORG_ID KEY_ID     revoke one key (the others keep working)\n"
        "  staff-add --email E --name N      an agency person (agency key; the password is\n"
        "                                    OIM_STAFF_PASSWORD or one line on stdin)\n"
        "  members list ORG_ID               an organization's people\n"
        "  members remove ORG_ID USER_ID     remove a person (their sessions end at once)\n"
        "  invitations create ORG_ID EMAIL [--role owner|member]   invite by e-mail\n"
        "  demand create --title TITLE [--org ORG_ID] [--visibility V] [--json '{...}']\n"
        "  demand list [--org ORG_ID] [--status S] [--limit N] [--cursor C]\n"
        "  demand get DEMAND_ID\n"
        "  demand close DEMAND_ID\n"
        "  publisher create --source-system SYS --name NAME [--curve-public-key Z85]\n"
        "  publisher curve-key PUBLISHER_ID Z85   replace the publisher's ingest CURVE key\n"
        "  publish FILE.jsonl [--batch 100] [--window 4] [--timeout-ms 5000]\n"
        "                                    demand events (one JSON object a line; a line with\n"
        "                                    \"organization\" is an organisation event) over ZeroMQ;\n"
        "                                    CURVE with --curve-server-key and --curve-keypair\n"
        "  status                            the gateway's view of every daemon\n"
        "  curve-keygen DIR                  write gateway.cert and daemon.cert (+ _secret, mode\n"
        "                                    0600) into DIR when missing; print the public keys\n"
        "\n"
        "environment: OIM_URL (http://127.0.0.1:8080), OIM_API_KEY, OIM_INGEST_ENDPOINT\n"
        "(tcp://127.0.0.1:5570), OIM_CURVE_SERVER_KEY, OIM_CURVE_KEYPAIR. --json adds any\n"
        "other fields of the entity (SPEC §2).\n"
        "Exit codes: 0 ok, 1 refused or failed, 2 usage.\n"
        "\nEvery endpoint (oimctl COMMAND --help for its flags; --json prints the reply's\n"
        "JSON, the default when stdout is not a terminal; --text a text rendering):\n");
    oimctl_commands_usage (out);
}

//  ---------------------------------------------------------------------------------------
//  HTTP

//  Sends one request; prints the reply body (stdout on 2xx, stderr otherwise) as it came.
//  body may be NULL. Returns 0 on a 2xx reply, else 1. (oimctl_commands.c does the HTTP.)
static int
s_http (const ctl_t *ctl, const char *method, const char *path, json_t *body)
{
    oimctl_conf_t conf = { ctl->url, ctl->key, OIMCTL_OUTPUT_JSON };
    char *text = body? json_dumps (body, JSON_COMPACT): NULL;
    int rc = oimctl_request (&conf, method, path, text);
    free (text);
    return rc;
}

//  ---------------------------------------------------------------------------------------
//  Argument helpers

//  The value of "--name VALUE" in argv, or NULL.
static const char *
s_flag (int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp (argv [i], name) == 0)
            return argv [i + 1];
    return NULL;
}

//  The first argument that is neither a flag nor a flag's value, or NULL.
static const char *
s_positional (int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp (argv [i], "--", 2) == 0) {
            i++;
            continue;
        }
        return argv [i];
    }
    return NULL;
}

//  A JSON object from --json (or empty), with extra string fields set. NULL on bad JSON.
static json_t *
s_body (int argc, char **argv, const char *const *names, const char *const *fields)
{
    const char *extra = s_flag (argc, argv, "--json");
    json_error_t error;
    json_t *body = extra? json_loads (extra, 0, &error): json_object ();
    if (!json_is_object (body)) {
        fprintf (stderr, "oimctl: --json must be a JSON object\n");
        if (body)
            json_decref (body);
        return NULL;
    }
    for (int i = 0; names [i]; i++) {
        const char *value = s_flag (argc, argv, names [i]);
        if (value)
            json_object_set_new (body, fields [i], json_string (value));
    }
    return body;
}

static int
s_with_body (const ctl_t *ctl, const char *method, const char *path, json_t *body)
{
    if (!body)
        return 2;
    int rc = s_http (ctl, method, path, body);
    json_decref (body);
    return rc;
}

//  ---------------------------------------------------------------------------------------
//  Commands

static int
s_cmd_org (const ctl_t *ctl, int argc, char **argv)
{
    const char *verb = argc > 0? argv [0]: "";
    const char *id = s_positional (argc - 1, argv + 1);
    char path [256];
    if (strcmp (verb, "create") == 0) {
        static const char *const names [] = { "--kind", "--name", NULL };
        static const char *const fields [] = { "kind", "name", NULL };
        return s_with_body (ctl, "POST", "/v1/orgs", s_body (argc, argv, names, fields));
    }
    if (!id)
        return 2;
    if (strcmp (verb, "get") == 0 || strcmp (verb, "delete") == 0) {
        snprintf (path, sizeof path, "/v1/orgs/%s", id);
        return s_http (ctl, *verb == 'g'? "GET": "DELETE", path, NULL);
    }
    if (strcmp (verb, "approve") == 0 || strcmp (verb, "suspend") == 0) {
        snprintf (path, sizeof path, "/v1/orgs/%s/%s", id, verb);
        return s_http (ctl, "POST", path, NULL);
    }
    return 2;
}

static int
s_cmd_demand (const ctl_t *ctl, int argc, char **argv)
{
    const char *verb = argc > 0? argv [0]: "";
    const char *id = s_positional (argc - 1, argv + 1);
    char path [1024];
    if (strcmp (verb, "create") == 0) {
        static const char *const names [] = { "--title", "--org", "--visibility",
                                              "--description", "--closes-at", NULL };
        static const char *const fields [] = { "title", "org_id", "visibility",
                                               "description", "closes_at", NULL };
        return s_with_body (ctl, "POST", "/v1/demands", s_body (argc, argv, names, fields));
    }
    if (strcmp (verb, "list") == 0) {
        static const char *const names [] = { "--org", "--status", "--limit", "--cursor", NULL };
        static const char *const params [] = { "org_id", "status", "limit", "cursor", NULL };
        size_t used = (size_t) snprintf (path, sizeof path, "/v1/demands");
        for (int i = 0; names [i] && used < sizeof path; i++) {
            const char *value = s_flag (argc, argv, names [i]);
            if (!value)
                continue;
            char *escaped = curl_easy_escape (NULL, value, 0);
            used += (size_t) snprintf (path + used, sizeof path - used, "%c%s=%s",
                                       strchr (path, '?')? '&': '?', params [i], escaped);
            curl_free (escaped);
        }
        return s_http (ctl, "GET", path, NULL);
    }
    if (!id)
        return 2;
    if (strcmp (verb, "get") == 0) {
        snprintf (path, sizeof path, "/v1/demands/%s", id);
        return s_http (ctl, "GET", path, NULL);
    }
    if (strcmp (verb, "close") == 0) {
        snprintf (path, sizeof path, "/v1/demands/%s/close", id);
        return s_http (ctl, "POST", path, NULL);
    }
    return 2;
}

//  ---------------------------------------------------------------------------------------
//  publish: JSON lines -> IngestBatch frames over a DEALER socket

typedef struct {
    Oim__V1__IngestBatch batch;
    uint8_t *packed;
    size_t size;
    int64_t sent_ms;            //  0 = not in flight
    bool acked;
} outgoing_t;

typedef struct {
    outgoing_t *batches;
    size_t n_batches;
    size_t acked;
    size_t events;
    size_t counts [8];          //  by result status
    size_t resends;
} publish_t;

static const char *s_results [] = { "created", "updated", "closed", "deleted", "duplicate",
                                    "stale", "invalid", NULL };

//  The events of a JSON-lines file: a line holding "organization" is an organisation event
//  (IngestBatch.org_events, issue 17), any other a demand event.
typedef struct {
    Oim__V1__DemandEvent **demands;
    size_t n_demands, cap_demands;
    Oim__V1__OrganizationEvent **orgs;
    size_t n_orgs, cap_orgs;
} events_t;

//  Appends message to *list (growing it). Returns nothing: out of memory asserts.
static void
s_push (void ***list, size_t *n, size_t *cap, void *message)
{
    if (*n == *cap) {
        *cap = *cap? *cap * 2: 1024;
        *list = realloc (*list, *cap * sizeof **list);
        assert (*list);
    }
    (*list) [(*n)++] = message;
}

static void
s_events_free (events_t *events)
{
    for (size_t i = 0; i < events->n_demands; i++)
        protobuf_c_message_free_unpacked (&events->demands [i]->base, NULL);
    for (size_t i = 0; i < events->n_orgs; i++)
        protobuf_c_message_free_unpacked (&events->orgs [i]->base, NULL);
    free (events->demands);
    free (events->orgs);
}

//  Reads the events of a JSON-lines file. Returns the count, or -1 (message printed).
static long
s_read_events (const char *file, events_t *events)
{
    FILE *in = strcmp (file, "-")? fopen (file, "r"): stdin;
    if (!in) {
        fprintf (stderr, "oimctl: cannot open %s\n", file);
        return -1;
    }
    size_t count = 0, line_no = 0;
    char *line = malloc (MAX_LINE_BYTES);
    long rc = 0;
    while (rc == 0 && fgets (line, MAX_LINE_BYTES, in)) {
        line_no++;
        if (strspn (line, " \t\r\n") == strlen (line))
            continue;
        json_error_t jerr;
        oim_pbjson_error_t perr = { "", "" };
        json_t *json = json_loads (line, 0, &jerr);
        bool org = json_object_get (json, "organization") != NULL;
        ProtobufCMessage *event = json_is_object (json)
            ? oim_pbjson_decode (org? &oim__v1__organization_event__descriptor
                                    : &oim__v1__demand_event__descriptor, json, NULL, &perr)
            : NULL;
        if (json)
            json_decref (json);
        if (!event || count == MAX_EVENTS) {
            fprintf (stderr, "oimctl: %s:%zu: %s %s\n", file, line_no,
                     json? perr.field: "not JSON:", json? perr.message: jerr.text);
            rc = -1;
            if (event)
                protobuf_c_message_free_unpacked (event, NULL);
            break;
        }
        if (org)
            s_push ((void ***) &events->orgs, &events->n_orgs, &events->cap_orgs, event);
        else
            s_push ((void ***) &events->demands, &events->n_demands, &events->cap_demands, event);
        count++;
    }
    free (line);
    if (in != stdin)
        fclose (in);
    return rc? -1: (long) count;
}

//  Demand events in batches of ctl->batch_size, then organisation events the same way.
static void
s_make_batches (const ctl_t *ctl, publish_t *pub, const events_t *events)
{
    size_t size = (size_t) ctl->batch_size;
    size_t demand_batches = (events->n_demands + size - 1) / size;
    pub->n_batches = demand_batches + (events->n_orgs + size - 1) / size;
    pub->batches = calloc (pub->n_batches + 1, sizeof *pub->batches);
    pub->events = events->n_demands + events->n_orgs;
    int64_t stamp = oim_clock_wall_ms ();
    for (size_t b = 0; b < pub->n_batches; b++) {
        outgoing_t *out = &pub->batches [b];
        oim__v1__ingest_batch__init (&out->batch);
        char batch_id [64];
        snprintf (batch_id, sizeof batch_id, "oimctl-%lld-%zu", (long long) stamp, b);
        out->batch.batch_id = strdup (batch_id);
        out->batch.api_key = (char *) ctl->key;
        bool orgs = b >= demand_batches;
        size_t first = (orgs? b - demand_batches: b) * size;
        size_t total = orgs? events->n_orgs: events->n_demands;
        size_t n = total - first < size? total - first: size;
        if (orgs) {
            out->batch.org_events = events->orgs + first;
            out->batch.n_org_events = n;
        }
        else {
            out->batch.events = events->demands + first;
            out->batch.n_events = n;
        }
        out->packed = malloc (protobuf_c_message_get_packed_size (&out->batch.base));
        out->size = protobuf_c_message_pack (&out->batch.base, out->packed);
    }
}

//  Counts one result (and prints an invalid one's reason).
static void
s_count_result (publish_t *pub, const Oim__V1__IngestResult *result)
{
    for (int s = 0; s_results [s]; s++)
        if (strcmp (result->status, s_results [s]) == 0)
            pub->counts [s]++;
    if (strcmp (result->status, "invalid") == 0)
        fprintf (stderr, "\ninvalid: %s: %s\n", result->external_id, result->reason);
}

//  Handles one ack. Returns -1 when the batch was refused for good (401/403/413/400).
static int
s_on_ack (publish_t *pub, const uint8_t *data, size_t size)
{
    Oim__V1__IngestAck *ack = oim__v1__ingest_ack__unpack (NULL, size, data);
    if (!ack)
        return 0;
    int rc = 0;
    for (size_t b = 0; b < pub->n_batches; b++) {
        outgoing_t *out = &pub->batches [b];
        if (strcmp (out->batch.batch_id, ack->batch_id) || out->acked)
            continue;
        if (ack->status == 200) {
            out->acked = true;
            pub->acked++;
            for (size_t i = 0; i < ack->n_results; i++)
                s_count_result (pub, ack->results [i]);
            for (size_t i = 0; i < ack->n_org_results; i++)
                s_count_result (pub, ack->org_results [i]);
        }
        else
        if (ack->status == 503 || ack->status == 504)
            out->sent_ms = 0;           //  send again
        else {
            fprintf (stderr, "\noimctl: batch %s refused: %u %s\n", ack->batch_id,
                     ack->status, ack->error);
            rc = -1;
        }
        break;
    }
    oim__v1__ingest_ack__free_unpacked (ack, NULL);
    return rc;
}

static void
s_progress (const publish_t *pub)
{
    fprintf (stderr, "\rpublish: %zu/%zu batches acked (%zu events): created %zu, updated %zu, "
             "closed %zu, deleted %zu, duplicate %zu, stale %zu, invalid %zu, resent %zu  ",
             pub->acked, pub->n_batches, pub->events, pub->counts [0], pub->counts [1],
             pub->counts [2], pub->counts [3], pub->counts [4], pub->counts [5],
             pub->counts [6], pub->resends);
}

//  Makes dealer a CURVE client when the keys are configured. Returns 0, or -1 (printed).
static int
s_curve_client (const ctl_t *ctl, zsock_t *dealer)
{
    if (!ctl->curve_server_key && !ctl->curve_keypair)
        return 0;
    uint8_t server [32];
    if (!ctl->curve_server_key || strlen (ctl->curve_server_key) != 40
    ||  !zmq_z85_decode (server, ctl->curve_server_key)) {
        fprintf (stderr, "oimctl: --curve-server-key must be the gateway's public key (Z85, "
                 "40 characters)\n");
        return -1;
    }
    zcert_t *cert = ctl->curve_keypair? zcert_load (ctl->curve_keypair): NULL;
    if (!cert || streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
        fprintf (stderr, "oimctl: --curve-keypair must name a zcert secret file (%s)\n",
                 ctl->curve_keypair? ctl->curve_keypair: "none given");
        zcert_destroy (&cert);
        return -1;
    }
    zcert_apply (cert, dealer);
    zsock_set_curve_serverkey (dealer, ctl->curve_server_key);
    zcert_destroy (&cert);
    return 0;
}

//  Sends every batch, window at a time, until all are acked. Returns 0 or 1.
static int
s_stream (const ctl_t *ctl, publish_t *pub)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    zsock_set_rcvtimeo (dealer, 100);
    if (s_curve_client (ctl, dealer)) {
        zsock_destroy (&dealer);
        return 1;
    }
    if (zsock_connect (dealer, "%s", ctl->ingest)) {
        fprintf (stderr, "oimctl: cannot connect to %s\n", ctl->ingest);
        zsock_destroy (&dealer);
        return 1;
    }
    int rc = 0;
    int64_t last_progress = 0;
    while (rc == 0 && pub->acked < pub->n_batches) {
        int64_t now = oim_clock_mono_ms ();
        int in_flight = 0;
        for (size_t b = 0; b < pub->n_batches; b++) {
            outgoing_t *out = &pub->batches [b];
            if (out->acked)
                continue;
            if (out->sent_ms && now - out->sent_ms > ctl->timeout_msec) {
                out->sent_ms = 0;           //  no ack in time: send again
                pub->resends++;
            }
            if (!out->sent_ms && in_flight < ctl->window) {
                zframe_t *frame = zframe_new (out->packed, out->size);
                if (zframe_send (&frame, dealer, ZFRAME_DONTWAIT) == 0)
                    out->sent_ms = now;
                zframe_destroy (&frame);
            }
            in_flight += out->sent_ms != 0;
        }
        zframe_t *reply = zframe_recv (dealer);
        if (reply)
            rc = s_on_ack (pub, zframe_data (reply), zframe_size (reply));
        zframe_destroy (&reply);
        if (zsys_interrupted)
            rc = -1;
        if (now - last_progress > 200 || pub->acked == pub->n_batches) {
            s_progress (pub);
            last_progress = now;
        }
    }
    fprintf (stderr, "\n");
    zsock_destroy (&dealer);
    return rc? 1: 0;
}

static int
s_cmd_publish (const ctl_t *ctl, int argc, char **argv)
{
    const char *file = s_positional (argc, argv);
    if (!file)
        return 2;
    if (!ctl->key || !*ctl->key) {
        fprintf (stderr, "oimctl: publish needs an API key (OIM_API_KEY or --key)\n");
        return 2;
    }
    events_t events = { 0 };
    long count = s_read_events (file, &events);
    if (count < 0) {
        s_events_free (&events);
        return 1;
    }
    publish_t pub = { 0 };
    s_make_batches (ctl, &pub, &events);
    int rc = s_stream (ctl, &pub);
    for (size_t b = 0; b < pub.n_batches; b++) {
        free (pub.batches [b].batch.batch_id);
        free (pub.batches [b].packed);
    }
    free (pub.batches);
    s_events_free (&events);
    return rc;
}

//  staff-add: the password from OIM_STAFF_PASSWORD or the first line of stdin (never argv,
//  which other users see in ps). Returns the body or NULL (usage).
static json_t *
s_staff_body (int argc, char **argv)
{
    const char *email = s_flag (argc, argv, "--email"), *name = s_flag (argc, argv, "--name");
    const char *given = getenv ("OIM_STAFF_PASSWORD");
    char line [1100] = "";
    if ((!given || !*given) && fgets (line, sizeof line, stdin))
        line [strcspn (line, "\r\n")] = 0;
    const char *password = given && *given? given: line;
    if (!email || !name || !*password)
        return NULL;
    return json_pack ("{s:s,s:s,s:s}", "email", email, "name", name, "password", password);
}

//  api-keys, members, invitations, staff-add (issue 16). Returns the exit code.
static int
s_cmd_people (const ctl_t *ctl, int argc, char **argv)
{
    const char *command = argv [0], *verb = argc > 1? argv [1]: "";
    char path [512];
    snprintf (path, sizeof path, "/v1/orgs/%s/%s", argc > 2? argv [2]: "", command);
    if (strcmp (command, "staff-add") == 0) {
        json_t *body = s_staff_body (argc, argv);
        return body? s_with_body (ctl, "POST", "/v1/agency/staff", body): 2;
    }
    if (argc == 3 && strcmp (verb, "list") == 0 && strcmp (command, "invitations"))
        return s_http (ctl, "GET", path, NULL);
    if (argc == 4 && strcmp (verb, "create") == 0 && strcmp (command, "api-keys") == 0)
        return s_with_body (ctl, "POST", path, json_pack ("{s:s}", "name", argv [3]));
    if (argc >= 4 && strcmp (verb, "create") == 0 && strcmp (command, "invitations") == 0) {
        const char *role = s_flag (argc, argv, "--role");
        return s_with_body (ctl, "POST", path, json_pack ("{s:s,s:s}", "email", argv [3],
                                                          "role", role? role: "member"));
    }
    if (argc == 4 && (strcmp (verb, "delete") == 0 || strcmp (verb, "remove") == 0)
    &&  strcmp (command, "invitations")) {
        size_t used = strlen (path);
        snprintf (path + used, sizeof path - used, "/%s", argv [3]);
        return s_http (ctl, "DELETE", path, NULL);
    }
    return 2;
}

static int
s_dispatch (const ctl_t *ctl, int argc, char **argv)
{
    const char *command = argv [0];
    char path [256];
    oimctl_conf_t conf = { ctl->url, ctl->key, OIMCTL_OUTPUT_AUTO };
    int rc = oimctl_commands_run (&conf, argc, argv);      //  the table (oimctl_commands.c)
    if (rc != OIMCTL_UNKNOWN)
        return rc;
    if (strcmp (command, "org") == 0)
        return s_cmd_org (ctl, argc - 1, argv + 1);
    if (strcmp (command, "demand") == 0)
        return s_cmd_demand (ctl, argc - 1, argv + 1);
    if (strcmp (command, "publish") == 0)
        return s_cmd_publish (ctl, argc - 1, argv + 1);
    if (strcmp (command, "status") == 0)
        return s_http (ctl, "GET", "/v1/status", NULL);
    if (strcmp (command, "curve-keygen") == 0 && argc == 2)
        return oim_curve_keygen (argv [1], stdout, stderr)? 1: 0;
    if (strcmp (command, "api-keys") == 0 || strcmp (command, "members") == 0
    ||  strcmp (command, "invitations") == 0 || strcmp (command, "staff-add") == 0)
        return s_cmd_people (ctl, argc, argv);
    if (strcmp (command, "publisher") == 0 && argc > 1 && strcmp (argv [1], "create") == 0) {
        static const char *const names [] = { "--source-system", "--name", "--curve-public-key",
                                              NULL };
        static const char *const fields [] = { "source_system", "name", "curve_public_key", NULL };
        return s_with_body (ctl, "POST", "/v1/publishers", s_body (argc, argv, names, fields));
    }
    if (strcmp (command, "publisher") == 0 && argc == 4 && strcmp (argv [1], "curve-key") == 0) {
        snprintf (path, sizeof path, "/v1/publishers/%s/curve-key", argv [2]);
        return s_with_body (ctl, "PUT", path, json_pack ("{s:s}", "curve_public_key", argv [3]));
    }
    return 2;
}

//  Takes the global options off the front of argv. Returns the index of the command.
static int
s_options (ctl_t *ctl, int argc, char **argv)
{
    int i = 1;
    for (; i < argc && strncmp (argv [i], "--", 2) == 0; i += 2) {
        if (strcmp (argv [i], "--help") == 0)
            return -1;
        if (i + 1 >= argc)
            return 0;
        if (strcmp (argv [i], "--url") == 0)
            ctl->url = argv [i + 1];
        else
        if (strcmp (argv [i], "--key") == 0)
            ctl->key = argv [i + 1];
        else
        if (strcmp (argv [i], "--ingest-endpoint") == 0)
            ctl->ingest = argv [i + 1];
        else
        if (strcmp (argv [i], "--curve-server-key") == 0)
            ctl->curve_server_key = argv [i + 1];
        else
        if (strcmp (argv [i], "--curve-keypair") == 0)
            ctl->curve_keypair = argv [i + 1];
        else
            return 0;
    }
    return i < argc? i: 0;
}

int
main (int argc, char **argv)
{
    const char *url = getenv ("OIM_URL"), *ingest = getenv ("OIM_INGEST_ENDPOINT");
    const char *server_key = getenv ("OIM_CURVE_SERVER_KEY"), *keypair = getenv ("OIM_CURVE_KEYPAIR");
    ctl_t ctl = { .url = url && *url? url: "http://127.0.0.1:8080", .key = getenv ("OIM_API_KEY"),
                  .ingest = ingest && *ingest? ingest: "tcp://127.0.0.1:5570",
                  .curve_server_key = server_key && *server_key? server_key: NULL,
                  .curve_keypair = keypair && *keypair? keypair: NULL,
                  .batch_size = 100, .window = 4, .timeout_msec = 5000 };
    int first = s_options (&ctl, argc, argv);
    if (first < 0) {
        s_usage (stdout);
        return 0;
    }
    const char *batch = first? s_flag (argc - first, argv + first, "--batch"): NULL;
    const char *window = first? s_flag (argc - first, argv + first, "--window"): NULL;
    const char *timeout = first? s_flag (argc - first, argv + first, "--timeout-ms"): NULL;
    ctl.batch_size = batch? atoi (batch): ctl.batch_size;
    ctl.window = window? atoi (window): ctl.window;
    ctl.timeout_msec = timeout? atoi (timeout): ctl.timeout_msec;
    if (first == 0 || ctl.batch_size < 1 || ctl.batch_size > 1000 || ctl.window < 1
    ||  ctl.window > 64 || ctl.timeout_msec < 100) {
        s_usage (stderr);
        return 2;
    }
    curl_global_init (CURL_GLOBAL_DEFAULT);
    int rc = s_dispatch (&ctl, argc - first, argv + first);
    curl_global_cleanup ();
    if (rc == 2)
        s_usage (stderr);
    return rc == 3? 2: rc;          //  3: a table command printed its own usage
}
