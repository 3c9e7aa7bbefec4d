/*  gateway_http — see gateway_http.h. */
#include "gateway_http.h"
#include "gateway_auth.h"
#include "gateway_limit.h"
#include "gateway_link.h"
#include "gateway_openapi.h"
#include "gateway_routes.h"
#include "gateway_sse.h"
#include "gateway_session.h"
#include "gateway_static.h"
#include "oim_api.h"
#include "oim_wire.h"
#include "oim_clock.h"
#include "oim_id.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_utf8.h"
#include "api.pb-c.h"
#include "registry.pb-c.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <strings.h>

struct _gateway_http_t {
    struct MHD_Daemon *mhd;
    gateway_pool_t *pool;
    gateway_limit_t *limit;         //  requests, per API key id or client address
    gateway_limit_t *auth_limit;    //  failed authentications, per client address
    gateway_limit_t *signup_limit;  //  anonymous POST /v1/orgs, per client address
    gateway_sse_t *sse;
    oim_metrics_t *metrics;
    int request_timeout_msec;
    char required [256];
    char redis_url [1024];
    int redis_timeout_msec;
    int port;
    char web_root [1024];           //  the web app's files (gateway_static.h)
    oim_metric_t *m_latency;
    oim_metric_t *m_bad_requests;
    oim_metric_t *_Atomic m_by_status [600];   //  oim_http_requests_total{code}, on first use
};

//  One HTTP request while it is being received. Route, key and limits are settled on the
//  first call of the access handler, before a byte of the body is read.
typedef struct {
    char *body;
    size_t size;
    size_t capacity;
    bool too_large;
    unsigned long long announced;   //  Content-Length
    int64_t started_us;
    char request_id [OIM_ID_SIZE + 32];
    const gateway_route_t *route;   //  NULL: no route (404/405)
    gateway_params_t params;
    bool path_known;
    char allow [64];
    gateway_auth_t auth;
    bool anonymous;                 //  the key (if any) is not in standing for this route
    char method [16];
    char client_address [INET6_ADDRSTRLEN + 8];     //  for the registry's sign-in throttle
} request_t;

//  What a handler produces: status, body (owned), content type, extra headers (borrowed
//  from an ApiReply, or NULL).
typedef struct {
    unsigned status;
    char *body;
    size_t size;
    const char *content_type;
    char allow [64];
    Oim__V1__ApiReply *api;
    struct MHD_Response *stream;    //  a streaming response (SSE) instead of body
    int retry_after;                //  429: seconds
    bool web;                       //  a file of the web app: its security headers
} response_t;

static const char *
s_error_code (unsigned status)
{
    switch (status) {
        case 400: return "invalid";
        case 401: return "unauthorized";
        case 403: return "forbidden";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 409: return "conflict";
        case 413: return "too_large";
        case 422: return "unprocessable";
        case 429: return "rate_limited";
        case 501: return "not_implemented";
        case 503: return "unavailable";
        case 504: return "timeout";
        default: return "internal";
    }
}

static void
s_json (response_t *response, unsigned status, json_t *body)
{
    response->status = status;
    response->body = oim_api_dump (body);
    response->size = strlen (response->body);
    response->content_type = "application/json; charset=utf-8";
    json_decref (body);
}

//  An error with its own code (the registry's, when the gateway answers in its stead).
static void
s_error_as (response_t *response, unsigned status, const char *code, const char *field,
            const char *message)
{
    json_t *error = json_pack ("{s:s,s:s}", "code", code, "message", message);
    if (field)
        json_object_set_new (error, "field", json_string (field));
    s_json (response, status, json_pack ("{s:o}", "error", error));
}

static void
s_error (response_t *response, unsigned status, const char *field, const char *message)
{
    s_error_as (response, status, s_error_code (status), field, message);
}

//  ---------------------------------------------------------------------------------------
//  Who is asking (gateway_auth.h settles the key once per request, in s_admit)

//  The principal the daemons see: the key's, or anonymous when the request has no key in
//  standing. The strings are borrowed from request.
static void
s_principal (request_t *request, Oim__V1__Principal *principal)
{
    oim__v1__principal__init (principal);
    principal->role = OIM__V1__ROLE__ROLE_ANONYMOUS;
    principal->org_id = principal->source_system = principal->key_id = "";
    if (request->anonymous)
        return;
    principal->role = request->auth.role;
    principal->org_id = request->auth.org_id;
    principal->source_system = request->auth.source_system;
    principal->key_id = request->auth.key_id;
    principal->user_id = request->auth.user_id;
    principal->user_role = request->auth.user_role;
    principal->session_id = request->auth.session_id;
}

//  Turns a daemon's answer into the HTTP response.
static void
s_from_daemon (const char *service, uint32_t status, uint8_t *body, size_t size, response_t *response)
{
    //  A daemon's own 5xx carries an ApiReply (a 503 replication_timeout, say); the broker's
    //  503 / 504 come without a body.
    Oim__V1__ApiReply *reply = status <= 500 || size > 0
        ? oim__v1__api_reply__unpack (NULL, size, body): NULL;
    if (reply && (reply->body.len || reply->status == 204)) {
        //  By length: the body is bytes, a NUL inside it is data.
        response->status = reply->status;
        response->body = malloc (reply->body.len + 1);
        if (reply->body.len)        //  a 204 has no body (and a NULL data: memcpy's UB)
            memcpy (response->body, reply->body.data, reply->body.len);
        response->size = reply->body.len;
        response->content_type = "application/json; charset=utf-8";
        for (size_t i = 0; i < reply->n_headers; i++)      //  a text reply (oim_api_text)
            if (strcasecmp (reply->headers [i]->key, "Content-Type") == 0)
                response->content_type = reply->headers [i]->value;
        response->api = reply;
        return;
    }
    if (reply)
        oim__v1__api_reply__free_unpacked (reply, NULL);
    char message [160];
    snprintf (message, sizeof message,
              status == 503? "the %s service has no live worker":
              status == 504? "the %s service did not answer in time":
              status == 501 || status == 404? "the %s service does not offer this operation yet":
              "the %s service failed", service);
    s_error (response, status == 404? 501: status, NULL, message);
}

//  ---------------------------------------------------------------------------------------
//  The gateway's own endpoints

//  Asks the broker for its live workers. Returns the list (caller frees) or NULL.
static Oim__V1__WorkerList *
s_workers (gateway_http_t *self, gateway_link_t *link, const char *request_id)
{
    gateway_call_t call = { .service = "broker", .method = "broker.workers",
                            .request_id = request_id, .timeout_msec = 1000 };
    uint8_t *body;
    size_t size;
    uint32_t status = gateway_link_call (link, &call, &body, &size);
    Oim__V1__WorkerList *list = status == 200
        ? oim__v1__worker_list__unpack (NULL, size, body): NULL;
    free (body);
    (void) self;
    return list;
}

static void
s_readyz (gateway_http_t *self, gateway_link_t *link, const char *request_id, response_t *response)
{
    json_t *checks = json_object ();
    bool ready = oim_redis_ping (link->redis, NULL);
    json_object_set_new (checks, "redis", json_string (ready? "ok": oim_redis_error (link->redis)));
    Oim__V1__WorkerList *list = s_workers (self, link, request_id);
    char required [256];
    snprintf (required, sizeof required, "%s", self->required);
    char *save = NULL;
    for (char *name = strtok_r (required, ",", &save); name; name = strtok_r (NULL, ",", &save)) {
        int live = 0;
        for (size_t i = 0; list && i < list->n_workers; i++)
            live += strcmp (list->workers [i]->service, name) == 0;
        json_object_set_new (checks, name, json_string (live? "ok": "no live worker"));
        ready = ready && live > 0;
    }
    if (list)
        oim__v1__worker_list__free_unpacked (list, NULL);
    s_json (response, ready? 200: 503,
            json_pack ("{s:s,s:o}", "status", ready? "ready": "not ready", "checks", checks));
}

//  Sends one request to every live worker; statuses/replies as gateway_link_call_all.
static void
s_fan_out (gateway_http_t *self, gateway_link_t *link, Oim__V1__WorkerList *list,
           const char *method, const char *request_id, uint32_t *statuses, uint8_t **replies,
           size_t *sizes)
{
    gateway_call_t *calls = calloc (list->n_workers + 1, sizeof *calls);
    for (size_t i = 0; i < list->n_workers; i++) {
        calls [i].service = list->workers [i]->service;
        calls [i].method = method;
        calls [i].target = list->workers [i]->identity.data;
        calls [i].target_size = list->workers [i]->identity.len;
        calls [i].request_id = request_id;
        calls [i].timeout_msec = self->request_timeout_msec;
    }
    gateway_link_call_all (link, calls, list->n_workers, statuses, replies, sizes);
    free (calls);
}

static json_t *
s_status_entry (Oim__V1__WorkerInfo *worker, uint32_t status, uint8_t *body, size_t size)
{
    Oim__V1__StatusReply *reply = status == 200? oim__v1__status_reply__unpack (NULL, size, body): NULL;
    json_t *entry;
    if (reply) {
        entry = oim_pbjson_encode (&reply->base, 0);
        oim__v1__status_reply__free_unpacked (reply, NULL);
    }
    else
        entry = json_pack ("{s:s,s:s,s:i}", "service", worker->service,
                           "instance", worker->instance, "error_status", (int) status);
    return entry;
}

//  GET /v1/status/{service}: one replica of one service, chosen by the broker as for any
//  request (HTTP -> broker -> daemon -> Redis PING -> back): the cheapest full round trip.
//  True when service is a daemon the route table sends requests to.
static bool
s_known_service (const char *service)
{
    for (const gateway_route_t *r = gateway_routes_table (); r->method; r++)
        if (strcmp (r->service, service) == 0 && strcmp (service, "gateway") != 0)
            return true;
    return false;
}

static void
s_status_one (gateway_http_t *self, gateway_link_t *link, const char *service,
              const char *request_id, response_t *response)
{
    if (!s_known_service (service)) {           //  404, not the broker's 503 (no workers)
        s_error (response, 404, "service", "no such service");
        return;
    }
    gateway_call_t call = { .service = service, .method = "oim.status", .request_id = request_id,
                            .timeout_msec = self->request_timeout_msec };
    uint8_t *body;
    size_t size;
    uint32_t status = gateway_link_call (link, &call, &body, &size);
    Oim__V1__WorkerInfo worker = OIM__V1__WORKER_INFO__INIT;
    worker.service = (char *) service;
    if (status == 200)
        s_json (response, 200, s_status_entry (&worker, status, body, size));
    else
        s_from_daemon (service, status, NULL, 0, response);
    free (body);
}

static void
s_status (gateway_http_t *self, gateway_link_t *link, const char *request_id, response_t *response)
{
    Oim__V1__WorkerList *list = s_workers (self, link, request_id);
    if (!list) {
        s_error (response, 503, NULL, "the broker did not answer");
        return;
    }
    size_t n = list->n_workers;
    uint32_t *statuses = calloc (n + 1, sizeof *statuses);
    uint8_t **replies = calloc (n + 1, sizeof *replies);
    size_t *sizes = calloc (n + 1, sizeof *sizes);
    s_fan_out (self, link, list, "oim.status", request_id, statuses, replies, sizes);
    json_t *services = json_array ();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new (services, s_status_entry (list->workers [i], statuses [i],
                                                         replies [i], sizes [i]));
        free (replies [i]);
    }
    bool redis_ok = oim_redis_ping (link->redis, NULL);
    json_t *gateway = json_pack ("{s:s,s:s,s:b}", "service", "gateway", "version", OIM_VERSION,
                                 "redis_ok", redis_ok);
    s_json (response, 200, json_pack ("{s:o,s:o}", "gateway", gateway, "services", services));
    free (statuses);
    free (replies);
    free (sizes);
    oim__v1__worker_list__free_unpacked (list, NULL);
}

//  Appends one exposition text to the families being merged: Prometheus wants every sample
//  of a family in one group, under one HELP and TYPE, while each daemon sends its own.
static void
s_merge_metrics (zhashx_t *families, zlistx_t *order, const char *text, size_t size)
{
    char *copy = strndup (text, size);
    char *save = NULL;
    zlistx_t *current = NULL;
    for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        char name [128];
        if (sscanf (line, "# HELP %127s", name) == 1 || sscanf (line, "# TYPE %127s", name) == 1) {
            current = zhashx_lookup (families, name);
            if (!current) {
                current = zlistx_new ();
                zlistx_set_destructor (current, (zlistx_destructor_fn *) zstr_free);
                zlistx_set_comparator (current, (zlistx_comparator_fn *) strcmp);
                zhashx_insert (families, name, current);
                zlistx_add_end (order, strdup (name));
            }
            if (zlistx_find (current, line))
                continue;       //  HELP/TYPE already there from another daemon
        }
        if (current)
            zlistx_add_end (current, strdup (line));
    }
    free (copy);
}

static void
s_metrics (gateway_http_t *self, gateway_link_t *link, const char *request_id, response_t *response)
{
    zhashx_t *families = zhashx_new ();
    zhashx_set_destructor (families, (zhashx_destructor_fn *) zlistx_destroy);
    zlistx_t *order = zlistx_new ();
    zlistx_set_destructor (order, (zlistx_destructor_fn *) zstr_free);
    char *own = oim_metrics_render (self->metrics);
    s_merge_metrics (families, order, own, strlen (own));
    free (own);
    Oim__V1__WorkerList *list = s_workers (self, link, request_id);
    size_t n = list? list->n_workers: 0;
    uint32_t *statuses = calloc (n + 1, sizeof *statuses);
    uint8_t **replies = calloc (n + 1, sizeof *replies);
    size_t *sizes = calloc (n + 1, sizeof *sizes);
    if (list)
        s_fan_out (self, link, list, "oim.metrics", request_id, statuses, replies, sizes);
    for (size_t i = 0; i < n; i++) {
        if (statuses [i] == 200 && replies [i])
            s_merge_metrics (families, order, (char *) replies [i], sizes [i]);
        free (replies [i]);
    }
    char *text = NULL;
    size_t text_size = 0;
    FILE *out = open_memstream (&text, &text_size);
    for (char *name = zlistx_first (order); name; name = zlistx_next (order)) {
        zlistx_t *lines = zhashx_lookup (families, name);
        for (char *line = zlistx_first (lines); line; line = zlistx_next (lines))
            fprintf (out, "%s\n", line);
    }
    fclose (out);
    response->status = 200;
    response->body = text;
    response->size = text_size;
    response->content_type = "text/plain; version=0.0.4; charset=utf-8";
    free (statuses);
    free (replies);
    free (sizes);
    if (list)
        oim__v1__worker_list__free_unpacked (list, NULL);
    zlistx_destroy (&order);
    zhashx_destroy (&families);
}

//  ---------------------------------------------------------------------------------------
//  Forwarding an API request to its daemon

typedef struct {
    Oim__V1__ApiRequest__QueryEntry **entries;
    size_t count;
    size_t capacity;
} query_t;

static enum MHD_Result
s_collect_query (void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    query_t *query = arg;
    if (query->count == query->capacity) {
        query->capacity = query->capacity? query->capacity * 2: 8;
        query->entries = realloc (query->entries, query->capacity * sizeof *query->entries);
    }
    Oim__V1__ApiRequest__QueryEntry *entry = malloc (sizeof *entry);
    oim__v1__api_request__query_entry__init (entry);
    entry->key = strdup (key);
    entry->value = strdup (value? value: "");
    query->entries [query->count++] = entry;
    return MHD_YES;
}

//  Checks the query string: every key and value valid UTF-8. Returns the first bad key or NULL.
static const char *
s_bad_query (query_t *query)
{
    for (size_t i = 0; i < query->count; i++)
        if (!oim_utf8_valid (query->entries [i]->key, strlen (query->entries [i]->key))
        ||  !oim_utf8_valid (query->entries [i]->value, strlen (query->entries [i]->value)))
            return query->entries [i]->key;
    return NULL;
}

static void
s_fill_params (Oim__V1__ApiRequest *api, const gateway_params_t *params)
{
    api->n_params = params->count;
    api->params = calloc (params->count + 1, sizeof *api->params);
    for (int i = 0; i < params->count; i++) {
        Oim__V1__ApiRequest__ParamsEntry *entry = malloc (sizeof *entry);
        oim__v1__api_request__params_entry__init (entry);
        entry->key = strdup (params->names [i]);
        entry->value = strdup (params->values [i]);
        api->params [i] = entry;
    }
}

static char *
s_header_copy (struct MHD_Connection *connection, const char *name)
{
    const char *value = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, name);
    if (!value)
        return strdup ("");
    size_t len = strlen (value);
    if (len >= 2 && value [0] == '"' && value [len - 1] == '"')     //  If-Match: "3"
        return strndup (value + 1, len - 2);
    return strdup (value);
}

static void
s_forward (gateway_http_t *self, gateway_link_t *link, struct MHD_Connection *connection,
           const gateway_route_t *route, const gateway_params_t *params, const char *method,
           const char *url, request_t *request, const char *request_id, response_t *response)
{
    Oim__V1__ApiRequest api = OIM__V1__API_REQUEST__INIT;
    Oim__V1__Principal principal;
    s_principal (request, &principal);
    query_t query = { 0 };
    MHD_get_connection_values (connection, MHD_GET_ARGUMENT_KIND, s_collect_query, &query);
    const char *bad_key = s_bad_query (&query);
    if (bad_key)
        s_error (response, 400, bad_key, "query parameter is not valid UTF-8");
    else {
        api.http_method = (char *) method;
        api.path = (char *) url;
        s_fill_params (&api, params);
        api.query = query.entries;
        api.n_query = query.count;
        api.principal = &principal;
        api.body.data = (uint8_t *) request->body;
        api.body.len = request->size;
        api.if_match = s_header_copy (connection, "If-Match");
        api.last_event_id = s_header_copy (connection, "Last-Event-ID");
        api.request_id = (char *) request_id;
        api.client_address = request->client_address;
        const char *proto = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                         "X-Forwarded-Proto");
        api.forwarded_https = proto && strcasecmp (proto, "https") == 0;
        size_t size;
        uint8_t *packed = oim_wire_pack (&api.base, &size);
        gateway_call_t call = { .service = route->service, .method = route->operation,
                                .body = packed, .body_size = size, .request_id = request_id,
                                .timeout_msec = self->request_timeout_msec,
                                .idempotent = strcmp (method, "GET") == 0 };
        uint8_t *reply;
        size_t reply_size;
        uint32_t status = gateway_link_call (link, &call, &reply, &reply_size);
        s_from_daemon (route->service, status, reply, reply_size, response);
        free (reply);
        free (packed);
        for (size_t i = 0; i < api.n_params; i++)
            protobuf_c_message_free_unpacked (&api.params [i]->base, NULL);
        free (api.params);
        free (api.if_match);
        free (api.last_event_id);
    }
    for (size_t i = 0; i < query.count; i++)
        protobuf_c_message_free_unpacked (&query.entries [i]->base, NULL);
    free (query.entries);
}

//  GET / and GET /app/...: a file of the web app (name relative to the web root).
static void
s_static (gateway_http_t *self, const char *name, response_t *response)
{
    char *body;
    size_t size;
    const char *type;
    if (gateway_static_read (self->web_root, name, &body, &size, &type) != 200) {
        s_error (response, 404, NULL, "no such file of the web app");
        return;
    }
    response->status = 200;
    response->body = body;
    response->size = size;
    response->content_type = type;
    response->web = true;
}

//  GET /v1/whoami: who the API key belongs to (the console asks this first), and its
//  organisation's status (a pending organisation's key is answered here, anonymous elsewhere).
static void
s_whoami (request_t *request, response_t *response)
{
    const gateway_auth_t *auth = &request->auth;
    s_json (response, 200, json_pack ("{s:s,s:s,s:s,s:s,s:b}", "role", oim_api_role_name (auth->role),
                                      "org_id", auth->org_id, "source_system", auth->source_system,
                                      "org_status", auth->org_status, "in_standing", auth->in_standing));
}

//  GET /v1/notifications/stream: an active organisation's key streams its feed
//  (gateway_sse.h), within the per-key and total caps.
static void
s_stream (gateway_http_t *self, struct MHD_Connection *connection, request_t *request,
          response_t *response)
{
    if (request->anonymous || !*request->auth.org_id) {
        s_error (response, 401, NULL, "an active organization's API key is required");
        return;
    }
    const char *last = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Last-Event-ID");
    if (!last)
        last = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "last_event_id");
    const union MHD_ConnectionInfo *fd = MHD_get_connection_info (connection,
                                                                  MHD_CONNECTION_INFO_CONNECTION_FD);
    unsigned status;
    //  A session's stream is tracked by its hash and the person (gateway_sse re-checks it).
    const gateway_auth_t *auth = &request->auth;
    response->stream = gateway_sse_open (self->sse, fd? fd->connect_fd: -1,
                                         auth->session? auth->session_id: auth->key_hash,
                                         auth->session? auth->user_id: auth->key_id,
                                         auth->org_id, last, &status);
    response->status = 200;
    if (!response->stream) {
        s_error (response, status, NULL, status == 429
                 ? "too many open notification streams for this API key"
                 : "cannot open another notification stream now");
        response->retry_after = 5;
    }
}

//  ---------------------------------------------------------------------------------------
//  The request cycle

//  Validates the body: UTF-8, then JSON. Returns true when acceptable (an empty body is).
static bool
s_body_ok (request_t *request, response_t *response)
{
    if (request->size == 0)
        return true;
    if (!oim_utf8_valid (request->body, request->size)) {
        s_error (response, 400, NULL, "the body is not valid UTF-8");
        return false;
    }
    json_error_t error;
    json_t *json = json_loadb (request->body, request->size, JSON_REJECT_DUPLICATES, &error);
    if (!json) {
        char message [256];
        snprintf (message, sizeof message, "malformed JSON at line %d column %d: %s",
                  error.line, error.column, error.text);
        s_error (response, 400, NULL, message);
        return false;
    }
    json_decref (json);
    return true;
}

//  The client's address as a bucket name ("a:<address>").
static void
s_address (struct MHD_Connection *connection, char *out, size_t size)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (connection,
                                                                    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host [INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *address = info? info->client_addr: NULL;
    if (address && address->sa_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *) address)->sin_addr, host, sizeof host);
    else
    if (address && address->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) address)->sin6_addr, host, sizeof host);
    snprintf (out, size, "a:%s", host);
}

//  Takes a token from limit for client. Returns true when there was one; otherwise a 429 is
//  in response.
static bool
s_take (gateway_limit_t *limit, const char *client, bool take, response_t *response)
{
    int retry_after = 1;
    if (take? gateway_limit_take (limit, client, &retry_after)
            : gateway_limit_check (limit, client, &retry_after))
        return true;
    s_error (response, 429, NULL, "too many requests: slow down and retry after the Retry-After seconds");
    response->retry_after = retry_after;
    return false;
}

static bool
s_operation_is (const gateway_route_t *route, const char *operation)
{
    return route && strcmp (route->operation, operation) == 0;
}

//  Without an Authorization header: the session cookie, if any (gateway_session.h). An
//  unknown or ended session is anonymous (a stale cookie must not lock a browser out of the
//  public pages and of signing in again). Returns true when the request may go on.
static bool
s_session (gateway_http_t *self, struct MHD_Connection *connection, request_t *request,
           response_t *response)
{
    const char *cookies = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Cookie");
    char token [128];
    if (!cookies || !gateway_session_cookie (cookies, GATEWAY_SESSION_COOKIE, token, sizeof token))
        return true;
    gateway_link_t *link = gateway_pool_get (self->pool);
    if (!link) {
        s_error (response, 503, NULL, "the gateway is busy: no link free, retry shortly");
        return false;
    }
    gateway_session_lookup (link->redis, token, oim_clock_wall_ms (), &request->auth);
    gateway_pool_put (self->pool, link);
    if (request->auth.result == GATEWAY_AUTH_UNAVAILABLE) {
        s_error (response, 503, NULL, "cannot check the session: Redis is unavailable");
        return false;
    }
    if (request->auth.result != GATEWAY_AUTH_OK)
        memset (&request->auth, 0, sizeof request->auth);
    return true;
}

//  Reads the key (the pool's Redis link). Failed attempts count in the stricter per-address
//  bucket, which is checked before the lookup so a spray of keys costs no Redis lookups once
//  throttled. Returns true when the request may go on; otherwise response is set.
static bool
s_authenticate (gateway_http_t *self, struct MHD_Connection *connection, const char *address,
                request_t *request, response_t *response)
{
    const char *header = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Authorization");
    if (!header || !*header)
        return s_session (self, connection, request, response);
    if (!s_take (self->auth_limit, address, false, response))
        return false;
    gateway_link_t *link = gateway_pool_get (self->pool);
    if (!link) {
        s_error (response, 503, NULL, "the gateway is busy: no link free, retry shortly");
        return false;
    }
    gateway_auth_header (link->redis, header, &request->auth);
    gateway_pool_put (self->pool, link);
    if (request->auth.result == GATEWAY_AUTH_OK)
        return true;
    if (request->auth.result == GATEWAY_AUTH_UNAVAILABLE)
        s_error (response, 503, NULL, "cannot check the API key: Redis is unavailable");
    else
    if (s_take (self->auth_limit, address, true, response))     //  else the 429 is there
        s_error (response, 401, NULL, "unknown API key");
    return false;
}

//  A key not in standing still reads whoami and its own organisation; elsewhere it is anonymous.
//  A session not in standing also reads and ends itself (the app shows "waiting for approval").
static bool
s_anonymous (const request_t *request)
{
    if (request->auth.result != GATEWAY_AUTH_OK)
        return true;
    if (request->auth.in_standing || s_operation_is (request->route, "whoami")
    ||  s_operation_is (request->route, "session.current")
    ||  s_operation_is (request->route, "session.delete"))
        return false;
    return !(s_operation_is (request->route, "org.get")
          && strcmp (request->params.values [0], request->auth.org_id) == 0);
}

//  Settles who is asking and whether they may, on the first call of the access handler,
//  before the body is read: the key (401/503), the rate limits (429), a required key (401).
//  Returns true when the request may go on; otherwise response holds the answer.
static bool
s_admit (gateway_http_t *self, struct MHD_Connection *connection, request_t *request,
         response_t *response)
{
    const gateway_route_t *route = request->route;
    if (s_operation_is (route, "healthz") || s_operation_is (route, "readyz")
    ||  s_operation_is (route, "metrics"))
        return true;            //  operational: never limited, no key
    char address [INET6_ADDRSTRLEN + 8];
    s_address (connection, address, sizeof address);
    snprintf (request->client_address, sizeof request->client_address, "%s", address + 2);
    if (!s_authenticate (self, connection, address, request, response))
        return false;
    if (request->auth.session
    &&  gateway_session_needs_csrf (request->method, request->route? request->route->operation: NULL)
    &&  !gateway_session_csrf_ok (&request->auth, MHD_lookup_connection_value (connection,
                                  MHD_HEADER_KIND, "X-CSRF-Token"))) {
        s_error_as (response, 403, "csrf", "X-CSRF-Token", "a signed-in request that changes "
                    "something needs the session's X-CSRF-Token header");
        return false;
    }
    request->anonymous = s_anonymous (request);
    char bucket [96];
    if (request->auth.session)
        snprintf (bucket, sizeof bucket, "s:%s", request->auth.user_id);
    else
    if (request->auth.result == GATEWAY_AUTH_OK)    //  the key, however its scheme was spelt
        snprintf (bucket, sizeof bucket, "k:%s", *request->auth.key_id? request->auth.key_id
                                                                     : request->auth.key_hash);
    else
        snprintf (bucket, sizeof bucket, "%s", address);
    if (!s_take (self->limit, bucket, true, response))
        return false;
    if (route && route->auth && request->anonymous) {
        //  A known key of an organisation not in standing: recognised, but not allowed.
        if (request->auth.result == GATEWAY_AUTH_OK)
            s_error_as (response, 403, "org_not_active", NULL, "your organization is not active");
        else
            s_error (response, 401, NULL, "an API key or a signed-in session is required");
        return false;
    }
    if (s_operation_is (route, "org.create") && request->anonymous)
        return s_take (self->signup_limit, address, true, response);
    return true;
}

static void
s_handle (gateway_http_t *self, struct MHD_Connection *connection, const char *method,
          const char *url, request_t *request, response_t *response)
{
    const gateway_route_t *route = request->route;
    if (!route) {
        snprintf (response->allow, sizeof response->allow, "%s", request->allow);
        if (request->path_known)
            s_error (response, 405, NULL, "method not allowed on this path");
        else
            s_error (response, 404, NULL, "no such endpoint");
        return;
    }
    if (request->too_large) {
        s_error (response, 413, NULL, "the body is larger than 1 MiB");
        return;
    }
    if (strcmp (route->operation, "healthz") == 0) {
        s_json (response, 200, json_pack ("{s:s}", "status", "ok"));
        return;
    }
    if (strcmp (route->operation, "console") == 0 || strcmp (route->operation, "static") == 0) {
        s_static (self, strcmp (route->operation, "console") == 0? "index.html": url + 5, response);
        return;
    }
    if (strcmp (route->operation, "whoami") == 0) {
        s_whoami (request, response);
        return;
    }
    if (strcmp (route->operation, "openapi") == 0) {
        s_json (response, 200, gateway_openapi_document ());
        return;
    }
    if (strcmp (route->operation, "notification.stream") == 0) {
        s_stream (self, connection, request, response);
        return;
    }
    if (!s_body_ok (request, response))
        return;
    gateway_link_t *link = gateway_pool_get (self->pool);
    if (!link) {
        s_error (response, 503, NULL, "the gateway is busy: no link to the broker free, retry shortly");
        return;
    }
    const char *request_id = request->request_id;
    if (strcmp (route->operation, "readyz") == 0)
        s_readyz (self, link, request_id, response);
    else
    if (strcmp (route->operation, "status") == 0)
        s_status (self, link, request_id, response);
    else
    if (strcmp (route->operation, "status_one") == 0)
        s_status_one (self, link, request->params.values [0], request_id, response);
    else
    if (strcmp (route->operation, "metrics") == 0)
        s_metrics (self, link, request_id, response);
    else
        s_forward (self, link, connection, route, &request->params, method, url, request,
                   request_id, response);
    gateway_pool_put (self->pool, link);
}

static enum MHD_Result
s_send (gateway_http_t *self, struct MHD_Connection *connection, response_t *response,
        const char *request_id)
{
    struct MHD_Response *reply = response->stream;
    if (!reply) {
        reply = MHD_create_response_from_buffer (response->size, response->body, MHD_RESPMEM_MUST_FREE);
        response->body = NULL;
        MHD_add_response_header (reply, "Content-Type", response->content_type);
    }
    if (response->web)
        gateway_static_headers (reply);
    MHD_add_response_header (reply, "X-Request-Id", request_id);
    if (*response->allow)
        MHD_add_response_header (reply, "Allow", response->allow);
    if (response->retry_after) {
        char seconds [16];
        snprintf (seconds, sizeof seconds, "%d", response->retry_after);
        MHD_add_response_header (reply, "Retry-After", seconds);
    }
    for (size_t i = 0; response->api && i < response->api->n_headers; i++)
        if (strcasecmp (response->api->headers [i]->key, "Content-Type"))   //  set above
            MHD_add_response_header (reply, response->api->headers [i]->key,
                                     response->api->headers [i]->value);
    enum MHD_Result rc = MHD_queue_response (connection, response->status, reply);
    MHD_destroy_response (reply);
    //  The registry's lookup takes a lock and a scan: do it once per status code. Two threads
    //  racing here get the same metric back from the registry, so either store is right.
    unsigned code = response->status < 600? response->status: 599;
    oim_metric_t *counter = atomic_load (&self->m_by_status [code]);
    if (!counter) {
        char labels [32];
        snprintf (labels, sizeof labels, "code=\"%u\"", code);
        counter = oim_metrics_counter (self->metrics, "oim_http_requests_total", labels,
                                       "HTTP requests by status");
        atomic_store (&self->m_by_status [code], counter);
    }
    oim_metric_add (counter, 1);
    if (response->status >= 400 && response->status < 500)
        oim_metric_add (self->m_bad_requests, 1);
    if (response->api)
        oim__v1__api_reply__free_unpacked (response->api, NULL);
    return rc;
}

//  The request id: the client's X-Request-Id when it is sane, else a new one.
static void
s_request_id (struct MHD_Connection *connection, char *out)
{
    const char *given = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "X-Request-Id");
    if (given && *given && strlen (given) < 64 && strspn (given,
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == strlen (given))
        strcpy (out, given);
    else
        oim_id_new ("req", out);
}

//  Receives the body into request; returns false when it is over the limit.
static void
s_receive (request_t *request, const char *data, size_t size)
{
    if (request->too_large || request->size + size > GATEWAY_MAX_BODY_BYTES) {
        request->too_large = true;
        return;
    }
    if (request->size + size + 1 > request->capacity) {
        request->capacity = (request->size + size + 1) * 2;
        if (request->capacity > GATEWAY_MAX_BODY_BYTES + 1)
            request->capacity = GATEWAY_MAX_BODY_BYTES + 1;
        request->body = realloc (request->body, request->capacity);
    }
    memcpy (request->body + request->size, data, size);
    request->size += size;
    request->body [request->size] = 0;
}

//  A new request on its first call: its id, route and announced size.
static request_t *
s_request_new (struct MHD_Connection *connection, const char *method, const char *url)
{
    request_t *request = calloc (1, sizeof *request);
    request->started_us = oim_clock_mono_us ();
    snprintf (request->method, sizeof request->method, "%s", method);
    s_request_id (connection, request->request_id);
    request->route = gateway_routes_match (method, url, &request->params, &request->path_known,
                                           request->allow, sizeof request->allow);
    const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
    request->announced = length? strtoull (length, NULL, 10): 0;
    request->too_large = request->announced > GATEWAY_MAX_BODY_BYTES;
    return request;
}

//  Logs, measures and queues the answer.
static enum MHD_Result
s_answer (gateway_http_t *self, struct MHD_Connection *connection, const char *method,
          const char *url, request_t *request, response_t *response)
{
    int64_t micros = oim_clock_mono_us () - request->started_us;
    oim_metric_observe_us (self->m_latency, micros);
    if (response->status >= 500)
        oim_warn ("event=http method=%s path=%s status=%u us=%lld", method, url, response->status,
                  (long long) micros);
    else
        oim_debug ("event=http method=%s path=%s status=%u us=%lld", method, url, response->status,
                   (long long) micros);
    return s_send (self, connection, response, request->request_id);
}

static enum MHD_Result
s_on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) version;
    gateway_http_t *self = cls;
    request_t *request = *con_cls;
    enum MHD_Result rc = MHD_YES;
    oim_log_set_request_id (request? request->request_id: NULL);
    if (!request) {
        *con_cls = request = s_request_new (connection, method, url);
        oim_log_set_request_id (request->request_id);
        response_t response = { 0 };
        //  Refused before a byte of the body is read. A body somewhat over the limit is read
        //  and dropped, so that the client can read our 413 (answering mid-upload makes most
        //  clients see a reset instead); a body far over it is refused at once.
        if (!s_admit (self, connection, request, &response))
            rc = s_answer (self, connection, method, url, request, &response);
        else
        if (request->announced > GATEWAY_DRAIN_BYTES) {
            s_handle (self, connection, method, url, request, &response);
            rc = s_answer (self, connection, method, url, request, &response);
        }
    }
    else
    if (*upload_data_size) {
        s_receive (request, upload_data, *upload_data_size);
        *upload_data_size = 0;
    }
    else {
        response_t response = { 0 };
        s_handle (self, connection, method, url, request, &response);
        rc = s_answer (self, connection, method, url, request, &response);
    }
    oim_log_set_request_id (NULL);
    return rc;
}

static void
s_on_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
                enum MHD_RequestTerminationCode code)
{
    (void) cls; (void) connection; (void) code;
    request_t *request = *con_cls;
    if (request) {
        free (request->body);
        free (request);
        *con_cls = NULL;
    }
}

gateway_http_t *
gateway_http_new (const gateway_http_args_t *args)
{
    gateway_http_t *self = zmalloc (sizeof *self);
    self->metrics = args->metrics;
    self->request_timeout_msec = args->request_timeout_msec;
    snprintf (self->required, sizeof self->required, "%s", args->required_services);
    snprintf (self->web_root, sizeof self->web_root, "%s", args->web_root? args->web_root: "");
    snprintf (self->redis_url, sizeof self->redis_url, "%s", args->redis_url);
    self->redis_timeout_msec = args->redis_timeout_msec;
    self->pool = gateway_pool_new (args->frontend, args->redis_url, args->redis_timeout_msec,
                                   args->max_links, args->link_wait_msec);
    self->limit = gateway_limit_new (args->rate_limit, args->rate_burst);
    self->auth_limit = gateway_limit_new (args->auth_fail_per_minute / 60.0, args->auth_fail_burst);
    self->signup_limit = gateway_limit_new (args->signup_per_hour / 3600.0, args->signup_per_hour);
    //  A quiet stream writes a comment well within the idle timeout, or the server closes it.
    int keepalive_msec = args->idle_timeout_s * 1000 / 2;
    gateway_sse_args_t sse_args = { .redis_url = args->redis_url,
        .redis_timeout_msec = args->redis_timeout_msec, .max_streams = args->max_streams,
        .max_streams_per_key = args->max_streams_per_key,
        .keepalive_msec = keepalive_msec > 0 && keepalive_msec < 15000? keepalive_msec: 15000 };
    self->sse = gateway_sse_new (&sse_args);
    self->m_latency = oim_metrics_histogram (self->metrics, "oim_http_request_seconds", NULL,
                                             "HTTP request latency at the gateway");
    self->m_bad_requests = oim_metrics_counter (self->metrics, "oim_http_client_errors_total", NULL,
                                                "HTTP requests answered with a 4xx status");
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) args->port) };
    if (inet_pton (AF_INET, args->address, &address.sin_addr) != 1) {
        oim_error ("event=bad_config option=http-address value=\"%s\"", args->address);
        gateway_http_destroy (&self);
        return NULL;
    }
    self->mhd = MHD_start_daemon (
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL
        | MHD_USE_ERROR_LOG,
        0, NULL, NULL, s_on_request, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) args->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) args->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) args->max_connections_per_address,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
        MHD_OPTION_END);
    if (!self->mhd) {
        oim_error ("event=http_bind_failed address=%s port=%d", args->address, args->port);
        gateway_http_destroy (&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->mhd, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info? info->port: args->port;
    return self;
}

void
gateway_http_destroy (gateway_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_http_t *self = *self_p;
    if (self->mhd)
        MHD_stop_daemon (self->mhd);
    gateway_sse_destroy (&self->sse);
    gateway_pool_destroy (&self->pool);
    gateway_limit_destroy (&self->limit);
    gateway_limit_destroy (&self->auth_limit);
    gateway_limit_destroy (&self->signup_limit);
    free (self);
    *self_p = NULL;
}

int
gateway_http_port (gateway_http_t *self)
{
    return self->port;
}
