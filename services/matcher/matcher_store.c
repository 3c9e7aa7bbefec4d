/*  matcher_store — matches in Redis, their workflow and their events. See the header. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "matcher_store.h"
#include "oim_api.h"
#include "oim_clock.h"
#include "oim_id.h"
#include "oim_keys.h"
#include "oim_log.h"
#include "oim_pbjson.h"
#include "matcher.pb-c.h"
#include "notify.pb-c.h"
#include "changelog.pb-c.h"

#define MAX_RETRIES     32
#define MAX_REASON      1000
#define BATCH_EVENTS    256         //  recipients per oim:events entry at most (bounds its
                                    //  size): an Event with N copies counts 1 + N

struct _matcher_store_t {
    oim_redis_t *redis;
    matcher_model_t *model;
    matcher_store_config_t config;
    matcher_store_counts_t counts;
    int64_t now_ms;                 //  s_now's last time, and its text
    char now [OIM_RFC3339_SIZE];
    char *spare_cmds;               //  a finished transaction's buffers, for the next one
    size_t spare_cmds_cap;
    uint8_t *spare_ev;
    size_t spare_ev_cap;
    char parsed [OIM_RFC3339_SIZE]; //  s_time_ms's last text, and its time
    int64_t parsed_ms;
    matcher_score_t *scores;        //  s_reconcile_compute's top K: explanations, names
    const char **names;
};

//  The wall clock as RFC 3339 into buf (formatted once per millisecond: a batch stamps
//  hundreds of matches).
static void
s_now (matcher_store_t *self, char *buf)
{
    int64_t ms = oim_clock_wall_ms ();
    if (ms != self->now_ms || !self->now [0]) {
        oim_clock_rfc3339 (ms, self->now);
        self->now_ms = ms;
    }
    memcpy (buf, self->now, OIM_RFC3339_SIZE);
}

typedef Oim__V1__Match match_t;

//  --------------------------------------------------------------------------------------
//  A growing byte buffer (aborts on no memory, like the rest of this file's allocations);
//  data stays NUL-terminated.

typedef struct {
    char *data;
    size_t len, cap;
} s_text_t;

//  Makes room for len more bytes; returns where they go (the caller writes them, then adds
//  len to t->len and terminates).
static char *
s_text_reserve (s_text_t *t, size_t len)
{
    if (t->len + len + 1 > t->cap) {
        t->cap = (t->len + len + 1) * 2;
        if (t->cap < 512)
            t->cap = 512;           //  most texts are a few hundred bytes: one allocation
        t->data = realloc (t->data, t->cap);
        assert (t->data);
    }
    return t->data + t->len;
}

static void
s_text_add (s_text_t *t, const char *data, size_t len)
{
    memcpy (s_text_reserve (t, len), data, len);
    t->len += len;
    t->data [t->len] = 0;
}

//  A decimal integer into buf (24 bytes): what "%lld" prints.
static void
s_int_text (long long value, char *buf)
{
    char digits [24];
    size_t i = sizeof digits;
    unsigned long long u = value < 0? 0ULL - (unsigned long long) value: (unsigned long long) value;
    digits [--i] = 0;
    do {
        digits [--i] = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    if (value < 0)
        digits [--i] = '-';
    memcpy (buf, digits + i, sizeof digits - i);
}

//  RESP, written straight into a buffer (what hiredis' formatter would produce, without its
//  per-argument copies): "*<n>\r\n" heads a command of n arguments, "$<n>\r\n" an argument.
#define RESP_HEAD_MAX   24          //  type, 20 digits, CRLF

//  Writes the head of type for n at at (RESP_HEAD_MAX bytes); returns its length.
static size_t
s_resp_head_at (char *at, char type, size_t n)
{
    char digits [20];
    size_t i = sizeof digits;
    do {
        digits [--i] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);
    size_t len = sizeof digits - i;
    at [0] = type;
    memcpy (at + 1, digits + i, len);
    memcpy (at + 1 + len, "\r\n", 2);
    return len + 3;
}

static void
s_resp_head (s_text_t *t, char type, size_t n)
{
    t->len += s_resp_head_at (s_text_reserve (t, RESP_HEAD_MAX), type, n);
    t->data [t->len] = 0;
}

//  An argument, head and data in one step (commands are mostly short arguments).
static void
s_resp_arg (s_text_t *t, const char *data, size_t len)
{
    char *at = s_text_reserve (t, RESP_HEAD_MAX + len + 2);
    size_t head = s_resp_head_at (at, '$', len);
    memcpy (at + head, data, len);
    memcpy (at + head + len, "\r\n", 2);
    t->len += head + len + 2;
    t->data [t->len] = 0;
}

//  An argument: msg packed in place.
static void
s_resp_packed (s_text_t *t, const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    s_resp_head (t, '$', size);
    uint8_t *at = (uint8_t *) s_text_reserve (t, size + 2);
    size_t packed = protobuf_c_message_pack (msg, at);
    assert (packed == size);
    memcpy (at + size, "\r\n", 2);
    t->len += size + 2;
    t->data [t->len] = 0;
}

//  --------------------------------------------------------------------------------------
//  A transaction: commands collected (formatted), then sent as MULTI ... EXEC in one
//  pipeline.
//
//  The transaction's events are not commands of their own: they are collected as the
//  records of an EventBatch (field 1: tag 0x0A, varint length, the packed Event) and written
//  by s_tx_exec as one XADD oim:events * b <EventBatch> per BATCH_EVENTS recipients ("e"
//  when an entry would hold a single event). Redis then stores one stream entry where it
//  stored one per event (~38 per demand): per-command cost was most of Redis' work.
typedef struct {
    s_text_t cmds;                  //  MULTI and the commands, in RESP
    size_t count;                   //  how many
    bool sealed;                    //  complete: MULTI ... EXEC
    size_t written;                 //  bytes of cmds written to Redis (once sealed)
    uint8_t *ev;                    //  the EventBatch records, back to back
    size_t ev_len, ev_cap;
    size_t *ev_at;                  //  where each record starts in ev
    uint8_t *ev_head;               //  each record's tag + length bytes
    size_t *ev_recipients;          //  each record's recipients: 1 + the Event's copies
    size_t ev_count, ev_slots;
    s_text_t members;               //  SADDs to organizations' sets: "key\0member\0"...
    size_t *member_at;              //  where each pair starts in members
    size_t member_count, member_slots;
} s_tx_t;

//  Starts a command in tx->cmds; the first one is preceded by MULTI, so that the buffer is
//  the whole pipeline once s_tx_exec adds EXEC.
static void
s_tx_begin_cmd (s_tx_t *tx)
{
    if (tx->cmds.len == 0)
        s_text_add (&tx->cmds, "*1\r\n$5\r\nMULTI\r\n", 15);
}

//  Queues a command; len NULL = the arguments are strings.
static void
s_tx_add (s_tx_t *tx, int argc, const char *const *argv, const size_t *len)
{
    s_tx_begin_cmd (tx);
    s_resp_head (&tx->cmds, '*', (size_t) argc);
    for (int i = 0; i < argc; i++)
        s_resp_arg (&tx->cmds, argv [i], len? len [i]: strlen (argv [i]));
    tx->count++;
}

static void
s_tx_strs (s_tx_t *tx, const char *a, const char *b, const char *c, const char *d)
{
    const char *argv [4] = { a, b, c, d };
    int argc = d? 4: c? 3: 2;
    s_tx_add (tx, argc, argv, NULL);
}

//  Queues "cmd key [a b] <msg packed>".
static void
s_tx_packed (s_tx_t *tx, const char *cmd, const char *key, const char *a, const char *b,
             const ProtobufCMessage *msg)
{
    s_tx_begin_cmd (tx);
    s_resp_head (&tx->cmds, '*', a? 5: 3);
    s_resp_arg (&tx->cmds, cmd, strlen (cmd));
    s_resp_arg (&tx->cmds, key, strlen (key));
    if (a) {
        s_resp_arg (&tx->cmds, a, strlen (a));
        s_resp_arg (&tx->cmds, b, strlen (b));
    }
    s_resp_packed (&tx->cmds, msg);
    tx->count++;
}

//  Queues an event (copied: the caller keeps event) for the transaction's EventBatch.
static void
s_tx_event_add (s_tx_t *tx, const Oim__V1__Event *event)
{
    size_t size = oim__v1__event__get_packed_size (event);
    if (tx->ev_len + size + 11 > tx->ev_cap) {
        tx->ev_cap = (tx->ev_len + size + 11) * 2;
        tx->ev = realloc (tx->ev, tx->ev_cap);
        assert (tx->ev);
    }
    if (tx->ev_count == tx->ev_slots) {
        tx->ev_slots = tx->ev_slots? tx->ev_slots * 2: 64;
        tx->ev_at = realloc (tx->ev_at, tx->ev_slots * sizeof *tx->ev_at);
        tx->ev_head = realloc (tx->ev_head, tx->ev_slots * sizeof *tx->ev_head);
        tx->ev_recipients = realloc (tx->ev_recipients,
                                     tx->ev_slots * sizeof *tx->ev_recipients);
        assert (tx->ev_at && tx->ev_head && tx->ev_recipients);
    }
    uint8_t *record = tx->ev + tx->ev_len;
    uint8_t head = 0;
    record [head++] = 0x0A;         //  field 1, length-delimited
    for (size_t value = size; ; ) {
        uint8_t byte = value & 0x7F;
        value >>= 7;
        record [head++] = value? byte | 0x80: byte;
        if (!value)
            break;
    }
    size_t packed = oim__v1__event__pack (event, record + head);
    assert (packed == size);
    tx->ev_at [tx->ev_count] = tx->ev_len;
    tx->ev_recipients [tx->ev_count] = 1 + event->n_copies;
    tx->ev_head [tx->ev_count++] = head;
    tx->ev_len += head + size;
}

//  Queues "SADD <key> <member>" for an organization's set; s_tx_exec merges those of one
//  key into one SADD (a batch of demands has one company's demands many times, and may
//  match a startup more than once).
static void
s_tx_member (s_tx_t *tx, const char *key, const char *member)
{
    if (tx->member_count == tx->member_slots) {
        tx->member_slots = tx->member_slots? tx->member_slots * 2: 256;
        tx->member_at = realloc (tx->member_at, tx->member_slots * sizeof *tx->member_at);
        assert (tx->member_at);
    }
    tx->member_at [tx->member_count++] = tx->members.len;
    s_text_add (&tx->members, key, strlen (key) + 1);
    s_text_add (&tx->members, member, strlen (member) + 1);
}

//  Queues the organizations' index entries of match m: the startup's set of match ids, and
//  the company's set of demands with matches (OIM_KEY_ORG_MATCH_DEMANDS: its matches are
//  those demands'; one set member per demand where one per match cost Redis most of a
//  batch's time, the company's set growing by K members per demand).
static void
s_tx_members (s_tx_t *tx, const match_t *m)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCHES, m->startup_id);
    s_tx_member (tx, key, m->id);
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCH_DEMANDS, m->company_id);
    s_tx_member (tx, key, m->demand_id);
}

static void s_tx_flush_members (s_tx_t *tx);

static void
s_tx_clear (s_tx_t *tx)
{
    free (tx->members.data);
    free (tx->member_at);
    free (tx->cmds.data);
    free (tx->ev);
    free (tx->ev_at);
    free (tx->ev_head);
    free (tx->ev_recipients);
    memset (tx, 0, sizeof *tx);
}

//  A batch transaction holds megabytes: fresh buffers each time cost page faults and
//  reallocations, so the store keeps the last ones (up to SPARE_MAX each) for the next.
#define SPARE_MAX   (16 * 1024 * 1024)

//  Starts tx with the store's spare buffers (empty).
static void
s_tx_init (matcher_store_t *self, s_tx_t *tx)
{
    memset (tx, 0, sizeof *tx);
    tx->cmds.data = self->spare_cmds;
    tx->cmds.cap = self->spare_cmds_cap;
    if (tx->cmds.data)
        tx->cmds.data [0] = 0;
    tx->ev = self->spare_ev;
    tx->ev_cap = self->spare_ev_cap;
    self->spare_cmds = NULL;
    self->spare_ev = NULL;
    self->spare_cmds_cap = self->spare_ev_cap = 0;
}

//  Clears tx, keeping its buffers as the store's spares when they are the larger ones.
static void
s_tx_done (matcher_store_t *self, s_tx_t *tx)
{
    if (tx->cmds.cap > self->spare_cmds_cap && tx->cmds.cap <= SPARE_MAX) {
        free (self->spare_cmds);
        self->spare_cmds = tx->cmds.data;
        self->spare_cmds_cap = tx->cmds.cap;
        tx->cmds.data = NULL;
    }
    if (tx->ev_cap > self->spare_ev_cap && tx->ev_cap <= SPARE_MAX) {
        free (self->spare_ev);
        self->spare_ev = tx->ev;
        self->spare_ev_cap = tx->ev_cap;
        tx->ev = NULL;
    }
    s_tx_clear (tx);
}

//  The end of the entry whose first record is first: as many records as fit in BATCH_EVENTS
//  recipients (at least one).
static size_t
s_tx_events_end (const s_tx_t *tx, size_t first)
{
    size_t end = first + 1;
    size_t recipients = tx->ev_recipients [first];
    while (end < tx->ev_count && recipients + tx->ev_recipients [end] <= BATCH_EVENTS)
        recipients += tx->ev_recipients [end++];
    return end;
}

//  Adds the XADDs of the transaction's events to its commands: one entry per BATCH_EVENTS
//  recipients, "b" = EventBatch, or "e" = the Event when an entry holds one.
static void
s_tx_add_events (s_tx_t *tx)
{
    for (size_t first = 0, end; first < tx->ev_count; first = end) {
        end = s_tx_events_end (tx, first);
        size_t from = tx->ev_at [first];
        size_t to = end < tx->ev_count? tx->ev_at [end]: tx->ev_len;
        bool single = end - first == 1;
        if (single)
            from += tx->ev_head [first];
        const char *argv [5] = { "XADD", OIM_STREAM_EVENTS, "*", single? "e": "b",
                                 (const char *) tx->ev + from };
        size_t len [5] = { 4, strlen (OIM_STREAM_EVENTS), 1, 1, to - from };
        s_tx_add (tx, 5, argv, len);
    }
}

//  Writes more of a sealed transaction: what the connection takes now (block false), or
//  the rest. 0, or -1 when Redis failed.
static int
s_tx_write (oim_redis_t *redis, s_tx_t *tx, bool block)
{
    return oim_redis_write (redis, tx->cmds.data, tx->cmds.len, &tx->written, block);
}

//  Completes the transaction: its merged SADDs, its events' XADDs, EXEC (once).
static void
s_tx_seal (s_tx_t *tx)
{
    if (tx->sealed)
        return;
    s_tx_flush_members (tx);
    s_tx_add_events (tx);
    s_tx_begin_cmd (tx);            //  (MULTI, when tx is empty)
    s_text_add (&tx->cmds, "*1\r\n$4\r\nEXEC\r\n", 14);
    tx->sealed = true;
}

//  Seals the transaction and writes what the connection takes now, without waiting for
//  Redis to read the rest (s_tx_write writes more, s_tx_finish all). Redis runs nothing of
//  it before EXEC: it gets the whole transaction, or, when the connection fails, discards
//  it. 0, or -1 when Redis failed.
static int
s_tx_send (oim_redis_t *redis, s_tx_t *tx)
{
    s_tx_seal (tx);
    return s_tx_write (redis, tx, false);
}

//  Reads the replies of a sent transaction of count commands: 1 committed, 0 a WATCHed key
//  changed (EXEC nil), -1 Redis failed.
static int
s_tx_replies (oim_redis_t *redis, size_t count)
{
    bool failed = false;
    for (size_t i = 0; i < count + 1; i++) {
        redisReply *reply = oim_redis_reply (redis);
        if (!reply)
            return -1;
        if (reply->type == REDIS_REPLY_ERROR) {
            oim_error ("event=tx_error error=\"%s\"", reply->str);
            failed = true;
        }
        freeReplyObject (reply);
    }
    redisReply *exec = oim_redis_reply (redis);
    if (!exec)
        return -1;
    int rc = exec->type == REDIS_REPLY_NIL? 0
           : exec->type == REDIS_REPLY_ARRAY && !failed? 1: -1;
    freeReplyObject (exec);
    return rc;
}

//  Completes a transaction s_tx_send started (sent: what it returned): writes the rest, reads
//  the replies. Returns as s_tx_replies;
//  clears tx either way.
static int
s_tx_finish (matcher_store_t *self, oim_redis_t *redis, s_tx_t *tx, int sent)
{
    int rc = sent || s_tx_write (redis, tx, true)? -1: s_tx_replies (redis, tx->count);
    if (rc == 0)
        self->counts.conflicts++;
    s_tx_done (self, tx);
    return rc;
}

//  Runs the transaction. Returns 1 when committed, 0 when a WATCHed key changed (EXEC nil),
//  -1 when Redis failed. Clears tx either way.
static int
s_tx_exec (matcher_store_t *self, s_tx_t *tx)
{
    return s_tx_finish (self, self->redis, tx, s_tx_send (self->redis, tx));
}

static void
s_unwatch_on (oim_redis_t *redis)
{
    redisReply *reply = oim_redis_command (redis, "UNWATCH");
    if (reply)
        freeReplyObject (reply);
}

static void
s_unwatch (matcher_store_t *self)
{
    s_unwatch_on (self->redis);
}

//  --------------------------------------------------------------------------------------
//  Match helpers

//  Replaces a string field (value may be the field's own current string).
static void
s_set_str (char **field, const char *value)
{
    char *copy = strdup (value? value: "");
    assert (copy);
    if (*field && *field != protobuf_c_empty_string)
        free (*field);
    *field = copy;
}

static void
s_match_free (match_t **m_p)
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
static void
s_factor_fill (Oim__V1__Factor *factor, const matcher_score_t *score, int f)
{
    oim__v1__factor__init (factor);
    factor->factor = (char *) matcher_factor_names [f];
    factor->weight = round (score->factors [f].weight * 1e6) / 1e6;
    factor->value = score->factors [f].value;
    factor->contribution = (double) score->factors [f].units / MATCHER_UNITS;
    factor->detail = (char *) score->factors [f].detail;
}

//  Sets m's explanation and score (m owns them: an unpacked match).
static void
s_set_score (match_t *m, const matcher_score_t *score)
{
    s_clear_explanation (m);
    m->explanation = calloc (MATCHER_FACTORS, sizeof *m->explanation);
    assert (m->explanation);
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        Oim__V1__Factor *factor = calloc (1, sizeof *factor);
        assert (factor);
        s_factor_fill (factor, score, f);
        factor->factor = NULL;
        s_set_str (&factor->factor, matcher_factor_names [f]);
        factor->detail = NULL;
        s_set_str (&factor->detail, score->factors [f].detail);
        m->explanation [f] = factor;
    }
    m->n_explanation = MATCHER_FACTORS;
    m->score = (double) score->units / MATCHER_UNITS;
}

//  True when the stored explanation differs from a fresh score (values or details).
static bool
s_score_differs (const match_t *m, const matcher_score_t *score)
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


//  oim_clock_parse_rfc3339 of text (0 when it does not parse), remembering the last one: a
//  batch's events mostly carry the same time.
static int64_t
s_time_ms (matcher_store_t *self, const char *text)
{
    if (strcmp (text, self->parsed)) {
        int64_t ms = 0;
        oim_clock_parse_rfc3339 (text, &ms);
        if (strlen (text) >= sizeof self->parsed)
            return ms;
        strcpy (self->parsed, text);
        self->parsed_ms = ms;
    }
    return self->parsed_ms;
}

//  Event id: "ntf_" + 13 base32 of the change time (µs) + 8 base32 of a 40-bit hash of
//  (match or search id, version, type, recipient): the same change always gets the same id.
static void
s_event_id (matcher_store_t *self, const char *subject, int64_t version, const char *type,
            const char *org, const char *updated_at, char *buf)
{
    static const char alphabet [] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint64_t t = (uint64_t) s_time_ms (self, updated_at) * 1000;
    //  FNV-1a over "subject|version|type|org" (at most 511 bytes), without formatting it
    char ver [24];
    s_int_text ((long long) version, ver);
    const char *parts [7] = { subject, "|", ver, "|", type, "|", org };
    uint64_t h = 1469598103934665603ULL;
    size_t left = 511;
    for (int i = 0; i < 7 && left; i++)
        for (const char *p = parts [i]; *p && left; p++, left--)
            h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    memcpy (buf, "ntf_", 4);
    for (int i = 12; i >= 0; i--, t >>= 5)
        buf [4 + i] = alphabet [t & 31];
    for (int i = 7; i >= 0; i--, h >>= 5)
        buf [17 + i] = alphabet [h & 31];
    buf [25] = 0;
}

//  True when viewer sees match m as its teaser: the startup, not connected yet, on a
//  confidential demand (or on one the model does not know: closed, to be safe).
static bool
s_teaser_view (matcher_store_t *self, const match_t *m, const char *viewer, bool agency)
{
    if (agency || !viewer || !streq (viewer, m->startup_id) || streq (m->state, "connected"))
        return false;
    bool confidential = true;
    matcher_model_demand_visibility (self->model, m->demand_id, &confidential, NULL);
    return confidential;
}

//  m's teaser score (matcher_model_score_teaser; all zero when it cannot be computed).
static void
s_teaser_score (matcher_store_t *self, const match_t *m, matcher_score_t *score)
{
    if (matcher_model_score_teaser (self->model, m->demand_id, m->startup_id, score))
        memset (score, 0, sizeof *score);
}

//  Turns json, m as the API shows it, into m's teaser: no owner, and the score and
//  explanation built from the demand's title and tags only.
static void
s_teaser_json (matcher_store_t *self, const match_t *m, json_t *json)
{
    matcher_score_t score;
    s_teaser_score (self, m, &score);
    json_t *explanation = json_array ();
    for (int f = 0; f < MATCHER_FACTORS && score.factors [0].detail [0]; f++) {
        Oim__V1__Factor factor;
        s_factor_fill (&factor, &score, f);
        json_array_append_new (explanation, oim_pbjson_encode (&factor.base, 0));
    }
    json_object_del (json, "company_id");
    json_object_set_new (json, "explanation", explanation);
    json_object_set_new (json, "score", json_real ((double) score.units / MATCHER_UNITS));
}

//  The match as the API shows it to a viewer (org id, or agency): a startup that is not
//  connected sees a confidential demand's match as its teaser (s_teaser_json).
static json_t *
s_render (matcher_store_t *self, const match_t *m, const char *viewer, bool agency)
{
    json_t *json = oim_pbjson_encode (&m->base, 0);
    json_object_del (json, "notified_score");
    json_object_del (json, "in_top");
    if (streq (m->state, "connected")) {
        json_t *contacts = json_object ();
        const char *sides [2][2] = { { "company", m->company_id }, { "startup", m->startup_id } };
        for (int i = 0; i < 2; i++) {
            const char *org = sides [i][1];
            if (!agency && viewer && streq (viewer, org))
                continue;           //  you see the other side's contacts
            matcher_org_info_t info;
            if (!matcher_model_org_info (self->model, org, &info))
                continue;
            json_object_set_new (contacts, sides [i][0], json_pack ("{s:s,s:s,s:s,s:s}",
                "name", info.name, "email", info.email, "phone", info.phone,
                "website", info.website));
        }
        json_object_set_new (json, "contacts", contacts);
    }
    if (s_teaser_view (self, m, viewer, agency))
        s_teaser_json (self, m, json);
    return json;
}

//  Appends "key":"value" (with a leading comma unless first), value escaped as JSON (UTF-8
//  passes through; quote, backslash and control characters are escaped).
static void
s_text_field (s_text_t *t, const char *key, const char *value)
{
    s_text_add (t, t->len > 1? ",\"": "\"", t->len > 1? 2: 1);
    s_text_add (t, key, strlen (key));
    s_text_add (t, "\":\"", 3);
    const char *run = value? value: "";
    for (const char *p = run; ; p++) {
        unsigned char c = (unsigned char) *p;
        if (c && c >= 0x20 && c != '"' && c != '\\')
            continue;
        s_text_add (t, run, (size_t) (p - run));
        if (!c)
            break;
        char esc [8];
        if (c == '"' || c == '\\')
            snprintf (esc, sizeof esc, "\\%c", c);
        else
            snprintf (esc, sizeof esc, "\\u%04x", c);
        s_text_add (t, esc, strlen (esc));
        run = p + 1;
    }
    s_text_add (t, "\"", 1);
}

//  Appends "key":raw (a number or a literal), with a leading comma.
static void
s_text_raw (s_text_t *t, const char *key, const char *raw)
{
    s_text_add (t, ",\"", 2);
    s_text_add (t, key, strlen (key));
    s_text_add (t, "\":", 2);
    s_text_add (t, raw, strlen (raw));
}

//  The data of a match.created / match.updated event: the match without its explanation
//  (the match endpoints show that), written directly: events are most of a demand's cost.
//  teaser: the score a startup not connected sees of a confidential demand's match (then
//  without the owner), or NULL. Caller frees.
static char *
s_summary_json (const match_t *m, const matcher_score_t *teaser)
{
    s_text_t t = { 0 };
    char num [64];
    double score = teaser? (double) teaser->units / MATCHER_UNITS: m->score;
    s_text_add (&t, "{", 1);
    s_text_field (&t, "id", m->id);
    s_text_field (&t, "demand_id", m->demand_id);
    s_text_field (&t, "demand_title", m->demand_title);
    s_text_field (&t, "startup_id", m->startup_id);
    s_text_field (&t, "startup_name", m->startup_name);
    if (!teaser)
        s_text_field (&t, "company_id", m->company_id);
    //  "%.4f" of the score, from its units (a score is a whole number of 1e-4 units)
    long long units = llround (score * MATCHER_UNITS);
    if (units >= 0 && fabs (score * MATCHER_UNITS - (double) units) < 1e-6) {
        char whole [24], frac [24];
        s_int_text (units / MATCHER_UNITS, whole);
        s_int_text (units % MATCHER_UNITS + MATCHER_UNITS, frac);      //  "1xxxx"
        size_t at = strlen (whole);
        memcpy (num, whole, at);
        num [at] = '.';
        memcpy (num + at + 1, frac + 1, 5);                                 //  4 digits, NUL
    }
    else
        snprintf (num, sizeof num, "%.4f", score);
    s_text_raw (&t, "score", num);
    s_text_field (&t, "state", m->state);
    s_text_raw (&t, "company_interested", m->company_interested? "true": "false");
    s_text_raw (&t, "startup_interested", m->startup_interested? "true": "false");
    s_text_field (&t, "created_at", m->created_at);
    s_text_field (&t, "updated_at", m->updated_at);
    s_int_text ((long long) m->version, num);
    s_text_raw (&t, "version", num);
    s_text_add (&t, "}", 1);
    return t.data;
}

//  Appends one event for recipient org about match m; data_json is the match rendered as
//  org sees it, or text when given (the same for every viewer). copy_org, when not NULL, is
//  a second recipient of the same text: one Event with a copy (its own id, as it would have
//  had as an event of its own). counts.events counts recipients.
static void
s_tx_event_text (matcher_store_t *self, s_tx_t *tx, const match_t *m, const char *type,
                 const char *org, const char *text, const char *copy_org)
{
    char id [OIM_ID_SIZE], copy_id [OIM_ID_SIZE];
    s_event_id (self, m->id, m->version, type, org, m->updated_at, id);
    Oim__V1__Event__Copy copy = OIM__V1__EVENT__COPY__INIT;
    Oim__V1__Event__Copy *copies [1] = { &copy };
    if (copy_org) {
        s_event_id (self, m->id, m->version, type, copy_org, m->updated_at, copy_id);
        copy.id = copy_id;
        copy.org_id = (char *) copy_org;
    }
    char *own = NULL;
    if (!text) {
        json_t *data = s_render (self, m, org, false);
        text = own = json_dumps (data, JSON_COMPACT);
        json_decref (data);
    }
    Oim__V1__Event event = OIM__V1__EVENT__INIT;
    event.id = id;
    event.type = (char *) type;
    event.org_id = (char *) org;
    event.created_at = m->updated_at;
    event.data_json = (char *) text;
    event.n_copies = copy_org? 1: 0;
    event.copies = copies;
    s_tx_event_add (tx, &event);
    free (own);
    self->counts.events += 1 + event.n_copies;
}

static void
s_tx_event (matcher_store_t *self, s_tx_t *tx, const match_t *m, const char *type,
            const char *org)
{
    s_tx_event_text (self, tx, m, type, org, NULL, NULL);
}

//  The same event for both sides of m: a summary of the match, rendered once and written
//  once (the startup as a copy of the company's event), or the full match, as each side
//  sees it, when connected (the other side's contacts): two events. A confidential
//  demand's startup, not connected, gets its own event with the teaser's summary (no
//  owner; the score from title and tags): two events, with the ids a copy would have had.
static void
s_tx_event_both (matcher_store_t *self, s_tx_t *tx, const match_t *m, const char *type)
{
    if (streq (m->state, "connected")) {
        s_tx_event (self, tx, m, type, m->company_id);
        s_tx_event (self, tx, m, type, m->startup_id);
        return;
    }
    char *text = s_summary_json (m, NULL);
    if (s_teaser_view (self, m, m->startup_id, false)) {
        matcher_score_t score;
        s_teaser_score (self, m, &score);
        char *teaser = s_summary_json (m, &score);
        s_tx_event_text (self, tx, m, type, m->company_id, text, NULL);
        s_tx_event_text (self, tx, m, type, m->startup_id, teaser, NULL);
        free (teaser);
    }
    else
        s_tx_event_text (self, tx, m, type, m->company_id, text, m->startup_id);
    free (text);
}

//  Queues SET of the match plus its index entries.
static void
s_tx_match (matcher_store_t *self, s_tx_t *tx, const match_t *m)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_MATCH, m->id);
    s_tx_packed (tx, "SET", key, NULL, NULL, &m->base);
    snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, m->demand_id);
    const char *hset [4] = { "HSET", key, m->startup_id, m->id };
    s_tx_add (tx, 4, hset, NULL);
    snprintf (key, sizeof key, OIM_KEY_DEMAND_TOP, m->demand_id);
    if (m->in_top && !streq (m->state, "withdrawn")) {
        char units [32];
        s_int_text ((long long) llround (m->score * MATCHER_UNITS), units);
        s_tx_strs (tx, "ZADD", key, units, m->startup_id);
    }
    else
        s_tx_strs (tx, "ZREM", key, m->startup_id, NULL);
    s_tx_members (tx, m);
    self->counts.writes++;
}

//  A command being built argument by argument (its arguments formatted as they come; the
//  head, which needs the count, at the flush).
typedef struct {
    int argc;
    s_text_t body;
} s_argv_t;

static void
s_argv_str (s_argv_t *a, const char *text)
{
    s_resp_arg (&a->body, text, strlen (text));
    a->argc++;
}

static void
s_argv_packed (s_argv_t *a, const ProtobufCMessage *msg)
{
    s_resp_packed (&a->body, msg);
    a->argc++;
}

//  Queues the command when it has more than its first `head` arguments, then empties a.
static void
s_argv_flush (s_tx_t *tx, s_argv_t *a, int head)
{
    if (a->argc > head) {
        s_tx_begin_cmd (tx);
        s_resp_head (&tx->cmds, '*', (size_t) a->argc);
        s_text_add (&tx->cmds, a->body.data, a->body.len);
        tx->count++;
    }
    free (a->body.data);
    memset (a, 0, sizeof *a);
}

//  The key of queued member i; the member follows it.
static const char *
s_member_key (const s_tx_t *tx, size_t i)
{
    return tx->members.data + tx->member_at [i];
}

//  Moves the queued SADDs into tx's commands: one per key, in the order the keys were first
//  queued, its members in the order they were queued (one queued again right after itself
//  once: a demand's K matches name its demand K times). Grouped in one
//  pass: a hash table (open addressing) finds a key's first member, and each member links
//  to the next of its key.
static void
s_tx_flush_members (s_tx_t *tx)
{
    size_t n = tx->member_count;
    if (n == 0)
        return;
    size_t mask = 15;
    while (mask + 1 < 2 * n)
        mask = mask * 2 + 1;
    size_t *table = calloc (mask + 1, sizeof *table);   //  1 + a key's first member
    size_t *next = calloc (n, sizeof *next);            //  1 + the next of its key
    size_t *last = calloc (n, sizeof *last);            //  at a first member: the last one,
    size_t *count = calloc (n, sizeof *count);          //  and how many
    assert (table && next && last && count);
    for (size_t i = 0; i < n; i++) {
        const char *key = s_member_key (tx, i);
        uint64_t h = 1469598103934665603ULL;
        for (const char *p = key; *p; p++)
            h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        size_t at = h & mask;
        while (table [at] && !streq (s_member_key (tx, table [at] - 1), key))
            at = (at + 1) & mask;
        if (!table [at])
            table [at] = i + 1;
        else {
            size_t first = table [at] - 1;
            const char *prev = s_member_key (tx, last [first]);
            if (streq (prev + strlen (prev) + 1, key + strlen (key) + 1))
                continue;           //  the same member again (a demand's K matches)
            next [last [first]] = i + 1;
        }
        last [table [at] - 1] = i;
        count [table [at] - 1]++;
    }
    for (size_t i = 0; i < n; i++) {
        if (!count [i])
            continue;               //  not its key's first member
        const char *key = s_member_key (tx, i);
        s_tx_begin_cmd (tx);
        s_resp_head (&tx->cmds, '*', 2 + count [i]);
        s_resp_arg (&tx->cmds, "SADD", 4);
        s_resp_arg (&tx->cmds, key, strlen (key));
        for (size_t j = i + 1; j; j = next [j - 1]) {
            const char *at = s_member_key (tx, j - 1);
            const char *member = at + strlen (at) + 1;
            s_resp_arg (&tx->cmds, member, strlen (member));
        }
        tx->count++;
    }
    free (table);
    free (next);
    free (last);
    free (count);
    free (tx->members.data);
    free (tx->member_at);
    memset (&tx->members, 0, sizeof tx->members);
    tx->member_at = NULL;
    tx->member_count = tx->member_slots = 0;
}

//  One demand's match writes, merged: MSET of the matches, one HSET of its pair index, one
//  ZADD and one ZREM of its top set; the organizations' sets (s_tx_members) go through
//  s_tx_member, one SADD per set for the whole transaction. The same
//  keys and values as s_tx_match for each, in a few commands.
typedef struct {
    s_argv_t mset, hset, zadd, zrem;
} s_writes_t;

static void
s_writes_match (matcher_store_t *self, s_tx_t *tx, s_writes_t *w, const match_t *m)
{
    char key [OIM_KEY_SIZE];
    if (w->mset.argc == 0) {
        s_argv_str (&w->mset, "MSET");
        s_argv_str (&w->hset, "HSET");
        snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, m->demand_id);
        s_argv_str (&w->hset, key);
        snprintf (key, sizeof key, OIM_KEY_DEMAND_TOP, m->demand_id);
        s_argv_str (&w->zadd, "ZADD");
        s_argv_str (&w->zadd, key);
        s_argv_str (&w->zrem, "ZREM");
        s_argv_str (&w->zrem, key);
    }
    snprintf (key, sizeof key, OIM_KEY_MATCH, m->id);
    s_argv_str (&w->mset, key);
    s_argv_packed (&w->mset, &m->base);
    s_argv_str (&w->hset, m->startup_id);
    s_argv_str (&w->hset, m->id);
    if (m->in_top && !streq (m->state, "withdrawn")) {
        char units [32];
        s_int_text ((long long) llround (m->score * MATCHER_UNITS), units);
        s_argv_str (&w->zadd, units);
        s_argv_str (&w->zadd, m->startup_id);
    }
    else
        s_argv_str (&w->zrem, m->startup_id);
    s_tx_members (tx, m);
    self->counts.writes++;
}

//  Moves the merged writes into tx (after the events queued so far: one MULTI, so the
//  order inside it does not matter) and empties w.
static void
s_writes_flush (s_tx_t *tx, s_writes_t *w)
{
    s_argv_flush (tx, &w->mset, 1);
    s_argv_flush (tx, &w->hset, 2);
    s_argv_flush (tx, &w->zadd, 2);
    s_argv_flush (tx, &w->zrem, 2);
}

static void
s_touch (matcher_store_t *self, match_t *m)
{
    char now [OIM_RFC3339_SIZE];
    s_now (self, now);
    s_set_str (&m->updated_at, now);
    m->version++;
}

//  Reads the matches named by an array reply of ids (after WATCHing them). Returns a new
//  array of n (entries NULL when missing), or NULL on failure.
static match_t **
s_read_matches (matcher_store_t *self, char **ids, size_t n, bool watch)
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
            s_match_free (&out [i]);
        free (out);
        return NULL;
    }
    return out;
}

static void
s_free_matches (match_t **ms, size_t n)
{
    if (!ms)
        return;
    for (size_t i = 0; i < n; i++)
        s_match_free (&ms [i]);
    free (ms);
}

//  The matches named by an array reply of ids (*n of them; entries NULL when missing), or
//  NULL when r is not one (Redis failed) or the matches could not be read.
static match_t **
s_read_reply_matches (matcher_store_t *self, const redisReply *r, size_t *n)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    char **ids = calloc (r->elements + 1, sizeof *ids);
    assert (ids);
    for (size_t i = 0; i < r->elements; i++)
        ids [i] = r->element [i]->str;
    *n = r->elements;
    match_t **ms = s_read_matches (self, ids, *n, false);
    free (ids);
    return ms;
}

//  --------------------------------------------------------------------------------------
//  Reconcile

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
        free ((*self_p)->spare_cmds);
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

//  Queues a new match (suggested, in the top K) and its match.created. Built on the stack
//  with borrowed strings: a batch creates a thousand matches, and the allocations of an
//  owned one cost more than packing it. The same bytes as a match built field by field.
static void
s_new_match (matcher_store_t *self, s_tx_t *tx, s_writes_t *w, const char *id,
             const char *demand_id, const char *org_id, const char *title,
             const char *startup_id, const char *startup_name, const matcher_score_t *score)
{
    char now [OIM_RFC3339_SIZE];
    s_now (self, now);
    match_t m = OIM__V1__MATCH__INIT;
    m.id = (char *) id;
    m.demand_id = (char *) demand_id;
    m.startup_id = (char *) startup_id;
    m.company_id = (char *) org_id;
    m.state = "suggested";
    m.created_at = m.updated_at = now;
    m.declined_by = m.reason = "";
    m.demand_title = (char *) (title? title: "");
    m.startup_name = (char *) (startup_name? startup_name: "");
    m.version = 1;
    m.in_top = true;
    Oim__V1__Factor factors [MATCHER_FACTORS], *explanation [MATCHER_FACTORS];
    for (int f = 0; f < MATCHER_FACTORS; f++) {
        s_factor_fill (&factors [f], score, f);
        explanation [f] = &factors [f];
    }
    m.explanation = explanation;
    m.n_explanation = MATCHER_FACTORS;
    m.score = (double) score->units / MATCHER_UNITS;
    m.notified_score = m.score;
    s_writes_match (self, tx, w, &m);
    s_tx_event_both (self, tx, &m, "match.created");
}

//  Computes the changes that bring one demand's stored matches (ms, n: read and WATCHed by
//  the caller) in line with the model, appending them to tx. Returns the number of matches
//  changed or created (0: nothing to write).
static size_t
s_reconcile_compute (matcher_store_t *self, const char *demand_id, const char *org_id,
                     const char *title, bool open, bool deleted, match_t **ms, size_t n,
                     s_tx_t *tx)
{
    size_t k = matcher_model_config (self->model)->top_k;
    matcher_hit_t *top = calloc (k + 1, sizeof *top);
    assert (top);
    if (!self->scores) {
        self->scores = malloc ((k + 1) * sizeof *self->scores);
        self->names = malloc ((k + 1) * sizeof *self->names);
        assert (self->scores && self->names);
    }
    int ntop = open? matcher_model_top_scores (self->model, demand_id, top, self->scores,
                                               self->names): 0;
    if (ntop < 0)
        ntop = 0;
    oim_debug ("event=reconcile demand=%s open=%d existing=%zu top=%d", demand_id, open, n, ntop);
    bool *seen = calloc (ntop + 1, sizeof *seen);
    assert (seen);
    size_t changes = 0;
    s_writes_t w;
    memset (&w, 0, sizeof w);
    matcher_score_t score;

    for (size_t i = 0; i < n; i++) {
        match_t *m = ms [i];
        if (!m)
            continue;
        bool in_top = false;
        const matcher_score_t *fresh = &score;
        for (int t = 0; t < ntop; t++)
            if (streq (top [t].id, m->startup_id)) {
                in_top = true;
                seen [t] = true;
                fresh = &self->scores [t];
            }
        if (!in_top)
            matcher_model_score (self->model, demand_id, m->startup_id, &score);
        char state [24];            //  a copy: m->state is replaced below
        snprintf (state, sizeof state, "%s", m->state);
        const char *new_state = state;
        if (deleted)
            new_state = streq (state, "connected")? state: "withdrawn";
        else
        if (streq (state, "withdrawn") && in_top)
            new_state = "suggested";
        else
        if (streq (state, "suggested") && !in_top)
            new_state = "withdrawn";
        else
        if (streq (state, "interested") && !fresh->qualifies)
            new_state = "withdrawn";
        bool revived = streq (state, "withdrawn") && streq (new_state, "suggested");
        bool frozen = streq (state, "declined") || (streq (new_state, "withdrawn")
                                                    && streq (state, "withdrawn"));
        if (frozen)
            continue;
        bool score_changed = !fresh->excluded && s_score_differs (m, fresh);
        if (!score_changed && streq (new_state, state) && m->in_top == in_top)
            continue;
        if (!fresh->excluded)
            s_set_score (m, fresh);
        m->in_top = in_top;
        if (revived) {
            m->company_interested = m->startup_interested = false;
        }
        s_set_str (&m->state, new_state);
        s_set_str (&m->demand_title, title);
        s_touch (self, m);
        bool notify_created = revived;
        bool notify_updated = !revived && !streq (new_state, "withdrawn")
            && llabs (llround ((m->score - m->notified_score) * MATCHER_UNITS))
               > self->config.update_units;
        if (notify_created || notify_updated)
            m->notified_score = m->score;
        s_writes_match (self, tx, &w, m);
        if (notify_created || notify_updated) {
            const char *type = notify_created? "match.created": "match.updated";
            s_tx_event_both (self, tx, m, type);
        }
        changes++;
    }
    size_t unseen = 0, next_id = 0;
    for (int t = 0; t < ntop; t++)
        unseen += !seen [t];
    char (*ids) [OIM_ID_SIZE] = calloc (unseen + 1, OIM_ID_SIZE);
    assert (ids);
    oim_id_new_n ("mat", ids, unseen);
    for (int t = 0; t < ntop; t++)
        if (!seen [t]) {
            s_new_match (self, tx, &w, ids [next_id++], demand_id, org_id, title, top [t].id,
                         self->names [t], &self->scores [t]);
            changes++;
        }
    free (ids);
    free (seen);
    free (top);
    s_writes_flush (tx, &w);
    return changes;
}

//  A batch reconcile's steps (see the header): the demands, what was read (on redis, which
//  holds the WATCHes), and the transaction computed from it.
typedef struct {
    const char *id, *org_id, *title;
    bool open, deleted;
    size_t first, n;                //  its matches in all [first, first + n)
} s_item_t;

struct _matcher_batch_t {
    oim_redis_t *redis;
    s_item_t *items;
    size_t nitems;
    redisReply **pairs;             //  each demand's pair index
    char **ids;                     //  every match id, borrowed from pairs
    match_t **all;                  //  their matches
    size_t nall, changes;
    s_tx_t tx;
    bool sent;
    int send_rc;
};

//  The batch's demands, once each; closed or awarded demands (frozen) and unknown ones left
//  out.
static void
s_batch_items (matcher_store_t *self, matcher_batch_t *b, const char *const *demand_ids,
               size_t count)
{
    b->items = calloc (count + 1, sizeof *b->items);
    assert (b->items);
    for (size_t i = 0; i < count; i++) {
        s_item_t *it = &b->items [b->nitems];
        if (!matcher_model_demand_info (self->model, demand_ids [i], &it->org_id, &it->title,
                                        &it->open, &it->deleted))
            continue;
        if (!it->open && !it->deleted)
            continue;               //  closed or awarded: its matches stop changing
        bool dup = false;
        for (size_t j = 0; j < b->nitems && !dup; j++)
            dup = streq (b->items [j].id, demand_ids [i]);
        if (dup)
            continue;
        it->id = demand_ids [i];
        b->nitems++;
    }
}

//  Round trip 1: WATCH the pair indexes, HGETALL each. 0, or -1 (UNWATCHed when possible).
static int
s_batch_pairs (matcher_batch_t *b)
{
    const char **argv = calloc (b->nitems + 1, sizeof *argv);
    char (*dkeys) [OIM_KEY_SIZE] = calloc (b->nitems, sizeof *dkeys);
    b->pairs = calloc (b->nitems + 1, sizeof *b->pairs);
    assert (argv && dkeys && b->pairs);
    argv [0] = "WATCH";
    for (size_t i = 0; i < b->nitems; i++) {
        snprintf (dkeys [i], OIM_KEY_SIZE, OIM_KEY_DEMAND_MATCHES, b->items [i].id);
        argv [i + 1] = dkeys [i];
    }
    bool ok = oim_redis_appendv (b->redis, (int) b->nitems + 1, argv, NULL) == 0;
    for (size_t i = 0; ok && i < b->nitems; i++)
        ok = oim_redis_append (b->redis, "HGETALL %s", dkeys [i]) == 0;
    if (ok) {
        redisReply *w = oim_redis_reply (b->redis);
        bool alive = w != NULL;
        ok = w && w->type != REDIS_REPLY_ERROR;
        if (w) freeReplyObject (w);
        //  read every reply even after a failure, so the connection stays in step
        for (size_t i = 0; i < b->nitems && alive; i++) {
            b->pairs [i] = oim_redis_reply (b->redis);
            if (!b->pairs [i] || b->pairs [i]->type != REDIS_REPLY_ARRAY)
                ok = false;
            if (!b->pairs [i])
                break;
        }
    }
    if (!ok)
        s_unwatch_on (b->redis);
    free (dkeys);
    free (argv);
    return ok? 0: -1;
}

//  Round trip 2 (when any exist): WATCH + MGET the matches the pair indexes name. 0 or -1.
static int
s_batch_matches (matcher_store_t *self, matcher_batch_t *b)
{
    for (size_t i = 0; i < b->nitems; i++)
        b->nall += b->pairs [i]->elements / 2;
    b->ids = calloc (b->nall + 1, sizeof *b->ids);
    assert (b->ids);
    b->nall = 0;
    for (size_t i = 0; i < b->nitems; i++) {
        b->items [i].first = b->nall;
        b->items [i].n = b->pairs [i]->elements / 2;
        for (size_t j = 0; j < b->items [i].n; j++)
            b->ids [b->nall++] = b->pairs [i]->element [2 * j + 1]->str;
    }
    b->all = s_read_matches (self, b->ids, b->nall, true);     //  (b->redis is self->redis)
    return b->all? 0: -1;
}

void
matcher_store_use (matcher_store_t *self, oim_redis_t *redis)
{
    self->redis = redis;
}

oim_redis_t *
matcher_store_batch_redis (matcher_batch_t *batch)
{
    return batch->redis;
}

void
matcher_store_batch_destroy (matcher_store_t *self, matcher_batch_t **batch_p)
{
    matcher_batch_t *b = *batch_p;
    if (!b)
        return;
    if (!b->sent && b->nitems && oim_redis_connected (b->redis))
        s_unwatch_on (b->redis);
    s_tx_done (self, &b->tx);
    s_free_matches (b->all, b->nall);
    free (b->ids);
    for (size_t i = 0; b->pairs && i < b->nitems; i++)
        if (b->pairs [i])
            freeReplyObject (b->pairs [i]);
    free (b->pairs);
    free (b->items);
    free (b);
    *batch_p = NULL;
}

matcher_batch_t *
matcher_store_batch_prepare (matcher_store_t *self, const char *const *demand_ids,
                             size_t count)
{
    matcher_batch_t *b = calloc (1, sizeof *b);
    assert (b);
    b->redis = self->redis;
    s_batch_items (self, b, demand_ids, count);
    if (b->nitems && (s_batch_pairs (b) || s_batch_matches (self, b))) {
        b->sent = true;             //  (nothing WATCHed any more, or the connection is dead)
        matcher_store_batch_destroy (self, &b);
    }
    return b;
}

//  Writes more of a sent batch's transaction, as much as its connection takes now.
static void
s_batch_write (matcher_batch_t *b)
{
    if (b->sent && b->changes && b->send_rc == 0 && b->tx.written < b->tx.cmds.len)
        b->send_rc = s_tx_write (b->redis, &b->tx, false);
}

void
matcher_store_batch_compute (matcher_store_t *self, matcher_batch_t *b,
                             matcher_batch_t *sending)
{
    s_tx_init (self, &b->tx);
    for (size_t i = 0; i < b->nitems; i++) {
        b->changes += s_reconcile_compute (self, b->items [i].id, b->items [i].org_id,
                                           b->items [i].title, b->items [i].open,
                                           b->items [i].deleted, b->all + b->items [i].first,
                                           b->items [i].n, &b->tx);
        if (sending)
            s_batch_write (sending);
    }
    if (b->changes)
        s_tx_seal (&b->tx);         //  now, not while Redis waits for it
    oim_debug ("event=reconcile_batch demands=%zu existing=%zu changes=%zu commands=%zu",
               b->nitems, b->nall, b->changes, b->tx.count);
}

void
matcher_store_batch_send (matcher_store_t *self, matcher_batch_t *b)
{
    (void) self;
    if (b->sent || b->changes == 0)
        return;
    b->send_rc = s_tx_send (b->redis, &b->tx);
    b->sent = true;
}

int
matcher_store_batch_finish (matcher_store_t *self, matcher_batch_t **batch_p)
{
    matcher_batch_t *b = *batch_p;
    int rc = 1;
    if (b->changes) {
        matcher_store_batch_send (self, b);
        rc = s_tx_finish (self, b->redis, &b->tx, b->send_rc);
    }
    else
    if (b->nitems) {
        s_unwatch_on (b->redis);
        b->sent = true;
    }
    matcher_store_batch_destroy (self, batch_p);
    return rc;
}

//  Reconciles a batch of demands in one optimistic step: WATCH every demand's pair index,
//  read them and their matches (two pipelined round trips), compute every demand's changes,
//  and write them all in one MULTI/EXEC. Returns 1 done, 0 conflict (retry), -1 Redis failure.
static int
s_reconcile_batch_once (matcher_store_t *self, const char *const *demand_ids, size_t count)
{
    matcher_batch_t *b = matcher_store_batch_prepare (self, demand_ids, count);
    if (!b)
        return -1;
    matcher_store_batch_compute (self, b, NULL);
    return matcher_store_batch_finish (self, &b);
}

int
matcher_store_reconcile_batch (matcher_store_t *self, const char *const *demand_ids,
                               size_t count)
{
    //  a batch that keeps conflicting (busy demands): one demand at a time
    for (int attempt = 0; attempt < 3; attempt++) {
        int rc = s_reconcile_batch_once (self, demand_ids, count);
        if (rc != 0)
            return rc > 0? 0: -1;
    }
    for (size_t i = 0; i < count; i++)
        if (matcher_store_reconcile (self, demand_ids [i]))
            return -1;
    return 0;
}

int
matcher_store_reconcile (matcher_store_t *self, const char *demand_id)
{
    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        int rc = s_reconcile_batch_once (self, &demand_id, 1);
        if (rc != 0)
            return rc > 0? 0: -1;
    }
    oim_warn ("event=reconcile_gave_up demand=%s", demand_id);
    return -1;
}

//  One attempt. Returns 1 done, 0 conflict (retry), -1 Redis failure.
static int
s_demand_closed_once (matcher_store_t *self, const Oim__V1__Demand *demand,
                      const char *changed_at)
{
    char ckey [OIM_KEY_SIZE], dkey [OIM_KEY_SIZE];
    snprintf (ckey, sizeof ckey, OIM_KEY_DEMAND_CLOSED, demand->id);
    snprintf (dkey, sizeof dkey, OIM_KEY_DEMAND_MATCHES, demand->id);
    redisReply *r = oim_redis_command (self->redis, "WATCH %s %s", ckey, dkey);
    if (!r)
        return -1;
    freeReplyObject (r);
    r = oim_redis_command (self->redis, "GET %s", ckey);
    if (!r)
        return -1;
    int64_t done = r->type == REDIS_REPLY_STRING? atoll (r->str): 0;
    freeReplyObject (r);
    if (done >= demand->version) {
        s_unwatch (self);
        return 1;                   //  announced already (a replay): nothing to write
    }
    redisReply *pairs = oim_redis_command (self->redis, "HGETALL %s", dkey);
    if (!pairs || pairs->type != REDIS_REPLY_ARRAY) {
        if (pairs) freeReplyObject (pairs);
        return -1;
    }
    size_t n = pairs->elements / 2;
    char **ids = calloc (n + 1, sizeof *ids);
    assert (ids);
    for (size_t i = 0; i < n; i++)
        ids [i] = pairs->element [2 * i + 1]->str;
    match_t **ms = s_read_matches (self, ids, n, true);
    free (ids);
    freeReplyObject (pairs);
    if (!ms)
        return -1;
    s_tx_t tx = { 0 };
    char ver [32];
    snprintf (ver, sizeof ver, "%lld", (long long) demand->version);
    s_tx_strs (&tx, "SET", ckey, ver, NULL);
    for (size_t i = 0; i < n; i++) {
        match_t *m = ms [i];
        if (!m || !streq (m->demand_id, demand->id)
        ||  !(streq (m->state, "suggested") || streq (m->state, "interested")
              || streq (m->state, "connected")))
            continue;
        char id [OIM_ID_SIZE];
        s_event_id (self, demand->id, demand->version, "demand.closed", m->startup_id,
                    changed_at, id);
        s_text_t t = { 0 };
        s_text_add (&t, "{", 1);
        s_text_field (&t, "demand_id", demand->id);
        s_text_field (&t, "title", demand->title);
        s_text_field (&t, "status", demand->status);
        snprintf (ver, sizeof ver, "%lld", (long long) demand->version);
        s_text_raw (&t, "version", ver);
        if (!streq (demand->visibility, "confidential") || streq (m->state, "connected"))
            s_text_field (&t, "company_id", m->company_id);
        s_text_field (&t, "match_id", m->id);
        s_text_field (&t, "match_state", m->state);
        s_text_add (&t, "}", 1);
        Oim__V1__Event event = OIM__V1__EVENT__INIT;
        event.id = id;
        event.type = "demand.closed";
        event.org_id = m->startup_id;
        event.created_at = (char *) changed_at;
        event.data_json = t.data;
        s_tx_event_add (&tx, &event);
        free (t.data);
        self->counts.events++;
    }
    s_free_matches (ms, n);
    return s_tx_exec (self, &tx);
}

int
matcher_store_demand_closed (matcher_store_t *self, const Oim__V1__Demand *demand,
                             const char *changed_at)
{
    if (!demand || !demand->id || demand->deleted
    ||  !(streq (demand->status, "closed") || streq (demand->status, "awarded")))
        return 0;
    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        int rc = s_demand_closed_once (self, demand, changed_at? changed_at: "");
        if (rc != 0)
            return rc > 0? 0: -1;
    }
    oim_warn ("event=demand_closed_gave_up demand=%s", demand->id);
    return -1;
}

int
matcher_store_startup_changed (matcher_store_t *self, const char *startup_id)
{
    zhashx_t *affected = zhashx_new ();
    zlistx_t *order = zlistx_new ();
    zlistx_set_destructor (order, (czmq_destructor *) zstr_free);
    zlistx_set_duplicator (order, (czmq_duplicator *) strdup);
    int rc = 0;
    //  demands it already has matches with
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCHES, startup_id);
    redisReply *r = oim_redis_command (self->redis, "SMEMBERS %s", key);
    size_t n = 0;
    match_t **ms = s_read_reply_matches (self, r, &n);
    if (r)
        freeReplyObject (r);
    if (!ms) {
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (ms [i] && streq (ms [i]->startup_id, startup_id)
        &&  !zhashx_lookup (affected, ms [i]->demand_id)) {
            zhashx_insert (affected, ms [i]->demand_id, (void *) 1);
            zlistx_add_end (order, ms [i]->demand_id);
        }
    s_free_matches (ms, n);

    //  open demands it qualifies for and may enter the top K of
    matcher_model_stats_t stats;
    matcher_model_stats (self->model, &stats);
    size_t cap = stats.demands_open + 1;
    matcher_hit_t *hits = calloc (cap, sizeof *hits);
    assert (hits);
    int nhits = matcher_model_percolate_entering (self->model, startup_id, hits, cap);
    size_t k = matcher_model_config (self->model)->top_k;
    for (int i = 0; i < nhits; i++) {
        snprintf (key, sizeof key, OIM_KEY_DEMAND_TOP, hits [i].id);
        oim_redis_append (self->redis, "ZCARD %s", key);
        oim_redis_append (self->redis, "ZRANGE %s 0 0 WITHSCORES", key);
    }
    for (int i = 0; i < nhits; i++) {
        redisReply *card = oim_redis_reply (self->redis);
        redisReply *low = card? oim_redis_reply (self->redis): NULL;
        if (!card || !low) {
            if (card) freeReplyObject (card);
            free (hits);
            rc = -1;
            goto done;
        }
        bool enters = card->type != REDIS_REPLY_INTEGER || (size_t) card->integer < k
            || low->type != REDIS_REPLY_ARRAY || low->elements < 2
            || hits [i].units >= atoll (low->element [1]->str);
        if (enters && !zhashx_lookup (affected, hits [i].id)) {
            zhashx_insert (affected, hits [i].id, (void *) 1);
            zlistx_add_end (order, (void *) hits [i].id);
        }
        freeReplyObject (card);
        freeReplyObject (low);
    }
    free (hits);
    for (char *demand = zlistx_first (order); demand; demand = zlistx_next (order))
        if (matcher_store_reconcile (self, demand))
            rc = -1;
done:
    zlistx_destroy (&order);
    zhashx_destroy (&affected);
    return rc;
}

int
matcher_store_saved_hits (matcher_store_t *self, const char *entity_id, int64_t version,
                          const char *changed_at)
{
    const char *ids [256];
    int count = matcher_model_saved_hits (self->model, entity_id, changed_at, ids, 256);
    if (count > 256)
        count = 256;
    const char *title = NULL, *type = "demand";
    matcher_org_info_t info;
    if (matcher_model_org_info (self->model, entity_id, &info)) {
        title = info.name;
        type = "startup";
    }
    else
        matcher_model_demand_info (self->model, entity_id, NULL, &title, NULL, NULL);
    char ver [32];
    snprintf (ver, sizeof ver, "%lld", (long long) version);
    for (int i = 0; i < count; i++) {
        const char *owner = matcher_model_saved_owner (self->model, ids [i]);
        char key [OIM_KEY_SIZE];
        snprintf (key, sizeof key, OIM_KEY_SS_HITS, ids [i]);
        for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
            redisReply *r = oim_redis_command (self->redis, "WATCH %s", key);
            if (!r)
                return -1;
            freeReplyObject (r);
            r = oim_redis_command (self->redis, "HGET %s %s", key, entity_id);
            if (!r)
                return -1;
            int64_t have = r->type == REDIS_REPLY_STRING? atoll (r->str): 0;
            freeReplyObject (r);
            if (have >= version) {
                s_unwatch (self);
                break;
            }
            s_tx_t tx = { 0 };
            s_tx_strs (&tx, "HSET", key, entity_id, ver);
            char now [OIM_RFC3339_SIZE], id [OIM_ID_SIZE];
            oim_clock_rfc3339 (oim_clock_wall_ms (), now);
            char subject [256];
            snprintf (subject, sizeof subject, "%s|%s", ids [i], entity_id);
            s_event_id (self, subject, version, "saved_search.hit", owner, now, id);
            json_t *data = json_pack ("{s:s,s:s,s:s,s:I,s:s}", "saved_search_id", ids [i],
                                      "type", type, "id", entity_id, "version",
                                      (json_int_t) version, "title", title? title: "");
            char *text = json_dumps (data, JSON_COMPACT);
            json_decref (data);
            Oim__V1__Event event = OIM__V1__EVENT__INIT;
            event.id = id;
            event.type = "saved_search.hit";
            event.org_id = (char *) owner;
            event.created_at = now;
            event.data_json = text;
            s_tx_event_add (&tx, &event);
            free (text);
            int rc = s_tx_exec (self, &tx);
            if (rc < 0)
                return -1;
            if (rc == 1) {
                self->counts.events++;
                break;
            }
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------------------
//  API

//  True when principal p acts for a member: the agency, or a company or startup whose
//  organization is active — the model's view, or Redis' when the model does not know it
//  yet. The gateway treats other keys as anonymous; this is the daemon's own check.
static bool
s_member (matcher_store_t *self, const Oim__V1__Principal *p)
{
    if (p && p->role == OIM__V1__ROLE__ROLE_AGENCY)
        return true;
    if (!p || !p->org_id || !*p->org_id)
        return false;
    matcher_org_info_t info;
    if (matcher_model_org_info (self->model, p->org_id, &info))
        return info.active;
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG, p->org_id);
    redisReply *r = oim_redis_command (self->redis, "GET %s", key);
    Oim__V1__Organization *org = r && r->type == REDIS_REPLY_STRING
        ? oim__v1__organization__unpack (NULL, r->len, (const uint8_t *) r->str): NULL;
    bool active = org && !org->deleted && streq (org->status, "active");
    if (org)
        oim__v1__organization__free_unpacked (org, NULL);
    if (r)
        freeReplyObject (r);
    return active;
}

//  The 403 of a key whose organization is not active.
static void
s_not_member (oim_api_reply_t *reply)
{
    oim_api_error (reply, 403, "org_not_active", NULL,
                   "your organization is not active (pending approval, suspended or deleted)");
}

static int
s_match_cmp (const void *a, const void *b)
{
    const match_t *x = *(match_t *const *) a, *y = *(match_t *const *) b;
    if (x->score != y->score)
        return x->score > y->score? -1: 1;
    int c = strcmp (x->demand_id, y->demand_id);
    return c? c: strcmp (x->startup_id, y->startup_id);
}

static void
s_reply_list (matcher_store_t *self, match_t **ms, size_t n, const Oim__V1__ApiRequest *request,
              oim_api_reply_t *reply)
{
    const Oim__V1__Principal *p = request->principal;
    bool agency = p && p->role == OIM__V1__ROLE__ROLE_AGENCY;
    const char *viewer = p? p->org_id: NULL;
    const char *state = oim_api_query (request, "state");
    match_t **keep = calloc (n + 1, sizeof *keep);
    assert (keep);
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (ms [i] && !streq (ms [i]->state, "withdrawn")
        &&  (!state || !*state || streq (state, ms [i]->state)))
            keep [count++] = ms [i];
    qsort (keep, count, sizeof *keep, s_match_cmp);
    json_t *items = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (items, s_render (self, keep [i], viewer, agency));
    free (keep);
    oim_api_ok (reply, 200, json_pack ("{s:o,s:I}", "items", items, "total",
                                       (json_int_t) json_array_size (items)));
}

//  Answers a match list of n matches (NULL: Redis failed) and frees them.
static void
s_list_matches (matcher_store_t *self, match_t **ms, size_t n,
                const Oim__V1__ApiRequest *request, oim_api_reply_t *reply)
{
    if (!ms) {
        oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
        return;
    }
    s_reply_list (self, ms, n, request, reply);
    s_free_matches (ms, n);
}

static void
s_reply_free (redisReply **reply_p)
{
    freeReplyObject (*reply_p);
    *reply_p = NULL;
}

//  The ids of an organization's matches (*n of them, borrowed from the replies it keeps in
//  replies), each once: its set as the startup, and the pair indexes of its demands that
//  have matches (as their owner). Reads are pipelined. NULL when Redis failed.
static char **
s_org_match_ids (matcher_store_t *self, const char *org_id, zlistx_t *replies, size_t *n)
{
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCHES, org_id);
    oim_redis_append (self->redis, "SMEMBERS %s", key);
    snprintf (key, sizeof key, OIM_KEY_ORG_MATCH_DEMANDS, org_id);
    oim_redis_append (self->redis, "SMEMBERS %s", key);
    redisReply *own = oim_redis_reply (self->redis);
    redisReply *demands = own? oim_redis_reply (self->redis): NULL;
    if (own)
        zlistx_add_end (replies, own);
    if (demands)
        zlistx_add_end (replies, demands);
    if (!demands || own->type != REDIS_REPLY_ARRAY || demands->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < demands->elements; i++) {
        snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, demands->element [i]->str);
        oim_redis_append (self->redis, "HVALS %s", key);
    }
    //  every reply is read (the connection stays in step), then looked at
    bool ok = true;
    for (size_t i = 0; i < demands->elements; i++) {
        redisReply *r = oim_redis_reply (self->redis);
        if (!r)
            return NULL;            //  (the connection is gone: no more replies)
        ok = ok && r->type == REDIS_REPLY_ARRAY;
        zlistx_add_end (replies, r);
    }
    if (!ok)
        return NULL;
    size_t cap = 1;
    for (redisReply *r = zlistx_first (replies); r; r = zlistx_next (replies))
        cap += r == demands? 0: r->elements;
    char **ids = calloc (cap, sizeof *ids);
    assert (ids);
    zhashx_t *seen = zhashx_new ();
    *n = 0;
    for (redisReply *r = zlistx_first (replies); r; r = zlistx_next (replies))
        for (size_t i = 0; r != demands && i < r->elements; i++)
            if (r->element [i]->type == REDIS_REPLY_STRING
            &&  zhashx_insert (seen, r->element [i]->str, r->element [i]) == 0)
                ids [(*n)++] = r->element [i]->str;
    zhashx_destroy (&seen);
    return ids;
}

void
matcher_store_list_demand (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                           oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    const Oim__V1__Principal *p = request->principal;
    const char *owner;
    bool deleted;
    if (!id || !matcher_model_demand_info (self->model, id, &owner, NULL, NULL, &deleted)
        || deleted) {
        oim_api_error (reply, 404, "not_found", NULL, "no such demand");
        return;
    }
    if (!p || (p->role != OIM__V1__ROLE__ROLE_AGENCY && !streq (p->org_id, owner))) {
        oim_api_error (reply, 403, "forbidden", NULL,
                       "only the demand's owner and the agency see its matches");
        return;
    }
    if (!s_member (self, p))
        return s_not_member (reply);
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_DEMAND_MATCHES, id);
    redisReply *r = oim_redis_command (self->redis, "HVALS %s", key);
    size_t n = 0;
    match_t **ms = s_read_reply_matches (self, r, &n);
    s_list_matches (self, ms, n, request, reply);
    if (r)
        freeReplyObject (r);
}

void
matcher_store_list_org (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    const char *id = oim_api_param (request, "id");
    const Oim__V1__Principal *p = request->principal;
    if (!id || !p || (p->role != OIM__V1__ROLE__ROLE_AGENCY && !streq (p->org_id, id))) {
        oim_api_error (reply, 403, "forbidden", NULL,
                       "only the organization itself and the agency see its matches");
        return;
    }
    if (!s_member (self, p))
        return s_not_member (reply);
    zlistx_t *replies = zlistx_new ();
    zlistx_set_destructor (replies, (czmq_destructor *) s_reply_free);
    size_t n = 0;
    char **ids = s_org_match_ids (self, id, replies, &n);
    match_t **ms = ids? s_read_matches (self, ids, n, false): NULL;
    s_list_matches (self, ms, n, request, reply);
    free (ids);
    zlistx_destroy (&replies);
}

//  The workflow: interest (decline = false) or decline.
static void
s_workflow (matcher_store_t *self, const Oim__V1__ApiRequest *request, oim_api_reply_t *reply,
            bool decline)
{
    const char *id = oim_api_param (request, "id");
    const Oim__V1__Principal *p = request->principal;
    char *reason = NULL;
    if (decline && request->body.len) {
        json_t *body = oim_api_body (request, reply);
        if (!body)
            return;
        json_t *value = json_object_get (body, "reason");
        if (value && !json_is_string (value) && !json_is_null (value)) {
            oim_api_error (reply, 400, "invalid", "reason", "must be a string");
            json_decref (body);
            return;
        }
        if (json_is_string (value)) {
            if (strlen (json_string_value (value)) > MAX_REASON) {
                oim_api_error (reply, 400, "invalid", "reason", "at most %d bytes", MAX_REASON);
                json_decref (body);
                return;
            }
            reason = strdup (json_string_value (value));
        }
        json_decref (body);
    }
    if (!id || !oim_id_valid (id, "mat")) {
        oim_api_error (reply, 404, "not_found", NULL, "no such match");
        free (reason);
        return;
    }
    if (!s_member (self, p)) {
        s_not_member (reply);
        free (reason);
        return;
    }
    char key [OIM_KEY_SIZE];
    snprintf (key, sizeof key, OIM_KEY_MATCH, id);
    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        char *ids [1] = { (char *) id };
        match_t **ms = s_read_matches (self, ids, 1, true);
        if (!ms) {
            oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
            break;
        }
        match_t *m = ms [0];
        bool is_company = m && p && streq (p->org_id, m->company_id);
        bool is_startup = m && p && streq (p->org_id, m->startup_id);
        bool agency = p && p->role == OIM__V1__ROLE__ROLE_AGENCY;
        bool open = false;
        if (m)
            matcher_model_demand_info (self->model, m->demand_id, NULL, NULL, &open, NULL);
        int rc = 1;
        if (!m || streq (m->state, "withdrawn") || (!is_company && !is_startup && !agency)) {
            s_unwatch (self);
            oim_api_error (reply, 404, "not_found", NULL, "no such match");
        }
        else
        if (!is_company && !is_startup) {
            s_unwatch (self);
            oim_api_error (reply, 403, "forbidden", NULL,
                           "only the matched organizations take part in the workflow");
        }
        else
        if (!open) {
            s_unwatch (self);
            oim_api_error (reply, 409, "demand_closed", NULL,
                           "the demand is closed: its matches no longer change");
        }
        else
        if (!decline && streq (m->state, "declined")) {
            s_unwatch (self);
            oim_api_error (reply, 409, "conflict", NULL, "the match was declined");
        }
        else
        if (decline && streq (m->state, "connected")) {
            s_unwatch (self);
            oim_api_error (reply, 409, "conflict", NULL, "the match is already connected");
        }
        else
        if (decline? streq (m->state, "declined"):
                     (is_company? m->company_interested: m->startup_interested)) {
            s_unwatch (self);           //  repeated request: nothing changes
            oim_api_ok (reply, 200, s_render (self, m, p->org_id, false));
        }
        else {
            s_tx_t tx = { 0 };
            s_touch (self, m);
            if (decline) {
                s_set_str (&m->state, "declined");
                s_set_str (&m->declined_by, is_company? "company": "startup");
                s_set_str (&m->reason, reason? reason: "");
                s_tx_match (self, &tx, m);
            }
            else {
                if (is_company)
                    m->company_interested = true;
                else
                    m->startup_interested = true;
                bool both = m->company_interested && m->startup_interested;
                s_set_str (&m->state, both? "connected": "interested");
                s_tx_match (self, &tx, m);
                if (both) {
                    char ckey [OIM_KEY_SIZE];
                    snprintf (ckey, sizeof ckey, OIM_KEY_DEMAND_CONNECTED, m->demand_id);
                    s_tx_strs (&tx, "SADD", ckey, m->startup_id, NULL);
                    //  the connection widens who may read a confidential demand: readers
                    //  that enforce visibility learn of it from the change log
                    Oim__V1__Connection conn = OIM__V1__CONNECTION__INIT;
                    conn.demand_id = m->demand_id;
                    conn.startup_id = m->startup_id;
                    conn.company_id = m->company_id;
                    conn.match_id = m->id;
                    Oim__V1__ChangeEntry entry = OIM__V1__CHANGE_ENTRY__INIT;
                    entry.at = m->updated_at;
                    entry.op = OIM__V1__CHANGE_OP__CHANGE_OP_CREATE;
                    entry.entity_type = "connection";
                    entry.entity_id = m->id;
                    entry.actor = (Oim__V1__Principal *) p;
                    entry.request_id = request->request_id;
                    entry.action = "match.connect";
                    entry.entity_case = OIM__V1__CHANGE_ENTRY__ENTITY_CONNECTION;
                    entry.connection = &conn;
                    s_tx_packed (&tx, "XADD", OIM_STREAM_CHANGELOG, "*", "e", &entry.base);
                    s_tx_event (self, &tx, m, "match.connected", m->company_id);
                    s_tx_event (self, &tx, m, "match.connected", m->startup_id);
                }
                else
                    s_tx_event (self, &tx, m, "interest.received",
                                is_company? m->startup_id: m->company_id);
            }
            rc = s_tx_exec (self, &tx);
            if (rc == 1)
                oim_api_ok (reply, 200, s_render (self, m, p->org_id, false));
            else
            if (rc < 0)
                oim_api_error (reply, 503, "unavailable", NULL, "the matcher cannot reach Redis");
        }
        s_free_matches (ms, 1);
        if (rc != 0)
            break;
    }
    if (reply->status == 0)
        oim_api_error (reply, 503, "unavailable", NULL, "the match keeps changing: try again");
    free (reason);
}

void
matcher_store_interest (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                        oim_api_reply_t *reply)
{
    s_workflow (self, request, reply, false);
}

void
matcher_store_decline (matcher_store_t *self, const Oim__V1__ApiRequest *request,
                       oim_api_reply_t *reply)
{
    s_workflow (self, request, reply, true);
}
