/*  Unit tests for common/: ids, UTF-8, clock, config, metrics, pbjson, wire, redis URLs.
    One executable, one function per module; prints "N passed, N failed" and exits non-zero
    on any failure.
*/
#include "oim_clock.h"
#include "oim_config.h"
#include "oim_id.h"
#include "oim_metrics.h"
#include "oim_pbjson.h"
#include "oim_redis.h"
#include "oim_utf8.h"
#include "oim_wire.h"
#include "registry.pb-c.h"
#include "api.pb-c.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_passed, s_failed;

#define CHECK(cond) do { \
    if (cond) s_passed++; \
    else { s_failed++; fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

static void
test_id (void)
{
    char a [OIM_ID_SIZE], b [OIM_ID_SIZE];
    oim_id_new ("org", a);
    oim_id_new ("org", b);
    CHECK (strncmp (a, "org_", 4) == 0);
    CHECK (strlen (a) == 25);
    CHECK (strcmp (a, b) < 0);                  //  time-sortable, strictly increasing
    CHECK (oim_id_valid (a, "org"));
    CHECK (!oim_id_valid (a, "dem"));
    CHECK (!oim_id_valid ("org_short", "org"));
    CHECK (!oim_id_valid ("org_0000000000000000000i", "org"));   //  'i' not Crockford
    zhashx_t *seen = zhashx_new ();
    bool unique = true;
    for (int i = 0; i < 20000; i++) {
        oim_id_new ("dem", a);
        if (zhashx_insert (seen, a, (void *) 1) != 0)
            unique = false;
    }
    CHECK (unique);
    zhashx_destroy (&seen);
    //  oim_id_new_n: the same shape, increasing, unique, across its 64-id chunks
    char (*many) [OIM_ID_SIZE] = calloc (150, OIM_ID_SIZE);
    oim_id_new_n ("mat", many, 150);
    bool increasing = true, valid = true;
    for (int i = 0; i < 150; i++) {
        valid = valid && oim_id_valid (many [i], "mat");
        increasing = increasing && (i == 0 || strcmp (many [i - 1], many [i]) < 0);
    }
    CHECK (valid);
    CHECK (increasing);
    oim_id_new_n ("mat", many, 0);              //  nothing to do
    free (many);
}

static void
test_utf8 (void)
{
    CHECK (oim_utf8_valid ("배터리 battery", strlen ("배터리 battery")));
    CHECK (!oim_utf8_valid ("\xff\xfe", 2));
    CHECK (!oim_utf8_valid ("\xc0\xaf", 2));            //  overlong '/'
    CHECK (!oim_utf8_valid ("\xed\xa0\x80", 3));        //  surrogate
    CHECK (!oim_utf8_valid ("a\0b", 3));                //  NUL
    //  NFD Hangul (ᄇ ᅢ ᄐ ᅥ ᄅ ᅵ) composes to 배터리
    const char *nfd = "\xe1\x84\x87\xe1\x85\xa2\xe1\x84\x90\xe1\x85\xa5\xe1\x84\x85\xe1\x85\xb5";
    char *nfc = oim_utf8_nfc (nfd);
    CHECK (nfc && strcmp (nfc, "배터리") == 0);
    free (nfc);
    char *folded = oim_utf8_fold ("AI Robotics ÄÖ");
    CHECK (folded && strcmp (folded, "ai robotics äö") == 0);
    free (folded);
    CHECK (oim_utf8_nfc ("\xff") == NULL);
    CHECK (oim_utf8_chars ("배터리abc") == 6);
    CHECK (oim_utf8_has_controls ("a\x01"));
    CHECK (!oim_utf8_has_controls ("line\nnext\ttab"));
}

static void
test_clock (void)
{
    char buf [OIM_RFC3339_SIZE];
    oim_clock_rfc3339 (1795998045123LL, buf);
    CHECK (strcmp (buf, "2026-11-30T00:20:45.123Z") == 0);
    int64_t ms = 0;
    CHECK (oim_clock_parse_rfc3339 (buf, &ms) == 0 && ms == 1795998045123LL);
    CHECK (oim_clock_parse_rfc3339 ("2026-11-30T09:20:45+09:00", &ms) == 0
           && ms == 1795998045000LL);
    CHECK (oim_clock_parse_rfc3339 ("2026-02-30T00:00:00Z", &ms) == -1);
    CHECK (oim_clock_parse_rfc3339 ("2026-11-30", &ms) == -1);
    CHECK (oim_clock_parse_rfc3339 ("yesterday", &ms) == -1);
    CHECK (oim_clock_mono_ms () > 0);
}

static void
test_config (void)
{
    static const oim_option_t options [] = {
        { "alpha", "OIM_TEST_ALPHA", "1", "first", false },
        { "beta", "OIM_TEST_BETA", "b", "second", false },
        { "gamma", NULL, NULL, "a switch", true },
        OIM_OPTION_END
    };
    setenv ("OIM_TEST_ALPHA", "42", 1);
    setenv ("OIM_TEST_BETA", "from-env", 1);
    char *argv [] = { "prog", "--beta=from-flag", "--gamma", NULL };
    int code = -1;
    oim_config_t *config = oim_config_new ("prog", "test", options, NULL, 3, argv, &code);
    CHECK (config && code == 0);
    CHECK (oim_config_int (config, "alpha", 0) == 42);
    CHECK (strcmp (oim_config_get (config, "beta"), "from-flag") == 0);
    CHECK (oim_config_bool (config, "gamma"));
    oim_config_destroy (&config);
    char *bad [] = { "prog", "--nope", NULL };
    config = oim_config_new ("prog", "test", options, NULL, 2, bad, &code);
    CHECK (!config && code == 2);
    setenv ("OIM_TEST_ALPHA", "", 1);       //  empty = unset: the default applies
    config = oim_config_new ("prog", "test", options, NULL, 1, argv, &code);
    CHECK (config && oim_config_int (config, "alpha", 0) == 1);
    oim_config_destroy (&config);
    unsetenv ("OIM_TEST_ALPHA");
    unsetenv ("OIM_TEST_BETA");
}

static void
test_metrics (void)
{
    oim_metrics_t *m = oim_metrics_new ("service=\"t\"");
    oim_metric_t *c = oim_metrics_counter (m, "oim_things_total", "kind=\"a\"", "things");
    oim_metric_add (c, 3);
    oim_metric_add (oim_metrics_counter (m, "oim_things_total", "kind=\"b\"", "things"), 1);
    oim_metric_t *h = oim_metrics_histogram (m, "oim_wait_seconds", NULL, "waits");
    oim_metric_observe_us (h, 120);
    oim_metric_observe_us (h, 3000000);
    CHECK (oim_metrics_counter (m, "oim_things_total", "kind=\"a\"", NULL) == c);
    char *text = oim_metrics_render (m);
    CHECK (strstr (text, "# TYPE oim_things_total counter\n"));
    CHECK (strstr (text, "oim_things_total{service=\"t\",kind=\"a\"} 3\n"));
    CHECK (strstr (text, "oim_wait_seconds_bucket{service=\"t\",le=\"0.00025\"} 1\n"));
    CHECK (strstr (text, "oim_wait_seconds_bucket{service=\"t\",le=\"+Inf\"} 2\n"));
    CHECK (strstr (text, "oim_wait_seconds_count{service=\"t\"} 2\n"));
    //  One TYPE line per family even with two label sets.
    CHECK (strstr (text, "# TYPE oim_things_total") == strrchr (text, '#') - 0
           || strstr (strstr (text, "# TYPE oim_things_total") + 1, "# TYPE oim_things_total") == NULL);
    free (text);
    oim_metrics_destroy (&m);
}

static void
test_pbjson (void)
{
    oim_pbjson_error_t error;
    json_t *json = json_loads ("{\"name\":\"배터리\",\"tags\":[\"a\",\"b\"],\"founded\":2020,"
                               "\"deleted\":false}", 0, NULL);
    Oim__V1__Organization *org = (Oim__V1__Organization *)
        oim_pbjson_decode (&oim__v1__organization__descriptor, json, NULL, &error);
    CHECK (org && strcmp (org->name, "배터리") == 0 && org->n_tags == 2 && org->founded == 2020);
    json_t *back = oim_pbjson_encode (&org->base, OIM_PBJSON_OMIT_EMPTY);
    CHECK (json_equal (json_object_get (back, "tags"), json_object_get (json, "tags")));
    CHECK (json_object_get (back, "website") == NULL);
    json_decref (back);
    back = oim_pbjson_encode (&org->base, 0);
    CHECK (json_is_string (json_object_get (back, "website")));
    json_decref (back);
    //  Merge (PATCH): only present fields change.
    json_t *patch = json_loads ("{\"name\":\"New\",\"tags\":[\"c\"]}", 0, NULL);
    CHECK (oim_pbjson_merge (&org->base, patch, NULL, &error) == 0);
    CHECK (strcmp (org->name, "New") == 0 && org->n_tags == 1 && org->founded == 2020);
    json_decref (patch);
    protobuf_c_message_free_unpacked (&org->base, NULL);
    json_decref (json);

    struct { const char *text; const char *field; } bad [] = {
        { "{\"nmae\":\"x\"}", "nmae" },
        { "{\"name\":5}", "name" },
        { "{\"tags\":[\"a\",7]}", "tags[1]" },
        { "{\"founded\":\"2020\"}", "founded" },
        { "{\"founded\":99999999999}", "founded" },
        { "{\"deleted\":1}", "deleted" },
        { "{\"tags\":\"a\"}", "tags" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        json = json_loads (bad [i].text, 0, NULL);
        CHECK (oim_pbjson_decode (&oim__v1__organization__descriptor, json, NULL, &error) == NULL);
        CHECK (strcmp (error.field, bad [i].field) == 0);
        json_decref (json);
    }
    //  Deny list, nested messages, negative unsigned.
    static const char *const deny [] = { "id", NULL };
    json = json_loads ("{\"id\":\"org_x\"}", 0, NULL);
    CHECK (!oim_pbjson_decode (&oim__v1__organization__descriptor, json, deny, &error));
    CHECK (strcmp (error.field, "id") == 0);
    json_decref (json);
    json = json_loads ("{\"title\":\"t\",\"budget_krw\":{\"min\":1,\"max\":\"x\"}}", 0, NULL);
    CHECK (!oim_pbjson_decode (&oim__v1__demand__descriptor, json, NULL, &error));
    CHECK (strcmp (error.field, "budget_krw.max") == 0);
    json_decref (json);
    json = json_loads ("{\"source_sequence\":-1}", 0, NULL);
    CHECK (!oim_pbjson_decode (&oim__v1__demand__descriptor, json, NULL, &error));
    json_decref (json);
    //  Maps and enums.
    json = json_loads ("{\"params\":{\"id\":\"org_1\"},\"principal\":{\"role\":\"ROLE_AGENCY\"}}", 0, NULL);
    Oim__V1__ApiRequest *req = (Oim__V1__ApiRequest *)
        oim_pbjson_decode (&oim__v1__api_request__descriptor, json, NULL, &error);
    CHECK (req && req->n_params == 1 && strcmp (req->params [0]->value, "org_1") == 0);
    CHECK (req && req->principal->role == OIM__V1__ROLE__ROLE_AGENCY);
    if (req)
        protobuf_c_message_free_unpacked (&req->base, NULL);
    json_decref (json);
}

static void
test_wire (void)
{
    zsock_t *server = zsock_new_router ("inproc://test-wire");
    zsock_t *client = zsock_new_dealer ("inproc://test-wire");
    zsock_set_rcvtimeo (server, 1000);
    Oim__V1__Header header;
    oim_wire_header_init (&header, OIM__V1__COMMAND__COMMAND_REQUEST);
    header.service = "registry";
    header.correlation_id = 7;
    CHECK (oim_wire_send (zsock_resolve (client), NULL, 0, &header, "body", 4) == 0);
    oim_wire_msg_t msg = { 0 };
    const char *reason;
    CHECK (oim_wire_recv (zsock_resolve (server), true, &msg, &reason) == 0);
    CHECK (msg.header && msg.header->correlation_id == 7 && msg.body_size == 4);
    CHECK (msg.routing_size > 0);
    oim_wire_msg_clear (&msg);
    //  Garbage: wrong frame count, not a Header, wrong signature, oversized body.
    zstr_sendx (client, "one", "two", "three", NULL);
    CHECK (oim_wire_recv (zsock_resolve (server), true, &msg, &reason) == -1);
    CHECK (msg.header == NULL && msg.routing_size > 0);
    oim_wire_msg_clear (&msg);
    zstr_sendx (client, "\xff\xff\xff", "", NULL);
    CHECK (oim_wire_recv (zsock_resolve (server), true, &msg, &reason) == -1);
    oim_wire_msg_clear (&msg);
    header.signature = 1;
    oim_wire_send (zsock_resolve (client), NULL, 0, &header, NULL, 0);
    CHECK (oim_wire_recv (zsock_resolve (server), true, &msg, &reason) == -1);
    CHECK (strcmp (reason, "bad signature") == 0);
    oim_wire_msg_clear (&msg);
    header.signature = OIM_WIRE_SIGNATURE;
    size_t big = OIM_WIRE_MAX_BODY_BYTES + 1;
    char *body = calloc (1, big);
    oim_wire_send (zsock_resolve (client), NULL, 0, &header, body, big);
    free (body);
    CHECK (oim_wire_recv (zsock_resolve (server), true, &msg, &reason) == -1);
    CHECK (strcmp (reason, "body frame too large") == 0);
    oim_wire_msg_clear (&msg);
    CHECK (oim_wire_recv (zsock_resolve (server), true, &msg, &reason) == -2);     //  timeout
    zsock_destroy (&client);
    zsock_destroy (&server);
}

static void
test_redis_url (void)
{
    const char *good [] = { "redis://127.0.0.1:6379/0", "redis://:secret@redis:6380/2",
                            "redis://user:pw@host", "unix:///tmp/r.sock?db=3&password=x",
                            "redis://localhost" };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++) {
        oim_redis_t *r = oim_redis_new (good [i], 100, 100);
        CHECK (r != NULL);
        oim_redis_destroy (&r);
    }
    const char *bad [] = { "http://x", "redis://host:99999", "", "unix://" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        CHECK (oim_redis_new (bad [i], 100, 100) == NULL);
    //  Nothing listens here: commands fail fast and report, without crashing.
    oim_redis_t *r = oim_redis_new ("unix:///nonexistent/redis.sock", 100, 100);
    CHECK (oim_redis_command (r, "PING") == NULL);
    CHECK (!oim_redis_ping (r, NULL));
    CHECK (*oim_redis_error (r) != 0);
    oim_redis_destroy (&r);
}

int
main (void)
{
    zsys_init ();
    test_id ();
    test_utf8 ();
    test_clock ();
    test_config ();
    test_metrics ();
    test_pbjson ();
    test_wire ();
    test_redis_url ();
    printf ("common: %d passed, %d failed\n", s_passed, s_failed);
    return s_failed? 1: 0;
}
