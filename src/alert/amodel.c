/*
** amodel.c: Alertmanager's data model where agentmon needs it to agree
** byte for byte: the fingerprint of a label set (model.LabelSet.
** Fingerprint: FNV-1a 64 over the pairs sorted by name, each name and
** value followed by a 0xff byte), written as 16 hex digits.
*/
#include <stdio.h>
#include <string.h>

#include "../util/hash.h"
#include "alert.h"
#include "labels.h"

uint64_t am_alert_fingerprint(const am_label *l, size_t n)
{
    uint64_t h = AM_FNV1A64_INIT;
    /* l is sorted by name (am_lset order); the empty set hashes to the offset */
    for (size_t i = 0; i < n; i++) {
        h = am__fnv1a64(h, l[i].name, strlen(l[i].name));
        h = am__fnv1a64(h, "\xff", 1);
        h = am__fnv1a64(h, l[i].value, strlen(l[i].value));
        h = am__fnv1a64(h, "\xff", 1);
    }
    return h;
}

void am_alert_fingerprint_hex(const am_label *l, size_t n, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)am_alert_fingerprint(l, n));
}
