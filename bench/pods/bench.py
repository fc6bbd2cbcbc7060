"""The node agent's benchmark (bench/pods/run.sh).

A server with its embedded agent in a network namespace (tests/e2e/node_util.py), a busybox
image from a local registry, pulled once before the clock starts. Then:

- start latency: PODS pods created one after another with spec.nodeName set and the image
  present; for each, the time from the create request to the pod's Running status as a watch
  sees it. Beside it, PODS runs of `runc run --detach` of the same busybox root filesystem
  (bundle made by `runc spec`), timed from the call to its return, and `runc delete`d.
- memory: the agent's VmRSS with no pods and with IDLE_PODS running; each shim's RSS (split
  into anonymous and file pages), Pss (its share of the pages it shares with the other shims
  and the agent) and USS (its private pages: what stopping it would give back), from
  /proc/PID/smaps_rollup.
- idle CPU: the agent's utime+stime over IDLE_S seconds with IDLE_PODS pods running, as % of
  one core.

Figures are printed, never asserted."""
import json
import os
import shutil
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


def pids(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class RunningWatch:
    """Timestamps the first Running status of each pod, from a kubectl watch."""

    def __init__(self, c):
        self.seen = {}
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
                if obj.get("status", {}).get("phase") == "Running":
                    with self.cond:
                        self.seen.setdefault(name, time.time())
                        self.cond.notify_all()

    def wait(self, name, timeout=60):
        with self.cond:
            self.cond.wait_for(lambda: name in self.seen, timeout)
            return self.seen.get(name)

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


def main():
    tmp = tempfile.mkdtemp(prefix="k1s-bench-pods-")
    c = node_util.PodCluster(tmp, n=9, sync_frequency=None)  # kubelet's default period
    watch = None
    try:
        agent = c.wait(lambda: [p for p in pids("k1s agent .*%s" % c.server.data_dir)], 30,
                       "the agent")[0]
        time.sleep(3)
        rss_empty = status_kb(agent, "VmRSS")
        # the image, pulled once
        c.apply(pod("warm", c.image))
        c.wait(lambda: (c.get("pod", "warm") or {}).get("status", {}).get("phase") == "Running",
               60, "warm-up pod")
        c.kubectl("delete", "pod", "warm", "--wait=true")
        watch = RunningWatch(c)
        lat = []
        for i in range(PODS):
            name = "p%d" % i
            t0 = time.time()
            c.kubectl("create", "-f", "-", input=json.dumps(pod(name, c.image)))
            t1 = watch.wait(name)
            if t1 is None:
                raise SystemExit("pod %s did not reach Running" % name)
            lat.append(t1 - t0)
        base = runc_baseline(PODS, tmp)
        print("== pod start, image present, nodeName set: create -> Running (as a watch sees it)")
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
    finally:
        if watch:
            watch.close()
        c.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
