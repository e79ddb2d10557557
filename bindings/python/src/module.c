/*
** module.c: the module agentmon._agentmon -- its initialisation, its
** exceptions, and the conversions every file shares.
**
** Errors: the library returns an am_err and leaves a sentence for the
** calling thread in am_errmsg(); ext_raise() turns both into the Python
** exception a prometheus_client user would expect (ValueError for bad
** names, labels and values, as prometheus_client raises) or one of the
** module's own (AgentmonError and its subclasses) where no builtin fits.
** am_errmsg() is thread-local, so it must be read on the thread that made
** the failing call, before anything else calls the library: every caller
** raises right after the call.
*/
#include "ext.h"

PyObject *ExtError;
PyObject *ExtBackendError;
PyObject *ExtQueueFull;
PyObject *ExtProtocolError;

PyObject *ext_raise(am_err rc, const char *what)
{
    const char *msg = am_errmsg();
    if (!msg || !*msg)
        msg = what ? what : am_strerror(rc);
    PyObject *type;
    switch (rc) {
    case AM_EINVAL:
    case AM_EEXIST:
    case AM_ELIMIT:
        type = PyExc_ValueError;
        break;
    case AM_ENOMEM:
        return PyErr_NoMemory();
    case AM_EIO:
        type = PyExc_OSError;
        break;
    case AM_ETIMEDOUT:
        type = PyExc_TimeoutError;
        break;
    case AM_ENOTFOUND:
        type = PyExc_KeyError;
        break;
    case AM_EBACKEND:
        type = ExtBackendError;
        break;
    case AM_EFULL:
        type = ExtQueueFull;
        break;
    case AM_EPROTO:
        type = ExtProtocolError;
        break;
    default:
        type = ExtError;
        break;
    }
    PyErr_Format(type, "%s", msg);
    return NULL;
}

const char *ext_utf8(PyObject *o, PyObject **keep, bool is_str_only)
{
    PyObject *s;
    if (PyUnicode_Check(o)) {
        Py_INCREF(o);
        s = o;
    } else if (is_str_only) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    } else if (!(s = PyObject_Str(o))) {
        return NULL;
    }
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (!p) {
        Py_DECREF(s);
        return NULL;
    }
    if (strlen(p) != (size_t)n) {
        Py_DECREF(s);
        PyErr_SetString(PyExc_ValueError, "text contains a NUL character");
        return NULL;
    }
    *keep = s;
    return p;
}

int ext_labels_from_dict(PyObject *d, ext_labels *out)
{
    out->n_keep = 0;
    out->labels = (am_labels){out->names, out->values, 0};
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "exemplar and label sets must be dicts");
        return -1;
    }
    if (PyDict_GET_SIZE(d) > AM_MAX_LABELS) {
        PyErr_Format(PyExc_ValueError, "more than %d labels", AM_MAX_LABELS);
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    size_t i = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        const char *ks = ext_utf8(k, &out->keep[out->n_keep], true);
        if (!ks)
            goto fail;
        out->n_keep++;
        const char *vs = ext_utf8(v, &out->keep[out->n_keep], false);
        if (!vs)
            goto fail;
        out->n_keep++;
        out->names[i] = ks;
        out->values[i] = vs;
        i++;
    }
    out->labels.n = i;
    return 0;
fail:
    ext_labels_release(out);
    return -1;
}

void ext_labels_release(ext_labels *l)
{
    for (size_t i = 0; i < l->n_keep; i++)
        Py_DECREF(l->keep[i]);
    l->n_keep = 0;
}

/* ------------------------------------------------------------------ */

static PyObject *py_version(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(am_version());
}

static PyObject *py_now(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyFloat_FromDouble((double)am_now_ns() / 1e9);
}

static PyMethodDef module_methods[] = {
    {"version", py_version, METH_NOARGS, "The version of the linked libagentmon."},
    {"monotonic", py_now, METH_NOARGS, "CLOCK_MONOTONIC in seconds (the library's clock)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "agentmon._agentmon",
    "libagentmon for Python: metrics, exposition, traces, logs, the coordinator and the "
    "shared-memory registry.",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL};

static PyObject *new_exception(PyObject *m, const char *name, PyObject *base, const char *doc)
{
    char full[128];
    snprintf(full, sizeof full, "agentmon.%s", name);
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, base, NULL);
    if (!e)
        return NULL;
    Py_INCREF(e);
    if (PyModule_AddObject(m, name, e) < 0) {
        Py_DECREF(e);
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

PyMODINIT_FUNC PyInit__agentmon(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    ExtError =
        new_exception(m, "AgentmonError", PyExc_RuntimeError, "An error reported by libagentmon.");
    if (!ExtError)
        goto fail;
    PyObject *bases = PyTuple_Pack(2, ExtError, PyExc_ConnectionError);
    if (!bases)
        goto fail;
    ExtBackendError = new_exception(m, "BackendError", bases,
                                    "The coordinator's backend (Redis) failed or is unreachable.");
    Py_DECREF(bases);
    ExtQueueFull = new_exception(m, "QueueFull", ExtError,
                                 "The recipient's queue is full: backpressure, try later.");
    bases = PyTuple_Pack(2, ExtError, PyExc_OSError);
    if (!bases)
        goto fail;
    ExtProtocolError =
        new_exception(m, "ProtocolError", bases, "A server answered what we did not expect.");
    Py_DECREF(bases);
    if (!ExtBackendError || !ExtQueueFull || !ExtProtocolError)
        goto fail;
    if (PyModule_AddStringConstant(m, "CONTENT_TYPE_PROMETHEUS",
                                   am_format_content_type(AM_FORMAT_PROMETHEUS)) < 0 ||
        PyModule_AddStringConstant(m, "CONTENT_TYPE_OPENMETRICS",
                                   am_format_content_type(AM_FORMAT_OPENMETRICS)) < 0 ||
        PyModule_AddIntConstant(m, "FORMAT_PROMETHEUS", AM_FORMAT_PROMETHEUS) < 0 ||
        PyModule_AddIntConstant(m, "FORMAT_OPENMETRICS", AM_FORMAT_OPENMETRICS) < 0 ||
        PyModule_AddIntConstant(m, "FORMAT_JSON", AM_FORMAT_JSON) < 0 ||
        PyModule_AddIntConstant(m, "MAX_LABELS", AM_MAX_LABELS) < 0 ||
        PyModule_AddIntConstant(m, "DEFAULT_MAX_CHILDREN", AM_DEFAULT_MAX_CHILDREN) < 0)
        goto fail;
    if (ext_trace_init(m) < 0 || ext_registry_init(m) < 0 || ext_metric_init(m) < 0 ||
        ext_http_init(m) < 0 || ext_push_init(m) < 0 || ext_log_init(m) < 0 ||
        ext_packs_init(m) < 0 || ext_coord_init(m) < 0 || ext_shm_init(m) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
