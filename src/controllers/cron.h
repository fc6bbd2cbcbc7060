/*
 * Cron schedules as the CronJob controller reads them: robfig/cron's
 * standard parser (cron.ParseStandard) - five fields (minute, hour, day of
 * month, month, day of week) with "*", "?", ranges "a-b", steps "/n",
 * lists "a,b", month and weekday names, the descriptors @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight, @hourly and
 * "@every <duration>", and an optional "TZ=<zone>" or "CRON_TZ=<zone>"
 * prefix - and the next activation after a given time in a time zone.
 *
 * Time zones are the IANA zones under /usr/share/zoneinfo. Local times are
 * computed with localtime_r/mktime under a temporary TZ setting that is
 * restored before returning (k1s is single-threaded), so the process's own
 * zone is never changed from the outside's point of view.
 */
#ifndef K1S_CONTROLLERS_CRON_H
#define K1S_CONTROLLERS_CRON_H

#include <stdbool.h>
#include <stdint.h>

typedef struct k1s_cron {
    uint64_t minute, hour, dom, month, dow; /* bit i: value i allowed */
    bool dom_star, dow_star;                /* the field was "*" or "?" */
    int64_t every_s;                        /* "@every": the period in seconds, else 0 */
    char *tz;                               /* zone name, or NULL for UTC */
} k1s_cron_t;

/*
 * Parses spec; returns 0, or -EINVAL with *err set to robfig/cron's
 * message (new string). tz (may be NULL) is the CronJob's spec.timeZone; a
 * TZ=/CRON_TZ= prefix in spec takes its place. An unknown zone is -ENOENT
 * with *err "unknown time zone <zone>".
 */
int k1s_cron_parse(const char *spec, const char *tz, k1s_cron_t *out, char **err);
void k1s_cron_free(k1s_cron_t *c);

/* The first activation strictly after t (Unix seconds), or -1 if none within 5 years. */
int64_t k1s_cron_next(const k1s_cron_t *c, int64_t t);

/*
 * The latest activation in (earliest, now], or -1 if none; *missed is set
 * to how many activations fell in that interval (counting stops at
 * max_count + 1, for the "too many missed start times" rule).
 */
int64_t k1s_cron_most_recent(const k1s_cron_t *c, int64_t earliest, int64_t now, int max_count,
                             int *missed);

/*
 * Formats t as RFC 3339 in the schedule's zone ("2026-01-02T03:04:00+01:00",
 * or "...Z" in UTC), as Go's time.Format(time.RFC3339) of a time in that
 * location.
 */
void k1s_cron_format_rfc3339(const k1s_cron_t *c, int64_t t, char out[40]);

/* As Go's time.RFC1123Z in the schedule's zone: "Mon, 02 Jan 2006 15:04:05 -0700". */
void k1s_cron_format_rfc1123z(const k1s_cron_t *c, int64_t t, char out[48]);

#endif
