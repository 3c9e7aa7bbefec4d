/*  oimctl_commands — the table of oimctl's HTTP commands (issue 17 item 7): one row per
    endpoint an agency operator or an integrator uses, and one executor for all of them, so
    that adding an endpoint is adding a row.

    A row: command words ("demand approve"), HTTP method, path with {1}, {2}... for the
    positional arguments, the fields its flags set (--closes-at sets closes_at), where they go
    (query string or JSON body) and a help line. Field types: "name" a string, "name:b" true or
    false, "name:i" an integer, "name:l" a comma-separated list. --body '{...}' (or, as before,
    --json '{...}') adds any other fields to a JSON body.
    Output: the reply's JSON when --json is given or stdout is not a terminal (scripts), else
    a text rendering (one "key: value" line per field; a list one line per item, its id first);
    CSV exports are written as they come. `oimctl COMMAND --help` prints the command's usage.
    Exit codes: 0 a 2xx reply, 1 refused or failed (the error on stderr), 2 usage.
*/
#include "oimctl_commands.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REPLY_BYTES (64 * 1024 * 1024)
#define MAX_POSITIONAL 3

typedef struct {
    const char *words;              //  "demand approve"
    const char *method;
    const char *path;               //  "/v1/demands/{1}/approve"
    const char *args;               //  positional arguments for the usage line
    const char *fields;             //  space-separated fields its flags set
    bool query;                     //  fields go into the query string (else the JSON body)
    const char *help;
} s_command_t;

static const s_command_t s_commands [] = {
    //  Organisations
    { "org create", "POST", "/v1/orgs", "", "kind name name_en description region "
      "industries:l tags:l stage website email business_number", false,
      "create an organisation (agency: active at once); the reply holds its api_key once" },
    { "org get", "GET", "/v1/orgs/{1}", "ORG_ID", "", true, "read an organisation" },
    { "org approve", "POST", "/v1/orgs/{1}/approve", "ORG_ID", "", false,
      "agency: approve a pending organisation" },
    { "org suspend", "POST", "/v1/orgs/{1}/suspend", "ORG_ID", "", false,
      "agency: suspend an organisation" },
    { "org delete", "DELETE", "/v1/orgs/{1}", "ORG_ID", "", true, "agency: delete (soft)" },
    { "org list-matches", "GET", "/v1/orgs/{1}/matches", "ORG_ID", "limit cursor", true,
      "an organisation's matches with explanations" },
    { "org update", "PATCH", "/v1/orgs/{1}", "ORG_ID", "name description region tags:l "
      "industries:l stage website email", false, "update a profile (--body for more fields)" },
    { "webhook set", "PUT", "/v1/orgs/{1}/webhook", "ORG_ID", "url events:l", false,
      "set the org's webhook endpoint; the reply holds its signing secret" },
    { "webhook get", "GET", "/v1/orgs/{1}/webhook", "ORG_ID", "", true, "the org's webhook" },
    { "preferences get", "GET", "/v1/orgs/{1}/preferences", "ORG_ID", "", true,
      "the org's notification preferences" },
    { "preferences set", "PUT", "/v1/orgs/{1}/preferences", "ORG_ID", "", false,
      "replace them: --body '{\"types\":[{\"type\":\"*\",\"channels\":[\"inbox\"]}]}'" },
    { "feed-key set", "PUT", "/v1/orgs/{1}/feed-key", "ORG_ID", "curve_public_key", false,
      "the org's ZeroMQ feed CURVE key" },
    { "feed-key delete", "DELETE", "/v1/orgs/{1}/feed-key", "ORG_ID", "", true,
      "remove the org's feed key" },
    //  Demands and the agency's workflow
    { "demand create", "POST", "/v1/demands", "", "title org_id@org description tags:l "
      "industries:l regions:l stages:l collaboration:l closes_at visibility", false,
      "post a demand (company; the agency names --org)" },
    { "demand list", "GET", "/v1/demands", "", "org_id@org status limit cursor", true,
      "list demands, newest first" },
    { "demand get", "GET", "/v1/demands/{1}", "DEMAND_ID", "", true, "read a demand" },
    { "demand close", "POST", "/v1/demands/{1}/close", "DEMAND_ID", "status", false,
      "close a demand (--status awarded to award it)" },
    { "demand update", "PATCH", "/v1/demands/{1}", "DEMAND_ID", "title description tags:l "
      "industries:l regions:l closes_at visibility", false, "edit a demand" },
    { "demand matches", "GET", "/v1/demands/{1}/matches", "DEMAND_ID", "limit cursor", true,
      "a demand's ranked matches with explanations" },
    { "demand approve", "POST", "/v1/demands/{1}/approve", "DEMAND_ID", "comment", false,
      "agency: publish a demand waiting for review" },
    { "demand return", "POST", "/v1/demands/{1}/return", "DEMAND_ID", "comment", false,
      "agency: send a demand back to its owner with --comment (required)" },
    { "demand resubmit", "POST", "/v1/demands/{1}/resubmit", "DEMAND_ID", "comment", false,
      "owner: submit a returned demand again" },
    { "demand renew", "POST", "/v1/demands/{1}/renew", "DEMAND_ID", "closes_at", false,
      "owner or agency: move an open demand's --closes-at later" },
    { "review-queue", "GET", "/v1/admin/review-queue", "", "limit cursor", true,
      "agency: demands waiting for review, oldest first" },
    { "settings get", "GET", "/v1/admin/settings", "", "", true, "agency: the settings" },
    { "settings set", "PUT", "/v1/admin/settings", "", "demand_review:b", false,
      "agency: --demand-review true|false" },
    { "announce", "POST", "/v1/admin/announcements", "", "title body kinds:l industries:l "
      "regions:l", false, "agency: notify a group (kinds startup,company; KSIC industries; "
      "ISO 3166-2 regions; none = all members)" },
    { "announcements", "GET", "/v1/admin/announcements", "", "", true,
      "agency: the announcements made" },
    //  Search
    { "search", "GET", "/v1/search", "", "type q industry region stage tag collaboration "
      "like limit cursor", true, "full-text and faceted search (--type startup|company|demand)" },
    { "suggest", "GET", "/v1/suggest", "", "q", true, "autocomplete names and tags" },
    { "taxonomy", "GET", "/v1/taxonomy", "", "", true, "the KSIC codes" },
    //  Matches
    { "match interest", "POST", "/v1/matches/{1}/interest", "MATCH_ID", "", false,
      "express interest (both sides: connected)" },
    { "match decline", "POST", "/v1/matches/{1}/decline", "MATCH_ID", "reason", false,
      "decline a match with --reason" },
    //  Notifications and deliveries
    { "notifications list", "GET", "/v1/notifications", "", "unread limit cursor org_id", true,
      "the inbox (--unread true)" },
    { "notifications read", "POST", "/v1/notifications/{1}/read", "NOTIFICATION_ID", "", false,
      "mark one read" },
    { "deliveries list", "GET", "/v1/deliveries", "", "status limit cursor org_id", true,
      "webhook deliveries (--status pending|delivered|dead|disabled)" },
    { "deliveries retry", "POST", "/v1/deliveries/{1}/retry", "DELIVERY_ID", "", false,
      "replay a dead or disabled delivery" },
    //  Saved searches
    { "saved-search create", "POST", "/v1/saved-searches", "", "type q industry:l region:l "
      "stage:l tag:l collaboration:l", false, "keep a query; hits are notified" },
    { "saved-search list", "GET", "/v1/saved-searches", "", "", true, "your saved searches" },
    { "saved-search delete", "DELETE", "/v1/saved-searches/{1}", "SAVED_SEARCH_ID", "", true,
      "remove one" },
    //  Integrators
    { "publisher create", "POST", "/v1/publishers", "", "source_system name curve_public_key",
      false, "agency: register another system; the reply holds its api_key once" },
    { "status", "GET", "/v1/status", "", "", true, "the gateway's view of every daemon" },
    { "events demands", "POST", "/v1/events/demands", "", "", false,
      "publisher: POST a JSON array of demand events (--file FILE, - = stdin)" },
    { "events organizations", "POST", "/v1/events/organizations", "", "", false,
      "publisher: POST a JSON array of organisation profile events (--file FILE)" },
    //  The agency's views
    { "audit", "GET", "/v1/admin/audit", "", "actor_org_id action entity_type entity_id since "
      "until limit cursor", true, "agency: the audit log, newest first" },
    { "stats", "GET", "/v1/admin/stats", "", "period from to", true,
      "agency: counters, the funnel (--period day|week|month, --from, --to), delivery health" },
    { "export", "GET", "/v1/admin/export/{1}.csv", "organizations|demands|relationships",
      "limit cursor bom", true, "agency: CSV (RFC 4180, UTF-8); the X-Next-Cursor header on "
      "stderr when there is more" },
    { "whoami", "GET", "/v1/whoami", "", "", true, "who the key is" },
    { NULL, NULL, NULL, NULL, NULL, false, NULL }
};

//  ---------------------------------------------------------------------------------------
//  HTTP

typedef struct {
    char *data;
    size_t size;
    char next_cursor [64];          //  the X-Next-Cursor header, "" when absent
    bool csv;
} s_reply_t;

static size_t
s_collect (char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_reply_t *reply = arg;
    size_t n = size * nmemb;
    if (reply->size + n > MAX_REPLY_BYTES)
        return 0;
    char *grown = realloc (reply->data, reply->size + n + 1);
    if (!grown)
        return 0;
    reply->data = grown;
    memcpy (reply->data + reply->size, ptr, n);
    reply->size += n;
    reply->data [reply->size] = 0;
    return n;
}

static size_t
s_header (char *line, size_t size, size_t nmemb, void *arg)
{
    s_reply_t *reply = arg;
    size_t n = size * nmemb;
    if (n > 15 && strncasecmp (line, "X-Next-Cursor:", 14) == 0)
        snprintf (reply->next_cursor, sizeof reply->next_cursor, "%.*s",
                  (int) strcspn (line + 14, "\r\n"), line + 14 + strspn (line + 14, " "));
    if (n > 13 && strncasecmp (line, "Content-Type:", 13) == 0 && strstr (line, "text/csv"))
        reply->csv = true;
    return n;
}

long
oimctl_http (const oimctl_conf_t *conf, const char *method, const char *path,
             const char *body, char **out, size_t *out_size)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return -1;
    char url [4096], auth [512];
    snprintf (url, sizeof url, "%s%s", conf->url, path);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (conf->key && *conf->key) {
        snprintf (auth, sizeof auth, "Authorization: Bearer %s", conf->key);
        headers = curl_slist_append (headers, auth);
    }
    s_reply_t reply = { NULL, 0, "", false };
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &reply);
    if (body || strcmp (method, "POST") == 0)
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body? body: "");
    CURLcode rc = curl_easy_perform (curl);
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf (stderr, "oimctl: %s %s: %s\n", method, url, curl_easy_strerror (rc));
    if (*reply.next_cursor)
        fprintf (stderr, "next_cursor: %s\n", reply.next_cursor);
    *out = reply.data? reply.data: strdup ("");
    *out_size = reply.size;
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    return status;
}

//  ---------------------------------------------------------------------------------------
//  Output

//  One value in one line: strings as they are, anything else as compact JSON.
static void
s_print_value (FILE *out, json_t *value)
{
    if (json_is_string (value))
        fprintf (out, "%s", json_string_value (value));
    else {
        char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf (out, "%s", text? text: "");
        free (text);
    }
}

//  The list of a list reply (items, notifications, deliveries, hits, results), or NULL.
static json_t *
s_list_of (json_t *json)
{
    static const char *keys [] = { "items", "notifications", "deliveries", "hits", "results", NULL };
    for (int i = 0; keys [i]; i++)
        if (json_is_array (json_object_get (json, keys [i])))
            return json_object_get (json, keys [i]);
    return NULL;
}

static void
s_print_text (FILE *out, json_t *json)
{
    json_t *list = s_list_of (json);
    const char *key;
    json_t *value;
    if (!list) {
        json_object_foreach (json, key, value) {
            fprintf (out, "%s: ", key);
            s_print_value (out, value);
            fprintf (out, "\n");
        }
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach (list, i, item) {
        static const char *columns [] = { "id", "type", "status", "state", "title", "name",
                                          "external_id", "demand_id", "org_id", NULL };
        bool first = true;
        for (int c = 0; columns [c]; c++)
            if ((value = json_object_get (item, columns [c]))) {
                fprintf (out, "%s", first? "": "\t");
                s_print_value (out, value);
                first = false;
            }
        fprintf (out, "\n");
    }
    json_object_foreach (json, key, value)
        if (value != list && !json_is_null (value)) {
            fprintf (out, "%s: ", key);
            s_print_value (out, value);
            fprintf (out, "\n");
        }
}

//  Prints a reply: a 2xx to stdout (JSON, text or CSV as it came), an error to stderr.
static int
s_print_reply (const oimctl_conf_t *conf, long status, const char *body)
{
    if (status < 0)
        return 1;
    FILE *out = status / 100 == 2? stdout: stderr;
    json_error_t error;
    json_t *json = *body == '{'? json_loads (body, 0, &error): NULL;
    bool text = conf->output == OIMCTL_OUTPUT_TEXT
             || (conf->output == OIMCTL_OUTPUT_AUTO && isatty (STDOUT_FILENO));
    if (json && text && status / 100 == 2)
        s_print_text (out, json);
    else
        fprintf (out, "%s%s", body, *body && body [strlen (body) - 1] == '\n'? "": "\n");
    if (status / 100 != 2)
        fprintf (stderr, "oimctl: HTTP %ld\n", status);
    if (json)
        json_decref (json);
    return status / 100 == 2? 0: 1;
}

//  ---------------------------------------------------------------------------------------
//  Arguments

//  A field token "name[:type][@flag]": its name's length, type (0 = string) and flag
//  ("closes_at" -> "--closes-at"; "org_id@org" -> "--org").
static size_t
s_field (const char *token, size_t len, char *type, char *flag, size_t size)
{
    size_t name_len = strcspn (token, ":@ ");
    *type = name_len < len && token [name_len] == ':'? token [name_len + 1]: 0;
    const char *alias = memchr (token, '@', len);
    const char *from = alias? alias + 1: token;
    size_t from_len = alias? len - (size_t) (alias + 1 - token): name_len;
    snprintf (flag, size, "--%.*s", (int) from_len, from);
    for (char *p = flag + 2; *p; p++)
        if (*p == '_')
            *p = '-';
    return name_len;
}

//  The value after flag in argv, or NULL.
static const char *
s_flag (int argc, char **argv, const char *flag)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp (argv [i], flag) == 0)
            return argv [i + 1];
    return NULL;
}

//  A typed JSON value for a flag's text; NULL (printed) when it does not parse.
static json_t *
s_typed (char type, const char *flag, const char *text)
{
    if (type == 'b' && (strcmp (text, "true") == 0 || strcmp (text, "false") == 0))
        return json_boolean (strcmp (text, "true") == 0);
    char *tail;
    long long n = type == 'i'? strtoll (text, &tail, 10): 0;
    if (type == 'i' && *text && !*tail)
        return json_integer (n);
    if (type == 'l') {
        json_t *list = json_array ();
        for (const char *p = text; *p; ) {
            size_t len = strcspn (p, ",");
            if (len)
                json_array_append_new (list, json_stringn (p, len));
            p += len + (p [len] == ',');
        }
        return list;
    }
    if (type == 0)
        return json_string (text);
    fprintf (stderr, "oimctl: %s takes %s\n", flag, type == 'b'? "true or false": "a number");
    return NULL;
}

//  Appends "?name=value" / "&name=value" (escaped) to path.
static void
s_query_add (char *path, size_t size, const char *name, size_t name_len, const char *value)
{
    char *escaped = curl_easy_escape (NULL, value, 0);
    size_t used = strlen (path);
    snprintf (path + used, size - used, "%c%.*s=%s", strchr (path, '?')? '&': '?',
              (int) name_len, name, escaped);
    curl_free (escaped);
}

//  Reads a whole file (or stdin for "-"); NULL (printed) when it cannot.
static char *
s_read_file (const char *name)
{
    FILE *in = strcmp (name, "-")? fopen (name, "rb"): stdin;
    if (!in) {
        fprintf (stderr, "oimctl: cannot open %s\n", name);
        return NULL;
    }
    s_reply_t buf = { NULL, 0, "", false };
    char chunk [65536];
    size_t n;
    while ((n = fread (chunk, 1, sizeof chunk, in)) > 0)
        if (s_collect (chunk, 1, n, &buf) != n)
            break;
    if (in != stdin)
        fclose (in);
    return buf.data? buf.data: strdup ("");
}

//  Builds the path (positionals substituted, query fields added) and the body of command c.
//  Returns 0, or 2 (usage, printed).
static int
s_build (const s_command_t *c, int argc, char **argv, char *path, size_t size, char **body)
{
    const char *positional [MAX_POSITIONAL] = { NULL };
    int n_positional = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp (argv [i], "--", 2) == 0) {
            i += strcmp (argv [i], "--json") || (i + 1 < argc && *argv [i + 1] == '{');
            continue;
        }
        if (n_positional == MAX_POSITIONAL)
            return 2;
        positional [n_positional++] = argv [i];
    }
    size_t used = 0;
    path [0] = 0;
    for (const char *p = c->path; *p && used + 1 < size; ) {
        if (*p == '{' && p [1] >= '1' && p [1] <= '3' && p [2] == '}') {
            const char *value = positional [p [1] - '1'];
            if (!value || strchr (value, '/') || strchr (value, '?'))
                return 2;
            used += (size_t) snprintf (path + used, size - used, "%s", value);
            p += 3;
        }
        else
            path [used++] = *p++, path [used] = 0;
    }
    int needed = 0;
    for (const char *p = c->path; (p = strchr (p, '{')); p++)
        needed++;
    if (n_positional != needed)
        return 2;
    const char *extra = s_flag (argc, argv, "--body");
    const char *json_flag = s_flag (argc, argv, "--json");
    if (!extra && json_flag && *json_flag == '{')
        extra = json_flag;
    const char *file = s_flag (argc, argv, "--file");
    if (file) {
        *body = s_read_file (file);
        return *body? 0: 1;
    }
    json_error_t error;
    json_t *object = extra? json_loads (extra, 0, &error): json_object ();
    if (!json_is_object (object)) {
        fprintf (stderr, "oimctl: --body must be a JSON object\n");
        json_decref (object);
        return 2;
    }
    int rc = 0;
    for (const char *f = c->fields; *f && rc == 0; ) {
        size_t len = strcspn (f, " ");
        char type, flag [64];
        size_t name_len = s_field (f, len, &type, flag, sizeof flag);
        const char *value = s_flag (argc, argv, flag);
        if (value && c->query)
            s_query_add (path, size, f, name_len, value);
        else
        if (value) {
            json_t *typed = s_typed (type, flag, value);
            char name [64];
            snprintf (name, sizeof name, "%.*s", (int) name_len, f);
            if (typed)
                json_object_set_new (object, name, typed);      //  the key is copied
            rc = typed? 0: 2;
        }
        f += len + (f [len] == ' ');
    }
    *body = rc == 0 && !c->query? json_dumps (object, JSON_COMPACT): NULL;
    json_decref (object);
    return rc;
}

//  The command whose words start argv (the longest match); *used = how many words.
static const s_command_t *
s_find (int argc, char **argv, int *used)
{
    const s_command_t *best = NULL;
    for (const s_command_t *c = s_commands; c->words; c++) {
        int words = 0;
        const char *w = c->words;
        while (*w && words < argc) {
            size_t len = strcspn (w, " ");
            if (strlen (argv [words]) != len || strncmp (argv [words], w, len))
                break;
            words++;
            w += len + (w [len] == ' ');
        }
        if (!*w && (!best || words > *used)) {
            best = c;
            *used = words;
        }
    }
    return best;
}

static void
s_command_usage (FILE *out, const s_command_t *c)
{
    fprintf (out, "usage: oimctl [--json|--text] %s%s%s", c->words, *c->args? " ": "", c->args);
    for (const char *f = c->fields; *f; ) {
        size_t len = strcspn (f, " ");
        char type, flag [64];
        s_field (f, len, &type, flag, sizeof flag);
        fprintf (out, " [%s %s]", flag, type == 'b'? "true|false": type == 'i'? "N"
                                      : type == 'l'? "A,B": "VALUE");
        f += len + (f [len] == ' ');
    }
    fprintf (out, "%s\n  %s %s\n", c->query? "": " [--body JSON]", c->method, c->path);
    fprintf (out, "  %s\n", c->help);
}

void
oimctl_commands_usage (FILE *out)
{
    for (const s_command_t *c = s_commands; c->words; c++)
        fprintf (out, "  %-22s %-22s %s\n", c->words, c->args, c->help);
}

int
oimctl_commands_run (const oimctl_conf_t *conf, int argc, char **argv)
{
    int used = 0;
    const s_command_t *c = s_find (argc, argv, &used);
    if (!c)
        return OIMCTL_UNKNOWN;
    for (int i = used; i < argc; i++)
        if (strcmp (argv [i], "--help") == 0) {
            s_command_usage (stdout, c);
            return 0;
        }
    oimctl_conf_t local = *conf;
    for (int i = used; i < argc; i++) {
        bool json_output = strcmp (argv [i], "--json") == 0
                        && !(i + 1 < argc && *argv [i + 1] == '{');
        if (json_output || strcmp (argv [i], "--text") == 0)
            local.output = json_output? OIMCTL_OUTPUT_JSON: OIMCTL_OUTPUT_TEXT;
    }
    char path [4096], *body = NULL;
    int rc = s_build (c, argc - used, argv + used, path, sizeof path, &body);
    if (rc) {
        if (rc == 2)
            s_command_usage (stderr, c);
        free (body);
        return rc == 2? 3: rc;      //  3: usage printed already
    }
    rc = oimctl_request (&local, c->method, path, body);
    free (body);
    return rc;
}

int
oimctl_request (const oimctl_conf_t *conf, const char *method, const char *path,
                const char *body)
{
    char *reply;
    size_t size;
    long status = oimctl_http (conf, method, path, body, &reply, &size);
    int rc = s_print_reply (conf, status, reply);
    free (reply);
    return rc;
}
