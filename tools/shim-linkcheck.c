/*
 * Built by `make` as build/shim-linkcheck, never run: the shim's entry point
 * linked with --gc-sections against libc, libm and SHIM_LIBS only (see the
 * Makefile). The link fails if code the shim can reach calls into any other
 * library, which a running shim has unmapped (src/runtime/shim-trim.c).
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return k1s_cmd_shim(argc, argv);
}
