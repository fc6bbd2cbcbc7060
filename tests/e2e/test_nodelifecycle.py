"""Node lifecycle and taint-based eviction: a hollow node (hollow.py) that stops renewing its Lease
turns Ready=Unknown after the grace period (here 4 s through --kube-controller-manager-arg),
gets the unreachable taints and its pods turn unready; pods are evicted when their
tolerationSeconds run out, and the taints go when the node comes back. When every node is down
(master disruption mode) nothing is evicted. NoExecute taints set by
hand evict pods that do not tolerate them; cordoned nodes get the unschedulable taint.

The server runs only the node lifecycle and taint eviction controllers, so that the hand-made
pods are not touched by other controllers."""
import json
import time

import pytest

from helpers import cond, create, get, own_server, ready, wait_for


@pytest.fixture(scope="module")
def server():
    """The module's own server (the `ns` fixture makes its namespaces there)."""
    yield from own_server(
        "k1s-e2e-nl-",
        "--kube-controller-manager-arg", "controllers=nodelifecycle,taint-eviction-controller",
        "--kube-controller-manager-arg", "node-monitor-grace-period=4s")


def pod(name, node, tolerations=None):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
         "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                  "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    if tolerations:
        p["spec"]["tolerations"] = tolerations
    return p


def taints(s, node):
    return {(t["key"], t["effect"]): t for t in get(s, None, "node/" + node)["spec"].get("taints", [])}


def events(s, ns, name, reason):
    out = s.kubectl("-n", ns, "get", "events", "--field-selector",
                    "involvedObject.name=%s,reason=%s" % (name, reason), "-o", "json").stdout
    return [e["message"] for e in json.loads(out)["items"]]


UNREACH = "node.kubernetes.io/unreachable"


def test_silent_node_is_tainted_and_its_pods_evicted(server, ns, hollow_nodes):
    s = server
    # two nodes: with one still Ready the cluster is not in master disruption mode
    cluster = hollow_nodes(s, 2, prefix="nlc", lease_interval=1.0)
    node = cluster[0]
    wait_for(lambda: events(s, "default", "nlc-0", "RegisteredNode"), what="RegisteredNode")
    assert events(s, "default", "nlc-0", "RegisteredNode")[0] == \
        "Node nlc-0 event: Registered Node nlc-0 in Controller"
    create(s, ns,
           pod("short", "nlc-0", [{"key": UNREACH, "operator": "Exists", "effect": "NoExecute",
                                   "tolerationSeconds": 2}]),
           pod("forever", "nlc-0", [{"key": UNREACH, "operator": "Exists", "effect": "NoExecute"}]),
           pod("default", "nlc-0"))
    for name in ("short", "forever", "default"):
        wait_for(lambda name=name: ready(get(s, ns, "pod/" + name)), what=name + " ready")
    # the admission plugin gave "default" the 300 s toleration: it outlives this test's outage
    assert any(t.get("tolerationSeconds") == 300 and t["key"] == UNREACH
               for t in get(s, ns, "pod/default")["spec"]["tolerations"])
    # a node renewing its Lease stays Ready well past the grace period
    time.sleep(5)
    assert cond(get(s, None, "node/nlc-0"), "Ready")["status"] == "True"
    assert not taints(s, "nlc-0")

    node.stop()
    c = wait_for(lambda: (lambda c: c if c["status"] == "Unknown" else None)(
        cond(get(s, None, "node/nlc-0"), "Ready")), what="Ready=Unknown")
    assert c["reason"] == "NodeStatusUnknown"
    assert c["message"] == "Kubelet stopped posting node status."
    n = get(s, None, "node/nlc-0")
    for typ in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        assert cond(n, typ)["status"] == "Unknown"
    t = wait_for(lambda: (lambda t: t if (UNREACH, "NoExecute") in t else None)(taints(s, "nlc-0")),
                 what="unreachable taints")
    assert (UNREACH, "NoSchedule") in t and t[(UNREACH, "NoExecute")].get("timeAdded")
    assert "NotReady" in s.kubectl("get", "node", "nlc-0").stdout
    wait_for(lambda: events(s, "default", "nlc-0", "NodeNotReady"), what="NodeNotReady event")
    assert events(s, "default", "nlc-0", "NodeNotReady")[0] == "Node nlc-0 status is now: NodeNotReady"
    # the pods turn unready
    wait_for(lambda: cond(get(s, ns, "pod/forever"), "Ready")["status"] == "False",
             what="forever unready")
    assert events(s, ns, "forever", "NodeNotReady") == ["Node is not ready"]
    # only the condition changed: the rest of the status the kubelet wrote is still there
    st = get(s, ns, "pod/forever")["status"]
    assert st.get("hostIP") and st["containerStatuses"][0].get("imageID"), st

    # the pod tolerating 2 s is evicted; the others stay
    def evicted():
        p = get(s, ns, "pod/short")
        if p is None:
            return "gone"
        return p if p["metadata"].get("deletionTimestamp") else None
    p = wait_for(evicted, what="short evicted")
    if p != "gone":
        dt = cond(p, "DisruptionTarget")
        assert dt["status"] == "True" and dt["reason"] == "DeletionByTaintManager"
        assert dt["message"] == "Taint manager: deleting due to NoExecute taint"
    assert events(s, ns, "short", "TaintManagerEviction") == ["Marking for deletion Pod %s/short" % ns]
    time.sleep(1)
    for name in ("forever", "default"):
        assert not get(s, ns, "pod/" + name)["metadata"].get("deletionTimestamp"), name

    # the node comes back: Ready, untainted, the pending eviction cancelled
    node.start()
    wait_for(lambda: cond(get(s, None, "node/nlc-0"), "Ready")["status"] == "True", what="Ready again")
    wait_for(lambda: not taints(s, "nlc-0"), what="taints gone")
    wait_for(lambda: events(s, ns, "default", "TaintManagerEviction"), what="cancel event")
    assert events(s, ns, "default", "TaintManagerEviction") == \
        ["Cancelling deletion of Pod %s/default" % ns]
    wait_for(lambda: ready(get(s, ns, "pod/forever")), what="forever ready again")
    assert not get(s, ns, "pod/default")["metadata"].get("deletionTimestamp")


def test_no_execute_taint_and_cordon(server, ns, hollow_nodes):
    s = server
    hollow_nodes(s, 1, prefix="nlt", lease_interval=1.0)
    create(s, ns,
           pod("plain", "nlt-0"),
           pod("brief", "nlt-0", [{"key": "foo", "operator": "Equal", "value": "bar",
                                   "effect": "NoExecute", "tolerationSeconds": 60}]),
           pod("any", "nlt-0", [{"operator": "Exists"}]))
    for name in ("plain", "brief", "any"):
        wait_for(lambda name=name: ready(get(s, ns, "pod/" + name)), what=name + " ready")
    s.kubectl("taint", "node", "nlt-0", "foo=bar:NoExecute")
    # not tolerated: deleted at once (the hollow kubelet confirms the deletion)
    wait_for(lambda: get(s, ns, "pod/plain") is None, what="plain deleted")
    assert events(s, ns, "plain", "TaintManagerEviction") == ["Marking for deletion Pod %s/plain" % ns]
    # the taint goes before brief's 60 s: its eviction is cancelled
    s.kubectl("taint", "node", "nlt-0", "foo=bar:NoExecute-")
    wait_for(lambda: events(s, ns, "brief", "TaintManagerEviction"), what="brief cancelled")
    assert events(s, ns, "brief", "TaintManagerEviction") == ["Cancelling deletion of Pod %s/brief" % ns]
    for name in ("brief", "any"):
        p = get(s, ns, "pod/" + name)
        assert p and not p["metadata"].get("deletionTimestamp"), name

    # cordon: the unschedulable taint follows spec.unschedulable
    assert "node/nlt-0 cordoned" in s.kubectl("cordon", "nlt-0").stdout
    wait_for(lambda: ("node.kubernetes.io/unschedulable", "NoSchedule") in taints(s, "nlt-0"),
             what="unschedulable taint")
    assert "SchedulingDisabled" in s.kubectl("get", "node", "nlt-0").stdout
    assert "node/nlt-0 uncordoned" in s.kubectl("uncordon", "nlt-0").stdout
    wait_for(lambda: not taints(s, "nlt-0"), what="unschedulable taint gone")


def test_all_nodes_down_evicts_nothing(server, ns, hollow_nodes):
    s = server
    cluster = hollow_nodes(s, 1, prefix="nld", lease_interval=1.0)
    create(s, ns, pod("brief", "nld-0", [{"key": UNREACH, "operator": "Exists",
                                          "effect": "NoExecute", "tolerationSeconds": 1}]))
    wait_for(lambda: ready(get(s, ns, "pod/brief")), what="brief ready")
    cluster[0].stop()
    wait_for(lambda: cond(get(s, None, "node/nld-0"), "Ready")["status"] == "Unknown", what="Unknown")
    # the only node is down: more likely cut off than dead, so no NoExecute taint, no eviction
    wait_for(lambda: (UNREACH, "NoSchedule") in taints(s, "nld-0"), what="NoSchedule taint")
    time.sleep(3)
    assert (UNREACH, "NoExecute") not in taints(s, "nld-0")
    assert not get(s, ns, "pod/brief")["metadata"].get("deletionTimestamp")
    assert not events(s, ns, "brief", "TaintManagerEviction")
    cluster[0].start()
    wait_for(lambda: not taints(s, "nld-0"), what="taints gone")
