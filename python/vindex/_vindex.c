/*
 * _vindex: the CPython extension under the `vindex` package.
 *
 * A thin layer over the public C API (include/vindex.h) and nothing else. The
 * Faiss-compatible classes live in __init__.py and subclass the three types
 * defined here:
 *
 *   Index         a handle on one `vindex *`; the methods are the C calls, named
 *                 with a leading underscore (_search, _add, ...), taking arrays
 *                 through the buffer protocol (PEP 3118).
 *   Selector      a handle on one `vindex_selector *` (IDSelector* classes).
 *   SearchParams  a `vindex_search_params` plus the selector it points to.
 *
 * Arrays. Every array argument must be C-contiguous with the exact item type:
 * float32 (format 'f') for vectors and distances, int64 ('q' or 'l', 8 bytes)
 * for ids. The Python layer converts with numpy before calling; the checks here
 * (format, itemsize, dimensions, shape) are what turn a wrong input into a
 * message that names the fix, so they stay even though numpy already converted.
 *
 * Errors. A failed call raises with vindex_last_error(): VINDEX_ERR_INVALID
 * and VINDEX_ERR_DIM raise vindex.ArgumentError (a subclass of both ValueError
 * and RuntimeError, so that Faiss code catching RuntimeError still works),
 * VINDEX_ERR_NOMEM raises MemoryError, anything else RuntimeError.
 *
 * The GIL is released around every call into the library that can take time.
 * Releasing it lets two Python threads use one index at once, which the C API
 * allows only for const calls; so each index tree (a wrapper and the indexes it
 * owns) has a readers-writer lock: search, range_search and reconstruct share
 * it, add, train, remove_ids, reset and set_param take it alone. A thread never
 * blocks on that lock while it holds the GIL (try first, else release the GIL
 * and wait), so the two locks cannot deadlock. merge_from, the one call that
 * changes two trees, takes their locks in address order.
 *
 * Log messages. set_log_callback installs one C callback that calls a Python
 * handler; the library may log from any thread while the GIL is released, so
 * the callback takes the GIL with PyGILState_Ensure.
 *
 * Ownership. A composite index (IndexIDMap, IndexIVFFlat over its quantizer)
 * owns its sub-index in C. When the C constructor succeeds, the Python object of the
 * sub-index stops owning its `vindex *`: it keeps the pointer, holds a strong
 * reference to the index that owns it now (its "owner"), and refuses calls that
 * would change it behind the wrapper's back. The index is freed exactly once,
 * by the owner's dealloc.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "vindex.h"

static PyObject *ArgumentError; /* vindex.ArgumentError(ValueError, RuntimeError) */

/* ------------------------------------------------------------------------- */
/* Errors                                                                     */
/* ------------------------------------------------------------------------- */

/* Raises the Python exception for a failed library call; returns NULL. Must be
 * called on the thread that made the call (the message is thread-local). */
static PyObject *raise_status(vindex_status st)
{
    const char *msg = vindex_last_error();
    if (!msg || !*msg)
        msg = vindex_status_string(st);
    PyObject *type;
    switch (st) {
    case VINDEX_ERR_INVALID:
    case VINDEX_ERR_DIM: type = ArgumentError; break;
    case VINDEX_ERR_NOMEM: type = PyExc_MemoryError; break;
    default: type = PyExc_RuntimeError; break;
    }
    PyErr_SetString(type, msg);
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* Buffers                                                                    */
/* ------------------------------------------------------------------------- */

enum item { ITEM_F32, ITEM_I64, ITEM_U8, ITEM_I32 };

static const char *item_name(enum item t)
{
    return t == ITEM_F32 ? "float32" : t == ITEM_I64 ? "int64" : t == ITEM_I32 ? "int32" : "uint8";
}

static const char *item_dtype(enum item t)
{
    return t == ITEM_F32 ? "'float32'" : t == ITEM_I64 ? "'int64'"
           : t == ITEM_I32 ? "'int32'" : "'uint8'";
}

/* Whether the buffer holds items of type t in native byte order. */
static int item_ok(const Py_buffer *v, enum item t)
{
    const char *f = v->format ? v->format : "B";
    if (*f == '@' || *f == '=')
        f++;
#if PY_LITTLE_ENDIAN
    else if (*f == '<')
        f++;
#else
    else if (*f == '>' || *f == '!')
        f++;
#endif
    if (f[0] == '\0' || f[1] != '\0')
        return 0;
    switch (t) {
    case ITEM_F32: return v->itemsize == 4 && f[0] == 'f';
    case ITEM_I64: return v->itemsize == 8 && (f[0] == 'q' || f[0] == 'l');
    case ITEM_U8: return v->itemsize == 1 && (f[0] == 'B' || f[0] == 'b' || f[0] == 'c');
    case ITEM_I32: return v->itemsize == 4 && (f[0] == 'i' || (f[0] == 'l' && sizeof(long) == 4));
    }
    return 0;
}

/* The shapes get_array() accepts. */
enum shape {
    SHAPE_1D,  /* a flat array of items */
    SHAPE_ROWS, /* 2-d, `width` columns of vector components (width < 0: any) */
    SHAPE_OUT,  /* 2-d output of `width` = k columns */
    SHAPE_1D_OR_ROWS /* 1-d (one vector) or 2-d (rows), any width */
};

/*
 * Gets a C-contiguous buffer of items of type t from obj into *v and checks its
 * shape. Returns the number of rows (SHAPE_1D: of items; a 1-d array under
 * SHAPE_1D_OR_ROWS counts as 1 row), or -1 with an exception set and no buffer
 * held. `op` and `what` name the call and the argument in messages ("search",
 * "queries").
 */
static Py_ssize_t get_array(PyObject *obj, Py_buffer *v, enum item t, int writable,
                            enum shape shape, Py_ssize_t width, const char *op, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, v, flags) < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(ArgumentError,
                     "%s: %s must be a %sC-contiguous %s array (np.ascontiguousarray(x, "
                     "dtype=%s)); got %.80s (%S)",
                     op, what, writable ? "writable " : "", item_name(t), item_dtype(t),
                     Py_TYPE(obj)->tp_name, value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    if (!item_ok(v, t)) {
        PyErr_Format(ArgumentError,
                     "%s: %s must hold %s items, got format '%s' with %zd-byte items; convert "
                     "with np.ascontiguousarray(x, dtype=%s)",
                     op, what, item_name(t), v->format ? v->format : "B", v->itemsize,
                     item_dtype(t));
        goto fail;
    }
    switch (shape) {
    case SHAPE_1D:
        if (v->ndim == 1)
            return v->shape[0];
        PyErr_Format(ArgumentError, "%s: %s must be a 1-d array, got %d dimensions", op, what,
                     v->ndim);
        goto fail;
    case SHAPE_1D_OR_ROWS:
        if (v->ndim == 1)
            return 1;
        if (v->ndim == 2)
            return v->shape[0];
        PyErr_Format(ArgumentError, "%s: %s must be a 1-d or 2-d array, got %d dimensions", op,
                     what, v->ndim);
        goto fail;
    case SHAPE_ROWS:
        if (v->ndim != 2) {
            if (v->ndim == 1 && width >= 0)
                PyErr_Format(ArgumentError,
                             "%s: %s must be a 2-d array of shape (n, %zd), got a 1-d array "
                             "of shape (%zd,); for a single vector use x.reshape(1, -1)",
                             op, what, width, v->shape[0]);
            else
                PyErr_Format(ArgumentError,
                             "%s: %s must be a 2-d array (one vector per row), got %d "
                             "dimension%s",
                             op, what, v->ndim, v->ndim == 1 ? "" : "s");
            goto fail;
        }
        if (width >= 0 && v->shape[1] != width) {
            PyErr_Format(ArgumentError,
                         "%s: %s have %zd components but %s=%zd; pass an array of shape "
                         "(n, %zd)",
                         op, what, v->shape[1], strcmp(op, "knn") ? "the index has d" : "xb has d",
                         width, width);
            goto fail;
        }
        return v->shape[0];
    case SHAPE_OUT:
        if (v->ndim == 2 && v->shape[1] == width)
            return v->shape[0];
        PyErr_Format(ArgumentError, "%s: %s must be a 2-d array of shape (n, k=%zd)", op, what,
                     width);
        goto fail;
    }
fail:
    PyBuffer_Release(v);
    return -1;
}

/* ------------------------------------------------------------------------- */
/* Selector                                                                   */
/* ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    vindex_selector *sel;
    PyObject *inner; /* the selector a NOT selector refers to (kept alive) */
} SelectorObject;

static PyTypeObject SelectorType;

static PyObject *Selector_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    return type->tp_alloc(type, 0); /* zeroed: sel = NULL until an _init_* call */
}

static int Selector_traverse(SelectorObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->inner);
    return 0;
}

static int Selector_clear(SelectorObject *self)
{
    /* The inner object stays alive as long as sel may point into it. */
    if (self->sel) {
        vindex_selector_free(self->sel);
        self->sel = NULL;
    }
    Py_CLEAR(self->inner);
    return 0;
}

static void Selector_dealloc(SelectorObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Selector_clear(self);
    tp->tp_free((PyObject *)self);
}

static int selector_fresh(SelectorObject *self)
{
    if (self->sel) {
        PyErr_SetString(PyExc_RuntimeError, "selector is already initialised");
        return 0;
    }
    return 1;
}

static PyObject *Selector_init_range(SelectorObject *self, PyObject *args)
{
    long long lo, hi;
    if (!PyArg_ParseTuple(args, "LL:_init_range", &lo, &hi) || !selector_fresh(self))
        return NULL;
    vindex_status st = vindex_selector_range(&self->sel, lo, hi);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Selector_init_batch(SelectorObject *self, PyObject *ids)
{
    if (!selector_fresh(self))
        return NULL;
    Py_buffer v;
    Py_ssize_t n = get_array(ids, &v, ITEM_I64, 0, SHAPE_1D, -1, "IDSelectorBatch", "ids");
    if (n < 0)
        return NULL;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_selector_batch(&self->sel, (size_t)n, v.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Selector_init_bitmap(SelectorObject *self, PyObject *args)
{
    Py_ssize_t nbits;
    PyObject *obj;
    if (!PyArg_ParseTuple(args, "nO:_init_bitmap", &nbits, &obj) || !selector_fresh(self))
        return NULL;
    Py_buffer v;
    Py_ssize_t nbytes = get_array(obj, &v, ITEM_U8, 0, SHAPE_1D, -1, "IDSelectorBitmap", "bitmap");
    if (nbytes < 0)
        return NULL;
    if (nbits < 0 || (size_t)nbits > (size_t)nbytes * 8) {
        PyBuffer_Release(&v);
        return PyErr_Format(ArgumentError,
                            "IDSelectorBitmap: %zd bits do not fit a bitmap of %zd bytes", nbits,
                            nbytes);
    }
    vindex_status st = vindex_selector_bitmap(&self->sel, (size_t)nbits, v.buf);
    PyBuffer_Release(&v);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Selector_init_not(SelectorObject *self, PyObject *inner)
{
    if (!selector_fresh(self))
        return NULL;
    if (!PyObject_TypeCheck(inner, &SelectorType) || !((SelectorObject *)inner)->sel)
        return PyErr_Format(PyExc_TypeError, "IDSelectorNot: expected an IDSelector, got %.80s",
                            Py_TYPE(inner)->tp_name);
    vindex_status st = vindex_selector_not(&self->sel, ((SelectorObject *)inner)->sel);
    if (st)
        return raise_status(st);
    self->inner = Py_NewRef(inner);
    Py_RETURN_NONE;
}

static PyObject *Selector_is_member(SelectorObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    if (!self->sel)
        return PyErr_Format(PyExc_RuntimeError, "selector is not initialised");
    return PyBool_FromLong(vindex_selector_contains(self->sel, id));
}

static PyMethodDef Selector_methods[] = {
    {"_init_range", (PyCFunction)Selector_init_range, METH_VARARGS,
     "_init_range(lo, hi): select ids in [lo, hi)."},
    {"_init_batch", (PyCFunction)Selector_init_batch, METH_O,
     "_init_batch(ids): select the ids of a 1-d int64 buffer (copied)."},
    {"_init_bitmap", (PyCFunction)Selector_init_bitmap, METH_VARARGS,
     "_init_bitmap(nbits, bitmap): id i is selected when bit i%8 of bitmap[i//8] is set."},
    {"_init_not", (PyCFunction)Selector_init_not, METH_O,
     "_init_not(inner): select every id that inner does not."},
    {"is_member", (PyCFunction)Selector_is_member, METH_O,
     "is_member(id) -> bool: whether the selector selects id."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SelectorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vindex._vindex.Selector",
    .tp_doc = "Base of the IDSelector classes: a handle on a vindex_selector.",
    .tp_basicsize = sizeof(SelectorObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Selector_new,
    .tp_dealloc = (destructor)Selector_dealloc,
    .tp_traverse = (traverseproc)Selector_traverse,
    .tp_clear = (inquiry)Selector_clear,
    .tp_methods = Selector_methods,
};

/* ------------------------------------------------------------------------- */
/* SearchParams                                                               */
/* ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    vindex_search_params p; /* p.sel mirrors `sel` */
    PyObject *sel;          /* a Selector or NULL */
} ParamsObject;

static PyTypeObject ParamsType;

static PyObject *Params_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    ParamsObject *self = (ParamsObject *)type->tp_alloc(type, 0);
    if (self)
        vindex_search_params_init(&self->p);
    return (PyObject *)self;
}

static int Params_traverse(ParamsObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->sel);
    return 0;
}

static int Params_clear(ParamsObject *self)
{
    self->p.sel = NULL;
    Py_CLEAR(self->sel);
    return 0;
}

static void Params_dealloc(ParamsObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Params_clear(self);
    tp->tp_free((PyObject *)self);
}

static PyObject *Params_get_int(ParamsObject *self, void *off)
{
    return PyLong_FromLong(*(int *)((char *)&self->p + (size_t)off));
}

static int Params_set_int(ParamsObject *self, PyObject *value, void *off)
{
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a search parameter");
        return -1;
    }
    long v = PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > INT_MAX) {
        PyErr_Format(ArgumentError, "search parameter %ld must be in [0, %d] (0: the index's own)",
                     v, INT_MAX);
        return -1;
    }
    *(int *)((char *)&self->p + (size_t)off) = (int)v;
    return 0;
}

static PyObject *Params_get_k_factor(ParamsObject *self, void *c)
{
    return PyFloat_FromDouble(self->p.k_factor);
}

static int Params_set_k_factor(ParamsObject *self, PyObject *value, void *c)
{
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete a search parameter");
        return -1;
    }
    double v = PyFloat_AsDouble(value);
    if (v == -1.0 && PyErr_Occurred())
        return -1;
    if (!(v >= 0) || v > 1e30) {
        PyErr_Format(ArgumentError, "k_factor %R must be a positive number (0: the index's own)",
                     value);
        return -1;
    }
    self->p.k_factor = (float)v;
    return 0;
}

static PyObject *Params_get_sel(ParamsObject *self, void *c)
{
    return Py_NewRef(self->sel ? self->sel : Py_None);
}

static int Params_set_sel(ParamsObject *self, PyObject *value, void *c)
{
    if (!value || value == Py_None) {
        Params_clear(self);
        return 0;
    }
    if (!PyObject_TypeCheck(value, &SelectorType) || !((SelectorObject *)value)->sel) {
        PyErr_Format(PyExc_TypeError, "sel must be an IDSelector (or None), got %.80s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_XSETREF(self->sel, Py_NewRef(value));
    self->p.sel = ((SelectorObject *)value)->sel;
    return 0;
}

static PyGetSetDef Params_getset[] = {
    {"nprobe", (getter)Params_get_int, (setter)Params_set_int,
     "IVF: inverted lists to visit (0: the index's nprobe).",
     (void *)offsetof(vindex_search_params, nprobe)},
    {"efSearch", (getter)Params_get_int, (setter)Params_set_int,
     "HNSW: size of the candidate list (0: the index's efSearch).",
     (void *)offsetof(vindex_search_params, ef_search)},
    {"k_factor", (getter)Params_get_k_factor, (setter)Params_set_k_factor,
     "Refine: re-rank k * k_factor candidates (0: the index's k_factor).", NULL},
    {"sel", (getter)Params_get_sel, (setter)Params_set_sel,
     "An IDSelector: only the ids it selects are returned (None: all).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ParamsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vindex._vindex.SearchParams",
    .tp_doc = "Base of the SearchParameters classes: a vindex_search_params.",
    .tp_basicsize = sizeof(ParamsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Params_new,
    .tp_dealloc = (destructor)Params_dealloc,
    .tp_traverse = (traverseproc)Params_traverse,
    .tp_clear = (inquiry)Params_clear,
    .tp_getset = Params_getset,
};

/* A private copy of the parameters for one call, holding a reference to the
 * selector so that `params.sel = other` in another thread cannot free it while
 * the call runs. Returns 0, or -1 with TypeError set. */
static int params_take(PyObject *obj, vindex_search_params *out, PyObject **hold,
                       const vindex_search_params **use)
{
    *hold = NULL;
    *use = NULL;
    if (obj == Py_None)
        return 0;
    if (!PyObject_TypeCheck(obj, &ParamsType)) {
        PyErr_Format(PyExc_TypeError,
                     "params must be a SearchParameters object (or None), got %.80s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    ParamsObject *po = (ParamsObject *)obj;
    *out = po->p;
    *hold = Py_XNewRef(po->sel);
    *use = out;
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Index                                                                      */
/* ------------------------------------------------------------------------- */

typedef struct IndexObject {
    PyObject_HEAD
    vindex *ix;
    /* NULL: this object owns ix. Else the Index that owns it now (a strong
     * reference), and ix points into that index's tree. */
    PyObject *owner;
    pthread_rwlock_t lock; /* guards the tree when owner is NULL */
} IndexObject;

static PyTypeObject IndexType;

static PyObject *Index_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    IndexObject *self = (IndexObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    /* Writers are not starved by a stream of searches; we never nest locks. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int rc = pthread_rwlock_init(&self->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc) {
        /* No usable lock: free the object without running dealloc. */
        type->tp_free((PyObject *)self);
        if (type->tp_flags & Py_TPFLAGS_HEAPTYPE)
            Py_DECREF(type); /* the reference tp_alloc took */
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return (PyObject *)self;
}

static int Index_traverse(IndexObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    return 0;
}

/* Breaks reference cycles (a wrapper whose attribute holds its sub-index, whose
 * owner is the wrapper). A borrowed handle forgets its pointer before letting go
 * of the owner that keeps it valid; an owned index is freed in dealloc. */
static int Index_clear(IndexObject *self)
{
    if (self->owner) {
        self->ix = NULL;
        Py_CLEAR(self->owner);
    }
    return 0;
}

static void Index_dealloc(IndexObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->owner)
        Index_clear(self);
    else if (self->ix) {
        /* Nothing else can use the tree: every borrowed handle holds a reference
         * to us. Freeing gigabytes takes a while: let other threads run then. */
        vindex *ix = self->ix;
        self->ix = NULL;
        if (vindex_memory_bytes(ix) >= ((size_t)64 << 20)) {
            Py_BEGIN_ALLOW_THREADS
            vindex_free(ix);
            Py_END_ALLOW_THREADS
        } else {
            vindex_free(ix);
        }
    }
    pthread_rwlock_destroy(&self->lock);
    tp->tp_free((PyObject *)self);
}

/* The object whose lock guards self's tree (self, or the top of its owners). */
static IndexObject *root_of(IndexObject *self)
{
    while (self->owner)
        self = (IndexObject *)self->owner;
    return self;
}

static PyObject *not_ready(IndexObject *self)
{
    return PyErr_Format(PyExc_RuntimeError,
                        "%.80s is not initialised (its __init__ did not run, or the index "
                        "that owned it was freed)",
                        Py_TYPE(self)->tp_name);
}

/*
 * Takes the tree's lock, shared or exclusive, with the GIL held on entry and on
 * return; returns the root whose lock is held, or NULL with an exception. A
 * contended lock is waited for with the GIL released; if the tree changed owner
 * meanwhile (the index was wrapped), the wait starts over on the new root.
 * `write` also refuses a borrowed handle: changing a sub-index behind its
 * wrapper would break the wrapper (its id map, its counts).
 */
static IndexObject *index_lock(IndexObject *self, int write, const char *op)
{
    if (!self->ix)
        return (IndexObject *)not_ready(self);
    if (write && self->owner) {
        PyErr_Format(PyExc_RuntimeError,
                     "%s: this %s is owned by the %s that wraps it; call %s on the wrapper",
                     op, vindex_type_name(self->ix),
                     vindex_type_name(root_of(self)->ix), op);
        return NULL;
    }
    for (;;) {
        IndexObject *root = root_of(self);
        pthread_rwlock_t *l = &root->lock;
        int rc = write ? pthread_rwlock_trywrlock(l) : pthread_rwlock_tryrdlock(l);
        if (rc == 0)
            return root;
        if (rc != EBUSY) {
            errno = rc;
            return (IndexObject *)PyErr_SetFromErrno(PyExc_OSError);
        }
        Py_INCREF(root);
        Py_BEGIN_ALLOW_THREADS
        if (write)
            pthread_rwlock_wrlock(l);
        else
            pthread_rwlock_rdlock(l);
        Py_END_ALLOW_THREADS
        int same = root_of(self) == root && self->ix != NULL;
        if (same) {
            Py_DECREF(root); /* still referenced: self's owners lead to it */
            return root;
        }
        pthread_rwlock_unlock(l);
        Py_DECREF(root);
        if (!self->ix)
            return (IndexObject *)not_ready(self);
        if (write && self->owner) /* wrapped while we waited */
            return index_lock(self, write, op);
    }
}

static void index_unlock(IndexObject *root) { pthread_rwlock_unlock(&root->lock); }

/* ---- properties ---------------------------------------------------------- */

static PyObject *Index_get_d(IndexObject *self, void *c)
{
    if (!self->ix)
        return not_ready(self);
    return PyLong_FromLong(vindex_d(self->ix)); /* fixed at construction */
}

static PyObject *Index_get_ntotal(IndexObject *self, void *c)
{
    IndexObject *root = index_lock(self, 0, "ntotal");
    if (!root)
        return NULL;
    int64_t n = vindex_ntotal(self->ix);
    index_unlock(root);
    return PyLong_FromLongLong(n);
}

static PyObject *Index_get_is_trained(IndexObject *self, void *c)
{
    IndexObject *root = index_lock(self, 0, "is_trained");
    if (!root)
        return NULL;
    int t = vindex_is_trained(self->ix);
    index_unlock(root);
    return PyBool_FromLong(t);
}

static PyObject *Index_get_metric(IndexObject *self, void *c)
{
    if (!self->ix)
        return not_ready(self);
    return PyLong_FromLong((long)vindex_metric_type(self->ix));
}

static PyObject *Index_get_type_name(IndexObject *self, void *c)
{
    if (!self->ix)
        return not_ready(self);
    return PyUnicode_FromString(vindex_type_name(self->ix));
}

static PyObject *Index_get_owned(IndexObject *self, void *c)
{
    return PyBool_FromLong(self->ix && !self->owner);
}

static PyObject *Index_get_memory_bytes(IndexObject *self, void *c)
{
    IndexObject *root = index_lock(self, 0, "memory_bytes");
    if (!root)
        return NULL;
    size_t n = vindex_memory_bytes(self->ix);
    index_unlock(root);
    return PyLong_FromSize_t(n);
}

static PyGetSetDef Index_getset[] = {
    {"d", (getter)Index_get_d, NULL, "Dimension of the vectors.", NULL},
    {"ntotal", (getter)Index_get_ntotal, NULL, "Number of vectors in the index.", NULL},
    {"is_trained", (getter)Index_get_is_trained, NULL,
     "Whether the index is ready for add and search (train() first if not).", NULL},
    {"_metric", (getter)Index_get_metric, NULL, "The C vindex_metric value.", NULL},
    {"_type_name", (getter)Index_get_type_name, NULL, "The C family name (\"IndexFlat\").",
     NULL},
    {"_owned", (getter)Index_get_owned, NULL,
     "True when this object owns its index (False once a wrapper took it).", NULL},
    {"memory_bytes", (getter)Index_get_memory_bytes, NULL,
     "Bytes held by the index (vectors, ids, codes, graph).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- constructors -------------------------------------------------------- */
/* Each family adds one _init_* method here: parse, call the C constructor,
 * keep the result (adopt() for sub-indexes the new index now owns). */

static int index_fresh(IndexObject *self)
{
    if (self->ix) {
        PyErr_SetString(PyExc_RuntimeError, "index is already initialised");
        return 0;
    }
    return 1;
}

static PyObject *Index_init_flat(IndexObject *self, PyObject *args)
{
    int d, metric;
    if (!PyArg_ParseTuple(args, "ii:_init_flat", &d, &metric) || !index_fresh(self))
        return NULL;
    vindex_status st = vindex_flat_new(&self->ix, d, (vindex_metric)metric);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* Checks that `obj` is an Index that can be handed to a new owner, and takes
 * its lock exclusively (released by adopt_finish). */
static IndexObject *adopt_begin(IndexObject *self, PyObject *obj, const char *op)
{
    if (!PyObject_TypeCheck(obj, &IndexType)) {
        PyErr_Format(PyExc_TypeError, "%s: expected an Index to wrap, got %.80s", op,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    IndexObject *sub = (IndexObject *)obj;
    if (sub == self) {
        PyErr_Format(ArgumentError, "%s: an index cannot wrap itself", op);
        return NULL;
    }
    if (sub->ix && sub->owner) {
        PyErr_Format(ArgumentError,
                     "%s: this %s already belongs to a %s; create a new index to wrap", op,
                     vindex_type_name(sub->ix), vindex_type_name(root_of(sub)->ix));
        return NULL;
    }
    return index_lock(sub, 1, op) ? sub : NULL;
}

/* After the C constructor: on success the sub-index's object stops owning its
 * pointer and keeps the new owner alive instead. */
static void adopt_finish(IndexObject *self, IndexObject *sub, int success)
{
    if (success)
        sub->owner = Py_NewRef((PyObject *)self);
    pthread_rwlock_unlock(&sub->lock);
}

static PyObject *Index_init_idmap(IndexObject *self, PyObject *args)
{
    PyObject *obj;
    int two;
    if (!PyArg_ParseTuple(args, "Op:_init_idmap", &obj, &two) || !index_fresh(self))
        return NULL;
    const char *op = two ? "IndexIDMap2" : "IndexIDMap";
    IndexObject *sub = adopt_begin(self, obj, op);
    if (!sub)
        return NULL;
    vindex *ix = NULL;
    vindex_status st = two ? vindex_idmap2_new(&ix, sub->ix) : vindex_idmap_new(&ix, sub->ix);
    if (!st)
        self->ix = ix;
    adopt_finish(self, sub, st == VINDEX_OK);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* _init_ivf_flat(quantizer, d, nlist, c_metric): vindex_ivf_flat_new. The IVF
 * index takes the quantizer's `vindex *`; the quantizer object becomes a
 * borrowed handle (searchable, not changeable), as a sub-index of IDMap. */
static PyObject *Index_init_ivf_flat(IndexObject *self, PyObject *args)
{
    PyObject *obj;
    int d, metric;
    Py_ssize_t nlist;
    if (!PyArg_ParseTuple(args, "Oini:_init_ivf_flat", &obj, &d, &nlist, &metric) ||
        !index_fresh(self))
        return NULL;
    if (nlist <= 0)
        return PyErr_Format(ArgumentError, "IndexIVFFlat: nlist %zd must be at least 1", nlist);
    IndexObject *sub = adopt_begin(self, obj, "IndexIVFFlat");
    if (!sub)
        return NULL;
    vindex *ix = NULL;
    vindex_status st = vindex_ivf_flat_new(&ix, sub->ix, d, (size_t)nlist, (vindex_metric)metric);
    if (!st)
        self->ix = ix;
    adopt_finish(self, sub, st == VINDEX_OK);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* _init_ivf_quantized(kind, quantizer, d, nlist, a, b, c_metric): an IVF index
 * over coded vectors, taking the quantizer's index as _init_ivf_flat does.
 * kind "pq": vindex_ivfpq_new with M = a, nbits = b ("pqfs": the fast-scan one); kind "sq":
 * vindex_ivfsq_new with the vindex_sq_type a (b unused). */
static PyObject *Index_init_ivf_quantized(IndexObject *self, PyObject *args)
{
    const char *kind;
    PyObject *obj;
    int d, a, b, metric;
    Py_ssize_t nlist;
    if (!PyArg_ParseTuple(args, "sOiniii:_init_ivf_quantized", &kind, &obj, &d, &nlist, &a, &b,
                          &metric) ||
        !index_fresh(self))
        return NULL;
    int pq = !strcmp(kind, "pq"), fs = !strcmp(kind, "pqfs");
    const char *op = fs ? "IndexIVFPQFastScan" : pq ? "IndexIVFPQ" : "IndexIVFScalarQuantizer";
    if (nlist <= 0)
        return PyErr_Format(ArgumentError, "%s: nlist %zd must be at least 1", op, nlist);
    IndexObject *sub = adopt_begin(self, obj, op);
    if (!sub)
        return NULL;
    vindex *ix = NULL;
    vindex_status st =
        fs ? vindex_ivfpq_fastscan_new(&ix, sub->ix, d, (size_t)nlist, a, b, (vindex_metric)metric)
        : pq ? vindex_ivfpq_new(&ix, sub->ix, d, (size_t)nlist, a, b, (vindex_metric)metric)
           : vindex_ivfsq_new(&ix, sub->ix, d, (size_t)nlist, (vindex_sq_type)a,
                              (vindex_metric)metric);
    if (!st)
        self->ix = ix;
    adopt_finish(self, sub, st == VINDEX_OK);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* _init_coded(kind, d, a, b, c_metric): a family without sub-index.
 * "pq": vindex_pq_new(d, M=a, nbits=b) ("pqfs": vindex_pq_fastscan_new); "sq": vindex_sq_new(d, type=a);
 * "hnsw_flat": vindex_hnsw_flat_new(d, M=a); "hnsw_sq8": vindex_hnsw_sq8_new(d, M=a);
 * "hnsw_fp16": vindex_hnsw_fp16_new(d, M=a); "hnsw_pq": vindex_hnsw_pq_new(d, pq_M=b, M=a). */
static PyObject *Index_init_coded(IndexObject *self, PyObject *args)
{
    const char *kind;
    int d, a, b, metric;
    if (!PyArg_ParseTuple(args, "siiii:_init_coded", &kind, &d, &a, &b, &metric) ||
        !index_fresh(self))
        return NULL;
    vindex_metric m = (vindex_metric)metric;
    vindex_status st;
    if (!strcmp(kind, "pq"))
        st = vindex_pq_new(&self->ix, d, a, b, m);
    else if (!strcmp(kind, "pqfs"))
        st = vindex_pq_fastscan_new(&self->ix, d, a, b, m);
    else if (!strcmp(kind, "sq"))
        st = vindex_sq_new(&self->ix, d, (vindex_sq_type)a, m);
    else if (!strcmp(kind, "hnsw_flat"))
        st = vindex_hnsw_flat_new(&self->ix, d, a, m);
    else if (!strcmp(kind, "hnsw_sq8"))
        st = vindex_hnsw_sq8_new(&self->ix, d, a, m);
    else if (!strcmp(kind, "hnsw_fp16"))
        st = vindex_hnsw_fp16_new(&self->ix, d, a, m);
    else if (!strcmp(kind, "hnsw_pq"))
        st = vindex_hnsw_pq_new(&self->ix, d, b, a, m);
    else
        return PyErr_Format(PyExc_ValueError, "_init_coded: unknown kind '%s'", kind);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* A new Python object of class cls (an Index subclass; tp_new only, __init__
 * is not run) holding ix. owner NULL: the object owns ix (a new index from the
 * factory or a file); else ix belongs to owner's tree (a borrowed handle). */
static PyObject *index_handle(PyObject *cls, vindex *ix, PyObject *owner)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &IndexType)) {
        if (!owner)
            vindex_free(ix);
        return PyErr_Format(PyExc_TypeError, "expected an Index class, got %.80s",
                            Py_TYPE(cls)->tp_name);
    }
    PyTypeObject *tp = (PyTypeObject *)cls;
    IndexObject *h = (IndexObject *)tp->tp_new(tp, NULL, NULL);
    if (!h) {
        if (!owner)
            vindex_free(ix);
        return NULL;
    }
    h->ix = ix;
    h->owner = Py_XNewRef(owner);
    return (PyObject *)h;
}

/* _idmap_index(cls): a borrowed handle of class cls on the index an IndexIDMap
 * or IndexIDMap2 wraps. */
static PyObject *Index_idmap_index(IndexObject *self, PyObject *cls)
{
    IndexObject *root = index_lock(self, 0, "index");
    if (!root)
        return NULL;
    vindex *sub = NULL;
    vindex_status st = vindex_idmap_index(self->ix, &sub);
    index_unlock(root);
    if (st)
        return raise_status(st);
    return index_handle(cls, sub, (PyObject *)self);
}

/* _sq_type() -> int: vindex_sq_type_of. */
static PyObject *Index_sq_type(IndexObject *self, PyObject *unused)
{
    if (!self->ix)
        return not_ready(self);
    vindex_sq_type t;
    vindex_status st = vindex_sq_type_of(self->ix, &t); /* fixed at construction */
    return st ? raise_status(st) : PyLong_FromLong((long)t);
}

/* _hnsw_validate() -> (status, unreachable, report): vindex_hnsw_validate;
 * status is 0 or the C status of a violation (the report names it). */
static PyObject *Index_hnsw_validate(IndexObject *self, PyObject *unused)
{
    IndexObject *root = index_lock(self, 0, "validate");
    if (!root)
        return NULL;
    int64_t unreachable = 0;
    char report[512] = "";
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_hnsw_validate(self->ix, &unreachable, report, sizeof report);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    if (st && st != VINDEX_ERR_CORRUPT)
        return raise_status(st);
    if (st && !report[0])
        snprintf(report, sizeof report, "%s", vindex_last_error());
    return Py_BuildValue("iLs", (int)st, (long long)unreachable, report);
}

/* _reverse_factory() -> str: vindex_reverse_factory. */
static PyObject *Index_reverse_factory(IndexObject *self, PyObject *unused)
{
    IndexObject *root = index_lock(self, 0, "reverse_index_factory");
    if (!root)
        return NULL;
    char buf[512];
    vindex_status st = vindex_reverse_factory(self->ix, buf, sizeof buf);
    index_unlock(root);
    return st ? raise_status(st) : PyUnicode_FromString(buf);
}

/* ---- operations ---------------------------------------------------------- */

static PyObject *Index_train(IndexObject *self, PyObject *x)
{
    if (!self->ix)
        return not_ready(self);
    Py_buffer v;
    Py_ssize_t n = get_array(x, &v, ITEM_F32, 0, SHAPE_ROWS, vindex_d(self->ix), "train", "the vectors");
    if (n < 0)
        return NULL;
    IndexObject *root = index_lock(self, 1, "train");
    if (!root) {
        PyBuffer_Release(&v);
        return NULL;
    }
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_train(self->ix, (size_t)n, v.buf);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Index_add(IndexObject *self, PyObject *x)
{
    if (!self->ix)
        return not_ready(self);
    Py_buffer v;
    Py_ssize_t n = get_array(x, &v, ITEM_F32, 0, SHAPE_ROWS, vindex_d(self->ix), "add", "the vectors");
    if (n < 0)
        return NULL;
    IndexObject *root = index_lock(self, 1, "add");
    if (!root) {
        PyBuffer_Release(&v);
        return NULL;
    }
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_add(self->ix, (size_t)n, v.buf);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Index_add_with_ids(IndexObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "_add_with_ids(x, ids) takes 2 arguments");
    if (!self->ix)
        return not_ready(self);
    Py_buffer v, iv;
    Py_ssize_t n =
        get_array(args[0], &v, ITEM_F32, 0, SHAPE_ROWS, vindex_d(self->ix), "add_with_ids",
                  "the vectors");
    if (n < 0)
        return NULL;
    Py_ssize_t nid = get_array(args[1], &iv, ITEM_I64, 0, SHAPE_1D, -1, "add_with_ids", "ids");
    if (nid < 0) {
        PyBuffer_Release(&v);
        return NULL;
    }
    PyObject *ret = NULL;
    if (nid != n) {
        PyErr_Format(ArgumentError,
                     "add_with_ids: got %zd ids for %zd vectors; pass one int64 id per vector",
                     nid, n);
        goto out;
    }
    IndexObject *root = index_lock(self, 1, "add_with_ids");
    if (!root)
        goto out;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_add_with_ids(self->ix, (size_t)n, v.buf, iv.buf);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&v);
    PyBuffer_Release(&iv);
    return ret;
}

/* _search(x, k, params, D, I): the hot path, kept to buffer checks and one call. */
static PyObject *Index_search(IndexObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5)
        return PyErr_Format(PyExc_TypeError, "_search(x, k, params, D, I) takes 5 arguments");
    if (!self->ix)
        return not_ready(self);
    Py_ssize_t k = PyLong_AsSsize_t(args[1]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    if (k <= 0)
        return PyErr_Format(ArgumentError, "search: k must be at least 1, got %zd", k);
    Py_buffer xv, dv, lv;
    Py_ssize_t n = get_array(args[0], &xv, ITEM_F32, 0, SHAPE_ROWS, vindex_d(self->ix), "search",
                             "the queries");
    if (n < 0)
        return NULL;
    Py_ssize_t nd = get_array(args[3], &dv, ITEM_F32, 1, SHAPE_OUT, k, "search", "D");
    if (nd < 0) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    PyObject *ret = NULL, *hold = NULL;
    Py_ssize_t nl = get_array(args[4], &lv, ITEM_I64, 1, SHAPE_OUT, k, "search", "I");
    if (nl < 0) {
        PyBuffer_Release(&dv);
        PyBuffer_Release(&xv);
        return NULL;
    }
    if (nd != n || nl != n) {
        PyErr_Format(ArgumentError, "search: D and I must have shape (%zd, %zd)", n, k);
        goto out;
    }
    vindex_search_params pcopy;
    const vindex_search_params *p;
    if (params_take(args[2], &pcopy, &hold, &p) < 0)
        goto out;
    IndexObject *root = index_lock(self, 0, "search");
    if (!root)
        goto out;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_search(self->ix, (size_t)n, xv.buf, (size_t)k, p, dv.buf, lv.buf);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    Py_XDECREF(hold);
    PyBuffer_Release(&lv);
    PyBuffer_Release(&dv);
    PyBuffer_Release(&xv);
    return ret;
}

/* _range_search(x, radius, params) -> (lims, D, I) as bytearrays of uint64,
 * float32 and int64 items (numpy views them without a copy). */
static PyObject *Index_range_search(IndexObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return PyErr_Format(PyExc_TypeError, "_range_search(x, radius, params) takes 3 arguments");
    if (!self->ix)
        return not_ready(self);
    double radius = PyFloat_AsDouble(args[1]);
    if (radius == -1.0 && PyErr_Occurred())
        return NULL;
    Py_buffer xv;
    Py_ssize_t n =
        get_array(args[0], &xv, ITEM_F32, 0, SHAPE_ROWS, vindex_d(self->ix), "range_search",
                  "the queries");
    if (n < 0)
        return NULL;
    PyObject *ret = NULL, *hold = NULL;
    vindex_search_params pcopy;
    const vindex_search_params *p;
    vindex_range_result *res = NULL;
    if (params_take(args[2], &pcopy, &hold, &p) < 0)
        goto out;
    IndexObject *root = index_lock(self, 0, "range_search");
    if (!root)
        goto out;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_range_search(self->ix, (size_t)n, xv.buf, (float)radius, p, &res);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    if (st) {
        raise_status(st);
        goto out;
    }
    size_t total = res->lims[res->nq];
    _Static_assert(sizeof(size_t) == 8, "lims are returned as uint64");
    PyObject *lims = PyByteArray_FromStringAndSize((const char *)res->lims,
                                                   (Py_ssize_t)((res->nq + 1) * sizeof(size_t)));
    PyObject *dist = PyByteArray_FromStringAndSize((const char *)res->distances,
                                                   (Py_ssize_t)(total * sizeof(float)));
    PyObject *lab = PyByteArray_FromStringAndSize((const char *)res->labels,
                                                  (Py_ssize_t)(total * sizeof(vindex_id)));
    if (lims && dist && lab)
        ret = PyTuple_Pack(3, lims, dist, lab);
    Py_XDECREF(lims);
    Py_XDECREF(dist);
    Py_XDECREF(lab);
out:
    vindex_range_result_free(res);
    Py_XDECREF(hold);
    PyBuffer_Release(&xv);
    return ret;
}

/* _reconstruct(key, out): out is a writable float32 buffer of d items. */
static PyObject *Index_reconstruct(IndexObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "_reconstruct(key, out) takes 2 arguments");
    if (!self->ix)
        return not_ready(self);
    long long key = PyLong_AsLongLong(args[0]);
    if (key == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer ov;
    Py_ssize_t n = get_array(args[1], &ov, ITEM_F32, 1, SHAPE_1D, -1, "reconstruct", "x");
    if (n < 0)
        return NULL;
    PyObject *ret = NULL;
    if (n != vindex_d(self->ix)) {
        PyErr_Format(ArgumentError, "reconstruct: x must have d=%d items, got %zd",
                     vindex_d(self->ix), n);
        goto out;
    }
    IndexObject *root = index_lock(self, 0, "reconstruct");
    if (!root)
        goto out;
    vindex_status st = vindex_reconstruct(self->ix, key, ov.buf); /* one vector: quick */
    index_unlock(root);
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&ov);
    return ret;
}

/* _reconstruct_n(i0, n, out): out is a writable float32 (n, d) buffer. */
static PyObject *Index_reconstruct_n(IndexObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return PyErr_Format(PyExc_TypeError, "_reconstruct_n(i0, n, out) takes 3 arguments");
    if (!self->ix)
        return not_ready(self);
    long long i0 = PyLong_AsLongLong(args[0]);
    if (i0 == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyLong_AsSsize_t(args[1]);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0)
        return PyErr_Format(ArgumentError, "reconstruct_n: ni %zd is negative", n);
    Py_buffer ov;
    Py_ssize_t rows =
        get_array(args[2], &ov, ITEM_F32, 1, SHAPE_ROWS, vindex_d(self->ix), "reconstruct_n", "x");
    if (rows < 0)
        return NULL;
    PyObject *ret = NULL;
    if (rows != n) {
        PyErr_Format(ArgumentError, "reconstruct_n: x must have %zd rows, got %zd", n, rows);
        goto out;
    }
    IndexObject *root = index_lock(self, 0, "reconstruct_n");
    if (!root)
        goto out;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_reconstruct_n(self->ix, i0, (size_t)n, ov.buf);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&ov);
    return ret;
}

static PyObject *Index_remove_ids(IndexObject *self, PyObject *sel)
{
    if (!self->ix)
        return not_ready(self);
    if (!PyObject_TypeCheck(sel, &SelectorType) || !((SelectorObject *)sel)->sel)
        return PyErr_Format(PyExc_TypeError, "remove_ids: expected an IDSelector, got %.80s",
                            Py_TYPE(sel)->tp_name);
    IndexObject *root = index_lock(self, 1, "remove_ids");
    if (!root)
        return NULL;
    size_t removed = 0;
    vindex_status st;
    const vindex_selector *s = ((SelectorObject *)sel)->sel; /* sel is referenced by our caller */
    Py_BEGIN_ALLOW_THREADS
    st = vindex_remove_ids(self->ix, s, &removed);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    return st ? raise_status(st) : PyLong_FromSize_t(removed);
}

static PyObject *Index_reset(IndexObject *self, PyObject *unused)
{
    IndexObject *root = index_lock(self, 1, "reset");
    if (!root)
        return NULL;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_reset(self->ix);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Index_set_param(IndexObject *self, PyObject *args)
{
    const char *name;
    double value;
    if (!PyArg_ParseTuple(args, "sd:_set_param", &name, &value))
        return NULL;
    IndexObject *root = index_lock(self, 1, "set_param");
    if (!root)
        return NULL;
    vindex_status st = vindex_set_param(self->ix, name, value);
    index_unlock(root);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Index_get_param(IndexObject *self, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    IndexObject *root = index_lock(self, 0, "get_param");
    if (!root)
        return NULL;
    double value = 0;
    vindex_status st = vindex_get_param(self->ix, name, &value);
    index_unlock(root);
    return st ? raise_status(st) : PyFloat_FromDouble(value);
}

/* ---- IVF ----------------------------------------------------------------- */

/* _ivf_quantizer(cls): a new borrowed handle of type cls (an Index subclass) on
 * the IVF index's coarse quantizer, for an IVF index whose Python quantizer
 * object is not at hand. */
static PyObject *Index_ivf_quantizer(IndexObject *self, PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &IndexType))
        return PyErr_Format(PyExc_TypeError, "_ivf_quantizer: expected an Index class");
    IndexObject *root = index_lock(self, 0, "quantizer");
    if (!root)
        return NULL;
    vindex *q = NULL;
    vindex_status st = vindex_ivf_quantizer(self->ix, &q);
    index_unlock(root);
    if (st)
        return raise_status(st);
    PyTypeObject *tp = (PyTypeObject *)cls;
    IndexObject *h = (IndexObject *)tp->tp_new(tp, NULL, NULL);
    if (!h)
        return NULL;
    h->ix = q;
    h->owner = Py_NewRef((PyObject *)self);
    return (PyObject *)h;
}

/* _make_direct_map(kind): vindex_ivf_make_direct_map (0 none, 1 array, 2 hash). */
static PyObject *Index_make_direct_map(IndexObject *self, PyObject *arg)
{
    long kind = PyLong_AsLong(arg);
    if (kind == -1 && PyErr_Occurred())
        return NULL;
    if (kind < 0 || kind > 2)
        return PyErr_Format(ArgumentError,
                            "set_direct_map_type: unknown type %ld; use DirectMap.NoMap (0), "
                            "DirectMap.Array (1) or DirectMap.Hashtable (2)",
                            kind);
    IndexObject *root = index_lock(self, 1, "make_direct_map");
    if (!root)
        return NULL;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_ivf_make_direct_map(self->ix, (vindex_direct_map)kind);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *Index_direct_map_kind(IndexObject *self, PyObject *unused)
{
    IndexObject *root = index_lock(self, 0, "direct_map");
    if (!root)
        return NULL;
    vindex_direct_map kind = VINDEX_DIRECT_MAP_NONE;
    vindex_status st = vindex_ivf_direct_map_kind(self->ix, &kind);
    index_unlock(root);
    return st ? raise_status(st) : PyLong_FromLong((long)kind);
}

/* _merge_from(other, add_id): vindex_ivf_merge_from. Both trees are locked
 * exclusively, in address order so that a.merge_from(b) and b.merge_from(a)
 * in two threads cannot deadlock. */
static PyObject *Index_merge_from(IndexObject *self, PyObject *args)
{
    PyObject *obj;
    long long add_id;
    if (!PyArg_ParseTuple(args, "OL:_merge_from", &obj, &add_id))
        return NULL;
    if (!PyObject_TypeCheck(obj, &IndexType))
        return PyErr_Format(PyExc_TypeError, "merge_from: expected an index, got %.80s",
                            Py_TYPE(obj)->tp_name);
    IndexObject *other = (IndexObject *)obj;
    if (!self->ix)
        return not_ready(self);
    if (!other->ix)
        return not_ready(other);
    if (other == self)
        return PyErr_Format(ArgumentError, "merge_from: an index cannot merge from itself");
    if (other->owner)
        return PyErr_Format(PyExc_RuntimeError,
                            "merge_from: the other %s is owned by the %s that wraps it",
                            vindex_type_name(other->ix), vindex_type_name(root_of(other)->ix));
    if (self->owner)
        return PyErr_Format(PyExc_RuntimeError,
                            "merge_from: this %s is owned by the %s that wraps it",
                            vindex_type_name(self->ix), vindex_type_name(root_of(self)->ix));
    IndexObject *first = self < other ? self : other, *second = self < other ? other : self;
    if (!index_lock(first, 1, "merge_from"))
        return NULL;
    if (!index_lock(second, 1, "merge_from")) {
        index_unlock(first);
        return NULL;
    }
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_ivf_merge_from(self->ix, other->ix, (vindex_id)add_id);
    index_unlock(second);
    index_unlock(first);
    Py_END_ALLOW_THREADS
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* _list_sizes() -> bytearray of nlist uint64 (numpy views it). */
static PyObject *Index_list_sizes(IndexObject *self, PyObject *unused)
{
    IndexObject *root = index_lock(self, 0, "invlists");
    if (!root)
        return NULL;
    double nl = 0;
    vindex_status st = vindex_get_param(self->ix, "nlist", &nl);
    if (st) {
        index_unlock(root);
        if (st == VINDEX_ERR_NOT_FOUND)
            return PyErr_Format(PyExc_RuntimeError, "invlists: %s is not an IVF index",
                                vindex_type_name(self->ix));
        return raise_status(st);
    }
    size_t nlist = (size_t)nl;
    PyObject *out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(nlist * sizeof(size_t)));
    if (!out) {
        index_unlock(root);
        return NULL;
    }
    st = vindex_ivf_list_sizes(self->ix, (size_t *)PyByteArray_AS_STRING(out));
    index_unlock(root);
    if (st) {
        Py_DECREF(out);
        return raise_status(st);
    }
    return out;
}

/* _list_ids(list) -> bytearray of int64: the ids stored in one inverted list. */
static PyObject *Index_list_ids(IndexObject *self, PyObject *arg)
{
    Py_ssize_t list = PyLong_AsSsize_t(arg);
    if (list == -1 && PyErr_Occurred())
        return NULL;
    IndexObject *root = index_lock(self, 0, "invlists.get_ids");
    if (!root)
        return NULL;
    double nl = 0;
    vindex_status st = vindex_get_param(self->ix, "nlist", &nl);
    if (!st && (list < 0 || (double)list >= nl)) {
        index_unlock(root);
        return PyErr_Format(ArgumentError, "invlists: list %zd is out of range 0..%.0f", list,
                            nl - 1);
    }
    size_t *sizes = NULL;
    PyObject *out = NULL;
    if (!st) {
        sizes = PyMem_Malloc(((size_t)nl ? (size_t)nl : 1) * sizeof(size_t));
        if (!sizes) {
            index_unlock(root);
            return PyErr_NoMemory();
        }
        st = vindex_ivf_list_sizes(self->ix, sizes);
    }
    if (!st) {
        out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(sizes[list] * sizeof(vindex_id)));
        if (out)
            st = vindex_ivf_list_ids(self->ix, (size_t)list,
                                     sizes[list] ? (vindex_id *)PyByteArray_AS_STRING(out) : NULL);
    }
    index_unlock(root);
    PyMem_Free(sizes);
    if (st) {
        Py_XDECREF(out);
        if (st == VINDEX_ERR_NOT_FOUND)
            return PyErr_Format(PyExc_RuntimeError, "invlists: %s is not an IVF index",
                                vindex_type_name(self->ix));
        return raise_status(st);
    }
    return out;
}

static PyObject *Index_imbalance_factor(IndexObject *self, PyObject *unused)
{
    IndexObject *root = index_lock(self, 0, "imbalance_factor");
    if (!root)
        return NULL;
    double f = 0;
    vindex_status st = vindex_ivf_imbalance_factor(self->ix, &f);
    index_unlock(root);
    return st ? raise_status(st) : PyFloat_FromDouble(f);
}

static PyObject *Index_pq_codec(IndexObject *self, PyObject *cls); /* after PQType */

static PyMethodDef Index_methods[] = {
    {"_init_flat", (PyCFunction)Index_init_flat, METH_VARARGS,
     "_init_flat(d, c_metric): vindex_flat_new."},
    {"_init_idmap", (PyCFunction)Index_init_idmap, METH_VARARGS,
     "_init_idmap(sub, two): vindex_idmap_new / vindex_idmap2_new; takes sub's index."},
    {"_train", (PyCFunction)Index_train, METH_O, "_train(x): vindex_train."},
    {"_add", (PyCFunction)Index_add, METH_O, "_add(x): vindex_add."},
    {"_add_with_ids", (PyCFunction)(void (*)(void))Index_add_with_ids, METH_FASTCALL,
     "_add_with_ids(x, ids): vindex_add_with_ids."},
    {"_search", (PyCFunction)(void (*)(void))Index_search, METH_FASTCALL,
     "_search(x, k, params, D, I): vindex_search into D (n, k) float32 and I (n, k) int64."},
    {"_range_search", (PyCFunction)(void (*)(void))Index_range_search, METH_FASTCALL,
     "_range_search(x, radius, params) -> (lims, D, I) bytearrays."},
    {"_reconstruct", (PyCFunction)(void (*)(void))Index_reconstruct, METH_FASTCALL,
     "_reconstruct(key, out): vindex_reconstruct."},
    {"_reconstruct_n", (PyCFunction)(void (*)(void))Index_reconstruct_n, METH_FASTCALL,
     "_reconstruct_n(i0, n, out): vindex_reconstruct_n."},
    {"_remove_ids", (PyCFunction)Index_remove_ids, METH_O,
     "_remove_ids(selector) -> int: vindex_remove_ids."},
    {"_reset", (PyCFunction)Index_reset, METH_NOARGS, "_reset(): vindex_reset."},
    {"_set_param", (PyCFunction)Index_set_param, METH_VARARGS,
     "_set_param(name, value): vindex_set_param."},
    {"_get_param", (PyCFunction)Index_get_param, METH_O,
     "_get_param(name) -> float: vindex_get_param."},
    {"_init_ivf_flat", (PyCFunction)Index_init_ivf_flat, METH_VARARGS,
     "_init_ivf_flat(quantizer, d, nlist, c_metric): vindex_ivf_flat_new; takes the "
     "quantizer's index."},
    {"_ivf_quantizer", (PyCFunction)Index_ivf_quantizer, METH_O,
     "_ivf_quantizer(cls) -> a borrowed handle of class cls on the coarse quantizer."},
    {"_make_direct_map", (PyCFunction)Index_make_direct_map, METH_O,
     "_make_direct_map(kind): vindex_ivf_make_direct_map (0 none, 1 array, 2 hash)."},
    {"_direct_map_kind", (PyCFunction)Index_direct_map_kind, METH_NOARGS,
     "_direct_map_kind() -> int: vindex_ivf_direct_map_kind."},
    {"_merge_from", (PyCFunction)Index_merge_from, METH_VARARGS,
     "_merge_from(other, add_id): vindex_ivf_merge_from."},
    {"_list_sizes", (PyCFunction)Index_list_sizes, METH_NOARGS,
     "_list_sizes() -> bytearray of nlist uint64: vindex_ivf_list_sizes."},
    {"_list_ids", (PyCFunction)Index_list_ids, METH_O,
     "_list_ids(list) -> bytearray of int64: vindex_ivf_list_ids."},
    {"_imbalance_factor", (PyCFunction)Index_imbalance_factor, METH_NOARGS,
     "_imbalance_factor() -> float: vindex_ivf_imbalance_factor."},
    {"_init_coded", (PyCFunction)Index_init_coded, METH_VARARGS,
     "_init_coded(kind, d, a, b, c_metric): IndexPQ (\"pq\", M, nbits), IndexScalarQuantizer "
     "(\"sq\", type), IndexHNSWFlat (\"hnsw_flat\", M), IndexHNSWSQ (\"hnsw_sq8\", M)."},
    {"_init_ivf_quantized", (PyCFunction)Index_init_ivf_quantized, METH_VARARGS,
     "_init_ivf_quantized(kind, quantizer, d, nlist, a, b, c_metric): IndexIVFPQ (\"pq\", M, "
     "nbits) or IndexIVFScalarQuantizer (\"sq\", type); takes the quantizer's index."},
    {"_pq_codec", (PyCFunction)Index_pq_codec, METH_O,
     "_pq_codec(cls) -> a borrowed ProductQuantizer of class cls: vindex_pq_codec_of."},
    {"_idmap_index", (PyCFunction)Index_idmap_index, METH_O,
     "_idmap_index(cls) -> a borrowed handle of class cls on the index an IDMap wraps."},
    {"_sq_type", (PyCFunction)Index_sq_type, METH_NOARGS, "_sq_type() -> int: vindex_sq_type_of."},
    {"_hnsw_validate", (PyCFunction)Index_hnsw_validate, METH_NOARGS,
     "_hnsw_validate() -> (status, unreachable, report): vindex_hnsw_validate."},
    {"_reverse_factory", (PyCFunction)Index_reverse_factory, METH_NOARGS,
     "_reverse_factory() -> str: vindex_reverse_factory."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject IndexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vindex._vindex.Index",
    .tp_doc = "Base of the Index classes: a handle on a vindex.",
    .tp_basicsize = sizeof(IndexObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Index_new,
    .tp_dealloc = (destructor)Index_dealloc,
    .tp_traverse = (traverseproc)Index_traverse,
    .tp_clear = (inquiry)Index_clear,
    .tp_methods = Index_methods,
    .tp_getset = Index_getset,
};

/* ------------------------------------------------------------------------- */
/* PQCodec: a product quantizer (Faiss: ProductQuantizer)                     */
/* ------------------------------------------------------------------------- */
/* Either standalone (owner NULL: owns `pq`, guarded by its own lock) or
 * borrowed from an IndexPQ / IndexIVFPQ (owner: that Index object, whose tree
 * lock guards it): reads take the tree's lock shared; a borrowed codec refuses
 * train and set_centroids (the index's codes would no longer match), and takes
 * the tree's lock exclusively to change its k-means parameters. */

typedef struct {
    PyObject_HEAD
    vindex_pq_codec *pq;
    PyObject *owner;
    pthread_rwlock_t lock;
} PQObject;

static PyTypeObject PQType;

static PyObject *PQ_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    PQObject *self = (PQObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    int rc = pthread_rwlock_init(&self->lock, NULL);
    if (rc) {
        type->tp_free((PyObject *)self);
        if (type->tp_flags & Py_TPFLAGS_HEAPTYPE)
            Py_DECREF(type);
        errno = rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return (PyObject *)self;
}

static int PQ_traverse(PQObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    return 0;
}

static int PQ_clear(PQObject *self)
{
    if (self->owner) {
        self->pq = NULL;
        Py_CLEAR(self->owner);
    }
    return 0;
}

static void PQ_dealloc(PQObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->owner)
        PQ_clear(self);
    else if (self->pq) {
        vindex_pq_codec_free(self->pq);
        self->pq = NULL;
    }
    pthread_rwlock_destroy(&self->lock);
    tp->tp_free((PyObject *)self);
}

/* Takes the lock that guards the codec; returns it (release with
 * pthread_rwlock_unlock) or NULL with an exception. */
static pthread_rwlock_t *pq_lock(PQObject *self, int write, const char *op)
{
    if (!self->pq) {
        PyErr_Format(PyExc_RuntimeError, "ProductQuantizer.%s: the codec is not initialised", op);
        return NULL;
    }
    if (self->owner) {
        IndexObject *root = index_lock((IndexObject *)self->owner, write, op);
        return root ? &root->lock : NULL;
    }
    pthread_rwlock_t *l = &self->lock;
    int rc = write ? pthread_rwlock_trywrlock(l) : pthread_rwlock_tryrdlock(l);
    if (rc == EBUSY) {
        Py_BEGIN_ALLOW_THREADS
        rc = write ? pthread_rwlock_wrlock(l) : pthread_rwlock_rdlock(l);
        Py_END_ALLOW_THREADS
    }
    if (rc) {
        errno = rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    return l;
}

static PyObject *PQ_init(PQObject *self, PyObject *args)
{
    int d, M, nbits;
    if (!PyArg_ParseTuple(args, "iii:_init", &d, &M, &nbits))
        return NULL;
    if (self->pq)
        return PyErr_Format(PyExc_RuntimeError, "ProductQuantizer is already initialised");
    vindex_status st = vindex_pq_codec_new(&self->pq, d, M, nbits);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* _info() -> (d, M, nbits, code_size, is_trained) */
static PyObject *PQ_info(PQObject *self, PyObject *unused)
{
    pthread_rwlock_t *l = pq_lock(self, 0, "info");
    if (!l)
        return NULL;
    int d = 0, M = 0, nbits = 0;
    size_t cs = 0;
    vindex_status st = vindex_pq_codec_info(self->pq, &d, &M, &nbits, &cs);
    int trained = vindex_pq_codec_is_trained(self->pq);
    pthread_rwlock_unlock(l);
    if (st)
        return raise_status(st);
    return Py_BuildValue("iiinO", d, M, nbits, (Py_ssize_t)cs, trained ? Py_True : Py_False);
}

static int pq_refuse_borrowed(PQObject *self, const char *op)
{
    if (!self->owner)
        return 0;
    PyErr_Format(PyExc_RuntimeError,
                 "ProductQuantizer.%s: this codec belongs to the %s that holds it (its codes "
                 "depend on it); train the index instead, or use a ProductQuantizer of its own",
                 op, ((IndexObject *)self->owner)->ix
                         ? vindex_type_name(((IndexObject *)self->owner)->ix) : "index");
    return 1;
}

static PyObject *PQ_train(PQObject *self, PyObject *x)
{
    if (pq_refuse_borrowed(self, "train"))
        return NULL;
    int d = 0;
    if (!self->pq)
        return PyErr_Format(PyExc_RuntimeError, "ProductQuantizer is not initialised");
    vindex_pq_codec_info(self->pq, &d, NULL, NULL, NULL);
    Py_buffer v;
    Py_ssize_t n = get_array(x, &v, ITEM_F32, 0, SHAPE_ROWS, d, "ProductQuantizer.train", "x");
    if (n < 0)
        return NULL;
    pthread_rwlock_t *l = pq_lock(self, 1, "train");
    if (!l) {
        PyBuffer_Release(&v);
        return NULL;
    }
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_pq_codec_train(self->pq, (size_t)n, v.buf);
    pthread_rwlock_unlock(l);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* _compute_codes(x, codes): x (n, d) float32 into codes (n, code_size) uint8. */
static PyObject *PQ_compute_codes(PQObject *self, PyObject *args)
{
    PyObject *xo, *co;
    if (!PyArg_ParseTuple(args, "OO:_compute_codes", &xo, &co))
        return NULL;
    if (!self->pq)
        return PyErr_Format(PyExc_RuntimeError, "ProductQuantizer is not initialised");
    int d = 0;
    size_t cs = 0;
    vindex_pq_codec_info(self->pq, &d, NULL, NULL, &cs);
    Py_buffer xv, cv;
    Py_ssize_t n = get_array(xo, &xv, ITEM_F32, 0, SHAPE_ROWS, d, "compute_codes", "x");
    if (n < 0)
        return NULL;
    if (get_array(co, &cv, ITEM_U8, 1, SHAPE_OUT, (Py_ssize_t)cs, "compute_codes", "codes") < 0) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    PyObject *ret = NULL;
    if (cv.shape[0] != n) {
        PyErr_Format(ArgumentError, "compute_codes: codes must have %zd rows", n);
        goto out;
    }
    pthread_rwlock_t *l = pq_lock(self, 0, "compute_codes");
    if (!l)
        goto out;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_pq_codec_compute_codes(self->pq, (size_t)n, xv.buf, cv.buf);
    pthread_rwlock_unlock(l);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&cv);
    PyBuffer_Release(&xv);
    return ret;
}

/* _decode(codes, x): codes (n, code_size) uint8 into x (n, d) float32. */
static PyObject *PQ_decode(PQObject *self, PyObject *args)
{
    PyObject *co, *xo;
    if (!PyArg_ParseTuple(args, "OO:_decode", &co, &xo))
        return NULL;
    if (!self->pq)
        return PyErr_Format(PyExc_RuntimeError, "ProductQuantizer is not initialised");
    int d = 0;
    size_t cs = 0;
    vindex_pq_codec_info(self->pq, &d, NULL, NULL, &cs);
    Py_buffer xv, cv;
    Py_ssize_t n = get_array(co, &cv, ITEM_U8, 0, SHAPE_ROWS, (Py_ssize_t)cs, "decode", "codes");
    if (n < 0)
        return NULL;
    if (get_array(xo, &xv, ITEM_F32, 1, SHAPE_OUT, d, "decode", "x") < 0) {
        PyBuffer_Release(&cv);
        return NULL;
    }
    PyObject *ret = NULL;
    if (xv.shape[0] != n) {
        PyErr_Format(ArgumentError, "decode: x must have %zd rows", n);
        goto out;
    }
    pthread_rwlock_t *l = pq_lock(self, 0, "decode");
    if (!l)
        goto out;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_pq_codec_decode(self->pq, (size_t)n, cv.buf, xv.buf);
    pthread_rwlock_unlock(l);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&xv);
    PyBuffer_Release(&cv);
    return ret;
}

/* _centroids(out): the codebooks into a writable float32 buffer of
 * M * 2^nbits * (d / M) items. */
static PyObject *PQ_centroids(PQObject *self, PyObject *out)
{
    if (!self->pq)
        return PyErr_Format(PyExc_RuntimeError, "ProductQuantizer is not initialised");
    int d = 0, nbits = 0;
    vindex_pq_codec_info(self->pq, &d, NULL, &nbits, NULL);
    Py_buffer v;
    Py_ssize_t n = get_array(out, &v, ITEM_F32, 1, SHAPE_1D, -1, "centroids", "out");
    if (n < 0)
        return NULL;
    PyObject *ret = NULL;
    if ((size_t)n != ((size_t)1 << nbits) * (size_t)d) {
        PyErr_Format(ArgumentError, "centroids: out must have %zu items",
                     ((size_t)1 << nbits) * (size_t)d);
        goto out;
    }
    pthread_rwlock_t *l = pq_lock(self, 0, "centroids");
    if (!l)
        goto out;
    vindex_status st = vindex_pq_codec_centroids(self->pq, v.buf);
    pthread_rwlock_unlock(l);
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&v);
    return ret;
}

/* _set_centroids(c): installs codebooks from a float32 buffer (flat). */
static PyObject *PQ_set_centroids(PQObject *self, PyObject *c)
{
    if (pq_refuse_borrowed(self, "set_centroids"))
        return NULL;
    if (!self->pq)
        return PyErr_Format(PyExc_RuntimeError, "ProductQuantizer is not initialised");
    int d = 0, nbits = 0;
    vindex_pq_codec_info(self->pq, &d, NULL, &nbits, NULL);
    Py_buffer v;
    Py_ssize_t n = get_array(c, &v, ITEM_F32, 0, SHAPE_1D, -1, "centroids", "the centroids");
    if (n < 0)
        return NULL;
    PyObject *ret = NULL;
    if ((size_t)n != ((size_t)1 << nbits) * (size_t)d) {
        PyErr_Format(ArgumentError, "centroids: expected M * ksub * dsub = %zu values, got %zd",
                     ((size_t)1 << nbits) * (size_t)d, n);
        goto out;
    }
    pthread_rwlock_t *l = pq_lock(self, 1, "set_centroids");
    if (!l)
        goto out;
    vindex_status st = vindex_pq_codec_set_centroids(self->pq, v.buf);
    pthread_rwlock_unlock(l);
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&v);
    return ret;
}

/* _tables(x, c_metric, out): out (n, M * 2^nbits) float32. c_metric -1: the
 * symmetric table into out (M * 4^nbits items, x ignored). */
static PyObject *PQ_tables(PQObject *self, PyObject *args)
{
    PyObject *xo, *oo;
    int metric;
    if (!PyArg_ParseTuple(args, "OiO:_tables", &xo, &metric, &oo))
        return NULL;
    if (!self->pq)
        return PyErr_Format(PyExc_RuntimeError, "ProductQuantizer is not initialised");
    int d = 0, M = 0, nbits = 0;
    vindex_pq_codec_info(self->pq, &d, &M, &nbits, NULL);
    Py_ssize_t width = (Py_ssize_t)M << nbits;
    Py_buffer xv = {0}, ov;
    Py_ssize_t n = 0;
    if (metric >= 0) {
        n = get_array(xo, &xv, ITEM_F32, 0, SHAPE_ROWS, d, "compute_distance_tables", "x");
        if (n < 0)
            return NULL;
    }
    PyObject *ret = NULL;
    if (get_array(oo, &ov, ITEM_F32, 1, SHAPE_1D, -1, "compute_distance_tables", "out") < 0)
        goto out1;
    if (ov.shape[0] != (metric >= 0 ? n * width : width << nbits)) {
        PyErr_Format(ArgumentError, "compute_distance_tables: out has the wrong size");
        goto out;
    }
    pthread_rwlock_t *l = pq_lock(self, 0, "compute_distance_tables");
    if (!l)
        goto out;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = metric >= 0 ? vindex_pq_codec_compute_distance_tables(self->pq, (size_t)n, xv.buf,
                                                               (vindex_metric)metric, ov.buf)
                     : vindex_pq_codec_compute_sdc_table(self->pq, ov.buf);
    pthread_rwlock_unlock(l);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&ov);
out1:
    if (metric >= 0)
        PyBuffer_Release(&xv);
    return ret;
}

/* _get_cp() -> (niter, nredo, seed, spherical, max_ppc, min_ppc, verbose) */
static PyObject *PQ_get_cp(PQObject *self, PyObject *unused)
{
    pthread_rwlock_t *l = pq_lock(self, 0, "cp");
    if (!l)
        return NULL;
    vindex_kmeans_params p;
    vindex_status st = vindex_pq_codec_get_kmeans_params(self->pq, &p);
    pthread_rwlock_unlock(l);
    if (st)
        return raise_status(st);
    return Py_BuildValue("iiLOiiO", p.niter, p.nredo, (long long)p.seed,
                         p.spherical ? Py_True : Py_False, p.max_points_per_centroid,
                         p.min_points_per_centroid, p.verbose ? Py_True : Py_False);
}

/* _set_cp(niter, nredo, seed, spherical, max_ppc, min_ppc, verbose) */
static PyObject *PQ_set_cp(PQObject *self, PyObject *args)
{
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    long long seed;
    if (!PyArg_ParseTuple(args, "iiLpiip:_set_cp", &p.niter, &p.nredo, &seed, &p.spherical,
                          &p.max_points_per_centroid, &p.min_points_per_centroid, &p.verbose))
        return NULL;
    p.seed = seed;
    pthread_rwlock_t *l = pq_lock(self, 1, "cp");
    if (!l)
        return NULL;
    vindex_status st = vindex_pq_codec_set_kmeans_params(self->pq, &p);
    pthread_rwlock_unlock(l);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *PQ_get_owned(PQObject *self, void *c)
{
    return PyBool_FromLong(self->pq && !self->owner);
}

static PyMethodDef PQ_methods[] = {
    {"_init", (PyCFunction)PQ_init, METH_VARARGS, "_init(d, M, nbits): vindex_pq_codec_new."},
    {"_info", (PyCFunction)PQ_info, METH_NOARGS,
     "_info() -> (d, M, nbits, code_size, is_trained)."},
    {"_train", (PyCFunction)PQ_train, METH_O, "_train(x): vindex_pq_codec_train."},
    {"_compute_codes", (PyCFunction)PQ_compute_codes, METH_VARARGS,
     "_compute_codes(x, codes): vindex_pq_codec_compute_codes."},
    {"_decode", (PyCFunction)PQ_decode, METH_VARARGS, "_decode(codes, x): vindex_pq_codec_decode."},
    {"_centroids", (PyCFunction)PQ_centroids, METH_O,
     "_centroids(out): vindex_pq_codec_centroids into a flat float32 buffer."},
    {"_set_centroids", (PyCFunction)PQ_set_centroids, METH_O,
     "_set_centroids(c): vindex_pq_codec_set_centroids from a flat float32 buffer."},
    {"_tables", (PyCFunction)PQ_tables, METH_VARARGS,
     "_tables(x, c_metric, out): compute_distance_tables (c_metric -1: the SDC table)."},
    {"_get_cp", (PyCFunction)PQ_get_cp, METH_NOARGS, "_get_cp(): the k-means parameters."},
    {"_set_cp", (PyCFunction)PQ_set_cp, METH_VARARGS, "_set_cp(...): the k-means parameters."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef PQ_getset[] = {
    {"_owned", (getter)PQ_get_owned, NULL, "False for the codec of an index.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PQType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vindex._vindex.PQCodec",
    .tp_doc = "Base of ProductQuantizer: a handle on a vindex_pq_codec.",
    .tp_basicsize = sizeof(PQObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PQ_new,
    .tp_dealloc = (destructor)PQ_dealloc,
    .tp_traverse = (traverseproc)PQ_traverse,
    .tp_clear = (inquiry)PQ_clear,
    .tp_methods = PQ_methods,
    .tp_getset = PQ_getset,
};

/* _pq_codec(cls): a borrowed codec of class cls (a PQCodec subclass) on the
 * product quantizer of an IndexPQ / IndexIVFPQ (vindex_pq_codec_of). */
static PyObject *Index_pq_codec(IndexObject *self, PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PQType))
        return PyErr_Format(PyExc_TypeError, "_pq_codec: expected a ProductQuantizer class");
    IndexObject *root = index_lock(self, 0, "pq");
    if (!root)
        return NULL;
    vindex_pq_codec *pq = NULL;
    vindex_status st = vindex_pq_codec_of(self->ix, &pq);
    index_unlock(root);
    if (st)
        return raise_status(st);
    PyTypeObject *tp = (PyTypeObject *)cls;
    PQObject *h = (PQObject *)tp->tp_new(tp, NULL, NULL);
    if (!h)
        return NULL;
    h->pq = pq;
    h->owner = Py_NewRef((PyObject *)self);
    return (PyObject *)h;
}

/* ------------------------------------------------------------------------- */
/* Module functions                                                           */
/* ------------------------------------------------------------------------- */

/* knn(xq, xb, k, c_metric, D, I) */
static PyObject *mod_knn(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6)
        return PyErr_Format(PyExc_TypeError, "knn(xq, xb, k, metric, D, I) takes 6 arguments");
    Py_ssize_t k = PyLong_AsSsize_t(args[2]);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    long metric = PyLong_AsLong(args[3]);
    if (metric == -1 && PyErr_Occurred())
        return NULL;
    if (k <= 0)
        return PyErr_Format(ArgumentError, "knn: k must be at least 1, got %zd", k);
    Py_buffer bv, qv, dv, lv;
    Py_ssize_t nb = get_array(args[1], &bv, ITEM_F32, 0, SHAPE_ROWS, -1, "knn", "xb");
    if (nb < 0)
        return NULL;
    Py_ssize_t d = bv.shape[1];
    PyObject *ret = NULL;
    if (d <= 0 || d > INT_MAX) {
        PyBuffer_Release(&bv);
        return PyErr_Format(ArgumentError, "knn: xb has %zd components per vector", d);
    }
    Py_ssize_t nq = get_array(args[0], &qv, ITEM_F32, 0, SHAPE_ROWS, d, "knn", "xq");
    if (nq < 0) {
        PyBuffer_Release(&bv);
        return NULL;
    }
    if (get_array(args[4], &dv, ITEM_F32, 1, SHAPE_OUT, k, "knn", "D") < 0)
        goto out2;
    if (get_array(args[5], &lv, ITEM_I64, 1, SHAPE_OUT, k, "knn", "I") < 0)
        goto out1;
    if (dv.shape[0] != nq || lv.shape[0] != nq) {
        PyErr_Format(ArgumentError, "knn: D and I must have shape (%zd, %zd)", nq, k);
        goto out;
    }
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_knn((size_t)nq, qv.buf, (size_t)nb, bv.buf, (int)d, (size_t)k,
                    (vindex_metric)metric, dv.buf, lv.buf);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&lv);
out1:
    PyBuffer_Release(&dv);
out2:
    PyBuffer_Release(&qv);
    PyBuffer_Release(&bv);
    return ret;
}

/* normalize_L2(x): in place, x a writable float32 buffer of 1 or 2 dimensions. */
static PyObject *mod_normalize_L2(PyObject *m, PyObject *x)
{
    Py_buffer v;
    if (get_array(x, &v, ITEM_F32, 1, SHAPE_1D_OR_ROWS, -1, "normalize_L2", "x") < 0)
        return NULL;
    size_t n = v.ndim == 2 ? (size_t)v.shape[0] : 1;
    Py_ssize_t d = v.ndim == 2 ? v.shape[1] : v.shape[0];
    if (d > INT_MAX) {
        PyBuffer_Release(&v);
        return PyErr_Format(ArgumentError, "normalize_L2: %zd components is too many", d);
    }
    vindex_status st = VINDEX_OK;
    if (d > 0 && n > 0) {
        Py_BEGIN_ALLOW_THREADS
        st = vindex_normalize_l2(n, (int)d, v.buf);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&v);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *mod_set_num_threads(PyObject *m, PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    vindex_set_num_threads(n > INT_MAX ? INT_MAX : n < INT_MIN ? 0 : (int)n);
    Py_RETURN_NONE;
}

static PyObject *mod_get_num_threads(PyObject *m, PyObject *unused)
{
    return PyLong_FromLong(vindex_get_num_threads());
}

static PyObject *mod_set_blas_threshold(PyObject *m, PyObject *arg)
{
    size_t n = PyLong_AsSize_t(arg);
    if (n == (size_t)-1 && PyErr_Occurred())
        return NULL;
    vindex_set_blas_threshold(n);
    Py_RETURN_NONE;
}

static PyObject *mod_get_blas_threshold(PyObject *m, PyObject *unused)
{
    return PyLong_FromSize_t(vindex_get_blas_threshold());
}

static PyObject *mod_set_read_limit(PyObject *m, PyObject *arg)
{
    size_t n = PyLong_AsSize_t(arg);
    if (n == (size_t)-1 && PyErr_Occurred())
        return NULL;
    vindex_set_read_limit(n);
    Py_RETURN_NONE;
}

static PyObject *mod_get_read_limit(PyObject *m, PyObject *unused)
{
    return PyLong_FromSize_t(vindex_get_read_limit());
}

static PyObject *mod_simd_level(PyObject *m, PyObject *unused)
{
    return PyUnicode_FromString(vindex_simd_level());
}

/* kmeans(x, k, centroids, obj, niter, nredo, seed, spherical, max_points_per_centroid,
 *        min_points_per_centroid, init, verbose): vindex_kmeans into centroids (k, d)
 * float32 and obj (niter * nredo,) float32. The GIL is released: log messages
 * (verbose) come back through the log callback, which takes it again. */
static PyObject *mod_kmeans(PyObject *m, PyObject *args)
{
    PyObject *xo, *co, *oo;
    Py_ssize_t k;
    vindex_kmeans_params p;
    vindex_kmeans_params_init(&p);
    long long seed;
    int init;
    if (!PyArg_ParseTuple(args, "OnOOiiLpiiip:kmeans", &xo, &k, &co, &oo, &p.niter, &p.nredo,
                          &seed, &p.spherical, &p.max_points_per_centroid,
                          &p.min_points_per_centroid, &init, &p.verbose))
        return NULL;
    p.seed = seed;
    p.init = (vindex_kmeans_init)init;
    if (k <= 0)
        return PyErr_Format(ArgumentError, "Kmeans: k must be at least 1, got %zd", k);
    Py_buffer xv, cv, ov;
    Py_ssize_t n = get_array(xo, &xv, ITEM_F32, 0, SHAPE_ROWS, -1, "Kmeans.train", "x");
    if (n < 0)
        return NULL;
    Py_ssize_t d = xv.shape[1];
    PyObject *ret = NULL;
    if (get_array(co, &cv, ITEM_F32, 1, SHAPE_ROWS, d, "Kmeans.train", "centroids") < 0)
        goto out2;
    if (get_array(oo, &ov, ITEM_F32, 1, SHAPE_1D, -1, "Kmeans.train", "obj") < 0)
        goto out1;
    if (d <= 0 || d > INT_MAX) {
        PyErr_Format(ArgumentError, "Kmeans.train: x has %zd components per vector", d);
        goto out;
    }
    if (cv.shape[0] != k || (p.niter >= 0 && p.nredo >= 0 &&
                             ov.shape[0] != (Py_ssize_t)p.niter * p.nredo)) {
        PyErr_Format(ArgumentError, "Kmeans.train: centroids must be (k, d) and obj niter*nredo");
        goto out;
    }
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_kmeans((size_t)n, (int)d, xv.buf, (size_t)k, &p, cv.buf,
                       ov.shape[0] ? ov.buf : NULL);
    Py_END_ALLOW_THREADS
    ret = st ? raise_status(st) : Py_NewRef(Py_None);
out:
    PyBuffer_Release(&ov);
out1:
    PyBuffer_Release(&cv);
out2:
    PyBuffer_Release(&xv);
    return ret;
}

/* The Python log handler (a callable(level, message)) or NULL. Read and written
 * with the GIL held. */
static PyObject *log_handler;

/* The C log callback: may run on any thread (with or without the GIL). */
static void log_to_python(int level, const char *message, void *unused)
{
    if (!Py_IsInitialized())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *h = Py_XNewRef(log_handler);
    if (h) {
        PyObject *r = PyObject_CallFunction(h, "is", level, message);
        if (r)
            Py_DECREF(r);
        else
            PyErr_WriteUnraisable(h);
        Py_DECREF(h);
    }
    PyGILState_Release(g);
}

/* set_log_callback(fn or None) -> the previous handler (or None). */
static PyObject *mod_set_log_callback(PyObject *m, PyObject *fn)
{
    if (fn != Py_None && !PyCallable_Check(fn))
        return PyErr_Format(PyExc_TypeError, "set_log_callback: expected a callable or None, "
                            "got %.80s", Py_TYPE(fn)->tp_name);
    PyObject *prev = log_handler ? log_handler : Py_NewRef(Py_None);
    log_handler = fn == Py_None ? NULL : Py_NewRef(fn);
    vindex_set_log_callback(log_handler ? log_to_python : NULL, NULL);
    return prev;
}

/* factory(cls, d, spec, c_metric): vindex_factory; the new index in an object
 * of class cls (an Index subclass) that owns it. */
static PyObject *mod_factory(PyObject *m, PyObject *args)
{
    PyObject *cls;
    int d, metric;
    const char *spec;
    if (!PyArg_ParseTuple(args, "Oisi:factory", &cls, &d, &spec, &metric))
        return NULL;
    vindex *ix = NULL;
    vindex_status st = vindex_factory(&ix, d, spec, (vindex_metric)metric);
    if (st)
        return raise_status(st);
    return index_handle(cls, ix, NULL);
}

/* ---- persistence (vindex_write / read / serialize / deserialize) ---------- */

/* The Index object behind `obj`, read-locked; NULL with an exception. */
static IndexObject *io_lock(PyObject *obj, const char *op, IndexObject **root)
{
    if (!PyObject_TypeCheck(obj, &IndexType)) {
        PyErr_Format(PyExc_TypeError, "%s: expected an index, got %.80s", op,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    IndexObject *self = (IndexObject *)obj;
    *root = index_lock(self, 0, op);
    return *root ? self : NULL;
}

/* write_index(index, path): vindex_write, the GIL released. */
static PyObject *mod_write_index(PyObject *m, PyObject *args)
{
    PyObject *obj, *path;
    if (!PyArg_ParseTuple(args, "OO&:write_index", &obj, PyUnicode_FSConverter, &path))
        return NULL;
    IndexObject *root, *self = io_lock(obj, "write_index", &root);
    if (!self) {
        Py_DECREF(path);
        return NULL;
    }
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_write(self->ix, PyBytes_AS_STRING(path));
    index_unlock(root);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* read_index(cls, path, c_flags) -> a handle of class cls (to be wrapped). */
static PyObject *mod_read_index(PyObject *m, PyObject *args)
{
    PyObject *cls, *path;
    unsigned int flags;
    if (!PyArg_ParseTuple(args, "OO&I:read_index", &cls, PyUnicode_FSConverter, &path, &flags))
        return NULL;
    vindex *ix = NULL;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_read(&ix, PyBytes_AS_STRING(path), flags);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (st)
        return raise_status(st);
    return index_handle(cls, ix, NULL);
}

/* serialize_index(index) -> bytearray (numpy views it without a copy). */
static PyObject *mod_serialize_index(PyObject *m, PyObject *obj)
{
    IndexObject *root, *self = io_lock(obj, "serialize_index", &root);
    if (!self)
        return NULL;
    size_t len = 0;
    vindex_status st = vindex_serialize_into(self->ix, NULL, 0, &len);
    if (st && len == 0) { /* not a size query answer: a real failure */
        index_unlock(root);
        return raise_status(st);
    }
    if (len > (size_t)PY_SSIZE_T_MAX) {
        index_unlock(root);
        return PyErr_NoMemory();
    }
    PyObject *out = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)len);
    if (!out) {
        index_unlock(root);
        return NULL;
    }
    char *buf = PyByteArray_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    st = vindex_serialize_into(self->ix, buf, len, &len);
    index_unlock(root);
    Py_END_ALLOW_THREADS
    if (st) {
        Py_DECREF(out);
        return raise_status(st);
    }
    return out;
}

/* deserialize_index(cls, buffer) -> a handle of class cls; any C-contiguous
 * buffer (bytes, bytearray, a uint8 numpy array). */
static PyObject *mod_deserialize_index(PyObject *m, PyObject *args)
{
    PyObject *cls, *obj;
    if (!PyArg_ParseTuple(args, "OO:deserialize_index", &cls, &obj))
        return NULL;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    vindex *ix = NULL;
    vindex_status st;
    Py_BEGIN_ALLOW_THREADS
    st = vindex_deserialize(&ix, v.buf, (size_t)v.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    if (st)
        return raise_status(st);
    return index_handle(cls, ix, NULL);
}

static PyObject *mod_sq_code_size(PyObject *m, PyObject *args)
{
    int type, d;
    if (!PyArg_ParseTuple(args, "ii:sq_code_size", &type, &d))
        return NULL;
    return PyLong_FromSize_t(vindex_sq_code_size((vindex_sq_type)type, d));
}

/* ------------------------------------------------------------------------- */
/* IndexBinaryFlat: a capsule over vindex_binary                              */
/* ------------------------------------------------------------------------- */
/* The Python class (IndexBinaryFlat in __init__.py) holds the capsule and a
 * lock; these functions keep the GIL while they run, so calls on one index
 * never overlap (the library's own pool still parallelizes a search). */

static const char BINARY_CAPSULE[] = "vindex_binary";

static void binary_capsule_free(PyObject *cap)
{
    vindex_binary_free(PyCapsule_GetPointer(cap, BINARY_CAPSULE));
}

static vindex_binary *binary_of(PyObject *cap)
{
    return PyCapsule_GetPointer(cap, BINARY_CAPSULE);
}

static PyObject *mod_binary_flat_new(PyObject *mod, PyObject *args)
{
    int d;
    if (!PyArg_ParseTuple(args, "i:binary_flat_new", &d))
        return NULL;
    vindex_binary *ix;
    vindex_status st = vindex_binary_flat_new(&ix, d);
    if (st)
        return raise_status(st);
    PyObject *cap = PyCapsule_New(ix, BINARY_CAPSULE, binary_capsule_free);
    if (!cap)
        vindex_binary_free(ix);
    return cap;
}

/* binary_info(cap) -> (d, code_size, ntotal) */
static PyObject *mod_binary_info(PyObject *mod, PyObject *cap)
{
    vindex_binary *ix = binary_of(cap);
    if (!ix)
        return NULL;
    return Py_BuildValue("inL", vindex_binary_d(ix), (Py_ssize_t)vindex_binary_code_size(ix),
                         (long long)vindex_binary_ntotal(ix));
}

static PyObject *mod_binary_add(PyObject *mod, PyObject *args)
{
    PyObject *cap, *x;
    if (!PyArg_ParseTuple(args, "OO:binary_add", &cap, &x))
        return NULL;
    vindex_binary *ix = binary_of(cap);
    if (!ix)
        return NULL;
    Py_buffer v;
    Py_ssize_t n = get_array(x, &v, ITEM_U8, 0, SHAPE_ROWS,
                             (Py_ssize_t)vindex_binary_code_size(ix), "add", "codes");
    if (n < 0)
        return NULL;
    vindex_status st = vindex_binary_add(ix, (size_t)n, v.buf);
    PyBuffer_Release(&v);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* binary_search(cap, x, k, D, I): D int32 (n, k), I int64 (n, k). */
static PyObject *mod_binary_search(PyObject *mod, PyObject *args)
{
    PyObject *cap, *x, *dobj, *iobj;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "OOnOO:binary_search", &cap, &x, &k, &dobj, &iobj))
        return NULL;
    vindex_binary *ix = binary_of(cap);
    if (!ix)
        return NULL;
    Py_buffer v, dv, iv;
    Py_ssize_t n = get_array(x, &v, ITEM_U8, 0, SHAPE_ROWS,
                             (Py_ssize_t)vindex_binary_code_size(ix), "search", "codes");
    if (n < 0)
        return NULL;
    if (get_array(dobj, &dv, ITEM_I32, 1, SHAPE_OUT, k, "search", "D") < 0) {
        PyBuffer_Release(&v);
        return NULL;
    }
    if (get_array(iobj, &iv, ITEM_I64, 1, SHAPE_OUT, k, "search", "I") < 0) {
        PyBuffer_Release(&v);
        PyBuffer_Release(&dv);
        return NULL;
    }
    vindex_status st = VINDEX_OK;
    if (dv.shape[0] != n || iv.shape[0] != n)
        PyErr_Format(ArgumentError, "search: D and I must have %zd rows", n);
    else
        st = vindex_binary_search(ix, (size_t)n, v.buf, (size_t)k, dv.buf, iv.buf);
    PyBuffer_Release(&v);
    PyBuffer_Release(&dv);
    PyBuffer_Release(&iv);
    if (PyErr_Occurred())
        return NULL;
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *mod_binary_reconstruct(PyObject *mod, PyObject *args)
{
    PyObject *cap, *out;
    long long id;
    if (!PyArg_ParseTuple(args, "OLO:binary_reconstruct", &cap, &id, &out))
        return NULL;
    vindex_binary *ix = binary_of(cap);
    if (!ix)
        return NULL;
    Py_buffer v;
    Py_ssize_t n = get_array(out, &v, ITEM_U8, 1, SHAPE_1D, -1, "reconstruct", "out");
    if (n < 0)
        return NULL;
    vindex_status st = VINDEX_OK;
    if ((size_t)n != vindex_binary_code_size(ix))
        PyErr_Format(ArgumentError, "reconstruct: out must hold %zu bytes",
                     vindex_binary_code_size(ix));
    else
        st = vindex_binary_reconstruct(ix, (vindex_id)id, v.buf);
    PyBuffer_Release(&v);
    if (PyErr_Occurred())
        return NULL;
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

static PyObject *mod_binary_reset(PyObject *mod, PyObject *cap)
{
    vindex_binary *ix = binary_of(cap);
    if (!ix)
        return NULL;
    vindex_status st = vindex_binary_reset(ix);
    return st ? raise_status(st) : Py_NewRef(Py_None);
}

/* binary_remove_ids(cap, selector) -> n removed */
static PyObject *mod_binary_remove_ids(PyObject *mod, PyObject *args)
{
    PyObject *cap;
    SelectorObject *sel;
    if (!PyArg_ParseTuple(args, "OO!:binary_remove_ids", &cap, &SelectorType, &sel))
        return NULL;
    vindex_binary *ix = binary_of(cap);
    if (!ix)
        return NULL;
    if (!sel->sel)
        return PyErr_Format(ArgumentError, "remove_ids: the selector is not initialised");
    size_t nrem = 0;
    vindex_status st = vindex_binary_remove_ids(ix, sel->sel, &nrem);
    return st ? raise_status(st) : PyLong_FromSize_t(nrem);
}

static PyMethodDef module_methods[] = {
    {"knn", (PyCFunction)(void (*)(void))mod_knn, METH_FASTCALL,
     "knn(xq, xb, k, c_metric, D, I): vindex_knn into D and I."},
    {"normalize_L2", (PyCFunction)mod_normalize_L2, METH_O,
     "normalize_L2(x): scale the rows of a float32 C-contiguous array to unit norm, in place."},
    {"set_num_threads", (PyCFunction)mod_set_num_threads, METH_O,
     "set_num_threads(n): threads of the library's pool (n <= 0: the default)."},
    {"get_num_threads", (PyCFunction)mod_get_num_threads, METH_NOARGS,
     "get_num_threads() -> int: threads of the library's pool."},
    {"set_blas_threshold", (PyCFunction)mod_set_blas_threshold, METH_O,
     "set_blas_threshold(nq): query batches this large use BLAS sgemm."},
    {"get_blas_threshold", (PyCFunction)mod_get_blas_threshold, METH_NOARGS,
     "get_blas_threshold() -> int."},
    {"set_read_limit", (PyCFunction)mod_set_read_limit, METH_O,
     "set_read_limit(nbytes): cap on what one read may allocate (0: none)."},
    {"get_read_limit", (PyCFunction)mod_get_read_limit, METH_NOARGS,
     "get_read_limit() -> int: the read cap in bytes (0: none)."},
    {"simd_level", (PyCFunction)mod_simd_level, METH_NOARGS,
     "simd_level() -> str: \"scalar\", \"avx2\" or \"avx512\"."},
    {"kmeans", (PyCFunction)mod_kmeans, METH_VARARGS,
     "kmeans(x, k, centroids, obj, niter, nredo, seed, spherical, max_points_per_centroid, "
     "min_points_per_centroid, init, verbose): vindex_kmeans into centroids (k, d) and obj "
     "(niter*nredo,)."},
    {"set_log_callback", (PyCFunction)mod_set_log_callback, METH_O,
     "set_log_callback(fn or None) -> previous: library log messages go to fn(level, message) "
     "(level 0 info, 1 warning), from whichever thread logs."},
    {"write_index", (PyCFunction)mod_write_index, METH_VARARGS,
     "write_index(index, path): vindex_write (atomic: temporary file, fsync, rename)."},
    {"read_index", (PyCFunction)mod_read_index, METH_VARARGS,
     "read_index(cls, path, c_flags) -> a new handle of class cls: vindex_read."},
    {"serialize_index", (PyCFunction)mod_serialize_index, METH_O,
     "serialize_index(index) -> bytearray: vindex_serialize_into."},
    {"deserialize_index", (PyCFunction)mod_deserialize_index, METH_VARARGS,
     "deserialize_index(cls, buffer) -> a new handle of class cls: vindex_deserialize."},
    {"factory", (PyCFunction)mod_factory, METH_VARARGS,
     "factory(cls, d, spec, c_metric) -> a new index (an object of class cls, __init__ not "
     "run): vindex_factory."},
    {"sq_code_size", (PyCFunction)mod_sq_code_size, METH_VARARGS,
     "sq_code_size(c_type, d) -> int: vindex_sq_code_size."},
    {"binary_flat_new", (PyCFunction)mod_binary_flat_new, METH_VARARGS,
     "binary_flat_new(d_bits) -> capsule: vindex_binary_flat_new."},
    {"binary_info", (PyCFunction)mod_binary_info, METH_O,
     "binary_info(cap) -> (d, code_size, ntotal)."},
    {"binary_add", (PyCFunction)mod_binary_add, METH_VARARGS,
     "binary_add(cap, codes): vindex_binary_add (uint8, n x code_size)."},
    {"binary_search", (PyCFunction)mod_binary_search, METH_VARARGS,
     "binary_search(cap, codes, k, D, I): vindex_binary_search into D (int32) and I (int64)."},
    {"binary_reconstruct", (PyCFunction)mod_binary_reconstruct, METH_VARARGS,
     "binary_reconstruct(cap, id, out): vindex_binary_reconstruct into out (uint8)."},
    {"binary_reset", (PyCFunction)mod_binary_reset, METH_O, "binary_reset(cap)."},
    {"binary_remove_ids", (PyCFunction)mod_binary_remove_ids, METH_VARARGS,
     "binary_remove_ids(cap, selector) -> int: vindex_binary_remove_ids."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "vindex._vindex",
    .m_doc = "The C extension of vindex: thin handles over the public C API. Use the "
             "classes of the vindex package instead.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__vindex(void)
{
    if (PyType_Ready(&IndexType) < 0 || PyType_Ready(&SelectorType) < 0 ||
        PyType_Ready(&ParamsType) < 0 || PyType_Ready(&PQType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    PyObject *bases = PyTuple_Pack(2, PyExc_ValueError, PyExc_RuntimeError);
    if (!bases)
        goto fail;
    ArgumentError = PyErr_NewExceptionWithDoc(
        "vindex.ArgumentError",
        "A bad argument (wrong shape, dtype, dimension, k, id, ...). A ValueError, and a "
        "RuntimeError too, so that Faiss code catching RuntimeError still works.",
        bases, NULL);
    Py_DECREF(bases);
    if (!ArgumentError)
        goto fail;
    if (PyModule_AddObjectRef(m, "ArgumentError", ArgumentError) < 0 ||
        PyModule_AddObjectRef(m, "Index", (PyObject *)&IndexType) < 0 ||
        PyModule_AddObjectRef(m, "Selector", (PyObject *)&SelectorType) < 0 ||
        PyModule_AddObjectRef(m, "SearchParams", (PyObject *)&ParamsType) < 0 ||
        PyModule_AddIntConstant(m, "C_IO_MMAP", VINDEX_IO_MMAP) < 0 ||
        PyModule_AddIntConstant(m, "C_METRIC_L2", VINDEX_METRIC_L2) < 0 ||
        PyModule_AddIntConstant(m, "C_METRIC_INNER_PRODUCT", VINDEX_METRIC_INNER_PRODUCT) < 0 ||
        PyModule_AddIntConstant(m, "C_KMEANS_INIT_RANDOM", VINDEX_KMEANS_INIT_RANDOM) < 0 ||
        PyModule_AddIntConstant(m, "C_KMEANS_INIT_PLUSPLUS", VINDEX_KMEANS_INIT_PLUSPLUS) < 0 ||
        PyModule_AddObjectRef(m, "PQCodec", (PyObject *)&PQType) < 0 ||
        PyModule_AddIntConstant(m, "C_SQ_8BIT", VINDEX_SQ_8BIT) < 0 ||
        PyModule_AddIntConstant(m, "C_SQ_4BIT", VINDEX_SQ_4BIT) < 0 ||
        PyModule_AddIntConstant(m, "C_SQ_8BIT_UNIFORM", VINDEX_SQ_8BIT_UNIFORM) < 0 ||
        PyModule_AddIntConstant(m, "C_SQ_FP16", VINDEX_SQ_FP16) < 0 ||
        PyModule_AddIntConstant(m, "C_SQ_BF16", VINDEX_SQ_BF16) < 0 ||
        PyModule_AddStringConstant(m, "__version__", vindex_version()) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
