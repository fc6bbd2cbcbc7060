"""PodDisruptionBudgets: the disruption controller keeps their status (`kubectl get pdb`), the
pods/eviction subresource refuses an eviction that would break a budget with 429
TooManyRequests and spends the budget otherwise, and `kubectl drain` waits for the budget to
allow each eviction. Pods are placed on hollow nodes (hollow.py) by spec.nodeName.

The server runs only the disruption controller, so that the pods the tests make by hand are not
also managed by the ReplicaSet controller."""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import KUBECTL, KUBECTL_120
from helpers import create, get, kjson, own_server, ready, wait_for


@pytest.fixture(scope="module")
def server():
    """The module's own server (the `ns` fixture makes its namespaces there)."""
    yield from own_server("k1s-e2e-pdb-", "--kube-controller-manager-arg", "controllers=disruption")


def pod(name, node, labels, owner=None):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "labels": labels},
         "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                  "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    if owner:
        p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                             "name": owner["metadata"]["name"],
                                             "uid": owner["metadata"]["uid"],
                                             "controller": True}]
    return p


def pdb(name, selector, min_available=None, max_unavailable=None):
    spec = {"selector": {"matchLabels": selector}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name}, "spec": spec}


def ready_pods(s, ns, selector):
    items = kjson(s, ns, "get", "pods", "-l", selector)["items"]
    return [p["metadata"]["name"] for p in items
            if not p["metadata"].get("deletionTimestamp") and ready(p)]


def pdb_status(s, ns, name):
    return get(s, ns, "pdb/" + name).get("status", {})


def evict(s, ns, name, version="v1"):
    return s.json("POST", "/api/v1/namespaces/%s/pods/%s/eviction" % (ns, name),
                  {"apiVersion": "policy/" + version, "kind": "Eviction",
                   "metadata": {"name": name, "namespace": ns}})


def test_pdb_status_and_eviction(server, ns, hollow_nodes):
    s = server
    hollow_nodes(s, 1, prefix="pdbev")
    create(s, ns, *[pod("web-%d" % i, "pdbev-0", {"app": "web"}) for i in range(3)])
    wait_for(lambda: len(ready_pods(s, ns, "app=web")) == 3, what="3 ready pods")
    create(s, ns, pdb("web", {"app": "web"}, min_available=2))
    st = wait_for(lambda: (lambda x: x if x.get("currentHealthy") == 3 else None)(pdb_status(s, ns, "web")),
                  what="PDB status")
    obj = get(s, ns, "pdb/web")
    assert st["desiredHealthy"] == 2 and st["expectedPods"] == 3 and st["disruptionsAllowed"] == 1
    assert st["observedGeneration"] == obj["metadata"]["generation"]
    cond = [c for c in st["conditions"] if c["type"] == "DisruptionAllowed"][0]
    assert cond["status"] == "True" and cond["reason"] == "SufficientPods"
    out = s.kubectl("-n", ns, "get", "pdb", "web").stdout
    assert out.split("\n")[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE",
                                          "ALLOWED", "DISRUPTIONS", "AGE"]
    assert out.split("\n")[1].split()[:4] == ["web", "2", "N/A", "1"], out

    # the first eviction spends the budget's one disruption
    code, body = evict(s, ns, "web-0")
    assert code == 201, body
    assert body["kind"] == "Status" and body["status"] == "Success"
    wait_for(lambda: "web-0" not in ready_pods(s, ns, "app=web"), what="web-0 gone")
    st = wait_for(lambda: (lambda x: x if x.get("currentHealthy") == 2 else None)(pdb_status(s, ns, "web")),
                  what="PDB status after eviction")
    assert st["disruptionsAllowed"] == 0
    cond = [c for c in st["conditions"] if c["type"] == "DisruptionAllowed"][0]
    assert cond["status"] == "False" and cond["reason"] == "InsufficientPods"

    # the second would break the budget (asked as kubectl before 1.22 does, in policy/v1beta1)
    code, body = evict(s, ns, "web-1", "v1beta1")
    assert code == 429, body
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]
    assert "web-1" in ready_pods(s, ns, "app=web")

    # an eviction of a pod no budget covers is a (graceful) delete, and the pod says why
    lone = pod("lone", "pdbev-0", {"app": "lone"})
    lone["metadata"]["annotations"] = {"hollow.k1s.io/delete-after-grace": "true"}
    lone["spec"]["terminationGracePeriodSeconds"] = 30
    create(s, ns, lone)
    wait_for(lambda: ready_pods(s, ns, "app=lone"), what="lone ready")
    code, body = evict(s, ns, "lone")
    assert code == 201, body
    p = get(s, ns, "pod/lone")
    assert p["metadata"]["deletionTimestamp"]
    dt = [c for c in p["status"]["conditions"] if c["type"] == "DisruptionTarget"][0]
    assert (dt["status"], dt["reason"], dt["message"]) == ("True", "EvictionByEvictionAPI",
                                                           "Eviction API: evicting")

    # two budgets over one pod: kube-apiserver's 500
    create(s, ns, pdb("web2", {"app": "web"}, max_unavailable=1))
    code, body = evict(s, ns, "web-1")
    assert code == 500, body
    assert body["message"] == ("This pod has more than one PodDisruptionBudget, which the "
                               "eviction subresource does not support.")


def test_unready_pods_are_evicted_without_spending_the_budget(server, ns, hollow_nodes):
    s = server
    hollow_nodes(s, 1, prefix="pdbur")
    never = {"hollow.k1s.io/never-ready": "true"}
    pods = [pod("ok-%d" % i, "pdbur-0", {"app": "ok"}) for i in range(2)]
    pods += [pod("sick-%d" % i, "pdbur-0", {"app": "ok"}) for i in range(2)]
    pods += [pod("lonely", "pdbur-0", {"app": "few"}), pod("ill", "pdbur-0", {"app": "few"})]
    for p in pods:
        if p["metadata"]["name"].startswith(("sick", "ill")):
            p["metadata"]["annotations"] = dict(never)
    create(s, ns, *pods)
    wait_for(lambda: len(ready_pods(s, ns, "app in (ok,few)")) == 3, what="3 ready pods")
    create(s, ns, pdb("ok", {"app": "ok"}, min_available=2), pdb("few", {"app": "few"}, min_available=2))
    wait_for(lambda: pdb_status(s, ns, "ok").get("expectedPods") == 4, what="ok status")
    wait_for(lambda: pdb_status(s, ns, "few").get("expectedPods") == 2, what="few status")
    # a healthy budget: an unready pod goes without spending it
    assert pdb_status(s, ns, "ok")["disruptionsAllowed"] == 0
    code, body = evict(s, ns, "sick-0")
    assert code == 201, body
    assert pdb_status(s, ns, "ok").get("disruptedPods") is None
    code, body = evict(s, ns, "ok-0")
    assert code == 429, body
    # an unhealthy budget guards its unready pods too (IfHealthyBudget) ...
    code, body = evict(s, ns, "ill")
    assert code == 429, body
    # ... unless it says AlwaysAllow
    s.kubectl("-n", ns, "patch", "pdb", "few", "--type=merge", "-p",
              '{"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}}')
    wait_for(lambda: (lambda o: o["status"].get("observedGeneration") == o["metadata"]["generation"])(
        get(s, ns, "pdb/few")), what="few observed")
    code, body = evict(s, ns, "ill")
    assert code == 201, body
    code, body = evict(s, ns, "lonely")
    assert code == 429, body


def test_pdb_max_unavailable_uses_controller_scale(server, ns, hollow_nodes):
    s = server
    hollow_nodes(s, 1, prefix="pdbmu")
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "api"},
          "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "api"}},
                   "template": {"metadata": {"labels": {"app": "api"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    create(s, ns, rs)
    rs = get(s, ns, "rs/api")
    create(s, ns, *[pod("api-%d" % i, "pdbmu-0", {"app": "api"}, owner=rs) for i in range(3)])
    wait_for(lambda: len(ready_pods(s, ns, "app=api")) == 3, what="3 ready pods")
    create(s, ns, pdb("api", {"app": "api"}, max_unavailable="50%"))
    # expected pods come from the ReplicaSet's scale (4), not the 3 pods there are
    st = wait_for(lambda: (lambda x: x if x.get("expectedPods") == 4 else None)(pdb_status(s, ns, "api")),
                  what="PDB status")
    assert st["currentHealthy"] == 3 and st["desiredHealthy"] == 2 and st["disruptionsAllowed"] == 1
    out = s.kubectl("-n", ns, "get", "pdb", "api").stdout.split("\n")[1].split()
    assert out[:4] == ["api", "N/A", "50%", "1"], out
    # pods of another kind of controller: its scale subresource counts
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "flocks.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "flocks", "singular": "flock", "kind": "Flock"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                      "spec": {"type": "object", "properties": {
                                          "replicas": {"type": "integer"}}},
                                      "status": {"type": "object", "properties": {
                                          "replicas": {"type": "integer"}}}}}},
                                  "subresources": {"scale": {"specReplicasPath": ".spec.replicas",
                                                             "statusReplicasPath": ".status.replicas"}}}]}}
    s.kubectl("apply", "-f", "-", input=json.dumps(crd))
    s.kubectl("wait", "--for", "condition=established", "--timeout=20s", "crd/flocks.example.com")
    create(s, ns, {"apiVersion": "example.com/v1", "kind": "Flock", "metadata": {"name": "birds"},
                  "spec": {"replicas": 5}})
    flock = get(s, ns, "flock/birds")
    birds = [pod("bird-%d" % i, "pdbmu-0", {"app": "bird"}) for i in range(2)]
    for b in birds:
        b["metadata"]["ownerReferences"] = [{"apiVersion": "example.com/v1", "kind": "Flock",
                                             "name": "birds", "uid": flock["metadata"]["uid"],
                                             "controller": True}]
    create(s, ns, *birds)
    wait_for(lambda: len(ready_pods(s, ns, "app=bird")) == 2, what="2 ready birds")
    create(s, ns, pdb("birds", {"app": "bird"}, min_available="20%"))
    st = wait_for(lambda: (lambda x: x if x.get("expectedPods") == 5 else None)(pdb_status(s, ns, "birds")),
                  what="birds PDB status")
    assert st["currentHealthy"] == 2 and st["desiredHealthy"] == 1 and st["disruptionsAllowed"] == 1
    s.kubectl("-n", ns, "scale", "flock/birds", "--replicas=10")
    # the budget is worked out again on the next pod change
    s.kubectl("-n", ns, "label", "pod", "bird-0", "touch=1")
    st = wait_for(lambda: (lambda x: x if x.get("expectedPods") == 10 else None)(pdb_status(s, ns, "birds")),
                  what="birds PDB status after scaling")
    assert st["desiredHealthy"] == 2 and st["disruptionsAllowed"] == 0

    # a budget with an unknown controller cannot be worked out: nothing may be disrupted
    create(s, ns, pdb("orphans", {"app": "orphan"}, min_available="50%"))
    st = wait_for(lambda: pdb_status(s, ns, "orphans").get("conditions"), what="orphans status")
    assert st[0]["reason"] == "InsufficientPods"
    ev = s.kubectl("-n", ns, "get", "events", "--field-selector",
                   "involvedObject.name=orphans,reason=NoPods", "-o", "json").stdout
    assert json.loads(ev)["items"][0]["message"] == "No matching pods found"


@pytest.mark.parametrize("kubectl", ["kubectl", "kubectl-1.20"])
def test_drain_respects_pdb(server, ns, hollow_nodes, kubectl):
    """kubectl drain evicts through the eviction subresource (policy/v1, or policy/v1beta1 for
    kubectl 1.20) and retries while the budget refuses."""
    binary = KUBECTL
    if kubectl == "kubectl-1.20":
        if not os.path.exists(KUBECTL_120):
            pytest.skip("Debian's kubectl 1.20 not unpacked (run make deps)")
        binary = KUBECTL_120
    s = server
    prefix = "drain" if kubectl == "kubectl" else "drainold"
    n0, n1 = prefix + "-0", prefix + "-1"
    hollow_nodes(s, 2, prefix=prefix)
    create(s, ns, *[pod("db-%d" % i, n0, {"app": "db"}) for i in range(2)])
    create(s, ns, pod("db-2", n1, {"app": "db"}))
    wait_for(lambda: len(ready_pods(s, ns, "app=db")) == 3, what="3 ready pods")
    create(s, ns, pdb("db", {"app": "db"}, min_available=2))
    wait_for(lambda: pdb_status(s, ns, "db").get("disruptionsAllowed") == 1, what="PDB allows 1")

    out = s.kubectl("cordon", n1).stdout
    assert "node/%s cordoned" % n1 in out
    assert get(s, "default", "node/" + n1)["spec"]["unschedulable"] is True
    out = s.kubectl("uncordon", n1).stdout
    assert "node/%s uncordoned" % n1 in out
    assert not get(s, "default", "node/" + n1)["spec"].get("unschedulable")

    e = dict(os.environ)
    e.update({"KUBECONFIG": s.kubeconfig, "HOME": s.tmp})
    drain = subprocess.Popen([binary, "drain", n0, "--ignore-daemonsets", "--force",
                              "--timeout=120s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=e)
    try:
        # one pod goes; the other waits for the budget
        wait_for(lambda: len([p for p in ready_pods(s, ns, "app=db") if p != "db-2"]) == 1,
                 what="one pod of drain-0 evicted")
        assert get(s, "default", "node/" + n0)["spec"]["unschedulable"] is True
        time.sleep(1.0)
        assert drain.poll() is None, drain.communicate()
        assert len(ready_pods(s, ns, "app=db")) == 2
        # room in the budget: the drain finishes
        create(s, ns, pod("db-3", n1, {"app": "db"}))
        out, err = drain.communicate(timeout=90)
    finally:
        if drain.poll() is None:
            drain.kill()
            drain.communicate()
    assert drain.returncode == 0, (out, err)
    assert "Cannot evict pod as it would violate the pod's disruption budget." in err, err
    assert re.search(r"node/%s (drained|evicted)\n" % n0, out), out  # 1.20 says "evicted"
    assert sorted(ready_pods(s, ns, "app=db")) == ["db-2", "db-3"]


def test_stale_disruption_condition_is_reset(server, ns):
    """A pod marked DisruptionTarget that was not deleted within two minutes has the condition
    set back to False; a recent one is left alone."""
    s = server
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 180))
    new = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name, t in (("stale", old), ("fresh", new)):
        create(s, ns, pod(name, "nowhere", {"app": name}))
        s.kubectl("-n", ns, "patch", "pod", name, "--subresource=status", "--type=strategic", "-p",
                  json.dumps({"status": {"conditions": [{
                      "type": "DisruptionTarget", "status": "True", "lastTransitionTime": t,
                      "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}]}}))

    def target(name):
        p = get(s, ns, "pod/" + name)
        return [c for c in p["status"]["conditions"] if c["type"] == "DisruptionTarget"][0]
    wait_for(lambda: target("stale")["status"] == "False", what="stale condition reset")
    assert target("stale")["lastTransitionTime"] != old
    time.sleep(1)
    assert target("fresh")["status"] == "True"
    s.kubectl("-n", ns, "delete", "pod", "stale", "fresh", "--grace-period=0", "--force")
