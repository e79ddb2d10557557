/*
** test_notify_config.c: the notifier's configuration (Alertmanager's
** sections, src/alert/notify/config.c) and matchers (matchers.c): a
** pasted alertmanager.yml section loads with Alertmanager's defaults and
** route keys; a table of bad configurations, each refused with file and
** line and the reason; a table of matcher texts, good and bad; and the
** payload pieces that must equal Alertmanager's (fingerprints, PagerDuty's
** dedup_key, the default subject).
*/
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"
#include "alert/notify/dtext.h"
#include "alert/notify/notify.h"

static am_err parse(const char *text, am_notify_config **c, am_buf *errs)
{
    return am__notify_config_parse("am.yml", text, strlen(text), false, c, errs);
}

static void test_good(void **state)
{
    (void)state;
    static const char TEXT[] =
        "global:\n"
        "  resolve_timeout: 2m\n"
        "  slack_api_url: http://127.0.0.1:1/slack\n"
        "  smtp_from: am@example.test\n"
        "  smtp_smarthost: 127.0.0.1:25\n"
        "route:\n"
        "  receiver: default\n"
        "  group_by: [alertname, cluster]\n"
        "  routes:\n"
        "    - match: {severity: critical}\n"
        "      match_re: {service: '^(api|web)$'}\n"
        "      receiver: pager\n"
        "      group_wait: 10s\n"
        "      continue: true\n"
        "    - matchers: ['team=\"db\"', 'env!~\"dev|test\"']\n"
        "      receiver: mail\n"
        "      group_by: ['...']\n"
        "inhibit_rules:\n"
        "  - source_matchers: [severity=\"critical\"]\n"
        "    target_matchers: [severity=\"warning\"]\n"
        "    equal: [alertname]\n"
        "receivers:\n"
        "  - name: default\n"
        "    slack_configs:\n"
        "      - channel: '#ops'\n"
        "        title: '{{ template \"slack.default.title\" . }}'\n"
        "  - name: pager\n"
        "    pagerduty_configs:\n"
        "      - routing_key: abc\n"
        "  - name: mail\n"
        "    email_configs:\n"
        "      - to: a@example.test\n"
        "        headers: {Subject: '{{ template \"email.default.subject\" . }}'}\n"
        "alerting:\n"
        "  alertmanagers:\n"
        "    - path_prefix: /am\n"
        "      static_configs: [{targets: ['127.0.0.1:9093', '127.0.0.1:9094']}]\n";
    am_notify_config *c;
    am_buf errs;
    am_buf_init(&errs, 0);
    AM_ASSERT_OK(parse(TEXT, &c, &errs));
    assert_non_null(c);
    AM_ASSERT_EQ(c->resolve_timeout_ms, 120000);
    const am_route *r = c->root;
    AM_ASSERT_STR_EQ(r->receiver, "default");
    AM_ASSERT_STR_EQ(r->key, "{}");
    AM_ASSERT_EQ(r->group_wait_ms, 30000); /* Alertmanager's defaults */
    AM_ASSERT_EQ(r->group_interval_ms, 300000);
    AM_ASSERT_EQ(r->repeat_interval_ms, 4 * 3600000);
    AM_ASSERT_EQ(r->n_routes, 2);
    const am_route *p = r->routes[0];
    /* match and match_re, sorted by name as Alertmanager sorts them */
    AM_ASSERT_STR_EQ(p->key, "{}/{service=~\"^(api|web)$\",severity=\"critical\"}");
    AM_ASSERT_EQ(p->group_wait_ms, 10000);
    AM_ASSERT_EQ(p->group_interval_ms, 300000); /* inherited */
    AM_ASSERT_EQ(p->n_group_by, 2);             /* inherited */
    assert_true(p->is_continue);
    AM_ASSERT_STR_EQ(r->routes[1]->key, "{}/{env!~\"dev|test\",team=\"db\"}");
    assert_true(r->routes[1]->group_by_all);
    AM_ASSERT_EQ(c->n_receivers, 3);
    AM_ASSERT_STR_EQ(c->receivers[0].ints[0].url, "http://127.0.0.1:1/slack"); /* global */
    assert_null(c->receivers[0].ints[0].title);                                /* the default */
    assert_false(c->receivers[0].ints[0].send_resolved);
    AM_ASSERT_STR_EQ(c->receivers[1].ints[0].url, "https://events.pagerduty.com/v2/enqueue");
    assert_true(c->receivers[1].ints[0].send_resolved);
    AM_ASSERT_STR_EQ(c->receivers[2].ints[0].from, "am@example.test");
    assert_true(c->receivers[2].ints[0].require_tls);
    AM_ASSERT_EQ(c->receivers[2].ints[0].n_headers, 0);
    AM_ASSERT_EQ(c->n_inhibit, 1);
    AM_ASSERT_EQ(c->n_ams, 2);
    AM_ASSERT_STR_EQ(c->ams[1].base, "http://127.0.0.1:9094/am");
    am__notify_config_free(c);

    /* the collector's own keys beside the sections */
    AM_ASSERT_OK(am__notify_config_parse("c.yml", "listen: x\nscrape: [a]\n", 22, true, &c, &errs));
    assert_null(c); /* no sections: no notifier configuration */
    am_buf_free(&errs);
}

static void test_secrets(void **state)
{
    (void)state;
    char path[] = "/tmp/am-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "http://h/hook/s3cret\n", 21), 21);
    close(fd);
    setenv("AM_TEST_KEY", "from-env", 1);
    char text[512];
    snprintf(text, sizeof text,
             "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url_file: "
             "%s}]\n    pagerduty_configs: [{routing_key: '${AM_TEST_KEY}'}]\n",
             path);
    am_notify_config *c;
    AM_ASSERT_OK(parse(text, &c, NULL));
    AM_ASSERT_STR_EQ(c->receivers[0].ints[0].url, "http://h/hook/s3cret");
    AM_ASSERT_STR_EQ(c->receivers[0].ints[1].routing_key, "from-env");
    am__notify_config_free(c);
    unlink(path);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } BAD[] = {
        {"route: [\n", "am.yml:"},
        {"route: {receiver: r}\n", "am.yml:1: undefined receiver \"r\" used in route"},
        {"route: {group_by: [a]}\nreceivers: [{name: r}]\n",
         "am.yml:1: root route must specify a default receiver"},
        {"route: {receiver: r, matchers: [a=b]}\nreceivers: [{name: r}]\n",
         "am.yml:1: root route must not have any matchers"},
        {"route: {receiver: r, group_interval: 0s}\nreceivers: [{name: r}]\n",
         "group_interval cannot be zero"},
        {"route: {receiver: r, repeat_interval: x}\nreceivers: [{name: r}]\n",
         "am.yml:1: repeat_interval: not a valid duration string"},
        {"route: {receiver: r, group_by: [a, a]}\nreceivers: [{name: r}]\n",
         "duplicated label \"a\" in group_by"},
        {"route: {receiver: r, group_by: ['...', a]}\nreceivers: [{name: r}]\n",
         "cannot have wildcard group_by"},
        {"route: {receiver: r, group_by: ['1a']}\nreceivers: [{name: r}]\n",
         "invalid label name \"1a\" in group_by list"},
        {"route: {receiver: r}\nreceivers: [{name: r}, {name: r}]\n",
         "notification config name \"r\" is not unique"},
        {"route: {receiver: r}\nreceivers: [{webhook_configs: [{url: http://x}]}]\n",
         "missing name in receiver"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{}]\n",
         "am.yml:4: one of url or url_file must be configured"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    slack_configs: [{channel: x}]\n",
         "am.yml:4: no global Slack API URL set"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    pagerduty_configs: [{}]\n",
         "missing service or routing key in PagerDuty config"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    email_configs: [{from: a@b}]\n",
         "missing to address in email config"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    email_configs: [{to: a@b}]\n",
         "no global SMTP from set"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    slack_configs: [{api_url: x, title: "
         "'{{ .Status }}'}]\n",
         "am.yml:4: title: custom notification templates are not supported"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url: x, "
         "frob: 1}]\n",
         "am.yml:4: field frob not found in webhook_config"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url: x, "
         "send_resolved: maybe}]\n",
         "send_resolved: cannot unmarshal"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url: x, url_file: "
         "y}]\n",
         "at most one of url and url_file"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url_file: "
         "/nonexistent/x}]\n",
         "cannot read /nonexistent/x"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs: [{url: "
         "'${AM_TEST_UNSET_VARIABLE}'}]\n",
         "the environment variable AM_TEST_UNSET_VARIABLE is not set"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    opsgenie_configs: [{}]\n",
         "opsgenie_configs is not supported by agentmon"},
        {"route: {receiver: r}\nreceivers:\n  - name: r\n    pagerduty_configs: [{service_key: "
         "k}]\n",
         "service_key (PagerDuty Events API v1) is not supported"},
        {"route:\n  receiver: r\n  routes:\n    - matchers: ['a=~\"(\"']\nreceivers: [{name: r}]\n",
         "am.yml:4: matchers: invalid regular expression"},
        {"route:\n  receiver: r\n  routes:\n    - matchers: ['=b']\nreceivers: [{name: r}]\n",
         "am.yml:4: matchers: bad matcher format"},
        {"route:\n  receiver: r\n  routes:\n    - match_re: {a: '(?=x)'}\nreceivers: [{name: r}]\n",
         "am.yml:4: match_re: invalid regular expression"},
        {"route:\n  receiver: r\n  routes:\n    - receiver: nobody\nreceivers: [{name: r}]\n",
         "am.yml:4: undefined receiver \"nobody\""},
        {"route:\n  receiver: r\n  mute_time_intervals: [night]\nreceivers: [{name: r}]\n",
         "am.yml:3: route: mute_time_intervals is not supported"},
        {"route: {receiver: r}\nreceivers: [{name: r}]\ntemplates: ['/etc/am/*.tmpl']\n",
         "am.yml:3: templates: notification template files are not supported"},
        {"route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules:\n  - equal: ['1x']\n",
         "am.yml:4: invalid label name in equal"},
        {"route: {receiver: r}\nreceivers: [{name: r}]\nalerting: {alertmanagers: [{}]}\n",
         "an alertmanager needs static_configs with targets"},
        {"route: {receiver: r}\nreceivers: [{name: r}]\nalerting:\n  alertmanagers:\n    - "
         "api_version: v1\n      static_configs: [{targets: ['h:1']}]\n",
         "agentmon speaks Alertmanager's API v2 only"},
        {"route: {receiver: r}\nreceivers: [{name: r}]\nlisten: 1\n",
         "am.yml:3: field listen not found"},
        {"receivers: [{name: r}]\n", "no routes provided"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        am_notify_config *c = (am_notify_config *)1;
        am_buf errs;
        am_buf_init(&errs, 0);
        am_err rc = parse(BAD[i].text, &c, &errs);
        if (rc != AM_EINVAL)
            fail_msg("#%zu %s: accepted", i, BAD[i].text);
        assert_null(c);
        if (!errs.p || !strstr(errs.p, BAD[i].want))
            fail_msg("#%zu: wanted \"%s\" in:\n%s", i, BAD[i].want, errs.p ? errs.p : "");
        am_buf_free(&errs);
    }
}

static void test_matchers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t n;
    } GOOD[] = {
        {"a=b", 1},
        {"a = \"b c\"", 1},
        {"{a=\"1\",b!=\"2\", c=~\"x.*\" , d!~y}", 4},
        {"alertname=\"Watchdog\"", 1},
        {"a=\"quoted \\\"q\\\" and \\\\\"", 1},
        {"a=", 1},
        {"{}", 0},
        {"", 0},
        {"a=b}", 1},
    };
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        am_amatcher *m = NULL;
        size_t n = 0;
        char err[200];
        if (am__amatchers_parse(GOOD[i].text, &m, &n, err, sizeof err))
            fail_msg("%s: %s", GOOD[i].text, err);
        AM_ASSERT_EQ(n, GOOD[i].n);
        am__amatchers_free(m, n);
    }
    static const char *const BAD[] = {"a",        "=b",   "a=\"b",      "a=~\"(\"", "1a=b",
                                      "a=b,,c=d", "a=b,", "a=~\"\\1\"", "a=\"\\q\""};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        am_amatcher *m = NULL;
        size_t n = 0;
        char err[200];
        if (!am__amatchers_parse(BAD[i], &m, &n, err, sizeof err))
            fail_msg("%s: accepted", BAD[i]);
        am__amatchers_free(m, n);
    }
    /* matching: a missing label is "", regexes anchored */
    am_amatcher *m = NULL;
    size_t n = 0;
    char err[200];
    AM_ASSERT_OK(am__amatchers_parse("a=~\"b|c\", d!=\"\"", &m, &n, err, sizeof err));
    am_label l1[] = {{"a", "c"}, {"d", "x"}}, l2[] = {{"a", "bc"}, {"d", "x"}}, l3[] = {{"a", "b"}};
    am_lset *s1 = am__labels_new(NULL, l1, 2), *s2 = am__labels_new(NULL, l2, 2),
            *s3 = am__labels_new(NULL, l3, 1);
    assert_true(am__amatchers_ok(m, n, s1));
    assert_false(am__amatchers_ok(m, n, s2));
    assert_false(am__amatchers_ok(m, n, s3));
    am__labels_free(s1);
    am__labels_free(s2);
    am__labels_free(s3);
    am__amatchers_free(m, n);
}

void am__pagerduty_dedup_key(const char *group_key, char out[65]);

static void test_alertmanager_identities(void **state)
{
    (void)state;
    /* Alertmanager 0.25's fingerprint of {alertname="T",severity="page"}
       (the webhook of notify.sh compares ours with its own), and of {} */
    am_label l[] = {{"alertname", "T"}, {"severity", "page"}};
    char fp[17];
    am_alert_fingerprint_hex(l, 2, fp);
    AM_ASSERT_EQ(strlen(fp), 16);
    am_alert_fingerprint_hex(NULL, 0, fp);
    AM_ASSERT_STR_EQ(fp, "cbf29ce484222325");
    /* PagerDuty's dedup_key: SHA-256 of the group key, hex */
    char key[65];
    am__pagerduty_dedup_key("", key);
    AM_ASSERT_STR_EQ(key, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* the default subject: Alertmanager's text, trailing space included */
    am_label gl[] = {{"alertname", "HighLoad"}};
    am_label a1[] = {{"alertname", "HighLoad"}, {"job", "api"}};
    am_nalert x = {
        am__labels_new(NULL, a1, 2), am__labels_raw(NULL, NULL, 0), 1, 0, 0, "", 0, false};
    am_nalert *list[] = {&x};
    am_lset *g = am__labels_new(NULL, gl, 1);
    am_notification nt = {"r", "{}:{alertname=\"HighLoad\"}", g, list, 1, 1, "http://am", 5};
    am_buf b;
    am_buf_init(&b, 0);
    am__subject(&b, &nt);
    AM_ASSERT_STR_EQ(b.p, "[FIRING:1] HighLoad (api)");
    am_buf_free(&b);
    am_buf_init(&b, 0);
    nt.group_labels = x.labels; /* group labels = common labels: no parentheses */
    am__subject(&b, &nt);
    AM_ASSERT_STR_EQ(b.p, "[FIRING:1] HighLoad api ");
    am_buf_free(&b);
    am__labels_free(g);
    am__labels_free(x.labels);
    am__labels_free(x.annotations);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_matchers),
        cmocka_unit_test(test_alertmanager_identities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
