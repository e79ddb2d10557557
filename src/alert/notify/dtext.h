/*
** dtext.h: Alertmanager's default notification texts (dtext.c).
*/
#ifndef AM_ALERT_NOTIFY_DTEXT_H
#define AM_ALERT_NOTIFY_DTEXT_H

#include "notify.h"

/* __subject: "[FIRING:2] g1 g2 (c1 c2)" */
void am__subject(am_buf *b, const am_notification *nt);
/* __alertmanagerURL: the link back */
void am__alerts_url(am_buf *b, const am_notification *nt);
/* __text_alert_list */
void am__text_alert_list(am_buf *b, am_nalert *const *a, size_t n);
/* The notification's alerts split (heap arrays, am__free both); returns
   the firing count. */
size_t am__split_firing(const am_notification *nt, am_nalert ***firing, am_nalert ***resolved,
                        size_t *n_resolved);

#endif
