/*
 * Internals shared by cni.c (configuration, plugin input and output, the
 * attachment cache) and cni-exec.c (running plugin chains on the loop).
 */
#ifndef K1S_NETWORK_CNI_INT_H
#define K1S_NETWORK_CNI_INT_H

#include <jansson.h>

#include "network/cni.h"

#define CNI_LOOPBACK_NAME "cni-loopback"
#define CNI_OUTPUT_MAX (1 << 20) /* a plugin printing more than this is broken */
#define CNI_PLUGINS_MAX 32       /* plugins in one network config */

struct k1s_cni {
    char *conf_dir, *bin_dirs, *cache_dir;
    int timeout_ms;
    json_t *net; /* the node's conflist, normalised to {name, cniVersion, plugins: [...]}; NULL
                    until the conf dir has one */
    char *net_json;
    json_t *lo; /* the built-in loopback conflist */
};

/* The loaded network's name, or k1s's default one (cbr0) while none is loaded. */
const char *cni_net_name(const k1s_cni_t *cni);
/* Reads the first network config of dir; a new normalised conflist or NULL with err set. */
json_t *cni_conf_load_dir(const char *dir, char **file_out, k1s_err_t *err);
/* Turns a parsed .conf or .conflist into a conflist with a checked plugins array. */
json_t *cni_conf_normalize(json_t *conf, const char *file, k1s_err_t *err);
/*
 * The stdin config for plugin idx of a conflist: the plugin's object plus the
 * list's name and cniVersion, prevResult (if non-NULL) and
 * runtimeConfig.portMappings if the plugin has that capability and ports is a
 * non-empty array. Returns a new reference.
 */
json_t *cni_plugin_conf(json_t *list, size_t idx, json_t *prev, json_t *ports);
/* The port mappings as the portMappings capability wants them; a new array. */
json_t *cni_ports_json(const k1s_cni_port_t *ports, size_t n);
/*
 * Explains a failed plugin run: the error object on stdout ({"code","msg",
 * "details"}), else the last line of stderr, else the exit status. Returns a
 * new string.
 */
char *cni_plugin_error_msg(const char *out, size_t out_len, const char *err_out, int status);
/* True if the CNI version string v ("0.4.0", "1.0.0") is at least maj.min.patch. */
bool cni_version_ge(const char *v, int maj, int min, int patch);
/* Path of an attachment's cache file (a new string). */
char *cni_cache_path(const char *cache_dir, const char *net, const char *id, const char *ifname);
/* Reads a cache file: a new object, or NULL if there is none (or it is unreadable). */
json_t *cni_cache_read(const char *path);
/*
 * The cache entry of the pod network attachment (id, ifname): at *path_io
 * (a malloc'd path), else any network's entry for it, a config made under
 * another network name; *path_io is then replaced by the path found.
 */
json_t *cni_cache_find(const char *cache_dir, const char *id, const char *ifname, char **path_io);
int cni_cache_write(const char *path, json_t *entry, k1s_err_t *err);

#endif
