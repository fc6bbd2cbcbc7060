/*
 * libFuzzer target for src/network/cni.c: what CNI plugins print (results
 * and error objects), network config files a user drops into the conf dir,
 * the attachment cache read back after a restart, and hostPort specs. A
 * parsed result must re-parse from its own JSON to the same addresses.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c17 -D_GNU_SOURCE -Isrc \
 *     $(pkg-config --cflags jansson) tests/fuzz/cni.c src/network/cni.c \
 *     src/lib/buf.c src/lib/err.c src/lib/log.c src/lib/util.c \
 *     $(pkg-config --libs jansson) -o /tmp/fuzz-cni
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "network/cni-int.h"

static void check_result(const char *s, size_t n)
{
    k1s_cni_result_t *r;
    k1s_err_t err = {0};
    if (k1s_cni_result_parse(s, n, &r, &err) < 0)
        return;
    char a[64], b[64];
    const char *ip = k1s_cni_result_pod_ip(r, 0, a, sizeof(a));
    k1s_cni_result_t *again;
    if (k1s_cni_result_parse(r->json, strlen(r->json), &again, &err) < 0)
        abort();
    const char *ip2 = k1s_cni_result_pod_ip(again, 0, b, sizeof(b));
    if ((ip == NULL) != (ip2 == NULL) || (ip && strcmp(ip, ip2)) || r->n_ips != again->n_ips)
        abort();
    k1s_cni_result_free(again);
    k1s_cni_result_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    check_result(s, size);
    free(cni_plugin_error_msg(s, size, s, 1));
    k1s_err_t err = {0};
    json_t *conf = json_loadb(s, size, 0, NULL);
    json_t *list = cni_conf_normalize(conf, "fuzz", &err);
    if (list) {
        json_t *ports = cni_ports_json(NULL, 0);
        size_t n = json_array_size(json_object_get(list, "plugins"));
        for (size_t i = 0; i < n; i++)
            json_decref(cni_plugin_conf(list, i, conf, ports));
        json_decref(ports);
    }
    json_decref(list);
    json_decref(conf);
    char buf[96];
    k1s_cni_port_t port;
    if (k1s_cni_port_parse(s, buf, sizeof(buf), &port, &err) == 0 &&
        (port.host_port < 1 || port.host_port > 65535 || port.container_port < 1 ||
         port.container_port > 65535))
        abort();
    free(s);
    return 0;
}
