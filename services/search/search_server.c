/*  search_server — the oim-search daemon: an in-memory index (search_index) kept equal to the
    registry's state by search_sync (snapshot + change log, polled every tick), answering
    GET /v1/search ("search.query"; q= or like=<document id>, see search_index.h) and
    GET /v1/suggest ("search.suggest"). Any number of
    replicas: each holds the whole index; the broker spreads queries over them.
    Within a replica, OIM_SEARCH_THREADS threads answer queries (the loop's and more, each a
    worker of the broker) over the one index, under a read-write lock: queries read it at
    once, the loop's tick takes it for writing to apply the change log (writers first, so a
    stream of queries cannot hold updates back). A new snapshot is built aside and swapped in.
    Who asks: the agency sees everything; a company or startup key counts as a member (sees
    "members" demands, and confidential ones it owns or is connected with) only while its
    organization is active, which the daemon tells by itself: the index holds exactly the
    active startups and companies. Any other key searches as an anonymous caller would, even
    if the gateway let it through (defence in depth).
*/
#include "search_server.h"
#include "search_sync.h"
#include "oim_api.h"
#include "oim_clock.h"
#include "oim_log.h"

#include <ctype.h>
#include <pthread.h>

#define POLL_BATCH 1000
#define RETRY_MSEC 1000
#define MAX_THREADS 64

typedef struct {
    pthread_rwlock_t lock;          //  index, sync, ready: written by the tick, read by queries
    search_index_t *index;
    search_sync_t *sync;
    bool ready;                     //  a snapshot is in
    int64_t next_attempt_ms;        //  snapshot retry (monotonic)
    int64_t next_compact_ms;
    oim_metric_t *m_docs;
    oim_metric_t *m_applied;
    oim_metric_t *m_snapshots;
} state_t;

static const char *s_facet_names [SEARCH_FACET_COUNT] = {
    "type", "industry", "region", "stage", "tag", "collaboration", "status"
};

//  Takes a new snapshot into a new index and swaps it in (queries keep the old one meanwhile).
//  Returns 0 or -1 (retry later).
static int
s_rebuild (oim_service_t *service, state_t *state)
{
    search_index_t *index = search_index_new (NULL);
    search_sync_t *sync = search_sync_new (index);
    bool ok = search_sync_snapshot (sync, oim_service_redis (service)) >= 0;
    oim_metric_add (state->m_snapshots, 1);
    if (!ok) {
        search_sync_destroy (&sync);
        search_index_destroy (&index);
        state->next_attempt_ms = oim_clock_mono_ms () + RETRY_MSEC;
        return -1;
    }
    pthread_rwlock_wrlock (&state->lock);
    search_sync_t *old_sync = state->sync;
    search_index_t *old_index = state->index;
    state->sync = sync;
    state->index = index;
    state->ready = true;
    pthread_rwlock_unlock (&state->lock);
    search_sync_destroy (&old_sync);
    search_index_destroy (&old_index);
    return 0;
}

static int
s_start (oim_service_t *service)
{
    state_t *state = zmalloc (sizeof *state);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init (&attr);
    pthread_rwlockattr_setkind_np (&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init (&state->lock, &attr);
    pthread_rwlockattr_destroy (&attr);
    oim_metrics_t *m = oim_service_metrics (service);
    state->m_docs = oim_metrics_gauge (m, "oim_search_documents", NULL, "live documents in the index");
    state->m_applied = oim_metrics_counter (m, "oim_search_changes_applied_total", NULL,
                                            "change-log entries applied");
    state->m_snapshots = oim_metrics_counter (m, "oim_search_snapshots_total", NULL,
                                              "snapshots taken (start, gaps)");
    oim_service_set_state (service, state);
    if (s_rebuild (service, state))
        oim_warn ("event=snapshot_failed retry_ms=%d", RETRY_MSEC);
    long threads = oim_config_int (oim_service_config (service), "threads", 2);
    if (threads < 1 || threads > MAX_THREADS) {
        oim_warn ("event=bad_config option=threads value=%ld using=%d", threads,
                  threads < 1? 1: MAX_THREADS);
        threads = threads < 1? 1: MAX_THREADS;
    }
    return oim_service_add_workers (service, (int) threads - 1);
}

static void
s_tick (oim_service_t *service)
{
    state_t *state = oim_service_state (service);
    int64_t now = oim_clock_mono_ms ();
    if (!state->ready) {
        if (now >= state->next_attempt_ms)
            s_rebuild (service, state);
        return;
    }
    int applied;
    while ((applied = search_sync_poll (state->sync, oim_service_redis (service), POLL_BATCH,
                                        &state->lock)) > 0) {
        oim_metric_add (state->m_applied, applied);
        if (applied < POLL_BATCH)
            break;
    }
    if (applied == -2) {
        oim_warn ("event=changelog_gap action=snapshot position=%s", search_sync_position (state->sync));
        s_rebuild (service, state);
    }
    search_stats_t stats;
    search_index_stats (state->index, &stats);
    oim_metric_set (state->m_docs, (int64_t) stats.docs_live);
    if (now >= state->next_compact_ms) {
        state->next_compact_ms = now + 10000;
        if (stats.docs_dead > 1000 && stats.docs_dead * 10 > stats.docs_live) {
            pthread_rwlock_wrlock (&state->lock);
            search_index_compact (state->index);
            pthread_rwlock_unlock (&state->lock);
        }
    }
}

static void
s_stop (oim_service_t *service)
{
    state_t *state = oim_service_state (service);
    search_sync_destroy (&state->sync);
    search_index_destroy (&state->index);
    pthread_rwlock_destroy (&state->lock);
    free (state);
}

//  ---------------------------------------------------------------------------------------
//  GET /v1/search

//  Splits a comma-separated parameter into values (pointers into buf). Returns the count.
static size_t
s_split (const char *text, char *buf, size_t buf_size, const char **values, size_t max)
{
    snprintf (buf, buf_size, "%s", text? text: "");
    size_t n = 0;
    char *save = NULL;
    for (char *v = strtok_r (buf, ",", &save); v && n < max; v = strtok_r (NULL, ",", &save))
        if (*v)
            values [n++] = v;
    return n;
}

typedef struct {
    char buffers [SEARCH_FACET_COUNT][1024];
    const char *values [SEARCH_FACET_COUNT][16];
} filters_t;

//  Fills query from the request. Returns 0 or -1 with a 400 in reply.
static int
s_parse_query (const Oim__V1__ApiRequest *request, search_query_t *query, filters_t *filters,
               oim_api_reply_t *reply)
{
    memset (query, 0, sizeof *query);
    query->q = oim_api_query (request, "q");
    //  like=<id>: that document's text (a demand, say) as a long query
    query->like = oim_api_query (request, "like");
    if (query->like && (!*query->like || (query->q && *query->q))) {
        oim_api_error (reply, 400, "invalid", "like", *query->like? "give q or like, not both"
                       : "like must be a document id");
        return -1;
    }
    query->cursor = oim_api_query (request, "cursor");
    const char *limit = oim_api_query (request, "limit");
    if (limit) {
        char *end;
        long n = strtol (limit, &end, 10);
        if (!*limit || *end || n < 1 || n > SEARCH_MAX_LIMIT) {
            oim_api_error (reply, 400, "invalid", "limit", "limit must be an integer from 1 to %d",
                           SEARCH_MAX_LIMIT);
            return -1;
        }
        query->limit = (size_t) n;
    }
    const char *type = oim_api_query (request, "type");
    if (type && *type && strcmp (type, "startup") && strcmp (type, "company") && strcmp (type, "demand")) {
        oim_api_error (reply, 400, "invalid", "type", "type must be startup, company or demand");
        return -1;
    }
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        const char *text = oim_api_query (request, s_facet_names [f]);
        query->filter_counts [f] = s_split (text, filters->buffers [f], sizeof filters->buffers [f],
                                            filters->values [f], 16);
        query->filters [f] = filters->values [f];
    }
    //  facets=industry,region (or "none"): which facet fields to count. By default the four
    //  the API documents plus type; none on later pages, whose facets equal the first page's.
    const char *wanted = oim_api_query (request, "facets");
    if (wanted) {
        char buf [256];
        const char *names [SEARCH_FACET_COUNT + 1];
        size_t n = s_split (wanted, buf, sizeof buf, names, SEARCH_FACET_COUNT + 1);
        for (size_t i = 0; i < n; i++) {
            int f = 0;
            while (f < SEARCH_FACET_COUNT && strcmp (names [i], s_facet_names [f]))
                f++;
            if (f < SEARCH_FACET_COUNT)
                query->facet_mask |= 1u << f;
            else
            if (strcmp (names [i], "none")) {
                oim_api_error (reply, 400, "invalid", "facets", "unknown facet '%s'", names [i]);
                return -1;
            }
        }
        query->no_facets = query->facet_mask == 0;
    }
    else
    if (query->cursor && *query->cursor)
        query->no_facets = true;
    else
        query->facet_mask = 1u << SEARCH_FACET_TYPE | 1u << SEARCH_FACET_INDUSTRY
                          | 1u << SEARCH_FACET_REGION | 1u << SEARCH_FACET_STAGE | 1u << SEARCH_FACET_TAG;
    const char *prefix = oim_api_query (request, "prefix");
    query->prefix_last = prefix && strcmp (prefix, "true") == 0;
    Oim__V1__Principal *p = request->principal;
    query->viewer.org_id = p && *p->org_id? p->org_id: NULL;
    query->viewer.agency = p && p->role == OIM__V1__ROLE__ROLE_AGENCY;
    return 0;
}

//  The highlighted words of an <em>-marked HTML text, unescaped, into the set.
static void
s_highlights (const char *html, json_t *set)
{
    for (const char *p = html? strstr (html, "<em>"): NULL; p; p = strstr (p, "<em>")) {
        p += 4;
        const char *end = strstr (p, "</em>");
        if (!end)
            break;
        char word [256];
        size_t n = 0;
        for (const char *c = p; c < end && n + 1 < sizeof word; c++) {
            static const struct { const char *entity; char c; } entities [] = {
                { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&#39;", '\'' } };
            bool replaced = false;
            for (size_t e = 0; e < 5 && !replaced; e++)
                if (strncmp (c, entities [e].entity, strlen (entities [e].entity)) == 0) {
                    word [n++] = entities [e].c;
                    c += strlen (entities [e].entity) - 1;
                    replaced = true;
                }
            if (!replaced)
                word [n++] = *c;
        }
        word [n] = 0;
        json_object_set_new (set, word, json_true ());
        p = end;
    }
}

static json_t *
s_hit_json (const search_hit_t *hit)
{
    static const char *types [] = { "startup", "company", "demand" };
    json_t *set = json_object ();
    s_highlights (hit->title_html, set);
    s_highlights (hit->snippet_html, set);
    json_t *highlights = json_array ();
    const char *word;
    json_t *value;
    json_object_foreach (set, word, value)
        json_array_append_new (highlights, json_string (word));
    json_decref (set);
    return json_pack ("{s:s,s:s,s:f,s:s,s:s,s:s,s:o}", "id", hit->id, "type", types [hit->type],
                      "score", hit->score, "title", hit->title? hit->title: "",
                      "title_html", hit->title_html? hit->title_html: "",
                      "snippet", hit->snippet_html? hit->snippet_html: "", "highlights", highlights);
}

static json_t *
s_result_json (const search_result_t *result)
{
    json_t *hits = json_array ();
    for (size_t i = 0; i < result->hit_count; i++)
        json_array_append_new (hits, s_hit_json (&result->hits [i]));
    json_t *facets = json_object ();
    for (int f = 0; f < SEARCH_FACET_COUNT; f++) {
        json_t *counts = json_object ();
        for (size_t i = 0; i < result->facet_sizes [f]; i++)
            json_object_set_new (counts, result->facets [f][i].value,
                                 json_integer (result->facets [f][i].count));
        json_object_set_new (facets, s_facet_names [f], counts);
    }
    return json_pack ("{s:I,s:O,s:o,s:o,s:s?,s:f}", "total", (json_int_t) result->total, "items", hits, "hits", hits,
                      "facets", facets, "next_cursor", result->next_cursor, "took_ms", result->took_ms);
}

static void
s_search (oim_service_t *service, const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    state_t *state = oim_service_state (service);
    search_query_t query;
    filters_t filters;
    if (s_parse_query (request, &query, &filters, reply))
        return;
    search_result_t *result = NULL;
    pthread_rwlock_rdlock (&state->lock);
    if (state->ready && query.viewer.org_id && !query.viewer.agency
    &&  search_index_version (state->index, query.viewer.org_id) == 0)
        query.viewer.org_id = NULL;     //  not an active member: anonymous
    int rc = state->ready? search_index_search (state->index, &query, &result): -3;
    pthread_rwlock_unlock (&state->lock);
    if (rc == -3)
        oim_api_error (reply, 503, "unavailable", NULL, "the search index is not loaded yet");
    else
    if (rc == -2)
        oim_api_error (reply, 400, "invalid", "cursor", "the cursor is malformed or has expired");
    else
    if (rc == 1)
        oim_api_error (reply, 404, "not_found", "like", "no document %s", query.like);
    else
    if (rc < 0)
        oim_api_error (reply, 500, "internal", NULL, "the search failed");
    else
        oim_api_ok (reply, 200, s_result_json (result));
    search_result_destroy (&result);
}

//  GET /v1/suggest?q=&type=&limit=
static void
s_suggest (oim_service_t *service, const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    state_t *state = oim_service_state (service);
    const char *q = oim_api_query (request, "q");
    const char *type = oim_api_query (request, "type");
    int type_index = !type || !*type? -1: strcmp (type, "startup") == 0? SEARCH_TYPE_STARTUP
                   : strcmp (type, "company") == 0? SEARCH_TYPE_COMPANY
                   : strcmp (type, "demand") == 0? SEARCH_TYPE_DEMAND: -2;
    if (!q || !*q)
        oim_api_error (reply, 400, "invalid", "q", "q is required");
    else
    if (type_index == -2)
        oim_api_error (reply, 400, "invalid", "type", "type must be startup, company or demand");
    else {
        search_suggestion_t *items = NULL;
        pthread_rwlock_rdlock (&state->lock);
        int n = state->ready? search_index_suggest (state->index, q, type_index, 10, &items): -3;
        pthread_rwlock_unlock (&state->lock);
        if (n == -3) {
            oim_api_error (reply, 503, "unavailable", NULL, "the search index is not loaded yet");
            return;
        }
        json_t *list = json_array ();
        for (int i = 0; i < n; i++)
            json_array_append_new (list, json_pack ("{s:s,s:s,s:i}", "text", items [i].text,
                                   "kind", items [i].is_tag? "tag": "name", "count", (int) items [i].count));
        search_suggestions_free (&items, n > 0? (size_t) n: 0);
        oim_api_ok (reply, n < 0? 500: 200, json_pack ("{s:o}", "suggestions", list));
    }
}

static const oim_method_t s_methods [] = {
    { "search.query", s_search, NULL },
    { "search.suggest", s_suggest, NULL },
    { NULL, NULL, NULL }
};

static const oim_option_t s_options [] = {
    { "threads", "OIM_SEARCH_THREADS", "2", "threads answering queries over the one index "
      "(each is a worker of the broker; 1 = the loop's only; at most 64)", false },
    OIM_OPTION_END
};

const oim_service_def_t search_service = {
    .name = "search",
    .summary = "bilingual full-text and faceted search over startups, companies and demands",
    .options = s_options,
    .methods = s_methods,
    .start = s_start,
    .tick = s_tick,
    .stop = s_stop,
    .tick_msec = 10,
};
