"""The node agent's benchmark (bench/pods/run.sh).

A server with its embedded agent in a network namespace (tests/e2e/node_util.py), a busybox
image from a local registry, pulled once before the clock starts. Then:

- start latency: PODS pods created one after another with spec.nodeName set and the image
  present; for each, the time from the create request (a POST on a kept-alive HTTPS connection,
  as a client library sends it) to the pod's Running status as a watch sees it. Beside it, PODS
  runs of `runc run --detach` of the same busybox root filesystem (bundle made by `runc spec`),
  timed from the call to its return, and `runc delete`d.
- memory: the agent's VmRSS with no pods and with IDLE_PODS running; each shim's RSS (split
  into anonymous and file pages), Pss (its share of the pages it shares with the other shims
  and the agent) and USS (its private pages: what stopping it would give back), from
  /proc/PID/smaps_rollup.
- idle CPU: the agent's utime+stime over IDLE_S seconds with IDLE_PODS pods running, as % of
  one core.
- the agent killed -9 with the IDLE_PODS pods and one that logs 5 lines a second: the time
  until the server's restarted agent has the node Ready again, how many containers kept their
  ID and restart count, and how many lines the logging container wrote while no agent ran.
- MANY_PODS (0: skipped; 100 for "100 pods on one node"): that many pods created at once; the
  time until all are Running, the agent's VmRSS, open fds and idle CPU with them, then all
  deleted at once: the time until they are gone, and what is left (fds, shims, network
  namespaces, CNI cache entries and addresses, mounts).

Figures are printed, never asserted."""
import http.client
import json
import os
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
os.environ.setdefault("K1S_BIN", os.environ.get("K1S", os.path.join(ROOT, "build", "k1s")))
import node_util  # noqa: E402

PODS = int(os.environ.get("PODS", 50))
IDLE_PODS = int(os.environ.get("IDLE_PODS", 20))
IDLE_S = int(os.environ.get("IDLE_S", 30))
MANY_PODS = int(os.environ.get("MANY_PODS", 0))
NODE_N = int(os.environ.get("NODE_N", 9))  # the node namespace k1s-e2e-node<N>, 10.99.<N>.2
HZ = os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rollup_kb(pid):
    """smaps_rollup's fields in kB, with USS (Private_Clean + Private_Dirty) added."""
    r = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[0].endswith(":") and parts[2] == "kB":
                    r[parts[0][:-1]] = int(parts[1])
    except OSError:
        pass
    r["USS"] = r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
    return r


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / HZ


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def pids(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class Api:
    """Creates and deletes pods with POST/DELETE on one kept-alive HTTPS connection, as the
    admin (the client certificate kubectl uses)."""

    def __init__(self, c):
        tls = os.path.join(c.server.data_dir, "server", "tls")
        ctx = ssl.create_default_context(cafile=os.path.join(tls, "server-ca.crt"))
        ctx.load_cert_chain(os.path.join(tls, "client-admin.crt"),
                            os.path.join(tls, "client-admin.key"))
        self.conn = http.client.HTTPSConnection("127.0.0.1", c.server.port, context=ctx,
                                                timeout=60)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data,
                          headers={"Content-Type": "application/json"} if data else {})
        r = self.conn.getresponse()
        text = r.read()
        if r.status >= 300 and not (method == "DELETE" and r.status == 404):
            raise SystemExit("%s %s: %d %s" % (method, path, r.status, text[:300]))
        return r.status

    def create(self, manifest):
        return self.call("POST", "/api/v1/namespaces/default/pods", manifest)

    def delete(self, name):
        return self.call("DELETE", "/api/v1/namespaces/default/pods/" + name)


class RunningWatch:
    """Timestamps the first Running status of each pod, and pods deleted, from a kubectl
    watch."""

    def __init__(self, c):
        self.seen = {}
        self.gone = set()
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            ["kubectl", "--kubeconfig", c.server.kubeconfig, "get", "pods", "--watch",
             "--output-watch-events", "-o", "json"], stdout=subprocess.PIPE, text=True)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        dec = json.JSONDecoder()
        buf = ""
        for chunk in iter(lambda: self.proc.stdout.readline(), ""):
            buf += chunk
            while buf.strip():
                try:
                    ev, end = dec.raw_decode(buf.lstrip())
                except ValueError:
                    break
                buf = buf.lstrip()[end:]
                obj = ev.get("object", {})
                name = obj.get("metadata", {}).get("name")
                with self.cond:
                    if ev.get("type") == "DELETED":
                        self.gone.add(name)
                    elif obj.get("status", {}).get("phase") == "Running":
                        self.seen.setdefault(name, time.time())
                    self.cond.notify_all()

    def wait(self, name, timeout=60):
        with self.cond:
            self.cond.wait_for(lambda: name in self.seen, timeout)
            return self.seen.get(name)

    def wait_all(self, names, timeout, gone=False):
        with self.cond:
            have = self.gone if gone else self.seen
            return self.cond.wait_for(lambda: all(n in have for n in names), timeout)

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def pod(name, image):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "e2e-node", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}]}}


def runc_baseline(n, tmp):
    """`runc run --detach` of a busybox rootfs, n times."""
    bundle = os.path.join(tmp, "bundle")
    rootfs = os.path.join(bundle, "rootfs", "bin")
    os.makedirs(rootfs)
    shutil.copy("/usr/bin/busybox", rootfs)
    os.symlink("busybox", os.path.join(rootfs, "sh"))
    os.symlink("busybox", os.path.join(rootfs, "sleep"))
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "3600"]
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    root = os.path.join(tmp, "runc-root")
    times = []
    for i in range(n):
        cid = "k1s-bench-%d" % i
        t0 = time.time()
        subprocess.run(["runc", "--root", root, "run", "--detach", cid], cwd=bundle, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.time() - t0)
        subprocess.run(["runc", "--root", root, "delete", "--force", cid], check=True)
    return times


def leftovers(c):
    """What of the node's pods is still on the host: shims, pod network namespaces, CNI cache
    entries, host-local addresses, mounts under the agent's directory."""
    agent = os.path.join(c.server.data_dir, "agent")

    def count(d, skip=()):
        try:
            return len([x for x in os.listdir(d) if x not in skip])
        except OSError:
            return 0
    with open("/proc/self/mounts") as f:
        mounts = sum(1 for line in f if agent in line)
    nets = os.path.join(agent, "cni", "networks")
    addrs = sum(count(os.path.join(nets, n), ("last_reserved_ip.0", "lock"))
                for n in (os.listdir(nets) if os.path.isdir(nets) else []))
    return {"shims": len(pids("k1s shim .*%s" % c.server.data_dir)),
            "netns": count(os.path.join(agent, "netns")),
            "cni cache": count(os.path.join(agent, "cni", "results")),
            "addresses": addrs, "mounts": mounts}


def many_pods(c, api, watch, agent, n):
    print("== %d pods on one node (created at once, then deleted at once)" % n)
    fd0 = nfds(agent)
    names = ["m%d" % i for i in range(n)]
    t0 = time.time()
    for name in names:
        api.create(pod(name, c.image))
    t_created = time.time()
    ok = watch.wait_all(names, 600)
    t_running = time.time()
    running = sum(1 for x in names if x in watch.seen)
    print("  created in %.1f s; %d/%d Running after %.1f s%s"
          % (t_created - t0, running, n, t_running - t0, "" if ok else " (gave up waiting)"))
    if running:
        last = sorted(watch.seen[x] - t0 for x in names if x in watch.seen)
        print("  create -> Running: p50 %.1f s, last %.1f s" % (pct(last, 50), last[-1]))
    time.sleep(10)
    shims = pids("k1s shim .*%s" % c.server.data_dir)
    rss = status_kb(agent, "VmRSS")
    fds = nfds(agent)
    cpu0 = cpu_s(agent)
    time.sleep(IDLE_S)
    cpu1 = cpu_s(agent)
    print("  agent with them: VmRSS %.1f MB, %d open fds (%d before), idle CPU %.2f %% of a core "
          "over %d s; %d shims"
          % (rss / 1024, fds, fd0, (cpu1 - cpu0) / IDLE_S * 100, IDLE_S, len(shims)))
    t0 = time.time()
    for name in names:
        api.delete(name)
    ok = watch.wait_all(names, 600, gone=True)
    t_gone = time.time()
    gone = sum(1 for x in names if x in watch.gone)
    deadline = time.time() + 60
    left = leftovers(c)
    while any(left.values()) and time.time() < deadline:
        time.sleep(1)
        left = leftovers(c)
    print("  deleted: %d/%d gone from the API after %.1f s; on the host after %.1f s: %s"
          % (gone, n, t_gone - t0, time.time() - t0,
             ", ".join("%s %d" % kv for kv in left.items())))
    time.sleep(3)
    print("  agent after: %d open fds (%d before), VmRSS %.1f MB"
          % (nfds(agent), fd0, status_kb(agent, "VmRSS") / 1024))


def containers(c, names):
    """name -> (containerID, restartCount, phase) of each pod's first container."""
    out = {}
    for n in names:
        p = c.get("pod", n) or {}
        st = (p.get("status", {}).get("containerStatuses") or [{}])[0]
        out[n] = (st.get("containerID"), st.get("restartCount"), p.get("status", {}).get("phase"))
    return out


def log_lines(c, name):
    p = c.get("pod", name) or {}
    uid = p.get("metadata", {}).get("uid", "")
    path = "/var/log/pods/default_%s_%s/c/0.log" % (name, uid)
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def lease_renewed(c):
    p = c.kubectl("get", "lease", "-n", "kube-node-lease", "e2e-node", "-o", "json", check=False)
    return json.loads(p.stdout).get("spec", {}).get("renewTime") if p.returncode == 0 else None


def agent_kill9(c, api, watch, agent, names):
    """kill -9 of the agent with pods running: kept containers, logs that keep flowing."""
    logger = pod("logger", c.image)
    logger["spec"]["containers"][0]["command"] = [
        "sh", "-c", "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.2; done"]
    api.create(logger)
    if watch.wait("logger") is None:
        raise SystemExit("the logging pod did not reach Running")
    time.sleep(2)
    names = names + ["logger"]
    before = containers(c, names)
    renew0 = lease_renewed(c)
    os.kill(agent, signal.SIGKILL)
    t0 = time.time()
    lines0 = log_lines(c, "logger")
    new = c.wait(lambda: [p for p in pids("k1s agent .*%s" % c.server.data_dir) if p != agent],
                 60, "the restarted agent")[0]
    lines1 = log_lines(c, "logger")  # written while no agent ran
    t_new = time.time() - t0

    c.wait(lambda: lease_renewed(c) != renew0, 60, "the restarted agent's Lease renewal")
    t_lease = time.time() - t0
    time.sleep(5)  # its pod sync
    after = containers(c, names)
    kept = sum(1 for n in names if before[n][0] and before[n] == after[n])
    print("== the agent killed -9 with %d pods running" % len(names))
    print("  a new agent %.1f s later (the server restarts it), its Lease renewed after %.1f s; "
          "%d/%d containers kept their ID, restart count and phase"
          % (t_new, t_lease, kept, len(names)))
    print("  the logging container wrote %d lines while no agent ran, %d in all since"
          % (lines1 - lines0, log_lines(c, "logger") - lines0))
    cid = (after["logger"][0] or "").split("://")[-1]
    shim = pids("k1s shim --id %s" % cid) if cid else []
    if shim:
        m = rollup_kb(shim[0])
        print("  the logging container's shim: RSS %.2f MB (anon %.2f), Pss %.2f MB, USS %.2f MB"
              % (m.get("Rss", 0) / 1024, m.get("Anonymous", 0) / 1024, m.get("Pss", 0) / 1024,
                 m.get("USS", 0) / 1024))
    c.kubectl("delete", "pod", "logger", "--wait=true", timeout=120)
    return new


def main():
    tmp = tempfile.mkdtemp(prefix="k1s-bench-pods-")
    c = node_util.PodCluster(tmp, n=NODE_N, sync_frequency=None)  # kubelet's default period
    watch = None
    try:
        agent = c.wait(lambda: [p for p in pids("k1s agent .*%s" % c.server.data_dir)], 30,
                       "the agent")[0]
        time.sleep(3)
        rss_empty = status_kb(agent, "VmRSS")
        api = Api(c)
        # the image, pulled once
        api.create(pod("warm", c.image))
        c.wait(lambda: (c.get("pod", "warm") or {}).get("status", {}).get("phase") == "Running",
               60, "warm-up pod")
        c.kubectl("delete", "pod", "warm", "--wait=true")
        watch = RunningWatch(c)
        time.sleep(1)
        lat = []
        for i in range(PODS):
            name = "p%d" % i
            t0 = time.time()
            api.create(pod(name, c.image))
            t1 = watch.wait(name)
            if t1 is None:
                raise SystemExit("pod %s did not reach Running" % name)
            lat.append(t1 - t0)
        base = runc_baseline(PODS, tmp)
        print("== pod start, image present, nodeName set: create request -> Running (as a watch "
              "sees it)")
        print("  k1s pods:     p50 %4.0f ms  p99 %4.0f ms  (n=%d)"
              % (pct(lat, 50) * 1000, pct(lat, 99) * 1000, len(lat)))
        print("  runc run -d:  p50 %4.0f ms  p99 %4.0f ms  (n=%d, same rootfs, no network)"
              % (pct(base, 50) * 1000, pct(base, 99) * 1000, len(base)))
        print("  ratio p50:    %.1fx" % (pct(lat, 50) / pct(base, 50)))
        # keep IDLE_PODS running, delete the rest
        extra = ["p%d" % i for i in range(IDLE_PODS, PODS)]
        if extra:
            c.kubectl("delete", "pod", *extra, "--wait=true", timeout=300)
        time.sleep(5)
        rss_pods = status_kb(agent, "VmRSS")
        shims = pids("k1s shim .*%s" % c.server.data_dir)
        smem = [rollup_kb(p) for p in shims]
        cpu0 = cpu_s(agent)
        time.sleep(IDLE_S)
        cpu1 = cpu_s(agent)
        print("== memory")
        print("  agent VmRSS: %.1f MB with no pods, %.1f MB with %d pods"
              % (rss_empty / 1024, rss_pods / 1024, IDLE_PODS))
        if shims:
            def med(key):
                return statistics.median(m.get(key, 0) for m in smem) / 1024
            print("  shims (%d), each (median): RSS %.2f MB (anon %.2f, file %.2f), Pss %.2f MB,"
                  " USS %.2f MB" % (len(shims), med("Rss"), med("Anonymous"),
                                    med("Rss") - med("Anonymous"), med("Pss"), med("USS")))
        print("== idle CPU of the agent with %d pods over %d s: %.2f %% of a core"
              % (IDLE_PODS, IDLE_S, (cpu1 - cpu0) / IDLE_S * 100))
        agent = agent_kill9(c, api, watch, agent, ["p%d" % i for i in range(IDLE_PODS)])
        if MANY_PODS:
            c.kubectl("delete", "pods", "--all", "--wait=true", timeout=300)
            many_pods(c, api, watch, agent, MANY_PODS)
    finally:
        if watch:
            watch.close()
        c.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
