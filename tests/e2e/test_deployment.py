"""The Deployment controller in `k1s server`, on hollow nodes, seen through kubectl: a rolling
update keeps at least replicas-maxUnavailable pods ready and never more than replicas+maxSurge
pods at every moment a watch sees; `rollout status|history|undo|restart|pause|resume` and
`kubectl scale` behave as on a real cluster (revision annotations, ScalingReplicaSet Events,
Available/Progressing conditions); Recreate never runs old and new pods together; scaling
mid-rollout is proportional; progressDeadlineSeconds ends a stuck rollout with
ProgressDeadlineExceeded; old ReplicaSets beyond revisionHistoryLimit go; and a rollout
interrupted by `kill -9` of the server finishes after the restart without extra or lost pods."""
import json
import signal
import threading
import time
import urllib.parse

import pytest

from helpers import cond, create, hollow_cluster, kjson, ready
from test_replicaset import wait_for


def deployment(name, replicas=4, image="nginx:1.25", surge=1, unavailable=1, strategy=None,
               annotations=None, **spec_extra):
    tmeta = {"labels": {"app": name}}
    if annotations:
        tmeta["annotations"] = annotations
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": tmeta,
                         "spec": {"containers": [{"name": "c", "image": image}]}}}
    if strategy == "Recreate":
        spec["strategy"] = {"type": "Recreate"}
    else:
        spec["strategy"] = {"type": "RollingUpdate",
                            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    spec.update(spec_extra)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": spec}


def get_d(server, ns, name):
    return kjson(server, ns, "get", "deployment", name)


def rss(server, ns, app):
    return sorted(kjson(server, ns, "get", "rs", "-l", "app=" + app)["items"],
                  key=lambda r: int(r["metadata"].get("annotations", {}).get(
                      "deployment.kubernetes.io/revision", "0")))


def pods(server, ns, app):
    return [p for p in kjson(server, ns, "get", "pods", "-l", "app=" + app)["items"]
            if not p["metadata"].get("deletionTimestamp")]


def rollout_status(server, ns, name, timeout="120s", check=True):
    return server.kubectl("-n", ns, "rollout", "status", "deployment/" + name,
                          "--timeout=" + timeout, check=check, timeout=180)


def done(server, ns, name, replicas):
    d = get_d(server, ns, name)
    st = d.get("status", {})
    return (st.get("observedGeneration") == d["metadata"]["generation"] and
            st.get("updatedReplicas") == replicas and st.get("replicas") == replicas and
            st.get("availableReplicas") == replicas and d)


def images(server, ns, app):
    return sorted(p["spec"]["containers"][0]["image"] for p in pods(server, ns, app))


class PodWatch:
    """Watches a namespace's pods through the API and checks bounds at every event."""

    def __init__(self, server, ns, app):
        from hollow import Client
        self.client = Client(server.url, server.ca(), *server.admin_cert())
        self.pods = {}
        self.max_active = 0
        self.min_ready = None
        self.errors = []
        self.stopped = False
        sel = urllib.parse.quote("app=" + app)
        lst = self.client.call("GET", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (ns, sel))
        for p in lst["items"]:
            self.pods[p["metadata"]["name"]] = p
        rv = lst["metadata"]["resourceVersion"]
        self.conn, self.resp = self.client.stream(
            "/api/v1/namespaces/%s/pods?watch=1&labelSelector=%s&resourceVersion=%s" % (ns, sel, rv))
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def observe(self):
        active = [p for p in self.pods.values() if not p["metadata"].get("deletionTimestamp")
                  and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]
        n_ready = sum(1 for p in active if ready(p))
        self.max_active = max(self.max_active, len(active))
        self.min_ready = n_ready if self.min_ready is None else min(self.min_ready, n_ready)
        self.snapshot = (len(active), n_ready)

    def run(self):
        try:
            for line in self.resp:
                if self.stopped:
                    return
                ev = json.loads(line)
                p = ev["object"]
                if ev["type"] == "DELETED":
                    self.pods.pop(p["metadata"]["name"], None)
                elif ev["type"] in ("ADDED", "MODIFIED"):
                    self.pods[p["metadata"]["name"]] = p
                self.observe()
        except Exception as e:  # noqa: BLE001 - reported by the test
            if not self.stopped:
                self.errors.append(e)

    def stop(self):
        self.stopped = True
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


@pytest.fixture(scope="module")
def nodes(server):
    yield from hollow_cluster(server, "dep", 3)


def test_rolling_update_bounds_history_and_undo(server, ns, nodes):
    s = server
    # pods take a moment to become ready, so that the rollout has steps to watch
    create(s, ns, deployment("web", 4, surge=1, unavailable=1,
                             annotations={"hollow.k1s.io/ready-delay-seconds": "0.3"}))
    rollout_status(s, ns, "web")
    d = wait_for(lambda: done(s, ns, "web", 4), what="web available")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert cond(d, "Available")["status"] == "True"
    assert cond(d, "Available")["reason"] == "MinimumReplicasAvailable"
    assert cond(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    [rs1] = rss(s, ns, "web")
    h = rs1["metadata"]["labels"]["pod-template-hash"]
    assert rs1["metadata"]["name"] == "web-" + h
    assert rs1["spec"]["selector"]["matchLabels"]["pod-template-hash"] == h
    assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "4"
    assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "5"
    assert cond(d, "Progressing")["message"] == \
        'ReplicaSet "%s" has successfully progressed.' % rs1["metadata"]["name"]
    ev = kjson(s, ns, "get", "events", "--field-selector", "reason=ScalingReplicaSet")["items"]
    assert [e["message"] for e in ev] == \
        ["Scaled up replica set %s from 0 to 4" % rs1["metadata"]["name"]]
    assert ev[0]["involvedObject"]["kind"] == "Deployment"
    assert ev[0]["source"]["component"] == "deployment-controller"

    # A -> B under watch
    w = PodWatch(s, ns, "web")
    s.kubectl("-n", ns, "set", "image", "deployment/web", "c=nginx:1.26")
    rollout_status(s, ns, "web")
    wait_for(lambda: done(s, ns, "web", 4) and images(s, ns, "web") == ["nginx:1.26"] * 4,
             what="rolled out to B")
    time.sleep(0.5)
    w.stop()
    assert not w.errors, w.errors
    assert w.max_active <= 5, "more than replicas+maxSurge pods: %d" % w.max_active
    assert w.min_ready >= 3, "fewer than replicas-maxUnavailable ready: %d" % w.min_ready
    old, new = rss(s, ns, "web")
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 4
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    d = get_d(s, ns, "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    msgs = [e["message"] for e in kjson(s, ns, "get", "events", "--field-selector",
                                        "reason=ScalingReplicaSet")["items"]]
    assert any(m.startswith("Scaled up replica set %s from 0 to " % new["metadata"]["name"])
               for m in msgs), msgs
    assert any(m == "Scaled down replica set %s from 1 to 0" % old["metadata"]["name"]
               for m in msgs), msgs

    # history, and the template of a revision
    out = s.kubectl("-n", ns, "rollout", "history", "deployment/web").stdout
    assert [ln.split()[0] for ln in out.splitlines()[2:] if ln.strip()] == ["1", "2"]
    out = s.kubectl("-n", ns, "rollout", "history", "deployment/web", "--revision=2").stdout
    assert "nginx:1.26" in out and "revision #2" in out

    # undo: back to A, whose ReplicaSet becomes revision 3
    w = PodWatch(s, ns, "web")
    s.kubectl("-n", ns, "rollout", "undo", "deployment/web")
    rollout_status(s, ns, "web")
    wait_for(lambda: done(s, ns, "web", 4) and images(s, ns, "web") == ["nginx:1.25"] * 4,
             what="rolled back to A")
    w.stop()
    assert w.max_active <= 5 and w.min_ready >= 3, (w.max_active, w.min_ready)
    sets = rss(s, ns, "web")
    assert len(sets) == 2
    back = [r for r in sets if r["metadata"]["name"] == rs1["metadata"]["name"]][0]
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert back["spec"]["replicas"] == 4
    out = s.kubectl("-n", ns, "rollout", "history", "deployment/web").stdout
    assert [ln.split()[0] for ln in out.splitlines()[2:] if ln.strip()] == ["2", "3"]


def test_scale_pause_resume_restart(server, ns, nodes):
    s = server
    create(s, ns, deployment("app", 2))
    rollout_status(s, ns, "app")
    s.kubectl("-n", ns, "scale", "deployment/app", "--replicas=5")
    wait_for(lambda: done(s, ns, "app", 5), what="5 replicas")
    [rs] = rss(s, ns, "app")
    assert rs["spec"]["replicas"] == 5
    msgs = [e["message"] for e in kjson(s, ns, "get", "events", "--field-selector",
                                        "reason=ScalingReplicaSet")["items"]]
    assert "Scaled up replica set %s from 2 to 5" % rs["metadata"]["name"] in msgs
    s.kubectl("-n", ns, "scale", "deployment/app", "--replicas=3")
    wait_for(lambda: done(s, ns, "app", 3) and len(pods(s, ns, "app")) == 3, what="3 replicas")

    # paused: a template change makes no new ReplicaSet
    s.kubectl("-n", ns, "rollout", "pause", "deployment/app")
    wait_for(lambda: (cond(get_d(s, ns, "app"), "Progressing") or {}).get("reason") ==
             "DeploymentPaused", what="DeploymentPaused")
    c = cond(get_d(s, ns, "app"), "Progressing")
    assert c["status"] == "Unknown" and c["message"] == "Deployment is paused"
    s.kubectl("-n", ns, "set", "image", "deployment/app", "c=nginx:1.26")
    time.sleep(1.5)
    assert len(rss(s, ns, "app")) == 1
    assert images(s, ns, "app") == ["nginx:1.25"] * 3
    s.kubectl("-n", ns, "rollout", "resume", "deployment/app")
    rollout_status(s, ns, "app")
    wait_for(lambda: done(s, ns, "app", 3) and images(s, ns, "app") == ["nginx:1.26"] * 3,
             what="resumed rollout")
    assert len(rss(s, ns, "app")) == 2

    # restart: the same image, new pods
    before = {p["metadata"]["name"] for p in pods(s, ns, "app")}
    s.kubectl("-n", ns, "rollout", "restart", "deployment/app")
    rollout_status(s, ns, "app")
    wait_for(lambda: done(s, ns, "app", 3) and
             not before & {p["metadata"]["name"] for p in pods(s, ns, "app")} and
             len(pods(s, ns, "app")) == 3, what="restarted pods")
    sets = rss(s, ns, "app")
    assert len(sets) == 3
    assert "kubectl.kubernetes.io/restartedAt" in \
        sets[-1]["spec"]["template"]["metadata"]["annotations"]

    # done: the controllers leave the Deployment and its ReplicaSets alone
    def versions():
        return [get_d(s, ns, "app")["metadata"]["resourceVersion"]] + \
            [r["metadata"]["resourceVersion"] for r in rss(s, ns, "app")]
    wait_for(lambda: all(r.get("status", {}).get("observedGeneration") ==
                         r["metadata"]["generation"] for r in rss(s, ns, "app")),
             what="ReplicaSets observed")
    before = versions()
    time.sleep(2)
    assert versions() == before


def test_recreate(server, ns, nodes):
    s = server
    create(s, ns, deployment("rec", 3, strategy="Recreate"))
    rollout_status(s, ns, "rec")
    w = PodWatch(s, ns, "rec")
    mixed = []

    def check():
        imgs = {p["spec"]["containers"][0]["image"] for p in list(w.pods.values())
                if not p["metadata"].get("deletionTimestamp")}
        if len(imgs) > 1:
            mixed.append(imgs)
    orig = w.observe

    def observe():
        orig()
        check()
    w.observe = observe
    s.kubectl("-n", ns, "set", "image", "deployment/rec", "c=nginx:1.26")
    rollout_status(s, ns, "rec")
    wait_for(lambda: done(s, ns, "rec", 3) and images(s, ns, "rec") == ["nginx:1.26"] * 3,
             what="recreated")
    w.stop()
    assert not mixed, "old and new pods ran together: %s" % mixed[:3]
    old, new = rss(s, ns, "rec")
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 3


def test_proportional_scaling_and_progress_deadline(server, ns, nodes):
    s = server
    create(s, ns, deployment("prop", 10, surge=3, unavailable=2, progressDeadlineSeconds=4))
    rollout_status(s, ns, "prop")
    # the new pods never become ready: the rollout stops at 8 old + 5 new
    s.kubectl("-n", ns, "patch", "deployment/prop", "--type=merge", "-p", json.dumps(
        {"spec": {"template": {"metadata": {"annotations": {
            "hollow.k1s.io/never-ready": "true"}}}}}))

    def stuck():
        sets = rss(s, ns, "prop")
        return len(sets) == 2 and [r["spec"]["replicas"] for r in sets] == [8, 5] and sets
    wait_for(stuck, what="8 old + 5 new")
    # nothing progresses: the deadline's timer turns Progressing False
    c = wait_for(lambda: (lambda c: c and c["reason"] == "ProgressDeadlineExceeded" and c)(
        cond(get_d(s, ns, "prop"), "Progressing")), what="ProgressDeadlineExceeded")
    assert c["status"] == "False"
    assert c["message"].endswith("has timed out progressing.")
    r = rollout_status(s, ns, "prop", timeout="20s", check=False)
    assert r.returncode != 0 and "exceeded its progress deadline" in r.stderr
    # scaled mid-rollout: both ReplicaSets grow in proportion
    s.kubectl("-n", ns, "scale", "deployment/prop", "--replicas=20")

    def scaled():
        sets = rss(s, ns, "prop")
        sizes = [r["spec"]["replicas"] for r in sets]
        return sum(sizes) == 23 and sizes
    sizes = wait_for(scaled, what="proportional scaling")
    assert sizes[0] > 8 and sizes[1] > 5, sizes
    assert sizes == [14, 9], sizes
    for r in rss(s, ns, "prop"):
        assert r["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "20"
        assert r["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "23"


def test_revision_history_limit(server, ns, nodes):
    s = server
    create(s, ns, deployment("hist", 1, revisionHistoryLimit=1))
    for tag in ("1.26", "1.27", "1.28"):
        s.kubectl("-n", ns, "set", "image", "deployment/hist", "c=nginx:" + tag)
        rollout_status(s, ns, "hist")
    wait_for(lambda: len(rss(s, ns, "hist")) == 2, what="old ReplicaSets cleaned up")
    revs = [r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            for r in rss(s, ns, "hist")]
    assert revs == ["3", "4"]


def test_rollout_survives_kill9(fresh_server, hollow_nodes):
    s = fresh_server.start()
    cluster = hollow_nodes(s, 3, prefix="k9", lease_interval=0.3)
    ns = "default"
    create(s, ns, deployment("k9", 6, surge=1, unavailable=0,
                             annotations={"hollow.k1s.io/ready-delay-seconds": "0.5"}))
    rollout_status(s, ns, "k9")
    w0 = PodWatch(s, ns, "k9")
    s.kubectl("-n", ns, "set", "image", "deployment/k9", "c=nginx:1.26")
    # kill while the rollout is under way
    wait_for(lambda: len(rss(s, ns, "k9")) == 2 and
             any(p["spec"]["containers"][0]["image"] == "nginx:1.26" and ready(p)
                 for p in pods(s, ns, "k9")), what="rollout started")
    w0.stop()
    s.stop(signal.SIGKILL)
    assert w0.max_active <= 7 and w0.min_ready >= 6, (w0.max_active, w0.min_ready)
    time.sleep(0.5)
    s.start()
    w = PodWatch(s, ns, "k9")
    rollout_status(s, ns, "k9")
    wait_for(lambda: done(s, ns, "k9", 6) and images(s, ns, "k9") == ["nginx:1.26"] * 6 and
             all(ready(p) for p in pods(s, ns, "k9")), what="rollout finished after restart")
    time.sleep(0.5)
    w.stop()
    assert w.max_active <= 7, "more than replicas+maxSurge pods: %d" % w.max_active
    assert w.min_ready >= 6, "fewer than replicas-maxUnavailable ready: %d" % w.min_ready
    assert len(pods(s, ns, "k9")) == 6
    assert [r["spec"]["replicas"] for r in rss(s, ns, "k9")] == [0, 6]
    assert not cluster.errors()


def test_adopts_orphan_replicaset(server, ns, nodes):
    s = server
    d = deployment("orph", 2)
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "orph-old",
                                                                      "labels": {"app": "orph"}},
          "spec": {"replicas": 2, "selector": d["spec"]["selector"],
                   "template": d["spec"]["template"]}}
    create(s, ns, rs)
    wait_for(lambda: len(pods(s, ns, "orph")) == 2, what="the orphan's pods")
    # the Deployment's template is the orphan's: it adopts it as its new ReplicaSet
    create(s, ns, d)
    rollout_status(s, ns, "orph")
    [got] = rss(s, ns, "orph")
    assert got["metadata"]["name"] == "orph-old"
    ref = got["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "Deployment" and ref["name"] == "orph" and ref["controller"]
    assert got["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    wait_for(lambda: done(s, ns, "orph", 2), what="orph available")
    c = cond(get_d(s, ns, "orph"), "Progressing")
    assert c["reason"] == "NewReplicaSetAvailable"
    assert c["message"] == 'ReplicaSet "orph-old" has successfully progressed.'


def test_replica_failure_shows_on_deployment(server, ns, nodes):
    s = server
    create(s, ns, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                   "spec": {"hard": {"pods": "1"}}})
    create(s, ns, deployment("quota", 2, unavailable=0))
    c = wait_for(lambda: cond(get_d(s, ns, "quota"), "ReplicaFailure"),
                 what="ReplicaFailure on the Deployment")
    assert c["status"] == "True" and c["reason"] == "FailedCreate"
    assert "exceeded quota" in c["message"]
    assert cond(get_d(s, ns, "quota"), "Available")["status"] == "False"
    s.kubectl("-n", ns, "delete", "resourcequota", "q")
    wait_for(lambda: done(s, ns, "quota", 2) and not cond(get_d(s, ns, "quota"),
                                                          "ReplicaFailure"),
             timeout=90, what="the failure gone")
