/*  matcher_tx — the store's transaction builder: a growing text buffer, RESP written in place
    (what hiredis' formatter would produce, without its per-argument copies), and a
    transaction that collects commands, events (one EventBatch entry per BATCH_EVENTS
    recipients) and organizations' SADDs (merged per key), then is sent as MULTI ... EXEC in
    one pipeline without waiting for Redis to read it. See matcher_store_internal.h.
*/
#include "matcher_store_internal.h"

//  --------------------------------------------------------------------------------------
//  A growing byte buffer (aborts on no memory, like the rest of the store's allocations);
//  data stays NUL-terminated.

//  Makes room for len more bytes; returns where they go (the caller writes them, then adds
//  len to t->len and terminates).
char *
matcher_text_reserve (matcher_text_t *t, size_t len)
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

void
matcher_text_add (matcher_text_t *t, const char *data, size_t len)
{
    memcpy (matcher_text_reserve (t, len), data, len);
    t->len += len;
    t->data [t->len] = 0;
}

//  A decimal integer into buf (24 bytes): what "%lld" prints.
void
matcher_int_text (long long value, char *buf)
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
s_resp_head (matcher_text_t *t, char type, size_t n)
{
    t->len += s_resp_head_at (matcher_text_reserve (t, RESP_HEAD_MAX), type, n);
    t->data [t->len] = 0;
}

//  An argument, head and data in one step (commands are mostly short arguments).
static void
s_resp_arg (matcher_text_t *t, const char *data, size_t len)
{
    char *at = matcher_text_reserve (t, RESP_HEAD_MAX + len + 2);
    size_t head = s_resp_head_at (at, '$', len);
    memcpy (at + head, data, len);
    memcpy (at + head + len, "\r\n", 2);
    t->len += head + len + 2;
    t->data [t->len] = 0;
}

//  An argument: msg packed in place.
static void
s_resp_packed (matcher_text_t *t, const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    s_resp_head (t, '$', size);
    uint8_t *at = (uint8_t *) matcher_text_reserve (t, size + 2);
    size_t packed = protobuf_c_message_pack (msg, at);
    assert (packed == size);
    memcpy (at + size, "\r\n", 2);
    t->len += size + 2;
    t->data [t->len] = 0;
}

//  --------------------------------------------------------------------------------------
//  A transaction (matcher_tx_t in matcher_store_internal.h)

//  Starts a command in tx->cmds; the first one is preceded by MULTI, so that the buffer is
//  the whole pipeline once matcher_tx_exec adds EXEC.
static void
s_tx_begin_cmd (matcher_tx_t *tx)
{
    if (tx->cmds.len == 0)
        matcher_text_add (&tx->cmds, "*1\r\n$5\r\nMULTI\r\n", 15);
}

//  Queues a command; len NULL = the arguments are strings.
void
matcher_tx_add (matcher_tx_t *tx, int argc, const char *const *argv, const size_t *len)
{
    s_tx_begin_cmd (tx);
    s_resp_head (&tx->cmds, '*', (size_t) argc);
    for (int i = 0; i < argc; i++)
        s_resp_arg (&tx->cmds, argv [i], len? len [i]: strlen (argv [i]));
    tx->count++;
}

void
matcher_tx_strs (matcher_tx_t *tx, const char *a, const char *b, const char *c, const char *d)
{
    const char *argv [4] = { a, b, c, d };
    int argc = d? 4: c? 3: 2;
    matcher_tx_add (tx, argc, argv, NULL);
}

//  Queues "cmd key [a b] <msg packed>".
void
matcher_tx_packed (matcher_tx_t *tx, const char *cmd, const char *key, const char *a, const char *b,
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
void
matcher_tx_event_add (matcher_tx_t *tx, const Oim__V1__Event *event)
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

//  Queues "SADD <key> <member>" for an organization's set; matcher_tx_exec merges those of one
//  key into one SADD (a batch of demands has one company's demands many times, and may
//  match a startup more than once).
void
matcher_tx_member (matcher_tx_t *tx, const char *key, const char *member)
{
    if (tx->member_count == tx->member_slots) {
        tx->member_slots = tx->member_slots? tx->member_slots * 2: 256;
        tx->member_at = realloc (tx->member_at, tx->member_slots * sizeof *tx->member_at);
        assert (tx->member_at);
    }
    tx->member_at [tx->member_count++] = tx->members.len;
    matcher_text_add (&tx->members, key, strlen (key) + 1);
    matcher_text_add (&tx->members, member, strlen (member) + 1);
}

static void s_tx_flush_members (matcher_tx_t *tx);

static void
s_tx_clear (matcher_tx_t *tx)
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
void
matcher_tx_init (matcher_store_t *self, matcher_tx_t *tx)
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
void
matcher_tx_done (matcher_store_t *self, matcher_tx_t *tx)
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
s_tx_events_end (const matcher_tx_t *tx, size_t first)
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
s_tx_add_events (matcher_tx_t *tx)
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
        matcher_tx_add (tx, 5, argv, len);
    }
}

//  Writes more of a sealed transaction: what the connection takes now (block false), or
//  the rest. 0, or -1 when Redis failed.
int
matcher_tx_write (oim_redis_t *redis, matcher_tx_t *tx, bool block)
{
    return oim_redis_write (redis, tx->cmds.data, tx->cmds.len, &tx->written, block);
}

//  Completes the transaction: its merged SADDs, its events' XADDs, EXEC (once).
void
matcher_tx_seal (matcher_tx_t *tx)
{
    if (tx->sealed)
        return;
    s_tx_flush_members (tx);
    s_tx_add_events (tx);
    s_tx_begin_cmd (tx);            //  (MULTI, when tx is empty)
    matcher_text_add (&tx->cmds, "*1\r\n$4\r\nEXEC\r\n", 14);
    tx->sealed = true;
}

//  Seals the transaction and writes what the connection takes now, without waiting for
//  Redis to read the rest (matcher_tx_write writes more, matcher_tx_finish all). Redis runs
//  nothing of it before EXEC: it gets the whole transaction, or, when the connection fails,
//  discards it. 0, or -1 when Redis failed.
int
matcher_tx_send (oim_redis_t *redis, matcher_tx_t *tx)
{
    matcher_tx_seal (tx);
    return matcher_tx_write (redis, tx, false);
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

//  Completes a transaction matcher_tx_send started (sent: what it returned): writes the rest, reads
//  the replies. Returns as s_tx_replies;
//  clears tx either way.
int
matcher_tx_finish (matcher_store_t *self, oim_redis_t *redis, matcher_tx_t *tx, int sent)
{
    int rc = sent || matcher_tx_write (redis, tx, true)? -1: s_tx_replies (redis, tx->count);
    if (rc == 0)
        self->counts.conflicts++;
    matcher_tx_done (self, tx);
    return rc;
}

//  Runs the transaction. Returns 1 when committed, 0 when a WATCHed key changed (EXEC nil),
//  -1 when Redis failed. Clears tx either way.
int
matcher_tx_exec (matcher_store_t *self, matcher_tx_t *tx)
{
    return matcher_tx_finish (self, self->redis, tx, matcher_tx_send (self->redis, tx));
}

void
matcher_unwatch_on (oim_redis_t *redis)
{
    redisReply *reply = oim_redis_command (redis, "UNWATCH");
    if (reply)
        freeReplyObject (reply);
}

void
matcher_store_unwatch (matcher_store_t *self)
{
    matcher_unwatch_on (self->redis);
}

//  --------------------------------------------------------------------------------------
//  Commands built argument by argument, merged SADDs

void
matcher_argv_str (matcher_argv_t *a, const char *text)
{
    s_resp_arg (&a->body, text, strlen (text));
    a->argc++;
}

void
matcher_argv_packed (matcher_argv_t *a, const ProtobufCMessage *msg)
{
    s_resp_packed (&a->body, msg);
    a->argc++;
}

//  Queues the command when it has more than its first `head` arguments, then empties a.
void
matcher_argv_flush (matcher_tx_t *tx, matcher_argv_t *a, int head)
{
    if (a->argc > head) {
        s_tx_begin_cmd (tx);
        s_resp_head (&tx->cmds, '*', (size_t) a->argc);
        matcher_text_add (&tx->cmds, a->body.data, a->body.len);
        tx->count++;
    }
    free (a->body.data);
    memset (a, 0, sizeof *a);
}

//  The key of queued member i; the member follows it.
static const char *
s_member_key (const matcher_tx_t *tx, size_t i)
{
    return tx->members.data + tx->member_at [i];
}

//  Moves the queued SADDs into tx's commands: one per key, in the order the keys were first
//  queued, its members in the order they were queued (one queued again right after itself
//  once: a demand's K matches name its demand K times). Grouped in one
//  pass: a hash table (open addressing) finds a key's first member, and each member links
//  to the next of its key.
static void
s_tx_flush_members (matcher_tx_t *tx)
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
