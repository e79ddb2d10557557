/*
** validate.c: name grammar and UTF-8 checks (see validate.h).
**
** Names follow the classic Prometheus grammar, which every tool accepts;
** the "__" prefix is reserved for Prometheus' internal labels and names.
** UTF-8 is checked strictly (RFC 3629), so everything the library accepts
** comes out as text every parser can read.
*/
#include <string.h>

#include "agentmon/metrics.h"
#include "error.h"
#include "validate.h"

bool am__utf8_valid(const char *str, size_t n, size_t *runes)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, r = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
                return false;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
                return false;
            if (c == 0xE0 && s[i + 1] < 0xA0) /* overlong */
                return false;
            if (c == 0xED && s[i + 1] >= 0xA0) /* surrogate */
                return false;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return false;
            if (c == 0xF0 && s[i + 1] < 0x90) /* overlong */
                return false;
            if (c == 0xF4 && s[i + 1] >= 0x90) /* above U+10FFFF */
                return false;
            i += 4;
        } else {
            return false;
        }
        r++;
    }
    if (runes)
        *runes = r;
    return true;
}

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

am_err am__check_metric_name(const char *s, const char *what)
{
    if (!s || !*s)
        return am__err(AM_EINVAL, "%s is empty", what);
    if (s[0] == '_' && s[1] == '_')
        return am__err(AM_EINVAL, "%s \"%.64s\" starts with the reserved \"__\"", what, s);
    for (const char *p = s; *p; p++) {
        if (!(is_alpha_(*p) || *p == ':' || (p != s && is_digit(*p))))
            return am__err(AM_EINVAL, "%s \"%.64s\" has an invalid character at offset %zu", what,
                           s, (size_t)(p - s));
    }
    return AM_OK;
}

am_err am__check_label_name(const char *s, const char *what)
{
    if (!s || !*s)
        return am__err(AM_EINVAL, "%s is empty", what);
    if (s[0] == '_' && s[1] == '_')
        return am__err(AM_EINVAL, "%s \"%.64s\" starts with the reserved \"__\"", what, s);
    for (const char *p = s; *p; p++) {
        if (!(is_alpha_(*p) || (p != s && is_digit(*p))))
            return am__err(AM_EINVAL, "%s \"%.64s\" has an invalid character at offset %zu", what,
                           s, (size_t)(p - s));
    }
    return AM_OK;
}

am_err am__check_text(const char *s, size_t max, const char *what)
{
    if (!s)
        return am__err(AM_EINVAL, "%s is NULL", what);
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return am__err(AM_EINVAL, "%s is longer than %zu bytes", what, max);
    if (!am__utf8_valid(s, n, NULL))
        return am__err(AM_EINVAL, "%s is not valid UTF-8", what);
    return AM_OK;
}

am_err am__check_json_name(const char *s)
{
    if (!s || !*s)
        return am__err(AM_EINVAL, "json_name is empty");
    if (strlen(s) > AM_MAX_NAME)
        return am__err(AM_EINVAL, "json_name is longer than %d bytes", AM_MAX_NAME);
    for (const char *p = s; *p; p++) {
        if (!(is_alpha_(*p) || *p == ':' || (p != s && (is_digit(*p) || *p == '.'))))
            return am__err(AM_EINVAL, "json_name \"%.64s\" has an invalid character at offset %zu",
                           s, (size_t)(p - s));
    }
    return AM_OK;
}
