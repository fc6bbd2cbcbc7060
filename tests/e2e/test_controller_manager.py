"""The controller manager and scheduler inside `k1s server`: on the embedded SQLite store (one
server) they run at once and write no Lease, as k3s runs them with --leader-elect=false there;
with leader-elect=true they run under leader election on kube-system Leases, as
kube-controller-manager and kube-scheduler do, and a restarted server takes its Leases back at
once; `--disable-controllers`, `--kube-controller-manager-arg` and `--kube-scheduler-arg`."""
import json
import subprocess
import time

from conftest import K1S_BIN


def leases(s):
    out = s.kubectl("-n", "kube-system", "get", "leases", "-o", "json").stdout
    return {i["metadata"]["name"]: i["spec"] for i in json.loads(out)["items"]}


def wait_leases(s, names, timeout=10):
    deadline = time.time() + timeout
    while True:
        got = leases(s)
        if all(got.get(n, {}).get("holderIdentity") for n in names):
            return got
        assert time.time() < deadline, "leases not held: %s" % got
        time.sleep(0.2)


def test_no_leader_election_on_sqlite(fresh_server):
    s = fresh_server
    s.start()
    # the controllers and the scheduler work: a Deployment gets its ReplicaSet and a Pod, and
    # the Pod goes to the scheduler (no node here, so it stays Pending, unschedulable)
    s.kubectl("create", "deployment", "web", "--image=busybox")
    deadline = time.time() + 10
    while True:
        pods = json.loads(s.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
        conds = {c["type"]: c for p in pods for c in p.get("status", {}).get("conditions", [])}
        if conds.get("PodScheduled", {}).get("reason") == "Unschedulable":
            break
        assert time.time() < deadline, pods
        time.sleep(0.2)
    # ... and nothing keeps writing Leases while idle
    got = leases(s)
    assert "kube-controller-manager" not in got and "kube-scheduler" not in got


def test_leases_held_and_taken_back_after_kill(fresh_server):
    s = fresh_server
    s.extra_args += ["--kube-controller-manager-arg", "leader-elect=true",
                     "--kube-scheduler-arg", "leader-elect=true"]
    s.start()
    got = wait_leases(s, ["kube-controller-manager", "kube-scheduler"])
    holder = got["kube-controller-manager"]["holderIdentity"]
    assert holder == got["kube-scheduler"]["holderIdentity"]
    assert got["kube-controller-manager"]["leaseDurationSeconds"] == 15
    s.stop(sig=9)
    s.start()
    # the same server identity renews at once rather than waiting 15 s for expiry
    deadline = time.time() + 5
    while True:
        got = leases(s)
        renewed = got["kube-controller-manager"].get("renewTime")
        if got["kube-controller-manager"]["holderIdentity"] == holder and renewed:
            break
        assert time.time() < deadline
        time.sleep(0.2)
    assert got["kube-controller-manager"].get("leaseTransitions", 0) == 0


def test_disable_controllers(fresh_server):
    s = fresh_server
    s.extra_args += ["--disable-controllers", "--disable-scheduler"]
    s.start()
    s.kubectl("create", "deployment", "web", "--image=busybox")
    time.sleep(1.5)
    assert s.kubectl("get", "replicasets,pods", "-o", "name").stdout.strip() == ""
    got = leases(s)
    assert "kube-controller-manager" not in got and "kube-scheduler" not in got


def test_bad_controller_manager_args():
    for flag, arg, msg in (
            ("--kube-controller-manager-arg", "node-monitor-grace-period=soon",
             "wants a duration"),
            ("--kube-controller-manager-arg", "no-such-thing=1",
             "unknown argument \"no-such-thing\""),
            ("--kube-controller-manager-arg", "controllers", "wants KEY=VALUE"),
            ("--kube-controller-manager-arg", "leader-elect=maybe", "wants true or false"),
            ("--kube-scheduler-arg", "leader-elect=maybe", "wants true or false"),
            ("--kube-scheduler-arg", "percentage-of-nodes-to-score=50",
             "unknown argument \"percentage-of-nodes-to-score\"")):
        p = subprocess.run([K1S_BIN, "server", "--data-dir", "/nonexistent/k1s", flag, arg],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode != 0 and msg in p.stderr, (arg, p.stderr)
