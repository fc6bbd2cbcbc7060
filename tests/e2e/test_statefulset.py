"""The StatefulSet controller in `k1s server`, on hollow nodes (hollow.py): a set of 3 comes up
in ordinal order (web-1 only once web-0 is Running and Ready), with stable names, identity labels,
hostname/subdomain and PersistentVolumeClaims from volumeClaimTemplates; a scale down removes the
highest ordinal first and keeps the claims; a deleted pod comes back under its name; a rolling
update honours the partition, goes from the highest ordinal down, and `kubectl rollout
status|history|undo` work; Parallel creates every pod at once."""
import json
import time

import pytest


def wait_for(fn, timeout=60, what="condition", interval=0.1):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def statefulset(name, replicas=3, image="busybox:1.36", policy=None, partition=None,
                claims=True, ready_delay="0.5", on_delete=False):
    s = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
         "spec": {"replicas": replicas, "serviceName": name,
                  "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name},
                                            "annotations": {"hollow.k1s.io/ready-delay-seconds":
                                                            ready_delay}},
                               "spec": {"containers": [{"name": "c", "image": image}]}}}}
    if policy:
        s["spec"]["podManagementPolicy"] = policy
    if partition is not None:
        s["spec"]["updateStrategy"] = {"type": "RollingUpdate",
                                       "rollingUpdate": {"partition": partition}}
    if on_delete:
        s["spec"]["updateStrategy"] = {"type": "OnDelete"}
    if claims:
        s["spec"]["volumeClaimTemplates"] = [{
            "metadata": {"name": "www"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}]
    return s


def create(server, ns, obj):
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(obj))


def pods(server, ns, app):
    st, body = server.json("GET", "/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s" % (ns, app))
    assert st == 200, body
    return {p["metadata"]["name"]: p for p in body["items"]}


def ready(p):
    return (p["status"].get("phase") == "Running" and
            any(c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])))


def sts(server, ns, name):
    return json.loads(server.kubectl("-n", ns, "get", "statefulset", name, "-o", "json").stdout)


def events(server, ns, reason):
    out = json.loads(server.kubectl("-n", ns, "get", "events", "-o", "json").stdout)
    evs = [e for e in out["items"] if e["reason"] == reason and
           e["involvedObject"]["kind"] == "StatefulSet"]
    evs.sort(key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
    return [e["message"] for e in evs]


@pytest.fixture
def nodes(server, hollow_nodes):
    return hollow_nodes(server, 2, prefix="sts")


def test_ordered_start_scale_down_and_claims(server, ns, nodes):
    create(server, ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"clusterIP": "None", "selector": {"app": "web"},
                                 "ports": [{"port": 80}]}})
    create(server, ns, statefulset("web"))
    # OrderedReady: whenever web-i exists, web-0 .. web-(i-1) are Running and Ready
    seen = []

    def up():
        ps = pods(server, ns, "web")
        for name in ps:
            i = int(name.rsplit("-", 1)[1])
            for j in range(i):
                prev = ps.get("web-%d" % j)
                assert prev is not None and ready(prev), \
                    "web-%d exists while web-%d is not ready: %s" % (i, j, sorted(ps))
            if name not in seen:
                seen.append(name)
        return len(ps) == 3 and all(ready(p) for p in ps.values())
    wait_for(up, what="3 ready pods")
    assert seen == ["web-0", "web-1", "web-2"]

    ps = pods(server, ns, "web")
    s = sts(server, ns, "web")
    rev = s["status"]["updateRevision"]
    assert rev.startswith("web-")
    for i in range(3):
        p = ps["web-%d" % i]
        labels = p["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == "web-%d" % i
        assert labels["apps.kubernetes.io/pod-index"] == str(i)
        assert labels["controller-revision-hash"] == rev
        assert p["spec"]["hostname"] == "web-%d" % i
        assert p["spec"]["subdomain"] == "web"
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("StatefulSet", "web", True)
        vols = {v["name"]: v for v in p["spec"]["volumes"]}
        assert vols["www"]["persistentVolumeClaim"]["claimName"] == "www-web-%d" % i
    claims = server.kubectl("-n", ns, "get", "pvc", "-o", "name").stdout.split()
    assert sorted(claims) == ["persistentvolumeclaim/www-web-%d" % i for i in range(3)]

    def status_done():
        st = sts(server, ns, "web")["status"]
        return (st.get("replicas"), st.get("readyReplicas"), st.get("currentReplicas"),
                st.get("updatedReplicas"), st.get("availableReplicas"),
                st.get("currentRevision"), st.get("observedGeneration")) == \
            (3, 3, 3, 3, 3, rev, 1)
    wait_for(status_done, what="status")
    out = server.kubectl("-n", ns, "rollout", "status", "statefulset/web", "--timeout=30s").stdout
    assert "roll out complete" in out
    wait_for(lambda: len(events(server, ns, "SuccessfulCreate")) >= 6, what="events")
    msgs = events(server, ns, "SuccessfulCreate")
    assert "create Pod web-0 in StatefulSet web successful" in msgs
    assert "create Claim www-web-0 Pod web-0 in StatefulSet web success" in msgs
    pod_msgs = [m for m in msgs if m.startswith("create Pod")]
    assert pod_msgs == ["create Pod web-%d in StatefulSet web successful" % i for i in range(3)]
    table = server.kubectl("-n", ns, "get", "statefulset", "web").stdout
    assert "3/3" in table, table

    # a deleted pod comes back under its name
    old_uid = ps["web-1"]["metadata"]["uid"]
    server.kubectl("-n", ns, "delete", "pod", "web-1", "--wait=false")
    wait_for(lambda: (lambda p: p and p["metadata"]["uid"] != old_uid and ready(p))(
        pods(server, ns, "web").get("web-1")), what="web-1 recreated")

    # so does a failed one
    old_uid = pods(server, ns, "web")["web-0"]["metadata"]["uid"]
    st, body = server.json("PATCH", "/api/v1/namespaces/%s/pods/web-0/status" % ns,
                           {"status": {"phase": "Failed"}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert st == 200, body
    wait_for(lambda: (lambda p: p and p["metadata"]["uid"] != old_uid and ready(p))(
        pods(server, ns, "web").get("web-0")), what="web-0 recreated")
    wait_for(lambda: "delete Pod web-0 in StatefulSet web successful" in
             events(server, ns, "SuccessfulDelete"), what="delete event")

    # scale down: web-2 goes before web-1; the claims stay
    server.kubectl("-n", ns, "scale", "statefulset/web", "--replicas=1")

    def down():
        ps = pods(server, ns, "web")
        assert "web-0" in ps
        assert not ("web-2" in ps and "web-1" not in ps), "web-1 went before web-2"
        return sorted(ps) == ["web-0"]
    wait_for(down, what="scale down to 1")
    wait_for(lambda: "delete Pod web-1 in StatefulSet web successful" in
             events(server, ns, "SuccessfulDelete"), what="delete events")
    dels = [m for m in events(server, ns, "SuccessfulDelete") if "web-2" in m or "web-1" in m]
    assert dels[-2:] == ["delete Pod web-2 in StatefulSet web successful",
                         "delete Pod web-1 in StatefulSet web successful"]
    claims = server.kubectl("-n", ns, "get", "pvc", "-o", "name").stdout.split()
    assert len(claims) == 3
    wait_for(lambda: sts(server, ns, "web")["status"].get("replicas") == 1, what="status 1")


def test_partitioned_rolling_update_history_undo(server, ns, nodes):
    create(server, ns, statefulset("db", claims=False, partition=2, ready_delay="0"))
    wait_for(lambda: (lambda ps: len(ps) == 3 and all(ready(p) for p in ps.values()))(
        pods(server, ns, "db")), what="3 ready pods")
    rev1 = sts(server, ns, "db")["status"]["updateRevision"]
    server.kubectl("-n", ns, "annotate", "statefulset/db", "kubernetes.io/change-cause=to 1.37")
    server.kubectl("-n", ns, "set", "image", "statefulset/db", "c=busybox:1.37")

    def images():
        return {n: p["spec"]["containers"][0]["image"] for n, p in pods(server, ns, "db").items()}
    # only ordinals >= partition are updated
    wait_for(lambda: images() == {"db-0": "busybox:1.36", "db-1": "busybox:1.36",
                                  "db-2": "busybox:1.37"} and
             all(ready(p) for p in pods(server, ns, "db").values()), what="db-2 updated")

    def status():
        return sts(server, ns, "db")["status"]
    wait_for(lambda: status().get("updatedReplicas") == 1 and status().get("readyReplicas") == 3,
             what="partitioned status")
    st = status()
    assert st["currentRevision"] == rev1 and st["updateRevision"] != rev1
    assert st["currentReplicas"] == 2
    rev2 = st["updateRevision"]
    out = server.kubectl("-n", ns, "rollout", "status", "statefulset/db", "--watch=false").stdout
    assert "partitioned roll out complete" in out, out
    time.sleep(1)
    assert images()["db-1"] == "busybox:1.36"

    # partition 0: the rest go, highest first. The order is read afterwards from a watch that
    # replays the pod deletions since the patch (polling can miss a pod that is replaced fast).
    st, body = server.json("GET", "/api/v1/namespaces/%s/pods?labelSelector=app%%3Ddb" % ns)
    rv = body["metadata"]["resourceVersion"]
    server.kubectl("-n", ns, "patch", "statefulset/db", "-p",
                   '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
    wait_for(lambda: set(images().values()) == {"busybox:1.37"}, what="all updated")
    st, _, data = server.request(
        "GET", "/api/v1/namespaces/%s/pods?watch=1&labelSelector=app%%3Ddb&resourceVersion=%s"
        "&timeoutSeconds=1" % (ns, rv))
    assert st == 200
    deleted = [ev["object"]["metadata"]["name"]
               for ev in map(json.loads, data.decode().splitlines()) if ev["type"] == "DELETED"]
    assert deleted == ["db-1", "db-0"], deleted
    wait_for(lambda: status().get("currentRevision") == rev2 and
             status().get("currentReplicas") == 3 and status().get("readyReplicas") == 3,
             what="rollout finished")
    server.kubectl("-n", ns, "rollout", "status", "statefulset/db", "--timeout=30s")

    hist = server.kubectl("-n", ns, "rollout", "history", "statefulset/db").stdout
    assert [l.split()[0] for l in hist.splitlines()[2:] if l.strip()] == ["1", "2"], hist
    assert [l.split(None, 1)[1].strip() for l in hist.splitlines()[2:] if l.strip()] == \
        ["<none>", "to 1.37"], hist
    revs = json.loads(server.kubectl("-n", ns, "get", "controllerrevisions", "-o", "json").stdout)
    names = sorted(r["metadata"]["name"] for r in revs["items"])
    assert names == sorted([rev1, rev2])

    server.kubectl("-n", ns, "rollout", "undo", "statefulset/db")
    wait_for(lambda: set(images().values()) == {"busybox:1.36"} and
             status().get("currentRevision") == rev1 and status().get("readyReplicas") == 3,
             what="undo")
    hist = server.kubectl("-n", ns, "rollout", "history", "statefulset/db").stdout
    assert [l.split()[0] for l in hist.splitlines()[2:] if l.strip()] == ["2", "3"], hist


def test_parallel_on_delete_claim_retention_min_ready(server, ns, nodes):
    create(server, ns, statefulset("par", replicas=3, policy="Parallel", claims=False,
                                   ready_delay="4", on_delete=True))
    # Parallel: all three exist before any is ready
    wait_for(lambda: (lambda ps: len(ps) == 3 and not any(ready(p) for p in ps.values()))(
        pods(server, ns, "par")), timeout=30, what="3 pods, none ready yet")
    wait_for(lambda: (lambda ps: len(ps) == 3 and all(ready(p) for p in ps.values()))(
        pods(server, ns, "par")), what="3 ready")
    # OnDelete: a template change waits for pods to be deleted
    server.kubectl("-n", ns, "set", "image", "statefulset/par", "c=busybox:1.37")
    wait_for(lambda: sts(server, ns, "par")["status"].get("observedGeneration") == 2,
             what="observed")
    time.sleep(1)
    assert {p["spec"]["containers"][0]["image"] for p in pods(server, ns, "par").values()} == \
        {"busybox:1.36"}
    server.kubectl("-n", ns, "delete", "pod", "par-0", "--wait=false")
    wait_for(lambda: (lambda p: p and p["spec"]["containers"][0]["image"] == "busybox:1.37")(
        pods(server, ns, "par").get("par-0")), what="par-0 recreated at the new revision")
    assert pods(server, ns, "par")["par-1"]["spec"]["containers"][0]["image"] == "busybox:1.36"

    # persistentVolumeClaimRetentionPolicy: the set owns the claims (whenDeleted: Delete), and a
    # scaled-down pod owns its claim (whenScaled: Delete) so the garbage collector takes it along
    s = statefulset("keep", replicas=2, policy="Parallel", ready_delay="0")
    s["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete",
                                                         "whenScaled": "Delete"}
    create(server, ns, s)
    uid = sts(server, ns, "keep")["metadata"]["uid"]

    def claim(name):
        st, body = server.json("GET", "/api/v1/namespaces/%s/persistentvolumeclaims/%s" %
                               (ns, name))
        return body if st == 200 else None

    def owners(name):
        c = claim(name)
        return c and [(r["kind"], r["name"], r["uid"]) for r in
                      c["metadata"].get("ownerReferences", [])]
    wait_for(lambda: owners("www-keep-0") == [("StatefulSet", "keep", uid)] and
             owners("www-keep-1") == [("StatefulSet", "keep", uid)], what="claims owned by set")
    wait_for(lambda: (lambda ps: len(ps) == 2 and all(ready(p) for p in ps.values()))(
        pods(server, ns, "keep")), what="2 ready")
    pod_uid = pods(server, ns, "keep")["keep-1"]["metadata"]["uid"]
    server.kubectl("-n", ns, "scale", "statefulset/keep", "--replicas=1")
    # the claim is handed to the pod (or already collected with it)
    wait_for(lambda: owners("www-keep-1") in (None, [("Pod", "keep-1", pod_uid)]),
             what="claim owned by the scaled-down pod")
    assert owners("www-keep-0") == [("StatefulSet", "keep", uid)]

    # minReadySeconds: OrderedReady waits for each pod to be available, not just ready
    s = statefulset("slow", replicas=2, claims=False, ready_delay="0")
    s["spec"]["minReadySeconds"] = 5
    create(server, ns, s)

    def avail():
        st = sts(server, ns, "slow").get("status", {})
        return st.get("availableReplicas", 0), st.get("readyReplicas", 0)
    wait_for(lambda: avail()[1] >= 1, what="slow-0 ready")
    lag = avail()
    assert lag[0] < lag[1] or "slow-1" in pods(server, ns, "slow"), lag  # ready, not available
    wait_for(lambda: "slow-1" in pods(server, ns, "slow"), what="slow-1 created")
    ps = pods(server, ns, "slow")
    ready_at = [c["lastTransitionTime"] for c in ps["slow-0"]["status"]["conditions"]
                if c["type"] == "Ready"][0]
    created = ps["slow-1"]["metadata"]["creationTimestamp"]

    def secs(t):
        return time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
    # (a margin for a loaded hollow node writing its Ready transition late)
    assert secs(created) - secs(ready_at) >= 3, (ready_at, created)

    # a pod named as a member, selected and without a controller, is adopted (OnDelete keeps it)
    create(server, ns, {"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": "own-0", "labels": {"app": "own"}},
                        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
    pre_uid = pods(server, ns, "own")["own-0"]["metadata"]["uid"]
    create(server, ns, statefulset("own", replicas=1, claims=False, on_delete=True))
    set_uid = sts(server, ns, "own")["metadata"]["uid"]

    def adopted():
        p = pods(server, ns, "own").get("own-0")
        refs = p and p["metadata"].get("ownerReferences") or []
        return [(r["kind"], r["uid"], r.get("controller")) for r in refs] == \
            [("StatefulSet", set_uid, True)] and p["metadata"]["uid"] == pre_uid
    wait_for(adopted, what="own-0 adopted")
    wait_for(lambda: sts(server, ns, "own").get("status", {}).get("readyReplicas") == 1,
             what="own ready")
    assert list(pods(server, ns, "own")) == ["own-0"]

    # spec.ordinals.start numbers the pods from there; revisionHistoryLimit 0 keeps only the
    # revisions in use
    s = statefulset("ord", replicas=2, claims=False, policy="Parallel", ready_delay="0")
    s["spec"]["ordinals"] = {"start": 3}
    s["spec"]["revisionHistoryLimit"] = 0
    create(server, ns, s)
    wait_for(lambda: (lambda ps: sorted(ps) == ["ord-3", "ord-4"] and
                      all(ready(p) for p in ps.values()))(pods(server, ns, "ord")),
             what="ord-3 and ord-4")
    assert pods(server, ns, "ord")["ord-3"]["metadata"]["labels"][
        "apps.kubernetes.io/pod-index"] == "3"

    def revisions():
        out = json.loads(server.kubectl("-n", ns, "get", "controllerrevisions", "-l", "app=ord",
                                        "-o", "json").stdout)
        return sorted(r["metadata"]["name"] for r in out["items"])
    for image in ("busybox:1.37", "busybox:1.38"):
        server.kubectl("-n", ns, "set", "image", "statefulset/ord", "c=" + image)
        wait_for(lambda: (lambda st: st.get("updatedReplicas") == 2 and
                          st.get("readyReplicas") == 2 and
                          st.get("currentRevision") == st.get("updateRevision"))(
            sts(server, ns, "ord").get("status", {})) and
            {p["spec"]["containers"][0]["image"] for p in pods(server, ns, "ord").values()} ==
            {image}, what="rolled to " + image)
    rev = sts(server, ns, "ord")["status"]["updateRevision"]
    wait_for(lambda: revisions() == [rev], what="old revisions removed")

    # a Pending pod whose claim went missing gets it back
    s = statefulset("pend", replicas=1)
    s["spec"]["template"]["metadata"]["annotations"]["hollow.k1s.io/start-delay-seconds"] = "30"
    create(server, ns, s)
    wait_for(lambda: (lambda p: p and p["status"].get("phase") == "Pending" and
                      p["spec"].get("nodeName"))(pods(server, ns, "pend").get("pend-0")),
             what="pend-0 pending on a node")
    first = claim("www-pend-0")["metadata"]["uid"]
    server.kubectl("-n", ns, "delete", "pvc", "www-pend-0", "--wait=false")
    # pvc-protection holds a claim its pod uses; lift it to lose the claim for good
    server.kubectl("-n", ns, "patch", "pvc", "www-pend-0", "--type=merge",
                   "-p", '{"metadata":{"finalizers":null}}')
    wait_for(lambda: (lambda c: c and c["metadata"]["uid"] != first)(claim("www-pend-0")),
             what="claim recreated")
