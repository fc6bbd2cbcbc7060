/* The Kubernetes version k1s serves, as reported by /version. */
#ifndef K1S_API_VERSION_H
#define K1S_API_VERSION_H

#ifndef K1S_VERSION
#define K1S_VERSION "dev"
#endif
#define K1S_KUBE_MAJOR "1"
#define K1S_KUBE_MINOR "32"
#define K1S_KUBE_VERSION "v1.32.0"
#define K1S_KUBE_GIT_VERSION "v1.32.0+k1s"

#endif
