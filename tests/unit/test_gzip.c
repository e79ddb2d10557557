/*
** test_gzip.c: what am__gzip writes, zlib (in gzip mode) reads back.
*/
#include <zlib.h>

#include "testutil.h"
#include "util/alloc.h"
#include "util/gzip.h"

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

/* Request bodies: our own gzip back, several members, and bad streams. */
static void test_gunzip(void **state)
{
    (void)state;
    char text[5000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 7);
    char *z, *z2, *out;
    size_t zlen, z2len, n;
    AM_ASSERT_OK(am__gzip(text, sizeof text, 6, &z, &zlen));
    AM_ASSERT_OK(am__gunzip(z, zlen, 1 << 20, &out, &n));
    AM_ASSERT_EQ(n, sizeof text);
    assert_memory_equal(out, text, n);
    AM_ASSERT_EQ(out[n], '\0');
    am__free(out);
    /* two members, as `cat a.gz b.gz` makes */
    AM_ASSERT_OK(am__gzip("tail", 4, 1, &z2, &z2len));
    char *both = malloc(zlen + z2len);
    memcpy(both, z, zlen);
    memcpy(both + zlen, z2, z2len);
    AM_ASSERT_OK(am__gunzip(both, zlen + z2len, 1 << 20, &out, &n));
    AM_ASSERT_EQ(n, sizeof text + 4);
    assert_memory_equal(out + sizeof text, "tail", 4);
    am__free(out);
    /* a bomb stops at the cap */
    AM_ASSERT_ERR(am__gunzip(z, zlen, 4999, &out, &n), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "more than 4999 bytes");
    /* a lying trailer size only changes the first guess */
    memset(z + zlen - 4, 0, 4);
    AM_ASSERT_ERR(am__gunzip(z, zlen, 1 << 20, &out, &n), AM_EINVAL); /* ISIZE is checked */
    static const struct {
        const char *in;
        size_t len;
    } bad[] = {{"", 0},
               {"plain text, not gzip at all", 27},
               {"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x01\x02\x03\x04\x05\x06\x07\x08", 18}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        AM_ASSERT_ERR(am__gunzip(bad[i].in, bad[i].len, 1 << 20, &out, &n), AM_EINVAL);
    /* a flipped byte in the data: the CRC fails */
    am__free(z);
    AM_ASSERT_OK(am__gzip(text, sizeof text, 6, &z, &zlen));
    z[zlen - 6] ^= 0x55;
    AM_ASSERT_ERR(am__gunzip(z, zlen, 1 << 20, &out, &n), AM_EINVAL);
    am__free(z);
    am__free(z2);
    free(both);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_roundtrip),
                                       cmocka_unit_test(test_gunzip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
