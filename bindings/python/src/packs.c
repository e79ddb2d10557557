/*
** packs.c: the instrument packs, the circuit breaker and the catalogue for
** Python (agentmon/packs.py wraps them).
**
** Each pack object owns one libagentmon pack (am_task_pack, ...) made in a
** Registry's am_registry and holds that Registry, so the families outlive
** the pack. Calls are made with the GIL held: a pack call is a lock-free
** label lookup and a few cell writes. The trace argument is a TraceContext,
** or None for the task's current one (agentmon.trace), never the thread's:
** asyncio tasks share a thread. A family at its child limit records into
** its overflow series (the library's AM_ELIMIT), which is not an error here.
**
** The breaker's callbacks (transition, clock) run on the thread that called
** the breaker, which holds the GIL, so they call Python directly.
*/
#include "ext.h"

typedef void (*pack_free_fn)(void *);

typedef struct PackObject {
    PyObject_HEAD void *p;
    pack_free_fn free_fn;
    PyObject *owner; /* the Registry, or the parent pack for prepared handles */
} PackObject;

static void pack_dealloc(PackObject *self)
{
    if (self->p && self->free_fn)
        self->free_fn(self->p);
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *done(am_err rc)
{
    if (rc && rc != AM_ELIMIT)
        return ext_raise(rc, NULL);
    Py_RETURN_NONE;
}

/* A TraceContext or None into *ctx; returns the pointer to pass (NULL:
   none). -1 on a bad argument. */
static int trace_of(PyObject *o, am_trace_ctx *ctx, const am_trace_ctx **out)
{
    bool has;
    if (ext_trace_arg(o, ctx, &has) < 0)
        return -1;
    *out = has ? ctx : NULL;
    return 0;
}

static PackObject *new_pack(PyTypeObject *type, void *p, pack_free_fn fn, PyObject *owner)
{
    PackObject *self = (PackObject *)type->tp_alloc(type, 0);
    if (!self) {
        fn(p);
        return NULL;
    }
    self->p = p;
    self->free_fn = fn;
    Py_INCREF(owner);
    self->owner = owner;
    return self;
}

#define PACK_TYPE(var, pyname, methods, doc)                                                       \
    static PyTypeObject var = {                                                                    \
        PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon." pyname,                     \
        .tp_basicsize = sizeof(PackObject),                                                        \
        .tp_flags = Py_TPFLAGS_DEFAULT,                                                            \
        .tp_doc = doc,                                                                             \
        .tp_dealloc = (destructor)pack_dealloc,                                                    \
        .tp_methods = methods,                                                                     \
    }

#define KW (METH_VARARGS | METH_KEYWORDS)
#define CAST(f) (PyCFunction)(void (*)(void))(f)

static am_registry *reg_of(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &RegistryType)) {
        PyErr_SetString(PyExc_TypeError, "expected a Registry");
        return NULL;
    }
    return ((RegistryObject *)o)->reg;
}

/* ------------------------------------------------------------ task */

static PyTypeObject TaskPackType, TaskAgentType;

static PyObject *task_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)kw;
    PyObject *reg;
    if (!PyArg_ParseTuple(args, "O", &reg))
        return NULL;
    am_registry *r = reg_of(reg);
    am_task_pack *p;
    am_err rc;
    if (!r || (rc = am_task_pack_new(r, &p)))
        return r ? ext_raise(rc, NULL) : NULL;
    return (PyObject *)new_pack(type, p, (pack_free_fn)am_task_pack_free, reg);
}

static PyObject *task_finished(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"agent_id", "seconds", "error_type", "trace", NULL};
    const char *agent, *err = NULL;
    double s;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    const am_trace_ctx *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sd|zO", kwlist, &agent, &s, &err, &tr) ||
        trace_of(tr, &ctx, &t) < 0)
        return NULL;
    return done(am_task_finished(self->p, agent, err, s, t));
}

static PyObject *task_queue_depth(PackObject *self, PyObject *args)
{
    const char *q;
    double d;
    if (!PyArg_ParseTuple(args, "sd", &q, &d))
        return NULL;
    return done(am_task_queue_depth(self->p, q, d));
}

static PyObject *task_agent(PackObject *self, PyObject *args)
{
    const char *agent;
    if (!PyArg_ParseTuple(args, "s", &agent))
        return NULL;
    am_task_agent *a;
    am_err rc = am_task_agent_new(self->p, agent, &a);
    if (rc && rc != AM_ELIMIT)
        return ext_raise(rc, NULL);
    return (PyObject *)new_pack(&TaskAgentType, a, (pack_free_fn)am_task_agent_free,
                                (PyObject *)self);
}

static PyObject *task_agent_finished(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"seconds", "error_type", "trace", NULL};
    const char *err = NULL;
    double s;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    const am_trace_ctx *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "d|zO", kwlist, &s, &err, &tr) ||
        trace_of(tr, &ctx, &t) < 0)
        return NULL;
    return done(am_task_agent_finished(self->p, err, s, t));
}

static PyMethodDef task_methods[] = {
    {"finished", CAST(task_finished), KW,
     "finished(agent_id, seconds, error_type=None, trace=None)"},
    {"queue_depth", (PyCFunction)task_queue_depth, METH_VARARGS, "queue_depth(name, depth)"},
    {"agent", (PyCFunction)task_agent, METH_VARARGS, "agent(agent_id) -> a prepared agent"},
    {NULL, NULL, 0, NULL}};
static PyMethodDef task_agent_methods[] = {
    {"finished", CAST(task_agent_finished), KW, "finished(seconds, error_type=None, trace=None)"},
    {NULL, NULL, 0, NULL}};
PACK_TYPE(TaskPackType, "TaskPack", task_methods, "TaskPack(registry): the task pack.");
PACK_TYPE(TaskAgentType, "TaskAgent", task_agent_methods, "A prepared agent of a TaskPack.");

/* ------------------------------------------------------------ a2a */

static PyTypeObject A2APackType, A2ATargetType;

static PyObject *a2a_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)kw;
    PyObject *reg;
    if (!PyArg_ParseTuple(args, "O", &reg))
        return NULL;
    am_registry *r = reg_of(reg);
    am_a2a_pack *p;
    am_err rc;
    if (!r || (rc = am_a2a_pack_new(r, &p)))
        return r ? ext_raise(rc, NULL) : NULL;
    return (PyObject *)new_pack(type, p, (pack_free_fn)am_a2a_pack_free, reg);
}

static PyObject *a2a_request(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"agent",          "operation", "ok", "seconds",
                             "response_bytes", "trace",     NULL};
    const char *agent, *op;
    int ok;
    double s, bytes = -1;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    const am_trace_ctx *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sspd|dO", kwlist, &agent, &op, &ok, &s, &bytes,
                                     &tr) ||
        trace_of(tr, &ctx, &t) < 0)
        return NULL;
    return done(am_a2a_request(self->p, agent, op, ok, s, bytes, t));
}

static PyObject *a2a_active(PackObject *self, PyObject *args)
{
    const char *agent;
    double d;
    if (!PyArg_ParseTuple(args, "sd", &agent, &d))
        return NULL;
    return done(am_a2a_active(self->p, agent, d));
}

static PyObject *a2a_target(PackObject *self, PyObject *args)
{
    const char *agent, *op;
    if (!PyArg_ParseTuple(args, "ss", &agent, &op))
        return NULL;
    am_a2a_target *a;
    am_err rc = am_a2a_target_new(self->p, agent, op, &a);
    if (rc && rc != AM_ELIMIT)
        return ext_raise(rc, NULL);
    return (PyObject *)new_pack(&A2ATargetType, a, (pack_free_fn)am_a2a_target_free,
                                (PyObject *)self);
}

static PyObject *a2a_target_request(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ok", "seconds", "response_bytes", "trace", NULL};
    int ok;
    double s, bytes = -1;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    const am_trace_ctx *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "pd|dO", kwlist, &ok, &s, &bytes, &tr) ||
        trace_of(tr, &ctx, &t) < 0)
        return NULL;
    return done(am_a2a_target_request(self->p, ok, s, bytes, t));
}

static PyMethodDef a2a_methods[] = {
    {"request", CAST(a2a_request), KW,
     "request(agent, operation, ok, seconds, response_bytes=-1, trace=None)"},
    {"active", (PyCFunction)a2a_active, METH_VARARGS, "active(agent, delta)"},
    {"target", (PyCFunction)a2a_target, METH_VARARGS, "target(agent, operation)"},
    {NULL, NULL, 0, NULL}};
static PyMethodDef a2a_target_methods[] = {{"request", CAST(a2a_target_request), KW,
                                            "request(ok, seconds, response_bytes=-1, trace=None)"},
                                           {NULL, NULL, 0, NULL}};
PACK_TYPE(A2APackType, "A2APack", a2a_methods, "A2APack(registry): the a2a pack.");
PACK_TYPE(A2ATargetType, "A2ATarget", a2a_target_methods, "A prepared (agent, operation).");

/* ------------------------------------------------------------ cache, rate */

static PyTypeObject CachePackType, RatePackType;

static PyObject *cache_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)kw;
    PyObject *reg;
    if (!PyArg_ParseTuple(args, "O", &reg))
        return NULL;
    am_registry *r = reg_of(reg);
    am_cache_pack *p;
    am_err rc;
    if (!r || (rc = am_cache_pack_new(r, &p)))
        return r ? ext_raise(rc, NULL) : NULL;
    return (PyObject *)new_pack(type, p, (pack_free_fn)am_cache_pack_free, reg);
}

static PyObject *cache_op(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"operation", "result", "seconds", NULL};
    const char *op, *res;
    double s = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|d", kwlist, &op, &res, &s))
        return NULL;
    return done(am_cache_op(self->p, op, res, s));
}

static PyObject *rate_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)kw;
    PyObject *reg;
    if (!PyArg_ParseTuple(args, "O", &reg))
        return NULL;
    am_registry *r = reg_of(reg);
    am_rate_pack *p;
    am_err rc;
    if (!r || (rc = am_rate_pack_new(r, &p)))
        return r ? ext_raise(rc, NULL) : NULL;
    return (PyObject *)new_pack(type, p, (pack_free_fn)am_rate_pack_free, reg);
}

static PyObject *rate_decision(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"endpoint", "workspace_id", "allowed", NULL};
    const char *ep, *ws;
    int allowed;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ssp", kwlist, &ep, &ws, &allowed))
        return NULL;
    return done(am_rate_decision(self->p, ep, ws, allowed));
}

static PyMethodDef cache_methods[] = {
    {"op", CAST(cache_op), KW, "op(operation, result, seconds=-1)"}, {NULL, NULL, 0, NULL}};
static PyMethodDef rate_methods[] = {
    {"decision", CAST(rate_decision), KW, "decision(endpoint, workspace_id, allowed)"},
    {NULL, NULL, 0, NULL}};
PACK_TYPE(CachePackType, "CachePack", cache_methods, "CachePack(registry)");
PACK_TYPE(RatePackType, "RatePack", rate_methods, "RatePack(registry)");

/* ------------------------------------------------------------ llm */

static PyTypeObject LLMPackType, LLMRouteType;

static PyObject *llm_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)kw;
    PyObject *reg;
    if (!PyArg_ParseTuple(args, "O", &reg))
        return NULL;
    am_registry *r = reg_of(reg);
    am_llm_pack *p;
    am_err rc;
    if (!r || (rc = am_llm_pack_new(r, &p)))
        return r ? ext_raise(rc, NULL) : NULL;
    return (PyObject *)new_pack(type, p, (pack_free_fn)am_llm_pack_free, reg);
}

static PyObject *llm_record(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"provider",      "model",     "seconds",   "input_tokens",
                             "output_tokens", "operation", "task_type", "error_type",
                             "trace",         NULL};
    am_llm_call c = AM_LLM_CALL_INIT;
    unsigned long long in = 0, out = 0;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ssd|KKzzzO", kwlist, &c.provider, &c.model,
                                     &c.seconds, &in, &out, &c.operation, &c.task_type,
                                     &c.error_type, &tr) ||
        trace_of(tr, &ctx, &c.trace) < 0)
        return NULL;
    c.input_tokens = in;
    c.output_tokens = out;
    return done(am_llm_record(self->p, &c));
}

static PyObject *llm_route(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"provider", "model", "operation", "task_type", NULL};
    const char *prov, *model, *op = NULL, *tt = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|zz", kwlist, &prov, &model, &op, &tt))
        return NULL;
    am_llm_route *r;
    am_err rc = am_llm_route_new(self->p, prov, model, op, tt, &r);
    if (rc && rc != AM_ELIMIT)
        return ext_raise(rc, NULL);
    return (PyObject *)new_pack(&LLMRouteType, r, (pack_free_fn)am_llm_route_free,
                                (PyObject *)self);
}

static PyObject *llm_route_record(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"seconds",    "input_tokens", "output_tokens",
                             "error_type", "trace",        NULL};
    double s;
    unsigned long long in = 0, out = 0;
    const char *err = NULL;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    const am_trace_ctx *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "d|KKzO", kwlist, &s, &in, &out, &err, &tr) ||
        trace_of(tr, &ctx, &t) < 0)
        return NULL;
    return done(am_llm_route_record(self->p, err, s, in, out, t));
}

static PyObject *llm_named(PackObject *self, PyObject *args, PyObject *kw, bool agent)
{
    static char *kwlist[] = {"name", "seconds", "trace", NULL};
    const char *name;
    double s;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    const am_trace_ctx *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sd|O", kwlist, &name, &s, &tr) ||
        trace_of(tr, &ctx, &t) < 0)
        return NULL;
    return done(agent ? am_llm_invoke_agent(self->p, name, s, t)
                      : am_llm_execute_tool(self->p, name, s, t));
}

static PyObject *llm_invoke_agent(PackObject *self, PyObject *args, PyObject *kw)
{
    return llm_named(self, args, kw, true);
}

static PyObject *llm_execute_tool(PackObject *self, PyObject *args, PyObject *kw)
{
    return llm_named(self, args, kw, false);
}

static PyMethodDef llm_methods[] = {
    {"record", CAST(llm_record), KW,
     "record(provider, model, seconds, input_tokens=0, output_tokens=0, operation=None, "
     "task_type=None, error_type=None, trace=None)"},
    {"route", CAST(llm_route), KW, "route(provider, model, operation=None, task_type=None)"},
    {"invoke_agent", CAST(llm_invoke_agent), KW, "invoke_agent(name, seconds, trace=None)"},
    {"execute_tool", CAST(llm_execute_tool), KW, "execute_tool(name, seconds, trace=None)"},
    {NULL, NULL, 0, NULL}};
static PyMethodDef llm_route_methods[] = {
    {"record", CAST(llm_route_record), KW,
     "record(seconds, input_tokens=0, output_tokens=0, error_type=None, trace=None)"},
    {NULL, NULL, 0, NULL}};
PACK_TYPE(LLMPackType, "LLMPack", llm_methods, "LLMPack(registry)");
PACK_TYPE(LLMRouteType, "LLMRoute", llm_route_methods, "A prepared LLM route.");

/* ------------------------------------------------------------ worker */

static PyTypeObject WorkerPackType;

static PyObject *worker_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)kw;
    PyObject *reg;
    if (!PyArg_ParseTuple(args, "O", &reg))
        return NULL;
    am_registry *r = reg_of(reg);
    am_worker_pack *p;
    am_err rc;
    if (!r || (rc = am_worker_pack_new(r, &p)))
        return r ? ext_raise(rc, NULL) : NULL;
    return (PyObject *)new_pack(type, p, (pack_free_fn)am_worker_pack_free, reg);
}

static PyObject *w_health(PackObject *self, PyObject *args)
{
    const char *w, *t;
    int ok;
    if (!PyArg_ParseTuple(args, "ssp", &w, &t, &ok))
        return NULL;
    return done(am_worker_health(self->p, w, t, ok));
}

static PyObject *w_request(PackObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"agent_type", "ok", "seconds", "trace", NULL};
    const char *at;
    int ok;
    double s;
    PyObject *tr = Py_None;
    am_trace_ctx ctx;
    const am_trace_ctx *t;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "spd|O", kwlist, &at, &ok, &s, &tr) ||
        trace_of(tr, &ctx, &t) < 0)
        return NULL;
    return done(am_worker_request(self->p, at, ok, s, t));
}

#define W_STR_NUM(fname, call)                                                                     \
    static PyObject *fname(PackObject *self, PyObject *args)                                       \
    {                                                                                              \
        const char *a;                                                                             \
        double n;                                                                                  \
        if (!PyArg_ParseTuple(args, "sd", &a, &n))                                                 \
            return NULL;                                                                           \
        return done(call(self->p, a, n));                                                          \
    }
W_STR_NUM(w_active, am_worker_active_requests)
W_STR_NUM(w_queue, am_worker_queue_size)
W_STR_NUM(w_dlq_size, am_worker_dlq_size)

static PyObject *w_message(PackObject *self, PyObject *args)
{
    const char *f, *t, *m;
    if (!PyArg_ParseTuple(args, "sss", &f, &t, &m))
        return NULL;
    return done(am_worker_message(self->p, f, t, m));
}

static PyObject *w_handoff(PackObject *self, PyObject *args)
{
    const char *f, *t;
    if (!PyArg_ParseTuple(args, "ss", &f, &t))
        return NULL;
    return done(am_worker_handoff(self->p, f, t));
}

static PyObject *w_cache(PackObject *self, PyObject *args)
{
    const char *c;
    int hit;
    if (!PyArg_ParseTuple(args, "sp", &c, &hit))
        return NULL;
    return done(am_worker_cache(self->p, c, hit));
}

static PyObject *w_eviction(PackObject *self, PyObject *args)
{
    const char *c, *r;
    if (!PyArg_ParseTuple(args, "ss", &c, &r))
        return NULL;
    return done(am_worker_cache_eviction(self->p, c, r));
}

static PyObject *w_retry(PackObject *self, PyObject *args)
{
    const char *a;
    if (!PyArg_ParseTuple(args, "s", &a))
        return NULL;
    return done(am_worker_retry(self->p, a));
}

static PyObject *w_retry_ok(PackObject *self, PyObject *args)
{
    const char *a;
    unsigned n;
    if (!PyArg_ParseTuple(args, "sI", &a, &n))
        return NULL;
    return done(am_worker_retry_succeeded(self->p, a, n));
}

static PyObject *w_replay(PackObject *self, PyObject *args)
{
    const char *a;
    int ok;
    if (!PyArg_ParseTuple(args, "sp", &a, &ok))
        return NULL;
    return done(am_worker_dlq_replay(self->p, a, ok));
}

static PyObject *w_db(PackObject *self, PyObject *args)
{
    const char *o, *t;
    double s;
    if (!PyArg_ParseTuple(args, "ssd", &o, &t, &s))
        return NULL;
    return done(am_worker_db_op(self->p, o, t, s));
}

static PyMethodDef worker_methods[] = {
    {"health", (PyCFunction)w_health, METH_VARARGS, "health(worker_name, agent_type, healthy)"},
    {"request", CAST(w_request), KW, "request(agent_type, ok, seconds, trace=None)"},
    {"active_requests", (PyCFunction)w_active, METH_VARARGS, "active_requests(agent_type, n)"},
    {"queue_size", (PyCFunction)w_queue, METH_VARARGS, "queue_size(agent_type, n)"},
    {"message", (PyCFunction)w_message, METH_VARARGS,
     "message(from_agent, to_agent, message_type)"},
    {"handoff", (PyCFunction)w_handoff, METH_VARARGS, "handoff(from_agent, to_agent)"},
    {"cache", (PyCFunction)w_cache, METH_VARARGS, "cache(cache_name, hit)"},
    {"cache_eviction", (PyCFunction)w_eviction, METH_VARARGS, "cache_eviction(name, reason)"},
    {"retry", (PyCFunction)w_retry, METH_VARARGS, "retry(agent_type)"},
    {"retry_succeeded", (PyCFunction)w_retry_ok, METH_VARARGS,
     "retry_succeeded(agent_type, attempts)"},
    {"dlq_size", (PyCFunction)w_dlq_size, METH_VARARGS, "dlq_size(agent_type, n)"},
    {"dlq_replay", (PyCFunction)w_replay, METH_VARARGS, "dlq_replay(agent_type, ok)"},
    {"db_op", (PyCFunction)w_db, METH_VARARGS, "db_op(operation, table, seconds)"},
    {NULL, NULL, 0, NULL}};
PACK_TYPE(WorkerPackType, "WorkerPack", worker_methods, "WorkerPack(registry)");

/* ------------------------------------------------------------ breaker */

typedef struct BreakerObject {
    PyObject_HEAD am_breaker *b;
    PyObject *owner;
    PyObject *on_transition;
    PyObject *clock;
} BreakerObject;

static void breaker_transition(const char *name, am_breaker_state from, am_breaker_state to,
                               void *ud)
{
    BreakerObject *self = ud;
    PyGILState_STATE g = PyGILState_Ensure();
    if (self->on_transition) {
        PyObject *r = PyObject_CallFunction(self->on_transition, "sss", name,
                                            am_breaker_state_name(from), am_breaker_state_name(to));
        if (!r)
            PyErr_WriteUnraisable(self->on_transition);
        Py_XDECREF(r);
    }
    PyGILState_Release(g);
}

static double breaker_clock(void *ud)
{
    BreakerObject *self = ud;
    PyGILState_STATE g = PyGILState_Ensure();
    double v = NAN;
    PyObject *r = PyObject_CallNoArgs(self->clock);
    if (r)
        v = PyFloat_AsDouble(r);
    if (!r || PyErr_Occurred()) {
        PyErr_WriteUnraisable(self->clock);
        v = NAN; /* read by the breaker as "standing still" */
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
    return v;
}

static PyObject *breaker_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"registry",
                             "name",
                             "failure_threshold",
                             "window_s",
                             "cooldown_s",
                             "half_open_successes",
                             "half_open_max_calls",
                             "on_transition",
                             "clock",
                             NULL};
    PyObject *reg, *on_t = Py_None, *clock = Py_None;
    am_breaker_opts o = AM_BREAKER_OPTS_INIT;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Os|IddIIOO", kwlist, &reg, &o.name,
                                     &o.failure_threshold, &o.window_s, &o.cooldown_s,
                                     &o.half_open_successes, &o.half_open_max_calls, &on_t, &clock))
        return NULL;
    if (!(o.registry = reg_of(reg)))
        return NULL;
    BreakerObject *self = (BreakerObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    Py_INCREF(reg);
    self->owner = reg;
    if (on_t != Py_None) {
        Py_INCREF(on_t);
        self->on_transition = on_t;
        o.on_transition = breaker_transition;
        o.transition_userdata = self;
    }
    if (clock != Py_None) {
        Py_INCREF(clock);
        self->clock = clock;
        o.clock = breaker_clock;
        o.clock_userdata = self;
    }
    am_err rc = am_breaker_new(&o, &self->b);
    if (rc) {
        PyObject *e = ext_raise(rc, NULL);
        Py_DECREF(self);
        return e;
    }
    return (PyObject *)self;
}

static void breaker_dealloc(BreakerObject *self)
{
    am_breaker_free(self->b);
    Py_XDECREF(self->owner);
    Py_XDECREF(self->on_transition);
    Py_XDECREF(self->clock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *breaker_allow(BreakerObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyBool_FromLong(am_breaker_allow(self->b));
}

static PyObject *breaker_success(BreakerObject *self, PyObject *noargs)
{
    (void)noargs;
    am_breaker_success(self->b);
    Py_RETURN_NONE;
}

static PyObject *breaker_failure(BreakerObject *self, PyObject *noargs)
{
    (void)noargs;
    am_breaker_failure(self->b);
    Py_RETURN_NONE;
}

static PyObject *breaker_state(BreakerObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyUnicode_FromString(am_breaker_state_name(am_breaker_get_state(self->b)));
}

static PyObject *breaker_seconds_in(BreakerObject *self, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8(arg);
    if (!s)
        return NULL;
    for (int st = AM_BREAKER_CLOSED; st <= AM_BREAKER_HALF_OPEN; st++)
        if (strcmp(s, am_breaker_state_name((am_breaker_state)st)) == 0)
            return PyFloat_FromDouble(am_breaker_seconds_in(self->b, (am_breaker_state)st));
    return PyErr_Format(PyExc_ValueError, "state must be closed, open or half_open");
}

static PyMethodDef breaker_methods[] = {
    {"allow", (PyCFunction)breaker_allow, METH_NOARGS, "Whether a call may go ahead now."},
    {"success", (PyCFunction)breaker_success, METH_NOARGS, "The call succeeded."},
    {"failure", (PyCFunction)breaker_failure, METH_NOARGS, "The call failed."},
    {"state", (PyCFunction)breaker_state, METH_NOARGS, "closed, open or half_open."},
    {"seconds_in", (PyCFunction)breaker_seconds_in, METH_O, "Total seconds in a state."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject BreakerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.Breaker",
    .tp_basicsize = sizeof(BreakerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Breaker(registry, name, ...): libagentmon's circuit breaker.",
    .tp_new = breaker_new,
    .tp_dealloc = (destructor)breaker_dealloc,
    .tp_methods = breaker_methods,
};

/* ------------------------------------------------------------ module functions */

static PyObject *py_service_info(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *reg, *pairs;
    if (!PyArg_ParseTuple(args, "OO!", &reg, &PyDict_Type, &pairs))
        return NULL;
    am_registry *r = reg_of(reg);
    if (!r)
        return NULL;
    ext_labels l;
    if (ext_labels_from_dict(pairs, &l) < 0)
        return NULL;
    am_err rc = am_service_info(r, &l.labels);
    ext_labels_release(&l);
    return done(rc);
}

static PyObject *strs(const char *const *v, size_t n)
{
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t && i < n; i++)
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, PyUnicode_FromString(v[i]));
    return t;
}

static PyObject *py_catalog(PyObject *m, PyObject *noargs)
{
    (void)m;
    (void)noargs;
    static const char *const types[] = {"",     "counter",  "gauge",   "histogram",
                                        "info", "stateset", "unknown", "summary"};
    size_t n = am_catalog_count();
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        am_metric_def_info d;
        am_catalog_get(i, &d);
        const double *b = d.buckets ? d.buckets : AM_DEFAULT_BUCKETS;
        size_t nb = d.buckets ? d.n_buckets : AM_DEFAULT_BUCKETS_N;
        PyObject *buckets = Py_None;
        Py_INCREF(Py_None);
        if (d.type == AM_TYPE_HISTOGRAM) {
            Py_DECREF(Py_None);
            buckets = PyTuple_New((Py_ssize_t)nb);
            for (size_t k = 0; buckets && k < nb; k++)
                PyTuple_SET_ITEM(buckets, (Py_ssize_t)k, PyFloat_FromDouble(b[k]));
        }
        PyObject *row = Py_BuildValue(
            "{s:s,s:s,s:z,s:s,s:z,s:s,s:s,s:N,s:N,s:N}", "group", d.group, "name", d.name,
            "json_name", d.json_name, "help", d.help, "unit", d.unit, "source", d.source, "type",
            d.type >= AM_TYPE_COUNTER && d.type <= AM_TYPE_SUMMARY ? types[d.type] : "unknown",
            "labels", strs(d.labels, d.n_labels), "buckets", buckets, "states",
            strs(d.states, d.n_states));
        if (!row) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    return list;
}

static PyMethodDef pack_functions[] = {
    {"service_info", py_service_info, METH_VARARGS,
     "service_info(registry, pairs): agentos_info{...} = 1."},
    {"catalog", py_catalog, METH_NOARGS,
     "Every metric the library defines: a list of dicts (group, name, type, help, unit, "
     "labels, buckets, states, json_name, source)."},
    {NULL, NULL, 0, NULL}};

int ext_packs_init(PyObject *m)
{
    struct {
        PyTypeObject *t;
        newfunc new_fn;
    } types[] = {{&TaskPackType, task_new},     {&TaskAgentType, NULL},
                 {&A2APackType, a2a_new},       {&A2ATargetType, NULL},
                 {&CachePackType, cache_new},   {&RatePackType, rate_new},
                 {&LLMPackType, llm_new},       {&LLMRouteType, NULL},
                 {&WorkerPackType, worker_new}, {&BreakerType, breaker_new}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (types[i].new_fn)
            types[i].t->tp_new = types[i].new_fn;
        if (PyType_Ready(types[i].t) < 0)
            return -1;
        Py_INCREF(types[i].t);
        if (PyModule_AddObject(m, strrchr(types[i].t->tp_name, '.') + 1, (PyObject *)types[i].t) <
            0)
            return -1;
    }
    return PyModule_AddFunctions(m, pack_functions);
}
