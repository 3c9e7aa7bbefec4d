/*  registry_validate — field validation and normalisation for the registry's entities.

    Works on decoded protobuf-c messages (from pbjson for HTTP bodies, from protobuf for
    ingest events), so both transports share one set of rules. Functions normalise in place
    (NFC text, folded tags, canonical timestamps and business numbers) and on the first bad
    field return -1 with registry_err_t filled: 400 for what is not text at all (invalid UTF-8),
    422 for what is well-formed but not allowed (too long, unknown code, bad check digit).
    String fields hold malloc'd strings or protobuf-c's shared empty string, never anything
    else, so replacing one is registry_set_string.
*/
#include "registry.h"
#include "oim_utf8.h"

#include <ctype.h>
#include <stdarg.h>

#define MAX_CODES 20                //  industries, regions, stages, collaboration per entity
#define MAX_INPUT_TAGS 1000         //  refused before any work is done on them

static const char *s_kinds [] = { "startup", "company", "agency", NULL };
static const char *s_stages [] = { "pre-seed", "seed", "series-a", "series-b", "series-c+",
                                   "public", NULL };
static const char *s_collaboration [] = { "poc", "joint-development", "investment",
                                          "procurement", "licensing", NULL };
static const char *s_visibility [] = { "public", "members", "confidential", NULL };
static const char *s_demand_status [] = { "open", "closed", "awarded", "pending_review",
                                          "returned", NULL };  //  the last two: issue 17 review
static const char *s_search_types [] = { "startup", "demand", NULL };
//  ISO 3166-2:KR (KR-42 Gangwon became KR-51 in 2023, KR-45 Jeonbuk KR-52 in 2024: both kept)
static const char *s_kr_regions [] = { "KR-11", "KR-26", "KR-27", "KR-28", "KR-29", "KR-30",
    "KR-31", "KR-41", "KR-42", "KR-43", "KR-44", "KR-45", "KR-46", "KR-47", "KR-48", "KR-49",
    "KR-50", "KR-51", "KR-52", NULL };

int
registry_fail (registry_err_t *err, uint32_t status, const char *field, const char *format, ...)
{
    err->status = status;
    snprintf (err->field, sizeof err->field, "%s", field? field: "");
    va_list args;
    va_start (args, format);
    vsnprintf (err->message, sizeof err->message, format, args);
    va_end (args);
    return -1;
}

void
registry_set_string (char **slot, const char *value)
{
    if (*slot && *slot != protobuf_c_empty_string)
        free (*slot);
    *slot = strdup (value);
    assert (*slot);
}

static bool
s_in (const char *value, const char **set)
{
    for (; *set; set++)
        if (strcmp (value, *set) == 0)
            return true;
    return false;
}

//  Trims ASCII white space at both ends, in place.
static void
s_trim (char *text)
{
    size_t len = strlen (text), start = 0;
    while (len && isspace ((unsigned char) text [len - 1]))
        text [--len] = 0;
    while (start < len && isspace ((unsigned char) text [start]))
        start++;
    memmove (text, text + start, len - start + 1);
}

//  True when text (valid UTF-8) is certainly NFC already: only ASCII, precomposed Hangul
//  syllables and CJK ideographs, none of which decompose or compose with a neighbour in
//  this set. Most Korean and English text passes, and skips utf8proc (the hot spot of
//  ingest); anything else is normalised.
static bool
s_nfc_stable (const char *text)
{
    const unsigned char *p = (const unsigned char *) text;
    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        if ((*p & 0xF0) != 0xE0)
            return false;
        unsigned cp = ((p [0] & 0x0Fu) << 12) | ((p [1] & 0x3Fu) << 6) | (p [2] & 0x3Fu);
        if (!((cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x4E00 && cp <= 0x9FFF)))
            return false;
        p += 3;
    }
    return true;
}

int
registry_validate_text (char **slot, const char *field, size_t max_chars, bool required,
                        bool multiline, registry_err_t *err)
{
    const char *text = *slot? *slot: "";
    size_t len = strlen (text);
    if (!oim_utf8_valid (text, len))
        return registry_fail (err, 400, field, "%s is not valid UTF-8", field);
    //  A byte bound first, so a huge field costs nothing to refuse (4 bytes per code point).
    if (len > 4 * max_chars)
        return registry_fail (err, 422, field, "%s is longer than %zu characters", field, max_chars);
    if (!multiline && strpbrk (text, "\r\n"))
        return registry_fail (err, 422, field, "%s must be one line", field);
    if (oim_utf8_has_controls (text))
        return registry_fail (err, 422, field, "%s contains control characters", field);
    char *nfc = s_nfc_stable (text)? strdup (text): oim_utf8_nfc (text);
    if (!nfc)
        return registry_fail (err, 400, field, "%s is not valid UTF-8", field);
    if (!multiline)
        s_trim (nfc);
    if (oim_utf8_chars (nfc) > max_chars) {
        free (nfc);
        return registry_fail (err, 422, field, "%s is longer than %zu characters", field, max_chars);
    }
    if (required && !*nfc) {
        free (nfc);
        return registry_fail (err, 422, field, "%s is required", field);
    }
    if (*slot && *slot != protobuf_c_empty_string)
        free (*slot);
    *slot = nfc;
    return 0;
}

int
registry_validate_tags (char ***tags, size_t *n_tags, const char *field, registry_err_t *err)
{
    char path [160];
    if (*n_tags > MAX_INPUT_TAGS)
        return registry_fail (err, 422, field, "%s: at most %d tags", field, REGISTRY_MAX_TAGS);
    char **out = calloc (*n_tags + 1, sizeof *out);
    size_t n_out = 0;
    int rc = 0;
    for (size_t i = 0; i < *n_tags && rc == 0; i++) {
        snprintf (path, sizeof path, "%s[%zu]", field, i);
        const char *tag = (*tags) [i];
        if (!oim_utf8_valid (tag, strlen (tag)) || strlen (tag) > 200) {
            rc = registry_fail (err, strlen (tag) > 200? 422: 400, path,
                                "%s is not a valid tag (UTF-8, at most 50 characters)", path);
            break;
        }
        char *folded = oim_utf8_fold (tag);
        s_trim (folded);
        bool duplicate = false;
        for (size_t j = 0; j < n_out && !duplicate; j++)
            duplicate = strcmp (out [j], folded) == 0;
        if (!*folded || duplicate)
            free (folded);
        else
        if (oim_utf8_chars (folded) > 50 || oim_utf8_has_controls (folded) || strchr (folded, '\n')) {
            free (folded);
            rc = registry_fail (err, 422, path, "%s must be one line of at most 50 characters", path);
        }
        else
            out [n_out++] = folded;
    }
    if (rc == 0 && n_out > REGISTRY_MAX_TAGS)
        rc = registry_fail (err, 422, field, "%s: at most %d tags", field, REGISTRY_MAX_TAGS);
    if (rc) {
        for (size_t j = 0; j < n_out; j++)
            free (out [j]);
        free (out);
        return -1;
    }
    for (size_t i = 0; i < *n_tags; i++)
        free ((*tags) [i]);
    free (*tags);
    *tags = out;
    *n_tags = n_out;
    return 0;
}

bool
registry_validate_business_number (const char *text, char *out)
{
    static const int weights [9] = { 1, 3, 7, 1, 3, 7, 1, 3, 5 };
    size_t n = 0;
    for (const char *c = text; *c; c++) {
        if (*c == '-' && n > 0)
            continue;
        if (!isdigit ((unsigned char) *c) || n == 10)
            return false;
        out [n++] = *c;
    }
    out [n] = 0;
    if (n != 10)
        return false;
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (out [i] - '0') * weights [i];
    sum += ((out [8] - '0') * 5) / 10;
    return (10 - sum % 10) % 10 == out [9] - '0';
}

bool
registry_validate_region (const char *code)
{
    if (strncmp (code, "KR-", 3) == 0)
        return s_in (code, s_kr_regions);
    //  Another country: "XX-" and 1-3 upper-case letters or digits (ISO 3166-2's shape).
    size_t len = strlen (code);
    if (len < 4 || len > 6 || code [2] != '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (i != 2 && !(isupper ((unsigned char) code [i])
                        || (i > 2 && isdigit ((unsigned char) code [i]))))
            return false;
    return true;
}

bool
registry_validate_stage (const char *stage)
{
    return s_in (stage, s_stages);
}

//  Checks a list of codes with a predicate (or a fixed set) and a length bound.
static int
s_codes (char **items, size_t n, const char *field, bool (*valid) (const char *),
         const char **set, const char *what, registry_err_t *err)
{
    if (n > MAX_CODES)
        return registry_fail (err, 422, field, "%s: at most %d entries", field, MAX_CODES);
    for (size_t i = 0; i < n; i++)
        if (valid? !valid (items [i]): !s_in (items [i], set)) {
            char path [160];
            snprintf (path, sizeof path, "%s[%zu]", field, i);
            return registry_fail (err, 422, path, "%s is not %s", path, what);
        }
    return 0;
}

//  Joins prefix and name into a field path ("demand.title").
static const char *
s_path (char *buf, const char *prefix, const char *name)
{
    snprintf (buf, 128, "%s%s", prefix, name);
    return buf;
}

static bool
s_email_ok (const char *email)
{
    const char *at = strchr (email, '@');
    return at && at != email && !strchr (at + 1, '@') && strchr (at + 1, '.')
        && !strpbrk (email, " \t<>,;\"");
}

static int
s_org_contacts (Oim__V1__Organization *org, registry_err_t *err)
{
    if (registry_validate_text (&org->website, "website", 500, false, false, err)
    ||  registry_validate_text (&org->email, "email", 254, false, false, err)
    ||  registry_validate_text (&org->phone, "phone", 40, false, false, err))
        return -1;
    if (*org->website && strncmp (org->website, "https://", 8) && strncmp (org->website, "http://", 7))
        return registry_fail (err, 422, "website", "website must be an http(s) URL");
    if (*org->email && !s_email_ok (org->email))
        return registry_fail (err, 422, "email", "email is not an e-mail address");
    if (strspn (org->phone, "0123456789+-() ") != strlen (org->phone))
        return registry_fail (err, 422, "phone", "phone may hold digits, spaces and + - ( )");
    if (*org->business_number) {
        char digits [11];
        if (!registry_validate_business_number (org->business_number, digits))
            return registry_fail (err, 422, "business_number",
                                  "business_number is not a valid Korean business registration "
                                  "number (10 digits, check digit)");
        registry_set_string (&org->business_number, digits);
    }
    return 0;
}

int
registry_validate_org (Oim__V1__Organization *org, registry_err_t *err)
{
    if (!s_in (org->kind, s_kinds))
        return registry_fail (err, 422, "kind", "kind must be startup, company or agency");
    if (registry_validate_text (&org->name, "name", 200, true, false, err)
    ||  registry_validate_text (&org->name_en, "name_en", 200, false, false, err)
    ||  registry_validate_text (&org->description, "description", 20000, false, true, err)
    ||  s_org_contacts (org, err))
        return -1;
    if (*org->region && !registry_validate_region (org->region))
        return registry_fail (err, 422, "region", "region is not an ISO 3166-2 code (e.g. KR-11)");
    if (s_codes (org->industries, org->n_industries, "industries", registry_taxonomy_valid, NULL,
                 "a KSIC section or division code (GET /v1/taxonomy)", err)
    ||  registry_validate_tags (&org->tags, &org->n_tags, "tags", err))
        return -1;
    if (*org->stage && !registry_validate_stage (org->stage))
        return registry_fail (err, 422, "stage", "stage must be one of pre-seed, seed, series-a, "
                              "series-b, series-c+, public");
    if (*org->stage && strcmp (org->kind, "startup"))
        return registry_fail (err, 422, "stage", "only startups have a stage");
    if (org->founded && (org->founded < 1800 || org->founded > 2200))
        return registry_fail (err, 422, "founded", "founded must be a year");
    if (org->employees < 0 || org->employees > 10000000)
        return registry_fail (err, 422, "employees", "employees must be between 0 and 10000000");
    return 0;
}

static int
s_demand_codes (Oim__V1__Demand *d, const char *prefix, registry_err_t *err)
{
    char path [128];
    if (s_codes (d->industries, d->n_industries, s_path (path, prefix, "industries"),
                 registry_taxonomy_valid, NULL, "a KSIC section or division code", err)
    ||  s_codes (d->regions, d->n_regions, s_path (path, prefix, "regions"),
                 registry_validate_region, NULL, "an ISO 3166-2 code", err)
    ||  s_codes (d->stages, d->n_stages, s_path (path, prefix, "stages"), NULL, s_stages,
                 "a stage (pre-seed, seed, series-a, series-b, series-c+, public)", err)
    ||  s_codes (d->collaboration, d->n_collaboration, s_path (path, prefix, "collaboration"),
                 NULL, s_collaboration,
                 "one of poc, joint-development, investment, procurement, licensing", err))
        return -1;
    return registry_validate_tags (&d->tags, &d->n_tags, s_path (path, prefix, "tags"), err);
}

int
registry_validate_demand (Oim__V1__Demand *d, const char *prefix, registry_err_t *err)
{
    char path [128];
    if (registry_validate_text (&d->title, s_path (path, prefix, "title"), 200, true, false, err)
    ||  registry_validate_text (&d->description, s_path (path, prefix, "description"), 20000,
                                false, true, err)
    ||  s_demand_codes (d, prefix, err))
        return -1;
    if (d->budget_krw && (d->budget_krw->min < 0 || d->budget_krw->max < 0
                          || (d->budget_krw->max && d->budget_krw->min > d->budget_krw->max)))
        return registry_fail (err, 422, s_path (path, prefix, "budget_krw"),
                              "%s: min and max must be >= 0 and min <= max", path);
    if (*d->closes_at) {
        int64_t ms;
        if (oim_clock_parse_rfc3339 (d->closes_at, &ms))
            return registry_fail (err, 422, s_path (path, prefix, "closes_at"),
                                  "%s is not an RFC 3339 date-time", path);
        char canonical [OIM_RFC3339_SIZE];
        oim_clock_rfc3339 (ms, canonical);
        registry_set_string (&d->closes_at, canonical);
    }
    if (!*d->visibility)
        registry_set_string (&d->visibility, "public");
    if (!s_in (d->visibility, s_visibility))
        return registry_fail (err, 422, s_path (path, prefix, "visibility"),
                              "%s must be public, members or confidential", path);
    if (*d->status && !s_in (d->status, s_demand_status))
        return registry_fail (err, 422, s_path (path, prefix, "status"),
                              "%s must be open, closed or awarded", path);
    return 0;
}

int
registry_validate_saved_search (Oim__V1__SavedSearch *s, registry_err_t *err)
{
    if (!s_in (s->type, s_search_types))
        return registry_fail (err, 422, "type", "type must be startup or demand");
    if (registry_validate_text (&s->q, "q", 500, false, false, err)
    ||  s_codes (s->industry, s->n_industry, "industry", registry_taxonomy_valid, NULL,
                 "a KSIC section or division code", err)
    ||  s_codes (s->region, s->n_region, "region", registry_validate_region, NULL,
                 "an ISO 3166-2 code", err)
    ||  s_codes (s->stage, s->n_stage, "stage", NULL, s_stages, "a stage", err)
    ||  s_codes (s->collaboration, s->n_collaboration, "collaboration", NULL, s_collaboration,
                 "a collaboration type", err))
        return -1;
    return registry_validate_tags (&s->tag, &s->n_tag, "tag", err);
}
