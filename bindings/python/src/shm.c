/*
** shm.c: agentmon._agentmon.Shm -- libagentmon's shared-memory registry
** (include/agentmon/shm.h) for multi-process Python services.
**
** A Shm object owns one am_shm (am_shm_close() in its destructor) and
** hands it to Registry._set_sources() through a capsule, so a
** CollectorRegistry in multi-process mode encodes the segment -- merged
** over every process -- together with its own native families. Metric
** objects bind their families in the segment (metric.c, _bind_shm) and
** record with the same C methods as ordinary ones, switched by a flag.
** Segments survive fork() (that is the point): a forked worker writes its
** own row of the same file.
*/
#include "ext.h"
#include "structmember.h"

typedef struct ShmObject {
    PyObject_HEAD am_shm *s;
    PyObject *capsule;
    PyObject *path;
} ShmObject;

am_err ext_shm_encode(struct am_shm *shm, am_registry *const *regs, size_t n, am_format f,
                      char **out, size_t *len)
{
    return am_shm_encode(shm, regs, n, f, out, len);
}

static PyObject *shm_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path",        "max_procs", "max_families",
                             "max_series",  "max_cells", "max_exemplars",
                             "arena_bytes", "prefault",  NULL};
    PyObject *path;
    Py_ssize_t p = 0, f = 0, s = 0, c = 0, e = 0, a = 0;
    int prefault = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "U|nnnnnnp", kwlist, &path, &p, &f, &s, &c, &e, &a,
                                     &prefault))
        return NULL;
    if (p < 0 || f < 0 || s < 0 || c < 0 || e < 0 || a < 0)
        return PyErr_Format(PyExc_ValueError, "sizes must be >= 0");
    const char *cpath = PyUnicode_AsUTF8(path);
    if (!cpath)
        return NULL;
    ShmObject *self = (ShmObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    am_shm_opts o = AM_SHM_OPTS_INIT;
    o.max_procs = (size_t)p;
    o.max_families = (size_t)f;
    o.max_series = (size_t)s;
    o.max_cells = (size_t)c;
    o.max_exemplars = (size_t)e;
    o.arena_bytes = (size_t)a;
    o.flags = prefault ? AM_SHM_PREFAULT : 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_shm_open(cpath, &o, &self->s);
    EXT_NOGIL_END
    if (rc) {
        PyObject *err = ext_raise(rc, "cannot open the segment");
        Py_DECREF(self);
        return err;
    }
    self->capsule = PyCapsule_New(self->s, "agentmon.shm", NULL);
    Py_INCREF(path);
    self->path = path;
    if (!self->capsule) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void shm_dealloc(ShmObject *self)
{
    Py_XDECREF(self->capsule);
    Py_XDECREF(self->path);
    if (self->s)
        am_shm_close(self->s);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *shm_encode(ShmObject *self, PyObject *args)
{
    int f = AM_FORMAT_PROMETHEUS;
    if (!PyArg_ParseTuple(args, "|i", &f))
        return NULL;
    if (f < AM_FORMAT_PROMETHEUS || f > AM_FORMAT_JSON)
        return PyErr_Format(PyExc_ValueError, "unknown format");
    char *text = NULL;
    size_t len = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_shm_encode(self->s, NULL, 0, (am_format)f, &text, &len);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    PyObject *b = PyBytes_FromStringAndSize(text, (Py_ssize_t)len);
    am_free(text);
    return b;
}

static PyObject *shm_stats(ShmObject *self, PyObject *noargs)
{
    (void)noargs;
    am_shm_stats st;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_shm_stats_get(self->s, &st);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    return Py_BuildValue(
        "{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:K,s:n}", "procs_live",
        (Py_ssize_t)st.procs_live, "procs_dead", (Py_ssize_t)st.procs_dead, "max_procs",
        (Py_ssize_t)st.max_procs, "families", (Py_ssize_t)st.families, "max_families",
        (Py_ssize_t)st.max_families, "series", (Py_ssize_t)st.series, "max_series",
        (Py_ssize_t)st.max_series, "cells", (Py_ssize_t)st.cells, "max_cells",
        (Py_ssize_t)st.max_cells, "exemplars", (Py_ssize_t)st.exemplars, "max_exemplars",
        (Py_ssize_t)st.max_exemplars, "arena_bytes", (Py_ssize_t)st.arena_bytes, "max_arena_bytes",
        (Py_ssize_t)st.max_arena_bytes, "folds", (unsigned long long)st.folds, "file_bytes",
        (Py_ssize_t)st.file_bytes);
}

static PyObject *shm_reclaim(ShmObject *self, PyObject *noargs)
{
    (void)noargs;
    size_t n = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_shm_reclaim(self->s, &n);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, NULL);
    return PyLong_FromSize_t(n);
}

static PyMethodDef shm_methods[] = {
    {"encode", (PyCFunction)shm_encode, METH_VARARGS,
     "encode(format=FORMAT_PROMETHEUS) -> bytes: the segment alone, merged."},
    {"stats", (PyCFunction)shm_stats, METH_NOARGS, "What the segment holds now."},
    {"reclaim", (PyCFunction)shm_reclaim, METH_NOARGS,
     "Fold every dead process's row now; returns how many."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef shm_members[] = {
    {"_capsule", T_OBJECT, offsetof(ShmObject, capsule), READONLY, "The am_shm pointer."},
    {"path", T_OBJECT, offsetof(ShmObject, path), READONLY, "The segment's file."},
    {NULL, 0, 0, 0, NULL}};

PyTypeObject ShmType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.Shm",
    .tp_basicsize = sizeof(ShmObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Shm(path, max_procs=0, max_families=0, max_series=0, max_cells=0, "
              "max_exemplars=0, arena_bytes=0, prefault=False): a shared-memory segment.",
    .tp_new = shm_new,
    .tp_dealloc = (destructor)shm_dealloc,
    .tp_methods = shm_methods,
    .tp_members = shm_members,
};

struct am_shm *ext_shm_of(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &ShmType)) {
        PyErr_SetString(PyExc_TypeError, "expected a Shm");
        return NULL;
    }
    return ((ShmObject *)o)->s;
}

int ext_shm_init(PyObject *m)
{
    if (PyType_Ready(&ShmType) < 0)
        return -1;
    Py_INCREF(&ShmType);
    if (PyModule_AddObject(m, "Shm", (PyObject *)&ShmType) < 0) {
        Py_DECREF(&ShmType);
        return -1;
    }
    return 0;
}
