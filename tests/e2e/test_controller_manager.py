"""The controller manager and scheduler inside `k1s server` run under leader election on
kube-system Leases, as kube-controller-manager and kube-scheduler do; a restarted server takes
its Leases back at once; `--disable-controllers` and `--kube-controller-manager-arg`."""
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


def test_leases_held_and_taken_back_after_kill(fresh_server):
    s = fresh_server
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
    time.sleep(1.5)
    got = leases(s)
    assert "kube-controller-manager" not in got and "kube-scheduler" not in got


def test_bad_controller_manager_args():
    for arg, msg in (("node-monitor-grace-period=soon", "wants a duration"),
                     ("no-such-thing=1", "unknown argument \"no-such-thing\""),
                     ("controllers", "wants KEY=VALUE")):
        p = subprocess.run([K1S_BIN, "server", "--data-dir", "/nonexistent/k1s",
                            "--kube-controller-manager-arg", arg],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode != 0 and msg in p.stderr, (arg, p.stderr)
