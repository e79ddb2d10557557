/*
** genai.h: the OpenTelemetry GenAI semantic-convention metrics, as indices
** into am__defs_genai (genai.c) for the LLM pack.
*/
#ifndef AM_PACKS_GENAI_H
#define AM_PACKS_GENAI_H

#include "../util/catalog.h"

enum { GENAI_TOKENS, GENAI_DURATION, GENAI_INVOKE_AGENT, GENAI_EXECUTE_TOOL, GENAI_N };

extern const am_metric_def am__defs_genai[];

#endif
