/*  registry_stats — the funnel and delivery health of GET /v1/admin/stats (issue 17 item 5),
    computed from durable records at each request (never from counters a restart loses):

      demands   oim:demands + oim:demand:<id> (created_at, source): "posted" in a period
      matches   oim:demand:<id>:matches + oim:match:<id> (the matcher's records, every state
                kept): "matched" = a match was ever made, "with_interest" = a side was
                interested, "connected" = a match is connected
      deliveries oim:dlvs + oim:dlv:<id> + oim:dlv:<id>:log (notify's records)

    The funnel is by cohort: a period's row counts the demands posted in it and how many of
    those reached each step by now. Times between steps are medians in hours over the demands
    that reached both: posted -> first match (the match's created_at); first match -> connected
    (the connected match's updated_at: the matcher's last change of it, normally the
    connection). Relationships (issue 17 items 1-3, services/matcher/matcher_relation.c) are
    the same records: "proposals" counts the records with a proposal (proposed_at), and the
    time a relationship entered connected / poc / contract is its score in
    oim:rel:state:<state> (read for records past connected: a connection made through the
    match workflow has no entry there and keeps its updated_at).

    Query: period=day|week|month (default month; weeks start on Monday, UTC), from, to
    (RFC 3339; default the last 365 days; at most 400 periods). Work: two pipelined rounds per
    500 demands and per 500 deliveries.
*/
#include "registry_request.h"
#include "matcher.pb-c.h"
#include "notify.pb-c.h"

#include <time.h>

#define CHUNK 500
#define MAX_BUCKETS 400
#define DAY_MS 86400000LL

enum { P_DAY, P_WEEK, P_MONTH };
static const char *s_periods [] = { "day", "week", "month", NULL };

typedef struct {
    int period;
    int64_t from_ms, to_ms;
} s_range_t;

//  One demand of the range and the steps it reached (times in unix ms, 0 = not reached).
typedef struct {
    int64_t posted_ms, matched_ms, connected_ms, poc_ms, contract_ms;
    bool interest;
    int proposals;                  //  startups that proposed to it (issue 17)
    char source [72];               //  source system, "direct" when posted through the API
} s_demand_t;

typedef struct {
    s_demand_t *items;
    size_t count, alloc;
} s_demands_t;

//  The start of the period holding ms (UTC).
static int64_t
s_bucket (int period, int64_t ms)
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (period == P_WEEK)
        tm.tm_mday -= (tm.tm_wday + 6) % 7;
    if (period == P_MONTH)
        tm.tm_mday = 1;
    return (int64_t) timegm (&tm) * 1000;
}

//  The start of the period after the one starting at start.
static int64_t
s_next (int period, int64_t start)
{
    if (period != P_MONTH)
        return start + (period == P_DAY? 1: 7) * DAY_MS;
    time_t t = (time_t) (start / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    tm.tm_mon++;
    return (int64_t) timegm (&tm) * 1000;
}

//  Parses the query. Returns 0, or -1 with the reply set.
static int
s_parse_range (const Oim__V1__ApiRequest *request, s_range_t *range, oim_api_reply_t *reply)
{
    const char *period = oim_api_query (request, "period");
    const char *from = oim_api_query (request, "from"), *to = oim_api_query (request, "to");
    range->period = P_MONTH;
    for (int i = 0; period && s_periods [i]; i++)
        if (strcmp (period, s_periods [i]) == 0)
            range->period = i;
    if (period && strcmp (period, s_periods [range->period])) {
        oim_api_error (reply, 400, "invalid", "period", "period must be day, week or month");
        return -1;
    }
    range->to_ms = oim_clock_wall_ms ();
    if (to && oim_clock_parse_rfc3339 (to, &range->to_ms)) {
        oim_api_error (reply, 400, "invalid", "to", "to must be RFC 3339");
        return -1;
    }
    range->from_ms = range->to_ms - 365 * DAY_MS;
    if (from && oim_clock_parse_rfc3339 (from, &range->from_ms)) {
        oim_api_error (reply, 400, "invalid", "from", "from must be RFC 3339");
        return -1;
    }
    int buckets = 0;
    for (int64_t b = s_bucket (range->period, range->from_ms); b < range->to_ms && buckets <= MAX_BUCKETS;
         b = s_next (range->period, b))
        buckets++;
    if (range->from_ms >= range->to_ms || buckets > MAX_BUCKETS) {
        oim_api_error (reply, 400, "invalid", "from", "from must be before to, at most %d "
                       "periods apart", MAX_BUCKETS);
        return -1;
    }
    return 0;
}

static int64_t
s_ms (const char *rfc3339)
{
    int64_t ms = 0;
    return rfc3339 && oim_clock_parse_rfc3339 (rfc3339, &ms) == 0? ms: 0;
}

//  GETs every key of ids (formatted with key_format), pipelined in chunks, calling each with
//  the reply (NULL when missing). Returns 0 or -1 (Redis failed).
typedef void (s_each_fn) (void *arg, size_t index, const redisReply *reply);
static int
s_get_each (registry_t *self, const char *command, const redisReply *ids, s_each_fn *each,
            void *arg)
{
    for (size_t start = 0; start < ids->elements; start += CHUNK) {
        size_t end = start + CHUNK < ids->elements? start + CHUNK: ids->elements;
        for (size_t i = start; i < end; i++)
            oim_redis_append (self->redis, command, ids->element [i]->str);
        bool failed = false;
        for (size_t i = start; i < end; i++) {
            redisReply *r = failed? NULL: oim_redis_reply (self->redis);
            failed = !r;
            if (r) {
                each (arg, i, r);
                freeReplyObject (r);
            }
        }
        if (failed)
            return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------------------
//  Demands and their matches

typedef struct {
    const s_range_t *range;
    s_demands_t *demands;
    char (*ids) [OIM_ID_SIZE];      //  per kept demand, its id
} s_scan_t;

static void
s_demand_each (void *arg, size_t index, const redisReply *r)
{
    (void) index;
    s_scan_t *scan = arg;
    Oim__V1__Demand *d = r->type == REDIS_REPLY_STRING
        ? oim__v1__demand__unpack (NULL, r->len, (uint8_t *) r->str): NULL;
    int64_t posted = d? s_ms (d->created_at): 0;
    if (d && !d->deleted && posted >= scan->range->from_ms && posted < scan->range->to_ms) {
        s_demands_t *all = scan->demands;
        if (all->count == all->alloc) {
            all->alloc = all->alloc? 2 * all->alloc: 64;
            all->items = realloc (all->items, all->alloc * sizeof *all->items);
            scan->ids = realloc (scan->ids, all->alloc * OIM_ID_SIZE);
            assert (all->items && scan->ids);
        }
        s_demand_t *item = &all->items [all->count];
        memset (item, 0, sizeof *item);
        item->posted_ms = posted;
        snprintf (item->source, sizeof item->source, "%s",
                  d->source && *d->source->system? d->source->system: "direct");
        snprintf (scan->ids [all->count++], OIM_ID_SIZE, "%s", d->id);
    }
    if (d)
        oim__v1__demand__free_unpacked (d, NULL);
}

//  Folds one match into its demand's steps.
static void
s_fold_match (s_demand_t *demand, const Oim__V1__Match *m)
{
    int64_t created = s_ms (m->created_at);
    if (created && (!demand->matched_ms || created < demand->matched_ms))
        demand->matched_ms = created;
    bool connected = strcmp (m->state, "connected") == 0;
    if (*m->proposed_at)
        demand->proposals++;
    if (m->company_interested || m->startup_interested || connected
    ||  strcmp (m->state, "interested") == 0)
        demand->interest = true;
    int64_t updated = s_ms (m->updated_at);
    if (connected && updated && (!demand->connected_ms || updated < demand->connected_ms))
        demand->connected_ms = updated;
}

//  A relationship past connected (poc, contract, ended), whose step times are read from the
//  state sets: its demand and id.
typedef struct {
    s_demand_t *demand;
    char *id;
} s_outcome_t;

static bool
s_past_connected (const char *state)
{
    return strcmp (state, "poc") == 0 || strcmp (state, "contract") == 0
        || strcmp (state, "ended") == 0;
}

//  The earlier of *at and the ZSCORE reply r (ms), 0 meaning unset.
static void
s_fold_score (int64_t *at, const redisReply *r)
{
    int64_t ms = r->type == REDIS_REPLY_STRING? atoll (r->str): 0;     //  RESP2: a bulk string
    if (ms && (!*at || ms < *at))
        *at = ms;
}

//  Folds the connected / poc / contract times of n outcomes (one pipelined round); frees
//  their ids. 0, or -1 when Redis failed.
static int
s_read_outcomes (registry_t *self, s_outcome_t *outcomes, size_t n)
{
    static const char *states [] = { "connected", "poc", "contract" };
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < 3; s++)
            oim_redis_append (self->redis, "ZSCORE oim:rel:state:%s %s", states [s],
                              outcomes [i].id);
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        for (int s = 0; s < 3 && !failed; s++) {
            redisReply *r = oim_redis_reply (self->redis);
            failed = !r;
            s_demand_t *d = outcomes [i].demand;
            if (r)
                s_fold_score (s == 0? &d->connected_ms: s == 1? &d->poc_ms: &d->contract_ms, r);
            if (r)
                freeReplyObject (r);
        }
        s_demand_t *d = outcomes [i].demand;
        if (!d->connected_ms)           //  connected through the match workflow: no entry
            d->connected_ms = d->poc_ms? d->poc_ms: d->contract_ms;
        free (outcomes [i].id);
    }
    return failed? -1: 0;
}

//  Reads the matches of every kept demand (two pipelined rounds per chunk, a third for the
//  relationships past connected).
static int
s_read_matches (registry_t *self, s_scan_t *scan)
{
    s_outcome_t *outcomes = NULL;
    size_t n_outcomes = 0, cap = 0;
    bool failed = false;
    s_demands_t *all = scan->demands;
    for (size_t start = 0; start < all->count; start += CHUNK) {
        size_t end = start + CHUNK < all->count? start + CHUNK: all->count;
        for (size_t i = start; i < end; i++)
            oim_redis_append (self->redis, "HVALS " OIM_KEY_DEMAND_MATCHES, scan->ids [i]);
        redisReply **lists = calloc (end - start, sizeof *lists);
        assert (lists);
        failed = false;
        for (size_t i = start; i < end; i++)
            failed = failed || !(lists [i - start] = oim_redis_reply (self->redis));
        for (size_t i = start; !failed && i < end; i++)
            for (size_t j = 0; lists [i - start]->type == REDIS_REPLY_ARRAY && j < lists [i - start]->elements; j++)
                oim_redis_append (self->redis, "GET " OIM_KEY_MATCH, lists [i - start]->element [j]->str);
        for (size_t i = start; !failed && i < end; i++)
            for (size_t j = 0; lists [i - start]->type == REDIS_REPLY_ARRAY && j < lists [i - start]->elements; j++) {
                redisReply *r = oim_redis_reply (self->redis);
                if (!(failed = !r) && r->type == REDIS_REPLY_STRING) {
                    Oim__V1__Match *m = oim__v1__match__unpack (NULL, r->len, (uint8_t *) r->str);
                    if (m)
                        s_fold_match (&all->items [i], m);
                    if (m && s_past_connected (m->state)) {
                        if (n_outcomes == cap) {
                            cap = cap? cap * 2: 64;
                            outcomes = realloc (outcomes, cap * sizeof *outcomes);
                            assert (outcomes);
                        }
                        outcomes [n_outcomes++] = (s_outcome_t) { &all->items [i],
                                                                  strdup (m->id) };
                    }
                    if (m)
                        oim__v1__match__free_unpacked (m, NULL);
                }
                if (r)
                    freeReplyObject (r);
                if (failed)
                    break;
            }
        for (size_t i = 0; i < end - start; i++)
            if (lists [i])
                freeReplyObject (lists [i]);
        free (lists);
        if (!failed)
            failed = s_read_outcomes (self, outcomes, n_outcomes) != 0;
        else
            for (size_t i = 0; i < n_outcomes; i++)
                free (outcomes [i].id);
        n_outcomes = 0;
        if (failed)
            break;
    }
    free (outcomes);
    return failed? -1: 0;
}

//  ---------------------------------------------------------------------------------------
//  Figures

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  The nearest-rank percentile p (0..100) of n sorted values as JSON (null when none).
static json_t *
s_percentile (const int64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return json_null ();
    size_t rank = (size_t) (p / 100.0 * (double) n + 0.999999);
    return json_integer (sorted [rank? rank - 1: 0]);
}

//  The median of n durations in ms, in hours (2 decimals), or null.
static json_t *
s_median_hours (int64_t *values, size_t n)
{
    if (n == 0)
        return json_null ();
    qsort (values, n, sizeof *values, s_cmp_i64);
    double ms = n % 2? (double) values [n / 2]: (values [n / 2 - 1] + values [n / 2]) / 2.0;
    return json_real ((double) (int64_t) (ms / 36000.0 + 0.5) / 100.0);
}

//  A funnel row: the counts of the demands in [from, to) (NULL bounds: all; source NULL: all).
static json_t *
s_row (const s_demands_t *all, int64_t from, int64_t to, const char *source)
{
    json_int_t posted = 0, matched = 0, interest = 0, connected = 0, proposals = 0, poc = 0,
               contract = 0;
    for (size_t i = 0; i < all->count; i++) {
        const s_demand_t *d = &all->items [i];
        if ((from || to) && (d->posted_ms < from || d->posted_ms >= to))
            continue;
        if (source && strcmp (source, d->source))
            continue;
        posted++;
        matched += d->matched_ms != 0;
        interest += d->interest;
        connected += d->connected_ms != 0;
        proposals += d->proposals;
        poc += d->poc_ms != 0;
        contract += d->contract_ms != 0;
    }
    return json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "posted", posted, "matched", matched,
                      "with_interest", interest, "connected", connected, "proposals", proposals,
                      "poc", poc, "contract", contract);
}

static json_t *
s_funnel (const s_range_t *range, const s_demands_t *all)
{
    json_t *rows = json_array ();
    for (int64_t b = s_bucket (range->period, range->from_ms); b < range->to_ms;
         b = s_next (range->period, b)) {
        char start [OIM_RFC3339_SIZE];
        oim_clock_rfc3339 (b, start);
        json_t *row = s_row (all, b, s_next (range->period, b), NULL);
        json_object_set_new (row, "start", json_string (start));
        json_array_append_new (rows, row);
    }
    return rows;
}

static json_t *
s_medians (const s_demands_t *all)
{
    int64_t *to_match = calloc (all->count + 1, sizeof (int64_t));
    int64_t *to_connect = calloc (all->count + 1, sizeof (int64_t));
    assert (to_match && to_connect);
    size_t n_match = 0, n_connect = 0;
    for (size_t i = 0; i < all->count; i++) {
        const s_demand_t *d = &all->items [i];
        if (d->matched_ms)
            to_match [n_match++] = d->matched_ms > d->posted_ms? d->matched_ms - d->posted_ms: 0;
        if (d->matched_ms && d->connected_ms)
            to_connect [n_connect++] = d->connected_ms > d->matched_ms
                                     ? d->connected_ms - d->matched_ms: 0;
    }
    int64_t *to_poc = calloc (all->count + 1, sizeof (int64_t));
    int64_t *to_contract = calloc (all->count + 1, sizeof (int64_t));
    assert (to_poc && to_contract);
    size_t n_poc = 0, n_contract = 0;
    for (size_t i = 0; i < all->count; i++) {
        const s_demand_t *d = &all->items [i];
        if (d->connected_ms && d->poc_ms)
            to_poc [n_poc++] = d->poc_ms > d->connected_ms? d->poc_ms - d->connected_ms: 0;
        if (d->poc_ms && d->contract_ms)
            to_contract [n_contract++] = d->contract_ms > d->poc_ms
                                       ? d->contract_ms - d->poc_ms: 0;
    }
    json_t *json = json_pack ("{s:o,s:o,s:o,s:o}", "posted_to_matched",
                              s_median_hours (to_match, n_match), "matched_to_connected",
                              s_median_hours (to_connect, n_connect), "connected_to_poc",
                              s_median_hours (to_poc, n_poc), "poc_to_contract",
                              s_median_hours (to_contract, n_contract));
    free (to_match);
    free (to_connect);
    free (to_poc);
    free (to_contract);
    return json;
}

static json_t *
s_by_source (const s_demands_t *all)
{
    json_t *json = json_object ();
    for (size_t i = 0; i < all->count; i++)
        if (!json_object_get (json, all->items [i].source))
            json_object_set_new (json, all->items [i].source,
                                 s_row (all, 0, 0, all->items [i].source));
    return json;
}

//  ---------------------------------------------------------------------------------------
//  Delivery health

typedef struct {
    const s_range_t *range;
    json_int_t by_status [4];       //  pending, delivered, dead, disabled
    int64_t *latency;               //  created -> delivered, ms
    size_t n_latency;
    json_int_t attempts;
} s_health_t;

static const char *s_dlv_states [] = { "pending", "delivered", "dead", "disabled", NULL };

//  HMGET status created_at updated_at attempts of one delivery.
static void
s_delivery_each (void *arg, size_t index, const redisReply *r)
{
    (void) index;
    s_health_t *h = arg;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 || r->element [0]->type != REDIS_REPLY_STRING
    ||  r->element [1]->type != REDIS_REPLY_STRING)
        return;
    int64_t created = s_ms (r->element [1]->str);
    if (created < h->range->from_ms || created >= h->range->to_ms)
        return;
    for (int i = 0; s_dlv_states [i]; i++)
        if (strcmp (r->element [0]->str, s_dlv_states [i]) == 0)
            h->by_status [i]++;
    if (r->element [3]->type == REDIS_REPLY_STRING)
        h->attempts += strtoll (r->element [3]->str, NULL, 10);
    int64_t updated = r->element [2]->type == REDIS_REPLY_STRING? s_ms (r->element [2]->str): 0;
    if (strcmp (r->element [0]->str, "delivered") == 0 && updated >= created)
        h->latency [h->n_latency++] = updated - created;
}

static json_t *
s_delivery_health (registry_t *self, const s_range_t *range, int *rc)
{
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s 0 -1", OIM_KEY_DLVS);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        if (ids)
            freeReplyObject (ids);
        *rc = -1;
        return NULL;
    }
    s_health_t h = { .range = range, .latency = calloc (ids->elements + 1, sizeof (int64_t)) };
    assert (h.latency);
    *rc = s_get_each (self, "HMGET " OIM_KEY_DLV " status created_at updated_at attempts", ids,
                      s_delivery_each, &h);
    freeReplyObject (ids);
    qsort (h.latency, h.n_latency, sizeof (int64_t), s_cmp_i64);
    json_int_t finished = h.by_status [1] + h.by_status [2] + h.by_status [3];
    json_t *json = json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:{s:o,s:o,s:o,s:o}}",
        "total", h.by_status [0] + finished, "pending", h.by_status [0],
        "delivered", h.by_status [1], "dead_letters", h.by_status [2],
        "disabled", h.by_status [3], "attempts", h.attempts,
        "success_rate", finished? json_real ((double) h.by_status [1] / (double) finished)
                                : json_null (),
        "latency_ms", "p50", s_percentile (h.latency, h.n_latency, 50),
        "p90", s_percentile (h.latency, h.n_latency, 90),
        "p99", s_percentile (h.latency, h.n_latency, 99),
        "max", s_percentile (h.latency, h.n_latency, 100));
    free (h.latency);
    return json;
}

//  ---------------------------------------------------------------------------------------

int
registry_stats_add (registry_t *self, const Oim__V1__ApiRequest *request, json_t *root,
                    oim_api_reply_t *reply)
{
    s_range_t range;
    if (s_parse_range (request, &range, reply))
        return -1;
    s_demands_t all = { NULL, 0, 0 };
    s_scan_t scan = { &range, &all, NULL };
    redisReply *ids = oim_redis_command (self->redis, "ZRANGE %s 0 -1", OIM_KEY_DEMANDS);
    int rc = ids && ids->type == REDIS_REPLY_ARRAY
           ? s_get_each (self, "GET " OIM_KEY_DEMAND, ids, s_demand_each, &scan): -1;
    if (ids)
        freeReplyObject (ids);
    if (rc == 0)
        rc = s_read_matches (self, &scan);
    json_t *health = rc? NULL: s_delivery_health (self, &range, &rc);
    if (rc == 0) {
        char from [OIM_RFC3339_SIZE], to [OIM_RFC3339_SIZE];
        oim_clock_rfc3339 (range.from_ms, from);
        oim_clock_rfc3339 (range.to_ms, to);
        json_object_set_new (root, "period", json_string (s_periods [range.period]));
        json_object_set_new (root, "from", json_string (from));
        json_object_set_new (root, "to", json_string (to));
        json_object_set_new (root, "funnel", s_funnel (&range, &all));
        json_object_set_new (root, "funnel_total", s_row (&all, 0, 0, NULL));
        json_object_set_new (root, "median_hours", s_medians (&all));
        json_object_set_new (root, "by_source", s_by_source (&all));
        json_object_set_new (root, "delivery", health);
    }
    else {
        if (health)
            json_decref (health);
        registry_reply_unavailable (reply);
    }
    free (all.items);
    free (scan.ids);
    return rc? -1: 0;
}
