/*  notify_email test: RFC 2047 encoding (word and line limits, no split UTF-8 sequence,
    exact round trip), rendering contracts, then an instant e-mail and a digest sent over
    SMTP to a real server (tests/smtp_server.py on aiosmtpd) and parsed by Python's email
    package (tests/check_email.py).  */
#include "notify_email.h"
#include "notify_test_util.h"

#include <curl/curl.h>
#include <locale.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Decodes a folded run of =?UTF-8?B?...?= words back to text, checking the limits.
static char *
s_decode_words (const char *header, size_t name_size)
{
    char *out = (char *) calloc (1, strlen (header) + 1);
    size_t used = 0;
    const char *line = header;
    size_t line_extra = name_size;
    while (*line) {
        size_t line_len = strcspn (line, "\r");
        CHECK (line_len + line_extra <= 76);
        const char *word = line [0] == ' ' ? line + 1 : line;
        size_t word_len = line_len - (size_t) (word - line);
        CHECK (word_len <= 75);
        CHECK (strncmp (word, "=?UTF-8?B?", 10) == 0);
        CHECK (strncmp (word + word_len - 2, "?=", 2) == 0);
        size_t decoded = 0;
        CHECK (sodium_base642bin ((unsigned char *) out + used, strlen (header) - used,
                                  word + 10, word_len - 12, NULL, &decoded, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0);
        //  Each word is whole UTF-8 on its own: RFC 2047 §5
        out [used + decoded] = '\0';
        CHECK (mbstowcs (NULL, out + used, 0) != (size_t) -1);
        used += decoded;
        line += line_len;
        if (*line) {
            CHECK (strncmp (line, "\r\n ", 3) == 0);
            line += 2;
        }
        line_extra = 0;
    }
    out [used] = '\0';
    return out;
}

static void
s_test_encoding (void)
{
    char *plain = notify_email_encode_header ("Weekly report", 9);
    CHECK (plain && strcmp (plain, "Weekly report") == 0);
    free (plain);
    const char *subjects [] = {
        "새 매칭",
        "[OI 마켓] 새 매칭: 스마트 물류 자동화 PoC 수요에 대한 스타트업 추천 — 주식회사 한빛로보틱스",
        "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀 emoji and 한글 mixed ä ö ü",
        "a가b나c다d라e마f바g사h아i자j차k카l타m파n하o가p나q다r라s마t바u사v아w자x차y카z타",
        "A very long ASCII subject line that is far beyond the seventy-eight character mark",
    };
    for (size_t i = 0; i < sizeof subjects / sizeof subjects [0]; i++) {
        char *encoded = notify_email_encode_header (subjects [i], 9);
        CHECK (encoded);
        char *decoded = s_decode_words (encoded, 9);
        CHECK (strcmp (decoded, subjects [i]) == 0);
        free (decoded);
        free (encoded);
    }
    CHECK (notify_email_encode_header ("bad \xff utf8", 9) == NULL);
    CHECK (notify_email_encode_header ("over\xc0\xaflong", 9) == NULL);
    CHECK (notify_email_encode_header ("injected\r\nBcc: x@y", 9) == NULL);

    notify_email_message_t message = {
        .from = "OI 마켓 <noreply@oim.test>", .to = "ops@company.test", .subject = "제목",
        .text = "본문", .html = "<p>본문</p>", .date = 1795996800, .message_id = NULL
    };
    char *rendered = notify_email_render (&message);
    CHECK (rendered);
    CHECK (strstr (rendered, "Date: Mon, 30 Nov 2026 00:00:00 +0000\r\n"));
    CHECK (strstr (rendered, "@oim.test>\r\n"));
    CHECK (strstr (rendered, "From: =?UTF-8?B?"));
    CHECK (strstr (rendered, "MIME-Version: 1.0\r\n"));
    free (rendered);
    message.to = "ops@company.test\r\nBcc: all@x";
    CHECK (notify_email_render (&message) == NULL);
    message.to = "ops@company.test";
    message.html = NULL;
    CHECK (notify_email_render (&message) == NULL);
    printf ("  RFC 2047 encoding and rendering: OK\n");
}

//  Waits for the server's "MESSAGE <n>" line, then checks OUTDIR/<n>.eml.
static void
s_check (notify_test_proc_t *server, const char *outdir, int number, const char *subject,
         const char *texts)
{
    char line [64], expected [64];
    CHECK (notify_test_read_line (server, line, sizeof line, 10000) == 0);
    snprintf (expected, sizeof expected, "MESSAGE %d", number);
    CHECK (strcmp (line, expected) == 0);
    char path [512];
    snprintf (path, sizeof path, "%s/%d.eml", outdir, number);
    const char *python = getenv ("OIM_NOTIFY_PYTHON");
    char *command = NULL;
    CHECK (asprintf (&command, "%s %s/check_email.py %s '%s' %s",
                     python ? python : NOTIFY_TEST_PYTHON, NOTIFY_TEST_DIR, path, subject,
                     texts) > 0);
    CHECK (notify_test_system (command) == 0);
    free (command);
}

static void
s_test_smtp (void)
{
    char outdir [] = "/tmp/notify_smtp_XXXXXX";
    CHECK (mkdtemp (outdir));
    notify_test_proc_t server;
    int port = notify_test_start_script (&server, "smtp_server.py", outdir, NULL);
    CHECK (port > 0);
    char url [64];
    snprintf (url, sizeof url, "smtp://127.0.0.1:%d", port);
    notify_email_smtp_t smtp = { .url = url, .timeout_msec = 10000 };
    const char *from = "OI 마켓 <noreply@oim.test>";
    char error [256];

    //  Instant
    const char *notification =
        "{\"id\":\"ntf_001\",\"type\":\"match.created\",\"org_id\":\"org_1\","
        "\"created_at\":\"2026-11-30T00:00:00Z\",\"data\":{\"title\":"
        "\"스마트 물류 자동화 PoC 수요에 대한 추천 — 주식회사 한빛로보틱스 <AI>\"}}";
    char *instant = notify_email_instant (from, "ops@company.test", notification,
                                          "https://oim.test", 0);
    CHECK (instant);
    CHECK (notify_email_send (&smtp, "noreply@oim.test", "ops@company.test", instant,
                              error, sizeof error) == 0);
    free (instant);
    s_check (&server, outdir, 1,
             "[OI 마켓] 새 매칭: 스마트 물류 자동화 PoC 수요에 대한 추천 — 주식회사 한빛로보틱스 <AI>",
             "'https://oim.test/notifications/ntf_001' '새 매칭'");

    //  Digest: six notifications of four types, one type unknown
    notify_email_digest_t *digest = notify_email_digest_new ("주식회사 한빛", "2026-11-30");
    CHECK (digest);
    const char *items [] = {
        "{\"id\":\"ntf_1\",\"type\":\"match.created\",\"data\":{\"title\":\"배터리 재활용\"}}",
        "{\"id\":\"ntf_2\",\"type\":\"match.created\",\"data\":{\"title\":\"드론 배송\"}}",
        "{\"id\":\"ntf_3\",\"type\":\"interest.received\",\"data\":{\"name\":\"(주)새싹\"}}",
        "{\"id\":\"ntf_4\",\"type\":\"match.connected\",\"data\":{\"title\":\"AI 검수\"}}",
        "{\"id\":\"ntf_5\",\"type\":\"future.type\",\"data\":{}}",
        "{\"id\":\"ntf_6\",\"type\":\"demand.closed\",\"data\":{\"title\":\"R&D <협력>\"}}",
    };
    for (size_t i = 0; i < 6; i++)
        CHECK (notify_email_digest_add (digest, items [i]) == 0);
    CHECK (notify_email_digest_add (digest, "not json") == -1);
    CHECK (notify_email_digest_add (digest, "{\"type\":\"match.created\"}") == -1);
    CHECK (notify_email_digest_size (digest) == 6);
    char *rendered = notify_email_digest_render (digest, from, "ops@company.test",
                                                 "https://oim.test", 0);
    CHECK (rendered);
    CHECK (notify_email_send (&smtp, "noreply@oim.test", "ops@company.test", rendered,
                              error, sizeof error) == 0);
    free (rendered);
    notify_email_digest_destroy (&digest);
    CHECK (digest == NULL);
    s_check (&server, outdir, 2, "[OI 마켓] 2026-11-30 일일 알림 요약 (6건)",
             "'배터리 재활용' '드론 배송' '(주)새싹' 'AI 검수' ntf_5 '새 매칭' '연결 성사' "
             "'관심 표시 받음' '수요 마감' '기타 알림' '6건'");
    //  The HTML part escapes markup in titles
    char path [512];
    snprintf (path, sizeof path, "%s/2.eml", outdir);
    char *command = NULL;
    CHECK (asprintf (&command, "%s -c \"import email,email.policy,sys; m=email.message_from_"
                     "binary_file(open('%s','rb'),policy=email.policy.default); "
                     "h=m.get_body(('html',)).get_content(); "
                     "sys.exit(0 if 'R&amp;D &lt;협력&gt;' in h else 1)\"",
                     getenv ("OIM_NOTIFY_PYTHON") ? getenv ("OIM_NOTIFY_PYTHON")
                                                  : NOTIFY_TEST_PYTHON, path) > 0);
    CHECK (notify_test_system (command) == 0);
    free (command);
    notify_email_digest_t *empty = notify_email_digest_new ("x", "2026-11-30");
    CHECK (notify_email_digest_render (empty, from, "a@b.test", "https://oim.test", 0) == NULL);
    notify_email_digest_destroy (&empty);

    //  A server that is gone: a clear error, no hang
    notify_test_stop (&server);
    CHECK (notify_email_send (&smtp, "noreply@oim.test", "ops@company.test", "x",
                              error, sizeof error) == -1);
    CHECK (strncmp (error, "smtp: ", 6) == 0);
    snprintf (path, sizeof path, "rm -rf %s", outdir);
    notify_test_system (path);
    printf ("  instant e-mail and digest over SMTP, parsed by Python's email: OK\n");
}

int
main (void)
{
    CHECK (setlocale (LC_CTYPE, "C.UTF-8"));
    CHECK (sodium_init () >= 0);
    CHECK (curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK);
    s_test_encoding ();
    s_test_smtp ();
    curl_global_cleanup ();
    printf ("notify_email: OK\n");
    return 0;
}
