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
    # a node change retries the pod; the same failure again counts on the same Event
    s.kubectl("label", "node", "small-0", "sched-test=relabelled")

    def counted():
        items = json.loads(s.kubectl("get", "events", "--field-selector",
                                     "involvedObject.name=big,reason=FailedScheduling",
                                     "-o", "json").stdout)["items"]
        return len(items) == 1 and items[0].get("count", 1) >= 2 and items[0]
    assert wait_for(counted, what="FailedScheduling counted twice")["message"] == msg
    assert "(x2 over" in s.kubectl("describe", "pod", "big").stdout
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


# ---- priority and preemption (on the shared server: a node of its own, tainted so that other
# tests' pods stay off it) ----

def own_pod(name, cpu, node, taint, priority_class=None, annotations=None, grace=None):
    p = pod(name, cpu=cpu, node_selector={"kubernetes.io/hostname": node},
            tolerations=[{"key": taint, "operator": "Exists", "effect": "NoSchedule"}])
    if priority_class:
        p["spec"]["priorityClassName"] = priority_class
    if annotations:
        p["metadata"]["annotations"] = annotations
    if grace is not None:
        p["spec"]["terminationGracePeriodSeconds"] = grace
    return p


def pod_in(server, ns, name):
    r = server.kubectl("-n", ns, "get", "pod", name, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def events_of(server, ns, name, reason):
    return json.loads(server.kubectl(
        "-n", ns, "get", "events", "--field-selector",
        "involvedObject.name=%s,reason=%s" % (name, reason), "-o", "json").stdout)["items"]


def test_priority_admission(server, ns):
    s = server
    classes = s.kubectl("get", "priorityclasses", "-o", "name").stdout.split()
    assert "priorityclass.scheduling.k8s.io/system-cluster-critical" in classes
    assert "priorityclass.scheduling.k8s.io/system-node-critical" in classes
    s.kubectl("create", "priorityclass", "sched-adm-never", "--value=500",
              "--preemption-policy=Never")
    try:
        p = pod("crit")
        p["spec"]["priorityClassName"] = "system-cluster-critical"
        q = pod("nev")
        q["spec"]["priorityClassName"] = "sched-adm-never"
        create(s, p, q, pod("plain"), ns=ns)
        spec = get(s, "crit", ns)["spec"]
        assert spec["priority"] == 2000000000
        assert spec["preemptionPolicy"] == "PreemptLowerPriority"
        spec = get(s, "nev", ns)["spec"]
        assert spec["priority"] == 500 and spec["preemptionPolicy"] == "Never"
        assert get(s, "plain", ns)["spec"]["priority"] == 0
        bad = pod("bad")
        bad["spec"]["priorityClassName"] = "no-such-class"
        r = s.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(bad), check=False)
        assert r.returncode != 0
        assert ('pods "bad" is forbidden: no PriorityClass with name no-such-class was found'
                in r.stderr)
        bad["spec"]["priorityClassName"] = "sched-adm-never"
        bad["spec"]["priority"] = 7
        r = s.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(bad), check=False)
        assert r.returncode != 0
        assert ("the integer value of priority (7) must not be provided in pod spec; priority "
                "admission controller computed 500 from the given PriorityClass name") in r.stderr
    finally:
        s.kubectl("delete", "priorityclass", "sched-adm-never", check=False)


def test_preemption(server, ns, hollow_nodes):
    s = server
    taint = "sched-preempt"
    hollow_nodes(s, 1, prefix="preempt", cpu="1",
                 taints=[{"key": taint, "value": "x", "effect": "NoSchedule"}])
    node = "preempt-0"
    s.kubectl("create", "priorityclass", "sched-low", "--value=100")
    s.kubectl("create", "priorityclass", "sched-high", "--value=1000")
    s.kubectl("create", "priorityclass", "sched-high-never", "--value=1000",
              "--preemption-policy=Never")
    try:
        # the victim-to-be takes 600m of the node's 1 cpu and, once deleted, takes its grace
        # period to go
        create(s, own_pod("low", "600m", node, taint, "sched-low", grace=5,
                          annotations={"hollow.k1s.io/delete-after-grace": "true"}), ns=ns)
        wait_for(lambda: (pod_in(s, ns, "low") or {}).get("status", {}).get("phase") == "Running",
                 what="low running")
        # a higher-priority pod that may not preempt waits
        create(s, own_pod("never", "600m", node, taint, "sched-high-never"), ns=ns)

        def failed(name):
            c = scheduled_cond(pod_in(s, ns, name))
            return c and c["status"] == "False" and c
        cond = wait_for(lambda: failed("never"), what="never unschedulable")
        assert "Insufficient cpu" in cond["message"]
        # kube-scheduler 1.31 adds its " %v." separator after the plugin's own full stop
        assert cond["message"].endswith("preemption: not eligible due to preemptionPolicy=Never..")
        assert not pod_in(s, ns, "never")["status"].get("nominatedNodeName")
        assert pod_in(s, ns, "low")["metadata"].get("deletionTimestamp") is None
        # a higher-priority pod that may preempt: the low one is deleted for it
        create(s, own_pod("high", "600m", node, taint, "sched-high"), ns=ns)
        high_uid = get(s, "high", ns)["metadata"]["uid"]

        def nominated():
            p = pod_in(s, ns, "high")
            return p["status"].get("nominatedNodeName")
        assert wait_for(nominated, what="nominatedNodeName") == node
        # the victim carries DisruptionTarget while it terminates, and the Preempted Event
        low = wait_for(lambda: (lambda p: p if p["metadata"].get("deletionTimestamp") else None)(
            pod_in(s, ns, "low")), what="low terminating")
        dt = [c for c in low["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert dt and dt[0]["status"] == "True"
        assert dt[0]["reason"] == "PreemptionByScheduler"
        assert dt[0]["message"] == ("default-scheduler: preempting to accommodate a higher "
                                    "priority pod")
        # while the victim terminates, the preemptor waits, nominated
        assert not get(s, "high", ns)["spec"].get("nodeName")
        ev = wait_for(lambda: events_of(s, ns, "low", "Preempted"), what="Preempted event")
        assert ev[0]["message"] == "Preempted by pod %s on node %s" % (high_uid, node)
        assert ev[0]["type"] == "Normal" and ev[0]["source"]["component"] == "default-scheduler"
        # once the victim is gone the preemptor runs on the node; the never pod keeps waiting
        assert wait_for(lambda: pod_in(s, ns, "low") is None, what="low gone")
        assert wait_for(lambda: running_on_ns(s, ns, "high"), what="high running") == node
        p = pod_in(s, ns, "never")
        assert not p["spec"].get("nodeName")
        desc = s.kubectl("-n", ns, "describe", "pod", "high").stdout
        assert "Successfully assigned %s/high to %s" % (ns, node) in desc
    finally:
        s.kubectl("delete", "priorityclass", "sched-low", "sched-high", "sched-high-never",
                  check=False)


def running_on_ns(server, ns, name):
    p = pod_in(server, ns, name)
    if p and p["status"].get("phase") == "Running":
        return p["spec"]["nodeName"]
    return None


# ---- VolumeBinding with WaitForFirstConsumer claims ----

def kapply(server, ns, *objs):
    server.kubectl("-n", ns, "apply", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def kget(server, ns, kind, name):
    args = ["get", kind, name, "-o", "json"]
    if ns:
        args = ["-n", ns] + args
    r = server.kubectl(*args, check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def make_pv(name, cls, node, claim_ref=None):
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
          "spec": {"storageClassName": cls, "capacity": {"storage": "1Gi"},
                   "accessModes": ["ReadWriteOnce"], "local": {"path": "/mnt/" + name},
                   "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                       {"key": "kubernetes.io/hostname", "operator": "In",
                        "values": [node]}]}]}}}}
    if claim_ref:
        pv["spec"]["claimRef"] = claim_ref
    return pv


def make_pvc(name, cls):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"storageClassName": cls, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}


def pv_available(server, name):
    """What the PV controller does with a new PV (done here unless it already happened)."""
    pv = kget(server, None, "pv", name)
    if pv["status"].get("phase") == "Pending":
        server.kubectl("patch", "pv", name, "--subresource=status", "--type=merge",
                       "-p", '{"status":{"phase":"Available"}}')


def bind_claim(server, ns, claim, pv):
    """The PV controller's part once the scheduler chose: the claim is bound to the PV (done here
    unless a PV controller did it already)."""
    pvc = kget(server, ns, "pvc", claim)
    if not pvc["spec"].get("volumeName"):
        server.kubectl("-n", ns, "patch", "pvc", claim, "--type=merge",
                       "-p", json.dumps({"spec": {"volumeName": pv}}))
    if pvc["status"].get("phase") != "Bound":
        server.kubectl("-n", ns, "patch", "pvc", claim, "--subresource=status", "--type=merge",
                       "-p", '{"status":{"phase":"Bound"}}')
        server.kubectl("patch", "pv", pv, "--subresource=status", "--type=merge",
                       "-p", '{"status":{"phase":"Bound"}}')


def vol_pod(name, claim, taint):
    p = pod(name, node_selector={"sched-vol": "yes"},
            tolerations=[{"key": taint, "operator": "Exists", "effect": "NoSchedule"}])
    p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return p


def test_wait_for_first_consumer(server, ns, hollow_nodes):
    s = server
    taint = "sched-vol"
    hollow_nodes(s, 2, prefix="vol", labels={"sched-vol": "yes"},
                 taints=[{"key": taint, "value": "x", "effect": "NoSchedule"}])
    scs = [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "sched-static"}, "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer"},
           {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "sched-dyn"}, "provisioner": "example.com/nobody",
            "volumeBindingMode": "WaitForFirstConsumer"},
           {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "sched-imm"}, "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate"}]
    kapply(s, ns, *scs)
    try:
        # static: without an available PV no node will do; then the only PV is on vol-1
        kapply(s, ns, make_pvc("static", "sched-static"), vol_pod("static", "static", taint))
        pv = "sched-pv-%s" % ns

        def unschedulable(name):
            c = scheduled_cond(pod_in(s, ns, name))
            return c and c["status"] == "False" and c["message"]
        msg = wait_for(lambda: unschedulable("static"), what="static unschedulable")
        assert "2 node(s) didn't find available persistent volumes to bind" in msg
        s.kubectl("create", "-f", "-", input=json.dumps(make_pv(pv, "sched-static", "vol-1")))
        pv_available(s, pv)
        # the scheduler picks vol-1 and binds the PV to the claim (claimRef), then waits for
        # the claim to be bound before binding the pod
        ref = wait_for(lambda: kget(s, None, "pv", pv)["spec"].get("claimRef"), what="claimRef")
        assert (ref["namespace"], ref["name"], ref["kind"]) == (ns, "static",
                                                               "PersistentVolumeClaim")
        assert ref["uid"] == kget(s, ns, "pvc", "static")["metadata"]["uid"]
        bind_claim(s, ns, "static", pv)
        assert wait_for(lambda: running_on_ns(s, ns, "static"), what="static running") == "vol-1"

        # provisioning: the scheduler names the node on the claim and waits
        kapply(s, ns, make_pvc("dyn", "sched-dyn"), vol_pod("dyn", "dyn", taint))

        def selected():
            pvc = kget(s, ns, "pvc", "dyn")
            return (pvc["metadata"].get("annotations") or {}).get(
                "volume.kubernetes.io/selected-node")
        node = wait_for(selected, what="selected-node")
        assert node in ("vol-0", "vol-1")
        time.sleep(1)
        p = pod_in(s, ns, "dyn")
        assert not p["spec"].get("nodeName")
        # a provisioner's work: a PV on that node for the claim, which gets bound
        uid = kget(s, ns, "pvc", "dyn")["metadata"]["uid"]
        dpv = "sched-dyn-%s" % ns
        s.kubectl("create", "-f", "-", input=json.dumps(make_pv(dpv, "sched-dyn", node, {
            "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns, "name": "dyn",
            "uid": uid})))
        pv_available(s, dpv)
        bind_claim(s, ns, "dyn", dpv)
        assert wait_for(lambda: running_on_ns(s, ns, "dyn"), what="dyn running") == node

        # an unbound claim of an Immediate class keeps the pod away from every node
        kapply(s, ns, make_pvc("imm", "sched-imm"), vol_pod("imm", "imm", taint))
        msg = wait_for(lambda: unschedulable("imm"), what="imm unschedulable")
        assert "nodes are available: pod has unbound immediate PersistentVolumeClaims." in msg
    finally:
        s.kubectl("delete", "pod", "--all", "-n", ns, "--wait=false", check=False)
        s.kubectl("delete", "pv", "sched-pv-%s" % ns, "sched-dyn-%s" % ns, "--wait=false",
                  check=False)
        s.kubectl("delete", "storageclass", "sched-static", "sched-dyn", "sched-imm",
                  check=False)


def test_scheduling_gates(server, ns, hollow_nodes):
    s = server
    taint = "sched-gates"
    hollow_nodes(s, 1, prefix="gates", taints=[{"key": taint, "value": "x",
                                                 "effect": "NoSchedule"}])
    p = own_pod("gated", None, "gates-0", taint)
    p["spec"]["schedulingGates"] = [{"name": "example.com/wait"}]
    create(s, p, ns=ns)
    cond = scheduled_cond(get(s, "gated", ns))
    assert cond["status"] == "False" and cond["reason"] == "SchedulingGated"
    assert cond["message"] == "Scheduling is blocked due to non-empty scheduling gates"
    assert "SchedulingGated" in s.kubectl("-n", ns, "get", "pod", "gated").stdout
    time.sleep(1.5)
    assert not get(s, "gated", ns)["spec"].get("nodeName")
    assert not events_of(s, ns, "gated", "FailedScheduling")
    s.kubectl("-n", ns, "patch", "pod", "gated", "--type=json",
              "-p", '[{"op":"remove","path":"/spec/schedulingGates"}]')
    assert wait_for(lambda: running_on_ns(s, ns, "gated"), what="gated running") == "gates-0"


def test_preemption_respects_pdb(server, ns, hollow_nodes):
    s = server
    taint = "sched-pdb"
    hollow_nodes(s, 1, prefix="pdb", cpu="1", taints=[{"key": taint, "value": "x",
                                                       "effect": "NoSchedule"}])
    node = "pdb-0"
    s.kubectl("create", "priorityclass", "sched-pdb-low", "--value=100")
    s.kubectl("create", "priorityclass", "sched-pdb-mid", "--value=200")
    s.kubectl("create", "priorityclass", "sched-pdb-high", "--value=1000")
    try:
        # db is the least important pod, but a PodDisruptionBudget protects it
        s.kubectl("-n", ns, "create", "poddisruptionbudget", "db", "--selector=app=db",
                  "--min-available=1")
        db = own_pod("db", "400m", node, taint, "sched-pdb-low")
        db["metadata"]["labels"] = {"app": "db"}
        web = own_pod("web", "400m", node, taint, "sched-pdb-mid")
        create(s, db, web, ns=ns)
        for n in ("db", "web"):
            wait_for(lambda n=n: running_on_ns(s, ns, n), what=n + " running")
        create(s, own_pod("urgent", "400m", node, taint, "sched-pdb-high"), ns=ns)
        assert wait_for(lambda: running_on_ns(s, ns, "urgent"), what="urgent running") == node
        assert pod_in(s, ns, "web") is None
        assert pod_in(s, ns, "db")["metadata"].get("deletionTimestamp") is None
    finally:
        s.kubectl("delete", "priorityclass", "sched-pdb-low", "sched-pdb-mid", "sched-pdb-high",
                  check=False)
