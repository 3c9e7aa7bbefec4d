/*  notify_email — MIME rendering, SMTP sending and digests (see notify_email.h).  */
#include "notify_email.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

//  --------------------------------------------------------------------------
//  A growable string; any failed append marks it failed and later ones do nothing.

typedef struct {
    char *data;
    size_t size;
    size_t capacity;
    bool failed;
} s_buf_t;

static void
s_buf_append (s_buf_t *buf, const char *data, size_t size)
{
    if (buf->failed)
        return;
    if (buf->size + size + 1 > buf->capacity) {
        size_t capacity = buf->capacity ? buf->capacity : 1024;
        while (capacity < buf->size + size + 1)
            capacity *= 2;
        char *grown = (char *) realloc (buf->data, capacity);
        if (!grown) {
            buf->failed = true;
            return;
        }
        buf->data = grown;
        buf->capacity = capacity;
    }
    memcpy (buf->data + buf->size, data, size);
    buf->size += size;
    buf->data [buf->size] = '\0';
}

static void
s_buf_puts (s_buf_t *buf, const char *text)
{
    s_buf_append (buf, text, strlen (text));
}

static void
s_buf_printf (s_buf_t *buf, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    int len = vasprintf (&text, format, args);
    va_end (args);
    if (len < 0)
        buf->failed = true;
    else
        s_buf_append (buf, text, (size_t) len);
    free (text);
}

//  Returns the finished string (caller frees), or NULL if anything failed.
static char *
s_buf_take (s_buf_t *buf)
{
    if (buf->failed || !buf->data) {
        free (buf->data);
        return NULL;
    }
    return buf->data;
}

//  --------------------------------------------------------------------------
//  UTF-8 and encodings

//  Length of the well-formed UTF-8 sequence at text, or 0 if it is not one (overlongs,
//  surrogates and code points above U+10FFFF are refused).
static size_t
s_utf8_len (const unsigned char *text)
{
    unsigned char c = text [0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (len == 0 || (len == 3 && c > 0xEF))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((text [i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && text [1] < 0xA0) || (c == 0xED && text [1] > 0x9F)
    ||  (c == 0xF0 && text [1] < 0x90) || (c == 0xF4 && text [1] > 0x8F))
        return 0;
    return len;
}

static bool
s_utf8_valid (const char *text)
{
    for (const unsigned char *cursor = (const unsigned char *) text; *cursor; ) {
        size_t len = s_utf8_len (cursor);
        if (len == 0)
            return false;
        cursor += len;
    }
    return true;
}

//  Appends the base64 of data, in lines of 76 characters, each ended by CRLF.
static void
s_buf_base64_lines (s_buf_t *buf, const char *data, size_t size)
{
    const size_t chunk = 57;                        //  57 bytes → 76 characters
    char line [80];
    for (size_t offset = 0; offset < size; offset += chunk) {
        size_t len = size - offset < chunk ? size - offset : chunk;
        sodium_bin2base64 (line, sizeof line, (const unsigned char *) data + offset, len,
                           sodium_base64_VARIANT_ORIGINAL);
        s_buf_puts (buf, line);
        s_buf_puts (buf, "\r\n");
    }
}

char *
notify_email_encode_header (const char *text, size_t name_size)
{
    assert (text);
    if (!s_utf8_valid (text))
        return NULL;
    bool plain = true;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if (*c < 0x20 || *c == 0x7F)
            return NULL;                            //  CR, LF, TAB...: header injection
        if (*c >= 0x80)
            plain = false;
    }
    if (plain && name_size + strlen (text) <= 78)
        return strdup (text);
    //  An encoded-word "=?UTF-8?B?" + base64 + "?=" is ≤ 75 chars and its line ≤ 76. The
    //  first line also holds the header name; later lines start with one space.
    s_buf_t buf = { 0 };
    const unsigned char *cursor = (const unsigned char *) text;
    size_t line_used = name_size;
    while (*cursor) {
        size_t room = 76 - line_used;
        if (room > 75)
            room = 75;
        size_t max_bytes = (room - 12) / 4 * 3;     //  raw bytes that fit in the word
        size_t take = 0;
        while (cursor [take]) {
            size_t len = s_utf8_len (cursor + take);
            if (take + len > max_bytes)
                break;
            take += len;
        }
        if (take == 0) {                            //  cannot happen for room ≥ 24
            free (buf.data);
            return NULL;
        }
        char b64 [80];
        sodium_bin2base64 (b64, sizeof b64, cursor, take, sodium_base64_VARIANT_ORIGINAL);
        if (buf.size)
            s_buf_puts (&buf, "\r\n ");
        s_buf_printf (&buf, "=?UTF-8?B?%s?=", b64);
        cursor += take;
        line_used = 1;
    }
    return s_buf_take (&buf);
}

//  --------------------------------------------------------------------------
//  Rendering

static bool
s_header_safe (const char *text, bool allow_angles)
{
    for (; *text; text++)
        if ((unsigned char) *text < 0x20 || *text == 0x7F
        ||  (!allow_angles && (*text == '<' || *text == '>')))
            return false;
    return true;
}

//  Appends "From: " + from, where from is "addr" or "Display Name <addr>".
static void
s_buf_from (s_buf_t *buf, const char *from)
{
    const char *open = strrchr (from, '<');
    if (!open) {
        s_buf_printf (buf, "From: %s\r\n", from);
        return;
    }
    size_t name_len = (size_t) (open - from);
    while (name_len > 0 && from [name_len - 1] == ' ')
        name_len--;
    char *name = strndup (from, name_len);
    char *encoded = name ? notify_email_encode_header (name, strlen ("From: ")) : NULL;
    if (!encoded)
        buf->failed = true;
    else
        s_buf_printf (buf, "From: %s %s\r\n", encoded, open);
    free (name);
    free (encoded);
}

static void
s_format_date (int64_t date, char *out, size_t out_size)
{
    static const char *days [] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *months [] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t when = (time_t) date;
    struct tm tm;
    gmtime_r (&when, &tm);
    snprintf (out, out_size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days [tm.tm_wday],
              tm.tm_mday, months [tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
              tm.tm_sec);
}

static bool
s_message_valid (const notify_email_message_t *m)
{
    return m->from && m->to && m->subject && m->text && m->html
        && s_header_safe (m->from, true) && s_header_safe (m->to, false) && strchr (m->to, '@')
        && (!m->message_id || s_header_safe (m->message_id, false))
        && s_utf8_valid (m->from) && s_utf8_valid (m->text) && s_utf8_valid (m->html);
}

char *
notify_email_render (const notify_email_message_t *m)
{
    assert (m);
    if (!s_message_valid (m))
        return NULL;
    char *subject = notify_email_encode_header (m->subject, strlen ("Subject: "));
    if (!subject)
        return NULL;
    unsigned char random [12];
    randombytes_buf (random, sizeof random);
    char token [sizeof random * 2 + 1];
    sodium_bin2hex (token, sizeof token, random, sizeof random);
    char date [64];
    s_format_date (m->date ? m->date : (int64_t) time (NULL), date, sizeof date);
    const char *at = strrchr (m->from, '@');
    size_t domain_len = at ? strcspn (at + 1, ">") : 0;

    s_buf_t buf = { 0 };
    s_buf_from (&buf, m->from);
    s_buf_printf (&buf, "To: %s\r\n", m->to);
    s_buf_printf (&buf, "Subject: %s\r\n", subject);
    s_buf_printf (&buf, "Date: %s\r\n", date);
    if (m->message_id)
        s_buf_printf (&buf, "Message-ID: <%s>\r\n", m->message_id);
    else
        s_buf_printf (&buf, "Message-ID: <%s@%.*s>\r\n", token,
                      domain_len ? (int) domain_len : 9, domain_len ? at + 1 : "localhost");
    s_buf_puts (&buf, "MIME-Version: 1.0\r\n");
    //  The boundary is random hex after "=_", which base64 text can never contain.
    s_buf_printf (&buf, "Content-Type: multipart/alternative; boundary=\"=_oim_%s\"\r\n\r\n",
                  token);
    const char *types [2] = { "text/plain", "text/html" };
    const char *bodies [2] = { m->text, m->html };
    for (int i = 0; i < 2; i++) {
        s_buf_printf (&buf, "--=_oim_%s\r\n", token);
        s_buf_printf (&buf, "Content-Type: %s; charset=UTF-8\r\n", types [i]);
        s_buf_puts (&buf, "Content-Transfer-Encoding: base64\r\n\r\n");
        s_buf_base64_lines (&buf, bodies [i], strlen (bodies [i]));
    }
    s_buf_printf (&buf, "--=_oim_%s--\r\n", token);
    free (subject);
    return s_buf_take (&buf);
}

//  --------------------------------------------------------------------------
//  SMTP

typedef struct {
    const char *data;
    size_t size;
    size_t offset;
} s_reader_t;

static size_t
s_read (char *out, size_t size, size_t count, void *arg)
{
    s_reader_t *reader = (s_reader_t *) arg;
    size_t len = reader->size - reader->offset;
    if (len > size * count)
        len = size * count;
    memcpy (out, reader->data + reader->offset, len);
    reader->offset += len;
    return len;
}

int
notify_email_send (const notify_email_smtp_t *smtp, const char *mail_from,
                   const char *rcpt_to, const char *rendered, char *error, size_t error_size)
{
    assert (smtp && smtp->url && mail_from && rcpt_to && rendered);
    assert (error && error_size > 0);
    CURL *easy = curl_easy_init ();
    struct curl_slist *rcpt = curl_slist_append (NULL, rcpt_to);
    if (!easy || !rcpt) {
        snprintf (error, error_size, "out of memory");
        curl_slist_free_all (rcpt);
        curl_easy_cleanup (easy);
        return -1;
    }
    char errbuf [CURL_ERROR_SIZE] = "";
    s_reader_t reader = { rendered, strlen (rendered), 0 };
    long connect_msec = smtp->connect_timeout_msec ? smtp->connect_timeout_msec : 5000;
    long total_msec = smtp->timeout_msec ? smtp->timeout_msec : 30000;
    curl_easy_setopt (easy, CURLOPT_URL, smtp->url);
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt (easy, CURLOPT_USE_SSL, (long) CURLUSESSL_TRY);
    curl_easy_setopt (easy, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt (easy, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt (easy, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt (easy, CURLOPT_READDATA, &reader);
    curl_easy_setopt (easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, connect_msec);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, total_msec);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, errbuf);
    if (smtp->username) {
        curl_easy_setopt (easy, CURLOPT_USERNAME, smtp->username);
        curl_easy_setopt (easy, CURLOPT_PASSWORD, smtp->password ? smtp->password : "");
    }
    CURLcode code = curl_easy_perform (easy);
    if (code != CURLE_OK)
        snprintf (error, error_size, "smtp: %s", errbuf [0] ? errbuf : curl_easy_strerror (code));
    curl_slist_free_all (rcpt);
    curl_easy_cleanup (easy);
    return code == CURLE_OK ? 0 : -1;
}

//  --------------------------------------------------------------------------
//  Notification e-mails

typedef struct {
    const char *type;
    const char *label;
} s_type_label_t;

//  Digest sections appear in this order.
static const s_type_label_t s_labels [] = {
    { "match.connected",   "연결 성사" },
    { "message.received",  "새 메시지" },                 //  the matcher's relationships
    { "proposal.received", "제안 받음" },                 //  (issue 17)
    { "proposal.declined", "제안 거절됨" },
    { "relationship.changed", "협업 단계 변경" },
    { "interest.received", "관심 표시 받음" },
    { "match.created",     "새 매칭" },
    { "match.updated",     "매칭 변경" },
    { "saved_search.hit",  "저장한 검색의 새 결과" },
    { "demand.closed",     "수요 마감" },
    { "demand.reviewed",   "수요 검토 결과" },
    { "demand.expiring",   "수요 마감 예정" },
    { "announcement",      "공지" },
};
#define s_LABEL_COUNT (sizeof s_labels / sizeof s_labels [0])

const char *
notify_email_type_label (const char *type)
{
    for (size_t i = 0; type && i < s_LABEL_COUNT; i++)
        if (strcmp (s_labels [i].type, type) == 0)
            return s_labels [i].label;
    return "알림";
}

//  One notification, reduced to what an e-mail shows. Strings are owned.
typedef struct {
    char *id;
    char *type;
    char *title;
    char *created_at;
} s_entry_t;

static void
s_entry_clear (s_entry_t *entry)
{
    free (entry->id);
    free (entry->type);
    free (entry->title);
    free (entry->created_at);
    memset (entry, 0, sizeof *entry);
}

//  Parses a notification's JSON into entry. Returns 0, or -1 (entry cleared) if it is not
//  an object with string id and type. The title is data.title, else data.name, else the id.
static int
s_entry_parse (const char *json, s_entry_t *entry)
{
    memset (entry, 0, sizeof *entry);
    json_t *root = json_loads (json, 0, NULL);
    const char *id = json_string_value (json_object_get (root, "id"));
    const char *type = json_string_value (json_object_get (root, "type"));
    const char *created_at = json_string_value (json_object_get (root, "created_at"));
    json_t *data = json_object_get (root, "data");
    const char *title = json_string_value (json_object_get (data, "title"));
    if (!title)
        title = json_string_value (json_object_get (data, "name"));
    int rc = -1;
    if (id && type) {
        entry->id = strdup (id);
        entry->type = strdup (type);
        entry->title = strdup (title ? title : id);
        entry->created_at = strdup (created_at ? created_at : "");
        rc = entry->id && entry->type && entry->title && entry->created_at ? 0 : -1;
        if (rc != 0)
            s_entry_clear (entry);
        else    //  a title lands in the Subject header: no control characters there
            for (char *c = entry->title; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7F)
                    *c = ' ';
    }
    json_decref (root);
    return rc;
}

//  Appends text to buf with HTML's special characters escaped.
static void
s_buf_html (s_buf_t *buf, const char *text)
{
    for (; *text; text++) {
        switch (*text) {
            case '&':  s_buf_puts (buf, "&amp;"); break;
            case '<':  s_buf_puts (buf, "&lt;"); break;
            case '>':  s_buf_puts (buf, "&gt;"); break;
            case '"':  s_buf_puts (buf, "&quot;"); break;
            case '\'': s_buf_puts (buf, "&#39;"); break;
            default:   s_buf_append (buf, text, 1);
        }
    }
}

//  Appends one entry as a text line and an HTML list item.
static void
s_entry_append (const s_entry_t *entry, const char *link_base, s_buf_t *text, s_buf_t *html)
{
    s_buf_printf (text, "- %s (%s)\n  %s/notifications/%s\n", entry->title, entry->created_at,
                  link_base, entry->id);
    s_buf_puts (html, "<li><a href=\"");
    s_buf_html (html, link_base);
    s_buf_puts (html, "/notifications/");
    s_buf_html (html, entry->id);
    s_buf_puts (html, "\">");
    s_buf_html (html, entry->title);
    s_buf_puts (html, "</a> <small>");
    s_buf_html (html, entry->created_at);
    s_buf_puts (html, "</small></li>\n");
}

static const char s_HTML_HEAD [] =
    "<!DOCTYPE html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\"></head><body>\n";

//  Renders subject + the text and HTML bodies gathered so far; consumes both buffers.
static char *
s_render_with (const char *from, const char *to, const char *subject,
               s_buf_t *text, s_buf_t *html, int64_t date)
{
    s_buf_puts (text, "\n-- \nOI 마켓 (OI Market)\n");
    s_buf_puts (html, "<hr><p>OI 마켓 (OI Market)</p></body></html>\n");
    char *text_body = s_buf_take (text);
    char *html_body = s_buf_take (html);
    char *rendered = NULL;
    if (text_body && html_body) {
        notify_email_message_t message = {
            .from = from, .to = to, .subject = subject,
            .text = text_body, .html = html_body, .date = date
        };
        rendered = notify_email_render (&message);
    }
    free (text_body);
    free (html_body);
    return rendered;
}

char *
notify_email_instant (const char *from, const char *to, const char *notification_json,
                      const char *link_base, int64_t date)
{
    assert (from && to && notification_json && link_base);
    s_entry_t entry;
    if (s_entry_parse (notification_json, &entry) != 0)
        return NULL;
    const char *label = notify_email_type_label (entry.type);
    char *subject = NULL;
    if (asprintf (&subject, "[OI 마켓] %s: %s", label, entry.title) < 0) {
        s_entry_clear (&entry);
        return NULL;
    }
    s_buf_t text = { 0 }, html = { 0 };
    s_buf_printf (&text, "%s\n\n", label);
    s_buf_puts (&html, s_HTML_HEAD);
    s_buf_puts (&html, "<h2>");
    s_buf_html (&html, label);
    s_buf_puts (&html, "</h2>\n<ul>\n");
    s_entry_append (&entry, link_base, &text, &html);
    s_buf_puts (&html, "</ul>\n");
    char *rendered = s_render_with (from, to, subject, &text, &html, date);
    free (subject);
    s_entry_clear (&entry);
    return rendered;
}

char *
notify_email_plain (const char *from, const char *to, const char *subject, const char *text,
                    int64_t date)
{
    if (!from || !to || !subject || !text)
        return NULL;
    s_buf_t body = { 0 }, html = { 0 };
    s_buf_puts (&body, text);
    s_buf_puts (&html, s_HTML_HEAD);
    s_buf_puts (&html, "<pre style=\"white-space: pre-wrap; font-family: sans-serif\">");
    s_buf_html (&html, text);
    s_buf_puts (&html, "</pre>\n");
    return s_render_with (from, to, subject, &body, &html, date);
}

//  --------------------------------------------------------------------------
//  Digest

struct _notify_email_digest_t {
    char *org_name;
    char *day;
    s_entry_t entries [NOTIFY_EMAIL_DIGEST_MAX];
    size_t listed;             //  entries used
    size_t total;              //  notifications added
};

notify_email_digest_t *
notify_email_digest_new (const char *org_name, const char *day)
{
    assert (org_name && day);
    notify_email_digest_t *self =
        (notify_email_digest_t *) calloc (1, sizeof (notify_email_digest_t));
    if (!self)
        return NULL;
    self->org_name = strdup (org_name);
    self->day = strdup (day);
    if (!self->org_name || !self->day)
        notify_email_digest_destroy (&self);
    return self;
}

void
notify_email_digest_destroy (notify_email_digest_t **self_p)
{
    assert (self_p);
    notify_email_digest_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->listed; i++)
            s_entry_clear (&self->entries [i]);
        free (self->org_name);
        free (self->day);
        free (self);
        *self_p = NULL;
    }
}

int
notify_email_digest_add (notify_email_digest_t *self, const char *notification_json)
{
    assert (self && notification_json);
    s_entry_t entry;
    if (s_entry_parse (notification_json, &entry) != 0)
        return -1;
    if (self->listed < NOTIFY_EMAIL_DIGEST_MAX)
        self->entries [self->listed++] = entry;
    else
        s_entry_clear (&entry);
    self->total++;
    return 0;
}

size_t
notify_email_digest_size (const notify_email_digest_t *self)
{
    assert (self);
    return self->total;
}

//  Appends the section of entries whose type is type (or, with type NULL, of no known type).
static void
s_digest_section (const notify_email_digest_t *self, const char *type, const char *link_base,
                  s_buf_t *text, s_buf_t *html)
{
    size_t count = 0;
    for (size_t i = 0; i < self->listed; i++) {
        const char *entry_type = self->entries [i].type;
        bool known = strcmp (notify_email_type_label (entry_type), "알림") != 0;
        if (type ? strcmp (entry_type, type) != 0 : known)
            continue;
        if (count++ == 0) {
            const char *label = type ? notify_email_type_label (type) : "기타 알림";
            s_buf_printf (text, "\n[%s]\n", label);
            s_buf_puts (html, "<h3>");
            s_buf_html (html, label);
            s_buf_puts (html, "</h3>\n<ul>\n");
        }
        s_entry_append (&self->entries [i], link_base, text, html);
    }
    if (count)
        s_buf_puts (html, "</ul>\n");
}

char *
notify_email_digest_render (const notify_email_digest_t *self, const char *from,
                            const char *to, const char *link_base, int64_t date)
{
    assert (self && from && to && link_base);
    if (self->total == 0)
        return NULL;
    char *subject = NULL;
    if (asprintf (&subject, "[OI 마켓] %s 일일 알림 요약 (%zu건)", self->day, self->total) < 0)
        return NULL;
    s_buf_t text = { 0 }, html = { 0 };
    s_buf_printf (&text, "%s 님, %s의 알림 %zu건입니다.\n", self->org_name, self->day,
                  self->total);
    s_buf_puts (&html, s_HTML_HEAD);
    s_buf_puts (&html, "<p>");
    s_buf_html (&html, self->org_name);
    s_buf_printf (&html, " 님, %s의 알림 %zu건입니다.</p>\n", self->day, self->total);
    for (size_t i = 0; i < s_LABEL_COUNT; i++)
        s_digest_section (self, s_labels [i].type, link_base, &text, &html);
    s_digest_section (self, NULL, link_base, &text, &html);
    if (self->total > self->listed) {
        s_buf_printf (&text, "\n… 외 %zu건\n", self->total - self->listed);
        s_buf_printf (&html, "<p>… 외 %zu건</p>\n", self->total - self->listed);
    }
    char *rendered = s_render_with (from, to, subject, &text, &html, date);
    free (subject);
    return rendered;
}
