"""End-to-end scheduler benchmark: `k1s server` (the release build by default) with 100 hollow
nodes (tests/e2e/hollow.py, a separate process as kubemark's hollow-nodes are), pods created
with kubectl, and their bindings timed through a watch on pods.

Figures (printed, never asserted):
  burst        pods bound per second for a burst of pending pods (default 2,000): kubectl
               (4 processes) creates them while the scheduler is not leading (the bench takes
               its Lease kube-system/kube-scheduler), then deletes the Lease; the scheduler takes
               it back, syncs its caches (every pod, node, claim...) and binds them all: the
               count over the time from the watch seeing the scheduler's new Lease to the last
               binding it sees (creating pods with kubectl is slower than scheduling them, so
               creating them during the measurement would time kubectl)
  streaming    1,000 pods created by kubectl while the scheduler runs: the creation rate and
               the time from each pod's ADDED event to its binding (p50/p99), as the watch
               sees them
  RSS cost     the server's VmRSS with 1,000 pods bound by the scheduler, minus the VmRSS of a
               server started with --disable-scheduler whose 1,000 pods are created with
               spec.nodeName already set (same nodes, same pods running, same objects stored
               but for the Scheduled Events, which are the scheduler's too)

Usage: python3 bench/scheduler/e2e.py [--nodes 100] [--pods 2000] [--rss-pods 1000]
       [--k1s build/k1s] [--quick]
"""
import argparse
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
from hollow import Client  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, binary, extra=()):
        self.tmp = tempfile.mkdtemp(prefix="k1s-sched-bench-")
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.kubeconfig = os.path.join(self.tmp, "kubeconfig.yaml")
        data = os.path.join(self.tmp, "data")
        cfg = os.path.join(self.tmp, "config.yaml")
        open(cfg, "w").close()
        self.log = open(os.path.join(self.tmp, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [binary, "server", "--data-dir", data, "--bind-address", "127.0.0.1", "--disable-agent",
             "--https-listen-port", str(self.port), "--write-kubeconfig", self.kubeconfig,
             "--config", cfg] + list(extra), stdout=self.log, stderr=subprocess.STDOUT)
        tls = os.path.join(data, "server", "tls")
        self.ca = os.path.join(tls, "server-ca.crt")
        self.cert = (os.path.join(tls, "client-admin.crt"), os.path.join(tls, "client-admin.key"))
        ctx = ssl._create_unverified_context()
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("k1s server exited")
            try:
                with urllib.request.urlopen(self.url + "/readyz", context=ctx, timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            if time.time() > deadline:
                raise RuntimeError("k1s server not ready")
            time.sleep(0.05)
        self.hollow = None

    def kubectl(self, *args, input=None):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.tmp)
        return subprocess.run(["kubectl"] + list(args), input=input, capture_output=True,
                              text=True, env=env, check=True)

    def start_hollow(self, n):
        self.hollow = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "e2e", "hollow.py"), "--kubeconfig",
             self.kubeconfig, "--nodes", str(n), "--prefix", "bench", "--no-events", "--keep"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.hollow.stdout.readline()
        if "ready" not in line:
            raise RuntimeError("hollow nodes: %s" % line)
        return line.strip()

    def stop(self):
        if self.hollow:
            self.hollow.send_signal(signal.SIGTERM)
            try:
                self.hollow.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.hollow.kill()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Watcher(threading.Thread):
    """Watches pods in a namespace; records when each is first seen and first seen bound."""

    def __init__(self, server, ns, resource="pods"):
        super().__init__(daemon=True)
        self.api = Client(server.url, server.ca, *server.cert, timeout=600)
        self.ns = ns
        self.path = ("/apis/coordination.k8s.io/v1" if resource == "leases" else "/api/v1") + \
            "/namespaces/%s/%s?watch=true&resourceVersion=0" % (ns, resource)
        self.added, self.bound = {}, {}
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.conn = None

    def run(self):
        self.conn, resp = self.api.stream(self.path)
        self.ready.set()
        while True:
            try:
                line = resp.readline()
            except (OSError, ValueError):
                return
            if not line:
                return
            t = time.monotonic()
            ev = json.loads(line)
            obj = ev.get("object") or {}
            name = obj.get("metadata", {}).get("name")
            with self.lock:
                if ev.get("type") == "DELETED":
                    self.added.pop(name, None)
                    continue
                self.added.setdefault(name, t)
                if obj.get("spec", {}).get("nodeName"):
                    self.bound.setdefault(name, t)

    def count_bound(self):
        with self.lock:
            return len(self.bound)


def pod_list(prefix, start, n, nodes=None):
    items = []
    for i in range(start, start + n):
        p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "%s-%d" % (prefix, i)},
             "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                                      "resources": {"requests": {"cpu": "10m",
                                                                 "memory": "16Mi"}}}]}}
        if nodes:
            p["spec"]["nodeName"] = nodes[i % len(nodes)]
        items.append(p)
    return {"apiVersion": "v1", "kind": "List", "items": items}


def create_pods(server, ns, prefix, n, procs=4, nodes=None):
    """n pods with kubectl, procs processes in parallel."""
    per = (n + procs - 1) // procs
    ps = []
    for k in range(procs):
        cnt = min(per, n - k * per)
        if cnt <= 0:
            break
        env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
        p = subprocess.Popen(["kubectl", "-n", ns, "create", "-f", "-", "-o", "name"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=env)
        p.stdin.write(json.dumps(pod_list(prefix, k * per, cnt, nodes)))
        p.stdin.close()
        ps.append(p)
    for p in ps:
        if p.wait() != 0:
            raise RuntimeError("kubectl create failed: %s" % p.stderr.read())


def wait_bound(w, n, timeout):
    deadline = time.time() + timeout
    while w.count_bound() < n:
        if time.time() > deadline:
            raise RuntimeError("only %d of %d pods bound after %ds" % (w.count_bound(), n, timeout))
        time.sleep(0.05)


def pct(vals, q):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(q * len(vals)))]


def now_micro():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def scheduled_run(args):
    s = Server(args.k1s, ["--disable-controllers"] if args.no_controllers else [])
    out = {}
    try:
        out["nodes"] = s.start_hollow(args.nodes)
        s.kubectl("create", "namespace", "bench")
        time.sleep(args.settle)
        out["rss_nodes"] = rss_kib(s.proc.pid)
        # streaming: pods created by kubectl while the scheduler runs; RSS once they are bound
        w = Watcher(s, "bench")
        w.start()
        w.ready.wait(30)
        t0 = time.monotonic()
        create_pods(s, "bench", "r", args.rss_pods)
        t_created = time.monotonic()
        wait_bound(w, args.rss_pods, 600)
        lat = [w.bound[k] - w.added[k] for k in w.bound if k in w.added]
        out.update(stream_create=args.rss_pods / (t_created - t0),
                   stream_p50=pct(lat, 0.5) * 1000, stream_p99=pct(lat, 0.99) * 1000)
        time.sleep(args.settle)
        out["rss_sched"] = rss_kib(s.proc.pid)
        # burst: the scheduler steps down (its Lease taken), the pods are created, the Lease is
        # freed: the scheduler takes it back, syncs its caches and places every pod
        s.kubectl("-n", "kube-system", "patch", "lease", "kube-scheduler", "--type=merge", "-p",
                  json.dumps({"spec": {"holderIdentity": "bench", "leaseDurationSeconds": 3600,
                                       "renewTime": now_micro()}}))
        time.sleep(13)  # renew deadline (10 s) and a retry period
        s.kubectl("create", "namespace", "burst")
        w2 = Watcher(s, "burst")
        w2.start()
        w2.ready.wait(30)
        create_pods(s, "burst", "b", args.pods)
        while len(w2.added) < args.pods:
            time.sleep(0.05)
        time.sleep(1)
        if w2.count_bound():
            raise RuntimeError("the scheduler did not step down")
        lw = Watcher(s, "kube-system", "leases")
        lw.start()
        lw.ready.wait(30)
        time.sleep(0.5)
        cpu0 = cpu_s(s.proc.pid)
        s.kubectl("-n", "kube-system", "delete", "lease", "kube-scheduler")
        wait_bound(w2, args.pods, 600)
        cpu1 = cpu_s(s.proc.pid)
        first, last = min(w2.bound.values()), max(w2.bound.values())
        with lw.lock:
            acquired = lw.added.get("kube-scheduler")
        out.update(throughput=args.pods / (last - acquired), acquired_to_first=first - acquired,
                   first_to_last=last - first, server_cpu_s=cpu1 - cpu0)
    finally:
        s.stop()
    return out


def unscheduled_run(args):
    s = Server(args.k1s, ["--disable-scheduler"] +
               (["--disable-controllers"] if args.no_controllers else []))
    try:
        s.start_hollow(args.nodes)
        s.kubectl("create", "namespace", "bench")
        time.sleep(args.settle)
        rss_nodes = rss_kib(s.proc.pid)
        w = Watcher(s, "bench")
        w.start()
        w.ready.wait(30)
        nodes = ["bench-%d" % i for i in range(args.nodes)]
        create_pods(s, "bench", "r", args.rss_pods, nodes=nodes)
        wait_bound(w, args.rss_pods, 600)
        time.sleep(args.settle)
        return rss_nodes, rss_kib(s.proc.pid)
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k1s", default=os.path.join(ROOT, "build", "k1s"))
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--rss-pods", type=int, default=1000)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--no-controllers", action="store_true",
                    help="run the server with --disable-controllers")
    ap.add_argument("--quick", action="store_true", help="20 nodes, 300 pods, 200 for RSS")
    args = ap.parse_args()
    if args.quick:
        args.nodes, args.pods, args.rss_pods = 20, 300, 200
    r = scheduled_run(args)
    rss_off_nodes, rss_off = unscheduled_run(args)
    mb = lambda kib: kib * 1024 / 1e6  # noqa: E731
    print("scheduler end-to-end (%s, %s)" % (os.path.basename(args.k1s), r["nodes"]))
    print("  %-50s %8.0f pods/s  (target >= 500)" % (
        "burst of %d pending pods: bound per second" % args.pods, r["throughput"]))
    print("  %-50s %8.2f s / %.2f s" % ("  Lease taken -> first binding, first -> last",
                                        r["acquired_to_first"], r["first_to_last"]))
    print("  %-50s %8.2f s" % ("  server CPU, Lease freed -> last binding", r["server_cpu_s"]))
    print("  %-50s %8.0f pods/s" % ("streaming %d pods: kubectl creates (4 processes)"
                                    % args.rss_pods, r["stream_create"]))
    print("  %-50s %8.1f ms / %.1f ms" % ("  created -> bound p50 / p99", r["stream_p50"],
                                           r["stream_p99"]))
    print("  %-50s %8.1f MB" % ("server RSS, nodes joined, no pods", mb(r["rss_nodes"])))
    print("  %-50s %8.1f MB" % ("  same, --disable-scheduler", mb(rss_off_nodes)))
    print("  %-50s %8.1f MB" % ("server RSS, %d pods bound by the scheduler" % args.rss_pods,
                                mb(r["rss_sched"])))
    print("  %-50s %8.1f MB" % ("  same pods, --disable-scheduler", mb(rss_off)))
    print("  %-50s %8.1f MB" % ("scheduler's RSS cost", mb(r["rss_sched"] - rss_off)))

if __name__ == "__main__":
    main()
