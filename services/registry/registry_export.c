/*  registry_export — CSV exports for the agency (issue 17 item 5):
    GET /v1/admin/export/{organizations|demands|relationships}.csv

    Format: RFC 4180 — comma-separated, CRLF line ends, a header row, a field quoted (with
    quotes doubled) when it holds a comma, a quote, CR or LF; UTF-8 (NFC as stored), with a
    byte-order mark first so that spreadsheet programs open Korean text as UTF-8 (?bom=0 omits
    it). Lists (tags, industries, ...) are joined with ";". A text cell starting with = + - @
    or a tab gets a leading apostrophe so that a spreadsheet does not run it as a formula
    (CSV injection); numbers and ids are never changed.
    Contents: every live organisation (contacts included: the agency's), every live demand
    (in review too), and every relationship: the matcher's pair records of every live demand
    (matches and proposals are one record, services/matcher/matcher_relation.c), in every
    state (suggested ... proposed, connected, poc, contract, ended), with origin, the
    proposal's message and time and the end reason.
    Paging: ?limit (1..50000, default 10000) organisations or demands per page, ?cursor from
    the X-Next-Cursor header of the previous page (absent on the last page); a page also ends
    before the body reaches EXPORT_MAX_BYTES (the broker's reply limit is 8 MiB).
*/
#include "registry_request.h"
#include "matcher.pb-c.h"

#define EXPORT_MAX_BYTES (6 * 1024 * 1024)
#define LIMIT_DEFAULT 10000
#define LIMIT_MAX 50000

typedef struct {
    char *data;
    size_t size, alloc;
} s_buf_t;

static void
s_put (s_buf_t *buf, const char *text, size_t n)
{
    if (buf->size + n + 1 > buf->alloc) {
        buf->alloc = (buf->size + n + 1) * 2;
        buf->data = realloc (buf->data, buf->alloc);
        assert (buf->data);
    }
    memcpy (buf->data + buf->size, text, n);
    buf->size += n;
    buf->data [buf->size] = 0;
}

//  One cell (a comma first unless it starts the row); text cells are guarded against formulas.
static void
s_cell (s_buf_t *buf, bool first, const char *value, bool text)
{
    if (!first)
        s_put (buf, ",", 1);
    if (!value)
        return;
    bool guard = text && strchr ("=+-@\t", *value) && *value;
    bool quote = guard || strpbrk (value, ",\"\r\n") != NULL;
    if (quote)
        s_put (buf, "\"", 1);
    if (guard)
        s_put (buf, "'", 1);
    for (const char *p = value; *p; ) {
        size_t n = strcspn (p, "\"");
        s_put (buf, p, n);
        p += n;
        if (*p == '"') {
            s_put (buf, "\"\"", 2);
            p++;
        }
    }
    if (quote)
        s_put (buf, "\"", 1);
}

static void
s_int (s_buf_t *buf, int64_t value)
{
    char text [24];
    snprintf (text, sizeof text, "%lld", (long long) value);
    s_cell (buf, false, text, false);
}

static void
s_list (s_buf_t *buf, char *const *items, size_t n)
{
    s_buf_t joined = { NULL, 0, 0 };
    s_put (&joined, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            s_put (&joined, ";", 1);
        s_put (&joined, items [i], strlen (items [i]));
    }
    s_cell (buf, false, joined.data, true);
    free (joined.data);
}

static void
s_end_row (s_buf_t *buf)
{
    s_put (buf, "\r\n", 2);
}

//  ---------------------------------------------------------------------------------------
//  Rows

#define ORG_COLUMNS "id,kind,name,name_en,status,region,industries,tags,stage," \
    "founded,employees,website,email,phone,business_number,source_system,source_external_id," \
    "created_at,updated_at,version"
#define DEMAND_COLUMNS "id,org_id,title,status,visibility,tags,industries,regions," \
    "stages,collaboration,budget_min_krw,budget_max_krw,closes_at,source_system," \
    "source_external_id,created_at,updated_at,version"
#define RELATIONSHIP_COLUMNS "id,demand_id,startup_id,company_id,state,score," \
    "company_interested,startup_interested,declined_by,reason,demand_title,startup_name," \
    "created_at,updated_at,origin,proposal_message,proposed_at,end_reason"

static void
s_org_row (s_buf_t *buf, const Oim__V1__Organization *o)
{
    s_cell (buf, true, o->id, false);
    s_cell (buf, false, o->kind, false);
    s_cell (buf, false, o->name, true);
    s_cell (buf, false, o->name_en, true);
    s_cell (buf, false, o->status, false);
    s_cell (buf, false, o->region, false);
    s_list (buf, o->industries, o->n_industries);
    s_list (buf, o->tags, o->n_tags);
    s_cell (buf, false, o->stage, false);
    s_int (buf, o->founded);
    s_int (buf, o->employees);
    s_cell (buf, false, o->website, true);
    s_cell (buf, false, o->email, true);
    s_cell (buf, false, o->phone, true);
    s_cell (buf, false, o->business_number, false);
    s_cell (buf, false, o->source? o->source->system: "", true);
    s_cell (buf, false, o->source? o->source->external_id: "", true);
    s_cell (buf, false, o->created_at, false);
    s_cell (buf, false, o->updated_at, false);
    s_int (buf, o->version);
    s_end_row (buf);
}

static void
s_demand_row (s_buf_t *buf, const Oim__V1__Demand *d)
{
    s_cell (buf, true, d->id, false);
    s_cell (buf, false, d->org_id, false);
    s_cell (buf, false, d->title, true);
    s_cell (buf, false, d->status, false);
    s_cell (buf, false, d->visibility, false);
    s_list (buf, d->tags, d->n_tags);
    s_list (buf, d->industries, d->n_industries);
    s_list (buf, d->regions, d->n_regions);
    s_list (buf, d->stages, d->n_stages);
    s_list (buf, d->collaboration, d->n_collaboration);
    s_int (buf, d->budget_krw? d->budget_krw->min: 0);
    s_int (buf, d->budget_krw? d->budget_krw->max: 0);
    s_cell (buf, false, d->closes_at, false);
    s_cell (buf, false, d->source? d->source->system: "", true);
    s_cell (buf, false, d->source? d->source->external_id: "", true);
    s_cell (buf, false, d->created_at, false);
    s_cell (buf, false, d->updated_at, false);
    s_int (buf, d->version);
    s_end_row (buf);
}

static void
s_match_row (s_buf_t *buf, const Oim__V1__Match *m)
{
    char score [32];
    snprintf (score, sizeof score, "%.4f", m->score);
    s_cell (buf, true, m->id, false);
    s_cell (buf, false, m->demand_id, false);
    s_cell (buf, false, m->startup_id, false);
    s_cell (buf, false, m->company_id, false);
    s_cell (buf, false, m->state, false);
    s_cell (buf, false, score, false);
    s_cell (buf, false, m->company_interested? "true": "false", false);
    s_cell (buf, false, m->startup_interested? "true": "false", false);
    s_cell (buf, false, m->declined_by, false);
    s_cell (buf, false, m->reason, true);
    s_cell (buf, false, m->demand_title, true);
    s_cell (buf, false, m->startup_name, true);
    s_cell (buf, false, m->created_at, false);
    s_cell (buf, false, m->updated_at, false);
    s_cell (buf, false, *m->origin? m->origin: "match", false);
    s_cell (buf, false, m->proposal_message, true);
    s_cell (buf, false, m->proposed_at, false);
    s_cell (buf, false, m->end_reason, true);
    s_end_row (buf);
}

//  ---------------------------------------------------------------------------------------
//  Pages

//  Writes the rows of one GET reply (an entity's bytes) to buf. Returns 0 or -1 (Redis).
typedef int (s_rows_fn) (registry_t *self, s_buf_t *buf, const redisReply *r, const char *id);

static int
s_org_rows (registry_t *self, s_buf_t *buf, const redisReply *r, const char *id)
{
    (void) self; (void) id;
    Oim__V1__Organization *o = r->type == REDIS_REPLY_STRING
        ? oim__v1__organization__unpack (NULL, r->len, (uint8_t *) r->str): NULL;
    if (o && !o->deleted)
        s_org_row (buf, o);
    if (o)
        oim__v1__organization__free_unpacked (o, NULL);
    return 0;
}

static int
s_demand_rows (registry_t *self, s_buf_t *buf, const redisReply *r, const char *id)
{
    (void) self; (void) id;
    Oim__V1__Demand *d = r->type == REDIS_REPLY_STRING
        ? oim__v1__demand__unpack (NULL, r->len, (uint8_t *) r->str): NULL;
    if (d && !d->deleted)
        s_demand_row (buf, d);
    if (d)
        oim__v1__demand__free_unpacked (d, NULL);
    return 0;
}

//  The match records of demand id (its HVALS reply r), one row each.
static int
s_relationship_rows (registry_t *self, s_buf_t *buf, const redisReply *r, const char *id)
{
    (void) id;
    if (r->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < r->elements; i++)
        oim_redis_append (self->redis, "GET " OIM_KEY_MATCH, r->element [i]->str);
    int rc = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *m = rc? NULL: oim_redis_reply (self->redis);
        if (!m) {
            rc = -1;
            continue;
        }
        Oim__V1__Match *match = m->type == REDIS_REPLY_STRING
            ? oim__v1__match__unpack (NULL, m->len, (uint8_t *) m->str): NULL;
        if (match)
            s_match_row (buf, match);
        if (match)
            oim__v1__match__free_unpacked (match, NULL);
        freeReplyObject (m);
    }
    return rc;
}

typedef struct {
    const char *file;               //  the path's {file}
    const char *columns;            //  the header row
    const char *index;              //  the zset of ids paged over
    const char *command;            //  per id, the read whose reply rows() takes
    s_rows_fn *rows;
} s_export_t;

static const s_export_t s_exports [] = {
    { "organizations.csv", ORG_COLUMNS, OIM_KEY_ORGS, "GET " OIM_KEY_ORG, s_org_rows },
    { "demands.csv", DEMAND_COLUMNS, OIM_KEY_DEMANDS, "GET " OIM_KEY_DEMAND, s_demand_rows },
    { "relationships.csv", RELATIONSHIP_COLUMNS, OIM_KEY_DEMANDS, "HVALS " OIM_KEY_DEMAND_MATCHES,
      s_relationship_rows },
    { NULL, NULL, NULL, NULL, NULL }
};

//  Writes rows for ids [offset, offset + limit) of e's index into buf; *next = the offset to
//  continue from, -1 at the end. Returns 0 or -1 (Redis).
static int
s_page (registry_t *self, const s_export_t *e, long offset, long limit, s_buf_t *buf, long *next)
{
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s %ld %ld", e->index, offset,
                                         offset + limit - 1);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        return -1;
    }
    int rc = 0;
    size_t i = 0;
    for (; rc == 0 && i < ids->elements && buf->size < EXPORT_MAX_BYTES; i++) {
        redisReply *r = oim_redis_command (self->redis, e->command, ids->element [i]->str);
        rc = r? e->rows (self, buf, r, ids->element [i]->str): -1;
        if (r)
            freeReplyObject (r);
    }
    *next = i < ids->elements || (long) ids->elements == limit? offset + (long) i: -1;
    freeReplyObject (ids);
    return rc;
}

void
registry_export_csv (oim_service_t *service, const Oim__V1__ApiRequest *request,
                     oim_api_reply_t *reply)
{
    registry_t *self = registry_of (service);
    registry_actor_t actor = registry_actor (request);
    if (!registry_is (&actor, OIM__V1__ROLE__ROLE_AGENCY))
        return oim_api_error (reply, 403, "forbidden", NULL, "exports are the agency's");
    const char *file = oim_api_param (request, "file");
    const s_export_t *e = s_exports;
    while (e->file && (!file || strcmp (e->file, file)))
        e++;
    if (!e->file)
        return oim_api_error (reply, 404, "not_found", "file", "exports are organizations.csv, "
                              "demands.csv and relationships.csv");
    const char *limit_text = oim_api_query (request, "limit"), *cursor = oim_api_query (request, "cursor");
    const char *bom = oim_api_query (request, "bom");
    char *tail;
    long limit = limit_text? strtol (limit_text, &tail, 10): LIMIT_DEFAULT;
    if (limit_text && (*tail || limit < 1 || limit > LIMIT_MAX))
        return oim_api_error (reply, 400, "invalid", "limit", "limit must be 1..%d", LIMIT_MAX);
    long offset = cursor? strtol (cursor, &tail, 10): 0;
    if (cursor && (*tail || offset < 0))
        return oim_api_error (reply, 400, "invalid", "cursor", "cursor is not from a previous page");
    s_buf_t buf = { NULL, 0, 0 };
    if (!bom || strcmp (bom, "0"))
        s_put (&buf, "\xEF\xBB\xBF", 3);
    s_put (&buf, e->columns, strlen (e->columns));
    s_end_row (&buf);
    long next;
    if (s_page (self, e, offset, limit, &buf, &next))
        registry_reply_unavailable (reply);
    else {
        oim_api_text (reply, 200, "text/csv; charset=utf-8", buf.data, buf.size);
        char text [24], disposition [96];
        snprintf (text, sizeof text, "%ld", next);
        snprintf (disposition, sizeof disposition, "attachment; filename=\"%s\"", e->file);
        oim_api_header (reply, "Content-Disposition", disposition);
        if (next >= 0)
            oim_api_header (reply, "X-Next-Cursor", text);
    }
    free (buf.data);
}
