/*
** report.c: the output of am-bench -- one JSON object per figure, per line.
**
**   {"bench":"counter_inc","unit":"ns/op","value":1.93,"target":3,"ok":true,
**    "peer":"python prometheus_client 0.16.0","peer_value":390.1,"ratio":202.1,
**    "ratio_target":100,"ratio_ok":true,"reference":{"prometheus-cpp":5.9}}
**
** bench, unit and value are always there. target/ok when the issue set a
** target (ok: value <= target, or >= for a figure whose target is a
** minimum). peer/peer_value/ratio (peer divided by ours: how many times we
** are faster or smaller) when the peer measured the same figure in this
** run; ratio_target/ratio_ok for the speed figures the issue wants N times
** faster than Python (100 unless the figure says otherwise).
** "peer":"unavailable" (with peer_error) when the peer could not run.
** reference: numbers quoted in the issue for clients that do
** not run here -- context only, never compared. note: how to read it.
**
** Lines are flushed one by one so a slow group shows its figures as they
** come.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static void put_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* Numbers: integers of bytes as integers, ratios with three decimals,
   everything else with two; NaN and infinities (not JSON) as null. */
static void put_number(double v, const char *unit)
{
    if (!isfinite(v))
        fputs("null", stdout);
    else if (strcmp(unit, "bytes") == 0)
        printf("%.0f", v);
    else if (strcmp(unit, "x") == 0)
        printf("%.3f", v);
    else
        printf("%.2f", v);
}

static void put_field(const char *key)
{
    printf(",\"%s\":", key);
}

static void put_peer(const bench_fig *f, double ours)
{
    const char *why = bench_peer_unavailable();
    if (why) {
        put_field("peer");
        put_string("unavailable");
        put_field("peer_error");
        put_string(why);
        return;
    }
    double pv;
    if (!bench_peer_label() || !bench_peer_value(f->name, &pv))
        return; /* --no-peer, or the peer has no such figure */
    put_field("peer");
    put_string(bench_peer_label());
    put_field("peer_value");
    put_number(pv, f->unit);
    double ratio = ours > 0 ? pv / ours : NAN;
    put_field("ratio");
    put_number(ratio, "ns/op");
    if (f->has_ratio_target) {
        double target = f->ratio_target > 0 ? f->ratio_target : 100.0;
        put_field("ratio_target");
        printf("%g", target);
        put_field("ratio_ok");
        fputs(isfinite(ratio) && ratio >= target ? "true" : "false", stdout);
    }
}

void bench_emit(const bench_fig *f)
{
    fputs("{\"bench\":", stdout);
    put_string(f->name);
    put_field("unit");
    put_string(f->unit);
    put_field("value");
    put_number(f->value, f->unit);
    if (f->has_target) {
        bool ok = f->is_target_min ? f->value >= f->target : f->value <= f->target;
        put_field("target");
        printf("%g", f->target);
        put_field("ok");
        fputs(isfinite(f->value) && ok ? "true" : "false", stdout);
    }
    if (f->is_peer_compared)
        put_peer(f, f->value);
    if (f->reference) {
        put_field("reference");
        fputs(f->reference, stdout); /* a JSON object literal from our code */
    }
    if (f->note) {
        put_field("note");
        put_string(f->note);
    }
    fputs("}\n", stdout);
    fflush(stdout);
}

void bench_emit_error(const char *name, const char *what)
{
    fputs("{\"bench\":", stdout);
    put_string(name);
    put_field("error");
    put_string(what);
    fputs("}\n", stdout);
    fflush(stdout);
}
