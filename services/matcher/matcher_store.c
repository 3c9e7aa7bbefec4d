/*  matcher_store — the store: matches in Redis. Reading them (WATCHed when a transaction
    follows), writing them (one SET and index entries, or a demand's matches merged into a
    few commands), the organizations' index sets, and the explanation stored with a match.
    See matcher_store.h for the contract and matcher_store_internal.h for the other files.
*/
#include "matcher_store_internal.h"

//  The wall clock as RFC 3339 into buf (formatted once per millisecond: a batch stamps
//  hundreds of matches).
void
matcher_store_now (matcher_store_t *self, char *buf)
{
    int64_t ms = oim_clock_wall_ms ();
    if (ms != self->now_ms || !self->now [0]) {
        oim_clock_rfc3339 (ms, self->now);
        self->now_ms = ms;
    }
    memcpy (buf, self->now, OIM_RFC3339_SIZE);
}

//  --------------------------------------------------------------------------------------
//  Lifecycle

matcher_store_t *
matcher_store_new (oim_redis_t *redis, matcher_model_t *model,
                   const matcher_store_config_t *config)
{
    matcher_store_t *self = calloc (1, sizeof *self);
    assert (self);
    self->redis = redis;
    self->model = model;
    self->config = *config;
    return self;
}

void
matcher_store_destroy (matcher_store_t **self_p)
{
    if (*self_p) {
        oim_redis_tx_destroy (&(*self_p)->spare_tx);
        free ((*self_p)->spare_ev);
        free ((*self_p)->scores);
        free ((*self_p)->names);
    }
    free (*self_p);
    *self_p = NULL;
}

void
matcher_store_counts (matcher_store_t *self, matcher_store_counts_t *counts)
{
    *counts = self->counts;
}

void
matcher_store_use (matcher_store_t *self, oim_redis_t *redis)
{
    self->redis = redis;
}

//  --------------------------------------------------------------------------------------
//  Match helpers

//  Replaces a string field (value may be the field's own current string).
void
matcher_set_str (char **field, const char *value)
{
    char *copy = strdup (value? value: "");
    assert (copy);
    if (*field && *field != protobuf_c_empty_string)
        free (*field);
    *field = copy;
}

void
matcher_match_free (match_t **m_p)
{
    if (*m_p)
        protobuf_c_message_free_unpacked (&(*m_p)->base, NULL);
    *m_p = NULL;
}

static match_t *
s_match_unpack (const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING)
        return NULL;
    return oim__v1__match__unpack (NULL, r->len, (const uint8_t *) r->str);
}

static void
s_clear_explanation (match_t *m)
{
    for (size_t i = 0; i < m->n_explanation; i++)
        protobuf_c_message_free_unpacked (&m->explanation [i]->base, NULL);
    free (m->explanation);
    m->explanation = NULL;
    m->n_explanation = 0;
}

//  Factor f of score as stored, its strings borrowed (the factor name, score's detail).
void
matcher_factor_fill (Oim__V1__Factor *factor, const matcher_score_t *score, int f)
{
    oim__v1__factor__init (factor);
    factor->factor = (char *) matcher_factor_names [f];
    factor->weight = round (score->factors [f].weight * 1e6) / 1e6;
    factor->value = score->factors [f].value;
    factor->contribution = (double) score->factors [f].units / MATCHER_UNITS;
    factor->detail = (char *) score->factors [f].detail;
}

//  Sets m's explanation and score (m owns them: an unpacked match).
void
matcher_set_score (match_t *m, const matcher_score_t *score)
{
    s_clear_explanation (m);
    m->explanation = calloc (MATCHER_FACTORS, sizeof *m->explanation);
    assert (m->explanation);
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        Oim__V1__Factor *factor = calloc (1, sizeof *factor);
        assert (factor);
        matcher_factor_fill (factor, score, f);
        factor->factor = NULL;
        matcher_set_str (&factor->factor, matcher_factor_names [f]);
        factor->detail = NULL;
        matcher_set_str (&factor->detail, score->factors [f].detail);
        m->explanation [f] = factor;
    }
    m->n_explanation = MATCHER_FACTORS;
    m->score = (double) score->units / MATCHER_UNITS;
}

//  True when the stored explanation differs from a fresh score (values or details).
bool
matcher_score_differs (const match_t *m, const matcher_score_t *score)
{
    if (llround (m->score * MATCHER_UNITS) != score->units
        || m->n_explanation != MATCHER_FACTORS)
        return true;
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        const Oim__V1__Factor *factor = m->explanation [f];
        if (llround (factor->contribution * MATCHER_UNITS) != score->factors [f].units
            || fabs (factor->value - score->factors [f].value) > 1e-9
            || fabs (factor->weight - round (score->factors [f].weight * 1e6) / 1e6) > 1e-9
            || strcmp (factor->detail, score->factors [f].detail))
            return true;
    }
    return false;
}


void
matcher_touch (matcher_store_t *self, match_t *m)
{
    char now [OIM_RFC3339_SIZE];
    matcher_store_now (self, now);
    matcher_set_str (&m->updated_at, now);
    m->version++;
}

//  --------------------------------------------------------------------------------------
//  Writing matches

//  Queues the organizations' index entries of match m: the startup's set of match ids, and
//  the company's set of demands with matches (OIM_KEY_ORG_MATCH_DEMANDS: its matches are
//  those demands'; one set member per demand where one per match cost Redis most of a
//  batch's time, the company's set growing by K members per demand).
static void
s_tx_members (matcher_tx_t *tx, const match_t *m)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCHES, m->startup_id);
    oim_redis_tx_sadd (tx->redis_tx, key, m->id);
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCH_DEMANDS, m->company_id);
    oim_redis_tx_sadd (tx->redis_tx, key, m->demand_id);
}

//  Queues SET of the match plus its index entries.
void
matcher_tx_match (matcher_store_t *self, matcher_tx_t *tx, const match_t *m)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_MATCH, m->id);
    const char *set [2] = { "SET", key };
    oim_redis_tx_packed (tx->redis_tx, 2, set, &m->base);
    snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, m->demand_id);
    const char *hset [4] = { "HSET", key, m->startup_id, m->id };
    oim_redis_tx_add (tx->redis_tx, 4, hset, NULL);
    snprintf (key, sizeof key, OIM_KEY_DEMAND_TOP, m->demand_id);
    if (m->in_top && !streq (m->state, "withdrawn")) {
        char units [32];
        matcher_int_text ((long long) llround (m->score * MATCHER_UNITS), units);
        oim_redis_tx_strs (tx->redis_tx, "ZADD", key, units, m->startup_id, NULL);
    }
    else
        oim_redis_tx_strs (tx->redis_tx, "ZREM", key, m->startup_id, NULL);
    s_tx_members (tx, m);
    self->counts.writes++;
}

void
matcher_writes_match (matcher_store_t *self, matcher_tx_t *tx, matcher_writes_t *w,
                      const match_t *m)
{
    char key [OIM_KEY_SIZE];
    if (w->mset.argc == 0) {
        oim_redis_args_str (&w->mset, "MSET");
        oim_redis_args_str (&w->hset, "HSET");
        snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, m->demand_id);
        oim_redis_args_str (&w->hset, key);
        snprintf (key, sizeof key, OIM_KEY_DEMAND_TOP, m->demand_id);
        oim_redis_args_str (&w->zadd, "ZADD");
        oim_redis_args_str (&w->zadd, key);
        oim_redis_args_str (&w->zrem, "ZREM");
        oim_redis_args_str (&w->zrem, key);
    }
    snprintf (key, sizeof key, OIM_KEY_MATCH, m->id);
    oim_redis_args_str (&w->mset, key);
    oim_redis_args_packed (&w->mset, &m->base);
    oim_redis_args_str (&w->hset, m->startup_id);
    oim_redis_args_str (&w->hset, m->id);
    if (m->in_top && !streq (m->state, "withdrawn")) {
        char units [32];
        matcher_int_text ((long long) llround (m->score * MATCHER_UNITS), units);
        oim_redis_args_str (&w->zadd, units);
        oim_redis_args_str (&w->zadd, m->startup_id);
    }
    else
        oim_redis_args_str (&w->zrem, m->startup_id);
    s_tx_members (tx, m);
    self->counts.writes++;
}

//  Moves the merged writes into tx (after the events queued so far: one MULTI, so the
//  order inside it does not matter) and empties w.
void
matcher_writes_flush (matcher_tx_t *tx, matcher_writes_t *w)
{
    oim_redis_tx_add_args (tx->redis_tx, &w->mset, 1);
    oim_redis_tx_add_args (tx->redis_tx, &w->hset, 2);
    oim_redis_tx_add_args (tx->redis_tx, &w->zadd, 2);
    oim_redis_tx_add_args (tx->redis_tx, &w->zrem, 2);
}

//  --------------------------------------------------------------------------------------
//  Reading matches

//  Reads the matches named by an array reply of ids (after WATCHing them). Returns a new
//  array of n (entries NULL when missing), or NULL on failure.
match_t **
matcher_read_matches (matcher_store_t *self, char **ids, size_t n, bool watch)
{
    match_t **out = calloc (n + 1, sizeof *out);
    assert (out);
    if (n == 0)
        return out;
    const char **argv = calloc (n + 1, sizeof *argv);
    char **keys = calloc (n, sizeof *keys);
    assert (argv && keys);
    for (size_t i = 0; i < n; i++) {
        keys [i] = malloc (OIM_KEY_SIZE);
        assert (keys [i]);
        snprintf (keys [i], OIM_KEY_SIZE, OIM_KEY_MATCH, ids [i]);
        argv [i + 1] = keys [i];
    }
    bool ok = true;
    if (watch) {
        argv [0] = "WATCH";
        redisReply *r = oim_redis_commandv (self->redis, (int) n + 1, argv, NULL);
        ok = r && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject (r);
    }
    if (ok) {
        argv [0] = "MGET";
        redisReply *r = oim_redis_commandv (self->redis, (int) n + 1, argv, NULL);
        ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == n;
        for (size_t i = 0; ok && i < n; i++)
            out [i] = s_match_unpack (r->element [i]);
        if (r) freeReplyObject (r);
    }
    for (size_t i = 0; i < n; i++)
        free (keys [i]);
    free (keys);
    free (argv);
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            matcher_match_free (&out [i]);
        free (out);
        return NULL;
    }
    return out;
}

void
matcher_free_matches (match_t **ms, size_t n)
{
    if (!ms)
        return;
    for (size_t i = 0; i < n; i++)
        matcher_match_free (&ms [i]);
    free (ms);
}

//  The matches named by an array reply of ids (*n of them; entries NULL when missing), or
//  NULL when r is not one (Redis failed) or the matches could not be read.
match_t **
matcher_read_reply_matches (matcher_store_t *self, const redisReply *r, size_t *n)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    char **ids = calloc (r->elements + 1, sizeof *ids);
    assert (ids);
    for (size_t i = 0; i < r->elements; i++)
        ids [i] = r->element [i]->str;
    *n = r->elements;
    match_t **ms = matcher_read_matches (self, ids, *n, false);
    free (ids);
    return ms;
}
