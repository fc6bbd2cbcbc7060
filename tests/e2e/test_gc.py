"""The garbage collector and cascading deletion (`kubectl delete --cascade=background|foreground|
orphan`), and PodGC (terminated pods over --terminated-pod-gc-threshold, pods on a deleted
node), on a server of their own that runs only these two controllers, so that hand-made
Deployments, ReplicaSets and pods stay as the tests make them."""
import json
import shutil
import tempfile
import time

import pytest

from conftest import Server


@pytest.fixture(scope="module")
def gcs():
    tmp = tempfile.mkdtemp(prefix="k1s-e2e-")
    s = Server(tmp, extra_args=[
        "--disable-scheduler",
        "--kube-controller-manager-arg", "controllers=garbagecollector,podgc",
        "--kube-controller-manager-arg", "terminated-pod-gc-threshold=3"]).start()
    yield s
    s.stop()
    shutil.rmtree(tmp, ignore_errors=True)


_n = [0]


@pytest.fixture
def gns(gcs):
    _n[0] += 1
    name = "gc-%d" % _n[0]
    gcs.kubectl("create", "namespace", name)
    return name


def get(s, ns, kind, name):
    p = s.kubectl("-n", ns, "get", kind, name, "-o", "json", "--ignore-not-found")
    return json.loads(p.stdout) if p.stdout.strip() else None


def create(s, ns, obj):
    out = s.kubectl("-n", ns, "create", "-o", "json", "-f", "-", input=json.dumps(obj)).stdout
    return json.loads(out)


def ref(owner, block=None, controller=None):
    r = {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
         "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}
    if block is not None:
        r["blockOwnerDeletion"] = block
    if controller is not None:
        r["controller"] = controller
    return r


def cm(s, ns, name, owners=(), finalizers=None):
    md = {"name": name, "ownerReferences": list(owners)}
    if finalizers:
        md["finalizers"] = finalizers
    return create(s, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md})


def wait(fn, what, timeout=30):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.2)


def gone(s, ns, kind, name):
    return lambda: get(s, ns, kind, name) is None


def test_background_deletes_dependents(gcs, gns, doomed):
    s = gcs
    owner = cm(s, gns, "owner")
    cm(s, gns, "dep1", [ref(owner)])
    sec = create(s, gns, {"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "dep2", "ownerReferences": [ref(owner)]}})
    assert sec["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    # a dependent of a dependent goes too
    d1 = get(s, gns, "configmap", "dep1")
    cm(s, gns, "grandchild", [ref(d1)])
    s.kubectl("-n", gns, "delete", "configmap", "owner")  # --cascade=background by default
    for kind, name in (("configmap", "dep1"), ("secret", "dep2"), ("configmap", "grandchild")):
        wait(gone(s, gns, kind, name), "%s/%s to be collected" % (kind, name))


def test_orphan_keeps_dependents(gcs, gns):
    s = gcs
    owner = cm(s, gns, "owner")
    other = cm(s, gns, "other")
    cm(s, gns, "dep", [ref(owner), ref(other)])
    cm(s, gns, "only", [ref(owner, block=True)])
    p = s.kubectl("-n", gns, "delete", "configmap", "owner", "--cascade=orphan")
    assert 'configmap "owner" deleted' in p.stdout
    wait(gone(s, gns, "configmap", "owner"), "the owner to go once orphaned")
    dep = get(s, gns, "configmap", "dep")
    assert [r["name"] for r in dep["metadata"]["ownerReferences"]] == ["other"]
    only = get(s, gns, "configmap", "only")
    assert "ownerReferences" not in only["metadata"]
    time.sleep(1)  # nothing collects them later either
    assert get(s, gns, "configmap", "only") is not None


def test_orphan_finalizer_visible_until_done(gcs, gns):
    """With a finalizer of its own, an orphaned owner keeps deletionTimestamp and its own
    finalizer; the orphan finalizer is gone once the dependents are released."""
    s = gcs
    owner = cm(s, gns, "owner", finalizers=["example.com/hold"])
    cm(s, gns, "dep", [ref(owner)])
    s.kubectl("-n", gns, "delete", "configmap", "owner", "--cascade=orphan", "--wait=false")
    def released():
        o = get(s, gns, "configmap", "owner")
        d = get(s, gns, "configmap", "dep")
        return (o["metadata"].get("finalizers") == ["example.com/hold"] and
                "ownerReferences" not in d["metadata"]) and o
    o = wait(released, "the orphan finalizer to be removed")
    assert o["metadata"]["deletionTimestamp"]
    s.kubectl("-n", gns, "patch", "configmap", "owner", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    wait(gone(s, gns, "configmap", "owner"), "the owner to go")
    assert get(s, gns, "configmap", "dep") is not None


def test_foreground_waits_for_dependents(gcs, gns):
    s = gcs
    owner = cm(s, gns, "owner")
    # a blocking dependent held by a finalizer keeps the owner until it is gone
    cm(s, gns, "blocker", [ref(owner, block=True)], finalizers=["example.com/hold"])
    cm(s, gns, "plain", [ref(owner)])
    s.kubectl("-n", gns, "delete", "configmap", "owner", "--cascade=foreground", "--wait=false")

    def owner_waiting():
        o = get(s, gns, "configmap", "owner")
        b = get(s, gns, "configmap", "blocker")
        return o and b and b["metadata"].get("deletionTimestamp") and o
    o = wait(owner_waiting, "the blocking dependent to be deleted")
    assert o["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in o["metadata"]["finalizers"]
    wait(gone(s, gns, "configmap", "plain"), "the non-blocking dependent to be collected")
    time.sleep(1)
    o = get(s, gns, "configmap", "owner")
    assert o is not None and "foregroundDeletion" in o["metadata"]["finalizers"]
    # kubectl shows it as being deleted
    s.kubectl("-n", gns, "patch", "configmap", "blocker", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    wait(gone(s, gns, "configmap", "blocker"), "the blocker to go")
    wait(gone(s, gns, "configmap", "owner"), "the owner to go after its dependents")


def test_foreground_with_kubectl_wait(gcs, gns):
    """kubectl delete --cascade=foreground returns once the owner and its dependents are gone."""
    s = gcs
    owner = cm(s, gns, "owner")
    for i in range(3):
        cm(s, gns, "dep%d" % i, [ref(owner, block=True)])
    p = s.kubectl("-n", gns, "delete", "configmap", "owner", "--cascade=foreground",
                  "--timeout=60s")
    assert 'configmap "owner" deleted' in p.stdout
    for i in range(3):
        assert get(s, gns, "configmap", "dep%d" % i) is None


def test_multiple_owners_and_dangling(gcs, gns):
    s = gcs
    a = cm(s, gns, "a")
    b = cm(s, gns, "b")
    cm(s, gns, "shared", [ref(a), ref(b)])
    s.kubectl("-n", gns, "delete", "configmap", "a")

    def lost_ref():
        d = get(s, gns, "configmap", "shared")
        refs = d["metadata"].get("ownerReferences", [])
        return [r["name"] for r in refs] == ["b"]
    wait(lost_ref, "the dangling reference to be removed")
    s.kubectl("-n", gns, "delete", "configmap", "b")
    wait(gone(s, gns, "configmap", "shared"), "the last owner's dependent to be collected")

    # an owner that never existed: the dependent is collected at once
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
             "uid": "5f2b6a0e-0000-4000-8000-000000000001"}
    cm(s, gns, "orphan", [ghost])
    # an owner of the same name but another uid does not keep it either
    cm(s, gns, "same-name")
    stale = {"apiVersion": "v1", "kind": "ConfigMap", "name": "same-name",
             "uid": "5f2b6a0e-0000-4000-8000-000000000002"}
    cm(s, gns, "stale", [stale])
    wait(gone(s, gns, "configmap", "orphan"), "a dependent of a missing owner to be collected")
    wait(gone(s, gns, "configmap", "stale"), "a dependent of a uid-mismatched owner")
    assert get(s, gns, "configmap", "same-name") is not None


def app_tree(s, ns, nodes=None):
    """A Deployment, its ReplicaSet and two pods, wired with ownerReferences by hand; with
    nodes, the pods are bound to them and take their 2 s grace period to stop."""
    labels = {"app": "web"}
    tmpl = {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    if nodes:
        tmpl["metadata"]["annotations"] = {"hollow.k1s.io/delete-after-grace": "true"}
        tmpl["spec"]["terminationGracePeriodSeconds"] = 2
    dep = create(s, ns, {"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web"},
                         "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                                  "template": tmpl}})
    rs = create(s, ns, {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "metadata": {"name": "web-abc", "labels": labels,
                                     "ownerReferences": [ref(dep, True, True)]},
                        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                                 "template": tmpl}})
    for i in range(2):
        spec = dict(tmpl["spec"])
        if nodes:
            spec["nodeName"] = nodes[i % len(nodes)]
        create(s, ns, {"apiVersion": "v1", "kind": "Pod",
                       "metadata": dict(tmpl["metadata"], name="web-abc-%d" % i,
                                        ownerReferences=[ref(rs, True, True)]),
                       "spec": spec})
    return dep, rs


def test_deployment_cascade(gcs, gns):
    s = gcs
    app_tree(s, gns)
    s.kubectl("-n", gns, "delete", "deployment", "web")
    wait(gone(s, gns, "replicaset", "web-abc"), "the ReplicaSet to be collected")
    wait(lambda: not json.loads(s.kubectl("-n", gns, "get", "pods", "-o", "json").stdout)["items"],
         "the pods to be collected")


def test_deployment_orphan(gcs, gns):
    s = gcs
    app_tree(s, gns)
    s.kubectl("-n", gns, "delete", "deployment", "web", "--cascade=orphan")
    assert get(s, gns, "deployment", "web") is None
    time.sleep(1)
    rs = get(s, gns, "replicaset", "web-abc")
    assert rs is not None and "ownerReferences" not in rs["metadata"]
    pods = json.loads(s.kubectl("-n", gns, "get", "pods", "-o", "json").stdout)["items"]
    assert len(pods) == 2
    assert all(p["metadata"]["ownerReferences"][0]["name"] == "web-abc" for p in pods)


def test_deployment_foreground(gcs, gns):
    s = gcs
    app_tree(s, gns)
    p = s.kubectl("-n", gns, "delete", "deployment", "web", "--cascade=foreground",
                  "--timeout=60s")
    assert 'deployment.apps "web" deleted' in p.stdout
    assert get(s, gns, "replicaset", "web-abc") is None
    assert not json.loads(s.kubectl("-n", gns, "get", "pods", "-o", "json").stdout)["items"]


def test_delete_options_api(gcs, gns):
    """DeleteOptions over the API: the finalizers a policy sets, the deprecated
    orphanDependents, invalid values, and a second delete changing the policy."""
    s = gcs
    owner = cm(s, gns, "owner", finalizers=["example.com/hold"])
    path = "/api/v1/namespaces/%s/configmaps/owner" % gns
    code, body = s.json("DELETE", path, {"propagationPolicy": "Sideways"})
    assert code == 422 and 'Unsupported value: "Sideways"' in body["message"], body
    code, body = s.json("DELETE", path, {"propagationPolicy": "Orphan",
                                         "orphanDependents": True})
    assert code == 422, body
    code, body = s.json("DELETE", path, {"propagationPolicy": "Foreground"})
    assert code == 200, body
    assert body["metadata"]["finalizers"] == ["example.com/hold", "foregroundDeletion"]
    assert body["metadata"]["deletionTimestamp"]
    # deleting again with another policy swaps the finalizer (the GC removes it soon after,
    # so accept either the swapped or the finished state)
    code, body = s.json("DELETE", path, {"orphanDependents": True})
    assert code == 200, body
    assert "foregroundDeletion" not in body["metadata"]["finalizers"]
    wait(lambda: get(s, gns, "configmap", "owner")["metadata"]["finalizers"] ==
         ["example.com/hold"], "the GC to finish")
    # a Job without options orphans its pods by default (batch/v1's compatibility default)
    job = create(s, gns, {"apiVersion": "batch/v1", "kind": "Job",
                          "metadata": {"name": "j", "finalizers": ["example.com/hold"]},
                          "spec": {"template": {"spec": {
                              "restartPolicy": "Never",
                              "containers": [{"name": "c", "image": "busybox"}]}}}})
    code, body = s.json("DELETE", "/apis/batch/v1/namespaces/%s/jobs/j" % gns)
    assert code == 200 and "orphan" in body["metadata"]["finalizers"], body
    assert job["metadata"]["uid"] == body["metadata"]["uid"]
    s.kubectl("-n", gns, "patch", "configmap", "owner", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    s.kubectl("-n", gns, "patch", "job", "j", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    wait(gone(s, gns, "job", "j"), "the job to go")
    # deletecollection takes the policy too
    owner = create(s, gns, {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "coll", "labels": {"set": "x"}}})
    cm(s, gns, "coll-dep", [ref(owner)])
    code, body = s.json("DELETE", "/api/v1/namespaces/%s/configmaps?labelSelector=set%%3Dx" % gns,
                        {"propagationPolicy": "Orphan"})
    assert code == 200, body
    wait(gone(s, gns, "configmap", "coll"), "the collection to go once orphaned")
    assert "ownerReferences" not in get(s, gns, "configmap", "coll-dep")["metadata"]


def pods_in(s, ns):
    out = s.kubectl("-n", ns, "get", "pods", "-o", "json").stdout
    return {p["metadata"]["name"]: p for p in json.loads(out)["items"]}


def set_phase(s, ns, name, phase):
    s.kubectl("-n", ns, "patch", "pod", name, "--subresource=status", "--type=merge", "-p",
              json.dumps({"status": {"phase": phase}}))


def test_foreground_chain_unblocks(gcs, gns):
    """An object waited for by its owner whose own dependent already waits in the foreground
    stops blocking the owner (upstream's cycle guard): the owner goes, the rest follows once the
    held object at the bottom is released."""
    s = gcs
    a = cm(s, gns, "a")
    b = cm(s, gns, "b", [ref(a, block=True)])
    c = cm(s, gns, "c", [ref(b, block=True)])
    cm(s, gns, "d", [ref(c, block=True)], finalizers=["example.com/hold"])
    s.kubectl("-n", gns, "delete", "configmap", "c", "--cascade=foreground", "--wait=false")
    wait(lambda: (get(s, gns, "configmap", "d") or {}).get("metadata", {}).get(
        "deletionTimestamp"), "d to be deleted")
    s.kubectl("-n", gns, "delete", "configmap", "a", "--cascade=foreground", "--wait=false")
    wait(gone(s, gns, "configmap", "a"), "a to go once b no longer blocks it")
    bo = get(s, gns, "configmap", "b")
    assert bo["metadata"]["deletionTimestamp"]
    assert bo["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is False
    s.kubectl("-n", gns, "patch", "configmap", "d", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    for name in ("d", "c", "b"):
        wait(gone(s, gns, "configmap", name), name + " to go")


def test_custom_resources(gcs, gns):
    """Custom resources own and are owned like built-in ones, also for a CRD created while the
    collector runs."""
    s = gcs
    s.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.gc.example.com"},
        "spec": {"group": "gc.example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]}}))
    s.kubectl("wait", "--for", "condition=established", "--timeout=30s",
              "crd/widgets.gc.example.com")
    w = create(s, gns, {"apiVersion": "gc.example.com/v1", "kind": "Widget",
                        "metadata": {"name": "w"}})
    cm(s, gns, "of-widget", [ref(w, block=True)])
    owner = cm(s, gns, "owner")
    create(s, gns, {"apiVersion": "gc.example.com/v1", "kind": "Widget",
                    "metadata": {"name": "owned", "ownerReferences": [ref(owner)]}})
    s.kubectl("-n", gns, "delete", "widget", "w", "--cascade=foreground", "--timeout=60s")
    assert get(s, gns, "configmap", "of-widget") is None
    s.kubectl("-n", gns, "delete", "configmap", "owner")
    wait(gone(s, gns, "widget", "owned"), "the owned Widget to be collected")


@pytest.fixture(scope="module")
def doomed(gcs):
    """Two pods on a node that is then deleted (one held by a finalizer), set up by the first
    test of the module so that PodGC's 40 s quarantine runs while the other tests do."""
    s = gcs
    name = "gc-doomed"
    s.kubectl("create", "namespace", name)
    s.kubectl("create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "doomed"}}))
    spec = {"nodeName": "doomed", "containers": [{"name": "c", "image": "busybox"}]}
    for pod, fin in (("on-doomed", None), ("held-on-doomed", ["example.com/hold"])):
        md = {"name": pod}
        if fin:
            md["finalizers"] = fin
        create(s, name, {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec})
    s.kubectl("delete", "node", "doomed")
    return name, time.time()


def test_podgc_terminated(gcs, gns):
    """Terminated pods over the threshold (3) go, oldest first; running ones do not count."""
    s = gcs
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    # created in name order, so that age (then name, for equal timestamps) orders them
    for i in range(5):
        create(s, gns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "done-%d" % i},
                        "spec": spec})
    create(s, gns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "running"},
                    "spec": spec})
    set_phase(s, gns, "running", "Running")
    for i in range(5):
        set_phase(s, gns, "done-%d" % i, "Succeeded" if i % 2 else "Failed")

    def trimmed():
        names = {n for n in pods_in(s, gns) if n.startswith("done-")}
        return names == {"done-2", "done-3", "done-4"}
    wait(trimmed, "terminated pods over the threshold to be deleted")
    time.sleep(1)
    assert {"done-2", "done-3", "done-4", "running"} == set(pods_in(s, gns))
    s.kubectl("-n", gns, "delete", "pods", "--all", "--wait=false")


def test_podgc_node_gone(gcs, doomed):
    """Pods on a deleted node go after the 40 s quarantine, marked Failed with the
    DisruptionTarget condition first (seen on the one a finalizer holds)."""
    s = gcs
    ns, t0 = doomed
    if time.time() - t0 < 35:
        assert {"on-doomed", "held-on-doomed"} <= set(pods_in(s, ns))
    wait(gone(s, ns, "pod", "on-doomed"), "the orphaned pod to be deleted", timeout=90)
    assert time.time() - t0 >= 39
    held = get(s, ns, "pod", "held-on-doomed")
    assert held["metadata"]["deletionTimestamp"]
    assert held["status"]["phase"] == "Failed"
    conds = {c["type"]: c for c in held["status"].get("conditions", [])}
    dt = conds["DisruptionTarget"]
    assert (dt["status"], dt["reason"], dt["message"]) == (
        "True", "DeletionByPodGC", "PodGC: node no longer exists")
    # deleted with grace period 0, it goes as soon as its finalizer does
    s.kubectl("-n", ns, "patch", "pod", "held-on-doomed", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    wait(gone(s, ns, "pod", "held-on-doomed"), "the held pod to go")


def test_podgc_terminating(gcs, gns):
    """Terminating pods on a NotReady node tainted node.kubernetes.io/out-of-service, and
    terminating pods never scheduled, are force-deleted (marked Failed first)."""
    s = gcs
    s.kubectl("create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gc-oos"}}))
    spec = {"nodeName": "gc-oos", "containers": [{"name": "c", "image": "busybox"}]}
    create(s, gns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stuck"},
                    "spec": spec})
    s.kubectl("-n", gns, "delete", "pod", "stuck", "--wait=false")
    time.sleep(1)
    assert get(s, gns, "pod", "stuck")["metadata"]["deletionTimestamp"]
    s.kubectl("taint", "node", "gc-oos", "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute")
    wait(gone(s, gns, "pod", "stuck"), "the terminating pod on the out-of-service node to go",
         timeout=20)

    create(s, gns, {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "unscheduled", "finalizers": ["example.com/hold"]},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    s.kubectl("-n", gns, "delete", "pod", "unscheduled", "--wait=false")
    wait(lambda: get(s, gns, "pod", "unscheduled")["status"].get("phase") == "Failed",
         "the unscheduled terminating pod to be marked Failed")
    s.kubectl("-n", gns, "patch", "pod", "unscheduled", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    wait(gone(s, gns, "pod", "unscheduled"), "the unscheduled pod to go")
    s.kubectl("delete", "node", "gc-oos")


def test_deployment_foreground_on_nodes(gcs, gns, hollow_nodes):
    """Foreground deletion waits for pods that take their grace period to stop on their nodes:
    whenever the Deployment is seen gone, so are its ReplicaSet and pods. A deleted node's
    Lease (owned by the Node) is collected."""
    s = gcs
    cluster = hollow_nodes(s, 2, prefix="gcnode")
    app_tree(s, gns, nodes=cluster.names)
    s.kubectl("-n", gns, "wait", "--for=condition=Ready", "pod/web-abc-0", "pod/web-abc-1",
              "--timeout=30s")
    s.kubectl("-n", gns, "delete", "deployment", "web", "--cascade=foreground", "--wait=false")
    saw_waiting = False
    deadline = time.time() + 60
    while True:
        out = s.kubectl("-n", gns, "get", "deployments,replicasets,pods", "-o", "json").stdout
        items = json.loads(out)["items"]
        kinds = [i["kind"] for i in items]
        if "Deployment" not in kinds:
            assert not items, kinds  # listed after the Deployment: already gone too
            break
        d = next(i for i in items if i["kind"] == "Deployment")
        assert d["metadata"]["deletionTimestamp"]
        assert "foregroundDeletion" in d["metadata"]["finalizers"]
        saw_waiting = saw_waiting or "Pod" in kinds
        assert time.time() < deadline, kinds
        time.sleep(0.2)
    assert saw_waiting

    name = cluster.names[1]
    lease = s.kubectl("-n", "kube-node-lease", "get", "lease", name, "-o", "json").stdout
    assert json.loads(lease)["metadata"]["ownerReferences"][0]["kind"] == "Node"
    cluster.node(name).stop()
    s.kubectl("delete", "node", name)
    wait(lambda: not s.kubectl("-n", "kube-node-lease", "get", "lease", name,
                               "--ignore-not-found").stdout.strip(),
         "the deleted node's Lease to be collected")


def test_gc_finishes_after_restart(fresh_server):
    """Deletions started while no collector runs are finished by the next one (it works from
    the finalizers and references it lists at start)."""
    s = fresh_server
    s.extra_args += ["--disable-controllers", "--disable-scheduler"]
    s.start()
    ns = "default"
    owner = cm(s, ns, "owner")
    cm(s, ns, "dep", [ref(owner)])
    fg = cm(s, ns, "fg")
    cm(s, ns, "fg-dep", [ref(fg, block=True)])
    cm(s, ns, "dangling", [{"apiVersion": "v1", "kind": "ConfigMap", "name": "never",
                            "uid": "5f2b6a0e-0000-4000-8000-000000000003"}])
    # listed before its owner (namespaces in name order): reported when the owner is seen
    s.kubectl("create", "namespace", "a-cross")
    cm(s, "a-cross", "cross", [ref(cm(s, ns, "kept"))])
    s.kubectl("-n", ns, "delete", "configmap", "owner", "--cascade=orphan", "--wait=false")
    s.kubectl("-n", ns, "delete", "configmap", "fg", "--cascade=foreground", "--wait=false")
    time.sleep(0.5)
    assert get(s, ns, "configmap", "owner")["metadata"]["finalizers"] == ["orphan"]
    assert get(s, ns, "configmap", "fg")["metadata"]["finalizers"] == ["foregroundDeletion"]
    s.stop()
    s.extra_args.remove("--disable-controllers")
    s.start()
    for name in ("owner", "fg", "fg-dep", "dangling"):
        wait(gone(s, ns, "configmap", name), name + " to go")
    assert "ownerReferences" not in get(s, ns, "configmap", "dep")["metadata"]
    wait(gone(s, "a-cross", "configmap", "cross"), "the cross-namespace dependent to go")
    evs = wait(lambda: invalid_ns_events(s, "a-cross"), "the OwnerRefInvalidNamespace Event")
    assert [(e["involvedObject"]["name"], e["count"]) for e in evs] == [("cross", 1)]
    assert get(s, ns, "configmap", "kept") is not None


def test_shorter_grace_then_finalizer(gcs, gns):
    """A pod deleted gracefully and then with grace period 0 (as a kubelet or `kubectl delete
    --force` does) while a finalizer holds it goes as soon as the finalizer does."""
    s = gcs
    s.kubectl("create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gc-grace"}}))
    create(s, gns, {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "finalizers": ["example.com/hold"]},
                    "spec": {"nodeName": "gc-grace",
                             "containers": [{"name": "c", "image": "busybox"}]}})
    s.kubectl("-n", gns, "delete", "pod", "p", "--wait=false")
    assert get(s, gns, "pod", "p")["metadata"]["deletionGracePeriodSeconds"] == 30
    s.kubectl("-n", gns, "delete", "pod", "p", "--grace-period=0", "--force", "--wait=false")
    md = get(s, gns, "pod", "p")["metadata"]
    assert md["deletionGracePeriodSeconds"] == 0
    s.kubectl("-n", gns, "patch", "pod", "p", "--type=merge", "-p",
              '{"metadata":{"finalizers":null}}')
    wait(gone(s, gns, "pod", "p"), "the pod to go with its finalizer", timeout=10)
    s.kubectl("delete", "node", "gc-grace")


def invalid_ns_events(s, ns):
    out = json.loads(s.kubectl("-n", ns, "get", "events", "-o", "json").stdout)
    return [e for e in out["items"] if e["reason"] == "OwnerRefInvalidNamespace"]


def test_owner_in_other_namespace(gcs, gns):
    """An ownerReference to an owner that lives in another namespace is reported with an
    OwnerRefInvalidNamespace Warning on the dependent and counts as dangling; a cluster-scoped
    dependent naming a namespaced owner is reported too and left alone."""
    s = gcs
    other = gns + "-x"
    s.kubectl("create", "namespace", other)
    owner = cm(s, gns, "owner")
    uid = owner["metadata"]["uid"]
    local = cm(s, other, "local-owner")
    cm(s, gns, "valid", [ref(owner)])
    cm(s, other, "invalid", [ref(owner)])
    cm(s, other, "mixed", [ref(owner), ref(local)])
    crole = "gc-invalid-" + gns
    s.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": crole, "ownerReferences": [ref(owner)]}, "rules": []}))
    wait(gone(s, other, "configmap", "invalid"), "the dependent in the other namespace to go")
    wait(lambda: [r["name"] for r in get(s, other, "configmap", "mixed")["metadata"]
                  ["ownerReferences"]] == ["local-owner"], "the invalid reference to be removed")
    msg = 'ownerRef [v1/ConfigMap, namespace: %s, name: owner, uid: %s] does not exist in ' \
          'namespace "%s"' % (other, uid, other)
    evs = wait(lambda: (lambda e: e if len(e) == 2 else None)(invalid_ns_events(s, other)),
               "OwnerRefInvalidNamespace events on both dependents")
    assert sorted(e["involvedObject"]["name"] for e in evs) == ["invalid", "mixed"]
    for e in evs:
        assert e["type"] == "Warning" and e["message"] == msg, e
        assert e["involvedObject"]["kind"] == "ConfigMap" and e["count"] == 1, e
        assert e["source"]["component"] == "garbage-collector-controller", e
    # the cluster-scoped dependent: its Event is in "default", it stays, with its reference
    cev = wait(lambda: [e for e in invalid_ns_events(s, "default")
                        if e["involvedObject"]["name"] == crole], "the ClusterRole's Event")
    assert cev[0]["involvedObject"]["kind"] == "ClusterRole"
    assert cev[0]["message"] == 'ownerRef [v1/ConfigMap, namespace: , name: owner, uid: %s] ' \
                                'does not exist in namespace ""' % uid
    cr = json.loads(s.kubectl("get", "clusterrole", crole, "-o", "json").stdout)
    assert cr["metadata"]["ownerReferences"][0]["uid"] == uid
    # the owner's own namespace is unaffected: its dependent stays, and goes with it
    assert get(s, gns, "configmap", "valid")["metadata"]["ownerReferences"][0]["uid"] == uid
    assert invalid_ns_events(s, gns) == []
    s.kubectl("-n", gns, "delete", "configmap", "owner")
    wait(gone(s, gns, "configmap", "valid"), "the valid dependent to go with its owner")
    s.kubectl("delete", "clusterrole", crole)


def unknown_resource_404s(s):
    """How many requests the API server answered 404 for a resource it does not serve."""
    for line in s.kubectl("get", "--raw", "/metrics").stdout.splitlines():
        if line.startswith('apiserver_request_total{code="404",resource="",verb="other"}'):
            return int(line.split()[-1])
    return 0


GADGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.gc2.example.com"},
    "spec": {"group": "gc2.example.com", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def test_crd_deleted_and_back(gcs, gns):
    """When a CRD goes, the collector hears its objects' deletions (their dependents are
    collected), then stops watching the resource: no more requests for it. When the CRD comes
    back, its objects own and are owned again."""
    s = gcs

    def establish():
        s.kubectl("apply", "-f", "-", input=json.dumps(GADGETS))
        s.kubectl("wait", "--for", "condition=established", "--timeout=30s",
                  "crd/gadgets.gc2.example.com")

    def gadget(name, owners=()):
        return create(s, gns, {"apiVersion": "gc2.example.com/v1", "kind": "Gadget",
                               "metadata": {"name": name, "ownerReferences": list(owners)}})

    establish()
    cm(s, gns, "of-gadget", [ref(gadget("g"))])
    s.kubectl("delete", "crd", "gadgets.gc2.example.com", "--timeout=60s")
    wait(gone(s, gns, "configmap", "of-gadget"), "the dependent of a deleted Gadget to go")
    time.sleep(1.5)
    before = unknown_resource_404s(s)
    time.sleep(4)  # an informer still listing the gone resource would retry within this
    assert unknown_resource_404s(s) == before
    establish()
    cm(s, gns, "of-gadget2", [ref(gadget("g2"))])
    owner = cm(s, gns, "gadget-owner")
    gadget("owned", [ref(owner)])
    s.kubectl("-n", gns, "delete", "gadget", "g2")
    s.kubectl("-n", gns, "delete", "configmap", "gadget-owner")
    wait(gone(s, gns, "configmap", "of-gadget2"), "the dependent of a Gadget to go")
    wait(gone(s, gns, "gadget", "owned"), "the Gadget owned by a deleted ConfigMap to go")
    s.kubectl("delete", "crd", "gadgets.gc2.example.com", "--timeout=60s")
    assert "gadgets" not in s.read_log()
