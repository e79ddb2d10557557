/*
** hooks.h: seams for tests, not part of the API.
**
** am__time_hook, when set, replaces the realtime clock behind _created and
** exemplar timestamps, so golden files can be byte-exact.
*/
#ifndef AM_CORE_HOOKS_H
#define AM_CORE_HOOKS_H

extern double (*am__time_hook)(void);

#endif
