/*
** push.c: agentmon._agentmon.push -- libagentmon's Pushgateway client for
** push_to_gateway() and friends when the registry is all native.
**
** The call blocks for up to the timeout with the GIL released (inside the
** fork gate). Errors become OSError subclasses, as urllib's would in
** prometheus_client: TimeoutError, OSError (no answer) and ProtocolError
** (the gateway's refusal, with its status and the start of its body).
*/
#include "ext.h"

/* push(url, job, grouping: dict, method: str, registries: tuple|None,
        timeout_s: float) -> int (the HTTP status) */
static PyObject *py_push(PyObject *self, PyObject *args)
{
    (void)self;
    const char *url, *job, *method;
    PyObject *grouping, *regs;
    double timeout_s;
    if (!PyArg_ParseTuple(args, "ssO!sOd", &url, &job, &PyDict_Type, &grouping, &method, &regs,
                          &timeout_s))
        return NULL;
    am_push_method m;
    if (strcmp(method, "PUT") == 0)
        m = AM_PUSH_PUT;
    else if (strcmp(method, "POST") == 0)
        m = AM_PUSH_POST;
    else if (strcmp(method, "DELETE") == 0)
        m = AM_PUSH_DELETE;
    else
        return PyErr_Format(PyExc_ValueError, "method must be PUT, POST or DELETE");
    am_registry *rv[64];
    size_t n = 0;
    if (regs != Py_None) {
        if (!PyTuple_Check(regs) || PyTuple_GET_SIZE(regs) > 64)
            return PyErr_Format(PyExc_TypeError, "registries must be a tuple of Registry");
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(regs); i++) {
            PyObject *r = PyTuple_GET_ITEM(regs, i);
            if (!PyObject_TypeCheck(r, &RegistryType))
                return PyErr_Format(PyExc_TypeError, "registries must be a tuple of Registry");
            rv[n++] = ((RegistryObject *)r)->reg;
        }
    }
    ext_labels g;
    if (ext_labels_from_dict(grouping, &g) < 0)
        return NULL;
    am_push_opts o = AM_PUSH_OPTS_INIT;
    o.url = url;
    o.job = job;
    o.grouping = g.labels;
    o.registries = n ? rv : NULL;
    o.n_registries = n;
    o.timeout_ms = timeout_s > 0 ? (unsigned)(timeout_s * 1000.0 + 0.5) : 0;
    int status = 0;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_push(&o, m, &status);
    EXT_NOGIL_END
    ext_labels_release(&g);
    if (rc)
        return ext_raise(rc, "push failed");
    return PyLong_FromLong(status);
}

static PyMethodDef push_methods[] = {
    {"push", py_push, METH_VARARGS,
     "push(url, job, grouping, method, registries, timeout_s) -> status: push registries to "
     "a Pushgateway (PUT, POST) or delete the group (DELETE)."},
    {NULL, NULL, 0, NULL}};

int ext_push_init(PyObject *m)
{
    return PyModule_AddFunctions(m, push_methods);
}
