/*
** ycfg.h: reading a configuration section from a YAML tree (yamltree.h)
** the way Prometheus and Alertmanager read theirs: unknown keys refused by
** name, scalars where scalars belong, Go durations -- every refusal
** written as "FILE:LINE: message" into one error buffer, so a file with
** several problems names them all at once. Shared by the notifiers'
** configuration (notify/config.c) and remote_write's (serve/export).
*/
#ifndef AM_ALERT_YCFG_H
#define AM_ALERT_YCFG_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/buf.h"
#include "yamltree.h"

typedef struct am_ycfg {
    const char *file; /* named in every message */
    am_buf *errs;     /* messages appended, one per line; NULL: counted only */
    int n_errs;
} am_ycfg;

/* Load file's text into arena a (am__yaml_load); on a YAML error the
   message goes into errs as "FILE:LINE:COL: what", a is freed and
   AM_EINVAL (or AM_ENOMEM) returned with it as the thread's message. */
am_err am__ycfg_load(const char *file, const char *text, size_t len, am_arena *a, am_ynode **root,
                     am_buf *errs);

/* Record one problem at n's line (0 without a node). */
__attribute__((format(printf, 3, 4))) void am__ycfg_err(am_ycfg *c, const am_ynode *n,
                                                        const char *fmt, ...);

/* rc, with the problems collected in errs (one per line) as the thread's
   error message -- every problem of a file at once; when errs holds none,
   the message already set stays. Returns rc. */
am_err am__ycfg_fail(am_err rc, am_buf *errs);

/* A mapping key's text ("" for a key that is not a scalar). */
const char *am__ycfg_key(const am_ynode *k);

/* Whether n is a mapping; anything but a mapping or null is a problem. */
bool am__ycfg_is_map(am_ycfg *c, const am_ynode *n, const char *what);

/* Refuse m's keys outside allowed (NULL-terminated); those in unsupported
   (NULL or NULL-terminated) are named "not supported by agentmon". what
   names the section as the Go readers do ("webhook_config",
   "type config.QueueConfig"). */
void am__ycfg_keys(am_ycfg *c, const am_ynode *m, const char *what, const char *const *allowed,
                   const char *const *unsupported);

/* m's value at key when a scalar; NULL when absent or null (a sequence or
   mapping there is a problem). */
const am_ynode *am__ycfg_scalar(am_ycfg *c, const am_ynode *m, const char *key);

/* That scalar copied (am__free), or NULL. */
char *am__ycfg_str(am_ycfg *c, const am_ynode *m, const char *key);

/* A Go duration at key in milliseconds; def when absent, and when it does
   not parse or is negative (a problem then). */
int64_t am__ycfg_duration_ms(am_ycfg *c, const am_ynode *m, const char *key, int64_t def);

#endif
