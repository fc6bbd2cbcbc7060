"""The ReplicaSet controller in `k1s server`, on hollow nodes, seen through kubectl: a ReplicaSet
gets spec.replicas pods (SuccessfulCreate Events with upstream's "Created pod: <name>") and
status counts; deleted pods are replaced; `kubectl scale` up and down (the least valuable pods
go first, SuccessfulDelete); orphans matching the selector are adopted and pods relabelled out
of it released; minReadySeconds delays availableReplicas (a timer, no polling); a quota that
refuses pods gives FailedCreate and the ReplicaFailure condition."""
import json
import time

import pytest

import helpers
from helpers import create, hollow_cluster, kjson, ready


def wait_for(fn, timeout=60, what="condition"):
    """helpers.wait_for, a kubectl that fails counting as not yet."""
    return helpers.wait_for(fn, timeout, what, retry_errors=True)


def rs_manifest(name, replicas, labels=None, min_ready=0, annotations=None):
    labels = labels or {"app": name}
    tmeta = {"labels": labels}
    if annotations:
        tmeta["annotations"] = annotations
    spec = {"replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": tmeta,
                         "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": spec}


def get_rs(server, ns, name):
    return kjson(server, ns, "get", "rs", name)


def pods_of(server, ns, selector):
    items = kjson(server, ns, "get", "pods", "-l", selector)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def events(server, ns, reason):
    return kjson(server, ns, "get", "events", "--field-selector", "reason=" + reason)["items"]


def status_is(server, ns, name, replicas, ready_=None, available=None):
    st = get_rs(server, ns, name).get("status", {})
    ok = st.get("replicas", 0) == replicas
    if ready_ is not None:
        ok = ok and st.get("readyReplicas", 0) == ready_
    if available is not None:
        ok = ok and st.get("availableReplicas", 0) == available
    return ok and st


@pytest.fixture(scope="module")
def nodes(server):
    yield from hollow_cluster(server, "rs", 2)


def test_replicas_created_replaced_and_scaled(server, ns, nodes):
    s = server
    create(s, ns, rs_manifest("web", 3))
    st = wait_for(lambda: status_is(s, ns, "web", 3, 3, 3), what="3 ready replicas")
    rs = get_rs(s, ns, "web")
    assert st["fullyLabeledReplicas"] == 3
    assert st["observedGeneration"] == rs["metadata"]["generation"]
    pods = pods_of(s, ns, "app=web")
    assert len(pods) == 3
    for p in pods:
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["name"] == "web" and ref["controller"]
        assert ref["uid"] == rs["metadata"]["uid"]
        assert p["metadata"]["name"].startswith("web-")
    msgs = sorted(e["message"] for e in events(s, ns, "SuccessfulCreate"))
    assert msgs == sorted("Created pod: " + p["metadata"]["name"] for p in pods)
    assert events(s, ns, "SuccessfulCreate")[0]["source"]["component"] == "replicaset-controller"

    # a deleted pod is replaced
    gone = pods[0]["metadata"]["name"]
    s.kubectl("-n", ns, "delete", "pod", gone, "--wait=false")
    wait_for(lambda: (lambda ps: len(ps) == 3 and gone not in [p["metadata"]["name"] for p in ps]
                      and all(ready(p) for p in ps))(pods_of(s, ns, "app=web")),
             what="a replacement pod")

    # scale up and down with kubectl
    s.kubectl("-n", ns, "scale", "rs", "web", "--replicas=5")
    wait_for(lambda: status_is(s, ns, "web", 5, 5, 5), what="5 replicas")
    s.kubectl("-n", ns, "scale", "rs", "web", "--replicas=2")
    wait_for(lambda: status_is(s, ns, "web", 2, 2, 2), what="2 replicas")
    assert len(pods_of(s, ns, "app=web")) == 2
    dels = events(s, ns, "SuccessfulDelete")
    assert len(dels) == 3 and all(e["message"].startswith("Deleted pod: web-") for e in dels)
    # the ReplicaSet is idle now: its status stays as it is
    rv = get_rs(s, ns, "web")["metadata"]["resourceVersion"]
    time.sleep(1)
    assert get_rs(s, ns, "web")["metadata"]["resourceVersion"] == rv

    # many pods: from the tenth different "Created pod" on, one Event counts them all, as
    # client-go's aggregator does (6 so far, 12 more)
    s.kubectl("-n", ns, "scale", "rs", "web", "--replicas=14")
    wait_for(lambda: status_is(s, ns, "web", 14, 14, 14), what="14 replicas")

    def combined():
        evs = events(s, ns, "SuccessfulCreate")
        comb = [e for e in evs if e["message"].startswith(
            "(combined from similar events): Created pod: web-")]
        return len(evs) == 10 and len(comb) == 1 and comb[0]["count"] == 9
    wait_for(combined, what="9 plain SuccessfulCreate Events and one combined with count 9")


def test_least_valuable_pods_deleted_first(server, ns, nodes):
    s = server
    create(s, ns, rs_manifest("val", 2))
    wait_for(lambda: status_is(s, ns, "val", 2, 2, 2), what="2 ready")
    # the ReplicaSet's next pods never become ready; scaling back down deletes them first
    s.kubectl("-n", ns, "patch", "rs", "val", "--type=merge", "-p", json.dumps(
        {"spec": {"replicas": 4, "template": {"metadata": {"annotations": {
            "hollow.k1s.io/never-ready": "true"}}}}}))
    wait_for(lambda: status_is(s, ns, "val", 4, 2), what="4 replicas, 2 ready")
    keep = sorted(p["metadata"]["name"] for p in pods_of(s, ns, "app=val") if ready(p))
    s.kubectl("-n", ns, "scale", "rs", "val", "--replicas=2")
    wait_for(lambda: status_is(s, ns, "val", 2, 2), what="2 replicas")
    assert sorted(p["metadata"]["name"] for p in pods_of(s, ns, "app=val")) == keep


def test_adopt_and_release(server, ns, nodes):
    s = server
    orphan = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}
    create(s, ns, orphan)
    create(s, ns, rs_manifest("adopt", 2))
    wait_for(lambda: status_is(s, ns, "adopt", 2, 2), what="2 replicas")
    pods = pods_of(s, ns, "app=adopt")
    names = [p["metadata"]["name"] for p in pods]
    assert "orphan" in names and len(names) == 2
    o = kjson(s, ns, "get", "pod", "orphan")
    refs = o["metadata"]["ownerReferences"]
    assert len(refs) == 1 and refs[0]["name"] == "adopt" and refs[0]["controller"]
    assert refs[0]["blockOwnerDeletion"]

    # relabelled out of the selector: released, and replaced
    s.kubectl("-n", ns, "label", "pod", "orphan", "app=gone", "--overwrite")
    wait_for(lambda: not kjson(s, ns, "get", "pod", "orphan")["metadata"].get("ownerReferences"),
             what="the pod released")
    wait_for(lambda: len(pods_of(s, ns, "app=adopt")) == 2 and
             status_is(s, ns, "adopt", 2, 2), what="a replacement")
    assert "orphan" not in [p["metadata"]["name"] for p in pods_of(s, ns, "app=adopt")]
    # and back in: adopted again, the surplus pod deleted
    s.kubectl("-n", ns, "label", "pod", "orphan", "app=adopt", "--overwrite")
    wait_for(lambda: len(pods_of(s, ns, "app=adopt")) == 2 and
             kjson(s, ns, "get", "pod", "orphan")["metadata"].get("ownerReferences"),
             what="re-adopted and back to 2")


def test_min_ready_seconds(server, ns, nodes):
    s = server
    create(s, ns, rs_manifest("slow", 2, min_ready=3))
    # nothing about the pods changes after they are ready: only the controller's timer
    # makes them count as available
    wait_for(lambda: status_is(s, ns, "slow", 2, 2, 2), what="2 available replicas")


def test_failed_create_and_replica_failure(server, ns, nodes):
    s = server
    create(s, ns, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                   "spec": {"hard": {"pods": "2"}}})
    create(s, ns, rs_manifest("quota", 3))
    cond = wait_for(lambda: [c for c in get_rs(s, ns, "quota").get("status", {}).get(
        "conditions", []) if c["type"] == "ReplicaFailure"], what="ReplicaFailure")[0]
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "exceeded quota" in cond["message"]
    ev = wait_for(lambda: events(s, ns, "FailedCreate"), what="FailedCreate")
    assert ev[0]["type"] == "Warning" and ev[0]["message"].startswith("Error creating: ")
    assert "exceeded quota" in ev[0]["message"]
    wait_for(lambda: status_is(s, ns, "quota", 2), what="2 replicas")
    # room again: the third pod is created and the condition goes
    s.kubectl("-n", ns, "delete", "resourcequota", "q")
    wait_for(lambda: status_is(s, ns, "quota", 3) and not [
        c for c in get_rs(s, ns, "quota")["status"].get("conditions", [])
        if c["type"] == "ReplicaFailure"], timeout=90, what="3 replicas, no ReplicaFailure")


def test_pod_deletion_cost(server, ns, nodes):
    s = server
    create(s, ns, rs_manifest("cost", 1))
    wait_for(lambda: status_is(s, ns, "cost", 1, 1), what="1 ready")
    # pods of different ages: left alone, the newest would go first
    for n in (2, 3):
        time.sleep(1.1)
        s.kubectl("-n", ns, "scale", "rs", "cost", "--replicas=%d" % n)
        wait_for(lambda n=n: status_is(s, ns, "cost", n, n), what="%d ready" % n)
    by_age = sorted(pods_of(s, ns, "app=cost"), key=lambda p: p["metadata"]["creationTimestamp"])
    newest = by_age[-1]["metadata"]["name"]
    s.kubectl("-n", ns, "annotate", "pod", newest, "controller.kubernetes.io/pod-deletion-cost=100")
    s.kubectl("-n", ns, "scale", "rs", "cost", "--replicas=1")
    wait_for(lambda: status_is(s, ns, "cost", 1, 1) and len(pods_of(s, ns, "app=cost")) == 1,
             what="1 replica")
    assert [p["metadata"]["name"] for p in pods_of(s, ns, "app=cost")] == [newest]
