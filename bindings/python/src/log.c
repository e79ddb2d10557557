/*
** log.c: agentmon._agentmon.Logger -- libagentmon's JSON line logger for
** Python's logging (agentmon/log.py's JsonHandler and JsonFormatter).
**
** Lines are formatted by the library, so a Python agent and a C agent
** write the same JSON: the same keys in the same order, the same escaping,
** numbers, truncation and level names. The trace ids come from the task's
** current TraceContext (agentmon.trace), passed explicitly on every line;
** the logger is made with AM_LOG_NO_TRACE, so a thread's C-level current
** context can never leak onto a line of another asyncio task.
**
** Destinations: a file path or an fd are written by the library with one
** write(2) per line (buffered=True: a batch per write, AM_LOG_BUFFERED),
** with the GIL released (inside the fork gate); a
** Python stream (anything with write()) is written through the library's
** write_fn with the GIL held the whole time, so the logger's lock is only
** ever taken by GIL holders there and the two cannot deadlock.
*/
#include "ext.h"

typedef struct LoggerObject {
    PyObject_HEAD am_logger *lg;
    PyObject *stream;  /* write_fn target, or NULL */
    PyObject *capture; /* format(): the line written, or NULL */
    bool is_capture;
} LoggerObject;

static int write_stream(void *ud, const char *line, size_t len)
{
    LoggerObject *self = ud;
    /* Called inside am_log, which this module calls with the GIL held. */
    PyObject *s = PyUnicode_DecodeUTF8(line, (Py_ssize_t)len, "replace");
    if (!s)
        return -1;
    if (self->is_capture) {
        Py_XSETREF(self->capture, s);
        return 0;
    }
    PyObject *r = PyObject_CallMethod(self->stream, "write", "O", s);
    Py_DECREF(s);
    if (!r)
        return -1; /* the exception stays set: log() raises it */
    Py_DECREF(r);
    return 0;
}

static PyObject *logger_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"fd",      "path",      "stream",
                             "level",   "component", "max_line_bytes",
                             "capture", "buffered",  NULL};
    int fd = -1, level = AM_LOG_LEVEL_DEBUG, capture = 0, buffered = 0;
    const char *path = NULL, *component = NULL;
    PyObject *stream = Py_None;
    Py_ssize_t max_line = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|izOiznpp", kwlist, &fd, &path, &stream, &level,
                                     &component, &max_line, &capture, &buffered))
        return NULL;
    LoggerObject *self = (LoggerObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    am_log_opts o = AM_LOG_OPTS_INIT;
    o.fd = fd;
    o.path = path;
    o.level = (am_log_level)level;
    o.component = component;
    o.max_line_bytes = (size_t)max_line;
    o.flags = AM_LOG_NO_TRACE | (buffered ? AM_LOG_BUFFERED : 0u);
    if (capture || stream != Py_None) {
        self->is_capture = capture;
        if (!capture) {
            Py_INCREF(stream);
            self->stream = stream;
        }
        o.write_fn = write_stream;
        o.userdata = self;
    }
    am_err rc = am_logger_new(&o, &self->lg);
    if (rc) {
        PyObject *e = ext_raise(rc, "cannot make the logger");
        Py_DECREF(self);
        return e;
    }
    return (PyObject *)self;
}

static void logger_dealloc(LoggerObject *self)
{
    am_logger_free(self->lg);
    Py_XDECREF(self->stream);
    Py_XDECREF(self->capture);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static am_log_level level_of(long levelno)
{
    /* Python's custom levels map down to the nearest standard one. */
    if (levelno >= 50)
        return AM_LOG_LEVEL_CRITICAL;
    if (levelno >= 40)
        return AM_LOG_LEVEL_ERROR;
    if (levelno >= 30)
        return AM_LOG_LEVEL_WARNING;
    if (levelno >= 20)
        return AM_LOG_LEVEL_INFO;
    return AM_LOG_LEVEL_DEBUG;
}

#define MAX_FIELDS AM_LOG_MAX_FIELDS

/* One field from a Python value; strings borrowed from *keep. */
static int field_of(const char *key, PyObject *v, am_field *f, PyObject **keep)
{
    f->key = key;
    if (v == Py_None) {
        f->type = AM_FIELD_STR;
        f->v.s = NULL;
    } else if (PyBool_Check(v)) {
        f->type = AM_FIELD_BOOL;
        f->v.b = v == Py_True;
    } else if (PyLong_Check(v)) {
        int overflow;
        long long i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow) {
            const char *s = ext_utf8(v, keep, false);
            if (!s)
                return -1;
            f->type = AM_FIELD_STR;
            f->v.s = s;
        } else {
            if (i == -1 && PyErr_Occurred())
                return -1;
            f->type = AM_FIELD_INT;
            f->v.i = i;
        }
    } else if (PyFloat_Check(v)) {
        f->type = AM_FIELD_DOUBLE;
        f->v.d = PyFloat_AS_DOUBLE(v);
    } else {
        const char *s = ext_utf8(v, keep, false);
        if (!s)
            return -1;
        f->type = AM_FIELD_STR;
        f->v.s = s;
    }
    return 0;
}

/* Build the call's fields; returns the count or -1. */
static Py_ssize_t build(PyObject *fields, am_field *out, PyObject **keep, size_t *n_keep,
                        am_trace_ctx *ctx, PyObject *trace)
{
    Py_ssize_t n = 0;
    bool has = false;
    /* False: the caller gives its own trace_id field (which the library
       then writes where the ids go); else the context's ids, or none. */
    if (trace != Py_False) {
        if (ext_trace_arg(trace, ctx, &has) < 0)
            return -1;
        out[n++] = (am_field)AM_F_TRACE(has ? ctx : NULL);
    }
    if (fields && fields != Py_None) {
        PyObject *items = PyMapping_Check(fields) && !PyList_Check(fields) && !PyTuple_Check(fields)
                              ? PyMapping_Items(fields)
                              : PySequence_List(fields);
        if (!items)
            return -1;
        Py_ssize_t len = PyList_GET_SIZE(items);
        for (Py_ssize_t i = 0; i < len; i++) {
            if (n >= MAX_FIELDS) {
                Py_DECREF(items);
                PyErr_Format(PyExc_ValueError, "more than %d fields", MAX_FIELDS - 1);
                return -1;
            }
            PyObject *kv = PyList_GET_ITEM(items, i);
            if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) {
                Py_DECREF(items);
                PyErr_SetString(PyExc_TypeError, "fields must be (key, value) pairs");
                return -1;
            }
            const char *key = ext_utf8(PyTuple_GET_ITEM(kv, 0), &keep[(*n_keep)++], false);
            if (!key || field_of(key, PyTuple_GET_ITEM(kv, 1), &out[n], &keep[*n_keep]) < 0) {
                Py_DECREF(items);
                return -1;
            }
            if (out[n].type == AM_FIELD_STR && out[n].v.s && keep[*n_keep])
                (*n_keep)++;
            n++;
        }
        /* The keys and values live in items' tuples: keep it. */
        keep[(*n_keep)++] = items;
    }
    return n;
}

static PyObject *logger_log_impl(LoggerObject *self, PyObject *args, PyObject *kw, bool fmt)
{
    static char *kwlist[] = {"levelno", "component", "message", "fields", "trace", NULL};
    long levelno;
    PyObject *component = Py_None, *message, *fields = Py_None, *trace = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "lOO|OO", kwlist, &levelno, &component, &message,
                                     &fields, &trace))
        return NULL;
    PyObject *keep[2 * MAX_FIELDS + 8] = {0};
    size_t n_keep = 0;
    am_field f[MAX_FIELDS];
    am_trace_ctx ctx;
    PyObject *result = NULL;
    const char *comp = NULL, *msg;
    if (component != Py_None && !(comp = ext_utf8(component, &keep[n_keep++], false)))
        goto out;
    if (!(msg = ext_utf8(message, &keep[n_keep++], false)))
        goto out;
    Py_ssize_t n = build(fields, f, keep, &n_keep, &ctx, trace);
    if (n < 0)
        goto out;
    am_err rc;
    if (self->stream || self->is_capture) {
        rc = am_log(self->lg, level_of(levelno), comp, msg, f, (size_t)n);
        if (PyErr_Occurred())
            goto out;
    } else {
        EXT_NOGIL_BEGIN
        rc = am_log(self->lg, level_of(levelno), comp, msg, f, (size_t)n);
        EXT_NOGIL_END
    }
    if (rc) {
        ext_raise(rc, "log line dropped");
        goto out;
    }
    if (fmt) {
        result = self->capture ? self->capture : PyUnicode_FromString("");
        self->capture = NULL;
    } else {
        Py_INCREF(Py_None);
        result = Py_None;
    }
out:
    for (size_t i = 0; i < n_keep; i++)
        Py_XDECREF(keep[i]);
    return result;
}

static PyObject *logger_log(LoggerObject *self, PyObject *args, PyObject *kw)
{
    return logger_log_impl(self, args, kw, false);
}

static PyObject *logger_format(LoggerObject *self, PyObject *args, PyObject *kw)
{
    if (!self->is_capture)
        return PyErr_Format(PyExc_TypeError, "format() needs a Logger(capture=True)");
    return logger_log_impl(self, args, kw, true);
}

static PyObject *logger_flush(LoggerObject *self, PyObject *noargs)
{
    (void)noargs;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_logger_flush(self->lg);
    EXT_NOGIL_END
    if (rc)
        return ext_raise(rc, "log lines dropped");
    Py_RETURN_NONE;
}

static PyObject *logger_dropped(LoggerObject *self, PyObject *noargs)
{
    (void)noargs;
    return PyLong_FromUnsignedLongLong(am_logger_dropped(self->lg));
}

static PyObject *logger_set_level(LoggerObject *self, PyObject *arg)
{
    long l = PyLong_AsLong(arg);
    if (l == -1 && PyErr_Occurred())
        return NULL;
    am_err rc = am_logger_set_level(self->lg, level_of(l));
    if (rc)
        return ext_raise(rc, NULL);
    Py_RETURN_NONE;
}

static PyMethodDef logger_methods[] = {
    {"log", (PyCFunction)(void (*)(void))logger_log, METH_VARARGS | METH_KEYWORDS,
     "log(levelno, component, message, fields=None, trace=None): write one JSON line. fields: "
     "a dict or (key, value) pairs (str, int, float, bool, None; others as str()); trace: a "
     "TraceContext, None for the current task's, or False for none (the fields carry "
     "trace_id)."},
    {"format", (PyCFunction)(void (*)(void))logger_format, METH_VARARGS | METH_KEYWORDS,
     "format(...) -> str: the line log() would write (a capture logger only)."},
    {"dropped", (PyCFunction)logger_dropped, METH_NOARGS, "Lines that could not be written."},
    {"flush", (PyCFunction)logger_flush, METH_NOARGS,
     "Write the lines a buffered logger has gathered (OSError if that fails)."},
    {"set_level", (PyCFunction)logger_set_level, METH_O, "set_level(levelno)"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject LoggerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.Logger",
    .tp_basicsize = sizeof(LoggerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Logger(fd=-1, path=None, stream=None, level=10, component=None, "
              "max_line_bytes=0, capture=False): libagentmon's JSON line logger.",
    .tp_new = logger_new,
    .tp_dealloc = (destructor)logger_dealloc,
    .tp_methods = logger_methods,
};

int ext_log_init(PyObject *m)
{
    if (PyType_Ready(&LoggerType) < 0)
        return -1;
    Py_INCREF(&LoggerType);
    if (PyModule_AddObject(m, "Logger", (PyObject *)&LoggerType) < 0) {
        Py_DECREF(&LoggerType);
        return -1;
    }
    return 0;
}
