/*
** ext.h: what the files of the CPython extension module agentmon._agentmon
** share.
**
** The module is a thin layer over libagentmon's public API: every Python
** object that records holds a library handle and calls the library with the
** GIL held, so the hot path (Counter.inc, Histogram.observe, labels() on an
** existing child) takes no lock of ours beyond the GIL and allocates nothing.
** Calls that may block (encoding a large registry, HTTP, pushes, the
** coordinator, log writes to a pipe) release the GIL; they run inside the
** fork gate (fork.c), so that os.fork() never copies the library in the
** middle of such a call (a lock held by a thread that the child does not
** have would stay held there forever).
**
** Ownership: Python objects own the library objects they create and free
** them in tp_dealloc; a child metric holds its parent, the parent holds the
** native registry its family lives in, so a handle never outlives the
** family behind it. Removing a child, clearing a family or unregistering
** it re-points the Python objects that named those series at a private
** "graveyard" series (metric.c) before the library frees them.
*/
#ifndef AGENTMON_PY_EXT_H
#define AGENTMON_PY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdbool.h>

#include "agentmon/agentmon.h"
#include "agentmon/shm.h"

/* ------------------------------------------------------------ errors */

/* Exceptions of the module (module.c): agentmon.AgentmonError and its
   subclasses for codes no builtin exception fits. */
extern PyObject *ExtError;         /* base: RuntimeError */
extern PyObject *ExtBackendError;  /* AM_EBACKEND: also ConnectionError */
extern PyObject *ExtQueueFull;     /* AM_EFULL */
extern PyObject *ExtProtocolError; /* AM_EPROTO */

/*
** Raise the Python exception for rc, with am_errmsg() (or what, when the
** library left no message) as its text; returns NULL for `return
** ext_raise(...)`. ValueError for AM_EINVAL/AM_EEXIST/AM_ELIMIT, MemoryError,
** OSError, TimeoutError, KeyError (AM_ENOTFOUND), and the module's own.
*/
PyObject *ext_raise(am_err rc, const char *what);

/* ------------------------------------------------------------ fork gate */

/* Run library code without the GIL inside the fork gate (fork.c).
   Never enter the gate with the GIL held: fork() holds it while it waits. */
#define EXT_NOGIL_BEGIN Py_BEGIN_ALLOW_THREADS am_fork_enter();
#define EXT_NOGIL_END                                                                              \
    am_fork_leave();                                                                               \
    Py_END_ALLOW_THREADS

/* The pid that created an object holding threads or sockets (a server, a
   coordinator): such objects are inert in a forked child. */
bool ext_forked_since(pid_t owner);

/* ------------------------------------------------------------ registry */

/*
** A native registry: an am_registry, plus the other registries and the
** shared-memory segment a CollectorRegistry exposes with it (its sources),
** which the Python side keeps up to date and HTTP threads read under
** src_lock, and the Python callable that renders the collectors only
** Python knows (custom collectors, labelled Info) when there are any.
*/
typedef struct RegistryObject {
    PyObject_HEAD am_registry *reg;
    bool is_default;
    pthread_rwlock_t src_lock; /* extras, shm; held shared while encoding */
    am_registry **extras;
    size_t n_extras;
    PyObject *extras_refs; /* the RegistryObjects behind extras (a tuple) */
    struct am_shm *shm;    /* borrowed from shm_ref */
    PyObject *shm_ref;
    PyObject *py_render; /* callable(fmt) -> bytes, or NULL */
} RegistryObject;

extern PyTypeObject RegistryType;

/*
** Encode r and its sources in format f, the Python part included (needs
** the GIL to render it, so call with the GIL held; the native part is
** encoded with the GIL released). Returns a bytes object or NULL with an
** exception set.
*/
PyObject *ext_registry_encode(RegistryObject *r, am_format f);

/* Encoded text from ext_registry_encode_nogil: the library's buffer, or
   one joined with the Python part. Free with ext_text_free(). */
typedef struct ext_text {
    char *p;
    size_t len;
    bool is_lib; /* p is from the library (am_free), else PyMem_RawMalloc */
} ext_text;

/*
** The same from a thread that does not hold the GIL (an HTTP handler):
** takes the GIL only for the Python part (then releases it), and the fork
** gate for the native part. Returns AM_OK, or an error with am_errmsg()
** set (a failing Python part is reported as unraisable and left out).
*/
am_err ext_registry_encode_nogil(RegistryObject *r, am_format f, ext_text *out);
void ext_text_free(ext_text *t);

/* The shared-memory segment's encode (shm.c): regs as in am_encode(). */
am_err ext_shm_encode(struct am_shm *shm, am_registry *const *regs, size_t n, am_format f,
                      char **out, size_t *len);

int ext_registry_init(PyObject *m);

/* ------------------------------------------------------------ metrics */

int ext_metric_init(PyObject *m);

/* The module's ContextVar holding the current TraceContext (trace.c). */
extern PyObject *ext_current_trace;

/* ------------------------------------------------------------ traces */

typedef struct TraceObject {
    PyObject_HEAD am_trace_ctx ctx;
} TraceObject;

extern PyTypeObject TraceType;

/*
** The context the calling task is in: the ContextVar's TraceContext, or
** NULL when there is none. On error (only a broken ContextVar) returns NULL
** with an exception set and *failed = true.
*/
const am_trace_ctx *ext_trace_current(bool *failed);

/*
** A context argument: a TraceContext, or None for the current one (the
** ContextVar's), copied into *out; *has = false when there is none.
** Returns 0, or -1 with TypeError set.
*/
int ext_trace_arg(PyObject *o, am_trace_ctx *out, bool *has);

/* The exemplar pairs {trace_id, span_id} of a sampled context, as am_labels
   pointing into hex (room for both ids). false when not sampled. */
typedef struct ext_trace_ex {
    char trace_id[AM_TRACE_ID_HEX + 1];
    char span_id[AM_SPAN_ID_HEX + 1];
    const char *names[2];
    const char *values[2];
    am_labels labels;
} ext_trace_ex;
bool ext_trace_exemplar(const am_trace_ctx *ctx, ext_trace_ex *ex);

int ext_trace_init(PyObject *m);

/* ------------------------------------------------------------ the rest */

int ext_http_init(PyObject *m);
int ext_push_init(PyObject *m);
int ext_log_init(PyObject *m);
int ext_packs_init(PyObject *m);
int ext_coord_init(PyObject *m);
int ext_shm_init(PyObject *m);

/* The segment of a Shm object (shm.c), or NULL with TypeError. */
extern PyTypeObject ShmType;
struct am_shm *ext_shm_of(PyObject *o);

/*
** Convert a Python str (or anything str() accepts when is_str_only is
** false) to a UTF-8 C string. The result is borrowed from *keep, which
** receives a new reference the caller must release. NULL with an
** exception on failure (including a NUL byte inside the text).
*/
const char *ext_utf8(PyObject *o, PyObject **keep, bool is_str_only);

/*
** An exemplar dict {name: value} as am_labels: names and values point into
** the dict's strings (borrowed while the dict lives); *keep holds what was
** made to get them. Returns 0 or -1 with an exception (TypeError for a
** non-dict, more than AM_MAX_LABELS entries).
*/
typedef struct ext_labels {
    const char *names[AM_MAX_LABELS];
    const char *values[AM_MAX_LABELS];
    PyObject *keep[2 * AM_MAX_LABELS];
    size_t n_keep;
    am_labels labels;
} ext_labels;
int ext_labels_from_dict(PyObject *d, ext_labels *out);
void ext_labels_release(ext_labels *l);

#endif
