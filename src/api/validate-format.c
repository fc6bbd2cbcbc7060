/*
 * Format checks of k8s.io/apimachinery/pkg/util/validation (DNS labels and
 * subdomains, qualified names, label values, ConfigMap keys, path segment
 * names, port and environment variable names, IPs and CIDRs), with the exact
 * messages Kubernetes gives. The k1s_is_* and k1s_validate_* forms are
 * public (validate.h); the rest is shared with the rule files through
 * validate-int.h.
 */
#include "api/validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

/* ------------------------------------------------------------------------------------------ */
/* Format checks (k8s.io/apimachinery/pkg/util/validation)                                    */
/* ------------------------------------------------------------------------------------------ */

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ on s[0..n) */
static bool match_dns_label(const char *s, size_t n)
{
    if (n == 0 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum_lower(s[i]) && s[i] != '-')
            return false;
    return true;
}

static bool match_dns_subdomain(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!match_dns_label(p, n))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}

/* ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ on s[0..n) */
static bool match_qname(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

int k1s_is_dns1123_label(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 63)
        msgs[n++] = MSG_MAXLEN_63;
    if (!match_dns_label(s, len))
        msgs[n++] = match_dns_subdomain(s) ? "must not contain dots" : MSG_DNS1123_LABEL;
    return n;
}

int k1s_is_dns1123_subdomain(const char *s, const char **msgs)
{
    int n = 0;
    if (strlen(s) > 253)
        msgs[n++] = MSG_MAXLEN_253;
    if (!match_dns_subdomain(s))
        msgs[n++] = MSG_DNS1123_SUBDOMAIN;
    return n;
}

int k1s_is_dns1035_label(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 63)
        msgs[n++] = MSG_MAXLEN_63;
    bool ok = len > 0 && s[0] >= 'a' && s[0] <= 'z' && match_dns_label(s, len);
    if (!ok)
        msgs[n++] = MSG_DNS1035_LABEL;
    return n;
}

int k1s_is_qualified_name(const char *s, const char **msgs)
{
    int n = 0;
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash && strchr(slash + 1, '/')) {
        msgs[n++] = "a qualified name " MSG_QNAME_REGEX
                    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
        return n;
    }
    if (slash) {
        size_t plen = (size_t)(slash - s);
        name = slash + 1;
        if (plen == 0) {
            msgs[n++] = "prefix part must be non-empty";
        } else {
            char *prefix = k1s_xstrndup(s, plen);
            if (plen > 253)
                msgs[n++] = "prefix part " MSG_MAXLEN_253;
            if (!match_dns_subdomain(prefix))
                msgs[n++] = "prefix part " MSG_DNS1123_SUBDOMAIN;
            free(prefix);
        }
    }
    size_t len = strlen(name);
    if (len == 0)
        msgs[n++] = "name part must be non-empty";
    else if (len > 63)
        msgs[n++] = "name part " MSG_MAXLEN_63;
    if (!match_qname(name, len))
        msgs[n++] = "name part " MSG_QNAME_REGEX;
    return n;
}

int k1s_is_label_value(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 63)
        msgs[n++] = MSG_MAXLEN_63;
    if (len && !match_qname(s, len))
        msgs[n++] = MSG_LABEL_VALUE;
    return n;
}

static int chdir_prefix(const char *s, const char **msgs, int n)
{
    if (strcmp(s, ".") == 0)
        msgs[n++] = "must not be '.'";
    else if (strcmp(s, "..") == 0)
        msgs[n++] = "must not be '..'";
    else if (strncmp(s, "..", 2) == 0)
        msgs[n++] = "must not start with '..'";
    return n;
}

int k1s_is_config_map_key(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 253)
        msgs[n++] = MSG_MAXLEN_253;
    bool ok = len > 0;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
            ok = false;
    if (!ok)
        msgs[n++] = MSG_CONFIG_KEY;
    return chdir_prefix(s, msgs, n);
}

int k1s_is_path_segment_name(const char *s, bool prefix, const char **msgs)
{
    int n = 0;
    if (!prefix) {
        if (strcmp(s, ".") == 0) {
            msgs[n++] = "may not be '.'";
            return n;
        }
        if (strcmp(s, "..") == 0) {
            msgs[n++] = "may not be '..'";
            return n;
        }
    }
    if (strchr(s, '/'))
        msgs[n++] = "may not contain '/'";
    if (strchr(s, '%'))
        msgs[n++] = "may not contain '%'";
    return n;
}

/* IsValidPortName */
int k1s_v_is_port_name(const char *s, const char **msgs)
{
    int n = 0;
    size_t len = strlen(s);
    if (len > 15)
        msgs[n++] = "must be no more than 15 characters";
    bool charset = len > 0, letter = false;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum_lower(s[i]) && s[i] != '-')
            charset = false;
        if (s[i] >= 'a' && s[i] <= 'z')
            letter = true;
    }
    if (!charset)
        msgs[n++] = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
    if (!letter)
        msgs[n++] = "must contain at least one letter (a-z)";
    if (strstr(s, "--"))
        msgs[n++] = "must not contain consecutive hyphens";
    if (len && (s[0] == '-' || s[len - 1] == '-'))
        msgs[n++] = "must not begin or end with a hyphen";
    return n;
}

/* IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation is beta and on in v1.32) */
int k1s_v_is_env_var_name(const char *s, const char **msgs)
{
    int n = 0;
    if (!*s)
        msgs[n++] = "environment variable name must be non-empty";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > 0x7e || *p < 0x20 || *p == '=') {
            msgs[n++] = "a valid environment variable name must consist only of printable ASCII "
                        "characters other than '='";
            break;
        }
    }
    return n;
}

bool k1s_v_is_percent(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != '%')
        return false;
    for (size_t i = 0; i + 1 < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

bool k1s_v_is_http_header_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '-')
            return false;
    return true;
}

/* netutils.ParseIPSloppy: IPv4 (leading zeros allowed) or IPv6 */
bool k1s_v_parse_ip_sloppy(const char *s, bool *v6)
{
    unsigned char buf[16];
    if (strchr(s, ':')) {
        *v6 = true;
        return inet_pton(AF_INET6, s, buf) == 1;
    }
    *v6 = false;
    int parts = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return false;
        long v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p - '0');
            if (++digits > 3 || v > 255)
                return false;
            p++;
        }
        parts++;
        if (*p == '.') {
            p++;
            if (!*p)
                return false;
        } else if (*p) {
            return false;
        }
    }
    return parts == 4;
}

void k1s_v_check_ip(vctx_t *v, const char *child, const char *ip)
{
    bool v6;
    if (!k1s_v_parse_ip_sloppy(ip ? ip : "", &v6))
        add_s(v, child, E_INVALID, ip ? ip : "",
              "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
}

static bool parse_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || !slash[1])
        return false;
    char *ip = k1s_xstrndup(s, (size_t)(slash - s));
    bool v6;
    bool ok = k1s_v_parse_ip_sloppy(ip, &v6);
    free(ip);
    if (!ok)
        return false;
    for (const char *p = slash + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    long bits = strtol(slash + 1, NULL, 10);
    return strlen(slash + 1) <= 3 && bits <= (v6 ? 128 : 32);
}

void k1s_v_check_cidr(vctx_t *v, const char *child, const char *cidr)
{
    if (!parse_cidr(cidr ? cidr : ""))
        add_s(v, child, E_INVALID, cidr ? cidr : "",
              "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
}

/* A NameIs* ValidateNameFunc: with prefix, a trailing dash is masked (maskTrailingDash). */
int k1s_v_name_check(name_fn_t fn, const char *name, bool prefix, const char **msgs)
{
    size_t n = strlen(name);
    if (prefix && n > 1 && name[n - 1] == '-') {
        /* Kubernetes replaces the last two characters by "a" */
        char *m = k1s_xasprintf("%.*sa", (int)(n - 2), name);
        int r = fn(m, msgs);
        free(m);
        return r;
    }
    return fn(name, msgs);
}

/* Reports each message of fn(value) as Invalid at child with the value quoted. */
int k1s_v_check_fmt(vctx_t *v, const char *child, name_fn_t fn, const char *value)
{
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    int n = fn(value ? value : "", msgs);
    for (int i = 0; i < n; i++)
        add_s(v, child, E_INVALID, value ? value : "", msgs[i]);
    return n;
}

static const char *first_msg(name_fn_t fn, const char *s)
{
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    return fn(s ? s : "", msgs) ? msgs[0] : NULL;
}

const char *k1s_validate_dns1123_subdomain(const char *s)
{
    return first_msg(k1s_is_dns1123_subdomain, s);
}

const char *k1s_validate_dns1123_label(const char *s)
{
    return first_msg(k1s_is_dns1123_label, s);
}

const char *k1s_validate_dns1035_label(const char *s)
{
    return first_msg(k1s_is_dns1035_label, s);
}

const char *k1s_validate_qualified_name(const char *s)
{
    return first_msg(k1s_is_qualified_name, s);
}

const char *k1s_validate_label_value(const char *s)
{
    return first_msg(k1s_is_label_value, s);
}
