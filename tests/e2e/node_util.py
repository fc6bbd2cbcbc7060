"""A real node for end-to-end tests: a network namespace playing the machine (loopback plus a
veth pair with 10.99.N.2/24 and a default route that leads nowhere off the machine), a local
registry serving a busybox image, and `k1s server` with its embedded agent, all inside that
namespace. The test process itself enters the namespace (setns) for the fixture's lifetime, so
kubectl, urllib and the servers it starts see the node's network; it leaves it afterwards.

Teardown deletes every pod, then stops the server and removes whatever is left on the host
(shims, runc containers, overlay mounts, cgroups, network namespaces), even after a failure."""
import ctypes
import glob
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import Server
import images_util

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), check=check, capture_output=True, text=True)


class NodeNetns:
    """A named network namespace with lo up and 10.99.<n>.2/24 on a veth whose peer also lives
    inside (no route leaves the namespace)."""

    def __init__(self, name, n):
        self.name, self.addr = name, "10.99.%d.2" % n
        _ip("netns", "del", name, check=False)
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer")
        _ip("-n", name, "addr", "add", self.addr + "/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "eth0-peer", "up")
        _ip("-n", name, "route", "add", "default", "via", "10.99.%d.1" % n, "dev", "eth0", "onlink")
        self.host_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        self.fd = os.open("/run/netns/" + name, os.O_RDONLY)

    def enter(self):
        _setns(self.fd)

    def leave(self):
        _setns(self.host_fd)

    def remove(self):
        self.leave()
        os.close(self.fd)
        os.close(self.host_fd)
        _ip("netns", "del", self.name, check=False)


def _cleanup_host(data_dir):
    """Whatever a failed test left behind: shims and their containers, mounts, the pods' logs
    and cgroups."""
    agent = os.path.join(data_dir, "agent")
    out = subprocess.run(["pgrep", "-f", "k1s shim .*" + agent], capture_output=True, text=True)
    for pid in out.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    for state in glob.glob(os.path.join(agent, "containers", "*")):
        cid = os.path.basename(state)
        subprocess.run(["runc", "--root", "/run/k1s/runc", "delete", "--force", cid],
                       capture_output=True)
    with open("/proc/self/mounts") as f:
        mounts = [l.split()[1] for l in f if agent in l]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    # the pods' logs and cgroups, when the agent went before it could remove them
    uids = set(os.path.basename(d) for d in glob.glob(os.path.join(agent, "pods", "*")))
    for path in glob.glob(os.path.join(agent, "containers", "*", "*")):
        try:
            with open(path, errors="replace") as f:
                text = f.read(65536)
        except OSError:
            continue
        for part in text.replace('"', " ").split():
            if part.startswith("io.kubernetes.pod.uid="):
                uids.add(part.split("=", 1)[1])
    for uid in uids:
        for d in glob.glob("/var/log/pods/*_%s" % uid):
            shutil.rmtree(d, ignore_errors=True)
        for d in (glob.glob("/sys/fs/cgroup/*/kubepods/*/pod%s" % uid) +
                  glob.glob("/sys/fs/cgroup/*/kubepods/pod%s" % uid) +
                  glob.glob("/sys/fs/cgroup/kubepods/*/pod%s" % uid) +
                  glob.glob("/sys/fs/cgroup/kubepods/pod%s" % uid)):
            try:
                os.rmdir(d)
            except OSError:
                pass


class PodCluster:
    """The node namespace, its registry with `image`, and a server with an embedded agent."""

    def __init__(self, tmp, n=7, sync_frequency=2, server_args=()):
        self.tmp = tmp
        self.node = NodeNetns("k1s-e2e-node%d" % n, n)
        self.registry = self.auth_registry = None
        self.server = None
        self.n = n
        self.nodes = []  # (netns, agent process, data dir) of add_node()
        try:
            self.node.enter()
            layout = self.layout = os.path.join(tmp, "layout")
            images_util.build_busybox_layout(layout, tag="1", cmd=("sh",))
            self.registry = images_util.Registry(os.path.join(tmp, "registry")).start()
            self.image = self.registry.push(layout, "k1stest/busybox:1")
            # a registry that wants a password (given by imagePullSecrets, not by the config)
            self.auth_registry = images_util.Registry(os.path.join(tmp, "registry-auth"),
                                                      user="edge", password="pw").start()
            self.private_image = self.auth_registry.push(layout, "k1stest/private:1")
            reg = os.path.join(tmp, "registries.yaml")
            with open(reg, "w") as f:
                f.write("mirrors:\n")
                for r in (self.registry, self.auth_registry):
                    f.write('  "%s":\n    endpoint:\n      - "http://%s"\n' % (r.host, r.host))
            # a link to a second node's namespace (see add_node): the server listens there too
            self.link_addr = "10.98.%d.1" % n
            self.server = Server(os.path.join(tmp, "srv"),
                                 ["--disable-agent=false", "--node-name", "e2e-node",
                                  "--private-registry", reg, "--bind-address", "0.0.0.0",
                                  "--tls-san", self.link_addr, "--node-ip", self.node.addr] +
                                 list(server_args))
            os.makedirs(self.server.tmp, exist_ok=True)
            if sync_frequency:  # configMap volumes re-read every 2 s, for the tests
                os.environ["K1S_SYNC_FREQUENCY"] = str(sync_frequency)
            try:
                self.server.start()
            finally:
                os.environ.pop("K1S_SYNC_FREQUENCY", None)
            self.wait(lambda: self.node_ready(), 60, "the node to be Ready")
        except BaseException:
            self.close()
            raise

    def kubectl(self, *args, check=True, input=None, timeout=60):
        p = subprocess.run(["kubectl", "--kubeconfig", self.server.kubeconfig] + list(args),
                           capture_output=True, text=True, input=input, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("kubectl %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
        return p

    def get(self, kind, name):
        p = self.kubectl("get", kind, name, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def node_ready(self):
        n = self.get("node", "e2e-node")
        return n and any(c["type"] == "Ready" and c["status"] == "True"
                         for c in n["status"].get("conditions", []))

    @staticmethod
    def wait(cond, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.3)
        raise AssertionError("timed out waiting for " + what)

    def apply(self, manifest):
        return self.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def pod_log_file(self, pod, container, restart=0):
        p = self.get("pod", pod)
        path = "/var/log/pods/default_%s_%s/%s/%d.log" % (pod, p["metadata"]["uid"], container,
                                                         restart)
        try:
            with open(path) as f:
                return "".join(l.split(" ", 3)[3] for l in f if l.count(" ") >= 3)
        except OSError:
            return ""

    def add_node(self, name, tmp, airgap=None, extra=()):
        """A second node: its own network namespace linked to the first by a veth pair
        (10.98.N.1 here, 10.98.N.2 there, nothing beyond), running `k1s agent`. airgap: image
        tarballs put in its agent/images before it starts."""
        ns = "k1s-e2e-%s" % name
        _ip("netns", "del", ns, check=False)
        _ip("netns", "add", ns)
        self.nodes.append((ns, None, None))
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.node.name, "link", "add", "to-" + name[-8:], "type", "veth", "peer",
            "name", "eth0", "netns", ns)
        _ip("-n", self.node.name, "addr", "add", self.link_addr + "/24", "dev", "to-" + name[-8:])
        _ip("-n", self.node.name, "link", "set", "to-" + name[-8:], "up")
        addr = "10.98.%d.2" % self.n
        _ip("-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "route", "add", "default", "via", self.link_addr, "dev", "eth0")
        data = os.path.join(tmp, "data-" + name)
        if airgap:
            os.makedirs(os.path.join(data, "agent", "images"), exist_ok=True)
            for path in airgap:
                shutil.copy(path, os.path.join(data, "agent", "images"))
        with open(os.path.join(self.server.data_dir, "server", "token")) as f:
            token = f.read().strip()
        log = open(os.path.join(tmp, "agent-%s.log" % name), "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        proc = subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + ns, self.server.binary, "agent", "--server",
             "https://%s:%d" % (self.link_addr, self.server.port), "--token", token,
             "--node-name", name, "--data-dir", data, "--config", "/dev/null"] + list(extra),
            stdout=log, stderr=subprocess.STDOUT, env=env)
        self.nodes[-1] = (ns, proc, data)
        return addr

    def close(self):
        if self.server and self.server.proc:
            try:
                self.kubectl("delete", "pods", "--all", "--all-namespaces", "--wait=true",
                             "--timeout=60s", check=False, timeout=90)
            except Exception:
                pass
        for ns, proc, data in self.nodes:
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if data:
                _cleanup_host(data)
            _ip("netns", "del", ns, check=False)
        if self.server and self.server.proc:
            self.server.stop(check=False)
        if self.server:
            _cleanup_host(self.server.data_dir)
        for r in (self.registry, self.auth_registry):
            if r:
                r.stop()
        self.node.remove()


@pytest.fixture(scope="module")
def pod_cluster(tmp_path_factory):
    # K1S_E2E_NODE_N: another namespace number, for runs side by side with other pod tests
    c = PodCluster(str(tmp_path_factory.mktemp("podcluster")),
                   n=int(os.environ.get("K1S_E2E_NODE_N", 7)))
    try:
        yield c
    finally:
        c.close()
