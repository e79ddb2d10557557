/*
** http.c: agentmon._agentmon.HttpServer -- libagentmon's HTTP server
** serving a Registry, for start_http_server().
**
** Routes: GET /health (inline: a constant answer, never blocks) and GET /{any}
** for the metrics on every other path, as prometheus_client serves any
** path. The metrics route runs on the server's handler pool, not inline,
** because it may take the GIL: with a Python part (custom collectors,
** set_function gauges) the handler takes the GIL for that part only and
** encodes the native part without it (registry.c). A request asking for
** ?name[]=... goes to the registry's Python restricted exposition.
**
** Content negotiation follows prometheus_client's choose_encoder: OpenMetrics
** when Accept names application/openmetrics-text, else text 0.0.4; gzip is
** the server's (libagentmon compresses bodies over 1 KiB when allowed).
**
** Fork: the server's threads do not exist in a child, so a server object
** copied by fork() refuses stop() and its destructor forgets it.
*/
#include <unistd.h>

#include "ext.h"

typedef struct HttpObject {
    PyObject_HEAD am_http *h;
    RegistryObject *reg;
    PyObject *restricted; /* callable(names, fmt) -> bytes, or NULL */
    PyObject *host;
    pid_t owner;
} HttpObject;

static bool wants_openmetrics(const char *accept)
{
    /* prometheus_client's rule: any media range whose type is it. */
    for (const char *p = accept; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ';' && *end != ',' && *end != ' ')
            end++;
        if ((size_t)(end - p) == 28 && strncmp(p, "application/openmetrics-text", 28) == 0)
            return true;
        p = strchr(p, ',');
    }
    return false;
}

static void health(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)ud;
    static const char body[] = "{\"status\":\"ok\"}\n";
    am_http_resp_body(resp, "application/json", body, sizeof body - 1);
}

/* ?name[]=a&name[]=b: the registry's restricted exposition, in Python. */
static bool restricted(HttpObject *self, am_http_req *req, am_http_resp *resp, am_format f)
{
    const char *vals[256];
    size_t n = am_http_req_query_all(req, "name[]", vals, 256);
    if (n == 0 || !self->restricted)
        return false;
    if (n > 256)
        n = 256;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *names = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; names && i < n; i++) {
        PyObject *s = PyUnicode_FromString(vals[i]);
        if (!s) {
            Py_CLEAR(names);
            break;
        }
        PyList_SET_ITEM(names, (Py_ssize_t)i, s);
    }
    PyObject *b = names ? PyObject_CallFunction(self->restricted, "Oi", names, (int)f) : NULL;
    Py_XDECREF(names);
    if (b && PyBytes_Check(b))
        am_http_resp_body(resp, am_format_content_type(f), PyBytes_AS_STRING(b),
                          (size_t)PyBytes_GET_SIZE(b));
    else {
        PyErr_Clear();
        am_http_resp_error(resp, 500, "internal", "the restricted exposition failed");
    }
    Py_XDECREF(b);
    PyGILState_Release(g);
    return true;
}

static void metrics(am_http_req *req, am_http_resp *resp, void *ud)
{
    HttpObject *self = ud;
    am_format f = wants_openmetrics(am_http_req_header(req, "Accept")) ? AM_FORMAT_OPENMETRICS
                                                                       : AM_FORMAT_PROMETHEUS;
    if (am_http_req_query_count(req) && restricted(self, req, resp, f))
        return;
    ext_text t;
    am_err rc = ext_registry_encode_nogil(self->reg, f, &t);
    if (rc) {
        am_http_resp_error(resp, 500, "internal", am_errmsg());
        return;
    }
    if (t.is_lib) {
        am_http_resp_body_take(resp, am_format_content_type(f), t.p, t.len);
    } else {
        am_http_resp_body(resp, am_format_content_type(f), t.p, t.len);
        ext_text_free(&t);
    }
}

static PyObject *http_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"registry", "host",    "port",       "certfile",
                             "keyfile",  "threads", "restricted", NULL};
    PyObject *reg, *restricted_fn = Py_None;
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
    int port = 0, threads = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|sizziO", kwlist, &RegistryType, &reg, &host,
                                     &port, &cert, &key, &threads, &restricted_fn))
        return NULL;
    if (port < 0 || port > 65535 || threads < 0)
        return PyErr_Format(PyExc_ValueError, "bad port or thread count");
    if ((cert == NULL) != (key == NULL))
        return PyErr_Format(PyExc_ValueError, "certfile and keyfile go together");
    HttpObject *self = (HttpObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    Py_INCREF(reg);
    self->reg = (RegistryObject *)reg;
    if (restricted_fn != Py_None) {
        Py_INCREF(restricted_fn);
        self->restricted = restricted_fn;
    }
    self->owner = getpid();
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.host = host;
    o.port = (uint16_t)port;
    o.threads = (unsigned)threads;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    o.no_builtin_routes = true;
    o.registries = &self->reg->reg; /* for agentmon_http_* self-metrics */
    o.n_registries = 1;
    am_err rc;
    EXT_NOGIL_BEGIN
    rc = am_http_new(&o, &self->h);
    if (rc == AM_OK &&
        (rc = am_http_route(self->h, AM_HTTP_GET | AM_HTTP_INLINE, "/health", health, NULL,
                            NULL)) == AM_OK &&
        (rc = am_http_route(self->h, AM_HTTP_GET, "/*", metrics, self, NULL)) == AM_OK)
        rc = am_http_listen(self->h);
    EXT_NOGIL_END
    if (rc) {
        PyObject *e = ext_raise(rc, "cannot start the HTTP server");
        Py_DECREF(self);
        return e;
    }
    self->host = PyUnicode_FromString(host);
    return (PyObject *)self;
}

static void stop(HttpObject *self)
{
    if (!self->h)
        return;
    am_http *h = self->h;
    self->h = NULL;
    if (ext_forked_since(self->owner))
        return; /* its threads are the parent's: forget it */
    Py_BEGIN_ALLOW_THREADS am_http_free(h);
    Py_END_ALLOW_THREADS
}

static PyObject *http_stop(HttpObject *self, PyObject *noargs)
{
    (void)noargs;
    stop(self);
    Py_RETURN_NONE;
}

static void http_dealloc(HttpObject *self)
{
    stop(self);
    Py_XDECREF(self->reg);
    Py_XDECREF(self->restricted);
    Py_XDECREF(self->host);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *http_get_port(HttpObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->h ? am_http_port(self->h) : 0);
}

static PyObject *http_get_host(HttpObject *self, void *c)
{
    (void)c;
    Py_INCREF(self->host);
    return self->host;
}

static PyGetSetDef http_getset[] = {
    {"port", (getter)http_get_port, NULL, "The port listened on (0 once stopped).", NULL},
    {"host", (getter)http_get_host, NULL, "The address bound.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef http_methods[] = {
    {"stop", (PyCFunction)http_stop, METH_NOARGS, "Stop serving (idempotent)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject HttpType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmon._agentmon.HttpServer",
    .tp_basicsize = sizeof(HttpObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "HttpServer(registry, host='127.0.0.1', port=0, certfile=None, keyfile=None, "
              "threads=0, restricted=None): serve a Registry's metrics.",
    .tp_new = http_new,
    .tp_dealloc = (destructor)http_dealloc,
    .tp_methods = http_methods,
    .tp_getset = http_getset,
};

int ext_http_init(PyObject *m)
{
    if (PyType_Ready(&HttpType) < 0)
        return -1;
    Py_INCREF(&HttpType);
    if (PyModule_AddObject(m, "HttpServer", (PyObject *)&HttpType) < 0) {
        Py_DECREF(&HttpType);
        return -1;
    }
    return 0;
}
