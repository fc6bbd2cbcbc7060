/*
 * SPDY/3.1 server-side framing (see spdy.h).
 *
 * Frame layout (draft-mbelshe-httpbis-spdy-00, SPDY/3):
 *   control: 1 | version(15)=3 | type(16) | flags(8) | length(24) | payload
 *   data:    0 | stream id(31)            | flags(8) | length(24) | payload
 * Header blocks: u32 count, then per pair u32 length + name, u32 length +
 * value, compressed with one zlib stream per direction for the whole
 * connection, primed with the dictionary below.
 */
#include "net/spdy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"

#define FLAG_FIN 0x01
#define MAX_HEADER_BLOCK (256u << 10)

struct k1s_spdy {
    k1s_spdy_cbs_t cbs;
    void *arg;
    k1s_buf_t in; /* bytes of an incomplete frame */
    z_stream inf, def;
    bool inf_ok, def_ok, broken;
};

/* ---------- the dictionary ---------- */

/* SPDY/3 section 2.6.10.1: length-prefixed words, then a literal tail. */
static const char *const dict_words[] = {"options",
                                         "head",
                                         "post",
                                         "put",
                                         "delete",
                                         "trace",
                                         "accept",
                                         "accept-charset",
                                         "accept-encoding",
                                         "accept-language",
                                         "accept-ranges",
                                         "age",
                                         "allow",
                                         "authorization",
                                         "cache-control",
                                         "connection",
                                         "content-base",
                                         "content-encoding",
                                         "content-language",
                                         "content-length",
                                         "content-location",
                                         "content-md5",
                                         "content-range",
                                         "content-type",
                                         "date",
                                         "etag",
                                         "expect",
                                         "expires",
                                         "from",
                                         "host",
                                         "if-match",
                                         "if-modified-since",
                                         "if-none-match",
                                         "if-range",
                                         "if-unmodified-since",
                                         "last-modified",
                                         "location",
                                         "max-forwards",
                                         "pragma",
                                         "proxy-authenticate",
                                         "proxy-authorization",
                                         "range",
                                         "referer",
                                         "retry-after",
                                         "server",
                                         "te",
                                         "trailer",
                                         "transfer-encoding",
                                         "upgrade",
                                         "user-agent",
                                         "vary",
                                         "via",
                                         "warning",
                                         "www-authenticate",
                                         "method",
                                         "get",
                                         "status",
                                         "200 OK",
                                         "version",
                                         "HTTP/1.1",
                                         "url",
                                         "public",
                                         "set-cookie",
                                         "keep-alive",
                                         "origin",
                                         NULL};
static const char dict_tail[] =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, "
    "Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    "application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

const unsigned char *k1s_spdy_dictionary(size_t *len)
{
    static unsigned char dict[1500];
    static size_t n;
    if (!n) {
        size_t o = 0;
        for (int i = 0; dict_words[i]; i++) {
            size_t l = strlen(dict_words[i]);
            dict[o] = dict[o + 1] = dict[o + 2] = 0;
            dict[o + 3] = (unsigned char)l;
            memcpy(dict + o + 4, dict_words[i], l);
            o += 4 + l;
        }
        memcpy(dict + o, dict_tail, sizeof(dict_tail) - 1);
        n = o + sizeof(dict_tail) - 1;
    }
    *len = n;
    return dict;
}

/* ---------- helpers ---------- */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void control_head(unsigned char h[8], int type, int flags, size_t len)
{
    h[0] = 0x80;
    h[1] = 3;
    h[2] = (unsigned char)(type >> 8);
    h[3] = (unsigned char)type;
    wr32(h + 4, (uint32_t)len);
    h[4] = (unsigned char)flags;
}

const char *k1s_spdy_header(const k1s_spdy_header_t *h, int nh, const char *name)
{
    for (int i = 0; i < nh; i++)
        if (!strcmp(h[i].name, name))
            return h[i].value;
    return NULL;
}

/* ---------- header blocks ---------- */

static int inflate_block(k1s_spdy_t *s, const unsigned char *in, size_t len, k1s_buf_t *out)
{
    if (!s->inf_ok) {
        if (inflateInit(&s->inf) != Z_OK)
            return -ENOMEM;
        s->inf_ok = true;
    }
    s->inf.next_in = (unsigned char *)in;
    s->inf.avail_in = (uInt)len;
    for (;;) {
        k1s_buf_reserve(out, 4096);
        s->inf.next_out = (unsigned char *)out->data + out->len;
        s->inf.avail_out = 4096;
        int r = inflate(&s->inf, Z_SYNC_FLUSH);
        out->len += 4096 - s->inf.avail_out;
        if (r == Z_NEED_DICT) {
            size_t dl;
            const unsigned char *d = k1s_spdy_dictionary(&dl);
            if (inflateSetDictionary(&s->inf, d, (uInt)dl) != Z_OK)
                return -EPROTO;
            continue;
        }
        if (r != Z_OK && r != Z_BUF_ERROR)
            return -EPROTO;
        if (out->len > MAX_HEADER_BLOCK)
            return -EMSGSIZE;
        /* done when zlib had room left over and nothing more to read */
        if (s->inf.avail_out != 0 || (r == Z_BUF_ERROR && s->inf.avail_in == 0))
            return 0;
    }
}

/* Parses a decompressed block into a new array of headers. */
static int parse_block(const unsigned char *p, size_t len, k1s_spdy_header_t **out, int *nout)
{
    if (len < 4)
        return -EPROTO;
    uint32_t n = rd32(p);
    if (n > 1024)
        return -EPROTO;
    k1s_spdy_header_t *h = k1s_xcalloc(n ? n : 1, sizeof(*h));
    size_t o = 4;
    uint32_t i;
    for (i = 0; i < n; i++) {
        char *parts[2];
        for (int k = 0; k < 2; k++) {
            if (o + 4 > len)
                goto bad;
            uint32_t l = rd32(p + o);
            o += 4;
            if (l > len - o)
                goto bad;
            parts[k] = k1s_xstrndup((const char *)p + o, l);
            o += l;
            if (k == 0)
                h[i].name = parts[0];
        }
        h[i].value = parts[1];
    }
    *out = h;
    *nout = (int)n;
    return 0;
bad:
    for (uint32_t k = 0; k <= i && k < n; k++) {
        free(h[k].name);
        free(h[k].value);
    }
    free(h);
    return -EPROTO;
}

static void free_headers(k1s_spdy_header_t *h, int n)
{
    for (int i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static void deflate_block(k1s_spdy_t *s, const k1s_spdy_header_t *h, int nh, k1s_buf_t *out)
{
    k1s_buf_t raw = K1S_BUF_INIT;
    unsigned char w[4];
    wr32(w, (uint32_t)nh);
    k1s_buf_append(&raw, w, 4);
    for (int i = 0; i < nh; i++) {
        const char *parts[2] = {h[i].name, h[i].value};
        for (int k = 0; k < 2; k++) {
            size_t l = strlen(parts[k]);
            wr32(w, (uint32_t)l);
            k1s_buf_append(&raw, w, 4);
            k1s_buf_append(&raw, parts[k], l);
        }
    }
    if (!s->def_ok) {
        k1s_assert(deflateInit(&s->def, Z_DEFAULT_COMPRESSION) == Z_OK);
        size_t dl;
        const unsigned char *d = k1s_spdy_dictionary(&dl);
        deflateSetDictionary(&s->def, d, (uInt)dl);
        s->def_ok = true;
    }
    s->def.next_in = (unsigned char *)raw.data;
    s->def.avail_in = (uInt)raw.len;
    do {
        k1s_buf_reserve(out, 1024);
        s->def.next_out = (unsigned char *)out->data + out->len;
        s->def.avail_out = 1024;
        deflate(&s->def, Z_SYNC_FLUSH);
        out->len += 1024 - s->def.avail_out;
    } while (s->def.avail_out == 0);
    k1s_buf_free(&raw);
}

/* ---------- frames in ---------- */

static int broken(k1s_spdy_t *s)
{
    if (!s->broken) {
        s->broken = true;
        if (s->cbs.on_goaway)
            s->cbs.on_goaway(s, s->arg);
    }
    return -EPROTO;
}

static int control_frame(k1s_spdy_t *s, int type, int flags, const unsigned char *p, size_t len)
{
    switch (type) {
    case K1S_SPDY_SYN_STREAM: {
        if (len < 10)
            return broken(s);
        uint32_t id = rd32(p) & 0x7fffffff;
        k1s_buf_t raw = K1S_BUF_INIT;
        k1s_spdy_header_t *h = NULL;
        int nh = 0;
        if (inflate_block(s, p + 10, len - 10, &raw) < 0 ||
            parse_block((const unsigned char *)raw.data, raw.len, &h, &nh) < 0) {
            k1s_buf_free(&raw);
            return broken(s);
        }
        k1s_buf_free(&raw);
        if (s->cbs.on_stream)
            s->cbs.on_stream(s, id, h, nh, flags & FLAG_FIN, s->arg);
        free_headers(h, nh);
        return 0;
    }
    case K1S_SPDY_RST_STREAM:
        if (len < 8)
            return broken(s);
        if (s->cbs.on_reset)
            s->cbs.on_reset(s, rd32(p) & 0x7fffffff, rd32(p + 4), s->arg);
        return 0;
    case K1S_SPDY_PING: {
        if (len != 4)
            return broken(s);
        unsigned char f[12];
        control_head(f, K1S_SPDY_PING, 0, 4);
        memcpy(f + 8, p, 4);
        s->cbs.write(f, sizeof(f), s->arg);
        return 0;
    }
    case K1S_SPDY_GOAWAY:
        s->broken = true;
        if (s->cbs.on_goaway)
            s->cbs.on_goaway(s, s->arg);
        return 0;
    case K1S_SPDY_HEADERS:
        /* keep the zlib stream in step even though the headers are not used */
        if (len >= 4) {
            k1s_buf_t raw = K1S_BUF_INIT;
            int r = inflate_block(s, p + 4, len - 4, &raw);
            k1s_buf_free(&raw);
            if (r < 0)
                return broken(s);
        }
        return 0;
    default: return 0; /* SETTINGS, WINDOW_UPDATE, SYN_REPLY, unknown: ignored */
    }
}

int k1s_spdy_feed(k1s_spdy_t *s, const void *data, size_t len)
{
    if (s->broken)
        return -EPROTO;
    k1s_buf_append(&s->in, data, len);
    size_t o = 0;
    int r = 0;
    while (s->in.len - o >= 8) {
        const unsigned char *p = (const unsigned char *)s->in.data + o;
        size_t flen = (size_t)(rd32(p + 4) & 0xffffff);
        int flags = p[4];
        if (s->in.len - o < 8 + flen)
            break;
        if (p[0] & 0x80) {
            if ((rd32(p) >> 16 & 0x7fff) != 3) {
                r = broken(s);
                break;
            }
            r = control_frame(s, (int)(rd32(p) & 0xffff), flags, p + 8, flen);
        } else if (s->cbs.on_data) {
            s->cbs.on_data(s, rd32(p) & 0x7fffffff, p + 8, flen, flags & FLAG_FIN, s->arg);
        }
        o += 8 + flen;
        if (r < 0 || s->broken)
            break;
    }
    if (o) {
        memmove(s->in.data, s->in.data + o, s->in.len - o);
        s->in.len -= o;
    }
    return r < 0 || s->broken ? -EPROTO : 0;
}

/* ---------- frames out ---------- */

void k1s_spdy_reply(k1s_spdy_t *s, uint32_t id, const k1s_spdy_header_t *h, int nh, bool fin)
{
    k1s_buf_t f = K1S_BUF_INIT;
    k1s_buf_reserve(&f, 12);
    f.len = 12;
    deflate_block(s, h, nh, &f);
    control_head((unsigned char *)f.data, K1S_SPDY_SYN_REPLY, fin ? FLAG_FIN : 0, f.len - 8);
    wr32((unsigned char *)f.data + 8, id & 0x7fffffff);
    s->cbs.write(f.data, f.len, s->arg);
    k1s_buf_free(&f);
}

void k1s_spdy_data(k1s_spdy_t *s, uint32_t id, const void *data, size_t len, bool fin)
{
    const unsigned char *p = data;
    do {
        size_t n = len > 65536 ? 65536 : len;
        bool last = n == len;
        unsigned char h[8];
        wr32(h, id & 0x7fffffff);
        wr32(h + 4, (uint32_t)n);
        h[4] = (unsigned char)(last && fin ? FLAG_FIN : 0);
        s->cbs.write(h, 8, s->arg);
        if (n)
            s->cbs.write(p, n, s->arg);
        p += n;
        len -= n;
    } while (len > 0);
}

void k1s_spdy_reset(k1s_spdy_t *s, uint32_t id, uint32_t status)
{
    unsigned char f[16];
    control_head(f, K1S_SPDY_RST_STREAM, 0, 8);
    wr32(f + 8, id & 0x7fffffff);
    wr32(f + 12, status);
    s->cbs.write(f, sizeof(f), s->arg);
}

void k1s_spdy_goaway(k1s_spdy_t *s)
{
    unsigned char f[16];
    control_head(f, K1S_SPDY_GOAWAY, 0, 8);
    wr32(f + 8, 0);
    wr32(f + 12, 0);
    s->cbs.write(f, sizeof(f), s->arg);
}

k1s_spdy_t *k1s_spdy_new(const k1s_spdy_cbs_t *cbs, void *arg)
{
    k1s_spdy_t *s = k1s_xcalloc(1, sizeof(*s));
    s->cbs = *cbs;
    s->arg = arg;
    return s;
}

void k1s_spdy_free(k1s_spdy_t *s)
{
    if (!s)
        return;
    if (s->inf_ok)
        inflateEnd(&s->inf);
    if (s->def_ok)
        deflateEnd(&s->def);
    k1s_buf_free(&s->in);
    free(s);
}
