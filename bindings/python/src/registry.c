/*
** registry.c: agentmon._agentmon.Registry -- a native registry and what a
** CollectorRegistry exposes with it.
**
** A CollectorRegistry (agentmon/registry.py) owns one Registry. Metrics
** made for it are families of its am_registry; metrics made with
** registry=None have an am_registry of their own, which a CollectorRegistry
** they are registered with later lists among its "extras"; a registry in
** multi-process mode lists the shared-memory segment; collectors only
** Python knows (custom collectors, gauges with set_function, labelled Info)
** are rendered by a Python callable. Python keeps these sources up to date
** with _set_sources(); encoders read them under src_lock (shared), which
** HTTP handler threads take too, so a source can never be freed while it
** is being encoded.
**
** Encoding: the Python part first (with the GIL), then the native part
** with the GIL released and inside the fork gate, then the two joined (for
** OpenMetrics, before the native text's "# EOF").
*/
#include "ext.h"

static PyObject *registry_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"default", NULL};
    int is_default = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p", kwlist, &is_default))
        return NULL;
    RegistryObject *self = (RegistryObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    pthread_rwlock_init(&self->src_lock, NULL);
    self->is_default = is_default;
    if (is_default) {
        self->reg = am_registry_default();
        if (!self->reg) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
    } else {
        am_err rc = am_registry_new(&self->reg);
        if (rc) {
            Py_DECREF(self);
            return ext_raise(rc, "cannot create a registry");
        }
    }
    return (PyObject *)self;
}

static int registry_traverse(RegistryObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->extras_refs);
    Py_VISIT(self->shm_ref);
    Py_VISIT(self->py_render);
    return 0;
}

static void clear_sources(RegistryObject *self)
{
    pthread_rwlock_wrlock(&self->src_lock);
    PyMem_Free(self->extras);
    self->extras = NULL;
    self->n_extras = 0;
    self->shm = NULL;
    pthread_rwlock_unlock(&self->src_lock);
}

static int registry_clear(RegistryObject *self)
{
    clear_sources(self);
    Py_CLEAR(self->extras_refs);
    Py_CLEAR(self->shm_ref);
    Py_CLEAR(self->py_render);
    return 0;
}

static void registry_dealloc(RegistryObject *self)
{
    PyObject_GC_UnTrack(self);
    registry_clear(self);
    if (self->reg && !self->is_default)
        am_registry_free(self->reg);
    pthread_rwlock_destroy(&self->src_lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Registry._set_sources(extras: tuple[Registry], shm, render) */
static PyObject *registry_set_sources(RegistryObject *self, PyObject *args)
{
    PyObject *extras, *shm, *render;
    if (!PyArg_ParseTuple(args, "O!OO", &PyTuple_Type, &extras, &shm, &render))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(extras);
    am_registry **regs = n ? PyMem_Calloc((size_t)n, sizeof *regs) : NULL;
    if (n && !regs)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(extras, i);
        if (!PyObject_TypeCheck(o, &RegistryType) || o == (PyObject *)self) {
            PyMem_Free(regs);
            PyErr_SetString(PyExc_TypeError, "extras must be other Registry objects");
            return NULL;
        }
        regs[i] = ((RegistryObject *)o)->reg;
    }
    struct am_shm *seg = NULL;
    if (shm != Py_None) {
        PyObject *cap = PyObject_GetAttrString(shm, "_capsule");
        if (!cap) {
            PyMem_Free(regs);
            return NULL;
        }
        seg = PyCapsule_GetPointer(cap, "agentmon.shm");
        Py_DECREF(cap);
        if (!seg) {
            PyMem_Free(regs);
            return NULL;
        }
    }
    if (render != Py_None && !PyCallable_Check(render)) {
        PyMem_Free(regs);
        PyErr_SetString(PyExc_TypeError, "render must be callable or None");
        return NULL;
    }
    /* Swap under the write lock: no encode sees half of it, and the old
       sources are released only once no encode uses them. */
    am_registry **old;
    Py_BEGIN_ALLOW_THREADS pthread_rwlock_wrlock(&self->src_lock);
    old = self->extras;
    self->extras = regs;
    self->n_extras = (size_t)n;
    self->shm = seg;
    pthread_rwlock_unlock(&self->src_lock);
    Py_END_ALLOW_THREADS PyMem_Free(old);
    Py_INCREF(extras);
    Py_XSETREF(self->extras_refs, extras);
    if (shm != Py_None) {
        Py_INCREF(shm);
        Py_XSETREF(self->shm_ref, shm);
    } else {
        Py_CLEAR(self->shm_ref);
    }
    if (render != Py_None) {
        Py_INCREF(render);
        Py_XSETREF(self->py_render, render);
    } else {
        Py_CLEAR(self->py_render);
    }
    Py_RETURN_NONE;
}

/* The native part; src_lock taken here. No GIL needed. */
static am_err encode_native(RegistryObject *r, am_format f, char **out, size_t *len)
{
    am_registry *stack[8];
    pthread_rwlock_rdlock(&r->src_lock);
    size_t n = 1 + r->n_extras;
    am_registry **regs = n <= 8 ? stack : PyMem_RawCalloc(n, sizeof *regs);
    am_err rc;
    if (!regs) {
        rc = AM_ENOMEM;
    } else {
        regs[0] = r->reg;
        for (size_t i = 0; i < r->n_extras; i++)
            regs[1 + i] = r->extras[i];
        if (r->shm)
            rc = ext_shm_encode(r->shm, regs, n, f, out, len);
        else
            rc = am_encode(regs, n, f, out, len);
        if (regs != stack)
            PyMem_RawFree(regs);
    }
    pthread_rwlock_unlock(&r->src_lock);
    return rc;
}

/*
** Join the native text (owned by the library) and the Python part before
** OpenMetrics' "# EOF". Returns a PyMem_Raw buffer (NUL-terminated) or NULL.
*/
static char *join(const char *native, size_t nlen, const char *py, size_t plen, am_format f,
                  size_t *len)
{
    static const char eof[] = "# EOF\n";
    size_t keep = nlen;
    bool om = f == AM_FORMAT_OPENMETRICS && nlen >= 6 && memcmp(native + nlen - 6, eof, 6) == 0;
    if (om)
        keep -= 6;
    size_t total = keep + plen + (om ? 6 : 0);
    char *o = PyMem_RawMalloc(total + 1);
    if (!o)
        return NULL;
    memcpy(o, native, keep);
    memcpy(o + keep, py, plen);
    if (om)
        memcpy(o + keep + plen, eof, 6);
    o[total] = '\0';
    *len = total;
    return o;
}

/* The Python part for format f: bytes (new reference), or NULL with an
   exception. GIL held. */
static PyObject *render_python(RegistryObject *r, am_format f)
{
    if (!r->py_render || f == AM_FORMAT_JSON)
        return PyBytes_FromStringAndSize("", 0);
    PyObject *b = PyObject_CallFunction(r->py_render, "i", (int)f);
    if (b && !PyBytes_Check(b)) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_TypeError, "the registry's render callable must return bytes");
        return NULL;
    }
    return b;
}

PyObject *ext_registry_encode(RegistryObject *r, am_format f)
{
    PyObject *py = render_python(r, f);
    if (!py)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = encode_native(r, f, &text, &len);
    EXT_NOGIL_END
    if (rc) {
        Py_DECREF(py);
        return ext_raise(rc, "encoding failed");
    }
    PyObject *out;
    if (PyBytes_GET_SIZE(py) == 0) {
        out = PyBytes_FromStringAndSize(text, (Py_ssize_t)len);
    } else {
        size_t jl;
        char *j = join(text, len, PyBytes_AS_STRING(py), (size_t)PyBytes_GET_SIZE(py), f, &jl);
        out = j ? PyBytes_FromStringAndSize(j, (Py_ssize_t)jl) : PyErr_NoMemory();
        PyMem_RawFree(j);
    }
    am_free(text);
    Py_DECREF(py);
    return out;
}

#if PY_VERSION_HEX >= 0x030D0000
#define EXT_FINALIZING() Py_IsFinalizing()
#else
#define EXT_FINALIZING() _Py_IsFinalizing()
#endif

am_err ext_registry_encode_nogil(RegistryObject *r, am_format f, ext_text *out)
{
    char *py = NULL;
    size_t plen = 0;
    if (f != AM_FORMAT_JSON && !EXT_FINALIZING()) {
        PyGILState_STATE g = PyGILState_Ensure();
        if (r->py_render) {
            PyObject *b = render_python(r, f);
            if (b && PyBytes_GET_SIZE(b) > 0) {
                plen = (size_t)PyBytes_GET_SIZE(b);
                py = PyMem_RawMalloc(plen);
                if (py)
                    memcpy(py, PyBytes_AS_STRING(b), plen);
            }
            if (!b)
                PyErr_WriteUnraisable(r->py_render);
            Py_XDECREF(b);
        }
        PyGILState_Release(g);
    }
    char *text = NULL;
    size_t len = 0;
    am_fork_enter();
    am_err rc = encode_native(r, f, &text, &len);
    am_fork_leave();
    if (rc) {
        PyMem_RawFree(py);
        return rc;
    }
    if (!py) {
        *out = (ext_text){text, len, true};
        return AM_OK;
    }
    size_t jl;
    char *j = join(text, len, py, plen, f, &jl);
    am_free(text);
    PyMem_RawFree(py);
    if (!j)
        return AM_ENOMEM;
    *out = (ext_text){j, jl, false};
    return AM_OK;
}

void ext_text_free(ext_text *t)
{
    if (t->is_lib)
        am_free(t->p);
    else
        PyMem_RawFree(t->p);
    t->p = NULL;
}

/* ------------------------------------------------------------------ */

static PyObject *registry_encode(RegistryObject *self, PyObject *args)
{
    int f = AM_FORMAT_PROMETHEUS;
    if (!PyArg_ParseTuple(args, "|i", &f))
        return NULL;
    if (f < AM_FORMAT_PROMETHEUS || f > AM_FORMAT_JSON) {
        PyErr_SetString(PyExc_ValueError, "unknown format");
        return NULL;
    }
    return ext_registry_encode(self, (am_format)f);
}

static PyObject *registry_enable_process(RegistryObject *self, PyObject *noargs)
{
    (void)noargs;
    am_err rc = am_registry_enable_process_metrics(self->reg);
    if (rc && rc != AM_EEXIST)
        return ext_raise(rc, "cannot add the process metrics");
    return PyBool_FromLong(rc == AM_OK);
}

static PyObject *registry_set_max_series(RegistryObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "max_series must be >= 0");
        return NULL;
    }
    am_err rc = am_registry_set_max_series(self->reg, (size_t)n);
    if (rc)
        return ext_raise(rc, NULL);
    Py_RETURN_NONE;
}

static PyObject *registry_series(RegistryObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyLong_FromSize_t(am_registry_series(self->reg));
}

static PyObject *registry_count(RegistryObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyLong_FromSize_t(am_registry_count(self->reg));
}

static PyObject *registry_unregister(RegistryObject *self, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    am_err rc = am_registry_unregister(self->reg, name);
    if (rc && rc != AM_ENOTFOUND)
        return ext_raise(rc, NULL);
    return PyBool_FromLong(rc == AM_OK);
}

static PyMethodDef registry_methods[] = {
    {"unregister", (PyCFunction)registry_unregister, METH_O,
     "unregister(name) -> bool: remove a family made by C (a pack's, the process metrics'); "
     "the handles of Python metric objects must be re-pointed first (Metric._unbind)."},
    {"_set_sources", (PyCFunction)registry_set_sources, METH_VARARGS,
     "_set_sources(extras, shm, render): what is exposed with this registry."},
    {"encode", (PyCFunction)registry_encode, METH_VARARGS,
     "encode(format=FORMAT_PROMETHEUS) -> bytes: the registry and its sources."},
    {"enable_process_metrics", (PyCFunction)registry_enable_process, METH_NOARGS,
     "Add the process_* metrics (read from /proc at each scrape)."},
    {"set_max_series", (PyCFunction)registry_set_max_series, METH_O,
     "Bound the labelled series of all families together (0: no bound)."},
    {"series", (PyCFunction)registry_series, METH_NOARGS, "The labelled series held now."},
    {"families", (PyCFunction)registry_count, METH_NOARGS, "The number of families."},
    {NULL, NULL, 0, NULL}};

PyTypeObject RegistryType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.Registry",
    .tp_basicsize = sizeof(RegistryObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A native registry (libagentmon's am_registry) and its exposition sources.",
    .tp_new = registry_new,
    .tp_dealloc = (destructor)registry_dealloc,
    .tp_traverse = (traverseproc)registry_traverse,
    .tp_clear = (inquiry)registry_clear,
    .tp_methods = registry_methods,
};

int ext_registry_init(PyObject *m)
{
    if (PyType_Ready(&RegistryType) < 0)
        return -1;
    Py_INCREF(&RegistryType);
    if (PyModule_AddObject(m, "Registry", (PyObject *)&RegistryType) < 0) {
        Py_DECREF(&RegistryType);
        return -1;
    }
    return 0;
}
