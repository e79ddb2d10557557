/*
** metric.c: the metric types -- Counter, Gauge, Histogram, Summary, Info
** and Enum as C base types that agentmon/metrics.py extends with
** prometheus_client's Python-level API.
**
** ONE OBJECT PER SERIES
** A MetricObject is either a family (what Counter(...) returns) or a child
** (what labels() returns); both are instances of the user's class, so
** everything prometheus_client offers on either works on both. Each holds a
** library handle h: a family without labels holds its only series, a
** labelled family holds the root handle that resolves label values
** (F_PARENT: recording on it is the error prometheus_client raises), a child
** holds its series. Recording is one call into the library with the GIL
** held: no lock of ours, no allocation.
**
** LABELS
** A labelled family keeps its children in a dict keyed by the tuple of
** label values, so labels() on an existing child costs a tuple and a dict
** lookup (the strings' hashes are cached by Python) and returns the same
** object every time, as prometheus_client does. A new label set goes to the
** library once (am_*_with, lock-free when it exists). Past the family's
** child limit the library answers with its overflow series (AM_ELIMIT):
** that child is kept once, not per label set, so the dict stays bounded
** too, and Python sees a ResourceWarning once per family.
**
** REMOVAL
** remove(), clear() and unregistering free series in the library, while
** Python code may still hold their objects. Before that, those objects are
** re-pointed at a graveyard series of their type (a private registry that
** is never exposed): recording on them is harmless and lost, as
** prometheus_client's removed children record into nothing visible.
**
** THREADS
** The GIL serialises every method here, so the dict and the flags need no
** lock; the library's handles are safe for the HTTP threads that encode
** concurrently.
*/
#include <math.h>
#include <stddef.h>

#include "ext.h"
#include "structmember.h"

enum { K_NONE, K_COUNTER, K_GAUGE, K_HISTOGRAM, K_SUMMARY, K_INFO, K_ENUM, K_N };

#define F_PARENT 0x1u   /* a labelled family: resolve labels, record nothing */
#define F_DETACHED 0x2u /* h points at the graveyard */
#define F_BOUND 0x4u    /* _bind() done */
#define F_WARNED 0x8u   /* the overflow warning was given */
#define F_SHM 0x10u     /* h is a shared-memory handle (am_shm_*) */
#define SHM(self) ((self)->flags & F_SHM)

typedef struct MetricObject {
    PyObject_HEAD void *h;
    unsigned flags;
    int kind;
    PyObject *dict;
    PyObject *weakrefs;
    struct MetricObject *parent; /* children: their family */
    PyObject *labelvalues;       /* tuple; () for a family */
    PyObject *labelnames;        /* tuple, shared with the children */
    Py_ssize_t n_labels;
    PyObject *children; /* labelled family: {values tuple: child} */
    PyObject *overflow; /* labelled family: its overflow child */
    PyObject *owner;    /* family: the Registry its family lives in */
    PyObject *states;   /* Enum family: tuple of state names */
    PyObject *name;     /* family: the registered (base) name */
} MetricObject;

static PyTypeObject MetricType, CounterType, GaugeType, HistogramType, SummaryType, InfoType,
    EnumType;

/* ------------------------------------------------------------------ */
/* Each kind's library calls, in one table                             */
/* ------------------------------------------------------------------ */

/*
** The typed calls of each kind behind one signature, so the code below
** dispatches on a table instead of a switch per operation. NULL where a
** kind has no such call (Info has no children; statesets and Info are not
** in shared memory).
*/
typedef struct kind_ops {
    am_err (*make)(am_registry *r, const am_metric_opts *o, void **out);
    am_err (*find)(am_registry *r, const char *name, void **out);
    am_err (*with)(void *h, const char *const *v, size_t n, void **out);
    am_err (*drop)(void *h, const char *const *v, size_t n);
    void (*clear)(void *h);
    am_err (*shm_make)(am_shm *s, const am_metric_opts *o, int mode, void **out);
    am_err (*shm_with)(void *h, const char *const *v, size_t n, void **out);
} kind_ops;

#define EXT_LOCAL_OPS(T)                                                                           \
    static am_err T##_make(am_registry *r, const am_metric_opts *o, void **out)                    \
    {                                                                                              \
        return am_##T##_new(r, o, (am_##T **)out);                                                 \
    }                                                                                              \
    static am_err T##_with(void *h, const char *const *v, size_t n, void **out)                    \
    {                                                                                              \
        return am_##T##_with(h, v, n, (am_##T **)out);                                             \
    }                                                                                              \
    static am_err T##_drop(void *h, const char *const *v, size_t n)                                \
    {                                                                                              \
        return am_##T##_remove(h, v, n);                                                           \
    }                                                                                              \
    static void T##_clear(void *h)                                                                 \
    {                                                                                              \
        am_##T##_clear(h);                                                                         \
    }
#define EXT_FIND_OP(T)                                                                             \
    static am_err T##_find(am_registry *r, const char *name, void **out)                           \
    {                                                                                              \
        return am_##T##_find(r, name, (am_##T **)out);                                             \
    }
#define EXT_SHM_OPS(T)                                                                             \
    static am_err T##_shm_with(void *h, const char *const *v, size_t n, void **out)                \
    {                                                                                              \
        return am_shm_##T##_with(h, v, n, (am_shm_##T **)out);                                     \
    }
EXT_LOCAL_OPS(counter)
EXT_LOCAL_OPS(gauge)
EXT_LOCAL_OPS(histogram)
EXT_LOCAL_OPS(summary)
EXT_LOCAL_OPS(stateset)
EXT_FIND_OP(counter)
EXT_FIND_OP(gauge)
EXT_FIND_OP(histogram)
EXT_FIND_OP(summary)
EXT_SHM_OPS(counter)
EXT_SHM_OPS(gauge)
EXT_SHM_OPS(histogram)
EXT_SHM_OPS(summary)

static am_err info_make(am_registry *r, const am_metric_opts *o, void **out)
{
    return am_info_new(r, o, (am_info **)out);
}

static am_err counter_shm_make(am_shm *s, const am_metric_opts *o, int mode, void **out)
{
    (void)mode;
    return am_shm_counter_new(s, o, (am_shm_counter **)out);
}

static am_err gauge_shm_make(am_shm *s, const am_metric_opts *o, int mode, void **out)
{
    return am_shm_gauge_new(s, o, (am_shm_gauge_mode)mode, (am_shm_gauge **)out);
}

static am_err histogram_shm_make(am_shm *s, const am_metric_opts *o, int mode, void **out)
{
    (void)mode;
    return am_shm_histogram_new(s, o, (am_shm_histogram **)out);
}

static am_err summary_shm_make(am_shm *s, const am_metric_opts *o, int mode, void **out)
{
    (void)mode;
    return am_shm_summary_new(s, o, (am_shm_summary **)out);
}

/* Info and statesets have no find: a gauge's tells whether the name is
   taken (AM_EINVAL: by another type). */
static const kind_ops OPS[K_N] = {
    [K_COUNTER] = {counter_make, counter_find, counter_with, counter_drop, counter_clear,
                   counter_shm_make, counter_shm_with},
    [K_GAUGE] = {gauge_make, gauge_find, gauge_with, gauge_drop, gauge_clear, gauge_shm_make,
                 gauge_shm_with},
    [K_HISTOGRAM] = {histogram_make, histogram_find, histogram_with, histogram_drop,
                     histogram_clear, histogram_shm_make, histogram_shm_with},
    [K_SUMMARY] = {summary_make, summary_find, summary_with, summary_drop, summary_clear,
                   summary_shm_make, summary_shm_with},
    [K_INFO] = {info_make, gauge_find, NULL, NULL, NULL, NULL, NULL},
    [K_ENUM] = {stateset_make, gauge_find, stateset_with, stateset_drop, stateset_clear, NULL,
                NULL},
};

/* ------------------------------------------------------------------ */
/* The graveyard                                                       */
/* ------------------------------------------------------------------ */

static am_registry *g_grave;
static void *g_grave_h[K_N];

static int grave_init(void)
{
    if (am_registry_new(&g_grave))
        return -1;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.help = "Series removed while Python still held them: never exposed.";
    static char names[AM_MAX_STATES][8];
    static const char *states[AM_MAX_STATES];
    for (int i = 0; i < AM_MAX_STATES; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        states[i] = names[i];
    }
    static const char *const names_of[K_N] = {
        [K_COUNTER] = "grave_counter", [K_GAUGE] = "grave_gauge", [K_HISTOGRAM] = "grave_histogram",
        [K_SUMMARY] = "grave_summary", [K_INFO] = "grave_info",   [K_ENUM] = "grave_enum"};
    o.states = states;
    am_err rc = AM_OK;
    for (int k = K_COUNTER; k < K_N && !rc; k++) {
        o.name = names_of[k];
        o.n_states = k == K_ENUM ? AM_MAX_STATES : 0;
        rc = OPS[k].make(g_grave, &o, &g_grave_h[k]);
    }
    return rc ? -1 : 0;
}

static void detach(MetricObject *m)
{
    m->h = g_grave_h[m->kind];
    m->flags |= F_DETACHED;
    m->flags &= ~(F_PARENT | F_SHM);
}

/* ------------------------------------------------------------------ */
/* Object basics                                                       */
/* ------------------------------------------------------------------ */

static int metric_traverse(MetricObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->dict);
    Py_VISIT(self->parent);
    Py_VISIT(self->labelvalues);
    Py_VISIT(self->labelnames);
    Py_VISIT(self->children);
    Py_VISIT(self->overflow);
    Py_VISIT(self->owner);
    Py_VISIT(self->states);
    Py_VISIT(self->name);
    return 0;
}

static int metric_clear(MetricObject *self)
{
    Py_CLEAR(self->dict);
    Py_CLEAR(self->parent);
    Py_CLEAR(self->labelvalues);
    Py_CLEAR(self->labelnames);
    Py_CLEAR(self->children);
    Py_CLEAR(self->overflow);
    Py_CLEAR(self->owner);
    Py_CLEAR(self->states);
    Py_CLEAR(self->name);
    return 0;
}

/* Python subclasses' subtype_dealloc calls this, then releases the type. */
static void metric_dealloc(MetricObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    metric_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *metric_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    MetricObject *self = (MetricObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->labelvalues = PyTuple_New(0);
    self->labelnames = PyTuple_New(0);
    if (!self->labelvalues || !self->labelnames) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int kind_of(PyObject *o)
{
    if (PyObject_TypeCheck(o, &CounterType))
        return K_COUNTER;
    if (PyObject_TypeCheck(o, &GaugeType))
        return K_GAUGE;
    if (PyObject_TypeCheck(o, &HistogramType))
        return K_HISTOGRAM;
    if (PyObject_TypeCheck(o, &SummaryType))
        return K_SUMMARY;
    if (PyObject_TypeCheck(o, &InfoType))
        return K_INFO;
    if (PyObject_TypeCheck(o, &EnumType))
        return K_ENUM;
    return K_NONE;
}

static const char *kind_word(int k)
{
    static const char *const w[] = {"metric",  "counter", "gauge", "histogram",
                                    "summary", "info",    "enum"};
    return k > K_NONE && k < K_N ? w[k] : w[0];
}

static PyObject *not_observable(MetricObject *self)
{
    if (!(self->flags & F_BOUND))
        PyErr_Format(PyExc_ValueError, "%s metric is not initialised", kind_word(self->kind));
    else
        PyErr_Format(PyExc_ValueError, "%s metric is missing label values", kind_word(self->kind));
    return NULL;
}

#define CHECK_OBSERVABLE(self)                                                                     \
    do {                                                                                           \
        if (__builtin_expect((self)->flags & F_PARENT || !(self)->h, 0))                           \
            return not_observable(self);                                                           \
    } while (0)

/* ------------------------------------------------------------------ */
/* _bind: make the family                                              */
/* ------------------------------------------------------------------ */

static int doubles_from(PyObject *seq, double *out, size_t cap, size_t *n)
{
    PyObject *fast = PySequence_Fast(seq, "buckets must be a sequence of numbers");
    if (!fast)
        return -1;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if ((size_t)len > cap) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "more than %zu buckets", cap);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        double d = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (d == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        out[i] = d;
    }
    *n = (size_t)len;
    Py_DECREF(fast);
    return 0;
}

/* Strings of a tuple of str as UTF-8 pointers borrowed from the tuple. */
static int strs_from(PyObject *tuple, const char **out, size_t cap)
{
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    if ((size_t)n > cap) {
        PyErr_Format(PyExc_ValueError, "more than %zu names", cap);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyTuple_GET_ITEM(tuple, i);
        if (!PyUnicode_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "names must be str");
            return -1;
        }
        if (!(out[i] = PyUnicode_AsUTF8(s)))
            return -1;
    }
    return 0;
}

/*
** _bind(registry, name, documentation, labelnames, unit, json_name,
**       buckets, states, max_children)
** Register the family in registry (a Registry); the name is the full name
** prometheus_client builds (counters without _total). Raises ValueError
** when the registry has this name already (prometheus_client's
** "Duplicated timeseries"), or for what the library refuses. adopt=True
** binds to an existing family of the same definition instead (a pack's).
*/
static PyObject *metric_bind(MetricObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"registry",  "name",    "documentation", "labelnames",   "unit",
                             "json_name", "buckets", "states",        "max_children", "adopt",
                             NULL};
    PyObject *owner, *labelnames, *buckets = Py_None, *states = Py_None, *name;
    const char *help, *unit = NULL, *json_name = NULL;
    Py_ssize_t max_children = 0;
    int adopt = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!UsO!|zzOOnp", kwlist, &RegistryType, &owner,
                                     &name, &help, &PyTuple_Type, &labelnames, &unit, &json_name,
                                     &buckets, &states, &max_children, &adopt))
        return NULL;
    if (self->flags & F_BOUND) {
        PyErr_SetString(PyExc_RuntimeError, "metric is bound already");
        return NULL;
    }
    if (max_children < 0) {
        PyErr_SetString(PyExc_ValueError, "max_children must be >= 0");
        return NULL;
    }
    int kind = kind_of((PyObject *)self);
    if (kind == K_NONE) {
        PyErr_SetString(PyExc_TypeError, "not a metric type");
        return NULL;
    }
    am_registry *reg = ((RegistryObject *)owner)->reg;
    const char *cname = PyUnicode_AsUTF8(name);
    if (!cname)
        return NULL;
    const char *lnames[AM_MAX_LABELS];
    if (strs_from(labelnames, lnames, AM_MAX_LABELS) < 0)
        return NULL;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = cname;
    o.help = help;
    o.unit = unit && *unit ? unit : NULL;
    o.json_name = json_name;
    o.label_names = lnames;
    o.n_labels = (size_t)PyTuple_GET_SIZE(labelnames);
    o.max_children = (size_t)max_children;
    double bounds[AM_MAX_BUCKETS + 1];
    const char *snames[AM_MAX_STATES];
    PyObject *state_tuple = NULL;
    if (kind == K_HISTOGRAM && buckets != Py_None) {
        size_t nb;
        if (doubles_from(buckets, bounds, AM_MAX_BUCKETS + 1, &nb) < 0)
            return NULL;
        if (nb == 0 || (nb == 1 && isinf(bounds[0]))) {
            PyErr_SetString(PyExc_ValueError, "Must have at least two buckets");
            return NULL;
        }
        o.buckets = bounds;
        o.n_buckets = nb;
    }
    if (kind == K_ENUM) {
        if (states == Py_None || !(state_tuple = PySequence_Tuple(states)))
            return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "No states");
        if (strs_from(state_tuple, snames, AM_MAX_STATES) < 0) {
            Py_DECREF(state_tuple);
            return NULL;
        }
        o.states = snames;
        o.n_states = (size_t)PyTuple_GET_SIZE(state_tuple);
    }
    /* adopt: the family exists (a pack made it) and this object is a view
       of it; am_*_new() returns it when the definition is the same. */
    void *found;
    am_err rc = adopt ? AM_ENOTFOUND : OPS[kind].find(reg, cname, &found);
    if (rc != AM_ENOTFOUND) {
        Py_XDECREF(state_tuple);
        if (rc == AM_ENOMEM)
            return PyErr_NoMemory();
        return PyErr_Format(PyExc_ValueError, "Duplicated timeseries in CollectorRegistry: {'%s'}",
                            cname);
    }
    void *h = NULL;
    rc = OPS[kind].make(reg, &o, &h);
    if (rc) {
        Py_XDECREF(state_tuple);
        if (rc == AM_EEXIST)
            return PyErr_Format(PyExc_ValueError,
                                "Duplicated timeseries in CollectorRegistry: {'%s'}", cname);
        return ext_raise(rc, "cannot create the metric");
    }
    self->kind = kind;
    self->h = h;
    self->flags |= F_BOUND;
    self->n_labels = o.n_labels;
    Py_INCREF(labelnames);
    Py_XSETREF(self->labelnames, labelnames);
    Py_INCREF(owner);
    Py_XSETREF(self->owner, owner);
    Py_INCREF(name);
    Py_XSETREF(self->name, name);
    Py_XSETREF(self->states, state_tuple);
    if (o.n_labels) {
        self->flags |= F_PARENT;
        if (!(self->children = PyDict_New()))
            return NULL;
    } else if (kind == K_ENUM) {
        am_stateset_select(h, 0); /* the first state is the default */
    }
    Py_RETURN_NONE;
}

/*
** _bind_shm(shm, name, documentation, labelnames, unit=None, buckets=None,
**           mode=0, max_children=0)
** The family in a shared-memory segment (agentmon.multiprocess): the same
** definition in every process gives the same family; another one raises
** ValueError. Counters, gauges (mode: an am_shm_gauge_mode), histograms and
** summaries.
*/
static PyObject *metric_bind_shm(MetricObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"shm",     "name", "documentation", "labelnames", "unit",
                             "buckets", "mode", "max_children",  "json_name",  NULL};
    PyObject *shm, *labelnames, *buckets = Py_None, *name;
    const char *help, *unit = NULL, *json_name = NULL;
    int mode = 0;
    Py_ssize_t max_children = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OUsO!|zOinz", kwlist, &shm, &name, &help,
                                     &PyTuple_Type, &labelnames, &unit, &buckets, &mode,
                                     &max_children, &json_name))
        return NULL;
    struct am_shm *seg = ext_shm_of(shm);
    if (!seg)
        return NULL;
    if (self->flags & F_BOUND)
        return PyErr_Format(PyExc_RuntimeError, "metric is bound already");
    int kind = kind_of((PyObject *)self);
    if (kind != K_COUNTER && kind != K_GAUGE && kind != K_HISTOGRAM && kind != K_SUMMARY)
        return PyErr_Format(PyExc_TypeError, "%s metrics are not multi-process", kind_word(kind));
    if (max_children < 0)
        return PyErr_Format(PyExc_ValueError, "max_children must be >= 0");
    const char *lnames[AM_MAX_LABELS];
    if (strs_from(labelnames, lnames, AM_MAX_LABELS) < 0)
        return NULL;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    if (!(o.name = PyUnicode_AsUTF8(name)))
        return NULL;
    o.help = help;
    o.unit = unit && *unit ? unit : NULL;
    o.json_name = json_name;
    o.label_names = lnames;
    o.n_labels = (size_t)PyTuple_GET_SIZE(labelnames);
    o.max_children = (size_t)max_children;
    double bounds[AM_MAX_BUCKETS + 1];
    if (kind == K_HISTOGRAM && buckets != Py_None) {
        size_t nb;
        if (doubles_from(buckets, bounds, AM_MAX_BUCKETS + 1, &nb) < 0)
            return NULL;
        o.buckets = bounds;
        o.n_buckets = nb;
    }
    void *h = NULL;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = OPS[kind].shm_make(seg, &o, mode, &h);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, "cannot make the shared metric");
    self->kind = kind;
    self->h = h;
    self->flags |= F_BOUND | F_SHM;
    self->n_labels = o.n_labels;
    Py_INCREF(labelnames);
    Py_XSETREF(self->labelnames, labelnames);
    Py_INCREF(shm);
    Py_XSETREF(self->owner, shm);
    Py_INCREF(name);
    Py_XSETREF(self->name, name);
    if (o.n_labels) {
        self->flags |= F_PARENT;
        if (!(self->children = PyDict_New()))
            return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* labels(), remove(), clear()                                         */
/* ------------------------------------------------------------------ */

static am_err resolve(MetricObject *fam, const char *const *v, size_t n, void **out)
{
    const kind_ops *ops = &OPS[fam->kind];
    am_err (*with)(void *, const char *const *, size_t, void **) =
        SHM(fam) ? ops->shm_with : ops->with;
    return with ? with(fam->h, v, n, out) : AM_EMISUSE; /* labelled Info: metrics.py */
}

static am_err drop(MetricObject *fam, const char *const *v, size_t n)
{
    return OPS[fam->kind].drop ? OPS[fam->kind].drop(fam->h, v, n) : AM_EMISUSE;
}

static void drop_all(MetricObject *fam)
{
    if (OPS[fam->kind].clear)
        OPS[fam->kind].clear(fam->h);
}

static MetricObject *new_child(MetricObject *fam, void *h, PyObject *values)
{
    MetricObject *c = (MetricObject *)Py_TYPE(fam)->tp_alloc(Py_TYPE(fam), 0);
    if (!c)
        return NULL;
    c->h = h;
    c->kind = fam->kind;
    c->flags = F_BOUND | (fam->flags & (F_DETACHED | F_SHM));
    Py_INCREF(fam);
    c->parent = fam;
    Py_INCREF(values);
    c->labelvalues = values;
    Py_INCREF(fam->labelnames);
    c->labelnames = fam->labelnames;
    c->n_labels = fam->n_labels;
    return c;
}

/* The values of key (a tuple of str) as UTF-8, borrowed from key. */
static int key_strings(PyObject *key, const char **v)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++) {
        Py_ssize_t len;
        v[i] = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(key, i), &len);
        if (!v[i])
            return -1;
        if (strlen(v[i]) != (size_t)len) {
            PyErr_SetString(PyExc_ValueError, "label value contains a NUL character");
            return -1;
        }
    }
    return 0;
}

/* A child for a key not in the dict yet; takes key. */
static PyObject *make_child(MetricObject *self, PyObject *key)
{
    if (self->flags & F_DETACHED) { /* unregistered: nothing to resolve */
        PyObject *c = (PyObject *)new_child(self, g_grave_h[self->kind], key);
        Py_DECREF(key);
        return c;
    }
    const char *v[AM_MAX_LABELS];
    if (key_strings(key, v) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    void *h;
    am_err rc = resolve(self, v, (size_t)self->n_labels, &h);
    if (rc == AM_ELIMIT) {
        Py_DECREF(key);
        if (!self->overflow) {
            PyObject *ov = PyTuple_New(self->n_labels);
            if (!ov)
                return NULL;
            for (Py_ssize_t i = 0; i < self->n_labels; i++)
                PyTuple_SET_ITEM(ov, i, PyUnicode_FromString("__overflow__"));
            self->overflow = (PyObject *)new_child(self, h, ov);
            Py_DECREF(ov);
            if (!self->overflow)
                return NULL;
            if (self->kind == K_ENUM)
                am_stateset_select(h, 0);
        }
        if (!(self->flags & F_WARNED)) {
            self->flags |= F_WARNED;
            if (PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                                 "metric %U has reached its limit of label sets (max_children); "
                                 "new ones are recorded in its __overflow__ series and counted "
                                 "in agentmon_cardinality_overflow_total",
                                 self->name) < 0)
                return NULL;
        }
        Py_INCREF(self->overflow);
        return self->overflow;
    }
    if (rc) {
        Py_DECREF(key);
        return ext_raise(rc, "cannot make the series");
    }
    MetricObject *c = new_child(self, h, key);
    if (c && self->kind == K_ENUM)
        am_stateset_select(h, 0);
    if (c && PyDict_SetItem(self->children, key, (PyObject *)c) < 0)
        Py_CLEAR(c);
    Py_DECREF(key);
    return (PyObject *)c;
}

static PyObject *str_of(PyObject *o)
{
    if (PyUnicode_CheckExact(o)) {
        Py_INCREF(o);
        return o;
    }
    return PyObject_Str(o);
}

static PyObject *no_labels_error(MetricObject *self)
{
    if (!(self->flags & F_BOUND))
        return not_observable(self);
    if (self->parent)
        return PyErr_Format(PyExc_ValueError,
                            "%s:%U already has labels set (%R); can not chain calls to .labels()",
                            kind_word(self->kind), self->parent->name, self->labelvalues);
    return PyErr_Format(PyExc_ValueError, "No label names were set when constructing %s:%U",
                        kind_word(self->kind), self->name);
}

static PyObject *metric_labels(MetricObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    if (!self->children)
        return no_labels_error(self);
    Py_ssize_t n = self->n_labels, nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *key = PyTuple_New(n);
    if (!key)
        return NULL;
    if (nk == 0) {
        if (nargs != n) {
            Py_DECREF(key);
            return PyErr_Format(PyExc_ValueError, "Incorrect label count");
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *s = str_of(args[i]);
            if (!s) {
                Py_DECREF(key);
                return NULL;
            }
            PyTuple_SET_ITEM(key, i, s);
        }
    } else {
        if (nargs) {
            Py_DECREF(key);
            return PyErr_Format(PyExc_ValueError, "Can't pass both *args and **kwargs");
        }
        if (nk != n) {
            Py_DECREF(key);
            return PyErr_Format(PyExc_ValueError, "Incorrect label names");
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *want = PyTuple_GET_ITEM(self->labelnames, i), *val = NULL;
            for (Py_ssize_t j = 0; j < nk && !val; j++) {
                PyObject *k = PyTuple_GET_ITEM(kwnames, j);
                if (k == want || PyUnicode_Compare(k, want) == 0)
                    val = args[j];
            }
            PyObject *s = val ? str_of(val) : NULL;
            if (!s) {
                Py_DECREF(key);
                return val ? NULL : PyErr_Format(PyExc_ValueError, "Incorrect label names");
            }
            PyTuple_SET_ITEM(key, i, s);
        }
    }
    PyObject *child = PyDict_GetItemWithError(self->children, key);
    if (child) {
        Py_INCREF(child);
        Py_DECREF(key);
        return child;
    }
    if (PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    return make_child(self, key);
}

static PyObject *no_removal(void)
{
    PyErr_SetString(PyExc_NotImplementedError,
                    "series in shared memory cannot be removed: other processes record into "
                    "them (agentmon.multiprocess)");
    return NULL;
}

static PyObject *metric_remove(MetricObject *self, PyObject *args)
{
    if (!self->children)
        return no_labels_error(self);
    if (SHM(self))
        return no_removal();
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n != self->n_labels)
        return PyErr_Format(PyExc_ValueError, "Incorrect label count (expected %zd, got %R)",
                            self->n_labels, args);
    PyObject *key = PyTuple_New(n);
    if (!key)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = str_of(PyTuple_GET_ITEM(args, i));
        if (!s) {
            Py_DECREF(key);
            return NULL;
        }
        PyTuple_SET_ITEM(key, i, s);
    }
    PyObject *child = PyDict_GetItemWithError(self->children, key);
    if (!child) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, key);
        Py_DECREF(key);
        return NULL;
    }
    const char *v[AM_MAX_LABELS];
    if (key_strings(key, v) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    detach((MetricObject *)child);
    if (!(self->flags & F_DETACHED))
        drop(self, v, (size_t)n);
    int rc = PyDict_DelItem(self->children, key);
    Py_DECREF(key);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static void detach_children(MetricObject *self)
{
    if (self->children) {
        Py_ssize_t pos = 0;
        PyObject *k, *c;
        while (PyDict_Next(self->children, &pos, &k, &c))
            detach((MetricObject *)c);
    }
    if (self->overflow)
        detach((MetricObject *)self->overflow);
}

static PyObject *metric_clear_children(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    if (!self->children)
        Py_RETURN_NONE; /* prometheus_client: a no-op without labels */
    if (SHM(self))
        return no_removal();
    detach_children(self);
    if (!(self->flags & F_DETACHED))
        drop_all(self);
    PyDict_Clear(self->children);
    Py_CLEAR(self->overflow);
    Py_RETURN_NONE;
}

/* _unbind(): the family leaves its registry; every object recording into
   it records into the graveyard from now on. */
static PyObject *metric_unbind(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    if (!(self->flags & F_BOUND) || self->parent || (self->flags & F_DETACHED))
        Py_RETURN_NONE;
    if (SHM(self))
        Py_RETURN_NONE; /* the segment's family stays: other processes use it */
    detach_children(self);
    bool had_children = self->children != NULL;
    detach(self);
    if (had_children)
        self->flags |= F_DETACHED; /* labels() keeps working, detached */
    const char *cname = PyUnicode_AsUTF8(self->name);
    if (!cname)
        return NULL;
    am_registry_unregister(((RegistryObject *)self->owner)->reg, cname);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* Recording                                                           */
/* ------------------------------------------------------------------ */

/* Up to 2 arguments by position or name into out[]; 0 or -1. */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      const char *const *names, Py_ssize_t n, PyObject **out)
{
    if (nargs > n)
        return PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", fname,
                            n, nargs),
               -1;
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    Py_ssize_t nk = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t j = 0; j < nk; j++) {
        const char *k = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, j));
        Py_ssize_t i = 0;
        while (k && i < n && strcmp(k, names[i]) != 0)
            i++;
        if (!k || i == n)
            return PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'",
                                fname, k ? k : "?"),
                   -1;
        if (out[i])
            return PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                                fname, names[i]),
                   -1;
        out[i] = args[nargs + j];
    }
    return 0;
}

static inline int as_double(PyObject *o, double *d)
{
    if (PyFloat_CheckExact(o)) {
        *d = PyFloat_AS_DOUBLE(o);
        return 0;
    }
    *d = PyFloat_AsDouble(o);
    return *d == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* float(value), as prometheus_client's Gauge.set does (accepts "1.5"). */
static int as_double_loose(PyObject *o, double *d)
{
    if (PyFloat_Check(o) || PyLong_Check(o))
        return as_double(o, d);
    PyObject *f = PyNumber_Float(o);
    if (!f)
        return -1;
    *d = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 0;
}

static PyObject *check(am_err rc)
{
    if (rc && rc != AM_ENOMEM) /* ENOMEM from an exemplar: the value counted */
        return ext_raise(rc, NULL);
    Py_RETURN_NONE;
}

static am_err counter_add(MetricObject *self, double v)
{
    return SHM(self) ? am_shm_counter_add(self->h, v) : am_counter_add(self->h, v);
}

static am_err counter_add_ex(MetricObject *self, double v, const am_labels *ex)
{
    return SHM(self) ? am_shm_counter_add_exemplar(self->h, v, ex)
                     : am_counter_add_exemplar(self->h, v, ex);
}

static PyObject *counter_inc(MetricObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    CHECK_OBSERVABLE(self);
    if (nargs == 0 && !kwnames) {
        if (SHM(self))
            am_shm_counter_inc(self->h);
        else
            am_counter_inc(self->h);
        Py_RETURN_NONE;
    }
    static const char *const names[] = {"amount", "exemplar"};
    PyObject *a[2] = {NULL, NULL};
    double v = 1;
    if (parse_args("inc", args, nargs, kwnames, names, 2, a) < 0 ||
        (a[0] && as_double(a[0], &v) < 0))
        return NULL;
    if (v < 0)
        return PyErr_Format(PyExc_ValueError,
                            "Counters can only be incremented by non-negative amounts.");
    if (a[1] && a[1] != Py_None && PyObject_IsTrue(a[1])) {
        ext_labels ex;
        if (ext_labels_from_dict(a[1], &ex) < 0)
            return NULL;
        am_err rc = counter_add_ex(self, v, &ex.labels);
        ext_labels_release(&ex);
        return check(rc);
    }
    return check(counter_add(self, v));
}

static PyObject *counter_inc_traced(MetricObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    CHECK_OBSERVABLE(self);
    double v = 1;
    if (nargs > 1)
        return PyErr_Format(PyExc_TypeError, "inc_traced() takes at most 1 argument");
    if (nargs == 1 && as_double(args[0], &v) < 0)
        return NULL;
    if (v < 0)
        return PyErr_Format(PyExc_ValueError,
                            "Counters can only be incremented by non-negative amounts.");
    bool failed = false;
    const am_trace_ctx *ctx = ext_trace_current(&failed);
    if (failed)
        return NULL;
    ext_trace_ex ex;
    if (ctx && ext_trace_exemplar(ctx, &ex))
        return check(counter_add_ex(self, v, &ex.labels));
    return check(counter_add(self, v));
}

static PyObject *counter_get(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    CHECK_OBSERVABLE(self);
    return PyFloat_FromDouble(SHM(self) ? am_shm_counter_value(self->h)
                                        : am_counter_value(self->h));
}

static void gauge_add(MetricObject *self, double v)
{
    if (SHM(self))
        am_shm_gauge_add(self->h, v);
    else
        am_gauge_add(self->h, v);
}

static void gauge_set_value(MetricObject *self, double v)
{
    if (SHM(self))
        am_shm_gauge_set(self->h, v);
    else
        am_gauge_set(self->h, v);
}

static PyObject *gauge_amount(MetricObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames, double sign, const char *fname)
{
    CHECK_OBSERVABLE(self);
    if (nargs == 0 && !kwnames) {
        gauge_add(self, sign);
        Py_RETURN_NONE;
    }
    static const char *const names[] = {"amount"};
    PyObject *a[1] = {NULL};
    double v = 1;
    if (parse_args(fname, args, nargs, kwnames, names, 1, a) < 0 ||
        (a[0] && as_double(a[0], &v) < 0))
        return NULL;
    gauge_add(self, sign * v);
    Py_RETURN_NONE;
}

static PyObject *gauge_inc(MetricObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    return gauge_amount(self, args, nargs, kwnames, 1.0, "inc");
}

static PyObject *gauge_dec(MetricObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    return gauge_amount(self, args, nargs, kwnames, -1.0, "dec");
}

static PyObject *gauge_set(MetricObject *self, PyObject *value)
{
    CHECK_OBSERVABLE(self);
    double v;
    if (as_double_loose(value, &v) < 0)
        return NULL;
    gauge_set_value(self, v);
    Py_RETURN_NONE;
}

static PyObject *gauge_set_now(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    CHECK_OBSERVABLE(self);
    gauge_set_value(self, am_unix_time());
    Py_RETURN_NONE;
}

static PyObject *gauge_get(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    CHECK_OBSERVABLE(self);
    return PyFloat_FromDouble(SHM(self) ? am_shm_gauge_value(self->h) : am_gauge_value(self->h));
}

static void hist_observe(MetricObject *self, double v)
{
    if (SHM(self))
        am_shm_histogram_observe(self->h, v);
    else
        am_histogram_observe(self->h, v);
}

static am_err hist_observe_ex(MetricObject *self, double v, const am_labels *ex)
{
    return SHM(self) ? am_shm_histogram_observe_exemplar(self->h, v, ex)
                     : am_histogram_observe_exemplar(self->h, v, ex);
}

static PyObject *histogram_observe(MetricObject *self, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    CHECK_OBSERVABLE(self);
    double v;
    if (nargs == 1 && !kwnames) {
        if (as_double(args[0], &v) < 0)
            return NULL;
        hist_observe(self, v);
        Py_RETURN_NONE;
    }
    static const char *const names[] = {"amount", "exemplar"};
    PyObject *a[2] = {NULL, NULL};
    if (parse_args("observe", args, nargs, kwnames, names, 2, a) < 0)
        return NULL;
    if (!a[0])
        return PyErr_Format(PyExc_TypeError, "observe() missing required argument 'amount'");
    if (as_double(a[0], &v) < 0)
        return NULL;
    if (a[1] && a[1] != Py_None && PyObject_IsTrue(a[1])) {
        ext_labels ex;
        if (ext_labels_from_dict(a[1], &ex) < 0)
            return NULL;
        am_err rc = hist_observe_ex(self, v, &ex.labels);
        ext_labels_release(&ex);
        return check(rc);
    }
    hist_observe(self, v);
    Py_RETURN_NONE;
}

static PyObject *histogram_observe_traced(MetricObject *self, PyObject *arg)
{
    CHECK_OBSERVABLE(self);
    double v;
    if (as_double(arg, &v) < 0)
        return NULL;
    bool failed = false;
    const am_trace_ctx *ctx = ext_trace_current(&failed);
    if (failed)
        return NULL;
    ext_trace_ex ex;
    if (ctx && ext_trace_exemplar(ctx, &ex))
        return check(hist_observe_ex(self, v, &ex.labels));
    hist_observe(self, v);
    Py_RETURN_NONE;
}

static PyObject *histogram_read(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    CHECK_OBSERVABLE(self);
    size_t nb = SHM(self) ? am_shm_histogram_n_buckets(self->h) : am_histogram_n_buckets(self->h);
    uint64_t count, b[AM_MAX_BUCKETS + 1];
    double sum;
    if (SHM(self))
        am_shm_histogram_read(self->h, &count, &sum, b);
    else
        am_histogram_read(self->h, &count, &sum, b);
    PyObject *t = PyTuple_New((Py_ssize_t)nb + 1);
    if (!t)
        return NULL;
    for (size_t i = 0; i <= nb; i++)
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, PyFloat_FromDouble((double)b[i]));
    return Py_BuildValue("(dN)", sum, t);
}

static PyObject *histogram_bounds(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    if (!(self->flags & F_BOUND))
        return not_observable(self);
    size_t nb = SHM(self) ? am_shm_histogram_n_buckets(self->h) : am_histogram_n_buckets(self->h);
    const double *b = SHM(self) ? am_shm_histogram_bounds(self->h) : am_histogram_bounds(self->h);
    PyObject *t = PyTuple_New((Py_ssize_t)nb);
    for (size_t i = 0; t && i < nb; i++)
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, PyFloat_FromDouble(b[i]));
    return t;
}

static PyObject *summary_observe(MetricObject *self, PyObject *const *args, Py_ssize_t nargs,
                                 PyObject *kwnames)
{
    CHECK_OBSERVABLE(self);
    static const char *const names[] = {"amount"};
    PyObject *a[1] = {NULL};
    double v;
    if (nargs == 1 && !kwnames)
        a[0] = args[0];
    else if (parse_args("observe", args, nargs, kwnames, names, 1, a) < 0)
        return NULL;
    if (!a[0])
        return PyErr_Format(PyExc_TypeError, "observe() missing required argument 'amount'");
    if (as_double(a[0], &v) < 0)
        return NULL;
    if (SHM(self))
        am_shm_summary_observe(self->h, v);
    else
        am_summary_observe(self->h, v);
    Py_RETURN_NONE;
}

static PyObject *summary_read(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    CHECK_OBSERVABLE(self);
    uint64_t count;
    double sum;
    if (SHM(self))
        am_shm_summary_read(self->h, &count, &sum);
    else
        am_summary_read(self->h, &count, &sum);
    return Py_BuildValue("(dd)", (double)count, sum);
}

static PyObject *info_set(MetricObject *self, PyObject *d)
{
    CHECK_OBSERVABLE(self);
    ext_labels l;
    if (ext_labels_from_dict(d, &l) < 0)
        return NULL;
    am_err rc = am_info_set(self->h, &l.labels);
    ext_labels_release(&l);
    if (rc)
        return ext_raise(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *enum_states(MetricObject *self)
{
    MetricObject *fam = self->parent ? self->parent : self;
    return fam->states;
}

static PyObject *enum_state(MetricObject *self, PyObject *state)
{
    CHECK_OBSERVABLE(self);
    PyObject *states = enum_states(self);
    Py_ssize_t n = PyTuple_GET_SIZE(states);
    for (Py_ssize_t i = 0; i < n; i++) {
        int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(states, i), state, Py_EQ);
        if (eq < 0)
            return NULL;
        if (eq) {
            am_stateset_select(self->h, (size_t)i);
            Py_RETURN_NONE;
        }
    }
    return PyErr_Format(PyExc_ValueError, "%R is not in list", state);
}

static PyObject *enum_get(MetricObject *self, PyObject *noargs)
{
    (void)noargs;
    CHECK_OBSERVABLE(self);
    PyObject *states = enum_states(self);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(states); i++)
        if (am_stateset_get(self->h, (size_t)i)) {
            PyObject *s = PyTuple_GET_ITEM(states, i);
            Py_INCREF(s);
            return s;
        }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

static PyObject *get_family(MetricObject *self, void *c)
{
    (void)c;
    PyObject *f = self->parent ? (PyObject *)self->parent : (PyObject *)self;
    Py_INCREF(f);
    return f;
}

static PyObject *get_flag(MetricObject *self, void *c)
{
    return PyBool_FromLong((self->flags & (unsigned)(uintptr_t)c) != 0);
}

static PyObject *get_kind(MetricObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(kind_word(self->kind));
}

static PyObject *get_children(MetricObject *self, void *c)
{
    (void)c;
    if (!self->children)
        return PyDict_New();
    return PyDict_Copy(self->children);
}

static PyMemberDef metric_members[] = {{"_labelvalues", T_OBJECT,
                                        offsetof(MetricObject, labelvalues), READONLY,
                                        "The label values of this child (() for a family)."},
                                       {"_labelnames", T_OBJECT, offsetof(MetricObject, labelnames),
                                        READONLY, "The family's label names."},
                                       {"_native_registry", T_OBJECT, offsetof(MetricObject, owner),
                                        READONLY, "The Registry the family lives in."},
                                       {NULL, 0, 0, 0, NULL}};

static PyGetSetDef metric_getset[] = {
    {"_family", (getter)get_family, NULL, "The family (self for a family).", NULL},
    {"_bound", (getter)get_flag, NULL, "Whether _bind() was done.", (void *)(uintptr_t)F_BOUND},
    {"_detached", (getter)get_flag, NULL, "Whether it records into the graveyard.",
     (void *)(uintptr_t)F_DETACHED},
    {"_is_parent", (getter)get_flag, NULL, "A labelled family (labels() needed).",
     (void *)(uintptr_t)F_PARENT},
    {"_is_shared", (getter)get_flag, NULL, "In a shared-memory segment (multi-process).",
     (void *)(uintptr_t)F_SHM},
    {"_native_kind", (getter)get_kind, NULL, "counter, gauge, ...", NULL},
    {"_children", (getter)get_children, NULL, "A copy of {label values: child}.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef metric_methods[] = {
    {"_bind", (PyCFunction)(void (*)(void))metric_bind, METH_VARARGS | METH_KEYWORDS,
     "_bind(registry, name, documentation, labelnames, unit=None, json_name=None, "
     "buckets=None, states=None, max_children=0): create the family."},
    {"_bind_shm", (PyCFunction)(void (*)(void))metric_bind_shm, METH_VARARGS | METH_KEYWORDS,
     "_bind_shm(shm, name, documentation, labelnames, unit=None, buckets=None, mode=0, "
     "max_children=0, json_name=None): the family in a shared-memory segment."},
    {"_unbind", (PyCFunction)metric_unbind, METH_NOARGS, "Remove the family from its registry."},
    {"labels", (PyCFunction)(void (*)(void))metric_labels, METH_FASTCALL | METH_KEYWORDS,
     "labels(*values) or labels(**values): the child for these label values."},
    {"remove", (PyCFunction)metric_remove, METH_VARARGS, "remove(*values): delete a child."},
    {"clear", (PyCFunction)metric_clear_children, METH_NOARGS, "Delete every child."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef counter_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))counter_inc, METH_FASTCALL | METH_KEYWORDS,
     "inc(amount=1, exemplar=None): add amount (finite, >= 0)."},
    {"inc_traced", (PyCFunction)(void (*)(void))counter_inc_traced, METH_FASTCALL,
     "inc_traced(amount=1): inc with the current trace (agentmon.trace) as the exemplar when "
     "it is sampled."},
    {"_get", (PyCFunction)counter_get, METH_NOARGS, "The current total."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef gauge_methods[] = {
    {"inc", (PyCFunction)(void (*)(void))gauge_inc, METH_FASTCALL | METH_KEYWORDS,
     "inc(amount=1)."},
    {"dec", (PyCFunction)(void (*)(void))gauge_dec, METH_FASTCALL | METH_KEYWORDS,
     "dec(amount=1)."},
    {"set", (PyCFunction)gauge_set, METH_O, "set(value)."},
    {"set_to_current_time", (PyCFunction)gauge_set_now, METH_NOARGS,
     "Set to the current unix time."},
    {"_get", (PyCFunction)gauge_get, METH_NOARGS, "The current value."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef histogram_methods[] = {
    {"observe", (PyCFunction)(void (*)(void))histogram_observe, METH_FASTCALL | METH_KEYWORDS,
     "observe(amount, exemplar=None)."},
    {"observe_traced", (PyCFunction)histogram_observe_traced, METH_O,
     "observe_traced(amount): observe with the current trace as the bucket's exemplar when it "
     "is sampled."},
    {"_read", (PyCFunction)histogram_read, METH_NOARGS,
     "(sum, cumulative bucket counts with +Inf last)."},
    {"_bounds", (PyCFunction)histogram_bounds, METH_NOARGS, "The finite upper bounds."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef summary_methods[] = {
    {"observe", (PyCFunction)(void (*)(void))summary_observe, METH_FASTCALL | METH_KEYWORDS,
     "observe(amount)."},
    {"_read", (PyCFunction)summary_read, METH_NOARGS, "(count, sum)."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef info_methods[] = {
    {"_set_info", (PyCFunction)info_set, METH_O, "Replace the key/value pairs."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef enum_methods[] = {
    {"state", (PyCFunction)enum_state, METH_O, "state(name): make name the current state."},
    {"_get", (PyCFunction)enum_get, METH_NOARGS, "The current state's name."},
    {NULL, NULL, 0, NULL}};

#define EXT_METRIC_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC)

static PyTypeObject MetricType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.Metric",
    .tp_basicsize = sizeof(MetricObject),
    .tp_flags = EXT_METRIC_FLAGS,
    .tp_doc = "The native part of every metric: a family or one of its children.",
    .tp_new = metric_new,
    .tp_dealloc = (destructor)metric_dealloc,
    .tp_traverse = (traverseproc)metric_traverse,
    .tp_clear = (inquiry)metric_clear,
    .tp_methods = metric_methods,
    .tp_members = metric_members,
    .tp_getset = metric_getset,
    .tp_dictoffset = offsetof(MetricObject, dict),
    .tp_weaklistoffset = offsetof(MetricObject, weakrefs),
};

#define EXT_KIND_TYPE(var, pyname, methods, doc)                                                   \
    static PyTypeObject var = {                                                                    \
        PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon." pyname,                     \
        .tp_basicsize = sizeof(MetricObject),                                                      \
        .tp_flags = EXT_METRIC_FLAGS,                                                              \
        .tp_doc = doc,                                                                             \
        .tp_base = &MetricType,                                                                    \
        .tp_methods = methods,                                                                     \
        .tp_traverse = (traverseproc)metric_traverse,                                              \
        .tp_clear = (inquiry)metric_clear,                                                         \
        .tp_dealloc = (destructor)metric_dealloc,                                                  \
    }

EXT_KIND_TYPE(CounterType, "CounterBase", counter_methods, "The native part of a Counter.");
EXT_KIND_TYPE(GaugeType, "GaugeBase", gauge_methods, "The native part of a Gauge.");
EXT_KIND_TYPE(HistogramType, "HistogramBase", histogram_methods, "The native part of a Histogram.");
EXT_KIND_TYPE(SummaryType, "SummaryBase", summary_methods, "The native part of a Summary.");
EXT_KIND_TYPE(InfoType, "InfoBase", info_methods, "The native part of an Info.");
EXT_KIND_TYPE(EnumType, "EnumBase", enum_methods, "The native part of an Enum.");

int ext_metric_init(PyObject *m)
{
    if (grave_init() < 0) {
        PyErr_SetString(PyExc_MemoryError, "cannot create the graveyard registry");
        return -1;
    }
    PyTypeObject *types[] = {&MetricType,  &CounterType, &GaugeType, &HistogramType,
                             &SummaryType, &InfoType,    &EnumType};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (PyType_Ready(types[i]) < 0)
            return -1;
        const char *dot = strrchr(types[i]->tp_name, '.');
        Py_INCREF(types[i]);
        if (PyModule_AddObject(m, dot + 1, (PyObject *)types[i]) < 0) {
            Py_DECREF(types[i]);
            return -1;
        }
    }
    return 0;
}
