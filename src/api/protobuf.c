/*
 * Kubernetes protobuf bodies to JSON; see protobuf.h.
 *
 * A small table-driven protobuf reader: the message schemas come from
 * build/gen/proto_data.c (tools/gen-proto.py), the JSON mapping of the
 * types Kubernetes marshals in their own way (Time, Quantity, IntOrString,
 * ...) is here. Every read is bounds-checked against the end of the
 * enclosing message and nesting is limited, so any input is safe.
 */
#include "api/protobuf.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define PB_MAGIC "k8s\0"
#define PB_MAGIC_LEN 4
#define PB_MAX_DEPTH 64
#define PB_CT "application/vnd.kubernetes.protobuf"

/* descriptor.proto field types */
enum {
    T_DOUBLE = 1,
    T_FLOAT,
    T_INT64,
    T_UINT64,
    T_INT32,
    T_FIXED64,
    T_FIXED32,
    T_BOOL,
    T_STRING,
    T_GROUP,
    T_MESSAGE,
    T_BYTES,
    T_UINT32,
    T_ENUM,
    T_SFIXED32,
    T_SFIXED64,
    T_SINT32,
    T_SINT64,
};
/* wire types */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

bool k1s_protobuf_content_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(PB_CT);
    if (strncasecmp(ct, PB_CT, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

/* ---- the generated tables ---------------------------------------------- */

static const char *str_at(uint32_t off)
{
    return k1s_pb_strings + off;
}

static const k1s_pb_msg_t *find_msg(const char *name)
{
    size_t lo = 0, hi = k1s_pb_nmsgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, str_at(k1s_pb_msgs[mid].name));
        if (c == 0)
            return &k1s_pb_msgs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const k1s_pb_field_t *find_field(const k1s_pb_msg_t *m, uint32_t num)
{
    const k1s_pb_field_t *f = k1s_pb_fields + m->first;
    size_t lo = 0, hi = m->nfields;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f[mid].number == num)
            return &f[mid];
        if (f[mid].number > num)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const k1s_pb_msg_t *field_msg(const k1s_pb_field_t *f)
{
    if (f->type != T_MESSAGE || f->msg == K1S_PB_NO_MSG || f->msg >= k1s_pb_nmsgs)
        return NULL;
    return &k1s_pb_msgs[f->msg];
}

/* ---- the wire format --------------------------------------------------- */

typedef struct pb_reader {
    const uint8_t *p, *end;
} pb_reader_t;

/* One field as read from the wire: varint and fixed values in v, the
 * payload of length-delimited ones in data/len. */
typedef struct pb_item {
    uint32_t num;
    int wt;
    uint64_t v;
    const uint8_t *data;
    size_t len;
} pb_item_t;

static int truncated(k1s_err_t *err)
{
    return k1s_err_set(err, EINVAL, "protobuf: truncated message");
}

static int read_varint(pb_reader_t *r, uint64_t *out, k1s_err_t *err)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return truncated(err);
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (c < 0x80) {
            *out = v;
            return 0;
        }
    }
    return k1s_err_set(err, EINVAL, "protobuf: malformed varint");
}

static uint64_t load_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Reads the next field; 1 if one was read, 0 at the end, or -EINVAL. */
static int read_item(pb_reader_t *r, pb_item_t *it, k1s_err_t *err)
{
    if (r->p >= r->end)
        return 0;
    uint64_t key;
    int e = read_varint(r, &key, err);
    if (e < 0)
        return e;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return k1s_err_set(err, EINVAL, "protobuf: invalid field number %" PRIu64, key >> 3);
    it->num = (uint32_t)(key >> 3);
    it->wt = (int)(key & 7);
    it->v = 0;
    it->data = NULL;
    it->len = 0;
    size_t left = (size_t)(r->end - r->p);
    switch (it->wt) {
    case WT_VARINT: return read_varint(r, &it->v, err) < 0 ? -EINVAL : 1;
    case WT_I64:
        if (left < 8)
            return truncated(err);
        it->v = load_le(r->p, 8);
        r->p += 8;
        return 1;
    case WT_I32:
        if (left < 4)
            return truncated(err);
        it->v = load_le(r->p, 4);
        r->p += 4;
        return 1;
    case WT_LEN: {
        uint64_t n;
        if (read_varint(r, &n, err) < 0)
            return -EINVAL;
        if (n > (uint64_t)(r->end - r->p))
            return truncated(err);
        it->data = r->p;
        it->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default:
        /* Groups (3, 4) are deprecated and never produced by Kubernetes. */
        return k1s_err_set(err, EINVAL, "protobuf: unsupported wire type %d", it->wt);
    }
}

/* The wire type a field of this type must use (unpacked). */
static int wire_type_of(int type)
{
    switch (type) {
    case T_DOUBLE:
    case T_FIXED64:
    case T_SFIXED64: return WT_I64;
    case T_FLOAT:
    case T_FIXED32:
    case T_SFIXED32: return WT_I32;
    case T_STRING:
    case T_BYTES:
    case T_MESSAGE: return WT_LEN;
    default: return WT_VARINT;
    }
}

/* ---- JSON values -------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
        len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* A JSON string from bytes; invalid UTF-8 becomes U+FFFD, as Go's JSON
 * encoder writes it. */
static json_t *mkstring(const uint8_t *s, size_t n)
{
    json_t *j = json_stringn((const char *)s, n);
    if (j)
        return j;
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_reserve(&b, n + 16);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(s + i, n - i);
        if (l) {
            k1s_buf_append(&b, s + i, l);
            i += l;
        } else {
            k1s_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    j = json_stringn(b.data ? b.data : "", b.len);
    k1s_buf_free(&b);
    k1s_assert(j);
    return j;
}

static json_t *base64(const uint8_t *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = (n + 2) / 3 * 4;
    char *o = k1s_xmalloc(olen + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        o[j++] = tab[(v >> 18) & 63];
        o[j++] = tab[(v >> 12) & 63];
        o[j++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        o[j++] = i + 2 < n ? tab[v & 63] : '=';
    }
    o[j] = 0;
    json_t *r = json_stringn(o, j);
    free(o);
    return r;
}

/* Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s". */
static void go_duration(int64_t d, char out[40])
{
    char buf[40];
    int w = sizeof(buf);
    uint64_t u = (uint64_t)d;
    bool neg = d < 0;
    if (neg)
        u = -u;
    buf[--w] = 0;
    if (u < 1000000000ULL) {
        int prec;
        if (u == 0) {
            strcpy(out, "0s");
            return;
        }
        buf[--w] = 's';
        if (u < 1000ULL) {
            prec = 0;
            buf[--w] = 'n';
        } else if (u < 1000000ULL) {
            prec = 3;
            buf[--w] = '\xb5';
            buf[--w] = '\xc2'; /* U+00B5 micro sign */
        } else {
            prec = 6;
            buf[--w] = 'm';
        }
        bool print = false;
        for (int i = 0; i < prec; i++) {
            int digit = (int)(u % 10);
            print = print || digit;
            if (print)
                buf[--w] = (char)('0' + digit);
            u /= 10;
        }
        if (print)
            buf[--w] = '.';
        do {
            buf[--w] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
    } else {
        buf[--w] = 's';
        bool print = false;
        for (int i = 0; i < 9; i++) {
            int digit = (int)(u % 10);
            print = print || digit;
            if (print)
                buf[--w] = (char)('0' + digit);
            u /= 10;
        }
        if (print)
            buf[--w] = '.';
        uint64_t s = u % 60;
        do {
            buf[--w] = (char)('0' + s % 10);
            s /= 10;
        } while (s);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            uint64_t m = u % 60;
            do {
                buf[--w] = (char)('0' + m % 10);
                m /= 10;
            } while (m);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                do {
                    buf[--w] = (char)('0' + u % 10);
                    u /= 10;
                } while (u);
            }
        }
    }
    if (neg)
        buf[--w] = '-';
    strcpy(out, buf + w);
}

/* RFC 3339 in UTC, with micro digits if micro >= 0. */
static int rfc3339(int64_t sec, int micro, json_t **out, k1s_err_t *err)
{
    /* Years 0..9999 only, as Go's time.MarshalJSON insists. */
    if (sec < -62167219200LL || sec > 253402300799LL)
        return k1s_err_set(err, EINVAL, "protobuf: time %" PRId64 " out of range", sec);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return k1s_err_set(err, EINVAL, "protobuf: time %" PRId64 " out of range", sec);
    char s[48];
    if (micro >= 0)
        snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micro);
    else
        snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    *out = json_string(s);
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct pb_ctx {
    k1s_err_t *err;
} pb_ctx_t;

static int decode_into(pb_ctx_t *c, const k1s_pb_msg_t *m, const uint8_t *data, size_t len,
                       int depth, json_t *obj);
static int decode_value(pb_ctx_t *c, const k1s_pb_msg_t *parent, const k1s_pb_field_t *f,
                        const pb_item_t *it, int depth, json_t **out);

static int decode_envelope(pb_ctx_t *c, const uint8_t *body, size_t len, int depth, json_t **out);

static const char *msg_name(const k1s_pb_msg_t *m)
{
    return str_at(m->name);
}

static int wrong_wire_type(pb_ctx_t *c, const k1s_pb_msg_t *m, const k1s_pb_field_t *f, int wt)
{
    return k1s_err_set(c->err, EINVAL, "protobuf: %s.%s: wrong wire type %d", msg_name(m),
                       str_at(f->name), wt);
}

/* Reads the fields of a special message into an array indexed by number
 * (1..n), last one wins; fields with other numbers are skipped. */
static int read_fields(pb_ctx_t *c, const uint8_t *data, size_t len, pb_item_t *items, int n,
                       bool *seen)
{
    pb_reader_t r = {data, data + len};
    pb_item_t it;
    int e;
    while ((e = read_item(&r, &it, c->err)) > 0) {
        if (it.num >= 1 && it.num <= (uint32_t)n) {
            items[it.num - 1] = it;
            seen[it.num - 1] = true;
        }
    }
    return e;
}

static int want_wt(pb_ctx_t *c, const k1s_pb_msg_t *m, const pb_item_t *it, int wt)
{
    if (it->wt != wt)
        return k1s_err_set(c->err, EINVAL, "protobuf: %s: wrong wire type %d for field %u",
                           msg_name(m), it->wt, it->num);
    return 0;
}

/* A JSON value from bytes that should hold JSON (RawExtension, FieldsV1). */
static int raw_json(pb_ctx_t *c, const uint8_t *data, size_t len, int depth, json_t **out)
{
    if (len >= PB_MAGIC_LEN && memcmp(data, PB_MAGIC, PB_MAGIC_LEN) == 0)
        return decode_envelope(c, data, len, depth, out); /* an embedded protobuf object */
    json_error_t je;
    json_t *j = json_loadb((const char *)data, len, JSON_DECODE_ANY, &je);
    if (!j)
        return k1s_err_set(c->err, EINVAL, "protobuf: embedded object is not JSON: %s", je.text);
    *out = j;
    return 0;
}

/*
 * Decodes the message payload data (of message type m) into a JSON value.
 * *out is NULL when the value is "unset" (an unset Time, an empty
 * RawExtension): the caller leaves the field out, or writes null in a map.
 */
static int decode_message_value(pb_ctx_t *c, const k1s_pb_msg_t *m, const uint8_t *data, size_t len,
                                int depth, json_t **out)
{
    if (depth > PB_MAX_DEPTH)
        return k1s_err_set(c->err, EINVAL, "protobuf: message nested too deeply");
    pb_item_t f[3];
    bool seen[3] = {false, false, false};
    int e;
    *out = NULL;
    switch (m->kind) {
    case K1S_PB_K_MESSAGE: {
        json_t *o = json_object();
        if ((e = decode_into(c, m, data, len, depth + 1, o)) < 0) {
            json_decref(o);
            return e;
        }
        *out = o;
        return 0;
    }
    case K1S_PB_K_ARRAY: {
        json_t *a = json_array();
        const k1s_pb_field_t *items = find_field(m, 1);
        pb_reader_t r = {data, data + len};
        pb_item_t it;
        while (items && (e = read_item(&r, &it, c->err)) > 0) {
            if (it.num != 1)
                continue;
            json_t *v = NULL;
            if ((e = decode_value(c, m, items, &it, depth + 1, &v)) < 0)
                break;
            json_array_append_new(a, v ? v : json_null());
        }
        if (items && e < 0) {
            json_decref(a);
            return e;
        }
        *out = a;
        return 0;
    }
    case K1S_PB_K_TIME:
    case K1S_PB_K_MICROTIME: {
        if (len == 0)
            return 0; /* the zero Time: Go writes null */
        if ((e = read_fields(c, data, len, f, 2, seen)) < 0)
            return e;
        if ((seen[0] && (e = want_wt(c, m, &f[0], WT_VARINT)) < 0) ||
            (seen[1] && (e = want_wt(c, m, &f[1], WT_VARINT)) < 0))
            return e;
        int64_t sec = seen[0] ? (int64_t)f[0].v : 0;
        int32_t nanos = seen[1] ? (int32_t)(uint32_t)f[1].v : 0;
        if (m->kind == K1S_PB_K_TIME) /* Kubernetes drops the nanoseconds of a Time */
            return rfc3339(sec, -1, out, c->err);
        /* time.Unix(sec, nanos) normalises nanos outside [0, 1e9). */
        int64_t extra = nanos / 1000000000;
        nanos %= 1000000000;
        if (nanos < 0) {
            nanos += 1000000000;
            extra--;
        }
        if ((extra > 0 && sec > INT64_MAX - extra) || (extra < 0 && sec < INT64_MIN - extra))
            return k1s_err_set(c->err, EINVAL, "protobuf: time out of range");
        return rfc3339(sec + extra, nanos / 1000, out, c->err);
    }
    case K1S_PB_K_DURATION: {
        if ((e = read_fields(c, data, len, f, 1, seen)) < 0)
            return e;
        if (seen[0] && (e = want_wt(c, m, &f[0], WT_VARINT)) < 0)
            return e;
        char s[40];
        go_duration(seen[0] ? (int64_t)f[0].v : 0, s);
        *out = json_string(s);
        return 0;
    }
    case K1S_PB_K_QUANTITY:
        if ((e = read_fields(c, data, len, f, 1, seen)) < 0)
            return e;
        if (seen[0] && (e = want_wt(c, m, &f[0], WT_LEN)) < 0)
            return e;
        *out = seen[0] && f[0].len ? mkstring(f[0].data, f[0].len) : json_string("0");
        return 0;
    case K1S_PB_K_INTORSTRING: {
        if ((e = read_fields(c, data, len, f, 3, seen)) < 0)
            return e;
        if ((seen[0] && (e = want_wt(c, m, &f[0], WT_VARINT)) < 0) ||
            (seen[1] && (e = want_wt(c, m, &f[1], WT_VARINT)) < 0) ||
            (seen[2] && (e = want_wt(c, m, &f[2], WT_LEN)) < 0))
            return e;
        int64_t type = seen[0] ? (int64_t)f[0].v : 0;
        if (type == 0)
            *out = json_integer(seen[1] ? (int32_t)(uint32_t)f[1].v : 0);
        else if (type == 1)
            *out = seen[2] ? mkstring(f[2].data, f[2].len) : json_string("");
        else
            return k1s_err_set(c->err, EINVAL, "protobuf: IntOrString of unknown type %" PRId64,
                               type);
        return 0;
    }
    case K1S_PB_K_RAW:
        if ((e = read_fields(c, data, len, f, 1, seen)) < 0)
            return e;
        if (seen[0] && (e = want_wt(c, m, &f[0], WT_LEN)) < 0)
            return e;
        if (!seen[0] || f[0].len == 0)
            return 0; /* no object: Go writes null */
        return raw_json(c, f[0].data, f[0].len, depth + 1, out);
    case K1S_PB_K_MAP_ENTRY:
    default: return k1s_err_set(c->err, EINVAL, "protobuf: %s cannot be a value", msg_name(m));
    }
}

/* A scalar of field type `type` from one wire item. */
static int decode_scalar(pb_ctx_t *c, const k1s_pb_msg_t *parent, const k1s_pb_field_t *f, int type,
                         uint64_t v, const uint8_t *data, size_t len, json_t **out)
{
    switch (type) {
    case T_STRING: *out = mkstring(data, len); return 0;
    case T_BYTES: *out = base64(data, len); return 0;
    case T_BOOL: *out = json_boolean(v != 0); return 0;
    case T_INT32:
    case T_SFIXED32:
    case T_ENUM: *out = json_integer((int32_t)(uint32_t)v); return 0;
    case T_UINT32:
    case T_FIXED32: *out = json_integer((uint32_t)v); return 0;
    case T_INT64:
    case T_SFIXED64: *out = json_integer((json_int_t)(int64_t)v); return 0;
    case T_SINT32:
        *out = json_integer((int32_t)(((uint32_t)v >> 1) ^ -((uint32_t)v & 1)));
        return 0;
    case T_SINT64: *out = json_integer((json_int_t)(int64_t)((v >> 1) ^ -(v & 1))); return 0;
    case T_UINT64:
    case T_FIXED64:
        if (v > INT64_MAX)
            return k1s_err_set(c->err, EINVAL, "protobuf: %s.%s: value out of range",
                               msg_name(parent), str_at(f->name));
        *out = json_integer((json_int_t)v);
        return 0;
    case T_DOUBLE:
    case T_FLOAT: {
        double d;
        if (type == T_DOUBLE) {
            memcpy(&d, &v, sizeof(d));
        } else {
            uint32_t u = (uint32_t)v;
            float fl;
            memcpy(&fl, &u, sizeof(fl));
            d = fl;
        }
        if (!isfinite(d))
            return k1s_err_set(c->err, EINVAL, "protobuf: %s.%s: not a finite number",
                               msg_name(parent), str_at(f->name));
        *out = json_real(d);
        return 0;
    }
    default:
        return k1s_err_set(c->err, EINVAL, "protobuf: %s.%s: unsupported type %d", msg_name(parent),
                           str_at(f->name), type);
    }
}

/* The JSON value of one occurrence of field f (not a map entry). */
static int decode_value(pb_ctx_t *c, const k1s_pb_msg_t *parent, const k1s_pb_field_t *f,
                        const pb_item_t *it, int depth, json_t **out)
{
    if (it->wt != wire_type_of(f->type))
        return wrong_wire_type(c, parent, f, it->wt);
    if (f->type == T_MESSAGE) {
        const k1s_pb_msg_t *m = field_msg(f);
        if (!m)
            return k1s_err_set(c->err, EINVAL, "protobuf: %s.%s: bad schema", msg_name(parent),
                               str_at(f->name));
        return decode_message_value(c, m, it->data, it->len, depth, out);
    }
    return decode_scalar(c, parent, f, f->type, it->v, it->data, it->len, out);
}

/* The zero value of field f, for a map entry without one. */
static int zero_value(pb_ctx_t *c, const k1s_pb_msg_t *parent, const k1s_pb_field_t *f, int depth,
                      json_t **out)
{
    static const uint8_t nothing[1];
    if (f->type == T_MESSAGE) {
        const k1s_pb_msg_t *m = field_msg(f);
        if (!m)
            return k1s_err_set(c->err, EINVAL, "protobuf: %s: bad schema", msg_name(parent));
        return decode_message_value(c, m, nothing, 0, depth, out);
    }
    return decode_scalar(c, parent, f, f->type, 0, nothing, 0, out);
}

/* Adds one map entry (payload data) to the JSON object map. */
static int decode_map_entry(pb_ctx_t *c, const k1s_pb_msg_t *entry, const uint8_t *data, size_t len,
                            int depth, json_t *map)
{
    const k1s_pb_field_t *kf = find_field(entry, 1), *vf = find_field(entry, 2);
    if (!kf || !vf || kf->type == T_MESSAGE)
        return k1s_err_set(c->err, EINVAL, "protobuf: %s: bad map entry schema", msg_name(entry));
    pb_reader_t r = {data, data + len};
    pb_item_t it;
    json_t *key = NULL, *val = NULL;
    int e;
    while ((e = read_item(&r, &it, c->err)) > 0) {
        const k1s_pb_field_t *f = it.num == 1 ? kf : it.num == 2 ? vf : NULL;
        if (!f)
            continue;
        json_t *v = NULL;
        if ((e = decode_value(c, entry, f, &it, depth, &v)) < 0)
            break;
        json_t **slot = f == kf ? &key : &val;
        json_decref(*slot);
        *slot = v ? v : json_null();
    }
    if (e == 0 && !val)
        e = zero_value(c, entry, vf, depth, &val);
    if (e < 0) {
        json_decref(key);
        json_decref(val);
        return e;
    }
    if (!val)
        val = json_null();
    /* Map keys are strings in Kubernetes; others are written as Go's JSON
     * encoder writes integer and bool keys. */
    char buf[32];
    const char *ks = "";
    size_t kl = 0;
    if (json_is_string(key)) {
        ks = json_string_value(key);
        kl = json_string_length(key);
    } else if (json_is_integer(key)) {
        kl = (size_t)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(key));
        ks = buf;
    } else if (json_is_boolean(key)) {
        ks = json_is_true(key) ? "true" : "false";
        kl = strlen(ks);
    } else if (key && !json_is_null(key)) {
        json_decref(key);
        json_decref(val);
        return k1s_err_set(c->err, EINVAL, "protobuf: %s: unsupported map key", msg_name(entry));
    }
    json_object_setn_new(map, ks, kl, val);
    json_decref(key);
    return 0;
}

/* True if a non-pointer scalar holds its zero value (Go's `omitempty`). */
static bool scalar_is_zero(const k1s_pb_field_t *f, const pb_item_t *it)
{
    return it->wt == WT_LEN ? it->len == 0 : it->v == 0;
}

/* Returns obj[name] as a container of the given type, creating it. */
static json_t *container(json_t *obj, const char *name, bool array)
{
    json_t *v = json_object_get(obj, name);
    if (array ? json_is_array(v) : json_is_object(v))
        return v;
    v = array ? json_array() : json_object();
    json_object_set_new(obj, name, v);
    return v;
}

static bool packable(int type)
{
    return type != T_STRING && type != T_BYTES && type != T_MESSAGE && type != T_GROUP;
}

/* Decodes the fields of message m from data into the JSON object obj. */
static int decode_into(pb_ctx_t *c, const k1s_pb_msg_t *m, const uint8_t *data, size_t len,
                       int depth, json_t *obj)
{
    if (depth > PB_MAX_DEPTH)
        return k1s_err_set(c->err, EINVAL, "protobuf: message nested too deeply");
    pb_reader_t r = {data, data + len};
    pb_item_t it;
    int e;
    while ((e = read_item(&r, &it, c->err)) > 0) {
        const k1s_pb_field_t *f = find_field(m, it.num);
        if (!f) {
            k1s_debug("protobuf: %s: skipping unknown field %u", msg_name(m), it.num);
            continue;
        }
        const char *name = str_at(f->name);
        const k1s_pb_msg_t *sub = field_msg(f);

        if (f->flags & K1S_PB_F_REPEATED) {
            if (sub && sub->kind == K1S_PB_K_MAP_ENTRY) {
                if (it.wt != WT_LEN)
                    return wrong_wire_type(c, m, f, it.wt);
                e = decode_map_entry(c, sub, it.data, it.len, depth + 1,
                                     container(obj, name, false));
                if (e < 0)
                    return e;
                continue;
            }
            json_t *arr = container(obj, name, true);
            if (it.wt == WT_LEN && packable(f->type)) {
                /* packed: a run of values without keys */
                pb_reader_t pr = {it.data, it.data + it.len};
                int wt = wire_type_of(f->type);
                while (pr.p < pr.end) {
                    uint64_t v = 0;
                    if (wt == WT_VARINT) {
                        if (read_varint(&pr, &v, c->err) < 0)
                            return -EINVAL;
                    } else {
                        size_t n = wt == WT_I64 ? 8 : 4;
                        if ((size_t)(pr.end - pr.p) < n)
                            return truncated(c->err);
                        v = load_le(pr.p, (int)n);
                        pr.p += n;
                    }
                    json_t *j = NULL;
                    if ((e = decode_scalar(c, m, f, f->type, v, NULL, 0, &j)) < 0)
                        return e;
                    json_array_append_new(arr, j);
                }
                continue;
            }
            json_t *v = NULL;
            if ((e = decode_value(c, m, f, &it, depth, &v)) < 0)
                return e;
            json_array_append_new(arr, v ? v : json_null());
            continue;
        }

        if (sub && sub->kind == K1S_PB_K_MESSAGE) {
            if (it.wt != WT_LEN)
                return wrong_wire_type(c, m, f, it.wt);
            /* Inline structs write into the parent; a message seen twice merges. */
            json_t *into = (f->flags & K1S_PB_F_INLINE) ? obj : container(obj, name, false);
            if ((e = decode_into(c, sub, it.data, it.len, depth + 1, into)) < 0)
                return e;
            continue;
        }

        json_t *v = NULL;
        if ((e = decode_value(c, m, f, &it, depth, &v)) < 0)
            return e;
        if (!(f->flags & K1S_PB_F_POINTER)) {
            /* Go's marshaller writes non-pointer fields even when zero; JSON
             * leaves such fields out (omitempty), and a zero IntOrString or
             * Duration means "unset" the same way. */
            bool zero = false;
            if (!sub)
                zero = scalar_is_zero(f, &it);
            else if (sub->kind == K1S_PB_K_INTORSTRING)
                zero = json_is_integer(v) && json_integer_value(v) == 0;
            else if (sub->kind == K1S_PB_K_DURATION)
                zero = k1s_streq(json_string_value(v), "0s");
            if (zero) {
                json_decref(v);
                json_object_del(obj, name);
                continue;
            }
        }
        if (v)
            json_object_set_new(obj, name, v);
        else
            json_object_del(obj, name);
    }
    return e;
}

/* ---- the envelope ------------------------------------------------------- */

static bool all_chars(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              (extra && strchr(extra, ch) && ch)))
            return false;
    }
    return true;
}

/* The message for apiVersion + kind, or NULL. */
static const k1s_pb_msg_t *message_for(const char *api_version, const char *kind)
{
    const char *slash = strrchr(api_version, '/');
    size_t glen = slash ? (size_t)(slash - api_version) : 0;
    const char *version = slash ? slash + 1 : api_version;
    size_t vlen = strlen(version), klen = strlen(kind);
    if (!vlen || vlen > 32 || !klen || klen > 128 || glen > 253 ||
        !all_chars(api_version, glen, ".-") || !all_chars(version, vlen, NULL) ||
        !all_chars(kind, klen, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return NULL;
    /* Group -> package: the core group is "core", a built-in group is its
     * first label (rbac.authorization.k8s.io -> rbac); other groups are
     * not built in. */
    char pkg[64];
    const char *dot = memchr(api_version, '.', glen);
    if (glen == 0)
        snprintf(pkg, sizeof(pkg), "core");
    else if (glen == strlen("internal.apiserver.k8s.io") &&
             !memcmp(api_version, "internal.apiserver.k8s.io", glen))
        snprintf(pkg, sizeof(pkg), "apiserverinternal");
    else if (!dot)
        snprintf(pkg, sizeof(pkg), "%.*s", (int)glen, api_version);
    else if (glen > 7 && !memcmp(api_version + glen - 7, ".k8s.io", 7) && dot - api_version < 60)
        snprintf(pkg, sizeof(pkg), "%.*s", (int)(dot - api_version), api_version);
    else
        return NULL;
    char name[512];
    snprintf(name, sizeof(name), "k8s.io.api.%s.%s.%s", pkg, version, kind);
    const k1s_pb_msg_t *m = find_msg(name);
    if (!m && (glen == 0 || (glen == 11 && !memcmp(api_version, "meta.k8s.io", 11)))) {
        /* DeleteOptions and friends */
        snprintf(name, sizeof(name), "k8s.io.apimachinery.pkg.apis.meta.%s.%s", version, kind);
        m = find_msg(name);
    }
    return m && m->kind == K1S_PB_K_MESSAGE ? m : NULL;
}

/* A printable copy of a wire string for messages, or NULL if it is not
 * plain ASCII. */
static char *printable(const pb_item_t *it, bool seen)
{
    if (!seen)
        return k1s_xstrdup("");
    for (size_t i = 0; i < it->len; i++)
        if (it->data[i] < 0x20 || it->data[i] > 0x7e)
            return NULL;
    return k1s_xstrndup((const char *)it->data, it->len);
}

/* Decodes magic + runtime.Unknown at body[0..len) into *out. */
static int decode_envelope(pb_ctx_t *c, const uint8_t *body, size_t len, int depth, json_t **out)
{
    k1s_err_t *err = c->err;
    if (depth > PB_MAX_DEPTH)
        return k1s_err_set(err, EINVAL, "protobuf: message nested too deeply");
    if (!body || len < PB_MAGIC_LEN || memcmp(body, PB_MAGIC, PB_MAGIC_LEN) != 0)
        return k1s_err_set(err, EINVAL,
                           "protobuf: not a Kubernetes protobuf message (no k8s magic)");
    const uint8_t *data = body + PB_MAGIC_LEN;
    len -= PB_MAGIC_LEN;

    /* runtime.Unknown {TypeMeta typeMeta = 1; bytes raw = 2;
     * string contentEncoding = 3; string contentType = 4} */
    pb_item_t f[4], tm[2];
    bool seen[4] = {false}, tseen[2] = {false};
    int e = read_fields(c, data, len, f, 4, seen);
    if (e < 0)
        return e;
    for (int i = 0; i < 4; i++)
        if (seen[i] && f[i].wt != WT_LEN)
            return k1s_err_set(err, EINVAL,
                               "protobuf: runtime.Unknown: wrong wire type %d for field %d",
                               f[i].wt, i + 1);
    if (seen[0] && (e = read_fields(c, f[0].data, f[0].len, tm, 2, tseen)) < 0)
        return e;
    for (int i = 0; i < 2; i++)
        if (tseen[i] && tm[i].wt != WT_LEN)
            return k1s_err_set(err, EINVAL,
                               "protobuf: runtime.TypeMeta: wrong wire type %d for field %d",
                               tm[i].wt, i + 1);
    if (seen[2] && f[2].len)
        return k1s_err_set(err, EINVAL, "protobuf: unsupported content encoding");
    _k1s_cleanup_free_ char *api_version = printable(&tm[0], tseen[0]);
    _k1s_cleanup_free_ char *kind = printable(&tm[1], tseen[1]);
    if (!api_version || !kind)
        return k1s_err_set(err, EINVAL, "protobuf: invalid apiVersion or kind in the envelope");
    if (!*kind)
        return k1s_err_set(err, EINVAL, "protobuf: the envelope has no kind");
    const k1s_pb_msg_t *m = message_for(api_version, kind);
    if (!m)
        return k1s_err_set(err, EINVAL, "protobuf: unknown type %s %s",
                           *api_version ? api_version : "\"\"", kind);

    json_t *obj = json_object();
    json_object_set_new(obj, "apiVersion", json_string(api_version));
    json_object_set_new(obj, "kind", json_string(kind));
    if (seen[1] && (e = decode_into(c, m, f[1].data, f[1].len, depth + 1, obj)) < 0) {
        json_decref(obj);
        return e;
    }
    /* The envelope is authoritative (object messages carry no TypeMeta). */
    json_object_set_new(obj, "apiVersion", json_string(api_version));
    json_object_set_new(obj, "kind", json_string(kind));
    *out = obj;
    return 0;
}

int k1s_protobuf_decode(const char *body, size_t len, json_t **out, k1s_err_t *err)
{
    pb_ctx_t c = {err};
    return decode_envelope(&c, (const uint8_t *)body, len, 0, out);
}
