/*  oim_glossary unit test: Korean text finds its English terms and the reverse, on analysed
    forms (particles, plurals, stems), phrases only at consecutive positions, each entry once,
    nothing for generic words.  */
#include "oim_glossary.h"
#include "oim_test.h"

#include <stdlib.h>
#include <string.h>

static oim_test_t s_t;

//  The translation of text contains (want) or does not contain (!want) term as a line.
static bool
s_has_line (const char *out, const char *term)
{
    size_t n = strlen (term);
    for (const char *p = out; (p = strstr (p, term)); p++)
        if ((p == out || p [-1] == '\n') && p [n] == '\n')
            return true;
    return false;
}

static char *
s_translate (oim_glossary_t *g, oim_analyzer_t *a, oim_tokens_t *tokens, const char *text)
{
    char *out = oim_glossary_translate (g, a, tokens, text, strlen (text));
    CHECK (&s_t, out != NULL, "translate returned NULL for %s", text);
    return out? out: strdup ("");
}

int
main (void)
{
    oim_analyzer_t *a = oim_analyzer_new (NULL);
    oim_tokens_t *tokens = oim_tokens_new ();
    oim_glossary_t *g = oim_glossary_new (a);
    CHECK (&s_t, g && oim_glossary_size (g) >= 200, "glossary built");

    char *out = s_translate (g, a, tokens, "전기차 배터리 재활용 기술을 가진 스타트업을 찾습니다");
    CHECK (&s_t, s_has_line (out, "electric vehicle"), "전기차: %s", out);
    CHECK (&s_t, s_has_line (out, "battery"), "배터리: %s", out);
    CHECK (&s_t, s_has_line (out, "recycling"), "재활용: %s", out);
    CHECK (&s_t, !strstr (out, "startup") && !strstr (out, "technology"), "generic: %s", out);
    free (out);

    out = s_translate (g, a, tokens, "Recycling of batteries from Electric Vehicles");
    CHECK (&s_t, s_has_line (out, "배터리") && s_has_line (out, "이차전지"), "batteries: %s", out);
    CHECK (&s_t, s_has_line (out, "재활용") && s_has_line (out, "전기차"), "EV: %s", out);
    free (out);

    //  a phrase needs its words next to each other (a stop word between counts as its own)
    out = s_translate (g, a, tokens, "an internet of things gateway");
    CHECK (&s_t, s_has_line (out, "사물인터넷"), "iot: %s", out);
    free (out);
    out = s_translate (g, a, tokens, "the machine shop does learning courses");
    CHECK (&s_t, !s_has_line (out, "머신러닝"), "machine ... learning apart: %s", out);
    free (out);

    //  particles stripped: 배터리를 -> 배터리; each entry once
    out = s_translate (g, a, tokens, "배터리를 배터리의 배터리");
    CHECK (&s_t, s_has_line (out, "battery") && strstr (out, "battery") == strrchr (out, 'b'),
           "once: %s", out);
    free (out);

    out = s_translate (g, a, tokens, "AI 기반 솔루션 플랫폼 서비스 개발");
    CHECK (&s_t, s_has_line (out, "인공지능"), "ai: %s", out);
    CHECK (&s_t, !strstr (out, "platform") && !strstr (out, "solution"), "generic: %s", out);
    free (out);
    out = s_translate (g, a, tokens, "innovative platform development solution");
    CHECK (&s_t, *out == 0, "nothing for generic words: '%s'", out);
    free (out);

    oim_glossary_destroy (&g);
    oim_tokens_destroy (&tokens);
    oim_analyzer_destroy (&a);
    return oim_test_done (&s_t);
}
