/*
** test_rw_record.c: the remote_write sender's parts that need no receiver
** (src/rw/record.c, encode.c, sender.c's option checks): a record written
** and read back, a table of samples refused at append, a table of torn or
** foreign bytes refused at read, and a request body that libprotobuf-c and
** snappy decode back to the samples.
*/
#include <snappy-c.h>

#include "testutil.h"
#include "rw/proto/remote.pb-c.h"
#include "rw/rw.h"

static void test_roundtrip(void **state)
{
    (void)state;
    am_buf b;
    am_buf_init(&b, 0);
    am__pair p[] = {{"zone", "eu"}, {"__name__", "tasks_total"}, {"agent", "planner"}};
    AM_ASSERT_OK(am__rw_record_put(&b, p, 3, 1700000000123, 42.5));
    am__pair q[] = {{"__name__", "up"}};
    AM_ASSERT_OK(am__rw_record_put(&b, q, 1, -5, -0.0));
    size_t off = 0;
    am__rw_rec r;
    AM_ASSERT_EQ(am__rw_record_next(b.p, b.len, &off, &r), 1);
    AM_ASSERT_EQ(r.t_ms, 1700000000123);
    AM_ASSERT_DBL_EQ(r.v, 42.5);
    AM_ASSERT_EQ(r.n, 3);
    AM_ASSERT_STR_EQ(r.l[0].name, "__name__"); /* sorted by name */
    AM_ASSERT_STR_EQ(r.l[0].value, "tasks_total");
    AM_ASSERT_STR_EQ(r.l[1].name, "agent");
    AM_ASSERT_STR_EQ(r.l[2].value, "eu");
    AM_ASSERT_EQ(am__rw_record_next(b.p, b.len, &off, &r), 1);
    AM_ASSERT_EQ(r.t_ms, -5);
    AM_ASSERT_EQ(am__rw_record_next(b.p, b.len, &off, &r), 0);
    AM_ASSERT_EQ(off, b.len);

    /* the body decodes back: snappy, then WriteRequest */
    am_buf body;
    am_buf_init(&body, 0);
    off = 0;
    am__rw_rec r1, r2;
    am__rw_record_next(b.p, b.len, &off, &r1);
    am__rw_record_next(b.p, b.len, &off, &r2);
    const am__rw_rec *rs[] = {&r1, &r2};
    size_t raw = 0;
    AM_ASSERT_OK(am__rw_encode(rs, 2, &body, &raw));
    size_t ulen = 0;
    AM_ASSERT_EQ(snappy_uncompressed_length(body.p, body.len, &ulen), SNAPPY_OK);
    AM_ASSERT_EQ(ulen, raw);
    char *u = malloc(ulen);
    AM_ASSERT_EQ(snappy_uncompress(body.p, body.len, u, &ulen), SNAPPY_OK);
    Prometheus__WriteRequest *wr =
        prometheus__write_request__unpack(NULL, ulen, (const uint8_t *)u);
    assert_non_null(wr);
    AM_ASSERT_EQ(wr->n_timeseries, 2);
    AM_ASSERT_EQ(wr->timeseries[0]->n_labels, 3);
    AM_ASSERT_STR_EQ(wr->timeseries[0]->labels[0]->name, "__name__");
    AM_ASSERT_STR_EQ(wr->timeseries[0]->labels[1]->value, "planner");
    AM_ASSERT_EQ(wr->timeseries[0]->n_samples, 1);
    AM_ASSERT_DBL_EQ(wr->timeseries[0]->samples[0]->value, 42.5);
    AM_ASSERT_EQ(wr->timeseries[0]->samples[0]->timestamp, 1700000000123);
    AM_ASSERT_STR_EQ(wr->timeseries[1]->labels[0]->value, "up");
    prometheus__write_request__free_unpacked(wr, NULL);
    free(u);
    AM_ASSERT_OK(am__rw_encode(rs, 0, &body, &raw)); /* an empty request */
    am_buf_free(&body);
    am_buf_free(&b);
}

static void test_bad_samples(void **state)
{
    (void)state;
    char big[AM_MAX_LABEL_VALUE + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    static am__pair many[AM_RW_MAX_PAIRS + 1];
    for (size_t i = 0; i < AM_RW_MAX_PAIRS + 1; i++)
        many[i] = (am__pair){"__name__", "m"};
    struct {
        am__pair p[3];
        size_t n;
        const char *msg;
    } bad[] = {
        {{{"job", "a"}}, 1, "without __name__"},
        {{{"__name__", ""}}, 1, "not a metric name"},
        {{{"__name__", "1abc"}}, 1, "not a metric name"},
        {{{"__name__", "a-b"}}, 1, "not a metric name"},
        {{{"__name__", "m"}, {"bad-name", "v"}}, 2, "not a label name"},
        {{{"__name__", "m"}, {"", "v"}}, 2, "not a label name"},
        {{{"__name__", "m"}, {"a", "1"}, {"a", "2"}}, 3, "given twice"},
        {{{"__name__", "m"}, {"a", "\xff\xfe"}}, 2, "not UTF-8"},
        {{{"__name__", "m"}, {"a", big}}, 2, "over 4096 bytes"},
        {{{"__name__", "m"}, {"a", NULL}}, 2, "NULL"},
        {{{0}}, 0, "0 labels"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        am_buf b;
        am_buf_init(&b, 0);
        am_err rc = am__rw_record_put(&b, bad[i].p, bad[i].n, 0, 1);
        if (rc != AM_EINVAL)
            fail_msg("case %zu gave %s", i, am_err_name(rc));
        if (!strstr(am_errmsg(), bad[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, am_errmsg(), bad[i].msg);
        AM_ASSERT_EQ(b.len, 0);
        am_buf_free(&b);
    }
    am_buf b;
    am_buf_init(&b, 0);
    AM_ASSERT_ERR(am__rw_record_put(&b, many, AM_RW_MAX_PAIRS + 1, 0, 1), AM_EINVAL);
    am_buf_free(&b);
}

static void test_bad_bytes(void **state)
{
    (void)state;
    am_buf b;
    am_buf_init(&b, 0);
    am__pair p[] = {{"__name__", "m"}, {"a", "b"}};
    AM_ASSERT_OK(am__rw_record_put(&b, p, 2, 1, 2));
    size_t good = b.len;
    /* every truncation is refused, never read past */
    for (size_t cut = 1; cut < good; cut++) {
        size_t off = 0;
        am__rw_rec r;
        AM_ASSERT_EQ(am__rw_record_next(b.p, cut, &off, &r), -1);
        AM_ASSERT_EQ(off, 0);
    }
    struct {
        size_t at;
        char byte;
    } flips[] = {
        {0, 0x7f},         /* length past the end */
        {0, 3},            /* length shorter than its fields */
        {20, 0},           /* no labels */
        {20, 40},          /* more labels than allowed */
        {21, 9},           /* a name length past its label */
        {21 + 2 + 8, 'x'}, /* "__name__" without its NUL */
    };
    for (size_t i = 0; i < sizeof flips / sizeof *flips; i++) {
        char copy[256];
        memcpy(copy, b.p, good);
        copy[flips[i].at] = flips[i].byte;
        size_t off = 0;
        am__rw_rec r;
        if (am__rw_record_next(copy, good, &off, &r) != -1)
            fail_msg("flip %zu was read as a record", i);
    }
    am_buf_free(&b);
}

static void test_opts(void **state)
{
    (void)state;
    am_remote_write *rw;
    am_remote_write_opts o = AM_REMOTE_WRITE_OPTS_INIT;
    AM_ASSERT_ERR(am_remote_write_new(&o, &rw), AM_EINVAL);
    o.url = "ftp://a/w";
    AM_ASSERT_ERR(am_remote_write_new(&o, &rw), AM_EINVAL);
    o.url = "http://127.0.0.1:1/w";
    o.basic_user = "u";
    o.auth_credentials = "t";
    AM_ASSERT_ERR(am_remote_write_new(&o, &rw), AM_EINVAL);
    o.auth_credentials = NULL;
    o.min_shards = 3;
    o.max_shards = 2;
    AM_ASSERT_ERR(am_remote_write_new(&o, &rw), AM_EINVAL);
    o.min_shards = 0;
    o.max_shards = 0;
    o.batch_send_deadline_s = -1;
    AM_ASSERT_ERR(am_remote_write_new(&o, &rw), AM_EINVAL);
    o.batch_send_deadline_s = 0;
    o.wal_dir = "/proc/nonexistent/wal";
    AM_ASSERT_ERR(am_remote_write_new(&o, &rw), AM_EIO);
    o.wal_dir = NULL;
    /* a sender to nowhere: appends are checked, the rest stays pending */
    AM_ASSERT_OK(am_remote_write_new(&o, &rw));
    const char *n1[] = {"__name__", "a"}, *v1[] = {"m", "1"};
    AM_ASSERT_OK(am_remote_write_append(rw, n1, v1, 2, 1000, 1));
    const char *n2[] = {"a"}, *v2[] = {"1"};
    AM_ASSERT_ERR(am_remote_write_append(rw, n2, v2, 1, 1000, 1), AM_EINVAL);
    AM_ASSERT_EQ(am_remote_write_pending(rw), 1);
    AM_ASSERT_ERR(am_remote_write_flush(rw, 0.05), AM_ETIMEDOUT);
    am_remote_write_free(rw, 0);
    am_remote_write_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_bad_samples),
        cmocka_unit_test(test_bad_bytes), cmocka_unit_test(test_opts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
