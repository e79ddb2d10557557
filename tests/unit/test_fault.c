/*
** test_fault.c: out-of-memory at every allocation, in turn.
**
** A counting allocator fails the k-th allocation of a scenario that uses
** every part of the library (registries, each metric type, children,
** removal, exemplars, info, callbacks, process metrics, all encoders, the
** packs' prepared handles), for
** k = 1, 2, ... until the scenario runs without reaching k. Each run must
** end with AM_OK or a clean AM_ENOMEM (never a crash or another code), the
** counters must still be exact (a failed page allocation falls back to the
** shared cells), and once the registry is freed the number of live
** allocations must be back where it started: nothing leaked on any path.
** Under the ASan build, LeakSanitizer checks the same at exit.
*/
#include <stdatomic.h>

#include "testutil.h"
#include "fault_alloc.h"
#include "agentmon/packs.h"

#define STEP(call)                                                                                 \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ == AM_ENOMEM)                                                                      \
            goto out;                                                                              \
        if (rc_ != AM_OK && rc_ != AM_ELIMIT)                                                      \
            fail_msg("%s returned %s at fail_at=%ld: %s", #call, am_err_name(rc_), g_fail_at,      \
                     am_errmsg());                                                                 \
    } while (0)

static void collect(am_sink *s, void *ud)
{
    (void)ud;
    am_sink_put(s, AM_LABELS("a"), 1);
    am_sink_put(s, AM_LABELS("b"), 2);
}

/* Returns AM_OK when it ran to the end. */
static am_err scenario(void)
{
    am_err result = AM_ENOMEM;
    am_registry *r = NULL;
    char *text = NULL;
    am_worker_pack *wp = NULL;
    am_a2a_pack *ap = NULL;
    am_llm_pack *lp = NULL;
    am_worker_agent *wa = NULL;
    am_worker_link *wl = NULL;
    am_a2a_target *at = NULL;
    am_llm_agent *la = NULL;
    am_cache_pack *cp = NULL;
    am_worker_cache_ref *wc = NULL;
    am_cache_result *cr = NULL;
    STEP(am_registry_new(&r));

    const char *l[] = {"agent", "priority"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "msgs_total";
    o.help = "h";
    o.label_names = l;
    o.n_labels = 2;
    o.max_children = 3;
    am_counter *cf, *c1, *c2, *plain;
    STEP(am_counter_new(r, &o, &cf));
    STEP(am_counter_with(cf, AM_LABELS("p:1", "5"), &c1));
    for (int i = 0; i < 10; i++)
        am_counter_inc(c1);
    if (am_counter_value(c1) != 10)
        fail_msg("counter lost increments at fail_at=%ld", g_fail_at);
    STEP(am_counter_with(cf, AM_LABELS("p:2", "5"), &c2));
    STEP(am_counter_with(cf, AM_LABELS("p:3", "5"), &c2));
    STEP(am_counter_with(cf, AM_LABELS("p:4", "5"), &c2)); /* overflow */
    am_counter_inc(c2);
    STEP(am_counter_remove(cf, AM_LABELS("p:2", "5")));
    const char *en[] = {"trace_id"}, *ev[] = {"abc"};
    am_labels ex = {en, ev, 1};
    STEP(am_counter_add_exemplar(c1, 1, &ex));
    o.name = "plain_total";
    o.n_labels = 0;
    STEP(am_counter_new(r, &o, &plain));
    am_counter_inc(plain);

    o.name = "depth";
    o.n_labels = 2;
    o.json_name = "queue.depth";
    am_gauge *gf, *g;
    STEP(am_gauge_new(r, &o, &gf));
    STEP(am_gauge_with(gf, AM_LABELS("p:1", "9"), &g));
    am_gauge_set(g, 4);

    o.name = "lat_seconds";
    o.json_name = NULL;
    am_histogram *hf, *h;
    STEP(am_histogram_new(r, &o, &hf));
    STEP(am_histogram_with(hf, AM_LABELS("p:1", "9"), &h));
    am_histogram_observe(h, 0.3);
    STEP(am_histogram_observe_exemplar(h, 0.02, &ex));

    am_metric_opts io = AM_METRIC_OPTS_INIT;
    io.name = "svc";
    am_info *info;
    STEP(am_info_new(r, &io, &info));
    const char *ik[] = {"version"}, *iv[] = {"1"};
    am_labels pairs = {ik, iv, 1};
    STEP(am_info_set(info, &pairs));

    const char *st[] = {"closed", "open"};
    am_metric_opts so = AM_METRIC_OPTS_INIT;
    so.name = "breaker";
    so.states = st;
    so.n_states = 2;
    am_stateset *s;
    STEP(am_stateset_new(r, &so, &s));
    STEP(am_stateset_select(s, 1));

    am_metric_opts co = AM_METRIC_OPTS_INIT;
    co.name = "cb";
    co.label_names = l;
    co.n_labels = 1;
    am_callback *cb;
    STEP(am_callback_new(r, AM_TYPE_GAUGE, &co, collect, NULL, &cb));
    STEP(am_registry_enable_process_metrics(r));

    /* the packs' prepared handles (issue 14): each constructor fails cleanly */
    STEP(am_worker_pack_new(r, &wp));
    STEP(am_a2a_pack_new(r, &ap));
    STEP(am_llm_pack_new(r, &lp));
    STEP(am_worker_agent_new(wp, "coder", &wa));
    STEP(am_worker_link_new(wp, "coder:1", "reviewer:1", "review", &wl));
    STEP(am_a2a_target_new(ap, "coder", "code", &at));
    STEP(am_llm_agent_new(lp, "coder", &la));
    STEP(am_worker_agent_request(wa, true, 0.1, NULL));
    am_worker_link_handoff(wl);
    STEP(am_a2a_target_request(at, false, 0.2, 300, NULL));
    STEP(am_llm_agent_invoked(la, 0.3, NULL));
    STEP(am_cache_pack_new(r, &cp));
    STEP(am_worker_cache_ref_new(wp, "research_cache", &wc));
    STEP(am_cache_result_new(cp, "get", "hit", &cr));
    STEP(am_cache_result_record(cr, 0.001));
    am_worker_cache_ref_lookup(wc, true);

    for (int f = AM_FORMAT_PROMETHEUS; f <= AM_FORMAT_JSON; f++) {
        STEP(am_registry_encode(r, (am_format)f, &text, NULL));
        am_free(text);
        text = NULL;
    }
    am_counter_clear(cf);
    STEP(am_registry_unregister(r, "depth"));
    result = AM_OK;
out:
    am_free(text);
    am_worker_agent_free(wa);
    am_worker_link_free(wl);
    am_a2a_target_free(at);
    am_llm_agent_free(la);
    am_worker_cache_ref_free(wc);
    am_cache_result_free(cr);
    am_cache_pack_free(cp);
    am_worker_pack_free(wp);
    am_a2a_pack_free(ap);
    am_llm_pack_free(lp);
    am_registry_free(r);
    return result;
}

static void test_every_allocation_fails_once(void **state)
{
    (void)state;
    long n = fault_each(scenario);
    fprintf(stderr, "fault injection: %ld allocation sites failed in turn, no leak\n", n);
    assert_true(n >= 50);
}

int main(void)
{
    am_allocator a = {t_malloc, t_realloc, t_free};
    am_set_allocator(&a);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_allocation_fails_once)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    am_shutdown();
    if (g_live != 0) {
        fprintf(stderr, "after am_shutdown: %ld allocation(s) still live\n", g_live);
        rc = 1;
    }
    am_set_allocator(NULL);
    return rc;
}
