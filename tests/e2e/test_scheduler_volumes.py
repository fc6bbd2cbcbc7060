"""The scheduler's volume filters, through kubectl: VolumeZone keeps a pod whose bound
PersistentVolume is labelled with a zone off nodes of other zones (and places it once the PV's
zone changes); NodeVolumeLimits counts the CSI volumes of a node's pods against its CSINode's
allocatable count (the pod is placed once pods using the node's volumes are gone);
VolumeRestrictions keeps a ReadWriteOncePod claim to one pod; generic ephemeral volumes go through
VolumeBinding. Hollow nodes (hollow.py) play kubelet; their taint and label keep other tests' pods
away."""
import json
import time

ZONE = "topology.kubernetes.io/zone"


def kapply(server, ns, *objs):
    server.kubectl("-n", ns, "apply", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def kget(server, ns, kind, name):
    args = ["get", kind, name, "-o", "json"]
    if ns:
        args = ["-n", ns] + args
    return json.loads(server.kubectl(*args).stdout)


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def vol_pod(name, label, claims):
    """A pod that tolerates the test nodes' taint, selects them by label and mounts claims."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeSelector": {label: "yes"},
                     "tolerations": [{"key": label, "operator": "Exists", "effect": "NoSchedule"}],
                     "containers": [{"name": "c", "image": "busybox:1.36",
                                     "volumeMounts": [{"name": c, "mountPath": "/" + c}
                                                      for c in claims]}],
                     "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}}
                                 for c in claims]}}


def pv(name, labels=None, csi_driver=None):
    src = ({"csi": {"driver": csi_driver, "volumeHandle": name}} if csi_driver
           else {"hostPath": {"path": "/mnt/" + name}})
    spec = {"storageClassName": "", "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"]}
    spec.update(src)
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def bound_pvc(name, volume):
    """A claim naming its PV (the scheduler reads spec.volumeName; the PV controller binds)."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"storageClassName": "", "volumeName": volume, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}


def scheduled_cond(p):
    for c in p["status"].get("conditions", []):
        if c["type"] == "PodScheduled":
            return c
    return None


def unschedulable_msg(server, ns, name):
    c = scheduled_cond(kget(server, ns, "pod", name))
    return c and c["status"] == "False" and c["message"]


def node_of(server, ns, name):
    return kget(server, ns, "pod", name)["spec"].get("nodeName")


def failed_events(server, ns, name):
    return json.loads(server.kubectl(
        "-n", ns, "get", "events", "--field-selector",
        "involvedObject.name=%s,reason=FailedScheduling" % name, "-o", "json").stdout)["items"]


def test_volume_zone(server, ns, hollow_nodes):
    s = server
    label = "sched-vz"
    taints = [{"key": label, "value": "x", "effect": "NoSchedule"}]
    c = hollow_nodes(s, 0, prefix="vz")
    c.add_node(name="vz-a", zone="zone-a", labels={label: "yes"}, taints=taints)
    c.add_node(name="vz-b", zone="zone-b", labels={label: "yes"}, taints=taints)
    name = "vz-pv-" + ns
    try:
        # the PV is in a zone none of the nodes is in
        s.kubectl("create", "-f", "-", input=json.dumps(pv(name, {ZONE: "zone-c"})))
        kapply(s, ns, bound_pvc("data", name), vol_pod("zoned", label, ["data"]))
        msg = wait_for(lambda: unschedulable_msg(s, ns, "zoned"), what="zoned unschedulable")
        assert "2 node(s) had no available volume zone" in msg
        ev = wait_for(lambda: failed_events(s, ns, "zoned"), what="FailedScheduling")
        assert ev[0]["type"] == "Warning" and "had no available volume zone" in ev[0]["message"]
        assert "had no available volume zone" in s.kubectl("-n", ns, "describe", "pod",
                                                           "zoned").stdout
        time.sleep(0.5)
        assert not node_of(s, ns, "zoned")
        # the PV's zone changes (as after a restore): the pod is retried and goes there
        s.kubectl("label", "pv", name, "%s=zone-b" % ZONE, "--overwrite")
        assert wait_for(lambda: node_of(s, ns, "zoned"), what="zoned scheduled") == "vz-b"
        # a multi-zone PV admits either node; the legacy label is matched to the GA one
        legacy = name + "-legacy"
        s.kubectl("create", "-f", "-", input=json.dumps(
            pv(legacy, {"failure-domain.beta.kubernetes.io/zone": "zone-a"})))
        kapply(s, ns, bound_pvc("old", legacy), vol_pod("legacy", label, ["old"]))
        assert wait_for(lambda: node_of(s, ns, "legacy"), what="legacy scheduled") == "vz-a"
    finally:
        s.kubectl("-n", ns, "delete", "pod", "--all", "--wait=false", check=False)
        s.kubectl("delete", "pv", name, name + "-legacy", "--wait=false", check=False)


def test_node_volume_limits(server, ns, hollow_nodes):
    s = server
    label = "sched-vl"
    driver = "csi.k1s.example.com"
    c = hollow_nodes(s, 1, prefix="vl", labels={label: "yes"},
                     taints=[{"key": label, "value": "x", "effect": "NoSchedule"}])
    pvs = ["vl-%s-%d" % (ns, i) for i in range(2)]
    csinode = {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
               "metadata": {"name": "vl-0"},
               "spec": {"drivers": [{"name": driver, "nodeID": "vl-0",
                                     "allocatable": {"count": 1}}]}}
    try:
        # the node registers its CSINode (as a kubelet does); others' are not its business
        api = c[0].client()
        base = "/apis/storage.k8s.io/v1/csinodes"
        code, body = api.request("POST", base, csinode)
        assert code == 201, body
        code, body = api.request("POST", base, dict(csinode, metadata={"name": "vl-other"}))
        assert code == 403 and body["message"] == (
            'csinodes.storage.k8s.io "vl-other" is forbidden: can only access CSINode with the '
            'same name as the requesting node')
        code, body = api.request("GET", base + "/vl-other")
        assert code == 403 and "can only access CSINode with the same name" in body["message"]
        code, body = api.request("GET", base)
        assert code == 403
        api.close()
        out = s.kubectl("get", "csinode", "vl-0").stdout.split("\n")
        assert out[0].split() == ["NAME", "DRIVERS", "AGE"] and out[1].split()[:2] == ["vl-0", "1"]
        for p in pvs:
            s.kubectl("create", "-f", "-", input=json.dumps(pv(p, csi_driver=driver)))
        kapply(s, ns, bound_pvc("one", pvs[0]), bound_pvc("two", pvs[1]),
               vol_pod("first", label, ["one"]))
        assert wait_for(lambda: node_of(s, ns, "first"), what="first scheduled") == "vl-0"
        # the node's one CSI volume is in use: a pod with another volume does not fit ...
        kapply(s, ns, vol_pod("second", label, ["two"]))
        msg = wait_for(lambda: unschedulable_msg(s, ns, "second"), what="second unschedulable")
        assert "1 node(s) exceed max volume count" in msg
        ev = wait_for(lambda: failed_events(s, ns, "second"), what="FailedScheduling")
        assert "1 node(s) exceed max volume count" in ev[0]["message"]
        # ... but one sharing the attached volume does
        kapply(s, ns, vol_pod("shares", label, ["one"]))
        assert wait_for(lambda: node_of(s, ns, "shares"), what="shares scheduled") == "vl-0"
        assert not node_of(s, ns, "second")
        # a driver entry is not changed in place (the kubelet removes and re-adds it)
        r = s.kubectl("patch", "csinode", "vl-0", "--type=json", "-p", json.dumps(
            [{"op": "replace", "path": "/spec/drivers/0/allocatable/count", "value": 2}]),
            check=False)
        assert r.returncode != 0 and "CSINodeDriver: Invalid value" in r.stderr
        assert "field is immutable" in r.stderr
        # the pods using the attached volume go away: the waiting pod is retried and placed
        s.kubectl("-n", ns, "delete", "pod", "first", "shares", "--wait=false")
        assert wait_for(lambda: node_of(s, ns, "second"), what="second scheduled") == "vl-0"
        # the API server validates CSINodes as Kubernetes does
        bad = dict(csinode, metadata={"name": "vl-bad"},
                   spec={"drivers": [{"name": driver, "nodeID": "",
                                      "allocatable": {"count": -1}}]})
        r = s.kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
        assert r.returncode != 0
        assert "spec.drivers[0].nodeID: Required value" in r.stderr
        assert "spec.drivers[0].allocatable.count: Invalid value: -1" in r.stderr
    finally:
        s.kubectl("-n", ns, "delete", "pod", "--all", "--wait=false", check=False)
        s.kubectl("delete", "pv", *pvs, "--wait=false", check=False)
        s.kubectl("delete", "csinode", "vl-0", check=False)


def test_ephemeral_volume_bound_on_the_pods_node(server, ns, hollow_nodes):
    """A generic ephemeral volume of a WaitForFirstConsumer class (the default local-path) goes
    through VolumeBinding like a claim of the pod's own: its claim <pod>-<volume> is provisioned
    on the node chosen, then the pod is bound there; a claim of that name that is not the pod's
    keeps the pod from every node."""
    s = server
    label = "sched-eph"
    hollow_nodes(s, 1, prefix="eph", labels={label: "yes"},
                 taints=[{"key": label, "value": "x", "effect": "NoSchedule"}])
    tmpl = {"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                     "resources": {"requests": {"storage": "1Gi"}}}}

    def eph_pod(name):
        p = vol_pod(name, label, [])
        p["spec"]["volumes"] = [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": tmpl}}]
        p["spec"]["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/s"}]
        return p
    try:
        kapply(s, ns, eph_pod("eph"))
        assert wait_for(lambda: node_of(s, ns, "eph"), what="eph scheduled") == "eph-0"
        claim = kget(s, ns, "pvc", "eph-scratch")
        assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "eph-0"
        assert claim["status"]["phase"] == "Bound"
        # a claim squatting on the name the pod's volume needs
        squat = bound_pvc("squat-scratch", "")
        squat["spec"] = dict(tmpl["spec"])
        kapply(s, ns, squat, eph_pod("squat"))
        msg = wait_for(lambda: unschedulable_msg(s, ns, "squat"), what="squat unschedulable")
        assert ("PVC %s/squat-scratch was not created for pod %s/squat (pod is not owner)"
                % (ns, ns)) in msg
    finally:
        s.kubectl("-n", ns, "delete", "pod", "--all", "--wait=false", check=False)


def test_volume_restrictions(server, ns, hollow_nodes):
    """VolumeRestrictions: a ReadWriteOncePod claim in use by one pod keeps a second pod from
    every node until the first is gone; pods mounting the same inline EBS volume never share a
    node."""
    s = server
    label = "sched-rwop"
    hollow_nodes(s, 2, prefix="rwop", labels={label: "yes"},
                 taints=[{"key": label, "value": "x", "effect": "NoSchedule"}])
    name = "rwop-pv-" + ns
    claim = bound_pvc("solo", name)
    claim["spec"]["accessModes"] = ["ReadWriteOncePod"]
    vol = pv(name)
    vol["spec"]["accessModes"] = ["ReadWriteOncePod"]
    try:
        s.kubectl("create", "-f", "-", input=json.dumps(vol))
        kapply(s, ns, claim, vol_pod("first", label, ["solo"]))
        first = wait_for(lambda: node_of(s, ns, "first"), what="first scheduled")
        kapply(s, ns, vol_pod("second", label, ["solo"]))
        msg = wait_for(lambda: unschedulable_msg(s, ns, "second"), what="second unschedulable")
        assert ("2 node has pod using PersistentVolumeClaim with the same name and "
                "ReadWriteOncePod access mode") in msg
        time.sleep(0.5)
        assert not node_of(s, ns, "second")
        s.kubectl("-n", ns, "delete", "pod", "first", "--wait=false")
        assert wait_for(lambda: node_of(s, ns, "second"), what="second scheduled") in (
            "rwop-0", "rwop-1")
        assert first in ("rwop-0", "rwop-1")
        # one EBS volume, three pods: one per node, the third nowhere
        for n in ("ebs-0", "ebs-1", "ebs-2"):
            p = vol_pod(n, label, [])
            p["spec"]["volumes"] = [{"name": "disk", "awsElasticBlockStore": {
                "volumeID": "vol-0123456789abcdef0", "fsType": "ext4"}}]
            kapply(s, ns, p)
            if n != "ebs-2":
                wait_for(lambda n=n: node_of(s, ns, n), what=n + " scheduled")
        assert {node_of(s, ns, "ebs-0"), node_of(s, ns, "ebs-1")} == {"rwop-0", "rwop-1"}
        msg = wait_for(lambda: unschedulable_msg(s, ns, "ebs-2"), what="ebs-2 unschedulable")
        assert "2 node(s) had no available disk" in msg
    finally:
        s.kubectl("-n", ns, "delete", "pod", "--all", "--wait=false", check=False)
        s.kubectl("delete", "pv", name, "--wait=false", check=False)
