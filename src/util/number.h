/*
** number.h: reading a decimal number from text, one way for every parser
** (JSON events, StatsD values, Prometheus exposition, Redis replies).
**
** The grammar is checked here, character by character, before anything is
** converted, so strtod's extensions (hex floats, "infinity" spelled any way,
** leading blanks, a locale's decimal comma) never get through; the
** conversion itself is strtod_l in the C locale, the one correctly rounded
** conversion libc has. Short integers, the common case in every protocol we
** read, are converted from their digits without strtod.
*/
#ifndef AM_UTIL_NUMBER_H
#define AM_UTIL_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Grammar flags for am__num_parse(). */
#define AM_NUM_PLUS 0x1u    /* a leading '+' is allowed */
#define AM_NUM_INF_NAN 0x2u /* [+-]Inf, [+-]Infinity and NaN, any case (Prometheus text) */
#define AM_NUM_JSON 0x4u    /* RFC 8259: no leading zeros, digits on both sides of '.' */
#define AM_NUM_FINITE 0x8u  /* refuse a result that overflows to an infinity */

/* Longest number text accepted (digits, sign, point, exponent). */
#define AM_NUM_MAX_TEXT 400

/*
** Parse s[0..n) (not NUL-terminated; nothing may follow the number) as a
** double. Returns false, *out untouched, when the text breaks the grammar
** the flags allow, is empty or longer than AM_NUM_MAX_TEXT. Thread-safe.
*/
bool am__num_parse(const char *s, size_t n, unsigned flags, double *out);

/*
** The length of the JSON number (RFC 8259 grammar) at s[0..n): the longest
** prefix that is one, or 0 when s does not start with one.
*/
size_t am__num_json_span(const char *s, size_t n);

/*
** v truncated to an int64 as Go's int64(v) does on amd64, which Prometheus'
** template and PromQL functions rely on: NaN and values out of range become
** INT64_MIN (a C cast would be undefined behaviour).
*/
int64_t am__num_to_int64_go(double v);

#endif
