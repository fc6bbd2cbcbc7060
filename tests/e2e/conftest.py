"""Shared fixtures for the end-to-end tests.

Each test session starts the real `k1s server` (the ASan+UBSan build unless
K1S_BIN says otherwise) in a temporary data directory on a free loopback
port, and drives it with real clients: the kubectl on this machine, Debian's
kubectl 1.20 (unpacked privately by tools/deps.sh), python3-kubernetes and
plain HTTPS.
"""
import json
import re
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K1S_BIN = os.environ.get("K1S_BIN", os.path.join(ROOT, "build", "asan", "k1s"))
K1S_RELEASE_BIN = os.path.join(ROOT, "build", "k1s")
KUBECTL = shutil.which("kubectl")
KUBECTL_120 = os.path.join(ROOT, "build", "deps", "kubectl-1.20", "usr", "bin", "kubectl")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `k1s server` in its own data directory."""

    def __init__(self, tmp, extra_args=(), binary=None):
        self.binary = binary or K1S_BIN
        self.tmp = tmp
        self.data_dir = os.path.join(tmp, "data")
        self.kubeconfig = os.path.join(tmp, "kubeconfig.yaml")
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(tmp, "server.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.kubectl_binary = None  # default: the newest kubectl on the machine

    def start(self, wait=True):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.log = open(self.log_path, "ab")
        cfg = os.path.join(self.tmp, "config.yaml")
        if not os.path.exists(cfg):
            open(cfg, "w").close()
        args = [self.binary, "server", "--data-dir", self.data_dir, "--bind-address", "127.0.0.1",
                "--https-listen-port", str(self.port), "--write-kubeconfig", self.kubeconfig,
                "--config", os.path.join(self.tmp, "config.yaml"),
                "--disable-agent"] + self.extra_args  # hollow nodes only; --disable-agent=false undoes
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        ctx = ssl._create_unverified_context()
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("k1s server exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with urllib.request.urlopen(self.url + "/readyz", context=ctx, timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("k1s server not ready after %ss:\n%s" % (timeout, self.read_log()))

    def stop(self, sig=signal.SIGTERM, check=True):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        rc = self.proc.returncode
        self.proc = None
        if check and sig in (signal.SIGTERM, signal.SIGINT):
            log = self.read_log()
            assert "AddressSanitizer" not in log and "runtime error:" not in log, log[-5000:]
            assert rc == 0, "k1s server exited with %d:\n%s" % (rc, log[-5000:])

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def ca(self):
        return os.path.join(self.data_dir, "server", "tls", "server-ca.crt")

    def admin_cert(self):
        tls = os.path.join(self.data_dir, "server", "tls")
        return os.path.join(tls, "client-admin.crt"), os.path.join(tls, "client-admin.key")

    def ssl_context(self, client_cert=True):
        ctx = ssl.create_default_context(cafile=self.ca())
        if client_cert:
            ctx.load_cert_chain(*self.admin_cert())
        return ctx

    def request(self, method, path, body=None, headers=None, client_cert=True, timeout=30):
        """Plain HTTPS request; returns (status, headers, body bytes)."""
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if data is not None and "Content-Type" not in (headers or {}):
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(client_cert), timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method, path, body=None, headers=None, **kw):
        status, hdrs, data = self.request(method, path, body, headers, **kw)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode(errors="replace")

    def kubectl(self, *args, input=None, check=True, binary=None, env=None, timeout=60):
        """Runs kubectl against this server; returns CompletedProcess (text)."""
        e = dict(os.environ)
        e["KUBECONFIG"] = self.kubeconfig
        e["HOME"] = self.tmp  # private kubectl cache
        if env:
            e.update(env)
        p = subprocess.run([binary or self.kubectl_binary or KUBECTL] + list(args), input=input,
                           capture_output=True,
                           text=True, env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\nstdout: %s\nstderr: %s" %
                                 (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p


@pytest.fixture(scope="session")
def server():
    tmp = tempfile.mkdtemp(prefix="k1s-e2e-")
    s = Server(tmp).start()
    yield s
    s.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def fresh_server():
    """A server of its own, for tests that restart or break it."""
    tmp = tempfile.mkdtemp(prefix="k1s-e2e-")
    s = Server(tmp)
    yield s
    s.stop(check=False)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def ns(server, request):
    """A namespace of the test's own, deleted afterwards."""
    name = "t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    server.kubectl("create", "-f", "-", input='{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}' % name)
    yield name
    server.kubectl("delete", "namespace", name, "--wait=false", check=False)


_minor_cache = {}


def kubectl_minor(binary):
    """The minor version of a kubectl binary (32 for v1.32.4)."""
    if binary not in _minor_cache:
        out = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True,
                             text=True).stdout
        _minor_cache[binary] = int(re.sub(r"\D", "", json.loads(out)["clientVersion"]["minor"]))
    return _minor_cache[binary]


@pytest.fixture(params=["kubectl", "kubectl-1.20"])
def kubectl_version(request, server):
    """Runs a test with the newest kubectl and again with Debian's kubectl 1.20; yields the
    minor version of the kubectl in use (on a machine whose only kubectl is Debian's, both
    runs use 1.20)."""
    binary = KUBECTL
    if request.param == "kubectl-1.20":
        if not os.path.exists(KUBECTL_120):
            pytest.skip("Debian's kubectl 1.20 not unpacked (run make deps)")
        binary = KUBECTL_120
    server.kubectl_binary = binary
    yield kubectl_minor(binary)
    server.kubectl_binary = None


@pytest.fixture
def hollow_nodes():
    """Hollow nodes (tests/e2e/hollow.py) that play kubelet over the API:
    hollow_nodes(server, n, **node_opts) returns a started HollowCluster of n nodes; every
    cluster is stopped, and its pods, Nodes, Leases and CSRs deleted, after the test."""
    from hollow import HollowCluster
    clusters = []

    def start(server, n, prefix="hollow", **node_opts):
        c = HollowCluster(server.url, server.ca(), *server.admin_cert(), prefix=prefix)
        clusters.append(c)
        c.add_nodes(n, **node_opts)
        return c
    yield start
    for c in clusters:
        c.close()


# Modules that run containers, network namespaces and agents on this host. Under pytest-xdist
# (`make test` runs two workers) they all go to one worker, one after another, so that two of
# them never compete for the host's runc, cgroups and mounts; every other module is a group of
# its own, so a module's tests stay together and share their module-scoped fixtures.
NODE_MODULES = {"test_agent", "test_cni", "test_images", "test_pods", "test_pods_more",
                "test_runtime", "test_stream", "test_metrics", "test_pressure"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        group = "node" if module in NODE_MODULES else module
        item.add_marker(pytest.mark.xdist_group(group))
