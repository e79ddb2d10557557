/*
** fmt.c: shortest round-trip formatting of doubles (see fmt.h).
**
** Integers below 2^53 -- nearly every counter and bucket count -- are
** written from their digits directly: no libc call. Other values try the
** correctly rounded 15-significant-digit form first; when that reads back
** exactly it is, trimmed, the shortest form (a shorter exact form would
** round to it), else 16 digits, else 17, which always round-trips.
** Subnormals, with fewer significant bits, search up from one digit.
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"

/* Digits of v (> 0) without trailing zeros into d; returns count, *dp the
   decimal point position (v = 0.d * 10^dp). */
static size_t digits(double v, char *d, int *dp)
{
    if (v < 9007199254740992.0 && v == floor(v)) {
        char tmp[24];
        size_t n = 0;
        for (uint64_t u = (uint64_t)v; u; u /= 10)
            tmp[n++] = (char)('0' + u % 10);
        *dp = (int)n;
        for (size_t i = 0; i < n; i++)
            d[i] = tmp[n - 1 - i];
        while (n > 1 && d[n - 1] == '0')
            n--;
        return n;
    }
    char buf[40];
    /* Subnormals have fewer significant bits, so 15 digits may round-trip
       without being shortest: search from 1 digit up for them. */
    for (int prec = v < DBL_MIN ? 0 : 14; prec <= 16; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (prec == 16 || strtod(buf, NULL) == v)
            break;
    }
    /* buf is "d.ddddde[+-]XX" */
    size_t n = 0;
    char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            d[n++] = *p;
    *dp = (int)strtol(p + 1, NULL, 10) + 1;
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n;
}

size_t am__fmt_double(char *out, double v)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    size_t o = 0;
    if (v < 0) {
        out[o++] = '-';
        v = -v;
    }
    if (v == 0) {
        out[0] = '0'; /* -0 too: Prometheus treats them alike */
        out[1] = '\0';
        return 1;
    }
    if (v < 1e6 && v == (double)(uint32_t)v) {
        /* The common case, a count below a million: its digits as they are. */
        char tmp[8];
        size_t n = 0;
        for (uint32_t u = (uint32_t)v; u; u /= 10)
            tmp[n++] = (char)('0' + u % 10);
        while (n)
            out[o++] = tmp[--n];
        out[o] = '\0';
        return o;
    }
    char d[24];
    int dp;
    size_t nd = digits(v, d, &dp);
    int exp = dp - 1;
    if (exp < -4 || exp >= 6) {
        out[o++] = d[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, d + 1, nd - 1);
            o += nd - 1;
        }
        out[o++] = 'e';
        out[o++] = exp < 0 ? '-' : '+';
        int a = exp < 0 ? -exp : exp;
        if (a >= 100)
            out[o++] = (char)('0' + a / 100);
        out[o++] = (char)('0' + (a / 10) % 10);
        out[o++] = (char)('0' + a % 10);
    } else if (dp <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -dp; i++)
            out[o++] = '0';
        memcpy(out + o, d, nd);
        o += nd;
    } else if ((size_t)dp >= nd) {
        memcpy(out + o, d, nd);
        o += nd;
        for (size_t i = nd; i < (size_t)dp; i++)
            out[o++] = '0';
    } else {
        memcpy(out + o, d, (size_t)dp);
        o += (size_t)dp;
        out[o++] = '.';
        memcpy(out + o, d + dp, nd - (size_t)dp);
        o += nd - (size_t)dp;
    }
    out[o] = '\0';
    return o;
}

size_t am__fmt_millis(char *out, double v)
{
    if (!(v >= 0) || v >= 1e15)
        return (size_t)snprintf(out, AM_FMT_MAX, "%.3f", v);
    uint64_t ms = (uint64_t)llround(v * 1000.0);
    char tmp[24];
    size_t n = 0;
    for (int i = 0; i < 3; i++, ms /= 10)
        tmp[n++] = (char)('0' + ms % 10);
    tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + ms % 10);
        ms /= 10;
    } while (ms);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}
