"""Helpers for the container runtime tests: a busybox root filesystem built from
/usr/bin/busybox (busybox-static), and `k1s ctr` run against a private data directory,
OCI runtime root and cgroup parent, all removed afterwards (containers, cgroups, dirs)."""
import json
import os
import secrets
import shutil
import subprocess

from conftest import K1S_BIN

BUSYBOX = "/usr/bin/busybox"
RUNC = shutil.which("runc") or "/usr/sbin/runc"


def build_busybox_rootfs(path):
    """A minimal root filesystem: busybox and its applets in /bin, the usual empty dirs."""
    os.chmod(path, 0o755)  # temp dirs are 0700: other users could not reach /bin
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc", "root", "var", "run"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
        os.chmod(os.path.join(path, d), 0o1777 if d == "tmp" else 0o755)
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        link = os.path.join(path, "bin", a)
        if a != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    return path


def cgroup_roots():
    """Mount points of the cgroup hierarchies (v1 controllers, or the v2 root)."""
    roots = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            fstype = parts[sep + 1]
            if fstype in ("cgroup", "cgroup2"):
                roots.append(parts[4])
    return roots


class Ctr:
    """`k1s ctr` on a private data dir, runtime root and cgroup parent."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.data_dir = os.path.join(tmp, "data")
        self.runtime_root = os.path.join(tmp, "runc")
        self.cgroup_parent = "/k1s-test-" + secrets.token_hex(4)
        self.procs = []

    def base_args(self):
        return ["--data-dir", self.data_dir, "--runtime-root", self.runtime_root]

    def env(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        return env

    def run_cmd(self, sub, *args, check=True, timeout=60, input=None):
        cmd = [K1S_BIN, "ctr", sub] + self.base_args() + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=self.env(), input=input)
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
        return p

    def run(self, rootfs, cid, *cmd, opts=(), wait=False, check=True, timeout=60):
        args = ["--rootfs", rootfs, "--id", cid,
                "--cgroups-path", "%s/%s" % (self.cgroup_parent, cid)] + list(opts)
        if wait:
            args.append("--wait")
        return self.run_cmd("run", *(args + ["--"] + list(cmd)), check=check, timeout=timeout)

    def popen(self, sub, *args, stdin=False):
        p = subprocess.Popen([K1S_BIN, "ctr", sub] + self.base_args() + list(args),
                             stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env())
        self.procs.append(p)
        return p

    def inspect(self, cid):
        return json.loads(self.run_cmd("inspect", cid).stdout)

    def ps(self):
        return json.loads(self.run_cmd("ps", "--json").stdout)

    def log_path(self, cid):
        return os.path.join(self.data_dir, "agent", "containers", cid, "0.log")

    def cleanup(self):
        """Kills and removes every container, then removes our cgroups and runtime root."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for s in (p.stdin, p.stdout, p.stderr):
                if s:
                    s.close()
        if os.path.isdir(os.path.join(self.data_dir, "agent", "containers")):
            ids = self.run_cmd("ps", "-q", check=False).stdout.split()
            if ids:
                self.run_cmd("rm", "-f", *ids, check=False)
        # Anything the runtime still knows about (a test that failed half-way).
        if os.path.isdir(self.runtime_root):
            p = subprocess.run([RUNC, "--root", self.runtime_root, "list", "-q"],
                               capture_output=True, text=True)
            for cid in p.stdout.split():
                subprocess.run([RUNC, "--root", self.runtime_root, "delete", "--force", cid],
                               capture_output=True)
            shutil.rmtree(self.runtime_root, ignore_errors=True)
        for root in cgroup_roots():
            parent = os.path.join(root, self.cgroup_parent.lstrip("/"))
            if os.path.isdir(parent):
                for d in sorted(os.listdir(parent), reverse=True):
                    sub = os.path.join(parent, d)
                    if os.path.isdir(sub):
                        try:
                            os.rmdir(sub)
                        except OSError:
                            pass
                try:
                    os.rmdir(parent)
                except OSError:
                    pass

    def leftover_cgroups(self):
        return [r for r in cgroup_roots()
                if os.path.isdir(os.path.join(r, self.cgroup_parent.lstrip("/")))]
