"""The node agent at rest (issue 5's performance part), with a few pods on the embedded agent
(tests/e2e/node_util.py):

- idle, the agent reuses its kept-alive connections to the API server: over a quiet window of
  two Lease renewals it opens no new TCP connection (one at most, for a watch that ends;
  counted with strace when it is installed);
- a running pod's status is written once and then left alone (its resourceVersion stays), and
  its Ready condition carries no reason left over from ContainersNotReady;
- pods leave the node by one masquerade chain for the node (K1S-POSTRTG), not iptables rules
  made for each pod by the bridge plugin;
- deleting the pods leaves no shim, network namespace, CNI cache entry, address or mount, and
  the agent's open files return to what they were (give or take its few idle connections).

Timings are never asserted."""
import glob
import os
import shutil
import subprocess
import time

import pytest

from node_util import PodCluster

NODE_N = int(os.environ.get("K1S_E2E_IDLE_NODE_N", 89))
API_CONNS_IDLE_MAX = 4  # the client's idle connection pool (src/client/httpclient.c MAX_IDLE)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = PodCluster(str(tmp_path_factory.mktemp("nodeidle")), n=NODE_N, sync_frequency=None)
    try:
        yield c
    finally:
        c.close()


def pod(name, image, command):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": image, "command": command}]}}


def agent_pid(c):
    out = subprocess.run(["pgrep", "-f", "k1s agent .*" + c.server.data_dir],
                         capture_output=True, text=True).stdout.split()
    assert out, "no agent process"
    return int(out[0])


def api_connects(pid, port, seconds):
    """The connect() calls process pid makes to the API port over the next seconds (strace)."""
    out = subprocess.run(["timeout", "-s", "INT", str(seconds), "strace", "-f", "-qq", "-e",
                          "trace=connect", "-e", "signal=none", "-p", str(pid)],
                         capture_output=True, text=True).stderr
    return [l for l in out.splitlines() if "htons(%d)" % port in l]


def iptables(*args):
    return subprocess.run(["iptables", "-w"] + list(args), capture_output=True, text=True)


def leftovers(c):
    agent = os.path.join(c.server.data_dir, "agent")
    with open("/proc/self/mounts") as f:
        mounts = [l.split()[1] for l in f if agent in l and "/pods/" in l]
    addrs = [p for p in glob.glob(os.path.join(agent, "cni", "networks", "*", "*"))
             if os.path.basename(p) not in ("last_reserved_ip.0", "lock")]
    shims = subprocess.run(["pgrep", "-f", "k1s shim .*" + c.server.data_dir],
                           capture_output=True, text=True).stdout.split()
    return {"shims": shims, "netns": os.listdir(os.path.join(agent, "netns")),
            "cni cache": os.listdir(os.path.join(agent, "cni", "results")),
            "addresses": addrs, "mounts": mounts}


def test_idle_node(cluster):
    c = cluster
    agent = agent_pid(c)
    fds_before = len(os.listdir("/proc/%d/fd" % agent))
    names = ["idle%d" % i for i in range(3)]
    for n in names:
        c.apply(pod(n, c.image, ["sleep", "3600"]))
    # a pod that tries to leave the node: its SYN goes through the node's POSTROUTING
    far = "10.99.%d.77" % NODE_N
    c.apply(pod("leaver", c.image, ["sh", "-c", "while :; do nc -w 1 %s 80; sleep 1; done" % far]))

    def all_ready():
        pods = [c.get("pod", n) for n in names + ["leaver"]]
        return all(p and p["status"].get("phase") == "Running" and
                   all(cs.get("ready") for cs in p["status"].get("containerStatuses", []))
                   for p in pods) and pods
    pods = c.wait(all_ready, 90, "the pods Running and Ready")
    for p in pods:
        ready = [x for x in p["status"]["conditions"] if x["type"] == "Ready"][0]
        assert ready["status"] == "True" and "reason" not in ready, ready

    # one chain for the node masquerades what leaves the pod network; no rules per pod
    cidr = c.get("node", "e2e-node")["spec"]["podCIDR"]
    rules = iptables("-t", "nat", "-S", "K1S-POSTRTG").stdout
    assert "-s %s -d %s" % (cidr, cidr) in rules and "-j RETURN" in rules, rules
    assert "-s %s ! -d 224.0.0.0/4" % cidr in rules and "-j MASQUERADE" in rules, rules
    nat = iptables("-t", "nat", "-S").stdout
    assert "-j K1S-POSTRTG" in nat, nat
    assert "-N CNI-" not in nat.replace("-N CNI-HOSTPORT", ""), nat

    def masqueraded():
        out = iptables("-t", "nat", "-L", "K1S-POSTRTG", "-v", "-n", "-x").stdout
        return any(l.split()[2] == "MASQUERADE" and int(l.split()[0]) > 0
                   for l in out.splitlines()[2:] if len(l.split()) > 2)
    c.wait(masqueraded, 30, "the pod's traffic to %s masqueraded by K1S-POSTRTG" % far)

    # quiet: two Lease renewals (every 10 s) and whatever status the agent writes
    rv = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in pods
          if p["metadata"]["name"] != "leaver"}
    time.sleep(2)
    if shutil.which("strace"):
        new = api_connects(agent, c.server.port, 21)
        assert len(new) <= 1, "the idle agent opened %d connections to the API server:\n%s" % (
            len(new), "\n".join(new))
    else:
        time.sleep(21)
    for n in names:
        assert c.get("pod", n)["metadata"]["resourceVersion"] == rv[n], \
            "the status of pod %s was written again while nothing changed" % n

    # all gone, nothing left behind
    c.kubectl("delete", "pod", *(names + ["leaver"]), "--wait=true", timeout=120)
    deadline = time.time() + 60
    while any(leftovers(c).values()) and time.time() < deadline:
        time.sleep(0.5)
    left = leftovers(c)
    assert not any(left.values()), left
    fds_after = len(os.listdir("/proc/%d/fd" % agent))
    assert fds_after <= fds_before + API_CONNS_IDLE_MAX, (fds_before, fds_after)
