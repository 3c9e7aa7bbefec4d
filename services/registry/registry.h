/*  registry — what the registry's modules share: the daemon state, the actor of a change,
    field errors, and the entry points of every module (one section per .c file).

    Module map (no file includes back into the daemon definition):
      registry_server.c    the daemon definition: options, method table, start/tick/stop
      registry_request.c   what every handler shares (registry_request.h): the daemon state
                           of a service, the actor of a request, If-Match, replies for
                           field errors, an unreachable Redis and a missing entity
      registry_store.c     Redis access (return codes, no HTTP): entity get and load, CURVE
                           key records, and the registry's part of a transaction (oim_redis_tx:
                           state + change log + audit + counters in one MULTI/EXEC)
      registry_keys.c      API keys: generation, hashing, install/revoke in a transaction
      registry_validate.c  field validation and normalisation (text, tags, regions, stages,
                           business numbers, orgs, demands, saved searches)
      registry_taxonomy.c  the KSIC table served at GET /v1/taxonomy
      registry_ksic_keywords.c  keywords per KSIC division (inference)
      registry_infer.c     inferred tags and KSIC divisions of demands and organizations
      registry_orgs.c      organizations, the bootstrap agency
      registry_feedkeys.c  organizations' feed CURVE keys
      registry_publishers.c  publishers and their CURVE keys (oim:curvekey:<z85>)
      registry_demands.c   demands (visibility), the closes_at sweep
      registry_saved.c     saved searches
      registry_admin.c     audit log, stats, taxonomy
      registry_ingest.c    demand events: HTTP and ZeroMQ, batched and pipelined
      registry_retention.c trimming the change log and the audit log
      registry_profile_events.c  organisation profile events (HTTP, ZeroMQ org_events)
      registry_review.c    agency settings, review queue, renewal, expiry reminders
      registry_announce.c  announcements to groups of organisations
      registry_stats.c     the funnel and delivery health of GET /v1/admin/stats
      registry_export.c    CSV exports
      registry_directory.c lists over id indexes (directory, publishers, people), publishers' keys
*/
#ifndef REGISTRY_H_INCLUDED
#define REGISTRY_H_INCLUDED

#include "oim_service.h"
#include "oim_redis_tx.h"
#include "oim_api.h"
#include "oim_keys.h"
#include "oim_id.h"
#include "oim_clock.h"
#include "oim_log.h"
#include "registry.pb-c.h"
#include "changelog.pb-c.h"
#include "ingest.pb-c.h"

#define REGISTRY_MAX_BATCH_EVENTS   1000    //  SPEC §4
#define REGISTRY_MAX_TAGS           50
#define REGISTRY_MAX_LIST           10      //  industries, regions, stages, ... per entity
#define REGISTRY_MAX_SAVED_SEARCHES 100     //  per organization
#define REGISTRY_API_KEY_CHARS      69      //  "oimk_" + 64 hex, see registry_keys.c
#define REGISTRY_CHANGELOG_RETAIN_S 604800  //  default retention, registry_retention.c
#define REGISTRY_AUDIT_RETAIN_S     7776000

//  The daemon's state (oim_service_state), made in start, freed in stop.
typedef struct {
    oim_service_t *service;
    oim_redis_t *redis;
    int64_t next_sweep_ms;          //  when the closes_at sweep runs next (monotonic)
    int64_t next_trim_ms;           //  when the streams are trimmed next (monotonic)
    oim_metric_t *m_events [8];     //  ingest results by status (registry_ingest.c order)
    oim_metric_t *m_unpacked;       //  ZeroMQ batches unpacked (each one authenticated first)
    struct registry_infer_t *infer; //  tags and industries from text (registry_infer.c)
    struct registry_accounts_t *accounts;   //  people, sessions, tokens (registry_accounts.c)
} registry_t;

//  Who makes a change: the principal the gateway resolved (or the publisher's key, or the
//  "system" for the registry's own sweeps) and the request id, for change log and audit.
typedef struct {
    const Oim__V1__Principal *principal;    //  never NULL
    const char *request_id;                 //  never NULL
    bool system;                            //  the registry itself (closes_at sweep)
} registry_actor_t;

//  A refusal of one field: status 400 (shape) or 422 (meaning), JSON path and message.
typedef struct {
    uint32_t status;
    char field [128];
    char message [200];
} registry_err_t;

//  Fills err and returns -1 (for one-line refusals; registry_validate.c).
int registry_fail (registry_err_t *err, uint32_t status, const char *field, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  ---- registry_store.c -------------------------------------------------------------------
//  Reads key and unpacks it as descriptor's message into *out (caller frees with
//  protobuf_c_message_free_unpacked). Returns 1 found, 0 missing, -1 Redis failed or the
//  value does not unpack (logged).
int registry_store_get (oim_redis_t *redis, const char *key,
                        const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **out);
//  WATCH key, then whether it exists: 1, 0, or -1 (Redis failed).
int registry_store_watch_exists (oim_redis_t *redis, const char *key);

//  CURVE public keys registered through the API, oim:curvekey:<z85> = CurveKeyRecord: the
//  publishers' (registry_publishers.c) and the organisations' feed keys (registry_feedkeys.c);
//  read by the gateway's ZAP handler. One key, one identity.
#define REGISTRY_CURVE_KEY_CHARS 40
//  True when z85 is 40 characters of Z85 that decode to a 32-byte key (NULL: false).
bool registry_curvekey_valid (const char *z85);
//  WATCHes z85's record: 1 registered already, 0 free ("" is free), -1 Redis failed.
int registry_curvekey_taken (registry_t *self, const char *z85);
//  Adds the removal of z85's record to tx (nothing for "").
void registry_curvekey_drop (oim_redis_tx_t *tx, const char *z85);
//  Loads the live (not deleted) entity id: an id with id_prefix (anything else is missing)
//  stored at key_format, WATCHed first when watch is set. Returns 1 with *out (caller frees),
//  0 missing or deleted, -1 Redis failed; the WATCH is released unless 1.
int registry_store_load_live (oim_redis_t *redis, const char *id, const char *id_prefix,
                              const char *key_format,
                              const ProtobufCMessageDescriptor *descriptor, bool watch,
                              ProtobufCMessage **out);

//  Convenience getters; same returns as registry_store_get.
int registry_store_org (oim_redis_t *redis, const char *id, Oim__V1__Organization **org);
int registry_store_demand (oim_redis_t *redis, const char *id, Oim__V1__Demand **demand);

//  The registry's part of a transaction (oim_redis_tx_t, common/oim_redis_tx.h): run it with
//  oim_redis_tx_exec (0 committed, 1 a WATCHed key changed, -1 Redis failed).
//  ZADD key 0 member (add) or ZREM key member, grouped.
void registry_tx_zset (oim_redis_tx_t *self, bool add, const char *key, const char *member);
//  SET key <message packed>.
void registry_tx_put (oim_redis_tx_t *self, const char *key, const ProtobufCMessage *message);
//  XADD oim:changelog * e <ChangeEntry>: the new state of the entity (entity_type "org",
//  "demand", "saved_search", "publisher"; message of that type) after action.
void registry_tx_change (oim_redis_tx_t *self, const registry_actor_t *actor, Oim__V1__ChangeOp op,
                         const char *action, const char *entity_type, const char *entity_id,
                         const ProtobufCMessage *entity);
//  XADD oim:audit * e <AuditEntry>.
void registry_tx_audit (oim_redis_tx_t *self, const registry_actor_t *actor, const char *action,
                        const char *entity_type, const char *entity_id, const char *detail);
//  HINCRBY oim:stats field delta, summed per field and written at exec.
void registry_tx_count (oim_redis_tx_t *self, const char *field, int delta);

//  ---- registry_keys.c --------------------------------------------------------------------
//  A new random API key (REGISTRY_API_KEY_CHARS + 1 bytes) and its SHA-256 hex (65 bytes).
void registry_keys_new (char *key, char *hash_hex);
void registry_keys_hash (const char *key, char *hash_hex);
//  Reads the ApiKeyRecord for a presented key. Returns 1 found, 0 unknown, -1 Redis failed.
int registry_keys_lookup (oim_redis_t *redis, const char *key, Oim__V1__ApiKeyRecord **record);

//  ---- registry_validate.c ----------------------------------------------------------------
//  Replaces *slot with its NFC form after checking it: valid UTF-8, no control characters
//  (newlines allowed when multiline), at most max_chars code points, non-empty if required.
int registry_validate_text (char **slot, const char *field, size_t max_chars, bool required,
                            bool multiline, registry_err_t *err);
//  Normalises tags in place: NFC, case-folded, trimmed, empty ones dropped, duplicates
//  removed (first kept), each <= 50 characters, at most REGISTRY_MAX_TAGS.
int registry_validate_tags (char ***tags, size_t *n_tags, const char *field, registry_err_t *err);
//  Writes the 10 digits of a Korean business registration number ("123-45-67890" or
//  "1234567890") into out (11 bytes) when its check digit is right. Returns true if valid.
bool registry_validate_business_number (const char *text, char *out);
bool registry_validate_region (const char *code);
bool registry_validate_stage (const char *stage);
int registry_validate_org (Oim__V1__Organization *org, registry_err_t *err);
int registry_validate_demand (Oim__V1__Demand *demand, const char *prefix, registry_err_t *err);
int registry_validate_saved_search (Oim__V1__SavedSearch *search, registry_err_t *err);
//  Frees a string field unless it is protobuf-c's shared empty string, then sets it.
void registry_set_string (char **slot, const char *value);

//  ---- registry_taxonomy.c ----------------------------------------------------------------
//  True when code is a KSIC section ("C") or one of its divisions ("C26").
bool registry_taxonomy_valid (const char *code);
json_t *registry_taxonomy_json (void);

//  ---- registry_ksic_keywords.c -----------------------------------------------------------
#define REGISTRY_KSIC_KEYWORDS_MAX 28       //  per division, NULL-terminated
typedef struct {
    const char *code;                       //  a KSIC division ("C26")
    const char *words [REGISTRY_KSIC_KEYWORDS_MAX];  //  English (1-2 words) and Korean keywords
} registry_ksic_keywords_t;
//  The keyword table by which registry_infer.c infers divisions (read-only, count entries).
const registry_ksic_keywords_t *registry_ksic_keywords (size_t *count);

//  ---- registry_infer.c -------------------------------------------------------------------
#define REGISTRY_INFER_TAGS         8       //  inferred key phrases per entity, at most
#define REGISTRY_INFER_INDUSTRIES   2       //  inferred KSIC divisions per entity, at most
typedef struct registry_infer_t registry_infer_t;
//  The analyser, the evidence filter and the analysed keyword table. NULL when memory is short.
registry_infer_t *registry_infer_new (void);
void registry_infer_destroy (registry_infer_t **self_p);
//  Up to REGISTRY_INFER_TAGS key phrases of title and description into out (caller frees each
//  string); returns how many. Deterministic, the same for the same text whatever else is stored.
size_t registry_infer_tags (registry_infer_t *self, const char *title, const char *description,
                            char **out);
//  Up to REGISTRY_INFER_INDUSTRIES KSIC divisions (static strings) into out; returns how many.
size_t registry_infer_industries (registry_infer_t *self, const char *title,
                                  const char *description, const char **out);
//  Sets tags_given / industries_given on a written entity (a non-empty list counts as given),
//  then its inferred_* lists: emptied where given, derived from title and description where
//  not. An organization's text is its description (its name is a name, not a topic).
void registry_infer_demand (registry_infer_t *self, Oim__V1__Demand *demand);
void registry_infer_org (registry_infer_t *self, Oim__V1__Organization *org);
//  Marks in *tags_given / *industries_given (never clears) whether a request body gives the
//  field: the key is present and not null, an empty list included.
void registry_infer_given (const json_t *body, protobuf_c_boolean *tags_given,
                           protobuf_c_boolean *industries_given);
//  An entity's JSON for a reader: an older record without the flags shows a non-empty list
//  as given.
void registry_infer_json (json_t *json, size_t n_tags, size_t n_industries);
//  The fields clients never write (deny lists of the create and update bodies).
#define REGISTRY_INFER_READ_ONLY "tags_given", "industries_given", "inferred_tags", \
                                 "inferred_industries"

//  ---- handlers (registry_orgs.c, registry_demands.c, registry_admin.c, registry_ingest.c) --
oim_api_fn registry_org_create, registry_org_get, registry_org_update, registry_org_delete,
           registry_org_approve, registry_org_suspend;
oim_api_fn registry_publisher_create, registry_publisher_curve_key;     //  registry_publishers.c
oim_api_fn registry_demand_create, registry_demand_get, registry_demand_update,
           registry_demand_close, registry_demand_list;
oim_api_fn registry_demand_award;                   //  registry_award.c (issue 17)
oim_api_fn registry_saved_search_create, registry_saved_search_list,
           registry_saved_search_delete, registry_audit_list, registry_admin_stats,
           registry_taxonomy_get;
oim_api_fn registry_events_ingest;
oim_api_fn registry_feedkey_put, registry_feedkey_delete;     //  registry_feedkeys.c
oim_raw_fn registry_ingest_batch;

//  ---- registry_profile_events.c (issue 17 item 6) -----------------------------------------
//  One organisation event's result: status "created" | "updated" | "deleted" | "duplicate" |
//  "stale" | "invalid" (NULL while pending; reason and field when invalid), the org it
//  concerns ("" when none).
typedef struct {
    const char *status;
    char reason [320];
    char field [140];
    char org_id [OIM_ID_SIZE];
} registry_profile_result_t;
//  Applies count organisation events in order (NULL event or a preset status: skipped),
//  each durable before this returns. allowed_source: the publisher's system (NULL: the
//  agency, any system). results: count zeroed entries, filled. Returns 0, or -1 when Redis
//  failed (results of the events before may be applied; nothing may be acknowledged).
int registry_profile_events_run (registry_t *self, const registry_actor_t *actor,
                                 const char *allowed_source,
                                 Oim__V1__OrganizationEvent **events, size_t count,
                                 registry_profile_result_t *results);
oim_api_fn registry_org_events_ingest;

//  ---- registry_review.c (issue 17 item 4) -------------------------------------------------
//  True for the states of a demand in review ("pending_review", "returned"): seen by its
//  owner and the agency only.
bool registry_review_state (const char *status);
//  Sets a new demand's status: "pending_review" (with a "submitted" note) when a company
//  posts while the agency's demand_review setting is on, else "open". Returns 0, or -1 with
//  a 503 reply set.
int registry_review_submit (registry_t *self, const registry_actor_t *actor,
                            Oim__V1__Demand *demand, oim_api_reply_t *reply);
//  Adds the review-queue index change old -> demand to tx (registry_demands_tx calls it).
void registry_review_tx_index (oim_redis_tx_t *tx, const Oim__V1__Demand *old,
                               const Oim__V1__Demand *demand);
//  "Now" for the registry's chores: OIM_TEST_CLOCK_FILE's time when set, else the wall clock.
int64_t registry_review_now_ms (registry_t *self);
//  Sends due demand.expiring reminders (bounded work; call it from the tick).
void registry_review_remind (registry_t *self);
oim_api_fn registry_settings_get, registry_settings_put, registry_review_queue,
           registry_demand_approve, registry_demand_return, registry_demand_resubmit,
           registry_demand_renew;

//  ---- registry_announce.c (issue 17 item 4) -----------------------------------------------
oim_api_fn registry_announcement_create, registry_announcement_list;

//  ---- registry_stats.c (issue 17 item 5) --------------------------------------------------
//  Adds the funnel (per period of the query's period/from/to), the medians between steps,
//  the funnel per source system and the delivery health to root (GET /v1/admin/stats), all
//  from durable records. Returns 0, or -1 with the reply set (400 a bad parameter, 503).
int registry_stats_add (registry_t *self, const Oim__V1__ApiRequest *request, json_t *root,
                        oim_api_reply_t *reply);

//  ---- registry_export.c (issue 17 item 5): GET /v1/admin/export/{file} (CSV) -------------
oim_api_fn registry_export_csv;

//  ---- registry_demands.c, for the workflow handlers ---------------------------------------
//  Loads the demand of the "id" parameter for a change by its owner or the agency (WATCHed):
//  it, or NULL with the reply set (403, 404, 409 version_conflict, 409 state_conflict naming
//  the state when its status is not in states, 503).
Oim__V1__Demand *registry_demand_load_for_change (registry_t *self,
                                                  const Oim__V1__ApiRequest *request,
                                                  const registry_actor_t *actor,
                                                  const char *const *states,
                                                  oim_api_reply_t *reply);
//  Stamps the next version (updated_at now, version old_version + 1).
void registry_demand_bump (Oim__V1__Demand *demand, int64_t old_version);
//  Writes demand after old (one transaction) and sets the reply (200 full view, 409, 503).
void registry_demand_commit (registry_t *self, const registry_actor_t *actor,
                             const Oim__V1__Demand *old, const Oim__V1__Demand *demand,
                             const char *action, oim_api_reply_t *reply);
//  The full JSON view of a demand (owner's and agency's), and a reply with it (and ETag).
json_t *registry_demand_json (const Oim__V1__Demand *demand);
void registry_demand_reply (oim_api_reply_t *reply, uint32_t status, const Oim__V1__Demand *demand);

//  The org as JSON; contacts (e-mail, phone, business number) only when full (the org itself
//  or the agency). Caller owns the result.
json_t *registry_org_json (const Oim__V1__Organization *org, bool full);

#define REGISTRY_AGENCY_KEY_MIN 32      //  characters of OIM_BOOTSTRAP_AGENCY_KEY
//  Creates the bootstrap agency when none exists. Returns 0, or -1 (a key shorter than
//  REGISTRY_AGENCY_KEY_MIN, no agency and no key, or Redis failed): the daemon must not start.
int registry_orgs_bootstrap (registry_t *self, const char *agency_key);
//  For company/startup actors: 0 when their organization is active, else -1 with a 403 (or
//  503) reply set. Other roles pass.
int registry_orgs_require_active (registry_t *self, const registry_actor_t *actor,
                                  oim_api_reply_t *reply);
//  Adds a demand write to tx: state, indexes (oim:demands, oim:org:<id>:demands,
//  oim:demands:closing), counters, change-log entry (create/update/delete from old and
//  demand) and, when audit is set, an audit entry (ingest writes one per batch). old is the stored state before (NULL for a new demand).
void registry_demands_tx (oim_redis_tx_t *tx, const registry_actor_t *actor,
                          const Oim__V1__Demand *old, const Oim__V1__Demand *demand,
                          const char *action, bool audit);
//  Closes open demands whose closes_at has passed (at most a bounded number per call).
void registry_demands_sweep (registry_t *self);

//  ---- registry_accounts.c, registry_sessions.c, registry_tokens.c, registry_apikeys.c ----
//  People of organisations (issue 16). Passwords: crypto_pwhash_str (Argon2id, INTERACTIVE
//  limits), which blocks the registry's loop for the hash time (measured in README "People and
//  sign-in"); sign-in, accepting an invitation and resetting a password each pay it once.
typedef struct registry_accounts_t registry_accounts_t;
//  Reads the account options from config. NULL when memory is short.
registry_accounts_t *registry_accounts_new (oim_config_t *config);
void registry_accounts_destroy (registry_accounts_t **self_p);
#define REGISTRY_ACCOUNT_OPTIONS \
    { "session-idle-s", "OIM_SESSION_IDLE_SEC", "28800", "a session ends after this long " \
      "unused (seconds)", false }, \
    { "session-max-s", "OIM_SESSION_MAX_SEC", "604800", "a session ends this long after " \
      "sign-in whatever its use (seconds)", false }, \
    { "cookie-secure", "OIM_COOKIE_SECURE", "0", "1: the session cookie is always Secure " \
      "(else only when the request came with X-Forwarded-Proto: https)", false }, \
    { "public-url", "OIM_PUBLIC_URL", "http://localhost:8080", "the web app's address, for " \
      "the links in account e-mails", false }, \
    { "invite-ttl-s", "OIM_INVITE_TTL_SEC", "604800", "an invitation's lifetime (s)", false }, \
    { "verify-ttl-s", "OIM_VERIFY_TTL_SEC", "172800", "an e-mail verification's lifetime (s)", \
      false }, \
    { "reset-ttl-s", "OIM_RESET_TTL_SEC", "3600", "a password reset's lifetime (s)", false }, \
    { "signin-window-s", "OIM_SIGNIN_WINDOW_SEC", "900", "failed sign-ins are counted over " \
      "this window (s)", false }, \
    { "signin-fails-account", "OIM_SIGNIN_FAILS_ACCOUNT", "5", "failed sign-ins per account " \
      "in the window before 429", false }, \
    { "signin-fails-address", "OIM_SIGNIN_FAILS_ADDRESS", "20", "failed sign-ins per client " \
      "address in the window before 429", false }

//  Password rules and hashing (pure; registry_accounts.c). At least REGISTRY_PASSWORD_MIN
//  code points, at most REGISTRY_PASSWORD_MAX bytes.
#define REGISTRY_EMAIL_KEY_SIZE (OIM_KEY_SIZE + 320)    //  a Redis key holding an e-mail
#define REGISTRY_PASSWORD_MIN 10
#define REGISTRY_PASSWORD_MAX 1024
bool registry_password_ok (const char *password);
//  crypto_pwhash_str into out (crypto_pwhash_STRBYTES). Returns 0, -1 when memory is short.
int registry_password_hash (const char *password, char *out);
//  True when password matches hash (crypto_pwhash_str_verify).
bool registry_password_check (const char *hash, const char *password);
//  The same two off the registry's loop thread, keeping its broker link alive meanwhile
//  (oim_service_keepalive): what the handlers use.
int registry_accounts_hash (registry_t *self, const char *password, char *out);
bool registry_accounts_check (registry_t *self, const char *hash, const char *password);
//  True when email looks like an address (one @, a dotted domain, no spaces or controls, <= 254
//  bytes); writes its lower-case form into out (255 bytes).
bool registry_email_normal (const char *email, char *out);
//  A random 32-byte token in base64url (44 bytes with NUL) and its SHA-256 hex (65 bytes).
void registry_token_new (char *token, char *hash_hex);

//  An account body ({email,password,name}) checked into a new User of org_id with role (fields
//  named prefix + "email", ...): WATCHes the e-mail's index and refuses one in use (409). Hashes
//  the password. Returns the user (caller frees) or NULL with the reply set.
Oim__V1__User *registry_accounts_decode (registry_t *self, json_t *body, const char *prefix,
                                         const char *org_id, const char *role, bool verified,
                                         oim_api_reply_t *reply);
//  Adds a new person's writes to tx (user, e-mail index, org's people, audit) and, when not
//  verified, the verification token and its e-mail.
void registry_accounts_tx_insert (registry_t *self, oim_redis_tx_t *tx,
                                  const registry_actor_t *actor, const Oim__V1__User *user);
//  {id,email,name,role,email_verified} (+ created_at when full).
json_t *registry_accounts_user_json (const Oim__V1__User *user, bool full);
//  Adds to tx the end of every session of user_id (reads the set first). 0, or -1 (Redis).
int registry_accounts_tx_end_sessions (registry_t *self, oim_redis_tx_t *tx, const char *user_id);
//  The reply after a transaction creating something tied to an e-mail: 201 with body, 409
//  naming "email" (rc 1: the WATCHed address was taken meanwhile), 503. Consumes body.
void registry_accounts_reply_created (oim_api_reply_t *reply, int rc, json_t *body);
//  The actor may manage org_id's people and keys: the agency (its API key or an owner),
//  the org's API key, or the org's owner. Sets 403 otherwise.
bool registry_accounts_may_manage (const registry_actor_t *actor, const char *org_id,
                                   oim_api_reply_t *reply);
//  Adds to tx a single-use token record (TTL ttl_ms) and the e-mail carrying link + token.
void registry_tokens_tx_mail (registry_t *self, oim_redis_tx_t *tx, const Oim__V1__TokenRecord *record,
                              int64_t ttl_ms, const char *to, const char *subject,
                              const char *text_format, const char *link_path);
//  Installs a new named key of org (record + the org's key index) into tx; key_id_out
//  (OIM_ID_SIZE) receives its id.
void registry_apikeys_tx_add (oim_redis_tx_t *tx, const char *api_key, const char *hash_hex,
                              Oim__V1__Role role, const char *org_id, const char *name,
                              char *key_id_out);
//  Adds to tx the record of a new key (oim:apikey:<hash>, with its name and prefix) only;
//  key_id_out (OIM_ID_SIZE) receives its id. For owners that index their keys themselves
//  (a publisher's single current key, registry_publishers.c).
void registry_apikeys_tx_record (oim_redis_tx_t *tx, const char *api_key, const char *hash_hex,
                                 Oim__V1__Role role, const char *org_id,
                                 const char *source_system, const char *name, char *key_id_out);
//  Adds the removal of the key with hash_hex (its record and last-used mark) to tx.
void registry_apikeys_tx_drop (oim_redis_tx_t *tx, const char *hash_hex);
//  The key's last use as JSON (RFC 3339 to the minute) or null.
json_t *registry_apikeys_last_used (registry_t *self, const char *hash_hex);
//  Adds the revocation of every key of org_id to tx. 0, or -1 (Redis).
int registry_apikeys_tx_revoke_all (registry_t *self, oim_redis_tx_t *tx, const char *org_id);

//  The org named by the "id" parameter, checked to exist and to be visible to the actor
//  (its own people, the agency). 0, or -1 with the reply set.
int registry_accounts_org_visible (registry_t *self, const Oim__V1__ApiRequest *request,
                                   const registry_actor_t *actor, oim_api_reply_t *reply);
//  The person of the "user_id" parameter in the org of "id", WATCHed: it (caller frees), or
//  NULL with 404 (field user_id) or 503 set and the WATCH released.
Oim__V1__User *registry_accounts_member_load (registry_t *self, const Oim__V1__ApiRequest *request,
                                              oim_api_reply_t *reply);
//  registry_members.c: how many owners user's org has, every person's record WATCHed (-1:
//  Redis failed); and the last-owner rule: 0 when user may lose the owner role (leaving:
//  removed or demoted), else -1 with 409 last_owner naming the person (or 503) set.
int registry_members_owners (registry_t *self, const char *org_id);
int registry_members_keep_owner (registry_t *self, const Oim__V1__User *user, bool leaving,
                                 oim_api_reply_t *reply);
oim_api_fn registry_staff_create, registry_member_list, registry_member_remove,
           registry_member_update;
oim_api_fn registry_session_create, registry_session_current, registry_session_delete;
oim_api_fn registry_invitation_create, registry_invitation_accept, registry_email_verify,
           registry_password_reset_request, registry_password_reset_confirm;
oim_api_fn registry_api_key_list, registry_api_key_create, registry_api_key_delete;

//  Internal to the account modules (registry_accounts.c holds the state).
typedef struct {
    int64_t session_idle_ms, session_max_ms, invite_ttl_ms, verify_ttl_ms, reset_ttl_ms;
    int64_t signin_window_s, fails_account, fails_address;
    bool cookie_secure;
    char public_url [512];
    char dummy_hash [128];          //  a hash verified when the e-mail is unknown (same time)
} registry_accounts_cfg_t;
const registry_accounts_cfg_t *registry_accounts_cfg (registry_t *self);

//  ---- registry_directory.c: lists over id indexes, the directory, publishers' keys --------
//  A list over an index of ids (zset, score 0): the entities stored at key_format, each made
//  an item by render (NULL: skipped; it may read Redis, and sets *failed when Redis failed:
//  the page is then 503), newest or oldest first.
typedef json_t *(registry_render_fn) (registry_t *self, const ProtobufCMessage *entity, void *arg,
                                      bool *failed);
typedef struct {
    const char *index, *key_format, *id_prefix;     //  id_prefix: what a cursor must be
    const ProtobufCMessageDescriptor *descriptor;
    bool newest_first;
    size_t default_limit, max_limit;
    registry_render_fn *render;
    void *arg;
} registry_page_spec_t;
//  The pure half of a page's query: ?limit (NULL: spec's default) into *limit_out and
//  ?cursor (NULL or "": the first page) into from (from_size bytes), the ZRANGEBYLEX bound
//  to start at: "(" + the cursor, else "-" (oldest first) or "+" (newest first). Returns 0,
//  -1 when limit is not 1..max_limit, -2 when cursor is not an id of spec's prefix.
int registry_page_parse (const registry_page_spec_t *spec, const char *limit, const char *cursor,
                         size_t *limit_out, char *from, size_t from_size);
//  Answers the page the request's ?limit and ?cursor ask for: 200 {items, next_cursor}, 400
//  naming limit or cursor, 503.
void registry_page_reply (registry_t *self, const Oim__V1__ApiRequest *request,
                          const registry_page_spec_t *spec, oim_api_reply_t *reply);
//  Loads the publisher named by the "id" path parameter, WATCHed (registry_publishers.c).
//  Returns it (caller frees), or NULL with 404/503 set and the WATCH released.
Oim__V1__Publisher *registry_publisher_load (registry_t *self, const Oim__V1__ApiRequest *request,
                                             oim_api_reply_t *reply);
oim_api_fn registry_org_list, registry_publisher_list, registry_publisher_key_rotate,
           registry_publisher_key_revoke;

//  ---- registry_retention.c ---------------------------------------------------------------
//  Trims oim:changelog (below what every consumer group still needs) and oim:audit to their
//  configured retention; at most once a second (call it from the tick).
void registry_retention_trim (registry_t *self);

#endif
