/* verify's hot loops in C: what the Python code of vendzz_migrate.verify (and jsonb's
   canonical text, vendzz_migrate.typemap.canonical) does per value and per row, written
   again for speed. Tests hold each function to its Python twin (the path
   taken when this module could not be built) and both to what PostgreSQL computes.

   json_text(data)  What PostgreSQL prints for a JSON object or array as jsonb
              (``text::jsonb::text``), read straight from the bytes with no Python object
              made; None when unsure (see json_canon), and the reference decides. Twin:
              vendzz_migrate.typemap.canonical.jsonb_canon (the reference itself).

   md5(data)  MD5 (RFC 1321) of bytes. Twin: hashlib.md5.

   sums(...)  The per-row loop of lite.segment_sums' fast tier: see its docstring below. No
              twin: without it every row takes the reference (lite._row), and the tests
              hold the two to the same sums. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* A string as PostgreSQL's escape_json() prints it: \" \\ \b \f \n \r \t, other bytes below
   0x20 as \u00xx (lowercase hex), every other byte as it is (UTF-8, unescaped). */
/* UTF-8 bytes as a JSON string, as PostgreSQL's escape_json() prints them: \" \\ \b \f \n \r
   \t, other bytes below 0x20 as \u00xx (lowercase hex), every other byte as it is. 1 (and
   nothing written) for a NUL: jsonb cannot hold \u0000. */
static int put_escaped(Buffer *b, const char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t i;
    char *out;

    if (memchr(s, 0, (size_t)n) != NULL)
        return 1;
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

/* jsonb's key order: the byte length of the UTF-8 key first, then its bytes. */
static int jsonb_key_order(const char *x, Py_ssize_t x_size, const char *y, Py_ssize_t y_size)
{
    if (x_size != y_size)
        return x_size < y_size ? -1 : 1;
    return memcmp(x, y, (size_t)x_size);
}

/* -- jsonb's text straight from JSON text ------------------------------------------------ */

/* json_canon() reads a JSON object or array from bytes and writes jsonb's text of it, with
   no Python object made: keys in jsonb's order, integers as written ("-0" as "0"), strings
   decoded and escaped again as escape_json() does. It is sure of the common subset only and
   says so (UNSURE) for everything else, which the Python path then decides: a float or an
   exponent, a top-level scalar or string (double-encoded JSON), a duplicate key, \u0000, a
   lone surrogate, bytes that are not UTF-8, nesting beyond MAX_DEPTH, anything not JSON. */

#define UNSURE 1
#define MAX_DEPTH 256

struct Scratch;

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
    int deepest;
    struct Scratch *s;  /* the module's scratch buffers (module state) */
} Lexer;

static void skip_space(Lexer *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\n' || *l->p == '\r' || *l->p == '\t'))
        l->p++;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if it is not one (overlong
   forms, surrogates and code points beyond U+10FFFF are not UTF-8). */
static int utf8_length(const unsigned char *s, Py_ssize_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
            return 0;  /* overlong, or a surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
            return 0;  /* overlong, or beyond U+10FFFF */
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        unsigned char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_code_point(Buffer *b, unsigned cp)
{
    char u[4];
    Py_ssize_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return put(b, u, n);
}

/* A JSON string at l->p (on its opening quote), its decoded UTF-8 bytes appended to out. */
static int read_string(Lexer *l, Buffer *out)
{
    l->p++;
    for (;;) {
        const unsigned char *run = l->p;
        unsigned cp, low;
        while (l->p < l->end && *l->p >= 0x20 && *l->p != '"' && *l->p != '\\' && *l->p < 0x80)
            l->p++;
        if (l->p > run && put(out, (const char *)run, l->p - run) < 0)
            return -1;
        if (l->p >= l->end || *l->p < 0x20)
            return UNSURE;  /* unterminated, or a raw control character: not JSON */
        if (*l->p == '"') {
            l->p++;
            return 0;
        }
        if (*l->p >= 0x80) {
            int n = utf8_length(l->p, l->end - l->p);
            if (n == 0)
                return UNSURE;
            if (put(out, (const char *)l->p, n) < 0)
                return -1;
            l->p += n;
            continue;
        }
        /* a backslash */
        if (l->end - l->p < 2)
            return UNSURE;
        switch (l->p[1]) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (l->end - l->p < 6 || hex4(l->p + 2, &cp) < 0)
                return UNSURE;
            if (cp == 0)
                return UNSURE;  /* \u0000: jsonb refuses it */
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return UNSURE;  /* a lone low surrogate */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (l->end - l->p < 12 || l->p[6] != '\\' || l->p[7] != 'u'
                    || hex4(l->p + 8, &low) < 0 || low < 0xdc00 || low > 0xdfff)
                    return UNSURE;  /* a lone high surrogate */
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                l->p += 6;
            }
            l->p += 4;
            break;
        default:
            return UNSURE;
        }
        l->p += 2;
        if (put_code_point(out, cp) < 0)
            return -1;
    }
}

static int read_value(Lexer *l, Buffer *out);

/* The string at l->p (on its opening quote), checked: its raw bytes between the quotes in
   *start / *size, *escaped when they hold a backslash (read_string then decodes them). */
static int scan_string(Lexer *l, const unsigned char **start, Py_ssize_t *size, int *escaped)
{
    const unsigned char *p = l->p + 1;
    *escaped = 0;
    *start = p;
    for (;;) {
        while (p < l->end && *p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80)
            p++;
        if (p >= l->end || *p < 0x20)
            return UNSURE;  /* unterminated, or a raw control character: not JSON */
        if (*p == '"')
            break;
        if (*p == '\\') {
            *escaped = 1;
            if (l->end - p < 2)
                return UNSURE;
            p += 2;  /* the escape itself is checked when decoded */
            continue;
        }
        {
            int n = utf8_length(p, l->end - p);
            if (n == 0)
                return UNSURE;
            p += n;
        }
    }
    *size = p - *start;
    return 0;
}

/* After a member or an element: 2 (and past it) on a comma, 0 (and past it) on ``close``,
   UNSURE on anything else. */
static int after_member(Lexer *l, unsigned char close)
{
    skip_space(l);
    if (l->p < l->end && (*l->p == ',' || *l->p == close))
        return *l->p++ == ',' ? 2 : 0;
    return UNSURE;
}

typedef struct {
    const char *key;  /* UTF-8, decoded: in the document or in the object's scratch */
    Py_ssize_t key_size, key_at, value_at, value_size;  /* key_at: -1, or a scratch offset */
} Entry;

static int by_key(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    return jsonb_key_order(x->key, x->key_size, y->key, y->key_size);
}

/* Scratch space per nesting level, kept between calls in the module's state: an object's
   decoded keys and its members' jsonb text (an object only nests deeper objects, so one level
   never holds two objects at once). Every caller holds the interpreter lock: no two documents
   at once in one module (each interpreter that imports it has its own). */
typedef struct Scratch {
    Buffer scratch_at[MAX_DEPTH + 2];
    Entry *entries_at[MAX_DEPTH + 2];
    Py_ssize_t room_at[MAX_DEPTH + 2];
    Buffer decoded;  /* one string value's decoded bytes (strings do not nest) */
} Scratch;

static int read_object(Lexer *l, Buffer *out)
{
    Buffer *scratch = &l->s->scratch_at[l->depth];
    Py_ssize_t count = 0, i;
    int status;

    scratch->size = 0;
    l->p++;
    skip_space(l);
    if (l->p < l->end && *l->p == '}') {
        l->p++;
        return put(out, "{}", 2);
    }
    for (;;) {
        Entry e;
        const unsigned char *raw;
        int escaped;
        skip_space(l);
        if (l->p >= l->end || *l->p != '"')
            return UNSURE;
        if ((status = scan_string(l, &raw, &e.key_size, &escaped)) != 0)
            return status;
        e.key = (const char *)raw;
        e.key_at = -1;
        if (escaped) {
            e.key_at = scratch->size;
            if ((status = read_string(l, scratch)) != 0)
                return status;
            e.key_size = scratch->size - e.key_at;
        } else {
            l->p = raw + e.key_size + 1;
        }
        skip_space(l);
        if (l->p >= l->end || *l->p != ':')
            return UNSURE;
        l->p++;
        e.value_at = scratch->size;
        if ((status = read_value(l, scratch)) != 0)
            return status;
        e.value_size = scratch->size - e.value_at;
        if (count == l->s->room_at[l->depth]) {
            Py_ssize_t room = count ? count * 2 : 16;
            Entry *grown = PyMem_Realloc(l->s->entries_at[l->depth], (size_t)room * sizeof(Entry));
            if (grown == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            l->s->entries_at[l->depth] = grown;
            l->s->room_at[l->depth] = room;
        }
        l->s->entries_at[l->depth][count++] = e;
        if ((status = after_member(l, '}')) == UNSURE)
            return UNSURE;
        if (status == 0)
            break;
    }
    {
        Entry *entries = l->s->entries_at[l->depth];
        for (i = 0; i < count; i++)  /* the scratch holds still from here on */
            if (entries[i].key_at >= 0)
                entries[i].key = scratch->data + entries[i].key_at;
        qsort(entries, (size_t)count, sizeof(Entry), by_key);
        for (i = 1; i < count; i++)
            if (by_key(&entries[i - 1], &entries[i]) == 0)
                return UNSURE;  /* a duplicate key: the Python path knows which one jsonb keeps */
        if (put(out, "{", 1) < 0)
            return -1;
        for (i = 0; i < count; i++) {
            if (i > 0 && put(out, ", ", 2) < 0)
                return -1;
            /* a NUL cannot be decoded (raw: not JSON; \u0000: UNSURE): 0 or -1 here */
            if ((status = put_escaped(out, entries[i].key, entries[i].key_size)) != 0)
                return status;
            if (put(out, ": ", 2) < 0
                || put(out, scratch->data + entries[i].value_at, entries[i].value_size) < 0)
                return -1;
        }
        return put(out, "}", 1);
    }
}

static int read_array(Lexer *l, Buffer *out)
{
    int first = 1, status;

    l->p++;
    skip_space(l);
    if (l->p < l->end && *l->p == ']') {
        l->p++;
        return put(out, "[]", 2);
    }
    if (put(out, "[", 1) < 0)
        return -1;
    for (;;) {
        if (!first && put(out, ", ", 2) < 0)
            return -1;
        first = 0;
        if ((status = read_value(l, out)) != 0)
            return status;
        if ((status = after_member(l, ']')) == UNSURE)
            return UNSURE;
        if (status == 0)
            return put(out, "]", 1);
    }
}

static int read_literal(Lexer *l, Buffer *out, const char *word, Py_ssize_t n)
{
    if (l->end - l->p < n || memcmp(l->p, word, (size_t)n) != 0)
        return UNSURE;
    l->p += n;
    return put(out, word, n);
}

/* An integer as jsonb prints it: the digits as written ("-0" as "0"); a fraction or an
   exponent: UNSURE (numeric keeps the literal's scale; the Python path prints it). */
static int read_number(Lexer *l, Buffer *out)
{
    const unsigned char *start = l->p, *digits;
    int negative = 0;

    if (*l->p == '-') {
        negative = 1;
        l->p++;
    }
    digits = l->p;
    if (l->p >= l->end || *l->p < '0' || *l->p > '9')
        return UNSURE;
    if (*l->p == '0') {
        l->p++;
    } else {
        while (l->p < l->end && *l->p >= '0' && *l->p <= '9')
            l->p++;
    }
    if (l->p < l->end && (*l->p == '.' || *l->p == 'e' || *l->p == 'E'
                          || (*l->p >= '0' && *l->p <= '9')))
        return UNSURE;  /* a fraction, an exponent, or a leading zero */
    if (negative && l->p - digits == 1 && *digits == '0')
        return put(out, "0", 1);
    return put(out, (const char *)start, l->p - start);
}

static int read_value(Lexer *l, Buffer *out)
{
    int status;
    skip_space(l);
    if (l->p >= l->end)
        return UNSURE;
    switch (*l->p) {
    case '{':
    case '[':
        if (++l->depth > MAX_DEPTH)
            return UNSURE;
        if (l->depth > l->deepest)
            l->deepest = l->depth;
        status = *l->p == '{' ? read_object(l, out) : read_array(l, out);
        l->depth--;
        return status;
    case '"': {
        const unsigned char *raw;
        Py_ssize_t size;
        int escaped;
        if ((status = scan_string(l, &raw, &size, &escaped)) != 0)
            return status;
        if (!escaped) {  /* no backslash, no control character: printed as it is written */
            l->p = raw + size + 1;
            if (reserve(out, size + 2) < 0)
                return -1;
            out->data[out->size++] = '"';
            memcpy(out->data + out->size, raw, (size_t)size);
            out->size += size;
            out->data[out->size++] = '"';
            return 0;
        }
        l->s->decoded.size = 0;
        if ((status = read_string(l, &l->s->decoded)) != 0)
            return status;
        /* a NUL cannot be decoded (raw: not JSON; \u0000: UNSURE): 0 or -1 here */
        return put_escaped(out, l->s->decoded.data ? l->s->decoded.data : "",
                           l->s->decoded.size);
    }
    case 't':
        return read_literal(l, out, "true", 4);
    case 'f':
        return read_literal(l, out, "false", 5);
    case 'n':
        return read_literal(l, out, "null", 4);
    default:
        if (*l->p == '-' || (*l->p >= '0' && *l->p <= '9'))
            return read_number(l, out);
        return UNSURE;
    }
}

/* 0 and jsonb's text of the JSON object or array in data appended to out; UNSURE (out as it
   was) for anything else; -1 with an exception set. */
static int json_canon(Scratch *s, const char *data, Py_ssize_t n, Buffer *out)
{
    Lexer l = {(const unsigned char *)data, (const unsigned char *)data + n, 0, 0, s};
    Py_ssize_t mark = out->size;
    int status, d;

    skip_space(&l);
    if (l.p >= l.end || (*l.p != '{' && *l.p != '['))
        return UNSURE;  /* a scalar, or a string (double-encoded JSON): the Python path */
    status = read_value(&l, out);
    if (status == 0) {
        skip_space(&l);
        if (l.p != l.end)
            status = UNSURE;  /* trailing bytes: not JSON */
    }
    if (status != 0)
        out->size = mark;
    for (d = 0; d <= l.deepest && d < MAX_DEPTH + 2; d++) {  /* keep no large scratch */
        if (s->scratch_at[d].capacity > (1 << 20)) {
            PyMem_Free(s->scratch_at[d].data);
            s->scratch_at[d].data = NULL;
            s->scratch_at[d].size = s->scratch_at[d].capacity = 0;
        }
    }
    if (s->decoded.capacity > (1 << 20)) {
        PyMem_Free(s->decoded.data);
        s->decoded.data = NULL;
        s->decoded.size = s->decoded.capacity = 0;
    }
    return status;
}

static PyObject *json_text(PyObject *module, PyObject *data)
{
    Buffer b = {NULL, 0, 0};
    PyObject *out = NULL;
    int status;

    (void)module;
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "json_text() takes bytes");
        return NULL;
    }
    status = json_canon(PyModule_GetState(module), PyBytes_AS_STRING(data),
                        PyBytes_GET_SIZE(data), &b);
    if (status == 0)
        out = PyBytes_FromStringAndSize(b.data ? b.data : "", b.size);
    else if (status == UNSURE)
        out = Py_NewRef(Py_None);
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

static int is_kind(PyObject *kind, const char *name, Py_ssize_t size)
{
    return PyBytes_Check(kind) && PyBytes_GET_SIZE(kind) == size
           && memcmp(PyBytes_AS_STRING(kind), name, (size_t)size) == 0;
}

static int is_text_kind(PyObject *kind)
{
    return is_kind(kind, "text", 4);
}

/* A key value's rank in SQLite's BINARY order (lite.order_key): 1 numbers, 2 text, 3 blobs;
   0 for NULL (its row goes to Python). */
static long kind_rank(PyObject *kind)
{
    if (is_kind(kind, "integer", 7) || is_kind(kind, "real", 4))
        return 1;
    if (is_text_kind(kind))
        return 2;
    return is_kind(kind, "blob", 4) ? 3 : 0;
}

/* The segment starts as lite.order_key gives them: per start, per key column, its rank and
   its value (borrowed from the marks list, which the caller holds). */
typedef struct {
    Py_ssize_t count, width;
    long *ranks;
    PyObject **values;
} Marks;

static int read_marks(Marks *m, PyObject *marks, Py_ssize_t width)
{
    Py_ssize_t s, i;

    m->count = PyList_GET_SIZE(marks);
    m->width = width;
    m->ranks = PyMem_Calloc((size_t)(m->count * width + 1), sizeof *m->ranks);
    m->values = PyMem_Calloc((size_t)(m->count * width + 1), sizeof *m->values);
    if (m->ranks == NULL || m->values == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (s = 0; s < m->count; s++) {
        PyObject *mark = PyList_GET_ITEM(marks, s);
        if (!PyTuple_Check(mark) || PyTuple_GET_SIZE(mark) != width) {
            PyErr_SetString(PyExc_TypeError, "a segment start is one (rank, value) per key column");
            return -1;
        }
        for (i = 0; i < width; i++) {
            PyObject *pair = PyTuple_GET_ITEM(mark, i);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                PyErr_SetString(PyExc_TypeError, "a segment start's part is a (rank, value) tuple");
                return -1;
            }
            m->ranks[s * width + i] = PyLong_AsLong(PyTuple_GET_ITEM(pair, 0));
            if (m->ranks[s * width + i] == -1 && PyErr_Occurred())
                return -1;
            m->values[s * width + i] = PyTuple_GET_ITEM(pair, 1);
        }
    }
    return 0;
}

/* The row's key against start s, as Python compares their order_key tuples: -1, 0 or 1;
   -2 on an error (raised). Bytes by memcmp then length, as Python's. */
static int key_cmp(const Marks *m, Py_ssize_t s, const long *ranks, PyObject *const *values)
{
    Py_ssize_t i;

    for (i = 0; i < m->width; i++) {
        long rank = m->ranks[s * m->width + i];
        PyObject *mark = m->values[s * m->width + i], *value = values[i];
        int lt;
        if (ranks[i] != rank)
            return ranks[i] < rank ? -1 : 1;
        if (PyBytes_Check(value) && PyBytes_Check(mark)) {
            Py_ssize_t n = PyBytes_GET_SIZE(value), k = PyBytes_GET_SIZE(mark);
            int c = memcmp(PyBytes_AS_STRING(value), PyBytes_AS_STRING(mark),
                           (size_t)(n < k ? n : k));
            if (c != 0)
                return c < 0 ? -1 : 1;
            if (n != k)
                return n < k ? -1 : 1;
            continue;
        }
        lt = PyObject_RichCompareBool(value, mark, Py_LT);
        if (lt != 0)
            return lt < 0 ? -2 : -1;
        lt = PyObject_RichCompareBool(mark, value, Py_LT);
        if (lt != 0)
            return lt < 0 ? -2 : 1;
    }
    return 0;
}

/* 1 and the row's canonical bytes in *b when the row takes this path; 0 when Python must
   look at it; -1 on an error (raised). Mirrors litesql.assemble. */
static int assemble(Scratch *s, Buffer *b, PyObject *row, PyObject *ops, PyObject *json, Py_ssize_t width,
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
            PyObject *value;
            int failed;
            if (i < PyTuple_GET_SIZE(json) && PyTuple_GET_ITEM(json, i) == Py_True
                && is_text_kind(kind) && PyBytes_Check(raw)) {
                /* JSON text: jsonb's text written in place when json_canon is sure */
                Py_ssize_t mark = b->size;
                int status;
                if (put(b, "\xff", 1) < 0)
                    return -1;
                status = json_canon(s, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), b);
                if (status < 0)
                    return -1;
                if (status == 0)
                    continue;
                b->size = mark;  /* unsure: the op's own canon decides */
            }
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

/* 1 when the row's key can be placed here (no NULL, text keys UTF-8: a key that is not does
   not convert, and Python sets its row aside), its ranks and values filled in; 0 when Python
   must look at the row; -1 on an error (raised). */
static int read_key(PyObject *row, PyObject *slots, long *ranks, PyObject **values)
{
    Py_ssize_t i;

    for (i = 0; i < PyTuple_GET_SIZE(slots); i++) {
        Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(slots, i));
        PyObject *kind, *decoded;
        if (slot < 0 || slot + 1 >= PyTuple_GET_SIZE(row)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_IndexError, "a key slot beyond the row");
            return -1;
        }
        kind = PyTuple_GET_ITEM(row, slot);
        values[i] = PyTuple_GET_ITEM(row, slot + 1);
        ranks[i] = kind_rank(kind);
        if (ranks[i] == 0 || values[i] == Py_None)
            return 0;
        if (ranks[i] != 2)
            continue;
        if (!PyBytes_Check(values[i]))
            return 0;
        decoded = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(values[i]),
                                       PyBytes_GET_SIZE(values[i]), "strict");
        if (decoded == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                return -1;
            PyErr_Clear();
            return 0;
        }
        Py_DECREF(decoded);
    }
    return 1;
}

/* sums(rows, ops, json, width, key, marks, rejected, reject, segments)
   -> (counts, totals, deferred, read)

   rows: an iterator of rows as litesql.row_plan's SELECT gives them; ops, json (per op:
   a JSON column, whose text values json_canon prints here) and width: the plan's; key: the
   plan's key slots (the typeof of each key column; its value follows), () for a table
   without a key; marks: the segment starts as lite.order_key gives them, sorted; rejected:
   a set of rowids or None; reject: the exception a canonical function raises (Reject);
   segments: len(marks) + 1. Every row whose key can be placed (see read_key) and whose
   canonical bytes this loop can build is counted here (md5, first 8 bytes as a big-endian
   signed integer, summed per segment: bisect_right of its key among the marks; read: how
   many); every other row is returned in deferred, for the reference to take. */
static PyObject *sums(PyObject *module, PyObject *args)
{
    PyObject *rows, *ops, *json, *slots, *marks, *rejected, *reject, *iter = NULL, *row;
    PyObject *deferred = NULL, *counts = NULL, *totals = NULL, *out = NULL;
    PyObject **values = NULL;
    Py_ssize_t width, segments, read = 0, i;
    Buffer b = {NULL, 0, 0};
    Marks m = {0, 0, NULL, NULL};
    long long *count = NULL;
    long *ranks = NULL;
    __int128 *total = NULL;

    Scratch *scratch = PyModule_GetState(module);
    if (!PyArg_ParseTuple(args, "OO!O!nO!O!OOn", &rows, &PyTuple_Type, &ops, &PyTuple_Type,
                          &json, &width, &PyTuple_Type, &slots, &PyList_Type, &marks, &rejected,
                          &reject, &segments))
        return NULL;
    if (segments != PyList_GET_SIZE(marks) + 1) {
        PyErr_SetString(PyExc_ValueError, "segments must be len(marks) + 1");
        return NULL;
    }
    if (read_marks(&m, marks, PyTuple_GET_SIZE(slots)) < 0)
        goto done;
    count = PyMem_Calloc((size_t)segments, sizeof *count);
    total = PyMem_Calloc((size_t)segments, sizeof *total);
    ranks = PyMem_Calloc((size_t)m.width + 1, sizeof *ranks);
    values = PyMem_Calloc((size_t)m.width + 1, sizeof *values);
    deferred = PyList_New(0);
    iter = PyObject_GetIter(rows);
    if (count == NULL || total == NULL || ranks == NULL || values == NULL || deferred == NULL
        || iter == NULL || reserve(&b, 1024) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    while ((row = PyIter_Next(iter)) != NULL) {
        int ok;
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) < 1) {
            Py_DECREF(row);
            PyErr_SetString(PyExc_TypeError, "rows must be tuples (rowid first)");
            goto done;
        }
        ok = read_key(row, slots, ranks, values);
        if (ok > 0 && rejected != Py_None) {
            int found = PySet_Contains(rejected, PyTuple_GET_ITEM(row, 0));
            ok = found < 0 ? -1 : !found;
        }
        if (ok > 0)
            ok = assemble(scratch, &b, row, ops, json, width, reject);
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
            Py_ssize_t lo = 0, hi = m.count;
            md5_digest((const unsigned char *)b.data, b.size, digest);
            for (i = 0; i < 8; i++)
                h = h << 8 | digest[i];
            while (lo < hi) {  /* bisect_right: the marks <= key */
                Py_ssize_t mid = (lo + hi) / 2;
                int c = key_cmp(&m, mid, ranks, values);
                if (c == -2) {
                    Py_DECREF(row);
                    goto done;
                }
                if (c >= 0)
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
    PyMem_Free(ranks);
    PyMem_Free(values);
    PyMem_Free(m.ranks);
    PyMem_Free(m.values);
    PyMem_Free(b.data);
    return out;
}
#endif

static PyMethodDef methods[] = {
    {"md5", md5, METH_O, "md5(data) -> the 16 bytes of MD5."},
    {"json_text", json_text, METH_O,
     "json_text(data) -> jsonb's text of the JSON object or array in data, or None: unsure."},
#ifdef HAVE_SUMS
    {"sums", sums, METH_VARARGS, "the per-row loop of lite.segment_sums (see _speed.c)."},
#endif
    {NULL, NULL, 0, NULL},
};

static void free_scratch(void *module)
{
    Scratch *s = PyModule_GetState((PyObject *)module);
    int d;

    if (s == NULL)
        return;
    for (d = 0; d < MAX_DEPTH + 2; d++) {
        PyMem_Free(s->scratch_at[d].data);
        PyMem_Free(s->entries_at[d]);
    }
    PyMem_Free(s->decoded.data);
    memset(s, 0, sizeof(*s));
}

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speed", "verify's hot loops in C (see _speed.c).",
    sizeof(Scratch), methods, NULL, NULL, NULL, free_scratch,
};

PyMODINIT_FUNC PyInit__speed(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    return m;
}
