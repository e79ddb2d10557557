/*
** bench_fmt.c: writing doubles as the exposition and the log lines do.
**
** WHAT IT MEASURES, AND WHY
**   fmt_double_17digits_ns         am__fmt_double of latencies such as the
**                                  demo's (durations of 16-17 significant
**                                  digits: the shortest form needs them all),
**                                  printf-free since issue 14 (fmt.c's
**                                  digits_exact)
**   fmt_double_17digits_printf_ns  the same values' digits the snprintf +
**                                  strtod way (am__fmt_digits_printf), which
**                                  wrote them before and is still the
**                                  reference: the two side by side in one run
** The encode figures write integer counts and bucket bounds, whose digits
** never took printf, so they do not show this; a histogram's _sum and a
** log line's duration do.
*/
#include <stdint.h>

#include "bench.h"
#include "util/fmt.h"

enum { N_VALUES = 256 };

/* Durations of about 50 us to 50 ms as the demo measures them, the
   difference of two monotonic clock readings in seconds: a few thousand
   seconds since boot leave the difference 16-17 significant digits. */
static double g_values[N_VALUES];

static void fill_values(void)
{
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N_VALUES; i++) {
        double t0 = 2400 + (double)(bench_rand(&x) % 1000000000) / 1e9;
        double t1 = t0 + (double)(50000 + bench_rand(&x) % 50000000) / 1e9;
        g_values[i] = t1 - t0;
    }
}

static void loop_fmt(void *arg, uint64_t n)
{
    char out[AM_FMT_MAX];
    size_t *sink = arg;
    for (uint64_t i = 0; i < n; i++)
        *sink += am__fmt_double(out, g_values[i % N_VALUES]);
}

static void loop_printf(void *arg, uint64_t n)
{
    char d[AM_FMT_MAX];
    int dp;
    size_t *sink = arg;
    for (uint64_t i = 0; i < n; i++)
        *sink += am__fmt_digits_printf(g_values[i % N_VALUES], d, &dp);
}

void bench_group_fmt_double(void)
{
    fill_values();
    size_t sink = 0;
    bench_fig f = {0};
    f.unit = "ns/op";
    f.name = "fmt_double_17digits_ns";
    f.value = bench_best_ns_per_op(loop_fmt, &sink);
    f.note = "am__fmt_double of a 16-17 digit duration (the demo's log lines, a histogram's "
             "_sum): printf-free (fmt.c digits_exact, issue 14)";
    bench_emit(&f);
    f.name = "fmt_double_17digits_printf_ns";
    f.value = bench_best_ns_per_op(loop_printf, &sink);
    f.note = "the same values' digits by snprintf + strtod (am__fmt_digits_printf), the way "
             "before issue 14 and the tests' reference";
    bench_emit(&f);
    if (!sink)
        bench_emit_error("fmt_double_17digits_ns", "nothing was written");
}
