/*
** test_json.c: the JSON pull reader -- token streams, strings unescaped in
** place, the check-only mode writing nothing, sequences of top-level
** values, skipping, nesting limits, and a table of bad texts, each refused
** with a message naming the problem and its line and column. jansson, an
** independent reader, must agree on which texts are JSON.
*/
#include <jansson.h>

#include "testutil.h"
#include "util/json.h"

/* The tokens of text as one line ("{ k:a s:x n:1 [ t f z ] }"); NULL after
   an error, whose message goes to err. */
static char *tokens(const char *text, unsigned flags, char *err, size_t errn)
{
    size_t n = strlen(text);
    char *copy = malloc(n + 1);
    memcpy(copy, text, n + 1);
    am_json j;
    am__json_init(&j, copy, n, flags);
    static char out[4096];
    size_t o = 0;
    out[0] = '\0';
    for (;;) {
        am_json_tok t = am__json_next(&j);
        if (t == AM_JSON_END)
            break;
        if (t == AM_JSON_ERROR) {
            snprintf(err, errn, "%s", am__json_error(&j));
            free(copy);
            return NULL;
        }
        char tok[256];
        switch (t) {
        case AM_JSON_OBJECT:
            snprintf(tok, sizeof tok, "{");
            break;
        case AM_JSON_OBJECT_END:
            snprintf(tok, sizeof tok, "}");
            break;
        case AM_JSON_ARRAY:
            snprintf(tok, sizeof tok, "[");
            break;
        case AM_JSON_ARRAY_END:
            snprintf(tok, sizeof tok, "]");
            break;
        case AM_JSON_KEY:
        case AM_JSON_STRING:
            snprintf(tok, sizeof tok, "%s:%.*s", t == AM_JSON_KEY ? "k" : "s", (int)j.len,
                     (flags & AM_JSON_CHECK) ? "" : j.str);
            break;
        case AM_JSON_NUMBER:
            snprintf(tok, sizeof tok, "n:%.17g", j.num);
            break;
        case AM_JSON_TRUE:
            snprintf(tok, sizeof tok, "t");
            break;
        case AM_JSON_FALSE:
            snprintf(tok, sizeof tok, "f");
            break;
        default:
            snprintf(tok, sizeof tok, "z");
            break;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", o ? " " : "", tok);
    }
    free(copy);
    return out;
}

static void expect(const char *text, unsigned flags, const char *want)
{
    char err[256];
    const char *got = tokens(text, flags, err, sizeof err);
    if (!got)
        fail_msg("%s: refused: %s", text, err);
    if (strcmp(got, want) != 0)
        fail_msg("%s:\n got  %s\n want %s", text, got, want);
}

static void test_tokens(void **state)
{
    (void)state;
    expect("{}", 0, "{ }");
    expect(" [ ] ", 0, "[ ]");
    expect("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", 0,
           "{ k:a n:1 k:b [ t f z ] k:c { k:d s:e } }");
    expect("[1, -2.5, 3e2, 0]", 0, "[ n:1 n:-2.5 n:300 n:0 ]");
    expect("\"top\"", 0, "s:top");
    expect("42", 0, "n:42");
    expect("[[[]],[{}]]", 0, "[ [ [ ] ] [ { } ] ]");
    expect("\n\t{\r\n\"x\" : \"y\" }\n", 0, "{ k:x s:y }");
}

static void test_strings(void **state)
{
    (void)state;
    expect("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", 0, "s:a\"b\\c/d\b\f\n\r\t");
    expect("\"\\u00e9\\u20ac\\ud83d\\ude00\"", 0, "s:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    expect("\"caf\xc3\xa9 \xe2\x82\xac\"", 0, "s:caf\xc3\xa9 \xe2\x82\xac");
    expect("[\"\\u0041x\", \"plain\"]", 0, "[ s:Ax s:plain ]");
    /* an escape shortens the string: what follows must still be read right */
    expect("{\"\\u0061\\u0062\":\"\\n\\n\\n\",\"c\":1}", 0, "{ k:ab s:\n\n\n k:c n:1 }");

    /* the length counts an escaped NUL; the C string stops at it */
    char text[] = "\"a\\u0000b\"";
    am_json j;
    am__json_init(&j, text, strlen(text), 0);
    AM_ASSERT_EQ(am__json_next(&j), AM_JSON_STRING);
    AM_ASSERT_EQ(j.len, 3);
    AM_ASSERT_EQ(strlen(j.str), 1);
}

static void test_check_writes_nothing(void **state)
{
    (void)state;
    const char *orig = "{\"k\\n\":\"v\\u00e9\\\"\",\"a\":[1,\"\\t\"]}";
    char text[64];
    snprintf(text, sizeof text, "%s", orig);
    am_json j;
    am__json_init(&j, text, strlen(text), AM_JSON_CHECK);
    am_json_tok t;
    size_t lens[8], n = 0;
    while ((t = am__json_next(&j)) > AM_JSON_END)
        if (t == AM_JSON_KEY || t == AM_JSON_STRING)
            lens[n++] = j.len;
    AM_ASSERT_EQ(t, AM_JSON_END);
    AM_ASSERT_STR_EQ(text, orig);
    AM_ASSERT_EQ(n, 4);
    AM_ASSERT_EQ(lens[0], 2); /* "k\n" */
    AM_ASSERT_EQ(lens[1], 4); /* "v" + 2-byte é + '"' */
    AM_ASSERT_EQ(lens[2], 1);
    AM_ASSERT_EQ(lens[3], 1);
}

static void test_sequence(void **state)
{
    (void)state;
    expect("{\"a\":1}{\"b\":2}", AM_JSON_SEQUENCE, "{ k:a n:1 } { k:b n:2 }");
    expect("{\"a\":1}\n{\"b\":2}\n", AM_JSON_SEQUENCE, "{ k:a n:1 } { k:b n:2 }");
    expect("1 2 [3]", AM_JSON_SEQUENCE, "n:1 n:2 [ n:3 ]");
    expect("", AM_JSON_SEQUENCE | AM_JSON_CHECK, "");
    char err[256];
    assert_null(tokens("{}{}", 0, err, sizeof err));
    AM_ASSERT_CONTAINS(err, "unexpected text after the JSON value at line 1, column 3");
}

static void test_skip(void **state)
{
    (void)state;
    char text[] = "{\"skip\":{\"a\":[1,{\"b\":[]}],\"c\":\"}\"},\"keep\":7}";
    am_json j;
    am__json_init(&j, text, strlen(text), 0);
    AM_ASSERT_EQ(am__json_next(&j), AM_JSON_OBJECT);
    AM_ASSERT_EQ(am__json_next(&j), AM_JSON_KEY);
    AM_ASSERT_EQ(am__json_skip(&j, am__json_next(&j)), AM_JSON_OBJECT_END);
    AM_ASSERT_EQ(am__json_depth(&j), 1);
    AM_ASSERT_EQ(am__json_next(&j), AM_JSON_KEY);
    AM_ASSERT_STR_EQ(j.str, "keep");
    AM_ASSERT_EQ(am__json_skip(&j, am__json_next(&j)), AM_JSON_NUMBER);
    AM_ASSERT_DBL_EQ(j.num, 7);
    AM_ASSERT_EQ(am__json_next(&j), AM_JSON_OBJECT_END);
    AM_ASSERT_EQ(am__json_next(&j), AM_JSON_END);

    char broken[] = "[{\"a\":[1,2}]";
    am__json_init(&j, broken, strlen(broken), 0);
    AM_ASSERT_EQ(am__json_next(&j), AM_JSON_ARRAY);
    AM_ASSERT_EQ(am__json_skip(&j, am__json_next(&j)), AM_JSON_ERROR);
}

static void test_depth(void **state)
{
    (void)state;
    char deep[AM_JSON_MAX_DEPTH * 2 + 3];
    size_t n = 0;
    for (int i = 0; i < AM_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < AM_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    char err[256];
    assert_non_null(tokens(deep, 0, err, sizeof err));
    char deeper[AM_JSON_MAX_DEPTH + 2];
    memset(deeper, '[', AM_JSON_MAX_DEPTH + 1);
    deeper[AM_JSON_MAX_DEPTH + 1] = '\0';
    assert_null(tokens(deeper, 0, err, sizeof err));
    AM_ASSERT_CONTAINS(err, "nesting deeper than 64 levels");
}

/* Bad texts: each refused, with the problem and where it is. */
static const struct {
    const char *text;
    const char *error;
} BAD[] = {
    {"", "empty text: no JSON value at line 1, column 1"},
    {"   ", "empty text"},
    {"{", "unexpected end of text at line 1, column 2"},
    {"[1,", "unexpected end of text"},
    {"[1,]", "unexpected character ']'"},
    {"[1 2]", "expected ',' or ']'"},
    {"{\"a\" 1}", "expected ':' after a member name"},
    {"{\"a\":1,}", "expected a member name in double quotes"},
    {"{a:1}", "expected a member name in double quotes"},
    {"{\"a\":1]", "expected ',' or '}'"},
    {"[1}", "expected ',' or ']'"},
    {"\"abc", "unterminated string"},
    {"\"a\\", "unterminated string"},
    {"\"\\x\"", "invalid escape \\x"},
    {"\"\\u12\"", "\\u must be followed by four hex digits"},
    {"\"\\u12g4\"", "\\u must be followed by four hex digits"},
    {"\"\\ud800\"", "high surrogate without a low one"},
    {"\"\\ud800\\u0041\"", "high surrogate without a low one"},
    {"\"\\udc00\"", "low surrogate without a high one"},
    {"\"a\tb\"", "control character 0x09 in a string"},
    {"\"a\nb\"", "control character 0x0a"},
    {"\"\xff\"", "invalid UTF-8 byte 0xff"},
    {"\"\xc0\xaf\"", "invalid UTF-8 byte 0xc0"},
    {"\"\xed\xa0\x80\"", "invalid UTF-8 byte 0xed"},
    {"\"\xe2\x82\"", "invalid UTF-8 byte 0xe2"},
    {"\"\xf4\x90\x80\x80\"", "invalid UTF-8 byte 0xf4"},
    {"01", "unexpected text after the JSON value"},
    {"-", "invalid number"},
    {"1.", "invalid number"},
    {".5", "unexpected character '.'"},
    {"+1", "unexpected character '+'"},
    {"1e999", "out of range"},
    {"-1e999", "out of range"},
    {"NaN", "unexpected character 'N'"},
    {"Infinity", "unexpected character 'I'"},
    {"tru", "unexpected character 't'"},
    {"nul", "unexpected character 'n'"},
    {"True", "unexpected character 'T'"},
    {"[1]x", "unexpected text after the JSON value"},
    {"\x01", "unexpected byte 0x01"},
    {"{\"a\":1}\n{\"b\":}", "unexpected text after the JSON value at line 2, column 1"},
    {"[\n\n  ,]", "unexpected character ',' at line 3, column 3"},
    {"'single'", "unexpected character '''"},
    {"/* comment */ 1", "unexpected character '/'"},
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char err[256];
        char *got = tokens(BAD[i].text, 0, err, sizeof err);
        if (got)
            fail_msg("bad text %zu \"%s\" was read as: %s", i, BAD[i].text, got);
        if (!strstr(err, BAD[i].error))
            fail_msg("bad text %zu \"%s\": got \"%s\", expected it to say \"%s\"", i, BAD[i].text,
                     err, BAD[i].error);
        /* check-only mode refuses the same texts */
        assert_null(tokens(BAD[i].text, AM_JSON_CHECK, err, sizeof err));
        /* and an independent reader agrees they are not JSON */
        json_error_t je;
        json_t *v = json_loadb(BAD[i].text, strlen(BAD[i].text), JSON_DECODE_ANY, &je);
        if (v)
            fail_msg("jansson took bad text %zu \"%s\"", i, BAD[i].text);
    }
}

/* Texts both readers take, with the same strings and numbers. */
static void test_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{\"event\":\"task\",\"agent_id\":\"coder\",\"duration\":1.5,\"ok\":true}",
        "[{\"a\":\"\\u00e9\\ud83d\\ude00\"},{\"b\":[1e-7,-1,123456789012]}]",
        "{\"nested\":{\"x\":{\"y\":[null,false]}},\"s\":\"tab\\there\"}",
        "0.30000000000000004",
        "\"\\/\\\\\\\"\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_error_t je;
        json_t *v = json_loadb(good[i], strlen(good[i]), JSON_DECODE_ANY, &je);
        if (!v)
            fail_msg("jansson refused good text %zu: %s", i, je.text);
        char *dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(v);
        char err[256];
        char *ours = tokens(good[i], 0, err, sizeof err);
        if (!ours)
            fail_msg("good text %zu refused: %s", i, err);
        char *ours_copy = strdup(ours);
        /* jansson's canonical re-encoding reads back to the same tokens */
        char *again = tokens(dumped, 0, err, sizeof err);
        if (!again)
            fail_msg("jansson's output of %zu refused: %s", i, err);
        AM_ASSERT_STR_EQ(again, ours_copy);
        free(ours_copy);
        free(dumped);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_check_writes_nothing),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_agrees_with_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
