/* verify's hot loops in C: what the Python code of vendzz_migrate.verify does per value and
   per row, written again for speed. Tests hold each function to its Python twin (the path
   taken when this module could not be built) and both to what PostgreSQL computes.

   text(doc)  What PostgreSQL prints for a JSON document as jsonb (``text::jsonb::text``).
              It takes what orjson.loads() returned for a JSON object or array and returns the
              UTF-8 bytes of jsonb's text: object keys in jsonb's order (byte length of the
              UTF-8 key first, then its bytes), ", " and ": " separators, strings escaped as
              PostgreSQL's escape_json() does. Whatever it is unsure of raises Unsure and the
              caller takes the Python path: a float (its literal matters to jsonb, and orjson
              kept only its value), an integer beyond 64 bits, a string holding NUL (jsonb
              refuses \u0000) or a lone surrogate. Twin: fast.walk_text.

   md5(data)  MD5 (RFC 1321) of bytes. Twin: hashlib.md5.

   sums(...)  The per-row loop of lite.segment_sums for a table with a one-column text key:
              see its docstring below. Twin: the loop in lite.segment_sums. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
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


/* -- MD5 (RFC 1321) ----------------------------------------------------------------------- */

static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee,
    0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa,
    0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
    0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
    0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039,
    0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static const unsigned char SHIFT[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static void md5_block(uint32_t state[4], const unsigned char *block)
{
    uint32_t m[16], a = state[0], b = state[1], c = state[2], d = state[3];
    int i;

    for (i = 0; i < 16; i++)
        m[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8
               | (uint32_t)block[4 * i + 2] << 16 | (uint32_t)block[4 * i + 3] << 24;
    for (i = 0; i < 64; i++) {
        uint32_t f, t;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        t = a + f + K[i] + m[g];
        a = d;
        d = c;
        c = b;
        b = b + ((t << SHIFT[i]) | (t >> (32 - SHIFT[i])));
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
}

static void md5_digest(const unsigned char *data, Py_ssize_t n, unsigned char out[16])
{
    uint32_t state[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    unsigned char tail[128];
    uint64_t bits = (uint64_t)n * 8;
    Py_ssize_t full = n - n % 64, rest = n % 64, pad;
    int i;

    for (Py_ssize_t at = 0; at < full; at += 64)
        md5_block(state, data + at);
    memcpy(tail, data + full, (size_t)rest);
    tail[rest] = 0x80;
    pad = rest < 56 ? 64 : 128;
    memset(tail + rest + 1, 0, (size_t)(pad - rest - 1));
    for (i = 0; i < 8; i++)
        tail[pad - 8 + i] = (unsigned char)(bits >> (8 * i));
    md5_block(state, tail);
    if (pad == 128)
        md5_block(state, tail + 64);
    for (i = 0; i < 16; i++)
        out[i] = (unsigned char)(state[i / 4] >> (8 * (i % 4)));
}

static PyObject *md5(PyObject *module, PyObject *data)
{
    unsigned char digest[16];
    (void)module;
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "md5() takes bytes");
        return NULL;
    }
    md5_digest((const unsigned char *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), digest);
    return PyBytes_FromStringAndSize((const char *)digest, 16);
}

/* -- the per-row loop of lite.segment_sums ------------------------------------------------- */

#ifdef __SIZEOF_INT128__
#define HAVE_SUMS 1

static int put_piece(Buffer *b, PyObject *piece)
{
    return put(b, PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece));
}

/* Bytes comparison as Python's: memcmp on the common length, then the shorter first. */
static int bytes_le(PyObject *x, const char *key, Py_ssize_t key_size)
{
    Py_ssize_t n = PyBytes_GET_SIZE(x), common = n < key_size ? n : key_size;
    int c = memcmp(PyBytes_AS_STRING(x), key, (size_t)common);
    return c < 0 || (c == 0 && n <= key_size);
}

static int is_text_kind(PyObject *kind)
{
    return PyBytes_Check(kind) && PyBytes_GET_SIZE(kind) == 4
           && memcmp(PyBytes_AS_STRING(kind), "text", 4) == 0;
}

/* 1 and the row's canonical bytes in *b when the row takes this path; 0 when Python must
   look at it; -1 on an error (raised). Mirrors litesql.assemble. */
static int assemble(Buffer *b, PyObject *row, PyObject *ops, PyObject *quick, Py_ssize_t width,
                    PyObject *reject)
{
    Py_ssize_t i, n = PyTuple_GET_SIZE(ops), markers = 0;

    b->size = 0;
    for (i = 0; i < n; i++) {
        PyObject *op = PyTuple_GET_ITEM(ops, i), *fast;
        Py_ssize_t slot;
        if (!PyTuple_Check(op) || PyTuple_GET_SIZE(op) != 2) {
            PyErr_SetString(PyExc_TypeError, "a row plan op is a (slot, canon) tuple");
            return -1;
        }
        slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(op, 0));
        fast = PyTuple_GET_ITEM(op, 1);
        if (slot < 0 || slot + (fast == Py_None ? 0 : 1) >= PyTuple_GET_SIZE(row)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_IndexError, "a row plan slot beyond the row");
            return -1;
        }
        if (fast == Py_None) {
            PyObject *piece = PyTuple_GET_ITEM(row, slot);
            if (!PyBytes_Check(piece))
                return 0;  /* NULL: a value SQLite left to Python */
            if (put_piece(b, piece) < 0)
                return -1;
        } else {
            PyObject *kind = PyTuple_GET_ITEM(row, slot), *raw = PyTuple_GET_ITEM(row, slot + 1);
            PyObject *value = NULL;
            int failed;
            if (i < PyTuple_GET_SIZE(quick) && PyTuple_GET_ITEM(quick, i) != Py_None
                && is_text_kind(kind) && PyBytes_Check(raw)) {
                /* the op's result in one call when it is sure (plan.quick) */
                value = PyObject_CallOneArg(PyTuple_GET_ITEM(quick, i), raw);
                if (value == NULL)
                    return -1;
                if (value == Py_None) {
                    Py_DECREF(value);
                    value = NULL;
                }
            }
            if (value == NULL)
                value = PyObject_CallFunctionObjArgs(fast, kind, raw, NULL);
            if (value == NULL) {
                if (PyErr_ExceptionMatches(reject)) {
                    PyErr_Clear();
                    return 0;
                }
                return -1;
            }
            if (value == Py_None) {
                failed = put(b, "\xfe", 1) < 0;
            } else if (PyBytes_Check(value)) {
                failed = put(b, "\xff", 1) < 0 || put_piece(b, value) < 0;
            } else {
                PyErr_SetString(PyExc_TypeError, "a canonical value must be bytes or None");
                failed = 1;
            }
            Py_DECREF(value);
            if (failed)
                return -1;
        }
    }
    for (i = 0; i < b->size; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c == 0)
            return 0;
        if (c >= 0xfe)
            markers++;
    }
    return markers == width;
}

/* sums(rows, ops, quick, width, key, starts, rejected, reject, segments)
   -> (counts, totals, deferred, read)

   rows: an iterator of rows as litesql.row_plan's SELECT gives them; ops, quick and width:
   the plan's; key: the slot of the one text key column's typeof (its value follows); starts: the
   segment starts (bytes, sorted); rejected: a set of rowids or None; reject: the exception
   a canonical function raises (Reject); segments: len(starts) + 1. Every row whose key is
   text and whose canonical bytes this loop can build is counted here (md5, first 8 bytes as
   a big-endian signed integer, summed per segment; read: how many); every other row is
   returned in deferred, for the Python loop to take as before. */
static PyObject *sums(PyObject *module, PyObject *args)
{
    PyObject *rows, *ops, *quick, *starts, *rejected, *reject, *iter = NULL, *row;
    PyObject *deferred = NULL, *counts = NULL, *totals = NULL, *out = NULL;
    Py_ssize_t width, key, segments, read = 0, i;
    Buffer b = {NULL, 0, 0};
    long long *count = NULL;
    __int128 *total = NULL;

    (void)module;
    if (!PyArg_ParseTuple(args, "OO!O!nnO!OOn", &rows, &PyTuple_Type, &ops, &PyTuple_Type,
                          &quick, &width, &key, &PyList_Type, &starts, &rejected, &reject,
                          &segments))
        return NULL;
    if (segments != PyList_GET_SIZE(starts) + 1 || key < 0) {
        PyErr_SetString(PyExc_ValueError, "segments must be len(starts) + 1");
        return NULL;
    }
    for (i = 0; i < PyList_GET_SIZE(starts); i++) {
        if (!PyBytes_Check(PyList_GET_ITEM(starts, i))) {
            PyErr_SetString(PyExc_TypeError, "segment starts must be bytes");
            return NULL;
        }
    }
    count = PyMem_Calloc((size_t)segments, sizeof *count);
    total = PyMem_Calloc((size_t)segments, sizeof *total);
    deferred = PyList_New(0);
    iter = PyObject_GetIter(rows);
    if (count == NULL || total == NULL || deferred == NULL || iter == NULL
        || reserve(&b, 1024) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    while ((row = PyIter_Next(iter)) != NULL) {
        PyObject *kind, *value;
        int ok = 0;
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) <= key + 1) {
            Py_DECREF(row);
            PyErr_SetString(PyExc_TypeError, "rows must be tuples holding the key");
            goto done;
        }
        kind = PyTuple_GET_ITEM(row, key);
        value = PyTuple_GET_ITEM(row, key + 1);
        if (is_text_kind(kind) && PyBytes_Check(value)) {
            /* a key that is not UTF-8 does not convert: Python sets its row aside */
            PyObject *decoded = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(value),
                                                     PyBytes_GET_SIZE(value), "strict");
            ok = decoded != NULL;
            Py_XDECREF(decoded);
            if (!ok) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    Py_DECREF(row);
                    goto done;
                }
                PyErr_Clear();
            }
        }
        if (ok) {
            if (rejected != Py_None) {
                int found = PySet_Contains(rejected, PyTuple_GET_ITEM(row, 0));
                if (found < 0) {
                    Py_DECREF(row);
                    goto done;
                }
                ok = !found;
            }
            if (ok)
                ok = assemble(&b, row, ops, quick, width, reject);
        }
        if (ok < 0) {
            Py_DECREF(row);
            goto done;
        }
        if (!ok) {
            int failed = PyList_Append(deferred, row);
            Py_DECREF(row);
            if (failed < 0)
                goto done;
            continue;
        } else {
            unsigned char digest[16];
            uint64_t h = 0;
            Py_ssize_t lo = 0, hi = PyList_GET_SIZE(starts);
            const char *k = PyBytes_AS_STRING(value);
            Py_ssize_t k_size = PyBytes_GET_SIZE(value);
            md5_digest((const unsigned char *)b.data, b.size, digest);
            for (i = 0; i < 8; i++)
                h = h << 8 | digest[i];
            while (lo < hi) {  /* bisect_right: the starts <= key */
                Py_ssize_t mid = (lo + hi) / 2;
                if (bytes_le(PyList_GET_ITEM(starts, mid), k, k_size))
                    lo = mid + 1;
                else
                    hi = mid;
            }
            count[lo]++;
            total[lo] += (__int128)(int64_t)h;
            read++;
            Py_DECREF(row);
        }
    }
    if (PyErr_Occurred())
        goto done;
    counts = PyList_New(segments);
    totals = PyList_New(segments);
    if (counts == NULL || totals == NULL)
        goto done;
    for (i = 0; i < segments; i++) {
        PyObject *n = PyLong_FromLongLong(count[i]);
        /* the sum as two halves: high * 2**64 + low (no portable __int128 -> PyLong) */
        __int128 t = total[i];
        PyObject *high = PyLong_FromLongLong((long long)(t >> 64));
        PyObject *low = PyLong_FromUnsignedLongLong((unsigned long long)(t & 0xffffffffffffffffULL));
        PyObject *shift = PyLong_FromLong(64), *scaled = NULL, *sum = NULL;
        if (n != NULL && high != NULL && low != NULL && shift != NULL)
            scaled = PyNumber_Lshift(high, shift);
        if (scaled != NULL)
            sum = PyNumber_Add(scaled, low);
        Py_XDECREF(high);
        Py_XDECREF(low);
        Py_XDECREF(shift);
        Py_XDECREF(scaled);
        if (n == NULL || sum == NULL) {
            Py_XDECREF(n);
            Py_XDECREF(sum);
            goto done;
        }
        PyList_SET_ITEM(counts, i, n);
        PyList_SET_ITEM(totals, i, sum);
    }
    out = Py_BuildValue("(OOOn)", counts, totals, deferred, read);
done:
    Py_XDECREF(iter);
    Py_XDECREF(deferred);
    Py_XDECREF(counts);
    Py_XDECREF(totals);
    PyMem_Free(count);
    PyMem_Free(total);
    PyMem_Free(b.data);
    return out;
}
#endif

static PyMethodDef methods[] = {
    {"text", text, METH_O, "text(doc) -> jsonb's text of doc (UTF-8); raises Unsure."},
    {"md5", md5, METH_O, "md5(data) -> the 16 bytes of MD5."},
#ifdef HAVE_SUMS
    {"sums", sums, METH_VARARGS, "the per-row loop of lite.segment_sums (see _speed.c)."},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speed", "verify's hot loops in C (see _speed.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speed(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Unsure = PyErr_NewException("vendzz_migrate.verify._speed.Unsure", PyExc_ValueError, NULL);
    if (Unsure == NULL || PyModule_AddObjectRef(m, "Unsure", Unsure) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
