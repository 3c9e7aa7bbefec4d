/*  matcher_tx — the store's transactions: common/oim_redis_tx (the commands, merged SADDs,
    MULTI ... EXEC sent without waiting) plus the matcher's events. A transaction's events
    are not commands of their own: they are collected as the records of an EventBatch (field
    1: tag 0x0A, varint length, the packed Event) and written at the seal as one
    XADD oim:events * b <EventBatch> per BATCH_EVENTS recipients ("e" when an entry would
    hold a single event), after the merged SADDs. Redis then stores one stream entry where it
    stored one per event (~38 per demand): per-command cost was most of Redis' work. Also the
    growing text buffer the events' JSON is written with. See matcher_store_internal.h.
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

//  --------------------------------------------------------------------------------------
//  A transaction (matcher_tx_t in matcher_store_internal.h)

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

//  A batch transaction holds megabytes: fresh buffers each time cost page faults and
//  reallocations, so the store keeps the last ones (its spare oim_redis_tx, and event
//  buffers up to SPARE_MAX) for the next.
#define SPARE_MAX   (16 * 1024 * 1024)

void
matcher_tx_init (matcher_store_t *self, matcher_tx_t *tx)
{
    memset (tx, 0, sizeof *tx);
    tx->redis_tx = self->spare_tx? self->spare_tx: oim_redis_tx_new ();
    self->spare_tx = NULL;
    tx->ev = self->spare_ev;
    tx->ev_cap = self->spare_ev_cap;
    self->spare_ev = NULL;
    self->spare_ev_cap = 0;
}

void
matcher_tx_done (matcher_store_t *self, matcher_tx_t *tx)
{
    if (tx->redis_tx) {
        oim_redis_tx_reset (tx->redis_tx);
        if (!self->spare_tx)
            self->spare_tx = tx->redis_tx;
        else
            oim_redis_tx_destroy (&tx->redis_tx);
    }
    if (tx->ev_cap > self->spare_ev_cap && tx->ev_cap <= SPARE_MAX) {
        free (self->spare_ev);
        self->spare_ev = tx->ev;
        self->spare_ev_cap = tx->ev_cap;
        tx->ev = NULL;
    }
    free (tx->ev);
    free (tx->ev_at);
    free (tx->ev_head);
    free (tx->ev_recipients);
    memset (tx, 0, sizeof *tx);
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
        oim_redis_tx_add (tx->redis_tx, 5, argv, len);
    }
}

void
matcher_tx_seal (matcher_tx_t *tx)
{
    if (tx->sealed)
        return;
    oim_redis_tx_merge (tx->redis_tx);      //  the merged SADDs, then the events
    s_tx_add_events (tx);
    oim_redis_tx_seal (tx->redis_tx);
    tx->sealed = true;
}

int
matcher_tx_send (oim_redis_t *redis, matcher_tx_t *tx)
{
    matcher_tx_seal (tx);
    return oim_redis_tx_send (tx->redis_tx, redis);
}

int
matcher_tx_finish (matcher_store_t *self, oim_redis_t *redis, matcher_tx_t *tx, int sent)
{
    int rc = oim_redis_tx_finish (tx->redis_tx, redis, sent);
    if (rc == OIM_REDIS_TX_CONFLICT)
        self->counts.conflicts++;
    matcher_tx_done (self, tx);
    return rc;
}

int
matcher_tx_exec (matcher_store_t *self, matcher_tx_t *tx)
{
    return matcher_tx_finish (self, self->redis, tx, matcher_tx_send (self->redis, tx));
}
