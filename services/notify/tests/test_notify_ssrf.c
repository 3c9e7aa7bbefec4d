/*  notify_ssrf unit test: address classes, URL checks, and the policy switch.
    (The connect-time guard is exercised against a live receiver in test_notify_webhook.)  */
#include "notify_ssrf.h"
#include "notify_test_util.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static notify_ssrf_class_t
s_class_of (const char *text)
{
    struct sockaddr_storage storage;
    memset (&storage, 0, sizeof storage);
    if (strchr (text, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &storage;
        in6->sin6_family = AF_INET6;
        CHECK (inet_pton (AF_INET6, text, &in6->sin6_addr) == 1);
    }
    else {
        struct sockaddr_in *in = (struct sockaddr_in *) &storage;
        in->sin_family = AF_INET;
        CHECK (inet_pton (AF_INET, text, &in->sin_addr) == 1);
    }
    return notify_ssrf_classify ((struct sockaddr *) &storage);
}

static void
s_test_classes (void)
{
    struct { const char *address; notify_ssrf_class_t klass; } cases [] = {
        { "127.0.0.1", NOTIFY_SSRF_LOOPBACK },      { "127.255.0.9", NOTIFY_SSRF_LOOPBACK },
        { "10.1.2.3", NOTIFY_SSRF_PRIVATE },        { "172.16.0.1", NOTIFY_SSRF_PRIVATE },
        { "172.31.255.255", NOTIFY_SSRF_PRIVATE },  { "172.32.0.1", NOTIFY_SSRF_PUBLIC },
        { "192.168.1.1", NOTIFY_SSRF_PRIVATE },     { "169.254.169.254", NOTIFY_SSRF_LINK_LOCAL },
        { "100.64.0.1", NOTIFY_SSRF_CGNAT },        { "100.127.255.254", NOTIFY_SSRF_CGNAT },
        { "100.128.0.1", NOTIFY_SSRF_PUBLIC },      { "224.0.0.1", NOTIFY_SSRF_MULTICAST },
        { "239.255.255.250", NOTIFY_SSRF_MULTICAST }, { "0.0.0.0", NOTIFY_SSRF_UNSPECIFIED },
        { "255.255.255.255", NOTIFY_SSRF_RESERVED }, { "192.0.2.10", NOTIFY_SSRF_RESERVED },
        { "198.18.0.1", NOTIFY_SSRF_RESERVED },     { "8.8.8.8", NOTIFY_SSRF_PUBLIC },
        { "211.234.10.1", NOTIFY_SSRF_PUBLIC },
        { "::1", NOTIFY_SSRF_LOOPBACK },            { "::", NOTIFY_SSRF_UNSPECIFIED },
        { "fe80::1", NOTIFY_SSRF_LINK_LOCAL },      { "fd12:3456::1", NOTIFY_SSRF_PRIVATE },
        { "fc00::1", NOTIFY_SSRF_PRIVATE },         { "ff02::1", NOTIFY_SSRF_MULTICAST },
        { "::ffff:127.0.0.1", NOTIFY_SSRF_LOOPBACK }, { "::ffff:10.0.0.1", NOTIFY_SSRF_PRIVATE },
        { "::ffff:8.8.8.8", NOTIFY_SSRF_PUBLIC },   { "64:ff9b::a9fe:a9fe", NOTIFY_SSRF_LINK_LOCAL },
        { "::127.0.0.1", NOTIFY_SSRF_LOOPBACK },    { "2001:db8::1", NOTIFY_SSRF_RESERVED },
        { "2001:4860:4860::8888", NOTIFY_SSRF_PUBLIC }, { "fec0::1", NOTIFY_SSRF_RESERVED },
        //  Tunnels to an IPv4 address that cannot be judged: refused whole
        { "64:ff9b:1::a00:1", NOTIFY_SSRF_RESERVED }, { "64:ff9b:1:ffff::8.8.8.8", NOTIFY_SSRF_RESERVED },
        { "64:ff9b:2::1", NOTIFY_SSRF_PUBLIC },     //  just outside the /48
        { "2002:c0a8:101::1", NOTIFY_SSRF_RESERVED }, { "2002:808:808::1", NOTIFY_SSRF_RESERVED },
        { "2002::", NOTIFY_SSRF_RESERVED },          { "2003::1", NOTIFY_SSRF_PUBLIC },
        { "2001:0:4136:e378:8000:63bf:3fff:fdd2", NOTIFY_SSRF_RESERVED },     //  Teredo
        { "2001:1::1", NOTIFY_SSRF_PUBLIC },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        notify_ssrf_class_t klass = s_class_of (cases [i].address);
        if (klass != cases [i].klass)
            fprintf (stderr, "%s: got %s\n", cases [i].address, notify_ssrf_class_name (klass));
        CHECK (klass == cases [i].klass);
    }
}

static void
s_test_urls (void)
{
    notify_ssrf_t *strict = notify_ssrf_new (0);
    notify_ssrf_t *open = notify_ssrf_new (NOTIFY_SSRF_ALLOW_PRIVATE);
    CHECK (strict && open);
    char reason [NOTIFY_SSRF_REASON_MAX];
    const char *refused [] = {
        "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]:9/x",
        "http://10.0.0.7/", "http://169.254.169.254/latest/meta-data/", "https://100.64.1.1/",
        "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://2130706433/",
        "http://0x7f.1/", "http://LOCALHOST./x", "http://api.localhost:8080/",
        "http://[64:ff9b:1::a00:1]/", "http://[2002:7f00:1::1]/", "https://[2002:808:808::1]/",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        CHECK (notify_ssrf_check_url (strict, refused [i], reason, sizeof reason) == -1);
        CHECK (strstr (reason, "refused by the SSRF policy"));
    }
    CHECK (notify_ssrf_check_url (strict, "http://8.8.8.8/hook", reason, sizeof reason) == 0);
    CHECK (notify_ssrf_check_url (strict, "https://[2001:4860:4860::8888]/", reason,
                                  sizeof reason) == 0);
    //  Allowed by configuration (OIM_WEBHOOK_ALLOW_PRIVATE=1), except multicast/unspecified
    CHECK (notify_ssrf_check_url (open, "http://127.0.0.1:8080/hook", reason, sizeof reason) == 0);
    CHECK (notify_ssrf_check_url (open, "http://localhost/hook", reason, sizeof reason) == 0);
    CHECK (notify_ssrf_check_url (open, "http://10.0.0.7/", reason, sizeof reason) == 0);
    CHECK (notify_ssrf_check_url (open, "http://0.0.0.0/", reason, sizeof reason) == -1);
    CHECK (notify_ssrf_check_url (open, "http://224.0.0.1/", reason, sizeof reason) == -1);
    //  Malformed
    const char *malformed [] = { "ftp://8.8.8.8/", "file:///etc/passwd", "not a url",
                                 "http://user:pw@8.8.8.8/", "gopher://8.8.8.8/", "" };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++)
        CHECK (notify_ssrf_check_url (open, malformed [i], reason, sizeof reason) == -1);
    CHECK (notify_ssrf_check_url (open, "http://no-such-host.invalid/", reason,
                                  sizeof reason) == -1);
    CHECK (strstr (reason, "does not resolve"));
    //  Names are never resolved at configuration time: a customer's DNS that does not answer
    //  must not hold notify's loop. These would not resolve (or would hang) if looked up; the
    //  check answers at once and leaves them to the connect-time guard.
    int64_t start = notify_test_now_msec ();
    const char *names [] = { "http://no-such-host.oim-test.example/hook",
                             "https://hooks.example.com:8443/x", "http://notlocalhost/",
                             "http://localhost.example.com/" };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++)
        CHECK (notify_ssrf_check_url (strict, names [i], reason, sizeof reason) == 0);
    CHECK (notify_test_now_msec () - start < 100);
    notify_ssrf_destroy (&strict);
    notify_ssrf_destroy (&open);
    CHECK (strict == NULL);
    notify_ssrf_destroy (&strict);
}

int
main (void)
{
    CHECK (curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK);
    s_test_classes ();
    s_test_urls ();
    curl_global_cleanup ();
    printf ("notify_ssrf: OK\n");
    return 0;
}
