/*  matcher_events — what the store tells and shows: event ids (derived from the change, so
    a replay writes the same ids), a match rendered for a viewer (contacts once connected, a
    confidential demand's teaser for a startup not connected), and the events of matches,
    closed demands and saved-search hits, queued into a transaction. See matcher_store.h
    (Events, Visibility).
*/
#include "matcher_store_internal.h"

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
void
matcher_event_id (matcher_store_t *self, const char *subject, int64_t version, const char *type,
                  const char *org, const char *updated_at, char *buf)
{
    static const char alphabet [] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint64_t t = (uint64_t) s_time_ms (self, updated_at) * 1000;
    //  FNV-1a over "subject|version|type|org" (at most 511 bytes), without formatting it
    char ver [24];
    matcher_int_text ((long long) version, ver);
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

//  --------------------------------------------------------------------------------------
//  Rendering

//  True when viewer sees match m as its teaser: the startup, not connected yet, on a
//  confidential demand (or on one the model does not know: closed, to be safe).
static bool
s_teaser_view (matcher_store_t *self, const match_t *m, const char *viewer, bool agency)
{
    if (agency || !viewer || !streq (viewer, m->startup_id) || matcher_state_revealed (m->state))
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
        matcher_factor_fill (&factor, &score, f);
        json_array_append_new (explanation, oim_pbjson_encode (&factor.base, 0));
    }
    json_object_del (json, "company_id");
    json_object_set_new (json, "explanation", explanation);
    json_object_set_new (json, "score", json_real ((double) score.units / MATCHER_UNITS));
}

//  The match as the API shows it to a viewer (org id, or agency): a startup that is not
//  connected sees a confidential demand's match as its teaser (s_teaser_json).
json_t *
matcher_render (matcher_store_t *self, const match_t *m, const char *viewer, bool agency)
{
    json_t *json = oim_pbjson_encode (&m->base, 0);
    json_object_del (json, "notified_score");
    json_object_del (json, "in_top");
    if (matcher_state_revealed (m->state)) {
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
    //  derived from the score shown (matcher_strength), not stored
    double shown = json_number_value (json_object_get (json, "score"));
    json_object_set_new (json, "strength", json_string (matcher_strength (self->model,
                                                         llround (shown * MATCHER_UNITS))));
    return json;
}

//  Appends "key":"value" (with a leading comma unless first), value escaped as JSON (UTF-8
//  passes through; quote, backslash and control characters are escaped).
static void
s_text_field (matcher_text_t *t, const char *key, const char *value)
{
    matcher_text_add (t, t->len > 1? ",\"": "\"", t->len > 1? 2: 1);
    matcher_text_add (t, key, strlen (key));
    matcher_text_add (t, "\":\"", 3);
    const char *run = value? value: "";
    for (const char *p = run; ; p++) {
        unsigned char c = (unsigned char) *p;
        if (c && c >= 0x20 && c != '"' && c != '\\')
            continue;
        matcher_text_add (t, run, (size_t) (p - run));
        if (!c)
            break;
        char esc [8];
        if (c == '"' || c == '\\')
            snprintf (esc, sizeof esc, "\\%c", c);
        else
            snprintf (esc, sizeof esc, "\\u%04x", c);
        matcher_text_add (t, esc, strlen (esc));
        run = p + 1;
    }
    matcher_text_add (t, "\"", 1);
}

//  Appends "key":raw (a number or a literal), with a leading comma.
static void
s_text_raw (matcher_text_t *t, const char *key, const char *raw)
{
    matcher_text_add (t, ",\"", 2);
    matcher_text_add (t, key, strlen (key));
    matcher_text_add (t, "\":", 2);
    matcher_text_add (t, raw, strlen (raw));
}

//  The data of a match.created / match.updated event: the match without its explanation
//  (the match endpoints show that), written directly: events are most of a demand's cost.
//  teaser: the score a startup not connected sees of a confidential demand's match (then
//  without the owner), or NULL. Caller frees.
static char *
s_summary_json (const match_t *m, const matcher_score_t *teaser)
{
    matcher_text_t t = { 0 };
    char num [64];
    double score = teaser? (double) teaser->units / MATCHER_UNITS: m->score;
    matcher_text_add (&t, "{", 1);
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
        matcher_int_text (units / MATCHER_UNITS, whole);
        matcher_int_text (units % MATCHER_UNITS + MATCHER_UNITS, frac);      //  "1xxxx"
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
    matcher_int_text ((long long) m->version, num);
    s_text_raw (&t, "version", num);
    matcher_text_add (&t, "}", 1);
    return t.data;
}

//  --------------------------------------------------------------------------------------
//  Events

//  Appends one event for recipient org about match m; data_json is the match rendered as
//  org sees it, or text when given (the same for every viewer). copy_org, when not NULL, is
//  a second recipient of the same text: one Event with a copy (its own id, as it would have
//  had as an event of its own). counts.events counts recipients.
static void
s_tx_event_text (matcher_store_t *self, matcher_tx_t *tx, const match_t *m, const char *type,
                 const char *org, const char *text, const char *copy_org)
{
    char id [OIM_ID_SIZE], copy_id [OIM_ID_SIZE];
    matcher_event_id (self, m->id, m->version, type, org, m->updated_at, id);
    Oim__V1__Event__Copy copy = OIM__V1__EVENT__COPY__INIT;
    Oim__V1__Event__Copy *copies [1] = { &copy };
    if (copy_org) {
        matcher_event_id (self, m->id, m->version, type, copy_org, m->updated_at, copy_id);
        copy.id = copy_id;
        copy.org_id = (char *) copy_org;
    }
    char *own = NULL;
    if (!text) {
        json_t *data = matcher_render (self, m, org, false);
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
    matcher_tx_event_add (tx, &event);
    free (own);
    self->counts.events += 1 + event.n_copies;
}

void
matcher_tx_event (matcher_store_t *self, matcher_tx_t *tx, const match_t *m, const char *type,
                  const char *org)
{
    s_tx_event_text (self, tx, m, type, org, NULL, NULL);
}

//  The same event for both sides of m: a summary of the match, rendered once and written
//  once (the startup as a copy of the company's event), or the full match, as each side
//  sees it, when connected (the other side's contacts): two events. A confidential
//  demand's startup, not connected, gets its own event with the teaser's summary (no
//  owner; the score from title and tags): two events, with the ids a copy would have had.
void
matcher_tx_event_both (matcher_store_t *self, matcher_tx_t *tx, const match_t *m, const char *type)
{
    if (matcher_state_revealed (m->state)) {
        matcher_tx_event (self, tx, m, type, m->company_id);
        matcher_tx_event (self, tx, m, type, m->startup_id);
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

void
matcher_tx_closed_event (matcher_store_t *self, matcher_tx_t *tx, const Oim__V1__Demand *demand,
                         const match_t *m, const char *changed_at)
{
    char id [OIM_ID_SIZE], ver [32];
    matcher_event_id (self, demand->id, demand->version, "demand.closed", m->startup_id,
                      changed_at, id);
    matcher_text_t t = { 0 };
    matcher_text_add (&t, "{", 1);
    s_text_field (&t, "demand_id", demand->id);
    s_text_field (&t, "title", demand->title);
    s_text_field (&t, "status", demand->status);
    snprintf (ver, sizeof ver, "%lld", (long long) demand->version);
    s_text_raw (&t, "version", ver);
    if (!streq (demand->visibility, "confidential") || matcher_state_revealed (m->state))
        s_text_field (&t, "company_id", m->company_id);
    s_text_field (&t, "match_id", m->id);
    s_text_field (&t, "match_state", m->state);
    matcher_text_add (&t, "}", 1);
    Oim__V1__Event event = OIM__V1__EVENT__INIT;
    event.id = id;
    event.type = "demand.closed";
    event.org_id = m->startup_id;
    event.created_at = (char *) changed_at;
    event.data_json = t.data;
    matcher_tx_event_add (tx, &event);
    free (t.data);
    self->counts.events++;
}

void
matcher_tx_hit_event (matcher_store_t *self, matcher_tx_t *tx, const char *ss_id, const char *owner,
                      const char *type, const char *entity_id, int64_t version, const char *title)
{
    char now [OIM_RFC3339_SIZE], id [OIM_ID_SIZE];
    oim_clock_rfc3339 (oim_clock_wall_ms (), now);
    char subject [256];
    snprintf (subject, sizeof subject, "%s|%s", ss_id, entity_id);
    matcher_event_id (self, subject, version, "saved_search.hit", owner, now, id);
    json_t *data = json_pack ("{s:s,s:s,s:s,s:I,s:s}", "saved_search_id", ss_id,
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
    matcher_tx_event_add (tx, &event);
    free (text);
}
