/*
** yamltree.h: a YAML document as a small tree with line numbers, for the
** rule-file and unit-test-file readers.
**
** Scalars keep their text and whether they were quoted (a plain "~" or
** empty scalar is null, "true" is a bool, only when plain, as YAML 1.1
** readers such as Go's yaml.v3 decide). Mappings keep their pairs in
** document order. Every node carries its 1-based line and column, so
** every refusal can name where the problem is.
*/
#ifndef AM_ALERT_YAMLTREE_H
#define AM_ALERT_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/common.h"
#include "arena.h"

typedef enum am_ykind { AM_Y_SCALAR, AM_Y_SEQ, AM_Y_MAP } am_ykind;

typedef struct am_ynode am_ynode;

struct am_ynode {
    am_ykind kind;
    int line;
    int col;
    const char *str; /* scalar text, NUL-terminated */
    size_t len;
    bool is_plain;    /* scalar written without quotes or block style */
    am_ynode **items; /* seq: n items; map: keys at 2i, values at 2i+1 */
    size_t n;         /* seq items, or map pairs */
};

/*
** Load the first document of text[0..len) into arena a. An empty document
** gives *root NULL. On failure returns AM_EINVAL with "LINE:COL: what" in
** err. Aliases are expanded, up to a total of 100,000 nodes (a bound on
** the "billion laughs").
*/
am_err am__yaml_load(const char *text, size_t len, am_arena *a, am_ynode **root, char *err,
                     size_t cap);

/* A plain scalar meaning null ("", "~", "null"). NULL nodes are null too. */
bool am__y_is_null(const am_ynode *n);

/* The value of key in map m, or NULL. */
am_ynode *am__y_get(const am_ynode *m, const char *key);

/* "mapping", "sequence", "scalar": for messages. */
const char *am__y_kind_name(const am_ynode *n);

#endif
