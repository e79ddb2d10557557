/*
** test_gzip.c: what am__gzip writes, zlib (in gzip mode) reads back.
*/
#include <zlib.h>

#include "testutil.h"
#include "core/alloc.h"
#include "http/gzip.h"

static void test_roundtrip(void **state)
{
    (void)state;
    size_t n = 200000;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = "abc# HELP x\n"[i % 12];
    char *z;
    size_t zlen;
    AM_ASSERT_OK(am__gzip(in, n, 1, &z, &zlen));
    assert_true(zlen < n / 10);
    AM_ASSERT_EQ((unsigned char)z[0], 0x1f); /* gzip magic */
    AM_ASSERT_EQ((unsigned char)z[1], 0x8b);
    char *out = malloc(n);
    z_stream s = {0};
    AM_ASSERT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
    s.next_in = (Bytef *)z;
    s.avail_in = (uInt)zlen;
    s.next_out = (Bytef *)out;
    s.avail_out = (uInt)n;
    AM_ASSERT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
    AM_ASSERT_EQ(s.total_out, n);
    inflateEnd(&s);
    assert_memory_equal(in, out, n);
    am__free(z);
    AM_ASSERT_OK(am__gzip("", 0, 9, &z, &zlen));
    assert_true(zlen > 0);
    am__free(z);
    free(in);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_roundtrip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
