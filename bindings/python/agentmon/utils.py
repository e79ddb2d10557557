"""Small helpers shared by the package (prometheus_client's utils, same names)."""
import math

INF = float("inf")
MINUS_INF = float("-inf")
NaN = float("NaN")


def floatToGoString(d):
    """A float as Go's strconv.FormatFloat writes it, as prometheus_client does."""
    d = float(d)
    if d == INF:
        return '+Inf'
    if d == MINUS_INF:
        return '-Inf'
    if math.isnan(d):
        return 'NaN'
    s = repr(d)
    dot = s.find('.')
    # Go switches to exponents sooner than Python.
    if d > 0 and dot > 6:
        mantissa = f'{s[0]}.{s[1:dot]}{s[dot + 1:]}'.rstrip('0.')
        return f'{mantissa}e+0{dot - 1}'
    return s
