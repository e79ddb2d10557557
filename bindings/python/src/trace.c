/*
** trace.c: agentmon._agentmon.TraceContext and the current trace of a
** task.
**
** The library keeps a current context per thread (am_trace_set_current);
** Python code runs many asyncio tasks on one thread, so the binding keeps
** its current context in a contextvars.ContextVar instead, which follows
** each task (and is copied into threads started with a copied context).
** Everything here that records passes the context explicitly -- packs,
** coordinator sends, log lines, traced observes -- and never relies on the
** thread's, so two tasks interleaved on one thread never see each other's
** trace.
**
** A TraceContext is immutable and holds an am_trace_ctx by value (ids, flags,
** tracestate): making one allocates the Python object only.
*/
#include "ext.h"
#include "structmember.h"

PyObject *ext_current_trace;

static TraceObject *wrap(const am_trace_ctx *ctx)
{
    TraceObject *t = PyObject_New(TraceObject, &TraceType);
    if (t)
        t->ctx = *ctx;
    return t;
}

const am_trace_ctx *ext_trace_current(bool *failed)
{
    PyObject *v = NULL;
    if (PyContextVar_Get(ext_current_trace, NULL, &v) < 0) {
        *failed = true;
        return NULL;
    }
    if (!v)
        return NULL;
    /* The ContextVar keeps a reference, so the context stays alive for the
       caller's (GIL-held) use. */
    const am_trace_ctx *ctx = NULL;
    if (Py_IS_TYPE(v, &TraceType))
        ctx = &((TraceObject *)v)->ctx;
    Py_DECREF(v);
    return ctx && am_trace_ctx_is_valid(ctx) ? ctx : NULL;
}

int ext_trace_arg(PyObject *o, am_trace_ctx *out, bool *has)
{
    *has = false;
    if (!o || o == Py_None) {
        bool failed = false;
        const am_trace_ctx *c = ext_trace_current(&failed);
        if (failed)
            return -1;
        if (c) {
            *out = *c;
            *has = true;
        }
        return 0;
    }
    if (!PyObject_TypeCheck(o, &TraceType)) {
        PyErr_SetString(PyExc_TypeError, "trace must be a TraceContext or None");
        return -1;
    }
    *out = ((TraceObject *)o)->ctx;
    *has = am_trace_ctx_is_valid(out);
    return 0;
}

bool ext_trace_exemplar(const am_trace_ctx *ctx, ext_trace_ex *ex)
{
    if (!ctx || !(ctx->flags & AM_TRACE_FLAG_SAMPLED) || !am_trace_ctx_is_valid(ctx))
        return false;
    am_trace_id_hex(ctx, ex->trace_id);
    am_span_id_hex(ctx, ex->span_id);
    ex->names[0] = "trace_id";
    ex->names[1] = "span_id";
    ex->values[0] = ex->trace_id;
    ex->values[1] = ex->span_id;
    ex->labels = (am_labels){ex->names, ex->values, 2};
    return true;
}

/* ------------------------------------------------------------------ */

static PyObject *trace_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)type;
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "", kwlist))
        return NULL;
    am_trace_ctx ctx;
    am_trace_new(&ctx);
    return (PyObject *)wrap(&ctx);
}

/* TraceContext.from_traceparent(traceparent, tracestate=None, strict=False) */
static PyObject *trace_from_header(PyObject *cls, PyObject *args, PyObject *kw)
{
    (void)cls;
    static char *kwlist[] = {"traceparent", "tracestate", "strict", NULL};
    const char *tp = NULL, *ts = NULL;
    int strict = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "z|zp", kwlist, &tp, &ts, &strict))
        return NULL;
    am_trace_ctx ctx;
    if (strict) {
        if (!tp)
            return PyErr_Format(PyExc_ValueError, "no traceparent");
        am_err rc = am_traceparent_parse(tp, strlen(tp), &ctx);
        if (rc)
            return ext_raise(rc, "bad traceparent");
        if (ts && *ts && (rc = am_tracestate_set(&ctx, ts, strlen(ts))))
            return ext_raise(rc, "bad tracestate");
        return (PyObject *)wrap(&ctx);
    }
    am_trace_continue(tp, ts, &ctx); /* a new trace when tp is bad or absent */
    return (PyObject *)wrap(&ctx);
}

static PyObject *trace_child(TraceObject *self, PyObject *noargs)
{
    (void)noargs;
    am_trace_ctx c;
    am_trace_child(&self->ctx, &c);
    return (PyObject *)wrap(&c);
}

static PyObject *trace_with_tracestate(TraceObject *self, PyObject *arg)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!s)
        return NULL;
    am_trace_ctx c = self->ctx;
    am_err rc = am_tracestate_set(&c, s, (size_t)n);
    if (rc)
        return ext_raise(rc, "bad tracestate");
    return (PyObject *)wrap(&c);
}

static PyObject *trace_get_trace_id(TraceObject *self, void *c)
{
    (void)c;
    char hex[AM_TRACE_ID_HEX + 1];
    am_trace_id_hex(&self->ctx, hex);
    return PyUnicode_FromString(hex);
}

static PyObject *trace_get_span_id(TraceObject *self, void *c)
{
    (void)c;
    char hex[AM_SPAN_ID_HEX + 1];
    am_span_id_hex(&self->ctx, hex);
    return PyUnicode_FromString(hex);
}

static PyObject *trace_get_parent(TraceObject *self, void *c)
{
    (void)c;
    static const uint8_t zero[AM_SPAN_ID_SIZE];
    if (memcmp(self->ctx.parent_span_id, zero, sizeof zero) == 0)
        Py_RETURN_NONE;
    char hex[AM_SPAN_ID_HEX + 1];
    am_parent_span_id_hex(&self->ctx, hex);
    return PyUnicode_FromString(hex);
}

static PyObject *trace_get_sampled(TraceObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->ctx.flags & AM_TRACE_FLAG_SAMPLED);
}

static PyObject *trace_get_flags(TraceObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->ctx.flags);
}

static PyObject *trace_get_tracestate(TraceObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromStringAndSize(self->ctx.tracestate, self->ctx.tracestate_len);
}

static PyObject *trace_get_traceparent(TraceObject *self, void *c)
{
    (void)c;
    char tp[AM_TRACEPARENT_LEN + 1];
    if (am_traceparent_format(&self->ctx, tp) != AM_OK)
        Py_RETURN_NONE;
    return PyUnicode_FromString(tp);
}

static PyObject *trace_repr(TraceObject *self)
{
    char tp[AM_TRACEPARENT_LEN + 1];
    am_traceparent_format(&self->ctx, tp);
    return PyUnicode_FromFormat("TraceContext('%s')", tp);
}

static PyObject *trace_richcompare(PyObject *a, PyObject *b, int op)
{
    if (!PyObject_TypeCheck(b, &TraceType) || (op != Py_EQ && op != Py_NE))
        Py_RETURN_NOTIMPLEMENTED;
    const am_trace_ctx *x = &((TraceObject *)a)->ctx, *y = &((TraceObject *)b)->ctx;
    bool eq = memcmp(x->trace_id, y->trace_id, sizeof x->trace_id) == 0 &&
              memcmp(x->span_id, y->span_id, sizeof x->span_id) == 0 && x->flags == y->flags;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyGetSetDef trace_getset[] = {
    {"trace_id", (getter)trace_get_trace_id, NULL, "32 lowercase hex digits.", NULL},
    {"span_id", (getter)trace_get_span_id, NULL, "16 lowercase hex digits.", NULL},
    {"parent_span_id", (getter)trace_get_parent, NULL, "The parent span, or None.", NULL},
    {"sampled", (getter)trace_get_sampled, NULL, "The sampled flag.", NULL},
    {"flags", (getter)trace_get_flags, NULL, "trace-flags.", NULL},
    {"tracestate", (getter)trace_get_tracestate, NULL, "tracestate, verbatim.", NULL},
    {"traceparent", (getter)trace_get_traceparent, NULL,
     "The traceparent header to send downstream (version 00).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef trace_methods[] = {
    {"from_traceparent", (PyCFunction)(void (*)(void))trace_from_header,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_traceparent(traceparent, tracestate=None, strict=False): continue a caller's "
     "trace (a child span of its parent-id); a missing or malformed header starts a new trace "
     "unless strict, which raises ValueError."},
    {"child", (PyCFunction)trace_child, METH_NOARGS, "A new child span of this one."},
    {"with_tracestate", (PyCFunction)trace_with_tracestate, METH_O,
     "A copy carrying this tracestate (checked: ValueError when malformed)."},
    {NULL, NULL, 0, NULL}};

PyTypeObject TraceType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.TraceContext",
    .tp_basicsize = sizeof(TraceObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TraceContext(): a new W3C trace (random ids, sampled). Immutable.",
    .tp_new = trace_new,
    .tp_repr = (reprfunc)trace_repr,
    .tp_richcompare = trace_richcompare,
    .tp_methods = trace_methods,
    .tp_getset = trace_getset,
};

int ext_trace_init(PyObject *m)
{
    if (PyType_Ready(&TraceType) < 0)
        return -1;
    Py_INCREF(&TraceType);
    if (PyModule_AddObject(m, "TraceContext", (PyObject *)&TraceType) < 0) {
        Py_DECREF(&TraceType);
        return -1;
    }
    ext_current_trace = PyContextVar_New("agentmon_current_trace", NULL);
    if (!ext_current_trace)
        return -1;
    Py_INCREF(ext_current_trace);
    if (PyModule_AddObject(m, "current_trace", ext_current_trace) < 0) {
        Py_DECREF(ext_current_trace);
        return -1;
    }
    return 0;
}
