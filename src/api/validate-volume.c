/*
 * Validation of a pod's volumes and of the containers' volume mounts and
 * devices (pkg/apis/core/validation: ValidateVolumes, ValidateVolumeMounts),
 * PersistentVolumeClaim specs, which ephemeral volumes, PVCs and StatefulSet
 * volumeClaimTemplates share, and PersistentVolumes, which take the same
 * volume sources.
 */
#include "api/validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate-int.h"

/* ------------------------------------------------------------------------------------------ */
/* Pod specs (pkg/apis/core/validation: ValidatePodSpec and friends)                          */
/* ------------------------------------------------------------------------------------------ */

#define MSG_FILE_MODE "must be a number between 0 and 0777 (octal), both inclusive"

static const json_t *vol_find(const vols_t *vs, const char *name)
{
    for (size_t i = 0; vs && i < vs->n; i++)
        if (strcmp(vs->v[i].name, name) == 0)
            return vs->v[i].src;
    return NULL;
}

/* validatePathNoBacksteps */
static bool has_backsteps(const char *p)
{
    const char *s = p;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return true;
        if (!slash)
            return false;
        s = slash + 1;
    }
}

static void check_no_backsteps(vctx_t *v, const char *child, const char *p)
{
    if (has_backsteps(p))
        add_s(v, child, E_INVALID, p, "must not contain '..'");
}

/* validateLocalDescendingPath */
void k1s_v_check_local_descending(vctx_t *v, const char *child, const char *p)
{
    if (p[0] == '/')
        add_s(v, child, E_INVALID, p, "must be a relative path");
    check_no_backsteps(v, child, p);
}

/* ValidateLocalNonReservedPath */
static void check_local_nonreserved(vctx_t *v, const char *child, const char *p)
{
    k1s_v_check_local_descending(v, child, p);
    if (k1s_str_has_prefix(p, "..") && !k1s_str_has_prefix(p, "../"))
        add_s(v, child, E_INVALID, p, "must not start with '..'");
}

static void check_mode(vctx_t *v, const char *child, const json_t *o, const char *key)
{
    long long m;
    if (jint(o, key, &m) && (m > 0777 || m < 0))
        add_i(v, child, E_INVALID, m, MSG_FILE_MODE);
}

/* validateKeyToPath, for each of items[] */
static void check_items(vctx_t *v, const json_t *items)
{
    size_t m = push(v, "items");
    const json_t *kp;
    ARR_EACH(items, i, kp)
    {
        size_t mi = push_idx(v, i);
        if (!*jstr0(kp, "key"))
            add(v, "key", E_REQUIRED, NULL, "");
        const char *p = jstr0(kp, "path");
        if (!*p)
            add(v, "path", E_REQUIRED, NULL, "");
        check_local_nonreserved(v, "path", p);
        check_mode(v, "mode", kp, "mode");
        pop(v, mi);
    }
    pop(v, m);
}

static void check_downward_file(vctx_t *v, const json_t *file)
{
    const char *p = jstr0(file, "path");
    if (!*p)
        add(v, "path", E_REQUIRED, NULL, "");
    check_local_nonreserved(v, "path", p);
    const json_t *fr = jobj(file, "fieldRef"), *rr = jobj(file, "resourceFieldRef");
    if (fr) {
        static const char *const ok[] = {"metadata.annotations", "metadata.labels", "metadata.name",
                                         "metadata.namespace", "metadata.uid"};
        size_t m = push(v, "fieldRef");
        if (!*jstr0(fr, "apiVersion")) {
            add(v, "apiVersion", E_REQUIRED, NULL, "");
        } else if (!*jstr0(fr, "fieldPath")) {
            add(v, "fieldPath", E_REQUIRED, NULL, "");
        } else if (!IN(jstr0(fr, "fieldPath"), ok) && !strchr(jstr0(fr, "fieldPath"), '[')) {
            NOTSUPP(v, "fieldPath", jstr0(fr, "fieldPath"), ok);
        }
        pop(v, m);
        if (rr)
            add_s(v, NULL, E_INVALID, "resource",
                  "fieldRef and resourceFieldRef can not be specified simultaneously");
    } else if (rr) {
        size_t m = push(v, "resourceFieldRef");
        if (!*jstr0(rr, "containerName"))
            add(v, "containerName", E_REQUIRED, NULL, "");
        else if (!*jstr0(rr, "resource"))
            add(v, "resource", E_REQUIRED, NULL, "");
        pop(v, m);
    } else {
        add(v, NULL, E_REQUIRED, NULL, "one of fieldRef and resourceFieldRef is required");
    }
    check_mode(v, "mode", file, "mode");
}

static void check_csi_driver(vctx_t *v, const char *child, const char *d)
{
    if (!*d)
        add(v, child, E_REQUIRED, NULL, "");
    if (strlen(d) > 63)
        add_toolong(v, child, 63);
    char *lower = k1s_xstrdup(d);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    int n = k1s_is_dns1123_subdomain(lower, msgs);
    for (int i = 0; i < n; i++)
        add_s(v, child, E_INVALID, d, msgs[i]);
    free(lower);
}

/* the per-type checks of validateVolumeSource, at volumes[i].<type> */
static void check_volume_type(vctx_t *v, const char *type, const json_t *s)
{
    if (!strcmp(type, "emptyDir")) {
        const json_t *sl = jget(s, "sizeLimit");
        k1s_quantity_t q;
        if (sl && k1s_v_get_qty(v, "sizeLimit", sl, &q) && k1s_quantity_sign(&q) < 0)
            add(v, "sizeLimit", E_FORBIDDEN, NULL,
                "SizeLimit field must be a valid resource quantity");
    } else if (!strcmp(type, "hostPath")) {
        const char *p = jstr0(s, "path");
        if (!*p) {
            add(v, "path", E_REQUIRED, NULL, "");
            return;
        }
        check_no_backsteps(v, "path", p);
        static const char *const types[] = {
            "",     "BlockDevice",  "CharDevice", "Directory", "DirectoryOrCreate",
            "File", "FileOrCreate", "Socket"};
        const char *t = jstr(s, "type");
        if (t && !IN(t, types))
            NOTSUPP(v, "type", t, types);
    } else if (!strcmp(type, "gitRepo")) {
        if (!*jstr0(s, "repository"))
            add(v, "repository", E_REQUIRED, NULL, "");
        k1s_v_check_local_descending(v, "directory", jstr0(s, "directory"));
    } else if (!strcmp(type, "secret")) {
        if (!*jstr0(s, "secretName"))
            add(v, "secretName", E_REQUIRED, NULL, "");
        check_mode(v, "defaultMode", s, "defaultMode");
        check_items(v, jarr(s, "items"));
    } else if (!strcmp(type, "configMap")) {
        if (!*jstr0(s, "name"))
            add(v, "name", E_REQUIRED, NULL, "");
        check_mode(v, "defaultMode", s, "defaultMode");
        check_items(v, jarr(s, "items"));
    } else if (!strcmp(type, "nfs")) {
        const char *p = jstr0(s, "path");
        if (!*jstr0(s, "server"))
            add(v, "server", E_REQUIRED, NULL, "");
        if (!*p)
            add(v, "path", E_REQUIRED, NULL, "");
        if (p[0] != '/')
            add_s(v, "path", E_INVALID, p, "must be an absolute path");
    } else if (!strcmp(type, "persistentVolumeClaim")) {
        if (!*jstr0(s, "claimName"))
            add(v, "claimName", E_REQUIRED, NULL, "");
    } else if (!strcmp(type, "downwardAPI")) {
        check_mode(v, "defaultMode", s, "defaultMode");
        const json_t *f;
        ARR_EACH(jarr(s, "items"), i, f)
        check_downward_file(v, f);
    } else if (!strcmp(type, "projected")) {
        check_mode(v, "defaultMode", s, "defaultMode");
        const json_t *src;
        size_t ms = push(v, "sources");
        ARR_EACH(jarr(s, "sources"), i, src)
        {
            size_t mi = push_idx(v, i);
            int n = 0;
            static const char *const kinds[] = {"secret", "configMap", "downwardAPI",
                                                "serviceAccountToken", "clusterTrustBundle"};
            for (size_t k = 0; k < K1S_ARRAY_SIZE(kinds); k++) {
                const json_t *x = jobj(src, kinds[k]);
                if (!x)
                    continue;
                n++;
                size_t mk = push(v, kinds[k]);
                if (k <= 1) {
                    if (!*jstr0(x, "name"))
                        add(v, "name", E_REQUIRED, NULL, "");
                    check_items(v, jarr(x, "items"));
                } else if (k == 3) {
                    long long es = 3600;
                    jint(x, "expirationSeconds", &es);
                    if (es < 600)
                        add_i(v, "expirationSeconds", E_INVALID, es,
                              "may not specify a duration less than 10 minutes");
                    if (es > (1LL << 32))
                        add_i(v, "expirationSeconds", E_INVALID, es,
                              "may not specify a duration larger than 2^32 seconds");
                }
                pop(v, mk);
            }
            if (n > 1)
                add(v, NULL, E_FORBIDDEN, NULL,
                    "may not specify more than 1 volume type per source");
            pop(v, mi);
        }
        pop(v, ms);
    } else if (!strcmp(type, "csi")) {
        check_csi_driver(v, "driver", jstr0(s, "driver"));
    } else if (!strcmp(type, "ephemeral")) {
        const json_t *t = jobj(s, "volumeClaimTemplate");
        if (!t) {
            add(v, "volumeClaimTemplate", E_REQUIRED, NULL, "");
        } else {
            size_t mt = push(v, "volumeClaimTemplate");
            const json_t *tm = jobj(t, "metadata");
            size_t mm = push(v, "metadata");
            k1s_v_check_annotations(v, "annotations", jobj(tm, "annotations"));
            k1s_v_check_labels(v, "labels", jobj(tm, "labels"));
            const char *k;
            const json_t *val;
            OBJ_EACH(tm, k, val)
            {
                if (strcmp(k, "labels") && strcmp(k, "annotations") && !json_is_null(val)) {
                    char *child = k1s_xstrdup(k);
                    add(v, child, E_FORBIDDEN, NULL, "cannot be set");
                    free(child);
                }
            }
            pop(v, mm);
            size_t msp = push(v, "spec");
            k1s_v_check_pvc_spec(v, jobj(t, "spec"));
            pop(v, msp);
            pop(v, mt);
        }
    }
}

/* the volume source fields, in the order validateVolumeSource checks them */
static const struct {
    const char *key, *child;
} volume_types[] = {
    {"emptyDir", "emptyDir"},
    {"hostPath", "hostPath"},
    {"gitRepo", "gitRepo"},
    {"gcePersistentDisk", "gcePersistentDisk"},
    {"awsElasticBlockStore", "awsElasticBlockStore"},
    {"secret", "secret"},
    {"nfs", "nfs"},
    {"iscsi", "iscsi"},
    {"glusterfs", "glusterfs"},
    {"flocker", "flocker"},
    {"persistentVolumeClaim", "persistentVolumeClaim"},
    {"rbd", "rbd"},
    {"cinder", "cinder"},
    {"cephfs", "cephFS"},
    {"quobyte", "quobyte"},
    {"downwardAPI", "downwarAPI"},
    {"fc", "fc"},
    {"flexVolume", "flexVolume"},
    {"configMap", "configMap"},
    {"azureFile", "azureFile"},
    {"vsphereVolume", "vsphereVolume"},
    {"photonPersistentDisk", "photonPersistentDisk"},
    {"portworxVolume", "portworxVolume"},
    {"azureDisk", "azureDisk"},
    {"storageos", "storageos"},
    {"projected", "projected"},
    {"scaleIO", "scaleIO"},
    {"csi", "csi"},
    {"ephemeral", "ephemeral"},
    {"image", "image"},
};

/* ValidateVolumes at the current path ("...spec"); fills vs with the valid volumes. */
void k1s_v_check_volumes(vctx_t *v, const json_t *volumes, const json_t *pod, vols_t *vs)
{
    size_t mv = push(v, "volumes");
    size_t n = json_array_size(volumes);
    vs->v = k1s_xcalloc(n ? n : 1, sizeof(*vs->v));
    vs->n = 0;
    const char **all = k1s_xcalloc(n ? n : 1, sizeof(*all));
    size_t nall = 0;
    const json_t *vol;
    ARR_EACH(volumes, i, vol)
    {
        size_t mi = push_idx(v, i);
        int before = v->n;
        const char *name = jstr0(vol, "name");
        int types = 0;
        for (size_t t = 0; t < K1S_ARRAY_SIZE(volume_types); t++) {
            const json_t *s = jobj(vol, volume_types[t].key);
            if (!s)
                continue;
            if (types > 0) {
                add(v, volume_types[t].child, E_FORBIDDEN, NULL,
                    "may not specify more than 1 volume type");
                continue;
            }
            types++;
            if (!strcmp(volume_types[t].key, "ephemeral")) {
                size_t me = push(v, "ephemeral");
                check_volume_type(v, "ephemeral", s);
                pop(v, me);
                /* the name of the PVC it creates; reported at volumes[i].name */
                const char *pod_name = jstr0(jobj(pod, "metadata"), "name");
                if (pod && *pod_name && *name) {
                    char *pvc = k1s_xasprintf("%s-%s", pod_name, name);
                    const char *msgs[K1S_VALIDATE_MAX_MSGS];
                    int nm = k1s_is_dns1123_subdomain(pvc, msgs);
                    char *qp = k1s_v_quoted(pvc), *qv = k1s_v_quoted(name);
                    for (int j = 0; j < nm; j++)
                        add_f(v, "name", E_INVALID, qv, "PVC name %s: %s", qp, msgs[j]);
                    free(qp);
                    free(qv);
                    free(pvc);
                }
            } else {
                size_t mx = push(v, volume_types[t].key);
                check_volume_type(v, volume_types[t].key, s);
                pop(v, mx);
            }
        }
        if (types == 0)
            add(v, NULL, E_REQUIRED, NULL, "must specify a volume type");
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        else
            k1s_v_check_fmt(v, "name", k1s_is_dns1123_label, name);
        bool dup = false;
        for (size_t j = 0; j < nall; j++)
            dup |= strcmp(all[j], name) == 0;
        if (dup)
            add_s(v, "name", E_DUPLICATE, name, NULL);
        if (v->n == before) {
            all[nall++] = name;
            vs->v[vs->n].name = name;
            vs->v[vs->n].src = vol;
            vs->n++;
        }
        pop(v, mi);
    }
    free(all);
    pop(v, mv);
}

void k1s_v_check_volume_mounts(vctx_t *v, const json_t *ctr, const vols_t *vs)
{
    const json_t *mounts = jarr(ctr, "volumeMounts"), *devices = jarr(ctr, "volumeDevices");
    size_t m = push(v, "volumeMounts");
    const json_t *mt, *d;
    ARR_EACH(mounts, i, mt)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(mt, "name"), *mp = jstr0(mt, "mountPath");
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        if (!vol_find(vs, name))
            add_s(v, "name", E_NOTFOUND, name, NULL);
        if (!*mp)
            add(v, "mountPath", E_REQUIRED, NULL, "");
        bool dup = false;
        const json_t *prev;
        ARR_EACH(mounts, j, prev)
        {
            if (j >= i)
                break;
            dup |= strcmp(jstr0(prev, "mountPath"), mp) == 0;
        }
        if (dup)
            add_s(v, "mountPath", E_INVALID, mp, "must be unique");
        ARR_EACH(devices, j, d)
        {
            if (!strcmp(jstr0(d, "name"), name)) {
                add_s(v, "name", E_INVALID, name, "must not already exist in volumeDevices");
                break;
            }
        }
        ARR_EACH(devices, j, d)
        {
            if (!strcmp(jstr0(d, "devicePath"), mp)) {
                add_s(v, "mountPath", E_INVALID, mp,
                      "must not already exist as a path in volumeDevices");
                break;
            }
        }
        pop(v, mi);
        /* subPath problems are reported at volumeMounts.subPath (sic) */
        const char *sp = jstr0(mt, "subPath"), *spe = jstr0(mt, "subPathExpr");
        if (*sp)
            k1s_v_check_local_descending(v, "subPath", sp);
        if (*spe) {
            if (*sp) {
                size_t mj = push_idx(v, i);
                add_s(v, "subPathExpr", E_INVALID, spe,
                      "subPathExpr and subPath are mutually exclusive");
                pop(v, mj);
            }
            k1s_v_check_local_descending(v, "subPathExpr", spe);
        }
        const char *prop = jstr(mt, "mountPropagation");
        if (prop) {
            static const char *const props[] = {"Bidirectional", "HostToContainer", "None"};
            if (!IN(prop, props))
                NOTSUPP(v, "mountPropagation", prop, props);
            const json_t *sc = jobj(ctr, "securityContext");
            if (!strcmp(prop, "Bidirectional") && !jtrue(sc, "privileged"))
                add(v, "mountPropagation", E_FORBIDDEN, NULL,
                    "Bidirectional mount propagation is available only to privileged containers");
        }
        const char *rro = jstr(mt, "recursiveReadOnly");
        if (rro) {
            static const char *const rros[] = {"Disabled", "Enabled", "IfPossible"};
            if (!strcmp(rro, "Enabled") || !strcmp(rro, "IfPossible")) {
                if (!jtrue(mt, "readOnly"))
                    add(v, "recursiveReadOnly", E_FORBIDDEN, NULL,
                        "may only be specified when readOnly is true");
                if (prop && strcmp(prop, "None"))
                    add(v, "recursiveReadOnly", E_FORBIDDEN, NULL,
                        "may only be specified when mountPropagation is None or not specified");
            } else if (strcmp(rro, "Disabled")) {
                NOTSUPP(v, "recursiveReadOnly", rro, rros);
            }
        }
    }
    pop(v, m);
    m = push(v, "volumeDevices");
    ARR_EACH(devices, i, d)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr0(d, "name"), *dp = jstr0(d, "devicePath");
        const json_t *vol = vol_find(vs, name);
        bool pvc = vol && (jobj(vol, "persistentVolumeClaim") || jobj(vol, "ephemeral"));
        if (!*name)
            add(v, "name", E_REQUIRED, NULL, "");
        const json_t *prev;
        bool dupn = false, dupp = false;
        ARR_EACH(devices, j, prev)
        {
            if (j >= i)
                break;
            dupn |= *jstr0(prev, "name") && !strcmp(jstr0(prev, "name"), name);
            dupp |=
                !has_backsteps(jstr0(prev, "devicePath")) && !strcmp(jstr0(prev, "devicePath"), dp);
        }
        if (dupn)
            add_s(v, "name", E_INVALID, name, "must be unique");
        if (vol && !pvc)
            add_s(v, "name", E_INVALID, name,
                  "can only use volume source type of PersistentVolumeClaim or Ephemeral for "
                  "block mode");
        if (!vol)
            add_s(v, "name", E_NOTFOUND, name, NULL);
        if (!*dp)
            add(v, "devicePath", E_REQUIRED, NULL, "");
        if (dupp)
            add_s(v, "devicePath", E_INVALID, dp, "must be unique");
        if (*dp && has_backsteps(dp))
            add_s(v, "devicePath", E_INVALID, dp, "can not contain backsteps ('..')");
        ARR_EACH(mounts, j, mt)
        {
            if (!strcmp(jstr0(mt, "name"), name)) {
                add_s(v, "name", E_INVALID, name, "must not already exist in volumeMounts");
                break;
            }
        }
        ARR_EACH(mounts, j, mt)
        {
            if (!strcmp(jstr0(mt, "mountPath"), dp)) {
                add_s(v, "devicePath", E_INVALID, dp,
                      "must not already exist as a path in volumeMounts");
                break;
            }
        }
        pop(v, mi);
    }
    pop(v, m);
}

/* ValidatePersistentVolumeClaimSpec at the current path */
void k1s_v_check_pvc_spec(vctx_t *v, const json_t *spec)
{
    static const char *const modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                        "ReadWriteOncePod"};
    static const char *const vmodes[] = {"Block", "Filesystem"};
    const json_t *am = jarr(spec, "accessModes"), *x;
    if (!jlen(am))
        add(v, "accessModes", E_REQUIRED, NULL, "at least 1 access mode is required");
    if (jobj(spec, "selector")) {
        size_t m = push(v, "selector");
        k1s_v_check_selector(v, jobj(spec, "selector"));
        pop(v, m);
    }
    bool rwop = false, other = false;
    ARR_EACH(am, i, x)
    {
        const char *mode = json_is_string(x) ? json_string_value(x) : "";
        if (!IN(mode, modes))
            NOTSUPP(v, "accessModes", mode, modes);
        if (!strcmp(mode, "ReadWriteOncePod"))
            rwop = true;
        else if (IN(mode, modes))
            other = true;
    }
    if (rwop && other)
        add(v, "accessModes", E_FORBIDDEN, NULL,
            "may not use ReadWriteOncePod with other access modes");
    const json_t *st = jget(jobj(jobj(spec, "resources"), "requests"), "storage");
    size_t m = push(v, "resources");
    push_key(v, "storage");
    k1s_quantity_t q;
    if (!st) {
        add(v, NULL, E_REQUIRED, NULL, "");
    } else if (k1s_v_get_qty(v, NULL, st, &q)) {
        if (k1s_quantity_sign(&q) <= 0) {
            char *s = k1s_quantity_string(&q);
            add_s(v, NULL, E_INVALID, s, "must be greater than zero");
            free(s);
        } else {
            k1s_v_check_quantity_value(v, "storage", &q);
        }
    }
    pop(v, m);
    const char *sc = jstr(spec, "storageClassName");
    if (sc && *sc)
        k1s_v_check_fmt(v, "storageClassName", k1s_is_dns1123_subdomain, sc);
    const char *vm = jstr(spec, "volumeMode");
    if (vm && !IN(vm, vmodes))
        NOTSUPP(v, "volumeMode", vm, vmodes);
    static const char *const refs[] = {"dataSource", "dataSourceRef"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *ds = jobj(spec, refs[k]);
        if (!ds)
            continue;
        size_t md = push(v, refs[k]);
        if (!*jstr0(ds, "name"))
            add(v, "name", E_REQUIRED, NULL, "");
        if (!*jstr0(ds, "kind"))
            add(v, "kind", E_REQUIRED, NULL, "");
        const char *g = jstr0(ds, "apiGroup");
        if (!*g && strcmp(jstr0(ds, "kind"), "PersistentVolumeClaim"))
            add_s(v, NULL, E_INVALID, jstr0(ds, "kind"),
                  "must be 'PersistentVolumeClaim' when referencing the default apiGroup");
        if (*g)
            k1s_v_check_fmt(v, "apiGroup", k1s_is_dns1123_subdomain, g);
        pop(v, md);
    }
}

void k1s_v_check_pv(vctx_t *v, const k1s_resource_t *r, const json_t *pv, const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, pv, old);
    k1s_v_meta_create(v, r, pv);
    const json_t *spec = jobj(pv, "spec"), *x;
    size_t m = push(v, "spec");
    static const char *const modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                        "ReadWriteOncePod"};
    const json_t *am = jarr(spec, "accessModes");
    if (!jlen(am))
        add(v, "accessModes", E_REQUIRED, NULL, "");
    bool rwop = false, other = false;
    ARR_EACH(am, i, x)
    {
        const char *mode = json_is_string(x) ? json_string_value(x) : "";
        if (!IN(mode, modes))
            NOTSUPP(v, "accessModes", mode, modes);
        if (!strcmp(mode, "ReadWriteOncePod"))
            rwop = true;
        else if (IN(mode, modes))
            other = true;
    }
    if (rwop && other)
        add(v, "accessModes", E_FORBIDDEN, NULL,
            "may not use ReadWriteOncePod with other access modes");
    const json_t *cap = jobj(spec, "capacity");
    if (!jlen(cap))
        add(v, "capacity", E_REQUIRED, NULL, "");
    if (!jget(cap, "storage") || jlen(cap) > 1) {
        k1s_buf_t b = K1S_BUF_INIT;
        k1s_buf_puts(&b, "core.ResourceList{");
        const char *k;
        const json_t *val;
        size_t i = 0;
        OBJ_EACH(cap, k, val)
        {
            char *s = json_is_string(val) ? k1s_quantity_canonical(json_string_value(val)) : NULL;
            k1s_buf_printf(&b, "%s\"%s\":\"%s\"", i++ ? ", " : "", k, s ? s : "");
            free(s);
        }
        k1s_buf_putc(&b, '}');
        static const char *const st[] = {"storage"};
        k1s_buf_t d = K1S_BUF_INIT;
        k1s_buf_puts(&d, "supported values: \"storage\"");
        add(v, "capacity", E_NOTSUPPORTED, jlen(cap) ? b.data : "core.ResourceList(nil)", d.data);
        (void)st;
        k1s_buf_free(&b);
        k1s_buf_free(&d);
    }
    const char *k;
    const json_t *val;
    OBJ_EACH(cap, k, val)
    {
        size_t mc = push(v, "capacity");
        push_key(v, k);
        k1s_quantity_t q;
        if (k1s_v_get_qty(v, NULL, val, &q) && k1s_quantity_sign(&q) <= 0) {
            char *s = k1s_quantity_string(&q);
            if (k1s_quantity_sign(&q) < 0) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%lld", (long long)k1s_quantity_value(&q));
                add(v, NULL, E_INVALID, buf, "must be a valid resource quantity");
            }
            add_s(v, NULL, E_INVALID, s, "must be greater than zero");
            free(s);
        }
        pop(v, mc);
    }
    const char *rp = jstr(spec, "persistentVolumeReclaimPolicy");
    static const char *const rps[] = {"Delete", "Recycle", "Retain"};
    if (rp && *rp && !IN(rp, rps))
        NOTSUPP(v, "persistentVolumeReclaimPolicy", rp, rps);
    int types = 0;
    for (size_t t = 0; t < K1S_ARRAY_SIZE(volume_types); t++)
        if (jobj(spec, volume_types[t].key))
            types++;
    if (jobj(spec, "local"))
        types++;
    if (types == 0)
        add(v, NULL, E_REQUIRED, NULL, "must specify a volume type");
    const char *sc = jstr(spec, "storageClassName");
    if (sc && *sc)
        k1s_v_check_fmt(v, "storageClassName", k1s_is_dns1123_subdomain, sc);
    const char *vm = jstr(spec, "volumeMode");
    static const char *const vmodes[] = {"Block", "Filesystem"};
    if (vm && !IN(vm, vmodes))
        NOTSUPP(v, "volumeMode", vm, vmodes);
    pop(v, m);
}

/* ------------------------------------------------------------------------------------------ */
/* CSINode (pkg/apis/storage/validation: ValidateCSINode)                                     */
/* ------------------------------------------------------------------------------------------ */

/* ValidateCSIDriverName */
static void check_csi_driver_name(vctx_t *v, const char *child, const char *name)
{
    if (!name || !*name) {
        add(v, child, E_REQUIRED, NULL, NULL);
        return;
    }
    if (strlen(name) > 63) {
        add_toolong(v, child, 63);
        return;
    }
    char *lower = k1s_xstrdup(name);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *msgs[K1S_VALIDATE_MAX_MSGS];
    int n = k1s_is_dns1123_subdomain(lower, msgs);
    for (int i = 0; i < n; i++)
        add_s(v, child, E_INVALID, name, msgs[i]);
    free(lower);
}

/* %#v of a storage.CSINodeDriver (the Allocatable pointer shown as its count). */
static char *go_csinode_driver(const json_t *d)
{
    k1s_buf_t b = K1S_BUF_INIT;
    k1s_buf_puts(&b, "storage.CSINodeDriver{Name:");
    k1s_v_go_quote(&b, jstr0(d, "name"));
    k1s_buf_puts(&b, ", NodeID:");
    k1s_v_go_quote(&b, jstr0(d, "nodeID"));
    k1s_buf_puts(&b, ", TopologyKeys:");
    k1s_v_go_strings(&b, jarr(d, "topologyKeys"));
    long long count;
    if (jint(jobj(d, "allocatable"), "count", &count))
        k1s_buf_printf(&b, ", Allocatable:&storage.VolumeNodeResources{Count:%lld}}", count);
    else if (jobj(d, "allocatable"))
        k1s_buf_puts(&b, ", Allocatable:&storage.VolumeNodeResources{Count:(*int32)(nil)}}");
    else
        k1s_buf_puts(&b, ", Allocatable:(*storage.VolumeNodeResources)(nil)}");
    return k1s_buf_steal(&b);
}

/* ValidateCSINode, and ValidateCSINodeUpdate: a driver entry is never changed in place (the
 * kubelet removes a driver and adds it again when it re-registers). */
void k1s_v_check_csinode(vctx_t *v, const k1s_resource_t *r, const json_t *obj, const json_t *old)
{
    if (old)
        k1s_v_meta_update(v, r, obj, old);
    else
        k1s_v_meta_create(v, r, obj);
    size_t m = push(v, "spec");
    size_t md = push(v, "drivers");
    json_t *seen = json_object();
    const json_t *d;
    ARR_EACH(jarr(jobj(obj, "spec"), "drivers"), i, d)
    {
        size_t mi = push_idx(v, i);
        const char *name = jstr(d, "name");
        check_csi_driver_name(v, "name", name);
        const char *node_id = jstr(d, "nodeID");
        if (!node_id || !*node_id)
            add(v, "nodeID", E_REQUIRED, NULL, NULL);
        else if (strlen(node_id) > 192)
            add_toolong(v, "nodeID", 192);
        long long count;
        if (jint(jobj(d, "allocatable"), "count", &count) && count < 0)
            add_i(v, "allocatable.count", E_INVALID, count, "must be greater than or equal to 0");
        if (name && json_object_get(seen, name))
            add_s(v, "name", E_DUPLICATE, name, NULL);
        if (name)
            json_object_set_new(seen, name, json_true());
        json_t *keys = json_object();
        const json_t *k;
        ARR_EACH(jarr(d, "topologyKeys"), j, k)
        {
            const char *key = json_string_value(k);
            if (!key || !*key)
                add(v, NULL, E_REQUIRED, NULL, NULL);
            else if (json_object_get(keys, key))
                add_s(v, NULL, E_DUPLICATE, key, NULL);
            if (key)
                json_object_set_new(keys, key, json_true());
            k1s_v_check_fmt(v, NULL, k1s_is_qualified_name, key);
        }
        json_decref(keys);
        pop(v, mi);
    }
    json_decref(seen);
    pop(v, md);
    pop(v, m);
    const json_t *od, *nd;
    ARR_EACH(jarr(jobj(old, "spec"), "drivers"), i, od)
    {
        ARR_EACH(jarr(jobj(obj, "spec"), "drivers"), j, nd)
        {
            if (!k1s_streq(jstr(od, "name"), jstr(nd, "name")) || json_equal(od, nd))
                continue;
            char *val = go_csinode_driver(nd);
            add(v, "CSINodeDriver", E_INVALID, val, "field is immutable");
            free(val);
        }
    }
}
