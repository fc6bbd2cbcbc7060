"""The scheduler inside `k1s server`: pods created without spec.nodeName are bound to a node
that fits (here hollow nodes, hollow.py) and run; a pod that fits nowhere gets PodScheduled=False
and a FailedScheduling Event with kube-scheduler's message, and is scheduled once a node it fits
joins; nodeSelector and taints are honoured; `--disable-scheduler` leaves pods Pending."""
import json
import time

import pytest


def pod(name, cpu=None, node_selector=None, tolerations=None):
    c = {"name": "c", "image": "busybox:1.36"}
    if cpu:
        c["resources"] = {"requests": {"cpu": cpu}}
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
         "spec": {"containers": [c]}}
    if node_selector:
        p["spec"]["nodeSelector"] = node_selector
    if tolerations:
        p["spec"]["tolerations"] = tolerations
    return p


def create(server, *pods, ns="default"):
    server.kubectl("-n", ns, "create", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(pods)}))


def get(server, name, ns="default"):
    return json.loads(server.kubectl("-n", ns, "get", "pod", name, "-o", "json").stdout)


def wait_for(fn, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def running_on(server, name):
    p = get(server, name)
    if p["status"].get("phase") == "Running":
        return p["spec"]["nodeName"]
    return None


def scheduled_cond(p):
    for c in p["status"].get("conditions", []):
        if c["type"] == "PodScheduled":
            return c
    return None


@pytest.fixture
def sched_server(fresh_server):
    return fresh_server.start()


def test_pods_are_bound_and_run(sched_server, hollow_nodes):
    s = sched_server
    hollow_nodes(s, 3, prefix="sched", cpu="2")
    create(s, *[pod("p%d" % i, cpu="500m") for i in range(6)])
    nodes = [wait_for(lambda i=i: running_on(s, "p%d" % i), what="p%d running" % i)
             for i in range(6)]
    assert set(nodes) <= {"sched-0", "sched-1", "sched-2"}
    # the spreading scores put the pods on more than one node
    assert len(set(nodes)) > 1
    p = get(s, "p0")
    assert scheduled_cond(p)["status"] == "True"
    ev = s.kubectl("get", "events", "--field-selector",
                   "involvedObject.name=p0,reason=Scheduled", "-o", "json").stdout
    items = json.loads(ev)["items"]
    assert items and items[0]["message"] == "Successfully assigned default/p0 to %s" % nodes[0]
    assert items[0]["source"]["component"] == "default-scheduler"


def test_unschedulable_then_scheduled_when_node_joins(sched_server, hollow_nodes):
    s = sched_server
    c = hollow_nodes(s, 2, prefix="small", cpu="1")
    create(s, pod("big", cpu="3"))
    # no node has the room even when empty: preemption cannot help (the doubled full stop is
    # kube-scheduler's)
    msg = ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
           "2 Preemption is not helpful for scheduling..")

    def failed():
        cond = scheduled_cond(get(s, "big"))
        return cond and cond["status"] == "False" and cond
    cond = wait_for(failed, what="PodScheduled=False")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == msg
    desc = s.kubectl("describe", "pod", "big").stdout
    assert "FailedScheduling" in desc and "default-scheduler" in desc
    assert "Insufficient cpu" in desc
    ev = json.loads(s.kubectl("get", "events", "--field-selector",
                              "involvedObject.name=big,reason=FailedScheduling",
                              "-o", "json").stdout)["items"]
    assert ev and ev[0]["type"] == "Warning" and ev[0]["message"] == msg
    assert get(s, "big")["spec"].get("nodeName") is None
    # a big enough node joins: the pod is retried and lands there
    c.add_node(name="big-node", cpu="4")
    assert wait_for(lambda: running_on(s, "big"), what="big running") == "big-node"
    assert scheduled_cond(get(s, "big"))["status"] == "True"


def test_node_selector_and_taints(sched_server, hollow_nodes):
    s = sched_server
    c = hollow_nodes(s, 1, prefix="plain")
    c.add_node(name="gpu", labels={"accel": "gpu"},
               taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    create(s, pod("wants-gpu", node_selector={"accel": "gpu"}))
    cond = wait_for(lambda: (scheduled_cond(get(s, "wants-gpu")) or {}).get("status") == "False"
                    and scheduled_cond(get(s, "wants-gpu")), what="unschedulable")
    assert "1 node(s) didn't match Pod's node affinity/selector" in cond["message"]
    assert "1 node(s) had untolerated taint {dedicated: gpu}" in cond["message"]
    # tolerating the taint (a new pod, as spec.tolerations may only be added to) fits
    create(s, pod("tolerates", node_selector={"accel": "gpu"},
                  tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                "effect": "NoSchedule"}]))
    assert wait_for(lambda: running_on(s, "tolerates"), what="tolerates running") == "gpu"
    # untainted pods without a selector go to the plain node only
    create(s, *[pod("any%d" % i) for i in range(3)])
    for i in range(3):
        assert wait_for(lambda i=i: running_on(s, "any%d" % i), what="any running") == "plain-0"


def test_disable_scheduler(fresh_server, hollow_nodes):
    s = fresh_server
    s.extra_args.append("--disable-scheduler")
    s.start()
    hollow_nodes(s, 1, prefix="idle")
    create(s, pod("waits"))
    time.sleep(2)
    p = get(s, "waits")
    assert p["status"].get("phase") == "Pending"
    assert not p["spec"].get("nodeName")
    assert scheduled_cond(p) is None
