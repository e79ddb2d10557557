/*
** test_stateset.c: statesets -- set, select, range checks, and their
** exposition (a gauge per state in 0.0.4, stateset in OpenMetrics).
*/
#include "testutil.h"

static void test_stateset(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *states[] = {"closed", "open", "half_open"}, *labels[] = {"breaker"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "circuit_breaker_state";
    o.help = "Breaker state.";
    o.states = states;
    o.n_states = 3;
    o.label_names = labels;
    o.n_labels = 1;
    am_stateset *fam, *s;
    AM_ASSERT_OK(am_stateset_new(r, &o, &fam));
    AM_ASSERT_OK(am_stateset_with(fam, AM_LABELS("openai"), &s));
    AM_ASSERT_OK(am_stateset_select(s, 0));
    assert_true(am_stateset_get(s, 0));
    AM_ASSERT_OK(am_stateset_select(s, 1));
    assert_false(am_stateset_get(s, 0));
    assert_true(am_stateset_get(s, 1));
    AM_ASSERT_OK(am_stateset_set(s, 2, true));
    AM_ASSERT_OK(am_stateset_set(s, 1, false));
    AM_ASSERT_ERR(am_stateset_set(s, 3, true), AM_EINVAL);
    AM_ASSERT_ERR(am_stateset_select(s, 99), AM_EINVAL);
    assert_false(am_stateset_get(s, 99));

    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "# TYPE circuit_breaker_state gauge\n");
    AM_ASSERT_CONTAINS(
        text, "circuit_breaker_state{breaker=\"openai\",circuit_breaker_state=\"closed\"} 0\n");
    AM_ASSERT_CONTAINS(
        text, "circuit_breaker_state{breaker=\"openai\",circuit_breaker_state=\"half_open\"} 1\n");
    am_free(text);
    text = am_test_encode(r, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "# TYPE circuit_breaker_state stateset\n");
    am_free(text);

    /* Bad definitions. */
    o.name = "x";
    o.n_states = 0;
    AM_ASSERT_ERR(am_stateset_new(r, &o, &fam), AM_EINVAL);
    const char *dup[] = {"a", "a"}, *empty[] = {""};
    o.states = dup;
    o.n_states = 2;
    AM_ASSERT_ERR(am_stateset_new(r, &o, &fam), AM_EINVAL);
    o.states = empty;
    o.n_states = 1;
    AM_ASSERT_ERR(am_stateset_new(r, &o, &fam), AM_EINVAL);
    o.n_states = AM_MAX_STATES + 1;
    AM_ASSERT_ERR(am_stateset_new(r, &o, &fam), AM_EINVAL);

    /* The longest state, every byte escaped, under the longest name. */
    char *big = malloc(AM_MAX_LABEL_VALUE + 1), name[AM_MAX_NAME + 1];
    memset(big, '"', AM_MAX_LABEL_VALUE);
    big[AM_MAX_LABEL_VALUE] = '\0';
    memset(name, 'n', AM_MAX_NAME);
    name[AM_MAX_NAME] = '\0';
    const char *bigstate[] = {big};
    o.name = name;
    o.states = bigstate;
    o.n_states = 1;
    o.n_labels = 0;
    AM_ASSERT_OK(am_stateset_new(r, &o, &fam));
    AM_ASSERT_OK(am_stateset_select(fam, 0));
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    char *want = malloc(2 * AM_MAX_LABEL_VALUE + 2 * AM_MAX_NAME + 16);
    size_t o_ = 0;
    memcpy(want + o_, name, AM_MAX_NAME);
    o_ += AM_MAX_NAME;
    want[o_++] = '{';
    memcpy(want + o_, name, AM_MAX_NAME);
    o_ += AM_MAX_NAME;
    want[o_++] = '=';
    want[o_++] = '"';
    for (int i = 0; i < AM_MAX_LABEL_VALUE; i++) {
        want[o_++] = '\\';
        want[o_++] = '"';
    }
    memcpy(want + o_, "\"} 1\n", 6);
    AM_ASSERT_CONTAINS(text, want);
    free(want);
    free(big);
    am_free(text);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stateset)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
