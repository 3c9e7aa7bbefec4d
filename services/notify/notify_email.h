/*  notify_email — e-mail notifications for oim-notify: MIME rendering, SMTP, daily digests.

    Messages are multipart/alternative with a text/plain and a text/html part, both UTF-8
    and base64-encoded (safe for any text and line length). A non-ASCII subject or display
    name is written as RFC 2047 encoded-words (=?UTF-8?B?...?=), each at most 75 characters,
    folded onto continuation lines, never splitting a UTF-8 sequence, so 한국어 subjects
    decode exactly in every mail client. Every message has Date, Message-ID, MIME-Version.

    Sending uses libcurl's SMTP (smtp:// or smtps://, STARTTLS when offered) and blocks for at
    most the configured timeout: in the daemon it runs in its own zactor, off the reactor that
    serves Redis and the broker (mail volume is a few messages per organization per day).
    curl_global_init must have been called once at program start.

    The digest groups an organization's notifications of one day into one message, by type,
    in a fixed order; past NOTIFY_EMAIL_DIGEST_MAX entries it only counts ("… and 12 more").
*/
#ifndef NOTIFY_EMAIL_H_INCLUDED
#define NOTIFY_EMAIL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NOTIFY_EMAIL_DIGEST_MAX 200     //  entries listed in one digest

typedef struct {
    const char *from;          //  "OI 마켓 <noreply@oimarket.kr>" or "noreply@oimarket.kr"
    const char *to;            //  addr-spec, e.g. "ops@company.kr"
    const char *subject;       //  UTF-8
    const char *text;          //  UTF-8 plain-text body
    const char *html;          //  UTF-8 HTML body (a complete document or a fragment)
    int64_t date;              //  unix seconds; 0 = now
    const char *message_id;    //  without <>; NULL = generated from random bytes + from's domain
} notify_email_message_t;

typedef struct {
    const char *url;           //  "smtp://host:port" (or smtps://)
    const char *username;      //  NULL = no AUTH
    const char *password;
    long connect_timeout_msec; //  0 = 5000
    long timeout_msec;         //  whole transaction; 0 = 30000
} notify_email_smtp_t;

//  Encodes a UTF-8 header value for a header whose name (with ": ") takes name_size
//  characters: plain if printable ASCII, else RFC 2047 B encoded-words of ≤ 75 chars, lines
//  ≤ 76 chars, joined by CRLF + space. Returns a new string (caller frees), or NULL if text
//  is not valid UTF-8, holds control characters, or memory ran out.
char *
    notify_email_encode_header (const char *text, size_t name_size);

//  Renders message as RFC 5322 text with CRLF line ends. Returns a new string (caller
//  frees), or NULL if a field is missing, an address or id holds characters that would
//  break the header (CR, LF, "<>" where not expected), text is not UTF-8, or memory ran out.
char *
    notify_email_render (const notify_email_message_t *message);

//  Sends a rendered message to one recipient: MAIL FROM mail_from, RCPT TO rcpt_to (bare
//  addresses). Returns 0 once the server accepted it, or -1 with a reason in error
//  (NUL-terminated, error_size bytes at most). Blocks for at most the configured timeout.
int
    notify_email_send (const notify_email_smtp_t *smtp, const char *mail_from,
                       const char *rcpt_to, const char *rendered,
                       char *error, size_t error_size);

//  Korean label for a notification type ("match.created" → "새 매칭"); "알림" if unknown.
const char *
    notify_email_type_label (const char *type);

//  Builds an instant e-mail for one notification, given as its JSON ({id, type, org_id,
//  created_at, data}); link_base (e.g. "https://oim.example.kr") prefixes the console link.
//  Returns the rendered message (caller frees), or NULL if the JSON is not a notification.
char *
    notify_email_instant (const char *from, const char *to, const char *notification_json,
                          const char *link_base, int64_t date);

//  Builds a plain message (an account e-mail from the registry: verification, invitation,
//  password reset): text as given, HTML = the text escaped in a <pre>. Returns the rendered
//  message (caller frees), or NULL when a field is missing or not UTF-8.
char *
    notify_email_plain (const char *from, const char *to, const char *subject,
                        const char *text, int64_t date);

typedef struct _notify_email_digest_t notify_email_digest_t;

//  Starts a digest for org_name covering day ("2026-11-30"). Returns NULL if out of memory.
notify_email_digest_t *
    notify_email_digest_new (const char *org_name, const char *day);

//  Destroys the digest and nulls *self_p. Accepts NULL and *self_p == NULL.
void
    notify_email_digest_destroy (notify_email_digest_t **self_p);

//  Adds one notification (its JSON, as for notify_email_instant). Returns 0, or -1 if the
//  JSON is not a notification (nothing is added). Past NOTIFY_EMAIL_DIGEST_MAX it is only
//  counted.
int
    notify_email_digest_add (notify_email_digest_t *self, const char *notification_json);

//  Number of notifications added.
size_t
    notify_email_digest_size (const notify_email_digest_t *self);

//  Renders the digest as one message, grouped by type. Returns a new string (caller frees),
//  or NULL if the digest is empty or rendering failed.
char *
    notify_email_digest_render (const notify_email_digest_t *self, const char *from,
                                const char *to, const char *link_base, int64_t date);

#ifdef __cplusplus
}
#endif

#endif
