/*
 * Kubelet settings given as k3s users give them: `--kubelet-arg name=value` (repeatable) on
 * `k1s agent` and `k1s server` (which passes them on to its embedded agent). The names and
 * value syntax are kubelet's flags:
 *
 *   eviction-hard=memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,
 *                 imagefs.available<15%,imagefs.inodesFree<5%   (replaces the defaults, as
 *                 kubelet's flag does: signals not listed have no threshold)
 *   eviction-pressure-transition-period=5m0s    (Go duration)
 *   image-gc-high-threshold=85, image-gc-low-threshold=80      (percent of the image filesystem)
 *   minimum-image-ttl-duration=2m0s             (an image younger than this is never collected)
 *
 * Other kubelet flags are accepted with a warning saying they have no effect here; a bad value
 * of a known one is an error, so that a typo stops the agent at start rather than leaving a
 * gateway without the protection its operator asked for.
 */
#ifndef K1S_AGENT_KUBELET_ARGS_H
#define K1S_AGENT_KUBELET_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Eviction signals (kubelet's names); imagefs is the filesystem of the image store. */
typedef enum {
    K1S_SIG_MEMORY_AVAILABLE,
    K1S_SIG_NODEFS_AVAILABLE,
    K1S_SIG_NODEFS_INODES_FREE,
    K1S_SIG_IMAGEFS_AVAILABLE,
    K1S_SIG_IMAGEFS_INODES_FREE,
    K1S_SIG_N
} k1s_evict_signal_t;

/* "memory.available", ... (static). */
const char *k1s_evict_signal_name(k1s_evict_signal_t s);

/* One hard threshold: signal < quantity, or signal < pct of capacity when pct > 0. */
typedef struct k1s_evict_threshold {
    bool set;
    double pct;        /* 0 < pct <= 1, or 0 for a quantity */
    uint64_t quantity; /* bytes (or inodes) */
} k1s_evict_threshold_t;

typedef struct k1s_kubelet_config {
    k1s_evict_threshold_t hard[K1S_SIG_N]; /* indexed by signal */
    int image_gc_high_pct;                 /* 85; 100 disables image GC */
    int image_gc_low_pct;                  /* 80 */
    int64_t min_image_ttl_s;               /* 120 */
    int64_t pressure_transition_s;         /* 300 */
} k1s_kubelet_config_t;

/* kubelet's defaults. */
void k1s_kubelet_config_default(k1s_kubelet_config_t *c);

/*
 * Parses the --kubelet-arg values (NULL-terminated; NULL is fine) over kubelet's defaults.
 * warnings (may be NULL) receives a new string naming the flags that have no effect, or NULL.
 * Returns 0, or -EINVAL with err saying which value is wrong and what is expected.
 */
int k1s_kubelet_config_parse(char *const *args, k1s_kubelet_config_t *out, char **warnings,
                             k1s_err_t *err);

/*
 * Parses an eviction-hard value ("memory.available<100Mi,nodefs.available<10%") into hard
 * (cleared first). 0 or -EINVAL with err set.
 */
int k1s_evict_thresholds_parse(const char *s, k1s_evict_threshold_t hard[K1S_SIG_N],
                               k1s_err_t *err);

#endif
