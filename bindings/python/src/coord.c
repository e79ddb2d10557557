/*
** coord.c: agentmon._agentmon.Coordinator and Delivery -- libagentmon's
** message coordinator (memory, Redis) for Python; agentmon/coord.py adds
** the asyncio variant and the spec's snapshot().
**
** GIL: every operation runs with the GIL released inside the fork gate
** (a Redis operation is a network round trip; a memory one is short but
** may wait for an agent's lock). A receive that may wait is cut into waits
** of at most WAIT_SLICE_S, with the GIL taken between them to let Python
** signals (Ctrl-C) and a cancel event through, so the fork gate is never
** held long and an asyncio receive can be cancelled.
**
** CALLBACKS: the library calls the DLQ-growth callback on the thread that
** dead-lettered, while that thread is inside the gate without the GIL;
** taking the GIL there would invert the lock order (GIL, then gate) and can
** deadlock a fork. So the callback only queues the event (under a mutex) and
** the operation, back under the GIL, hands the queued events to Python.
**
** Message ids: a send without an id gets 32 hex digits from the library's
** random generator here, so Python learns the id (the library makes one
** too, but does not report it).
**
** FORK: a coordinator's connections and threads are the parent's; in a
** forked child every method raises and the destructor only forgets it.
*/
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "structmember.h"

#define WAIT_SLICE_S 0.25

typedef struct growth {
    char agent[AM_COORD_MAX_NAME + 1];
    size_t grown;
    double window_s;
} growth;

typedef struct CoordObject {
    PyObject_HEAD am_coord *c;
    pid_t owner;
    PyObject *registry;
    PyObject *on_growth;
    pthread_mutex_t ev_lock;
    growth events[16];
    size_t n_events;
} CoordObject;

typedef struct DeliveryObject {
    PyObject_HEAD am_coord_delivery *d;
    PyObject *coord; /* the Coordinator it came from */
    PyObject *dict;
} DeliveryObject;

static PyTypeObject CoordType, DeliveryType;

static void on_growth(const char *agent, size_t grown, double window_s, void *ud)
{
    CoordObject *self = ud;
    pthread_mutex_lock(&self->ev_lock);
    if (self->n_events < sizeof self->events / sizeof self->events[0]) {
        growth *g = &self->events[self->n_events++];
        snprintf(g->agent, sizeof g->agent, "%s", agent);
        g->grown = grown;
        g->window_s = window_s;
    }
    pthread_mutex_unlock(&self->ev_lock);
}

/* Hand queued growth events to Python; GIL held. -1 when the callback
   raised (reported as unraisable: the operation itself succeeded). */
static void deliver_events(CoordObject *self)
{
    growth ev[16];
    size_t n;
    pthread_mutex_lock(&self->ev_lock);
    n = self->n_events;
    memcpy(ev, self->events, n * sizeof ev[0]);
    self->n_events = 0;
    pthread_mutex_unlock(&self->ev_lock);
    for (size_t i = 0; i < n && self->on_growth; i++) {
        PyObject *r = PyObject_CallFunction(self->on_growth, "snd", ev[i].agent,
                                            (Py_ssize_t)ev[i].grown, ev[i].window_s);
        if (!r)
            PyErr_WriteUnraisable(self->on_growth);
        Py_XDECREF(r);
    }
}

static int usable(CoordObject *self)
{
    if (!self->c) {
        PyErr_SetString(PyExc_ValueError, "the coordinator is closed");
        return -1;
    }
    if (ext_forked_since(self->owner)) {
        PyErr_Format(PyExc_RuntimeError,
                     "this coordinator was opened in process %ld; open a new one after fork()",
                     (long)self->owner);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ options */

static int parse_opts(PyObject *kw, am_coord_opts *o, PyObject **growth_cb)
{
    if (!kw)
        return 0;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kw, &pos, &k, &v)) {
        const char *name = PyUnicode_AsUTF8(k);
        if (!name)
            return -1;
        if (strcmp(name, "on_dlq_growth") == 0) {
            *growth_cb = v == Py_None ? NULL : v;
            continue;
        }
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred())
            return -1;
        if (strcmp(name, "max_queue") == 0)
            o->max_queue = (size_t)d;
        else if (strcmp(name, "max_attempts") == 0)
            o->max_attempts = (unsigned)d;
        else if (strcmp(name, "backoff_base_s") == 0)
            o->backoff_base_s = d;
        else if (strcmp(name, "backoff_factor") == 0)
            o->backoff_factor = d;
        else if (strcmp(name, "backoff_max_s") == 0)
            o->backoff_max_s = d;
        else if (strcmp(name, "backoff_jitter") == 0)
            o->backoff_jitter = d;
        else if (strcmp(name, "max_payload_bytes") == 0)
            o->max_payload_bytes = (size_t)d;
        else if (strcmp(name, "visibility_s") == 0)
            o->visibility_s = d;
        else if (strcmp(name, "dlq_growth_threshold") == 0)
            o->dlq_growth_threshold = (unsigned)d;
        else if (strcmp(name, "dlq_growth_window_s") == 0)
            o->dlq_growth_window_s = d;
        else {
            PyErr_Format(PyExc_TypeError, "unknown coordinator option '%s'", name);
            return -1;
        }
        if (d < 0 && strcmp(name, "backoff_jitter") != 0) {
            PyErr_Format(PyExc_ValueError, "%s must be >= 0", name);
            return -1;
        }
    }
    return 0;
}

static PyObject *coord_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    const char *uri;
    PyObject *reg;
    if (!PyArg_ParseTuple(args, "sO!", &uri, &RegistryType, &reg))
        return NULL;
    am_coord_opts o = AM_COORD_OPTS_INIT;
    PyObject *cb = NULL;
    if (parse_opts(kw, &o, &cb) < 0)
        return NULL;
    CoordObject *self = (CoordObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->ev_lock, NULL);
    self->owner = getpid();
    Py_INCREF(reg);
    self->registry = reg;
    Py_XINCREF(cb);
    self->on_growth = cb;
    o.registry = ((RegistryObject *)reg)->reg;
    o.on_dlq_growth = on_growth;
    o.dlq_growth_userdata = self;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_open(uri, &o, &self->c);
    EXT_NOGIL_END
    if (rc) {
        PyObject *e = ext_raise(rc, "cannot open the coordinator");
        Py_DECREF(self);
        return e;
    }
    return (PyObject *)self;
}

static void coord_close_impl(CoordObject *self)
{
    am_coord *c = self->c;
    self->c = NULL;
    if (!c || ext_forked_since(self->owner))
        return;
    EXT_NOGIL_BEGIN
    am_coord_close(c);
    EXT_NOGIL_END
}

static void coord_dealloc(CoordObject *self)
{
    coord_close_impl(self);
    pthread_mutex_destroy(&self->ev_lock);
    Py_XDECREF(self->registry);
    Py_XDECREF(self->on_growth);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *coord_close(CoordObject *self, PyObject *noargs)
{
    (void)noargs;
    coord_close_impl(self);
    Py_RETURN_NONE;
}

static PyObject *coord_configure(CoordObject *self, PyObject *args, PyObject *kw)
{
    (void)args;
    if (usable(self) < 0)
        return NULL;
    am_coord_opts o = AM_COORD_OPTS_INIT;
    PyObject *cb = self->on_growth;
    if (parse_opts(kw, &o, &cb) < 0)
        return NULL;
    Py_XINCREF(cb);
    Py_XSETREF(self->on_growth, cb);
    o.on_dlq_growth = on_growth;
    o.dlq_growth_userdata = self;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_configure(self->c, &o);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *coord_register(CoordObject *self, PyObject *args)
{
    const char *agent;
    if (!PyArg_ParseTuple(args, "s", &agent) || usable(self) < 0)
        return NULL;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_register(self->c, agent);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ send */

static int msg_args(PyObject *args, PyObject *kw, bool broadcast, am_coord_msg *m,
                    Py_buffer *payload, const char **agent_type, am_trace_ctx *ctx, char *idbuf)
{
    static char *kw_send[] = {"from_", "to", "payload", "type", "id", "priority", "trace", NULL};
    static char *kw_bcast[] = {"from_", "payload",  "agent_type", "type",
                               "id",    "priority", "trace",      NULL};
    PyObject *tr = Py_None;
    int ok = broadcast
                 ? PyArg_ParseTupleAndKeywords(args, kw, "ss*|zzziO", kw_bcast, &m->from, payload,
                                               agent_type, &m->type, &m->id, &m->priority, &tr)
                 : PyArg_ParseTupleAndKeywords(args, kw, "sss*|zziO", kw_send, &m->from, &m->to,
                                               payload, &m->type, &m->id, &m->priority, &tr);
    if (!ok)
        return -1;
    m->payload = payload->buf;
    m->len = (size_t)payload->len;
    bool has;
    if (ext_trace_arg(tr, ctx, &has) < 0) {
        PyBuffer_Release(payload);
        return -1;
    }
    /* No context: an invalid one, so the thread's (never set by Python
       code) is not used either. */
    if (!has)
        *ctx = (am_trace_ctx)AM_TRACE_CTX_INIT;
    m->trace = ctx;
    if (!m->id) {
        am_trace_ctx r;
        am_trace_new(&r);
        am_trace_id_hex(&r, idbuf);
        m->id = idbuf;
    }
    return 0;
}

static PyObject *coord_send(CoordObject *self, PyObject *args, PyObject *kw)
{
    if (usable(self) < 0)
        return NULL;
    am_coord_msg m = AM_COORD_MSG_INIT;
    Py_buffer payload;
    am_trace_ctx ctx;
    char idbuf[AM_TRACE_ID_HEX + 1];
    if (msg_args(args, kw, false, &m, &payload, NULL, &ctx, idbuf) < 0)
        return NULL;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_send(self->c, &m);
    EXT_NOGIL_END
    PyObject *out = rc ? ext_raise(rc, NULL) : PyUnicode_FromString(m.id);
    PyBuffer_Release(&payload);
    return out;
}

static PyObject *coord_broadcast(CoordObject *self, PyObject *args, PyObject *kw)
{
    if (usable(self) < 0)
        return NULL;
    am_coord_msg m = AM_COORD_MSG_INIT;
    Py_buffer payload;
    am_trace_ctx ctx;
    const char *agent_type = NULL;
    char idbuf[AM_TRACE_ID_HEX + 1];
    if (msg_args(args, kw, true, &m, &payload, &agent_type, &ctx, idbuf) < 0)
        return NULL;
    size_t n = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_broadcast(self->c, &m, agent_type, &n);
    EXT_NOGIL_END
    PyBuffer_Release(&payload);
    /* AM_EFULL/AM_EEXIST: the others were served; say how many. */
    if (rc && rc != AM_EFULL && rc != AM_EEXIST)
        return ext_raise(rc, NULL);
    return PyLong_FromSize_t(n);
}

/* ------------------------------------------------------------ receive */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PyObject *wrap_delivery(CoordObject *self, am_coord_delivery *d)
{
    DeliveryObject *o = PyObject_GC_New(DeliveryObject, &DeliveryType);
    if (!o) {
        am_coord_delivery_free(d);
        return NULL;
    }
    o->d = d;
    o->dict = NULL;
    Py_INCREF(self);
    o->coord = (PyObject *)self;
    PyObject_GC_Track(o);
    return (PyObject *)o;
}

/* receive(agent, wait_s=0, visibility_s=0, cancel=None) -> Delivery | None */
static PyObject *coord_receive(CoordObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"agent", "wait_s", "visibility_s", "cancel", NULL};
    const char *agent;
    double wait_s = 0, vis = 0;
    PyObject *cancel = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|ddO", kwlist, &agent, &wait_s, &vis, &cancel) ||
        usable(self) < 0)
        return NULL;
    if (!(wait_s >= 0) || !(vis >= 0))
        return PyErr_Format(PyExc_ValueError, "wait_s and visibility_s must be >= 0");
    double deadline = now_s() + wait_s;
    for (;;) {
        double left = deadline - now_s();
        double slice = left < WAIT_SLICE_S ? (left > 0 ? left : 0) : WAIT_SLICE_S;
        am_coord_delivery *d = NULL;
        am_err rc;
        EXT_NOGIL_BEGIN
        rc = am_coord_receive(self->c, agent, vis, slice, &d);
        EXT_NOGIL_END
        deliver_events(self);
        if (rc == AM_OK)
            return wrap_delivery(self, d);
        if (rc != AM_ETIMEDOUT)
            return ext_raise(rc, NULL);
        if (now_s() >= deadline)
            Py_RETURN_NONE;
        if (PyErr_CheckSignals() < 0)
            return NULL;
        if (cancel != Py_None) {
            PyObject *r = PyObject_CallMethod(cancel, "is_set", NULL);
            if (!r)
                return NULL;
            int stop = PyObject_IsTrue(r);
            Py_DECREF(r);
            if (stop)
                Py_RETURN_NONE;
        }
    }
}

static DeliveryObject *delivery_arg(CoordObject *self, PyObject *o)
{
    if (!PyObject_TypeCheck(o, &DeliveryType)) {
        PyErr_SetString(PyExc_TypeError, "expected a Delivery");
        return NULL;
    }
    DeliveryObject *d = (DeliveryObject *)o;
    if (d->coord != (PyObject *)self) {
        PyErr_SetString(PyExc_ValueError, "this delivery came from another coordinator");
        return NULL;
    }
    return d;
}

/* True when settled, False when the reservation was no longer held. */
static PyObject *settled(CoordObject *self, am_err rc)
{
    deliver_events(self);
    if (rc == AM_ENOTFOUND)
        Py_RETURN_FALSE;
    if (rc)
        return ext_raise(rc, NULL);
    Py_RETURN_TRUE;
}

static PyObject *coord_ack(CoordObject *self, PyObject *arg)
{
    DeliveryObject *d;
    if (usable(self) < 0 || !(d = delivery_arg(self, arg)))
        return NULL;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_ack(self->c, d->d);
    EXT_NOGIL_END
    return settled(self, rc);
}

static PyObject *coord_nack(CoordObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"delivery", "permanent", "error", NULL};
    PyObject *o;
    int permanent = 0;
    const char *error = NULL;
    DeliveryObject *d;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pz", kwlist, &o, &permanent, &error) ||
        usable(self) < 0 || !(d = delivery_arg(self, o)))
        return NULL;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_nack(self->c, d->d, permanent, error);
    EXT_NOGIL_END
    return settled(self, rc);
}

static PyObject *coord_recover(CoordObject *self, PyObject *noargs)
{
    (void)noargs;
    if (usable(self) < 0)
        return NULL;
    size_t n = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_recover(self->c, &n);
    EXT_NOGIL_END
    deliver_events(self);
    if (rc)
        return ext_raise(rc, NULL);
    return PyLong_FromSize_t(n);
}

/* ------------------------------------------------------------ DLQ */

static PyObject *bytes_or_none(const void *p, size_t n)
{
    return PyBytes_FromStringAndSize(p ? p : "", (Py_ssize_t)n);
}

static PyObject *coord_dlq_list(CoordObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"agent", "max", NULL};
    const char *agent;
    Py_ssize_t max = 100;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|n", kwlist, &agent, &max) || usable(self) < 0)
        return NULL;
    if (max < 0)
        return PyErr_Format(PyExc_ValueError, "max must be >= 0");
    am_coord_dlq_entry *e = NULL;
    size_t n = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_dlq_list(self->c, agent, (size_t)max, &e, &n);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *row = Py_BuildValue(
            "{s:s,s:s,s:s,s:s,s:N,s:i,s:I,s:s,s:s,s:d}", "id", e[i].id, "from", e[i].from, "to",
            e[i].to, "type", e[i].type, "payload", bytes_or_none(e[i].payload, e[i].len),
            "priority", e[i].priority, "attempts", e[i].attempts, "reason", e[i].reason, "error",
            e[i].error ? e[i].error : "", "dead_at", e[i].dead_at);
        if (!row) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    am_coord_dlq_free(e, n);
    return list;
}

static PyObject *coord_dlq_replay(CoordObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"agent", "id", NULL};
    const char *agent, *id = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|z", kwlist, &agent, &id) || usable(self) < 0)
        return NULL;
    size_t n = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_dlq_replay(self->c, agent, id, &n);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    return PyLong_FromSize_t(n);
}

static PyObject *coord_dlq_purge(CoordObject *self, PyObject *args)
{
    const char *agent;
    if (!PyArg_ParseTuple(args, "s", &agent) || usable(self) < 0)
        return NULL;
    size_t n = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_dlq_purge(self->c, agent, &n);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    return PyLong_FromSize_t(n);
}

static PyObject *coord_stats(CoordObject *self, PyObject *args)
{
    const char *agent;
    if (!PyArg_ParseTuple(args, "s", &agent) || usable(self) < 0)
        return NULL;
    am_coord_stats st;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_agent_stats(self->c, agent, &st);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    return Py_BuildValue("{s:{s:n,s:n,s:n},s:n,s:n,s:n,s:{s:d,s:d,s:d}}", "queued", "1",
                         (Py_ssize_t)st.queued[0], "5", (Py_ssize_t)st.queued[1], "9",
                         (Py_ssize_t)st.queued[2], "delayed", (Py_ssize_t)st.delayed, "inflight",
                         (Py_ssize_t)st.inflight, "dlq", (Py_ssize_t)st.dlq, "oldest_age_s", "1",
                         st.oldest_age_s[0], "5", st.oldest_age_s[1], "9", st.oldest_age_s[2]);
}

static PyObject *coord_snapshot(CoordObject *self, PyObject *noargs)
{
    (void)noargs;
    if (usable(self) < 0)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_coord_snapshot(self->c, &text, &len);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    PyObject *s = PyUnicode_FromStringAndSize(text, (Py_ssize_t)len);
    am_free(text);
    return s;
}

static PyMethodDef coord_methods[] = {
    {"close", (PyCFunction)coord_close, METH_NOARGS, "Flush and close (idempotent)."},
    {"configure", (PyCFunction)(void (*)(void))coord_configure, METH_VARARGS | METH_KEYWORDS,
     "configure(**options): change the options of the open coordinator."},
    {"register", (PyCFunction)coord_register, METH_VARARGS, "register(agent)"},
    {"send", (PyCFunction)(void (*)(void))coord_send, METH_VARARGS | METH_KEYWORDS,
     "send(from_, to, payload, type=None, id=None, priority=5, trace=None) -> id"},
    {"broadcast", (PyCFunction)(void (*)(void))coord_broadcast, METH_VARARGS | METH_KEYWORDS,
     "broadcast(from_, payload, agent_type=None, type=None, id=None, priority=5, trace=None) "
     "-> copies sent"},
    {"receive", (PyCFunction)(void (*)(void))coord_receive, METH_VARARGS | METH_KEYWORDS,
     "receive(agent, wait_s=0, visibility_s=0, cancel=None) -> Delivery or None"},
    {"ack", (PyCFunction)coord_ack, METH_O, "ack(delivery) -> False if no longer held"},
    {"nack", (PyCFunction)(void (*)(void))coord_nack, METH_VARARGS | METH_KEYWORDS,
     "nack(delivery, permanent=False, error=None) -> False if no longer held"},
    {"recover", (PyCFunction)coord_recover, METH_NOARGS, "Requeue expired reservations."},
    {"dlq_list", (PyCFunction)(void (*)(void))coord_dlq_list, METH_VARARGS | METH_KEYWORDS,
     "dlq_list(agent, max=100) -> list of dicts"},
    {"dlq_replay", (PyCFunction)(void (*)(void))coord_dlq_replay, METH_VARARGS | METH_KEYWORDS,
     "dlq_replay(agent, id=None) -> n"},
    {"dlq_purge", (PyCFunction)coord_dlq_purge, METH_VARARGS, "dlq_purge(agent) -> n"},
    {"stats", (PyCFunction)coord_stats, METH_VARARGS, "stats(agent) -> dict"},
    {"snapshot", (PyCFunction)coord_snapshot, METH_NOARGS, "The messaging snapshot, JSON."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject CoordType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.Coordinator",
    .tp_basicsize = sizeof(CoordObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Coordinator(uri, registry, **options): libagentmon's message coordinator.",
    .tp_new = coord_new,
    .tp_dealloc = (destructor)coord_dealloc,
    .tp_methods = coord_methods,
};

/* ------------------------------------------------------------ Delivery */

static int delivery_traverse(DeliveryObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->coord);
    Py_VISIT(self->dict);
    return 0;
}

static int delivery_clear(DeliveryObject *self)
{
    Py_CLEAR(self->coord);
    Py_CLEAR(self->dict);
    return 0;
}

static void delivery_dealloc(DeliveryObject *self)
{
    PyObject_GC_UnTrack(self);
    am_coord_delivery_free(self->d);
    delivery_clear(self);
    PyObject_GC_Del(self);
}

#define D_STR(fn, field)                                                                           \
    static PyObject *fn(DeliveryObject *self, void *c)                                             \
    {                                                                                              \
        (void)c;                                                                                   \
        return PyUnicode_FromString(self->d->field ? self->d->field : "");                         \
    }
D_STR(d_id, id)
D_STR(d_from, from)
D_STR(d_to, to)
D_STR(d_type, type)
D_STR(d_token, token)

static PyObject *d_payload(DeliveryObject *self, void *c)
{
    (void)c;
    return bytes_or_none(self->d->payload, self->d->len);
}

static PyObject *d_priority(DeliveryObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->d->priority);
}

static PyObject *d_attempt(DeliveryObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->d->attempt);
}

static PyObject *d_time(DeliveryObject *self, void *c)
{
    const am_coord_delivery *d = self->d;
    uintptr_t which = (uintptr_t)c;
    return PyFloat_FromDouble(which == 0   ? d->enqueued_at
                              : which == 1 ? d->ready_at
                                           : d->received_at);
}

static PyObject *d_trace(DeliveryObject *self, void *c)
{
    (void)c;
    if (!am_trace_ctx_is_valid(&self->d->trace))
        Py_RETURN_NONE;
    TraceObject *t = PyObject_New(TraceObject, &TraceType);
    if (t)
        t->ctx = self->d->trace;
    return (PyObject *)t;
}

static PyObject *d_repr(DeliveryObject *self)
{
    return PyUnicode_FromFormat("Delivery(id=%s, from=%s, to=%s, type=%s, attempt=%u)", self->d->id,
                                self->d->from, self->d->to, self->d->type, self->d->attempt);
}

static PyGetSetDef delivery_getset[] = {
    {"id", (getter)d_id, NULL, "The message id.", NULL},
    {"from_", (getter)d_from, NULL, "The sender.", NULL},
    {"to", (getter)d_to, NULL, "The recipient.", NULL},
    {"type", (getter)d_type, NULL, "The message type.", NULL},
    {"token", (getter)d_token, NULL, "Names this reservation.", NULL},
    {"payload", (getter)d_payload, NULL, "The payload (bytes).", NULL},
    {"priority", (getter)d_priority, NULL, "1, 5 or 9.", NULL},
    {"attempt", (getter)d_attempt, NULL, "1 on the first delivery.", NULL},
    {"enqueued_at", (getter)d_time, NULL, "Unix seconds, when first sent.", (void *)0},
    {"ready_at", (getter)d_time, NULL, "When it last became deliverable.", (void *)1},
    {"received_at", (getter)d_time, NULL, "When this reservation was made.", (void *)2},
    {"trace", (getter)d_trace, NULL, "The sender's TraceContext, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject DeliveryType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.Delivery",
    .tp_basicsize = sizeof(DeliveryObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A received message, reserved until acked or nacked.",
    .tp_dealloc = (destructor)delivery_dealloc,
    .tp_traverse = (traverseproc)delivery_traverse,
    .tp_clear = (inquiry)delivery_clear,
    .tp_getset = delivery_getset,
    .tp_repr = (reprfunc)d_repr,
    .tp_dictoffset = offsetof(DeliveryObject, dict),
};

int ext_coord_init(PyObject *m)
{
    if (PyType_Ready(&CoordType) < 0 || PyType_Ready(&DeliveryType) < 0)
        return -1;
    Py_INCREF(&CoordType);
    Py_INCREF(&DeliveryType);
    if (PyModule_AddObject(m, "Coordinator", (PyObject *)&CoordType) < 0 ||
        PyModule_AddObject(m, "Delivery", (PyObject *)&DeliveryType) < 0)
        return -1;
    return PyModule_AddIntConstant(m, "PRIO_LOW", AM_PRIO_LOW) ||
           PyModule_AddIntConstant(m, "PRIO_NORMAL", AM_PRIO_NORMAL) ||
           PyModule_AddIntConstant(m, "PRIO_HIGH", AM_PRIO_HIGH);
}
