/*
 * Cron schedules (see cron.h): robfig/cron's standard parser and the next
 * activation time, field by field on local wall-clock time.
 */
#include "controllers/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/util.h"

#define ZONEINFO "/usr/share/zoneinfo/"

/* ---- parsing ---- */

typedef struct {
    int min, max;
    const char *const *names;
    int nnames, name_base;
} bounds_t;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const bounds_t b_minute = {0, 59, NULL, 0, 0};
static const bounds_t b_hour = {0, 23, NULL, 0, 0};
static const bounds_t b_dom = {1, 31, NULL, 0, 0};
static const bounds_t b_month = {1, 12, month_names, 12, 1};
static const bounds_t b_dow = {0, 6, day_names, 7, 0};

static int parse_int(const char *s, const bounds_t *b, long *out, char **err)
{
    for (int i = 0; b && i < b->nnames; i++) {
        if (!strcasecmp(s, b->names[i])) {
            *out = i + b->name_base;
            return 0;
        }
    }
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    bool ok = *p != 0;
    for (const char *q = p; *q; q++)
        ok &= isdigit((unsigned char)*q) != 0;
    if (!ok || strlen(p) > 9) {
        *err = k1s_xasprintf("failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid "
                             "syntax",
                             s, s);
        return -EINVAL;
    }
    long n = strtol(s, NULL, 10);
    if (n < 0) {
        *err = k1s_xasprintf("negative number (%ld) not allowed: %s", n, s);
        return -EINVAL;
    }
    *out = n;
    return 0;
}

/* One range ("*", "a", "a-b", each with an optional "/step") into *bits. */
static int parse_range(const char *expr, const bounds_t *b, uint64_t *bits, bool *star, char **err)
{
    char *dup = k1s_xstrdup(expr);
    int r = -EINVAL;
    char *slash = strchr(dup, '/');
    if (slash && strchr(slash + 1, '/')) {
        *err = k1s_xasprintf("too many slashes: %s", expr);
        goto out;
    }
    if (slash)
        *slash = 0;
    long start, end, step = 1;
    bool is_star = false;
    char *hy = strchr(dup, '-');
    if (!strcmp(dup, "*") || !strcmp(dup, "?")) {
        start = b->min;
        end = b->max;
        is_star = true;
    } else {
        if (hy) {
            if (strchr(hy + 1, '-')) {
                *err = k1s_xasprintf("too many hyphens: %s", expr);
                goto out;
            }
            *hy = 0;
        }
        if (parse_int(dup, b, &start, err))
            goto out;
        end = start;
        if (hy && parse_int(hy + 1, b, &end, err))
            goto out;
    }
    if (slash) {
        if (parse_int(slash + 1, NULL, &step, err))
            goto out;
        if (!is_star && !hy)
            end = b->max; /* "N/step" means "N-max/step" */
        if (step > 1)
            is_star = false;
    }
    if (start < b->min) {
        *err =
            k1s_xasprintf("beginning of range (%ld) below minimum (%d): %s", start, b->min, expr);
        goto out;
    }
    if (end > b->max) {
        *err = k1s_xasprintf("end of range (%ld) above maximum (%d): %s", end, b->max, expr);
        goto out;
    }
    if (start > end) {
        *err = k1s_xasprintf("beginning of range (%ld) beyond end of range (%ld): %s", start, end,
                             expr);
        goto out;
    }
    if (step <= 0) {
        *err = k1s_xasprintf("step of range should be a positive number: %s", expr);
        goto out;
    }
    for (long i = start; i <= end; i += step)
        *bits |= 1ull << i;
    if (is_star)
        *star = true;
    r = 0;
out:
    free(dup);
    return r;
}

static int parse_field(const char *field, const bounds_t *b, uint64_t *bits, bool *star, char **err)
{
    char *dup = k1s_xstrdup(field), *save = NULL;
    *bits = 0;
    *star = false;
    int r = 0;
    for (char *t = strtok_r(dup, ",", &save); t && !r; t = strtok_r(NULL, ",", &save))
        r = parse_range(t, b, bits, star, err);
    free(dup);
    return r;
}

/* A Go duration ("1h30m", "90s", "1.5h") in whole seconds; -1 if invalid. */
static int64_t parse_duration(const char *s)
{
    double total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || *p == '-' || *p == '+')
            return -1;
        p = end;
        static const struct {
            const char *u;
            double s;
        } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"µs", 1e-6}, {"ms", 1e-3},
                     {"s", 1},     {"m", 60},    {"h", 3600}};
        bool found = false;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(units) && !found; i++) {
            size_t n = strlen(units[i].u);
            if (!strncmp(p, units[i].u, n)) {
                total += v * units[i].s;
                p += n;
                found = true;
            }
        }
        if (!found)
            return -1;
    }
    return (int64_t)total;
}

static bool zone_exists(const char *tz)
{
    if (!*tz || tz[0] == '/' || strstr(tz, ".."))
        return false;
    char *p = k1s_xasprintf(ZONEINFO "%s", tz);
    struct stat st;
    bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

int k1s_cron_parse(const char *spec, const char *tz, k1s_cron_t *out, char **err)
{
    memset(out, 0, sizeof(*out));
    *err = NULL;
    while (isspace((unsigned char)*spec))
        spec++;
    char *zone = tz ? k1s_xstrdup(tz) : NULL;
    if (k1s_str_has_prefix(spec, "TZ=") || k1s_str_has_prefix(spec, "CRON_TZ=")) {
        const char *eq = strchr(spec, '=') + 1;
        size_t n = strcspn(eq, " \t");
        free(zone);
        zone = k1s_xstrndup(eq, n);
        spec = eq + n;
        while (isspace((unsigned char)*spec))
            spec++;
    }
    if (zone && (!strcmp(zone, "UTC") || !strcmp(zone, "Local"))) {
        free(zone);
        zone = NULL;
    }
    if (zone && !zone_exists(zone)) {
        *err = k1s_xasprintf("unknown time zone %s", zone);
        free(zone);
        return -ENOENT;
    }
    static const struct {
        const char *name, *expr;
    } descriptors[] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
                       {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                       {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                       {"@hourly", "0 * * * *"}};
    if (spec[0] == '@') {
        if (k1s_str_has_prefix(spec, "@every ")) {
            int64_t d = parse_duration(spec + 7);
            if (d < 0) {
                *err = k1s_xasprintf("failed to parse duration %s: time: invalid duration \"%s\"",
                                     spec, spec + 7);
                free(zone);
                return -EINVAL;
            }
            out->every_s = d < 1 ? 1 : d;
            out->tz = zone;
            return 0;
        }
        const char *expr = NULL;
        for (size_t i = 0; i < K1S_ARRAY_SIZE(descriptors); i++)
            if (!strcmp(spec, descriptors[i].name))
                expr = descriptors[i].expr;
        if (!expr) {
            *err = k1s_xasprintf("unrecognized descriptor: %s", spec);
            free(zone);
            return -EINVAL;
        }
        spec = expr;
    }
    char *copy = k1s_xstrdup(spec), *save = NULL;
    char *fields[6];
    int n = 0;
    for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
        if (n < 6)
            fields[n] = t;
        n++;
    }
    int r = -EINVAL;
    bool star;
    if (n != 5) {
        *err = k1s_xasprintf("expected exactly 5 fields, found %d: %s", n, spec);
    } else if (!parse_field(fields[0], &b_minute, &out->minute, &star, err) &&
               !parse_field(fields[1], &b_hour, &out->hour, &star, err) &&
               !parse_field(fields[2], &b_dom, &out->dom, &out->dom_star, err) &&
               !parse_field(fields[3], &b_month, &out->month, &star, err) &&
               !parse_field(fields[4], &b_dow, &out->dow, &out->dow_star, err)) {
        r = 0;
    }
    free(copy);
    if (r) {
        free(zone);
        memset(out, 0, sizeof(*out));
        return r;
    }
    out->tz = zone;
    return 0;
}

void k1s_cron_free(k1s_cron_t *c)
{
    if (!c)
        return;
    free(c->tz);
    c->tz = NULL;
}

/* ---- time zones: TZ set for the duration of a computation, then restored ---- */

typedef struct {
    bool active;
    char *old; /* the previous TZ, or NULL if unset */
} tz_save_t;

static void tz_enter(const k1s_cron_t *c, tz_save_t *s)
{
    s->active = c->tz != NULL;
    s->old = NULL;
    if (!s->active)
        return;
    const char *old = getenv("TZ");
    s->old = old ? k1s_xstrdup(old) : NULL;
    char *v = k1s_xasprintf(":" ZONEINFO "%s", c->tz);
    setenv("TZ", v, 1);
    free(v);
    tzset();
}

static void tz_leave(tz_save_t *s)
{
    if (!s->active)
        return;
    if (s->old)
        setenv("TZ", s->old, 1);
    else
        unsetenv("TZ");
    free(s->old);
    tzset();
}

/* Unix time -> local wall-clock seconds (as if UTC), in the zone entered. */
static int64_t to_wall(const k1s_cron_t *c, int64_t t)
{
    if (!c->tz)
        return t;
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return (int64_t)timegm(&tm);
}

/*
 * The first instant after t whose local time is the wall time w: the
 * earlier of the two when clocks went back, and the time mktime() moves a
 * skipped wall time to when they went forward. -1 if both are not after t.
 */
static int64_t from_wall(const k1s_cron_t *c, int64_t w, int64_t t)
{
    if (!c->tz)
        return w > t ? w : -1;
    time_t tt = (time_t)w;
    int64_t best = -1;
    for (int dst = 0; dst <= 1; dst++) {
        struct tm tm;
        gmtime_r(&tt, &tm);
        tm.tm_isdst = dst;
        int64_t abs = (int64_t)mktime(&tm);
        if (abs > t && to_wall(c, abs) == w && (best < 0 || abs < best))
            best = abs;
    }
    if (best < 0) {
        struct tm tm;
        gmtime_r(&tt, &tm);
        tm.tm_isdst = -1;
        int64_t abs = (int64_t)mktime(&tm);
        if (abs > t && to_wall(c, abs) != w)
            best = abs; /* in a gap */
    }
    return best;
}

/* ---- next activation ---- */

static bool day_matches(const k1s_cron_t *c, const struct tm *tm)
{
    bool dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow;
}

/* The first matching wall time at or after w (a whole minute), or -1 within 5 years. */
static int64_t next_wall(const k1s_cron_t *c, int64_t w)
{
    int64_t limit = w + 5 * 366 * 86400LL;
    while (w <= limit) {
        time_t tt = (time_t)w;
        struct tm tm;
        gmtime_r(&tt, &tm);
        tm.tm_sec = 0;
        if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = 0;
            w = (int64_t)timegm(&tm);
        } else if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = 0;
            w = (int64_t)timegm(&tm);
        } else if (!((c->hour >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = 0;
            w = (int64_t)timegm(&tm);
        } else if (!((c->minute >> tm.tm_min) & 1)) {
            w += 60;
        } else {
            return w;
        }
    }
    return -1;
}

/* k1s_cron_next with the zone already entered. */
static int64_t next_in_zone(const k1s_cron_t *c, int64_t t)
{
    if (c->every_s)
        return t + c->every_s;
    int64_t w = to_wall(c, t);
    w = w - w % 60 + 60;
    for (int guard = 0; guard < 8; guard++) {
        int64_t m = next_wall(c, w);
        if (m < 0)
            return -1;
        int64_t abs = from_wall(c, m, t);
        if (abs >= 0)
            return abs;
        w = m + 60; /* a wall time repeated when clocks went back, already past */
    }
    return -1;
}

int64_t k1s_cron_next(const k1s_cron_t *c, int64_t t)
{
    tz_save_t s;
    tz_enter(c, &s);
    int64_t r = next_in_zone(c, t);
    tz_leave(&s);
    return r;
}

int64_t k1s_cron_most_recent(const k1s_cron_t *c, int64_t earliest, int64_t now, int max_count,
                             int *missed)
{
    tz_save_t s;
    tz_enter(c, &s);
    int64_t last = -1, t = earliest;
    *missed = 0;
    for (;;) {
        int64_t n = next_in_zone(c, t);
        if (n < 0 || n > now)
            break;
        last = n;
        t = n;
        if (++*missed > max_count)
            break;
    }
    if (*missed > max_count) {
        /* too many to walk: the latest one is in the last day, week, month, year... */
        static const int64_t windows[] = {86400, 8 * 86400, 32 * 86400, 367 * 86400,
                                          5 * 367 * 86400LL};
        for (size_t i = 0; i < K1S_ARRAY_SIZE(windows); i++) {
            int64_t from = now - windows[i] > last ? now - windows[i] : last, found = -1;
            for (int64_t n = next_in_zone(c, from); n >= 0 && n <= now; n = next_in_zone(c, n))
                found = n;
            if (found >= 0) {
                last = found;
                break;
            }
        }
    }
    tz_leave(&s);
    return last;
}

static void format_local(const k1s_cron_t *c, int64_t t, struct tm *tm, long *off)
{
    tz_save_t s;
    tz_enter(c, &s);
    time_t tt = (time_t)t;
    if (c->tz) {
        localtime_r(&tt, tm);
        *off = tm->tm_gmtoff;
    } else {
        gmtime_r(&tt, tm);
        *off = 0;
    }
    tz_leave(&s);
}

void k1s_cron_format_rfc3339(const k1s_cron_t *c, int64_t t, char out[40])
{
    struct tm tm;
    long off;
    format_local(c, t, &tm, &off);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (off == 0) {
        snprintf(out + n, 40 - n, "Z");
    } else {
        long a = off < 0 ? -off : off;
        snprintf(out + n, 40 - n, "%c%02ld:%02ld", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
    }
}

void k1s_cron_format_rfc1123z(const k1s_cron_t *c, int64_t t, char out[48])
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    long off;
    format_local(c, t, &tm, &off);
    long a = off < 0 ? -off : off;
    snprintf(out, 48, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", wd[tm.tm_wday], tm.tm_mday,
             mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
             off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}
