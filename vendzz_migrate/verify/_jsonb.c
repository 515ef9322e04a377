/* What PostgreSQL prints for a JSON document as jsonb (``text::jsonb::text``), in C.

   text(doc) takes what orjson.loads() returned for a JSON object or array and returns the
   UTF-8 bytes of jsonb's text: object keys in jsonb's order (byte length of the UTF-8 key
   first, then its bytes), ", " and ": " separators, strings escaped as PostgreSQL's
   escape_json() does. Whatever it is unsure of raises Unsure, and the caller takes the Python
   path: a float (its literal matters to jsonb, and orjson kept only its value), an integer
   beyond 64 bits, a string holding NUL (jsonb refuses \u0000) or a lone surrogate.
   It is vendzz_migrate.verify.fast's Python path written again for speed; tests hold the two
   to the same bytes and both to what PostgreSQL prints. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

static PyObject *Unsure;

typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Buffer;

static int reserve(Buffer *b, Py_ssize_t more)
{
    Py_ssize_t want = b->size + more;
    char *grown;
    if (want <= b->capacity)
        return 0;
    if (want > PY_SSIZE_T_MAX / 2) {
        PyErr_NoMemory();
        return -1;
    }
    want = want * 2;
    grown = PyMem_Realloc(b->data, (size_t)want);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = grown;
    b->capacity = want;
    return 0;
}

static int put(Buffer *b, const char *bytes, Py_ssize_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->size, bytes, (size_t)n);
    b->size += n;
    return 0;
}

static int unsure(const char *why)
{
    PyErr_SetString(Unsure, why);
    return -1;
}

/* A string as PostgreSQL's escape_json() prints it: \" \\ \b \f \n \r \t, other bytes below
   0x20 as \u00xx (lowercase hex), every other byte as it is (UTF-8, unescaped). */
static int put_string(Buffer *b, PyObject *str)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t n, i;
    const char *s = PyUnicode_AsUTF8AndSize(str, &n);
    char *out;

    if (s == NULL) {  /* a lone surrogate: PostgreSQL refuses it */
        PyErr_Clear();
        return unsure("a string that is not UTF-8");
    }
    if (reserve(b, 6 * n + 2) < 0)  /* the longest escape of one byte: \u00xx */
        return -1;
    out = b->data + b->size;
    *out++ = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *out++ = (char)c;
            continue;
        }
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        case 0:
            return unsure("a string holding NUL (jsonb refuses \\u0000)");
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 0xf];
        }
    }
    *out++ = '"';
    b->size = out - b->data;
    return 0;
}

typedef struct {
    const char *bytes;
    Py_ssize_t size;
    PyObject *key;   /* borrowed from the dict */
    PyObject *value; /* borrowed from the dict */
} Member;

static int by_jsonb_order(const void *a, const void *b)
{
    const Member *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return memcmp(x->bytes, y->bytes, (size_t)x->size);
}

static int put_value(Buffer *b, PyObject *value);

#define SMALL 16

static int put_dict(Buffer *b, PyObject *dict)
{
    Py_ssize_t n = PyDict_GET_SIZE(dict), pos = 0, i = 0;
    Member small[SMALL];
    Member *members = small;
    PyObject *key, *value;
    int status = -1;

    if (n == 0)
        return put(b, "{}", 2);
    if (n > SMALL) {
        members = PyMem_Malloc((size_t)n * sizeof(Member));
        if (members == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (i >= n || !PyUnicode_CheckExact(key)) {
            unsure("not a dict as orjson builds it");
            goto done;
        }
        members[i].bytes = PyUnicode_AsUTF8AndSize(key, &members[i].size);
        if (members[i].bytes == NULL) {
            PyErr_Clear();
            unsure("a key that is not UTF-8");
            goto done;
        }
        members[i].key = key;
        members[i].value = value;
        i++;
    }
    if (i != n) {
        unsure("the dict changed size");
        goto done;
    }
    qsort(members, (size_t)n, sizeof(Member), by_jsonb_order);
    if (put(b, "{", 1) < 0)
        goto done;
    for (i = 0; i < n; i++) {
        if ((i > 0 && put(b, ", ", 2) < 0) || put_string(b, members[i].key) < 0
            || put(b, ": ", 2) < 0 || put_value(b, members[i].value) < 0)
            goto done;
    }
    status = put(b, "}", 1);
done:
    if (members != small)
        PyMem_Free(members);
    return status;
}

static int put_list(Buffer *b, PyObject *list)
{
    Py_ssize_t i;

    if (PyList_GET_SIZE(list) == 0)
        return put(b, "[]", 2);
    if (put(b, "[", 1) < 0)
        return -1;
    for (i = 0; i < PyList_GET_SIZE(list); i++) {
        if ((i > 0 && put(b, ", ", 2) < 0) || put_value(b, PyList_GET_ITEM(list, i)) < 0)
            return -1;
    }
    return put(b, "]", 1);
}

static int put_value(Buffer *b, PyObject *value)
{
    if (PyUnicode_CheckExact(value))
        return put_string(b, value);
    if (value == Py_True)
        return put(b, "true", 4);
    if (value == Py_False)
        return put(b, "false", 5);
    if (value == Py_None)
        return put(b, "null", 4);
    if (PyLong_CheckExact(value)) {
        int overflow;
        char digits[32];
        long long n = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || (n == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return unsure("an integer beyond 64 bits");
        }
        return put(b, digits, snprintf(digits, sizeof digits, "%lld", n));
    }
    if (PyDict_CheckExact(value) || PyList_CheckExact(value)) {
        int status;
        if (Py_EnterRecursiveCall(" in jsonb text"))
            return -1;
        status = PyDict_CheckExact(value) ? put_dict(b, value) : put_list(b, value);
        Py_LeaveRecursiveCall();
        return status;
    }
    return unsure("a float, or a value orjson does not build");
}

static PyObject *text(PyObject *module, PyObject *doc)
{
    Buffer b = {NULL, 0, 0};
    PyObject *out = NULL;

    (void)module;
    if (!PyDict_CheckExact(doc) && !PyList_CheckExact(doc)) {
        PyErr_SetString(PyExc_TypeError, "text() takes a dict or a list");
        return NULL;
    }
    if (reserve(&b, 256) == 0 && put_value(&b, doc) == 0)
        out = PyBytes_FromStringAndSize(b.data, b.size);
    PyMem_Free(b.data);
    return out;
}

static PyMethodDef methods[] = {
    {"text", text, METH_O, "text(doc) -> jsonb's text of doc (UTF-8); raises Unsure."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jsonb", "jsonb's text of a parsed JSON document, in C.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__jsonb(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Unsure = PyErr_NewException("vendzz_migrate.verify._jsonb.Unsure", PyExc_ValueError, NULL);
    if (Unsure == NULL || PyModule_AddObjectRef(m, "Unsure", Unsure) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
