/*
** genai.c: the OpenTelemetry GenAI metrics, one table.
**
** Semantic conventions 1.42, status Development: these names and buckets
** still move between versions, so everything version-specific is here --
** the version, names, label names and explicit bucket boundaries -- and a
** newer version is an edit of this file alone. Dots become underscores in
** Prometheus (gen_ai.client.token.usage -> gen_ai_client_token_usage); the
** JSON snapshot keeps the dotted names.
**
** Label sets follow the conventions' required attributes: token usage by
** operation, provider, token type (input | output) and requested model;
** operation duration by operation, provider and model plus error_type
** ("" when the call succeeded -- Prometheus treats an empty label as
** absent, as the conventions set error.type only on failure).
*/
#include "genai.h"

const char AM_GENAI_SEMCONV_VERSION[] = "1.42";

/* 1, 4, 16, ... x4 ... 67108864 */
static const double TOKEN_BUCKETS[] = {1,     4,     16,     64,      256,     1024,     4096,
                                       16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
/* 0.01, 0.02, 0.04, ... x2 ... 81.92 */
static const double DURATION_BUCKETS[] = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                          1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
/* 0.1, 0.2, 0.4, ... x2 ... 409.6 */
static const double AGENT_BUCKETS[] = {0.1,  0.2,  0.4,  0.8,   1.6,   3.2,  6.4,
                                       12.8, 25.6, 51.2, 102.4, 204.8, 409.6};

#define SRC "OpenTelemetry GenAI semantic conventions 1.42"

const am_metric_def am__defs_genai[] = {
    [GENAI_TOKENS] = {"llm", AM_TYPE_HISTOGRAM, "gen_ai_client_token_usage",
                      "gen_ai.client.token.usage", "Number of input and output tokens used.", NULL,
                      AM_DEF_LABELS("gen_ai_operation_name", "gen_ai_provider_name",
                                    "gen_ai_token_type", "gen_ai_request_model"),
                      TOKEN_BUCKETS, sizeof TOKEN_BUCKETS / sizeof TOKEN_BUCKETS[0], NULL, SRC},
    [GENAI_DURATION] = {"llm", AM_TYPE_HISTOGRAM, "gen_ai_client_operation_duration_seconds",
                        "gen_ai.client.operation.duration", "GenAI operation duration.", "seconds",
                        AM_DEF_LABELS("gen_ai_operation_name", "gen_ai_provider_name",
                                      "gen_ai_request_model", "error_type"),
                        DURATION_BUCKETS, sizeof DURATION_BUCKETS / sizeof DURATION_BUCKETS[0],
                        NULL, SRC},
    [GENAI_INVOKE_AGENT] = {"llm", AM_TYPE_HISTOGRAM, "gen_ai_invoke_agent_duration_seconds",
                            "gen_ai.invoke_agent.duration", "Duration of an agent invocation.",
                            "seconds", AM_DEF_LABELS("gen_ai_agent_name"), AGENT_BUCKETS,
                            sizeof AGENT_BUCKETS / sizeof AGENT_BUCKETS[0], NULL, SRC},
    [GENAI_EXECUTE_TOOL] = {"llm", AM_TYPE_HISTOGRAM, "gen_ai_execute_tool_duration_seconds",
                            "gen_ai.execute_tool.duration", "Duration of a tool execution.",
                            "seconds", AM_DEF_LABELS("gen_ai_tool_name"), DURATION_BUCKETS,
                            sizeof DURATION_BUCKETS / sizeof DURATION_BUCKETS[0], NULL, SRC},
};
const am_def_table am__table_genai = {am__defs_genai, GENAI_N};
