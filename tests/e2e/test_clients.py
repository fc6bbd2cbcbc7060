"""Every client the machine has, against one server.

- Every kubectl version the machine ships (the kubectl package keeps
  kubectl.1.27 ... kubectl.1.33 beside the binary `kubectl` resolves to) and
  Debian's kubectl 1.20 run the same basic scenario.
- python3-kubernetes and @kubernetes/client-node (from npm, tests/e2e/node)
  run a list+watch informer that survives a server restart and catches up.
"""
import glob
import json
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest
from kubernetes import client, config, watch

from conftest import KUBECTL, KUBECTL_120, ROOT, kubectl_minor

NODE_DIR = os.path.join(ROOT, "tests", "e2e", "node")


def all_kubectls():
    """(label, path) for every kubectl on the machine, oldest first."""
    found = {}
    if KUBECTL:
        real = os.path.realpath(KUBECTL)
        for path in glob.glob(os.path.join(os.path.dirname(real), "kubectl.1.*")) + [real]:
            if os.access(path, os.X_OK):
                found.setdefault(kubectl_minor(path), path)
    if os.path.exists(KUBECTL_120):
        found.setdefault(20, KUBECTL_120)
    return [("1.%d" % m, found[m]) for m in sorted(found)]


KUBECTLS = all_kubectls()

MANIFEST = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: web}}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: busybox
        command: [httpd, -f]
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


@pytest.mark.parametrize("label,binary", KUBECTLS, ids=[k[0] for k in KUBECTLS])
def test_kubectl_basic_scenario(server, ns, label, binary):
    """Create, read, change and delete ordinary objects with this kubectl version."""
    k = lambda *a, **kw: server.kubectl(*a, binary=binary, **kw)  # noqa: E731
    out = k("apply", "-n", ns, "-f", "-", input=MANIFEST).stdout
    assert "configmap/settings created" in out and "deployment.apps/web created" in out
    assert "service/web created" in out
    # a second apply changes nothing
    out = k("apply", "-n", ns, "-f", "-", input=MANIFEST).stdout
    assert "unchanged" in out and "configured" not in out, out
    rows = k("get", "deploy,svc,cm", "-n", ns, "-l", "app=web", "-o", "name").stdout.split()
    assert "deployment.apps/web" in rows and "configmap/settings" in rows
    table = k("get", "deployment", "web", "-n", ns).stdout
    assert table.split("\n")[0].split()[:2] == ["NAME", "READY"], table
    svc = json.loads(k("get", "svc", "web", "-n", ns, "-o", "json").stdout)
    assert svc["spec"]["clusterIP"].startswith("10.43.")
    k("label", "cm", "settings", "-n", ns, "tier=front")
    k("patch", "cm", "settings", "-n", ns, "-p", '{"data":{"color":"green"}}')
    k("scale", "deployment", "web", "-n", ns, "--replicas=3")
    assert k("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data.color}").stdout == "green"
    assert k("get", "deploy", "web", "-n", ns,
             "-o", "jsonpath={.spec.replicas}").stdout == "3"
    assert "tier=front" in k("get", "cm", "settings", "-n", ns, "--show-labels").stdout
    assert "Replicas:" in k("describe", "deployment", "web", "-n", ns).stdout
    assert "configmaps" in k("api-resources").stdout
    k("delete", "-n", ns, "-f", "-", input=MANIFEST)
    left = k("get", "deploy,svc,cm", "-n", ns, "-l", "app=web", "-o", "name").stdout.split()
    assert left == [], left


# ---------- informers that survive a server restart ----------

def wait_for(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class PyInformer:
    """A list+watch informer over python3-kubernetes, as client-go's reflector does it:
    list, then watch from the list's resourceVersion; after a broken watch, watch again
    from the last resourceVersion seen; after 410 Gone, list again."""

    def __init__(self, core, namespace, resume=None):
        """resume=(resourceVersion, cache) starts from an earlier state instead of a list."""
        self.core = core
        self.ns = namespace
        self.rv, self.cache = resume or (None, {})
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.relists = 0
        self.errors = []
        self.rewatches = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def names(self):
        """The cached names, less the kube-root-ca.crt every namespace has."""
        with self.lock:
            return sorted(n for n in self.cache if n != "kube-root-ca.crt")

    def relist(self):
        lst = self.core.list_namespaced_config_map(self.ns, _request_timeout=5)
        with self.lock:
            self.cache = {o.metadata.name: o for o in lst.items}
        self.relists += 1
        return lst.metadata.resource_version

    def run(self):
        rv = self.rv
        while not self.stop.is_set():
            try:
                if rv is None:
                    rv = self.relist()
                w = watch.Watch()
                for ev in w.stream(self.core.list_namespaced_config_map, self.ns,
                                   resource_version=rv, timeout_seconds=30,
                                   allow_watch_bookmarks=True, _request_timeout=60):
                    if self.stop.is_set():
                        w.stop()
                        return
                    obj = ev["object"]
                    rv = obj.metadata.resource_version
                    with self.lock:
                        if ev["type"] == "DELETED":
                            self.cache.pop(obj.metadata.name, None)
                        elif ev["type"] in ("ADDED", "MODIFIED"):
                            self.cache[obj.metadata.name] = obj
            except client.exceptions.ApiException as e:
                if e.status == 410:
                    rv = None  # too old: list again
                else:
                    time.sleep(0.3)
            except Exception as e:  # the server went away: watch again from rv
                self.errors.append(repr(e))
                self.rewatches += 1
                time.sleep(0.3)


def test_python_informer_survives_restart(fresh_server):
    s = fresh_server.start()
    s.kubectl("create", "namespace", "inf")
    s.kubectl("create", "configmap", "before", "-n", "inf")
    cfg = client.Configuration()
    config.load_kube_config(config_file=s.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        inf = PyInformer(client.CoreV1Api(api), "inf")
        try:
            wait_for(lambda: inf.names() == ["before"], what="initial list")
            s.kubectl("create", "configmap", "during", "-n", "inf")
            wait_for(lambda: inf.names() == ["before", "during"], what="watch event")
            s.stop()
            s.start()
            s.kubectl("delete", "configmap", "before", "-n", "inf")
            s.kubectl("create", "configmap", "after", "-n", "inf")
            wait_for(lambda: inf.names() == ["after", "during"], timeout=60,
                     what="informer to catch up after restart (cache %s)" % inf.names())
            assert inf.rewatches + inf.relists >= 2  # it did notice the restart
        finally:
            inf.stop.set()


def test_python_informer_resyncs_after_410(fresh_server):
    """An informer that was away so long that its resourceVersion was compacted gets 410
    Gone on its next watch, lists again and ends up with the right cache."""
    s = fresh_server.start()
    s.kubectl("create", "namespace", "inf")
    s.kubectl("create", "configmap", "gone", "-n", "inf")
    cfg = client.Configuration()
    config.load_kube_config(config_file=s.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        core = client.CoreV1Api(api)
        old = core.list_namespaced_config_map("inf")
        s.kubectl("delete", "configmap", "gone", "-n", "inf")
        # The history keeps at most 64 MiB of values: 70 writes of a 1 MiB object push
        # the old revision out of it.
        core.create_namespaced_config_map(
            "inf", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="big")))
        for i in range(70):
            core.replace_namespaced_config_map(
                "big", "inf", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="big"),
                                                 data={"v": str(i % 10) * (1 << 20)}))
        with pytest.raises(client.exceptions.ApiException) as e:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, "inf",
                                          resource_version=old.metadata.resource_version,
                                          timeout_seconds=2):
                pass
        assert e.value.status == 410
        inf = PyInformer(core, "inf", resume=(old.metadata.resource_version,
                                              {o.metadata.name: o for o in old.items}))
        try:
            wait_for(lambda: inf.names() == ["big"], what="informer to list again")
            assert inf.relists == 1
        finally:
            inf.stop.set()


def node_client_ready():
    return shutil.which("node") and os.path.isdir(
        os.path.join(NODE_DIR, "node_modules", "@kubernetes", "client-node"))


@pytest.mark.skipif(not node_client_ready(),
                    reason="@kubernetes/client-node not installed (run make deps)")
def test_node_informer_survives_restart(fresh_server):
    s = fresh_server.start()
    s.kubectl("create", "namespace", "inf")
    s.kubectl("create", "configmap", "before", "-n", "inf")
    proc = subprocess.Popen(["node", os.path.join(NODE_DIR, "informer.mjs"), s.kubeconfig, "inf"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(json.loads(l)) for l in proc.stdout],
                     daemon=True).start()
    seen = []

    def wait_names(want, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                ev = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None:
                    raise AssertionError("informer exited: %s" % proc.stderr.read())
                continue
            seen.append(ev)
            if [n for n in ev["names"] if n != "kube-root-ca.crt"] == want:
                return
        raise AssertionError("informer never reached %s; events: %s" % (want, seen[-10:]))

    try:
        wait_names(["before"])
        s.kubectl("create", "configmap", "during", "-n", "inf")
        wait_names(["before", "during"])
        s.stop()
        s.start()
        s.kubectl("delete", "configmap", "before", "-n", "inf")
        s.kubectl("create", "configmap", "after", "-n", "inf")
        wait_names(["after", "during"], timeout=60)
    finally:
        proc.kill()
        proc.wait()
