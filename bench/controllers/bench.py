"""The controllers' benchmark (bench/controllers/run.sh): a Deployment of REPLICAS replicas on
NODES hollow nodes (tests/e2e/hollow.py, in this process) against a release `k1s server`.

Prints the time from `kubectl create` until every pod exists, is bound and is Ready (seen
through a watch), and the server's RSS and CPU time before, 3 s after, once the server has
been idle for SETTLE seconds (90: the informers drop parsed objects nobody uses after 10 s,
and the store lets go of watch history older than 75 s, as the Kubernetes watch cache does), and that of a
server restarted on the cluster after SETTLE seconds (what the cluster costs without the
allocator's leftovers from the burst of writes that made it). A second run with
--disable-controllers --disable-scheduler creates the same number of bare pods, already bound,
so that the RSS the API server and its store take for the pods themselves can be told from
what the controllers and the scheduler add. Figures are printed, never asserted."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from hollow import Client, HollowCluster  # noqa: E402

K1S = os.environ.get("K1S", os.path.join(ROOT, "build", "k1s"))
KUBECTL = os.environ.get("KUBECTL", "kubectl")
SETTLE = int(os.environ.get("SETTLE", 90))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, extra=()):
        extra = list(extra) + os.environ.get("K1S_ARGS", "").split()
        self.tmp = tempfile.mkdtemp(prefix="k1s-bench-ctrl-")
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig.yaml")
        cfg = os.path.join(self.tmp, "config.yaml")
        open(cfg, "w").close()
        self.args = [K1S, "server", "--data-dir", os.path.join(self.tmp, "data"),
                     "--bind-address", "127.0.0.1", "--disable-agent", "--https-listen-port", str(self.port),
                     "--write-kubeconfig", self.kubeconfig, "--config", cfg] + list(extra)
        self.log = open(os.path.join(self.tmp, "server.log"), "wb")
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        ctx = ssl._create_unverified_context()
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/readyz", context=ctx, timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit("k1s server did not start")
            time.sleep(0.05)
        pki = os.path.join(self.tmp, "data", "server", "tls")
        self.ca = os.path.join(pki, "server-ca.crt")
        self.cert = os.path.join(pki, "client-admin.crt")
        self.key = os.path.join(pki, "client-admin.key")

    def kubectl(self, *args, input=None):
        return subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig] + list(args),
                              input=input, capture_output=True, text=True, check=True)

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def restart(self):
        """Stops the server (SIGTERM) and starts it again on the same data."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.start()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if os.environ.get("KEEP_LOG"):
            shutil.copy(os.path.join(self.tmp, "server.log"), os.environ["KEEP_LOG"])
        shutil.rmtree(self.tmp, ignore_errors=True)


class PodCounter:
    """Watches the namespace's pods: when the n-th exists, is bound, is Ready."""

    def __init__(self, server, ns, n):
        self.n = n
        self.created, self.bound, self.ready = set(), set(), set()
        self.t = {}
        self.done = threading.Event()
        c = Client(server.url, server.ca, server.cert, server.key)
        lst = c.call("GET", "/api/v1/namespaces/%s/pods?limit=1" % ns)
        self.conn, self.resp = c.stream("/api/v1/namespaces/%s/pods?watch=1&resourceVersion=%s"
                                        % (ns, lst["metadata"]["resourceVersion"]))
        threading.Thread(target=self.run, daemon=True).start()

    def mark(self, what, s, name):
        s.add(name)
        if len(s) == self.n and what not in self.t:
            self.t[what] = time.time()

    def run(self):
        try:
            for line in self.resp:
                ev = json.loads(line)
                p = ev["object"]
                name = p["metadata"]["name"]
                if ev["type"] not in ("ADDED", "MODIFIED"):
                    continue
                self.mark("created", self.created, name)
                if p["spec"].get("nodeName"):
                    self.mark("bound", self.bound, name)
                if any(c["type"] == "Ready" and c["status"] == "True"
                       for c in p.get("status", {}).get("conditions", [])):
                    self.mark("ready", self.ready, name)
                    if len(self.ready) == self.n:
                        self.done.set()
        except Exception:
            self.done.set()

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


def run(nodes, replicas, controllers=True, scheduler=False):
    """controllers: a Deployment; else bare pods, bound by the scheduler if scheduler is set,
    else created bound."""
    if controllers:
        extra = ()
    elif scheduler:
        extra = ("--disable-controllers",)
    else:
        extra = ("--disable-controllers", "--disable-scheduler")
    s = Server(extra)
    cluster = None
    try:
        t = time.time()
        cluster = HollowCluster(s.url, s.ca, s.cert, s.key, prefix="bench")
        cluster.add_nodes(nodes, lease_interval=10.0, events=False)
        print("  %d hollow nodes ready in %.1f s" % (nodes, time.time() - t))
        time.sleep(3)
        rss0, cpu0 = s.rss_kb(), s.cpu_s()
        counter = PodCounter(s, "default", replicas)
        tmpl = {"metadata": {"labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}
        t0 = time.time()
        if controllers:
            s.kubectl("create", "-f", "-", input=json.dumps(
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
                 "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                          "template": tmpl}}))
        else:
            items = []
            for i in range(replicas):
                p = {"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": "bench-%d" % i, "labels": {"app": "bench"}},
                     "spec": dict(tmpl["spec"])}
                if not scheduler:
                    p["spec"]["nodeName"] = "bench-%d" % (i % nodes)
                items.append(p)
            for i in range(0, replicas, 250):
                s.kubectl("create", "-f", "-", input=json.dumps(
                    {"apiVersion": "v1", "kind": "List", "items": items[i:i + 250]}))
        counter.done.wait(600)
        counter.close()
        for what in ("created", "bound", "ready"):
            v = counter.t.get(what)
            print("  all %d pods %-7s %s" % (replicas, what + ":",
                  "%.2f s after create" % (v - t0) if v else "not reached"))
        time.sleep(3)
        rss1, cpu1 = s.rss_kb(), s.cpu_s()
        print("  server RSS %.1f MB before, %.1f MB after (+%.1f MB); server CPU %.1f s"
              % (rss0 / 1024, rss1 / 1024, (rss1 - rss0) / 1024, cpu1 - cpu0))
        # settled: the informers drop the parsed trees nobody uses after a sweep period or two
        time.sleep(SETTLE)
        rss2, cpu2 = s.rss_kb(), s.cpu_s()
        print("  server RSS %.1f MB after %d s idle (+%.1f MB over before); server CPU %.2f s "
              "while idle" % (rss2 / 1024, SETTLE, (rss2 - rss0) / 1024, cpu2 - cpu1))
        # a server that starts on a cluster of these pods: no burst of writes behind it
        s.restart()
        time.sleep(SETTLE)
        rss3 = s.rss_kb()
        print("  restarted server RSS %.1f MB after %d s" % (rss3 / 1024, SETTLE))
        rss4 = None
        if controllers:
            d = json.loads(s.kubectl("get", "deployment", "bench", "-o", "json").stdout)
            st = d.get("status", {})
            print("  deployment: replicas %s, available %s" % (st.get("replicas"),
                                                               st.get("availableReplicas")))
            # the same cluster and store, the server restarted without the controllers and the
            # scheduler: the difference is exactly what they hold
            s.args += ["--disable-controllers", "--disable-scheduler"]
            s.restart()
            time.sleep(SETTLE)
            rss4 = s.rss_kb()
            print("  restarted again with --disable-controllers --disable-scheduler: RSS %.1f MB "
                  "after %d s" % (rss4 / 1024, SETTLE))
        return rss1 - rss0, rss2 - rss0, rss3, rss4
    finally:
        if cluster:
            cluster.close(delete=False)
        s.stop()


def main():
    nodes = int(os.environ.get("NODES", 100))
    replicas = int(os.environ.get("REPLICAS", 1000))
    print("== a Deployment of %d replicas on %d hollow nodes (controllers and scheduler)"
          % (replicas, nodes))
    with_ctrl = run(nodes, replicas, True)
    print("== the same cluster and store, restarted with and without the controllers and the "
          "scheduler, after %d s: they hold %.1f MB RSS (target <= 10 MB)"
          % (SETTLE, (with_ctrl[2] - with_ctrl[3]) / 1024))
    if os.environ.get("BASELINE", "1") != "0":
        print("== %d bare pods, already bound, on %d hollow nodes (--disable-controllers "
              "--disable-scheduler)" % (replicas, nodes))
        without = run(nodes, replicas, False)
        print("== %d bare pods bound by the scheduler on %d hollow nodes (--disable-controllers)"
              % (replicas, nodes))
        sched = run(nodes, replicas, False, True)
        for i, when in enumerate(("3 s after the last pod is ready", "after %d s idle" % SETTLE)):
            print("== %s: controllers + scheduler add %.1f MB RSS for %d pods (the controllers "
                  "%.1f MB, the scheduler %.1f MB)"
                  % (when, (with_ctrl[i] - without[i]) / 1024, replicas,
                     (with_ctrl[i] - sched[i]) / 1024, (sched[i] - without[i]) / 1024))
        print("== a server restarted on the cluster, after %d s: %.1f MB RSS with the controllers "
              "and the scheduler, %.1f MB without (+%.1f MB, their fixed cost included)"
              % (SETTLE, with_ctrl[2] / 1024, without[2] / 1024,
                 (with_ctrl[2] - without[2]) / 1024))

if __name__ == "__main__":
    main()
