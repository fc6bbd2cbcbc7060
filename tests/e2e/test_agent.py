"""`k1s agent`: joining with the token, node certificates, Node registration, Lease and status,
surviving restarts of either side, and the agent embedded in `k1s server`."""
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import K1S_BIN, Server, free_port
from agent_util import Agent, server_token


def wait_for(fn, timeout=60, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except AssertionError as e:
            last = e
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def get_node(server, name):
    status, obj = server.json("GET", "/api/v1/nodes/" + name)
    return obj if status == 200 else None


def get_lease(server, name):
    status, obj = server.json("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + name)
    return obj if status == 200 else None


def ready(node):
    for c in (node or {}).get("status", {}).get("conditions", []):
        if c["type"] == "Ready":
            return c["status"] == "True"
    return False


@pytest.fixture
def cluster():
    tmp = tempfile.mkdtemp(prefix="k1s-agent-")
    s = Server(tmp).start()
    agents = []
    yield s, tmp, agents
    for a in agents:
        a.stop(check=False)
    s.stop(check=False)
    shutil.rmtree(tmp, ignore_errors=True)


def node_request(server, agent_dir, method, path, body=None):
    """A request with the node's own client certificate."""
    ctx = ssl.create_default_context(cafile=os.path.join(agent_dir, "server-ca.crt"))
    ctx.load_cert_chain(os.path.join(agent_dir, "client-kubelet.crt"),
                        os.path.join(agent_dir, "client-kubelet.key"))
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode() if body else None,
                                 method=method)
    req.add_header("Content-Type", "application/merge-patch+json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_agent_joins_registers_and_survives_restarts(cluster):
    s, tmp, agents = cluster
    token = server_token(s)
    a = Agent(tmp, s.url, token, "n1", extra=["--node-label", "a=b", "--node-taint", "k=v:NoSchedule"])
    agents.append(a)
    a.start()
    node = wait_for(lambda: ready(get_node(s, "n1")) and get_node(s, "n1"), what="node n1 Ready")
    st = node["status"]
    for r in ("cpu", "memory", "ephemeral-storage", "pods", "hugepages-2Mi"):
        assert r in st["capacity"] and r in st["allocatable"], st
    assert st["capacity"]["pods"] == "110" and st["capacity"]["cpu"] == str(os.cpu_count())
    kinds = {x["type"]: x["address"] for x in st["addresses"]}
    assert kinds["Hostname"] == "n1" and re.match(r"^\d+\.\d+\.\d+\.\d+$", kinds["InternalIP"])
    conds = {c["type"]: c for c in st["conditions"]}
    assert set(conds) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    assert conds["Ready"]["reason"] == "KubeletReady"
    assert conds["Ready"]["message"] == "kubelet is posting ready status"
    info = st["nodeInfo"]
    assert info["kubeletVersion"].endswith("+k1s") and info["operatingSystem"] == "linux"
    assert info["containerRuntimeVersion"].startswith(("runc://", "crun://"))
    assert st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    labels = node["metadata"]["labels"]
    assert labels["a"] == "b" and labels["kubernetes.io/hostname"] == "n1"
    assert labels["node.kubernetes.io/instance-type"] == "k1s"
    assert "node-role.kubernetes.io/control-plane" not in labels
    assert node["spec"]["taints"] == [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    # node IPAM gives it a /24 of the cluster CIDR, and the agent stores it
    node = wait_for(lambda: (get_node(s, "n1") or {}).get("spec", {}).get("podCIDR") and get_node(s, "n1"),
                    what="podCIDR")
    assert re.match(r"^10\.42\.\d+\.0/24$", node["spec"]["podCIDR"]), node["spec"]
    assert node["spec"]["podCIDRs"] == [node["spec"]["podCIDR"]]
    adir = os.path.join(a.data_dir, "agent")
    wait_for(lambda: os.path.exists(os.path.join(adir, "pod-cidr")), what="agent/pod-cidr")
    assert open(os.path.join(adir, "pod-cidr")).read().strip() == node["spec"]["podCIDR"]
    out = s.kubectl("get", "nodes", "n1").stdout
    assert re.search(r"n1\s+Ready", out), out

    # the Lease is renewed every 10 s
    lease = wait_for(lambda: get_lease(s, "n1"), what="lease")
    assert lease["spec"]["holderIdentity"] == "n1" and lease["spec"]["leaseDurationSeconds"] == 40
    first = lease["spec"]["renewTime"]
    wait_for(lambda: get_lease(s, "n1")["spec"]["renewTime"] != first, timeout=40, what="lease renewal")

    # the node's credentials may not modify another Node (NodeRestriction)
    status, _ = s.json("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "other"}})
    assert status == 201
    status, obj = node_request(s, adir, "PATCH", "/api/v1/nodes/other", {"metadata": {"labels": {"x": "y"}}})
    assert status == 403 and 'node "n1" is not allowed to modify node "other"' in obj["message"], obj
    status, obj = node_request(s, adir, "PATCH", "/api/v1/nodes/n1", {"metadata": {"labels": {"x": "y"}}})
    assert status == 200, obj

    # killed and restarted: the same Node, the same certificates, no new join
    uid = get_node(s, "n1")["metadata"]["uid"]
    certs = {f: open(os.path.join(adir, f)).read() for f in ("client-kubelet.crt", "serving-kubelet.crt", "client-kubelet.key")}
    a.stop(sig=signal.SIGKILL)
    a.start()
    a.wait_log("node n1 registered", count=2)
    assert a.read_log().count("joined server") == 1
    assert get_node(s, "n1")["metadata"]["uid"] == uid
    for f, data in certs.items():
        assert open(os.path.join(adir, f)).read() == data, f

    # the server goes away: one line; it comes back: one line, and the Lease is renewed again
    before = get_lease(s, "n1")["spec"]["renewTime"]
    s.stop()
    a.wait_log("lost connection to server", timeout=60)
    s.start()
    # the agent's probe is a Lease renewal: "restored" means it was renewed
    a.wait_log("connection to server %s restored" % s.url, timeout=60)
    log = a.read_log()
    assert log.count("lost connection to server") == 1, log
    assert get_lease(s, "n1")["spec"]["renewTime"] != before
    # pod CIDRs are rebuilt from the Nodes: a new Node does not get one already taken
    taken = {get_node(s, n)["spec"]["podCIDR"] for n in ("n1", "other")}
    assert len(taken) == 2
    status, _ = s.json("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "later"}})
    assert status == 201
    later = wait_for(lambda: (get_node(s, "later") or {}).get("spec", {}).get("podCIDR"), what="podCIDR of later")
    assert later not in taken

    # a client certificate that expires within 90 days is renewed
    a.stop()
    tls = os.path.join(s.data_dir, "server", "tls")
    crt = os.path.join(adir, "client-kubelet.crt")
    csr = subprocess.run(["openssl", "req", "-new", "-key", os.path.join(adir, "client-kubelet.key"),
                          "-subj", "/O=system:nodes/CN=system:node:n1"], capture_output=True, check=True).stdout
    subprocess.run(["openssl", "x509", "-req", "-CA", os.path.join(tls, "client-ca.crt"), "-CAkey",
                    os.path.join(tls, "client-ca.key"), "-days", "10", "-out", crt],
                   input=csr, capture_output=True, check=True)
    short = open(crt).read()
    a.start()
    a.wait_log("joined server", count=2)
    assert open(crt).read() != short
    end = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-checkend", str(300 * 86400)])
    assert end.returncode == 0
    a.stop()


def test_agent_refusals_are_clear(cluster):
    s, tmp, agents = cluster
    token = server_token(s)
    secret = token.split("::server:")[1]
    rc, log = Agent(tmp, s.url, token[:-4] + "0000" if not token.endswith("0000") else token[:-4] + "1111",
                    "w1").run()
    assert rc == 1 and "refused" in log and "401 Unauthorized" in log and "--token" in log, log
    bad_hash = "K10" + "0" * 64 + "::server:" + secret
    rc, log = Agent(tmp, s.url, bad_hash, "w2").run()
    assert rc == 1 and "presents a CA with hash" in log and "another cluster" in log, log
    rc, log = Agent(tmp, s.url, None, "w3").run()
    assert rc == 1 and "a token is needed" in log and "K1S_TOKEN" in log, log
    rc, log = Agent(tmp, "http://127.0.0.1:1", token, "w4").run()
    assert rc == 1 and "is not a URL like https://" in log, log
    # K1S_URL, K1S_TOKEN and K1S_NODE_NAME as k3s's K3S_* (flags win)
    env = dict(os.environ, K1S_URL=s.url, K1S_TOKEN=token, K1S_NODE_NAME="from-env")
    p = subprocess.run([K1S_BIN, "agent", "--config", "/dev/null", "--data-dir", os.path.join(tmp, "env"),
                        "--server", "http://flag-wins"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and '--server "http://flag-wins" is not a URL' in p.stderr, p.stderr
    p = subprocess.Popen([K1S_BIN, "agent", "--config", "/dev/null", "--data-dir", os.path.join(tmp, "env")],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: get_node(s, "from-env"), what="node from-env")
    finally:
        p.terminate()
        assert p.wait(timeout=30) == 0
    # a bare secret works too (no CA pinning), and a host name
    ok = Agent(tmp, "https://localhost:%d" % s.port, secret, "w5")
    agents.append(ok)
    ok.start()
    ok.wait_log("node w5 registered")
    # another machine (another node password) may not take over the name
    rc, log = Agent(tmp, s.url, token, "w5", data_dir=os.path.join(tmp, "other-machine")).run()
    assert rc == 1 and 'node password validation failed for node "w5"' in log, log
    assert "kubectl delete node w5" in log, log
    # once the Node is deleted (the machine is gone), a new machine may take the name
    ok.stop()
    s.kubectl("delete", "node", "w5")
    other = Agent(tmp, s.url, token, "w5", data_dir=os.path.join(tmp, "other-machine"))
    agents.append(other)
    other.start()
    other.wait_log("node w5 registered")
    other.stop()
    # an unreachable server: one clear line, and the agent keeps trying
    port = free_port()
    waiting = Agent(tmp, "https://127.0.0.1:%d" % port, token, "w6")
    agents.append(waiting)
    waiting.start()
    waiting.wait_log("cannot reach server https://127.0.0.1:%d: dial tcp 127.0.0.1:%d: connect: connection refused; retrying every 2 s" % (port, port))
    time.sleep(2.5)
    assert waiting.proc.poll() is None
    assert waiting.read_log().count("cannot reach server") == 1
    waiting.stop()


def test_embedded_agent_registers_the_servers_node():
    tmp = tempfile.mkdtemp(prefix="k1s-agent-")
    s = Server(tmp, extra_args=["--disable-agent=false", "--node-name", "cp1", "--node-label", "zone=a"])
    try:
        s.start()
        node = wait_for(lambda: ready(get_node(s, "cp1")) and get_node(s, "cp1"), what="node cp1 Ready")
        node = wait_for(lambda: "node-role.kubernetes.io/control-plane" in get_node(s, "cp1")["metadata"]["labels"]
                        and get_node(s, "cp1"), what="control-plane labels")
        labels = node["metadata"]["labels"]
        assert labels["node-role.kubernetes.io/control-plane"] == "true"
        assert labels["node-role.kubernetes.io/master"] == "true" and labels["zone"] == "a"
        out = s.kubectl("get", "nodes").stdout
        assert re.search(r"cp1\s+Ready\s+control-plane,master", out), out
        s.stop()
    finally:
        s.stop(check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def test_node_ipam_reports_exhaustion():
    tmp = tempfile.mkdtemp(prefix="k1s-agent-")
    s = Server(tmp, extra_args=["--cluster-cidr", "10.99.0.0/24"])
    try:
        s.start()
        for name in ("a1", "a2"):
            status, _ = s.json("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
            assert status == 201
        wait_for(lambda: any((get_node(s, n) or {}).get("spec", {}).get("podCIDR") == "10.99.0.0/24"
                             for n in ("a1", "a2")), what="the only pod CIDR")

        def exhausted():
            status, evs = s.json("GET", "/api/v1/namespaces/default/events")
            return [e for e in evs["items"] if e["reason"] == "CIDRNotAvailable"]
        ev = wait_for(exhausted, what="CIDRNotAvailable event")[0]
        assert ev["involvedObject"]["kind"] == "Node" and ev["involvedObject"]["name"] in ("a1", "a2")
        assert "CIDRNotAvailable" in ev["message"]
        # deleting the Node that has it frees it for the other
        holder = [n for n in ("a1", "a2") if get_node(s, n).get("spec", {}).get("podCIDR")][0]
        waiting = "a2" if holder == "a1" else "a1"
        status, _ = s.json("DELETE", "/api/v1/nodes/" + holder)
        assert status == 200
        wait_for(lambda: get_node(s, waiting).get("spec", {}).get("podCIDR") == "10.99.0.0/24", timeout=90,
                 what="the freed pod CIDR")
        s.stop()
    finally:
        s.stop(check=False)
        shutil.rmtree(tmp, ignore_errors=True)
