/*  Unit tests for gateway_static: which names are served, their types, reading from a root. */
#include "gateway_static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_passed, s_failed;
#define CHECK(cond) do { \
    if (cond) s_passed++; \
    else { s_failed++; fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    fputs (text, file);
    fclose (file);
}

static void
s_test_names (void)
{
    CHECK (gateway_static_name_ok ("index.html"));
    CHECK (gateway_static_name_ok ("js/app.js"));
    CHECK (gateway_static_name_ok ("vendor/chart.min.js"));
    CHECK (!gateway_static_name_ok ("../etc/passwd.js"));
    CHECK (!gateway_static_name_ok ("js/../x.js"));
    CHECK (!gateway_static_name_ok (".hidden.js"));
    CHECK (!gateway_static_name_ok ("a/b/c.js"));           //  two segments at most
    CHECK (!gateway_static_name_ok ("/abs.js"));
    CHECK (!gateway_static_name_ok ("notes.txt"));          //  not a served type
    CHECK (!gateway_static_name_ok ("x.js%00.png"));
    CHECK (!gateway_static_name_ok (""));
    CHECK (strcmp (gateway_static_type ("a.js"), "text/javascript; charset=utf-8") == 0);
    CHECK (strcmp (gateway_static_type ("a.css"), "text/css; charset=utf-8") == 0);
    CHECK (strcmp (gateway_static_type ("a.html"), "text/html; charset=utf-8") == 0);
    CHECK (gateway_static_type ("Makefile") == NULL);
    CHECK (strstr (gateway_static_csp, "script-src 'self'") && !strstr (gateway_static_csp, "unsafe"));
}

static void
s_test_read (void)
{
    char root [] = "/tmp/oim-static-XXXXXX";
    CHECK (mkdtemp (root) != NULL);
    char path [256];
    snprintf (path, sizeof path, "%s/index.html", root);
    s_write (path, "<title>OI 마켓</title>");
    snprintf (path, sizeof path, "%s/js", root);
    mkdir (path, 0700);
    snprintf (path, sizeof path, "%s/js/app.js", root);
    s_write (path, "export {};");
    char *body;
    size_t size;
    const char *type;
    CHECK (gateway_static_read (root, "index.html", &body, &size, &type) == 200);
    CHECK (body && size == strlen ("<title>OI 마켓</title>") && strstr (body, "마켓"));
    CHECK (type && strncmp (type, "text/html", 9) == 0);
    free (body);
    CHECK (gateway_static_read (root, "js/app.js", &body, &size, &type) == 200);
    CHECK (size == 10 && strncmp (type, "text/javascript", 15) == 0);
    free (body);
    CHECK (gateway_static_read (root, "js/none.js", &body, &size, &type) == 404 && !body);
    CHECK (gateway_static_read (root, "js", &body, &size, &type) == 404 && !body);
    CHECK (gateway_static_read ("/nonexistent-root", "index.html", &body, &size, &type) == 404);
    snprintf (path, sizeof path, "%s/js/app.js", root);
    unlink (path);
    snprintf (path, sizeof path, "%s/js", root);
    rmdir (path);
    snprintf (path, sizeof path, "%s/index.html", root);
    unlink (path);
    rmdir (root);
}

int
main (void)
{
    s_test_names ();
    s_test_read ();
    printf ("gateway_static: %d passed, %d failed\n", s_passed, s_failed);
    return s_failed? 1: 0;
}
