/*
** test_rw_config.c: the remote_write: section as Prometheus writes it
** (src/serve/export/rw_config.c) -- a section pasted from a prometheus.yml
** with every key we take, a table of bad sections each refused with the
** line and the problem, and write_relabel_configs applied as Prometheus'
** relabel.Process applies them.
*/
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"
#include "serve/export/rw_config.h"

static am_err parse(const char *text, am_rw_config **c, am_buf *errs)
{
    errs->len = 0;
    return am__rw_config_parse("/tmp/p.yml", text, strlen(text), c, errs);
}

static void test_good(void **state)
{
    (void)state;
    char dir[] = "/tmp/am_rwcfg_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char pw[256], file[256];
    snprintf(pw, sizeof pw, "%s/pw", dir);
    snprintf(file, sizeof file, "%s/prometheus.yml", dir);
    FILE *f = fopen(pw, "w");
    fputs("hunter2\n", f);
    fclose(f);
    const char *text =
        "global:\n  scrape_interval: 15s\n"
        "remote_write:\n"
        "  - url: https://vm.example:8428/api/v1/write\n"
        "    name: vm\n"
        "    remote_timeout: 10s\n"
        "    basic_auth:\n      username: prom\n      password_file: pw\n"
        "    tls_config:\n      ca_file: /etc/ca.pem\n      insecure_skip_verify: true\n"
        "    write_relabel_configs:\n"
        "      - source_labels: [__name__, job]\n        separator: ':'\n"
        "        regex: 'up:(.*)'\n        target_label: up_job\n"
        "        replacement: '${1}'\n"
        "      - {action: drop, source_labels: [__name__], regex: 'go_.*'}\n"
        "      - action: labeldrop\n        regex: tmp_.*\n"
        "    queue_config:\n      capacity: 10000\n      max_shards: 50\n"
        "      min_shards: 2\n      max_samples_per_send: 2000\n"
        "      batch_send_deadline: 5s\n      min_backoff: 30ms\n"
        "      max_backoff: 5s\n      retry_on_http_429: false\n"
        "    metadata_config: {send: true, send_interval: 1m}\n"
        "  - url: http://127.0.0.1:9090/api/v1/write\n"
        "    authorization: {credentials: tok}\n";
    am_buf errs;
    am_buf_init(&errs, 0);
    am_rw_config *c = NULL;
    am_err rc = am__rw_config_parse(file, text, strlen(text), &c, &errs);
    if (rc)
        fail_msg("%s", errs.len ? errs.p : am_errmsg());
    AM_ASSERT_EQ(c->n, 2);
    const am_remote_write_opts *o = &c->eps[0].o;
    AM_ASSERT_STR_EQ(o->url, "https://vm.example:8428/api/v1/write");
    AM_ASSERT_STR_EQ(o->name, "vm");
    AM_ASSERT_DBL_EQ(o->remote_timeout_s, 10);
    AM_ASSERT_STR_EQ(o->basic_user, "prom");
    AM_ASSERT_STR_EQ(o->basic_password, "hunter2");
    AM_ASSERT_STR_EQ(o->ca_file, "/etc/ca.pem");
    AM_ASSERT_EQ(o->insecure_skip_verify, 1);
    AM_ASSERT_EQ(o->capacity, 10000);
    AM_ASSERT_EQ(o->max_shards, 50);
    AM_ASSERT_EQ(o->min_shards, 2);
    AM_ASSERT_EQ(o->max_samples_per_send, 2000);
    AM_ASSERT_DBL_EQ(o->batch_send_deadline_s, 5);
    AM_ASSERT_DBL_EQ(o->min_backoff_s, 0.03);
    AM_ASSERT_DBL_EQ(o->max_backoff_s, 5);
    AM_ASSERT_EQ(o->retry_on_http_429, -1);
    AM_ASSERT_EQ(c->eps[0].n_rules, 3);
    AM_ASSERT_STR_EQ(c->eps[1].o.auth_credentials, "tok");
    assert_null(c->eps[1].o.basic_user);

    /* relabeling, as relabel.Process */
    am_label_pair p[8] = {{"__name__", "up"}, {"job", "api"}, {"tmp_x", "1"}};
    size_t n = 3;
    char scratch[256];
    assert_true(am__relabel_apply(&c->eps[0], p, &n, 8, scratch, sizeof scratch));
    AM_ASSERT_EQ(n, 3); /* tmp_x dropped, up_job added */
    bool has_up_job = false, has_tmp = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].name, "up_job") == 0) {
            AM_ASSERT_STR_EQ(p[i].value, "api");
            has_up_job = true;
        }
        has_tmp = has_tmp || strcmp(p[i].name, "tmp_x") == 0;
    }
    assert_true(has_up_job);
    assert_false(has_tmp);
    am_label_pair g[4] = {{"__name__", "go_goroutines"}};
    n = 1;
    assert_false(am__relabel_apply(&c->eps[0], g, &n, 4, scratch, sizeof scratch));
    am_label_pair h[4] = {{"__name__", "http_requests_total"}, {"job", "api"}};
    n = 2;
    assert_true(am__relabel_apply(&c->eps[0], h, &n, 4, scratch, sizeof scratch));
    AM_ASSERT_EQ(n, 2); /* regex did not match: no up_job */
    am__rw_config_free(c);

    /* keep, and replace with an empty result deleting the label */
    const char *t2 = "remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n"
                     "      - {source_labels: [env], regex: prod, action: keep}\n"
                     "      - {source_labels: [x], target_label: env, regex: '(.*)', "
                     "replacement: '$1'}\n";
    AM_ASSERT_OK(parse(t2, &c, &errs));
    am_label_pair k[4] = {{"__name__", "m"}, {"env", "prod"}};
    n = 2;
    assert_true(am__relabel_apply(&c->eps[0], k, &n, 4, scratch, sizeof scratch));
    AM_ASSERT_EQ(n, 1); /* env replaced by "" (x is absent): removed */
    am_label_pair k2[4] = {{"__name__", "m"}, {"env", "dev"}};
    n = 2;
    assert_false(am__relabel_apply(&c->eps[0], k2, &n, 4, scratch, sizeof scratch));
    am__rw_config_free(c);

    /* no section, or an empty one: nothing */
    AM_ASSERT_OK(parse("listen: a\n", &c, &errs));
    assert_null(c);
    AM_ASSERT_OK(parse("remote_write: []\n", &c, &errs));
    assert_null(c);
    AM_ASSERT_OK(parse("", &c, &errs));
    assert_null(c);
    am_buf_free(&errs);
    unlink(pw);
    rmdir(dir);
}

static void test_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"remote_write: http://a\n", "p.yml:1: remote_write must be a list"},
        {"remote_write: {url: http://a}\n", "must be a list"},
        {"remote_write:\n  - name: x\n", "p.yml:2: url for remote_write is empty"},
        {"remote_write:\n  - url: ftp://a/w\n", "scheme must be http or https"},
        {"remote_write:\n  - url: http://a/w\n    colour: red\n",
         "p.yml:3: field colour not found in type config.RemoteWriteConfig"},
        {"remote_write:\n  - url: http://a/w\n    oauth2: {client_id: x}\n",
         "oauth2 is not supported by agentmon"},
        {"remote_write:\n  - url: http://a/w\n    sigv4: {region: x}\n", "sigv4 is not supported"},
        {"remote_write:\n  - url: http://a/w\n    headers: {X-A: b}\n", "headers is not supported"},
        {"remote_write:\n  - url: http://a/w\n    remote_timeout: soon\n",
         "not a valid duration string"},
        {"remote_write:\n  - url: http://a/w\n    queue_config: {capacity: -1}\n",
         "capacity: \"-1\" is not an integer"},
        {"remote_write:\n  - url: http://a/w\n    queue_config: {max_shards: 1.5}\n",
         "not an integer"},
        {"remote_write:\n  - url: http://a/w\n    queue_config: {min_shards: 5, max_shards: 2}\n",
         "min_shards (5) is over max_shards (2)"},
        {"remote_write:\n  - url: http://a/w\n    queue_config: {shards: 2}\n",
         "field shards not found in type config.QueueConfig"},
        {"remote_write:\n  - url: http://a/w\n    queue_config: {retry_on_http_429: yes}\n",
         "cannot unmarshal \"yes\" into bool"},
        {"remote_write:\n  - url: http://a/w\n    queue_config: [1]\n",
         "queue_config must be a mapping"},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs: {action: keep}\n",
         "write_relabel_configs must be a list"},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n      - action: "
         "hashmod\n",
         "relabel action hashmod is not supported"},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n      - action: "
         "explode\n",
         "unknown relabel action \"explode\""},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n      - regex: a\n",
         "requires 'target_label' value"},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n"
         "      - {action: keep, regex: 'a(?=b)'}\n",
         "is not a valid regex"},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n"
         "      - {action: keep, source_labels: [0bad]}\n",
         "\"0bad\" is not a valid label name"},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n"
         "      - {action: labeldrop, regex: a, target_label: b}\n",
         "labeldrop action requires only 'regex'"},
        {"remote_write:\n  - url: http://a/w\n    write_relabel_configs:\n"
         "      - {action: keep, modulus: 3}\n",
         "modulus is only for hashmod"},
        {"remote_write:\n  - url: http://a/w\n  - url: http://a/w\n",
         "p.yml:3: found multiple remote write configs with the name a"},
        {"remote_write:\n  - url: http://a/w\n    basic_auth: {username: u, password_file: "
         "/nonexistent/pw}\n",
         "cannot read /nonexistent/pw"},
        {"remote_write:\n  - url: http://a/w\n    basic_auth: {username: u}\n    bearer_token: t\n",
         "at most one of basic_auth, authorization and bearer_token"},
        {"remote_write:\n  - url: http://a/w\n    proxy_url: http://p:3128\n",
         "proxy_url is not supported"},
        {"remote_write:\n  - 7\n", "a remote_write entry must be a mapping"},
        {"remote_write:\n  - url: [http://a/w]\n", "url must be a scalar"},
        {"remote_write: [\n", "/tmp/p.yml:"},
    };
    am_buf errs;
    am_buf_init(&errs, 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_rw_config *c = (am_rw_config *)1;
        am_err rc = parse(bad[i].text, &c, &errs);
        if (rc != AM_EINVAL)
            fail_msg("case %zu gave %s", i, am_err_name(rc));
        am_buf_putc(&errs, '\0');
        if (!strstr(errs.p, bad[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errs.p, bad[i].msg);
        assert_null(c);
    }
    am_rw_config *c;
    AM_ASSERT_ERR(am__rw_config_load("/nonexistent/p.yml", &c, &errs), AM_EIO);
    am_buf_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
