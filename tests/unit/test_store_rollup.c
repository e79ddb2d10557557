/*
** test_store_rollup.c: the store's histograms -- under 1% error over the
** range of doubles, their stored text both ways, and a table of stored
** text that is not ours (a corrupt or foreign rollup row is refused, not
** half-read), and the merge of one histogram into another (what the
** writer does per key and batch) against adding its bins one by one.
*/
#include <math.h>

#include "testutil.h"
#include "serve/store/store_internal.h"

static void test_error_and_text(void **state)
{
    (void)state;
    hist h = {0};
    const double vals[] = {-1e300, -2.5, -1e-300, 0, 1e-300, 0.001, 1, 12.5, 1e6, 1e300};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        assert_true(am__hist_add(&h, am__hist_index(vals[i]), i + 1));
    size_t total = 55;
    /* each value read back within 1% (nearest rank hits each bin once) */
    uint64_t cum = 0;
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        cum += i + 1;
        double q = am__hist_quantile(&h, total, (double)cum / (double)total);
        if (vals[i] == 0 ? q != 0 : fabs(q - vals[i]) > 0.01 * fabs(vals[i]))
            fail_msg("%g came back as %g", vals[i], q);
    }
    am_buf b;
    am_buf_init(&b, 0);
    am__hist_text(&b, &h);
    hist back = {0};
    assert_true(am__hist_merge_text(&back, b.p));
    am_buf c;
    am_buf_init(&c, 0);
    am__hist_text(&c, &back);
    AM_ASSERT_STR_EQ(c.p, b.p);
    /* merging the same text again doubles every count */
    assert_true(am__hist_merge_text(&back, b.p));
    AM_ASSERT_EQ(back.n, h.n);
    AM_ASSERT_EQ(back.b[0].n, 2 * h.b[0].n);
    am_buf_free(&b);
    am_buf_free(&c);
    am__free(h.b);
    am__free(back.b);
}

static void test_bad_text(void **state)
{
    (void)state;
    static const char *bad[] = {
        ":1",
        "1:",
        "1",
        "a:1",
        "1:a",
        "1:1,",
        ",1:1",
        "1:1,,2:2",
        " 1:1",
        "1: 1",
        "+1:1",
        "1:+1",
        "1:-1",
        "1:1x",
        "10000001:1",
        "-10000001:1",
        "123456789:1",
        "1:12345678901234567890",
        "1;1",
        "1:1 2:2",
        "--1:1",
        "1::1",
        /* past the cap, alone or added up (so a merged bin is never
           written that could not be read back) */
        "1:9223372036854775808",
        "1:9223372036854775807,1:1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hist h = {0};
        if (am__hist_merge_text(&h, bad[i]))
            fail_msg("\"%s\" was accepted", bad[i]);
        am__free(h.b);
    }
    /* a count past the cap is refused */
    hist h = {0};
    assert_true(am__hist_add(&h, 5, HIST_COUNT_MAX - 1));
    assert_false(am__hist_add(&h, 5, 2));
    assert_false(am__hist_add(&h, 6, HIST_COUNT_MAX + 1));
    am__free(h.b);
    /* what merged text adds up to is written and read back as it is
       (fuzz_hist: repeated bins summed to 16 digits, then refused) */
    static const char *const merged[][2] = {
        {"0:7001003010,3:34015692047,4:700100302047,4:70010030014,7:340000620030014,"
         "7:340000620002014,7:340000620030014,7:340000620002",
         "0:7001003010,3:34015692047,4:770110332061,7:1020341860682044"},
        {"1:9223372036854775806,1:1", "1:9223372036854775807"},
    };
    for (size_t i = 0; i < sizeof merged / sizeof *merged; i++) {
        hist m = {0}, back = {0};
        am_buf t;
        am_buf_init(&t, 0);
        assert_true(am__hist_merge_text(&m, merged[i][0]));
        am__hist_text(&t, &m);
        AM_ASSERT_STR_EQ(t.p, merged[i][1]);
        assert_true(am__hist_merge_text(&back, t.p));
        AM_ASSERT_EQ(back.n, m.n);
        am_buf_free(&t);
        am__free(m.b);
        am__free(back.b);
    }
    hist e = {0};
    assert_true(am__hist_merge_text(&e, "")); /* no values */
    AM_ASSERT_EQ(e.n, 0);
}

/* h as text (owned by the caller's buffer) */
static const char *text_of(am_buf *b, const hist *h)
{
    b->len = 0;
    am_buf_putc(b, '\0');
    b->len = 0;
    am__hist_text(b, h);
    return b->p;
}

static void test_merge(void **state)
{
    (void)state;
    /* the pairs: (into, from) as stored text, merged */
    static const char *const cases[][2] = {
        {"", ""},
        {"", "3:1"},
        {"3:1", ""},
        {"3:1", "3:2"},
        {"1:1,5:1", "3:1"},
        {"3:1", "1:1,5:1"},
        {"-7:1,0:2,1000004:3", "-8:1,-7:1,0:1,1000005:9,10000000:1"},
        {"1:1,2:1,3:1", "0:1,4:1"},
        {"0:1,4:1", "1:1,2:1,3:1"},
    };
    am_buf a, b;
    am_buf_init(&a, 0);
    am_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        hist into = {0}, from = {0}, want = {0};
        assert_true(am__hist_merge_text(&into, cases[i][0]));
        assert_true(am__hist_merge_text(&from, cases[i][1]));
        assert_true(am__hist_merge_text(&want, cases[i][0]));
        for (size_t k = 0; k < from.n; k++)
            assert_true(am__hist_add(&want, from.b[k].idx, from.b[k].n));
        assert_true(am__hist_merge(&into, &from));
        if (strcmp(text_of(&a, &into), text_of(&b, &want)) != 0)
            fail_msg("%s + %s gave %s, not %s", cases[i][0], cases[i][1], a.p, b.p);
        am__free(into.b);
        am__free(from.b);
        am__free(want.b);
    }
    /* a count that would wrap is refused, and nothing changes */
    hist into = {0}, from = {0};
    assert_true(am__hist_add(&into, 1, 1));
    assert_true(am__hist_add(&into, 5, HIST_COUNT_MAX - 1));
    assert_true(am__hist_add(&from, 0, 1));
    assert_true(am__hist_add(&from, 5, 2));
    const char *before = am__strdup(text_of(&a, &into));
    assert_false(am__hist_merge(&into, &from));
    AM_ASSERT_STR_EQ(text_of(&a, &into), before);
    am__free((char *)before);
    am__free(into.b);
    am__free(from.b);
    am_buf_free(&a);
    am_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_error_and_text),
                                       cmocka_unit_test(test_bad_text),
                                       cmocka_unit_test(test_merge)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
