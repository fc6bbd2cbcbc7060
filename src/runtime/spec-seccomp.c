/*
 * containerd's RuntimeDefault seccomp profile, written as data: the syscalls
 * every container may make, plus the ones allowed only with a capability in
 * the bounding set, the socket/personality argument rules and the clone
 * namespace-flag rule (from containerd's contrib/seccomp). Errno for everything
 * else, ENOSYS for clone3 so that libcs fall back to clone.
 */
#include "runtime/spec.h"

#include <errno.h>

static const char *const allowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lsm_get_self_attr",
    "lsm_list_modules",
    "lsm_set_self_attr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "map_shadow_stack",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
};

/* Syscalls allowed when the bounding set holds a capability. */
static const struct {
    const char *cap;
    const char *names[24];
} by_cap[] = {
    {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
    {"CAP_SYS_ADMIN",
     {"bpf",           "clone",         "clone3",      "fanotify_init",   "fsconfig",
      "fsmount",       "fsopen",        "fspick",      "lookup_dcookie",  "mount",
      "mount_setattr", "move_mount",    "open_tree",   "perf_event_open", "quotactl",
      "quotactl_fd",   "setdomainname", "sethostname", "setns",           "syslog",
      "umount",        "umount2",       "unshare"}},
    {"CAP_SYS_BOOT", {"reboot"}},
    {"CAP_SYS_CHROOT", {"chroot"}},
    {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
    {"CAP_SYS_PACCT", {"acct"}},
    {"CAP_SYS_PTRACE",
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
    {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
    {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
    {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
    {"CAP_SYS_NICE", {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
    {"CAP_SYSLOG", {"syslog"}},
    {"CAP_BPF", {"bpf"}},
    {"CAP_PERFMON", {"perf_event_open"}},
};

static json_t *names_array(const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && names[i]; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *rule(json_t *names, const char *action, json_t *args)
{
    json_t *r = json_object();
    json_object_set_new(r, "names", names);
    json_object_set_new(r, "action", json_string(action));
    if (args)
        json_object_set_new(r, "args", args);
    return r;
}

static json_t *arg1(unsigned index, uint64_t value, uint64_t value2, const char *op)
{
    json_t *a = json_object();
    json_object_set_new(a, "index", json_integer(index));
    json_object_set_new(a, "value", json_integer((json_int_t)value));
    if (value2)
        json_object_set_new(a, "valueTwo", json_integer((json_int_t)value2));
    json_object_set_new(a, "op", json_string(op));
    json_t *args = json_array();
    json_array_append_new(args, a);
    return args;
}

static bool has_cap(const json_t *bounding, const char *cap)
{
    size_t i;
    json_t *v;
    json_array_foreach(bounding, i, v)
    {
        if (k1s_streq(json_string_value(v), cap))
            return true;
    }
    return false;
}

json_t *k1s_rt_seccomp_default(const json_t *bounding)
{
    json_t *p = json_object();
    json_object_set_new(p, "defaultAction", json_string("SCMP_ACT_ERRNO"));
    json_t *arches = json_array();
#if defined(__x86_64__)
    json_array_append_new(arches, json_string("SCMP_ARCH_X86_64"));
    json_array_append_new(arches, json_string("SCMP_ARCH_X86"));
    json_array_append_new(arches, json_string("SCMP_ARCH_X32"));
#elif defined(__aarch64__)
    json_array_append_new(arches, json_string("SCMP_ARCH_ARM"));
    json_array_append_new(arches, json_string("SCMP_ARCH_AARCH64"));
#endif
    json_object_set_new(p, "architectures", arches);

    json_t *sc = json_array();
    json_array_append_new(
        sc, rule(names_array(allowed, K1S_ARRAY_SIZE(allowed)), "SCMP_ACT_ALLOW", NULL));
    /* socket: every family but AF_ALG (38) and AF_VSOCK (40). */
    static const char *const socket_name[] = {"socket"};
    json_array_append_new(
        sc, rule(names_array(socket_name, 1), "SCMP_ACT_ALLOW", arg1(0, 38, 0, "SCMP_CMP_LT")));
    json_array_append_new(
        sc, rule(names_array(socket_name, 1), "SCMP_ACT_ALLOW", arg1(0, 39, 0, "SCMP_CMP_EQ")));
    json_array_append_new(
        sc, rule(names_array(socket_name, 1), "SCMP_ACT_ALLOW", arg1(0, 40, 0, "SCMP_CMP_GT")));
    /* personality: the harmless personas only. */
    static const char *const pers_name[] = {"personality"};
    static const uint64_t personas[] = {0x0, 0x0008, 0x20000, 0x20008, 0xffffffff};
    for (size_t i = 0; i < K1S_ARRAY_SIZE(personas); i++)
        json_array_append_new(sc, rule(names_array(pers_name, 1), "SCMP_ACT_ALLOW",
                                       arg1(0, personas[i], 0, "SCMP_CMP_EQ")));
    /* Kernels >= 4.8 (all k1s supports) make ptrace safe under seccomp. */
    static const char *const ptrace_names[] = {"process_vm_readv", "process_vm_writev", "ptrace"};
    json_array_append_new(sc, rule(names_array(ptrace_names, 3), "SCMP_ACT_ALLOW", NULL));
#if defined(__x86_64__)
    static const char *const arch_names[] = {"arch_prctl", "modify_ldt"};
    json_array_append_new(sc, rule(names_array(arch_names, 2), "SCMP_ACT_ALLOW", NULL));
#elif defined(__aarch64__)
    static const char *const arch_names[] = {"arm_fadvise64_64", "arm_sync_file_range",
                                             "sync_file_range2", "breakpoint",
                                             "cacheflush",       "set_tls"};
    json_array_append_new(sc, rule(names_array(arch_names, 6), "SCMP_ACT_ALLOW", NULL));
#endif
    bool admin = false;
    for (size_t i = 0; i < K1S_ARRAY_SIZE(by_cap); i++) {
        if (!has_cap(bounding, by_cap[i].cap))
            continue;
        if (!strcmp(by_cap[i].cap, "CAP_SYS_ADMIN"))
            admin = true;
        json_array_append_new(sc, rule(names_array(by_cap[i].names, 24), "SCMP_ACT_ALLOW", NULL));
    }
    if (!admin) {
        /* clone without namespace flags; clone3 cannot be filtered on its flags: ENOSYS. */
        static const char *const clone_name[] = {"clone"};
        const uint64_t nsflags = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 |
                                 0x40000000 | 0x02000000;
        json_array_append_new(sc, rule(names_array(clone_name, 1), "SCMP_ACT_ALLOW",
                                       arg1(0, nsflags, 0, "SCMP_CMP_MASKED_EQ")));
        static const char *const clone3_name[] = {"clone3"};
        json_t *r = rule(names_array(clone3_name, 1), "SCMP_ACT_ERRNO", NULL);
        json_object_set_new(r, "errnoRet", json_integer(ENOSYS));
        json_array_append_new(sc, r);
    }
    json_object_set_new(p, "syscalls", sc);
    return p;
}
