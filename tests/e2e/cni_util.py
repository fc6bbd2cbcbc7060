"""Helpers for the pod network tests (test_cni.py).

NetEnv makes a throwaway "node": a network namespace of its own in which
`k1s ctr net` runs (through `ip netns exec`), so cni0, the veths and the
iptables rules the CNI plugins make live there and never in the host's
namespace. Pod and client namespaces are made with `ip netns add` under one
random prefix; cleanup() removes every one of them, and any namespace k1s
itself pinned under the test's directory, also after a failure.
"""
import json
import os
import random
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K1S_BIN = os.environ.get("K1S_BIN", os.path.join(ROOT, "build", "asan", "k1s"))
CNI_BIN = "/usr/lib/cni"


def _env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def run(*cmd, check=True, timeout=60, input=None):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       env=_env(), input=input)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\nstdout: %s\nstderr: %s" %
                             (" ".join(map(str, cmd)), p.returncode, p.stdout, p.stderr))
    for out in (p.stdout, p.stderr):
        assert "AddressSanitizer" not in out and "runtime error:" not in out, out
    return p


class NetEnv:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="k1s-cni-")
        self.prefix = "k1st%06x" % random.randrange(1 << 24)
        self.data_dir = os.path.join(self.tmp, "data")
        self.netns_dir = os.path.join(self.tmp, "netns")
        self.names = []
        self.procs = []
        self.node = self.add_ns("node")
        self.sh(self.node, "ip", "link", "set", "lo", "up")

    # -- namespaces --
    def add_ns(self, suffix):
        name = "%s-%s" % (self.prefix, suffix)
        run("ip", "netns", "add", name)
        self.names.append(name)
        return name

    @staticmethod
    def path(name):
        return "/run/netns/" + name

    def sh(self, ns, *cmd, check=True, timeout=60):
        return run("ip", "netns", "exec", ns, *cmd, check=check, timeout=timeout)

    def spawn(self, ns, *cmd):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + [str(c) for c in cmd],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    # -- k1s --
    def k1s(self, *args, check=True, enter="ip"):
        """Runs `k1s ctr net ARGS` in the node namespace. enter="nsenter" joins
        only its network namespace, keeping the host's mount namespace (so
        namespaces k1s pins stay visible after it exits)."""
        base = [K1S_BIN, "ctr", "net"] + [str(a) for a in args] + ["--data-dir", self.data_dir]
        if enter == "nsenter":
            return run("nsenter", "--net=" + self.path(self.node), *base, check=check)
        return run("ip", "netns", "exec", self.node, *base, check=check)

    def add(self, pod_ns, pod, *extra, check=True, netns=None):
        p = self.k1s("add", "--id", pod.replace("/", "-"), "--pod", pod, "--netns",
                     netns or self.path(pod_ns), *extra, check=check)
        return json.loads(p.stdout) if check else p

    def pod_ip(self, result):
        for ip in result["ips"]:
            iface = result["interfaces"][ip["interface"]]
            if iface.get("sandbox"):
                return ip["address"].split("/")[0]
        raise AssertionError("no pod IP in %r" % result)

    def ipam_files(self):
        d = os.path.join(self.data_dir, "agent", "cni", "networks", "cbr0")
        if not os.path.isdir(d):
            return []
        return sorted(f for f in os.listdir(d) if f != "lock" and not f.startswith("last_reserved"))

    def cache_files(self):
        d = os.path.join(self.data_dir, "agent", "cni", "results")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def links(self, ns):
        return self.sh(ns, "ip", "-o", "link").stdout

    def ping(self, ns, ip):
        return self.sh(ns, "busybox", "ping", "-c", "3", "-w", "10", ip, check=False).returncode == 0

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.path.isdir(self.netns_dir):
            for n in os.listdir(self.netns_dir):
                path = os.path.join(self.netns_dir, n)
                subprocess.run(["umount", "-l", path], capture_output=True)
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
