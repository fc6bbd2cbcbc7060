"""`kubectl top` against the server's own metrics.k8s.io (issue 5): the kubelet's /stats/summary
and /metrics/resource from the node's cgroups, and NodeMetrics/PodMetrics served by the API server
from them, with a pod burning CPU next to idle ones, on the real node of a PodCluster
(tests/e2e/node_util.py)."""
import json
import re

import pytest

from node_util import PodCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = PodCluster(str(tmp_path_factory.mktemp("metrics")), n=53)
    try:
        yield c
    finally:
        c.close()


def pod(name, image, containers, ns="default", labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": n, "image": image, "command": ["sh", "-c", cmd]}
                                    for n, cmd in containers]}}


BURN = "while :; do :; done"
IDLE = "exec sleep 3600"


def millicores(q):
    """A kubectl top CPU column ("12m", "1") in millicores."""
    return int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)


def rows(out):
    """kubectl top's table as lists of columns, header dropped."""
    return [l.split() for l in out.strip().splitlines()[1:]]


def running(c, ns, name):
    p = c.kubectl("-n", ns, "get", "pod", name, "-o", "json", check=False)
    return p.returncode == 0 and json.loads(p.stdout).get("status", {}).get("phase") == "Running"


@pytest.fixture(scope="module")
def pods(cluster):
    c = cluster
    c.kubectl("create", "namespace", "mns")
    c.apply(pod("burn", c.image, [("burn", BURN), ("side", IDLE)]))
    c.apply(pod("idle", c.image, [("idle", IDLE)]))
    c.apply(pod("other", c.image, [("c", IDLE)], ns="mns"))
    c.apply(pod("short", c.image, [("c", IDLE)]))  # deleted by the last test
    for ns, name in (("default", "burn"), ("default", "idle"), ("mns", "other"),
                     ("default", "short")):
        c.wait(lambda: running(c, ns, name), 90, "pod %s/%s Running" % (ns, name))
    return c


def top(c, *args):
    """kubectl top's rows, or None if it failed."""
    p = c.kubectl("top", *args, check=False)
    return rows(p.stdout) if p.returncode == 0 else None


def test_kubelet_stats_summary_and_resource_metrics(pods):
    c = pods
    summ = json.loads(c.kubectl("get", "--raw", "/api/v1/nodes/e2e-node/proxy/stats/summary").stdout)
    node = summ["node"]
    assert node["nodeName"] == "e2e-node"
    assert node["cpu"]["usageCoreNanoSeconds"] > 0
    mem = node["memory"]
    assert 0 < mem["workingSetBytes"] <= mem["usageBytes"]
    assert mem["availableBytes"] > 0 and mem["rssBytes"] > 0
    assert node["fs"]["capacityBytes"] >= node["fs"]["availableBytes"] > 0
    assert node["runtime"]["imageFs"]["capacityBytes"] > 0
    assert node["network"]["name"] == "eth0"
    assert node["rlimit"]["maxpid"] > node["rlimit"]["curproc"] > 0
    by_name = {p["podRef"]["name"]: p for p in summ["pods"]}
    burn = by_name["burn"]
    assert burn["podRef"]["namespace"] == "default" and burn["podRef"]["uid"]
    assert sorted(x["name"] for x in burn["containers"]) == ["burn", "side"]
    for ctr in burn["containers"]:
        assert ctr["cpu"]["usageCoreNanoSeconds"] >= 0
        assert ctr["memory"]["workingSetBytes"] > 0
    assert burn["cpu"]["usageCoreNanoSeconds"] > 0 and burn["memory"]["workingSetBytes"] > 0
    assert "network" in burn and burn["network"]["name"] == "eth0"
    assert burn["process_stats"]["process_count"] >= 2  # one shell per container
    # its service-account token volume, as kubelet reports volumes
    vols = {v["name"]: v for v in burn.get("volume", [])}
    token = [v for n, v in vols.items() if n.startswith("kube-api-access-")]
    assert len(token) == 1, vols
    assert token[0]["usedBytes"] > 0 and token[0]["inodesUsed"] >= 4  # ca.crt, namespace, token
    assert token[0]["capacityBytes"] >= token[0]["availableBytes"]
    assert by_name["other"]["podRef"]["namespace"] == "mns"

    text = c.kubectl("get", "--raw", "/api/v1/nodes/e2e-node/proxy/metrics/resource").stdout
    assert re.search(r'^container_cpu_usage_seconds_total\{container="burn",namespace="default",'
                     r'pod="burn"\} [0-9.e+]+ \d+$', text, re.M), text
    assert re.search(r'^container_memory_working_set_bytes\{container="idle",namespace="default",'
                     r'pod="idle"\} [0-9.e+]+ \d+$', text, re.M), text
    assert re.search(r"^node_cpu_usage_seconds_total [0-9.e+]+ \d+$", text, re.M), text
    assert re.search(r"^node_memory_working_set_bytes [0-9.e+]+ \d+$", text, re.M), text
    assert re.search(r"^scrape_error 0$", text, re.M), text


def test_top_node(pods):
    c = pods
    out = c.wait(lambda: top(c, "node"), 30, "kubectl top node")
    assert len(out) == 1 and out[0][0] == "e2e-node", out
    name, cpu, cpu_pct, mem, mem_pct = out[0]
    assert millicores(cpu) > 0 and cpu_pct.endswith("%")
    assert mem.endswith("Mi") and int(mem[:-2]) > 0 and mem_pct.endswith("%")
    # the API object itself
    nm = json.loads(c.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/e2e-node").stdout)
    assert nm["kind"] == "NodeMetrics" and nm["metadata"]["name"] == "e2e-node"
    assert re.match(r"^\d+n$", nm["usage"]["cpu"]) and re.match(r"^\d+Ki$", nm["usage"]["memory"])
    assert re.match(r"^[0-9.]+s$|^\d+m[0-9.]+s$", nm["window"]) and nm["timestamp"].endswith("Z")
    assert nm["metadata"]["labels"]["kubernetes.io/hostname"] == "e2e-node"
    out = rows(c.kubectl("top", "node", "-l", "kubernetes.io/hostname=e2e-node").stdout)
    assert [x[0] for x in out] == ["e2e-node"], out
    p = c.kubectl("top", "node", "-l", "kubernetes.io/hostname=nosuch", check=False)
    assert "e2e-node" not in p.stdout, p.stdout
    p = c.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/nosuch", check=False)
    assert p.returncode != 0 and "not found" in p.stderr


def test_top_pod_burning_more_than_idle(pods):
    c = pods

    def both():
        r = top(c, "pod")
        names = {x[0]: x for x in r or []}
        return names if "burn" in names and "idle" in names else None
    r = c.wait(both, 30, "kubectl top pod to list burn and idle")
    assert "other" not in r  # another namespace
    # the busy loop's CPU shows (a rate over the scrapes' window, whatever the machine's load)
    def burning():
        names = both()
        return names if millicores(names["burn"][1]) > millicores(names["idle"][1]) else None
    r = c.wait(burning, 30, "burn to use more CPU than idle")
    assert millicores(r["burn"][1]) > 0 and r["idle"][2].endswith("Mi")

    out = rows(c.kubectl("top", "pod", "burn", "--containers").stdout)
    assert sorted(x[1] for x in out) == ["burn", "side"], out

    def burn_container_busier():
        ctr = {x[1]: x for x in top(c, "pod", "burn", "--containers") or []}
        return "burn" in ctr and millicores(ctr["burn"][2]) > millicores(ctr["side"][2])
    c.wait(burn_container_busier, 30, "the burning container to use more CPU than its sidecar")

    out = rows(c.kubectl("top", "pod", "-A").stdout)
    seen = {(x[0], x[1]) for x in out}
    assert {("default", "burn"), ("default", "idle"), ("mns", "other")} <= seen, out

    out = rows(c.kubectl("top", "pod", "-l", "app=idle").stdout)
    assert [x[0] for x in out] == ["idle"], out
    out = rows(c.kubectl("top", "pod", "-n", "mns").stdout)
    assert [x[0] for x in out] == ["other"], out

    pm = json.loads(c.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/"
                              "pods/burn").stdout)
    assert pm["kind"] == "PodMetrics" and pm["metadata"]["namespace"] == "default"
    assert pm["metadata"]["labels"] == {"app": "burn"}
    assert {x["name"] for x in pm["containers"]} == {"burn", "side"}
    p = c.kubectl("top", "pod", "nosuch", check=False)
    assert p.returncode != 0 and "nosuch" in p.stderr, p.stderr


def test_discovery_and_rbac(pods):
    c = pods
    out = c.kubectl("api-resources", "--api-group=metrics.k8s.io", "-o", "wide").stdout
    lines = {l.split()[0]: l for l in out.strip().splitlines()[1:]}
    assert "NodeMetrics" in lines["nodes"] and "get,list" in lines["nodes"], out
    assert "PodMetrics" in lines["pods"] and "true" in lines["pods"], out
    # view, edit and admin read metrics, as the aggregated system:aggregated-metrics-reader does
    c.kubectl("create", "serviceaccount", "viewer")
    c.kubectl("create", "rolebinding", "viewer", "--clusterrole=view",
              "--serviceaccount=default:viewer")
    who = "--as=system:serviceaccount:default:viewer"

    def can(*a):
        return c.kubectl("auth", "can-i", *a, who, check=False).stdout.strip()
    assert c.wait(lambda: can("list", "pods.metrics.k8s.io") == "yes", 10, "view reads metrics")
    assert can("list", "pods.metrics.k8s.io", "-n", "mns") == "no"
    assert can("create", "pods.metrics.k8s.io") == "no"
    out = rows(c.kubectl("top", "pod", who).stdout)
    assert {"burn", "idle"} <= {x[0] for x in out}
    p = c.kubectl("top", "pod", "-n", "mns", who, check=False)
    assert p.returncode != 0 and "forbidden" in p.stderr.lower(), p.stderr


def test_unreachable_kubelet_is_left_out(pods):
    c = pods
    c.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ghost"}})
    try:
        c.kubectl("patch", "node", "ghost", "--subresource=status", "--type=merge", "-p", json.dumps(
            {"status": {"conditions": [{"type": "Ready", "status": "True"}],
                        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                        "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}}}))
        p = c.kubectl("top", "node")
        out = rows(p.stdout)
        names = {x[0]: x for x in out}
        assert millicores(names["e2e-node"][1]) > 0, out
        assert "ghost" not in names or names["ghost"][1] == "<unknown>", out
        nm = json.loads(c.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes").stdout)
        assert [x["metadata"]["name"] for x in nm["items"]] == ["e2e-node"]
        with open(c.server.log_path) as f:
            log = f.read()
        assert re.search(r"metrics: node ghost left out of metrics.k8s.io: .*127.0.0.1:1.*refused",
                         log), log[-2000:]
    finally:
        c.kubectl("delete", "node", "ghost", check=False)


def test_second_node(pods, tmp_path):
    """A node that joins with `k1s agent` from its own namespace: its kubelet is scraped too."""
    c = pods
    c.add_node("e2e-m2", str(tmp_path), extra=["--node-taint", "e2e=second-node:NoSchedule"])
    c.wait(lambda: (lambda n: n and any(
        x["type"] == "Ready" and x["status"] == "True" for x in n["status"]["conditions"]))(
        c.get("node", "e2e-m2")), 90, "node e2e-m2 Ready")

    def both():
        r = top(c, "node")
        names = {x[0]: x for x in r or []}
        return names if "e2e-m2" in names and names["e2e-m2"][1] != "<unknown>" else None
    names = c.wait(both, 30, "kubectl top node to show e2e-m2")
    assert millicores(names["e2e-m2"][1]) > 0 and millicores(names["e2e-node"][1]) > 0, names
    summ = json.loads(c.kubectl("get", "--raw", "/api/v1/nodes/e2e-m2/proxy/stats/summary").stdout)
    assert summ["node"]["nodeName"] == "e2e-m2" and summ["pods"] == []


def test_kubectl_get_tables(pods):
    c = pods
    c.wait(lambda: top(c, "pod"), 30, "pod metrics")
    out = c.kubectl("get", "pods.metrics.k8s.io", "burn").stdout
    head, row = out.strip().splitlines()
    assert head.split() == ["NAME", "CPU", "MEMORY", "WINDOW"], out
    name, cpu, mem, window = row.split()
    assert name == "burn" and cpu.endswith("n") and mem.endswith("Ki") and window.endswith("s")
    out = c.kubectl("get", "nodes.metrics.k8s.io").stdout
    assert out.split()[:4] == ["NAME", "CPU", "MEMORY", "WINDOW"], out
    assert "e2e-node" in out.split(), out


def test_deleted_pod_leaves_the_list(pods):
    c = pods
    c.wait(lambda: "short" in {x[0] for x in top(c, "pod") or []}, 30, "short in kubectl top")
    c.kubectl("delete", "pod", "short", "--wait=true", "--timeout=60s")
    # at once: the figures are cached, but the pod object is gone
    assert "short" not in {x[0] for x in rows(c.kubectl("top", "pod").stdout)}
    p = c.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/short",
                  check=False)
    assert p.returncode != 0 and "not found" in p.stderr, p.stderr
