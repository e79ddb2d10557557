/*
** agentmon.h: the whole public API of libagentmon. Include this one header.
*/
#ifndef AGENTMON_H
#define AGENTMON_H

#include <agentmon/features.h> /* generated: what this libagentmon was built with */

#include "common.h"
#include "metrics.h"
#include "expose.h"
#include "timer.h"
#include "trace.h"
#include "log.h"
#include "http.h"
#include "push.h"
#include "coord.h"
#include "packs.h"
#include "breaker.h"
#include "statsd.h"
#include "shm.h"
#include "remote_write.h"

#endif
