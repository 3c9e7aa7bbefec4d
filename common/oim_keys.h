/*  oim_keys — the one place that names Redis keys. Every key is "oim:<what>[:<id>]".
    Formats take printf arguments; build them with snprintf into OIM_KEY_SIZE buffers.
*/
#ifndef OIM_KEYS_H_INCLUDED
#define OIM_KEYS_H_INCLUDED

#define OIM_KEY_SIZE 160

//  Streams (see proto/changelog.proto and proto/notify.proto)
#define OIM_STREAM_CHANGELOG    "oim:changelog"         //  registry change log
#define OIM_STREAM_EVENTS       "oim:events"            //  notifications to deliver: an
                                                        //  entry is "e" = Event or "b" =
                                                        //  EventBatch (several Events)
#define OIM_STREAM_AUDIT        "oim:audit"             //  audit log (AuditEntry)

//  An organization's live notification feed: a stream (MAXLEN ~10000) whose entries have one
//  field "n" = Notification (notify.proto). Written by oim-notify when it stores a
//  notification; read by the gateway for GET /v1/notifications/stream (Server-Sent Events,
//  the entry id is the SSE event id, so Last-Event-ID resumes exactly).
#define OIM_KEY_FEED            "oim:feed:%s"

//  API keys: value = ApiKeyRecord (registry.proto); written by the registry, read by the
//  gateway on every authenticated request. The hash is SHA-256 of the key, in hex.
#define OIM_KEY_APIKEY          "oim:apikey:%s"
//  When the key was last used (unix ms, to the minute): written by the gateway at most once a
//  minute per key (a script that writes only when the minute changed), read by the registry
//  for GET /v1/orgs/{id}/api-keys (last_used_at), deleted with the key (and expires after
//  400 days unused).
#define OIM_KEY_APIKEY_USED     "oim:apikey:%s:used"

//  CURVE public keys registered through the API: value = CurveKeyRecord (registry.proto),
//  keyed by the 40-character Z85 public key; written by the registry with the entity (a
//  publisher's ingest key, an org's feed key), read by the gateway's ZAP handler.
#define OIM_KEY_CURVEKEY        "oim:curvekey:%s"
#define OIM_KEY_ORG_FEEDKEY     "oim:org:%s:feedkey"    //  string: the org's feed key (Z85)

//  People, sessions and e-mailed tokens (issue 16; services/registry/registry_accounts.c,
//  registry_sessions.c, registry_tokens.c, registry_apikeys.c): written only by the registry;
//  the gateway reads oim:session:<hash> (and extends its TTL) on every cookie request.
#define OIM_KEY_USER            "oim:user:%s"           //  string: User (registry.proto)
#define OIM_KEY_EMAIL           "oim:email:%s"          //  string: lower-case e-mail -> user id
#define OIM_KEY_ORG_USERS       "oim:org:%s:users"      //  zset (score 0, by id): an org's people
#define OIM_KEY_USER_SESSIONS   "oim:user:%s:sessions"  //  set: the person's session hashes
#define OIM_KEY_SESSION         "oim:session:%s"        //  string: SessionRecord, key = SHA-256 hex
                                                        //  of the cookie's token, TTL = idle timeout
#define OIM_KEY_TOKEN           "oim:token:%s"          //  string: TokenRecord, key = SHA-256 hex
                                                        //  of the e-mailed token, TTL = lifetime
#define OIM_KEY_SIGNIN_FAILS    "oim:signin:fails:%s"   //  counter, TTL = window: failed sign-ins
                                                        //  of "u:<e-mail>" or "a:<address>"
#define OIM_KEY_ORG_APIKEYS     "oim:org:%s:apikeys"    //  hash: key id -> SHA-256 hex: an org's
                                                        //  named keys (oim:org:<id>:apikey, the
                                                        //  single key of older data, still read)
//  An account e-mail (verification, invitation, reset) waiting for oim-notify: hash to,
//  subject, text; its job "a:<id>" sits in oim:mail:due like notify's own jobs (notify sends it
//  through its SMTP path with the same lease and retries, then deletes this hash).
#define OIM_KEY_MAIL_ACCOUNT    "oim:mail:account:%s"

//  Entities: value = the entity's protobuf (registry.proto, matcher.proto)
#define OIM_KEY_ORG             "oim:org:%s"
#define OIM_KEY_DEMAND          "oim:demand:%s"
#define OIM_KEY_SAVED_SEARCH    "oim:ss:%s"
#define OIM_KEY_PUBLISHER       "oim:publisher:%s"
#define OIM_KEY_MATCH           "oim:match:%s"

//  Registry indexes and bookkeeping (services/registry; all written only by the registry, in
//  the same MULTI/EXEC as the entity they describe, unless said otherwise).
#define OIM_KEY_ORG_APIKEY      "oim:org:%s:apikey"     //  string: SHA-256 hex of the org's key
#define OIM_KEY_ORGS            "oim:orgs"              //  zset (score 0, by id): live orgs
#define OIM_KEY_AGENCIES        "oim:agencies"          //  set: live agency org ids (bootstrap)
#define OIM_KEY_BIZNO           "oim:bizno:%s"          //  string: 10-digit business no. -> org id
#define OIM_KEY_DEMANDS         "oim:demands"           //  zset (score 0, by id): live demands
#define OIM_KEY_ORG_DEMANDS     "oim:org:%s:demands"    //  zset (score 0, by id): an org's demands
#define OIM_KEY_DEMANDS_CLOSING "oim:demands:closing"   //  zset: open demand id, score closes_at ms
//  set of startup org ids the demand's owner is connected with: WRITTEN BY THE MATCHER when a
//  match becomes "connected", together with a ChangeEntry{connection} (changelog.proto); the
//  registry reads it to show confidential demands in full, search to index them for them.
#define OIM_KEY_DEMAND_CONNECTED "oim:demand:%s:connected"
#define OIM_KEY_SOURCE_DEMANDS  "oim:source:%s:demands" //  hash: external_id -> demand id
#define OIM_KEY_SOURCE_ORGS     "oim:source:%s:orgs"    //  hash: external_id -> org id (profile events, issue 17)
//  Issue 17 (services/registry/registry_review.c, registry_announce.c), registry-written:
#define OIM_KEY_SETTINGS        "oim:settings"          //  hash: agency settings (demand_review "1"/"0")
#define OIM_KEY_DEMANDS_REVIEW  "oim:demands:review"    //  zset: pending_review demand ids, score = submitted ms
#define OIM_KEY_DEMANDS_REMINDED "oim:demands:reminded" //  hash: demand id -> closes_at ms of the demand.expiring sent
#define OIM_KEY_ANNOUNCEMENT    "oim:announcement:%s"   //  string: the announcement's JSON
#define OIM_KEY_ANNOUNCEMENTS   "oim:announcements"     //  zset (score 0, by id): announcements
#define OIM_KEY_SOURCE_PUBLISHER "oim:source:%s:publisher"  //  string: source_system -> pub id
#define OIM_KEY_PUBLISHER_APIKEY "oim:publisher:%s:apikey"  //  string: SHA-256 hex of its key
#define OIM_KEY_PUBLISHERS      "oim:publishers"        //  zset (score 0, by id)
#define OIM_KEY_SAVED_SEARCHES  "oim:saved_searches"    //  zset (score 0, by id): live ones
#define OIM_KEY_ORG_SAVED_SEARCHES "oim:org:%s:ss"      //  zset (score 0, by id): an org's
#define OIM_KEY_STATS           "oim:stats"             //  hash: counters, e.g. "org:startup:active"

//  oim-notify (services/notify/notify_store.c; written only by oim-notify unless said otherwise).
//  A notification and its inbox entries, feed entry and deliveries are written by one Lua
//  script per event, so a replayed event (oim:ntf:<id> exists) changes nothing.
#define OIM_KEY_NTF             "oim:ntf:%s"            //  string: Notification (notify.proto), feed_sequence set; "read" lives in the unread zset
#define OIM_KEY_ORG_INBOX       "oim:org:%s:inbox"      //  zset: ntf id, score feed_sequence (newest = highest)
#define OIM_KEY_ORG_UNREAD      "oim:org:%s:unread"     //  zset: unread ntf ids, same scores
#define OIM_KEY_ORG_NTF_SEQ     "oim:org:%s:ntf_seq"    //  counter: the org's last feed_sequence (gap-free)
#define OIM_KEY_WEBHOOK         "oim:webhook:%s"        //  hash: url, events (comma list, "" = all), secret, disabled ("1"), created_at, updated_at
#define OIM_KEY_PREFS           "oim:prefs:%s"          //  hash: event type (or "*") -> "<channels comma list>|<instant|daily>"; "_updated_at"
#define OIM_KEY_DLV             "oim:dlv:%s"            //  hash: id, notification_id, org_id, url, status, attempts, failed (this round), next_attempt_ms, created_at, updated_at
#define OIM_KEY_DLV_LOG         "oim:dlv:%s:log"        //  list: DeliveryAttempt (notify.proto), oldest first, last 100 kept
#define OIM_KEY_ORG_DLVS        "oim:org:%s:dlvs"       //  zset: an org's delivery ids, score 0 (ids sort by time: ZREVRANGEBYLEX pages)
#define OIM_KEY_DLVS            "oim:dlvs"              //  zset: every delivery id, score 0 (agency view)
#define OIM_KEY_DLV_DUE         "oim:dlv:due"           //  zset: pending delivery ids, score = next attempt (unix ms); a claim moves it to now + lease
#define OIM_KEY_MAIL_DUE        "oim:mail:due"          //  zset: e-mail jobs "i:<ntf id>" (instant) or "d:<job>" (digest), score = due unix ms (leased like deliveries)
#define OIM_KEY_MAIL_TRIES      "oim:mail:tries"        //  hash: e-mail job -> failed sends so far
#define OIM_KEY_MAIL_DIGEST     "oim:mail:digest:%s"    //  list: a cut digest job's ntf ids; first element = org id
#define OIM_KEY_ORG_DIGEST      "oim:org:%s:digest"     //  list: ntf ids waiting for the org's next digest
#define OIM_KEY_DIGEST_ORGS     "oim:digest:orgs"       //  set: orgs with a non-empty digest list
#define OIM_KEY_DIGEST_LOCK     "oim:digest:lock"       //  string, PX = digest interval: the replica that SET NX it cuts this period's digests

//  Matcher (services/matcher; written only by the matcher, each in the same MULTI/EXEC as the
//  match it describes and the oim:events entries that change causes).
#define OIM_GROUP_MATCHER       "matcher"               //  consumer group on oim:changelog
#define OIM_KEY_DEMAND_MATCHES  "oim:demand:%s:matches" //  hash: startup id -> match id (all
                                                        //  states, withdrawn included)
#define OIM_KEY_DEMAND_TOP      "oim:demand:%s:top"     //  zset: startup id, score = match score
                                                        //  in units of 1e-4: the current top K
#define OIM_KEY_ORG_MATCHES     "oim:org:%s:matches"    //  set: match ids of an org as the
                                                        //  startup (data written before
                                                        //  2026-12-04 also holds those as the
                                                        //  demand's owner: still read)
#define OIM_KEY_ORG_MATCH_DEMANDS "oim:org:%s:match_demands"    //  set: the org's demands that
                                                        //  have matches (its matches as the
                                                        //  demand's owner: their pair indexes)
#define OIM_KEY_SS_HITS         "oim:ss:%s:hits"        //  hash: entity id -> last version that
                                                        //  produced a saved_search.hit

//  The demand version whose closing was announced (demand.closed events), written by the
//  matcher in the same MULTI/EXEC as those events, so a replayed entry announces nothing.
#define OIM_KEY_DEMAND_CLOSED   "oim:demand:%s:closed"

#endif
