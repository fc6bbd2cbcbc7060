"""The Job controller inside `k1s server`, through kubectl, with hollow nodes (hollow.py) playing
kubelet: completions with parallelism, backoffLimit, Indexed Jobs, suspend and resume,
activeDeadlineSeconds, podFailurePolicy and the job-tracking finalizer; the TTL-after-finished
controller deleting finished Jobs."""
import json
import time

import pytest

ANN = "hollow.k1s.io/"


@pytest.fixture(scope="module")
def nodes(server):
    from hollow import HollowCluster
    c = HollowCluster(server.url, server.ca(), *server.admin_cert(), prefix="jobnode")
    c.add_nodes(2, cpu="8", memory="16Gi")
    yield c
    c.close()


def job(name, completions=None, parallelism=None, annotations=None, **spec):
    s = {"template": {"metadata": {"annotations": annotations or {}},
                      "spec": {"restartPolicy": "Never",
                               "containers": [{"name": "main", "image": "busybox:1.36"}]}}}
    if completions is not None:
        s["completions"] = completions
    if parallelism is not None:
        s["parallelism"] = parallelism
    s.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": s}


def create(server, ns, obj):
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(obj))


def get(server, ns, kind, name):
    return json.loads(server.kubectl("-n", ns, "get", kind, name, "-o", "json").stdout)


def pods_of(server, ns, name):
    out = server.kubectl("-n", ns, "get", "pods", "-l", "job-name=" + name, "-o", "json").stdout
    return json.loads(out)["items"]


def cond(obj, typ):
    for c in obj.get("status", {}).get("conditions") or []:
        if c["type"] == typ:
            return c
    return None


def wait_for(fn, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.2)


def events(server, ns, name):
    out = server.kubectl("-n", ns, "get", "events", "--field-selector",
                         "involvedObject.name=" + name, "-o", "json").stdout
    return [(e["reason"], e["message"]) for e in json.loads(out)["items"]]


def test_completions_with_parallelism(server, ns, nodes):
    create(server, ns, job("five", 5, 2, {ANN + "run-seconds": "1"}))
    most = 0
    deadline = time.time() + 90
    while True:
        pods = pods_of(server, ns, "five")
        running = [p for p in pods if p["status"].get("phase") not in ("Succeeded", "Failed")
                   and not p["metadata"].get("deletionTimestamp")]
        most = max(most, len(running))
        j = get(server, ns, "job", "five")
        if cond(j, "Complete"):
            break
        assert time.time() < deadline, "job did not complete: %s" % j.get("status")
        time.sleep(0.2)
    assert most <= 2
    server.kubectl("-n", ns, "wait", "--for=condition=complete", "job/five", "--timeout=10s")
    st = j["status"]
    assert st["succeeded"] == 5 and "failed" not in st and "active" not in st
    assert st["startTime"] and st["completionTime"]
    assert cond(j, "SuccessCriteriaMet")["status"] == "True"
    assert not st.get("uncountedTerminatedPods", {}).get("succeeded")
    # every pod was counted once and then released from the job-tracking finalizer
    pods = pods_of(server, ns, "five")
    assert len(pods) == 5
    for p in pods:
        assert "batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or [])
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "five"
        assert p["metadata"]["ownerReferences"][0]["kind"] == "Job"
    line = server.kubectl("-n", ns, "get", "jobs", "five", "--no-headers").stdout.split()
    assert line[1] == "Complete" and line[2] == "5/5", line
    ev = events(server, ns, "five")
    assert ("Completed", "Job completed") in ev
    assert sum(1 for r, m in ev if r == "SuccessfulCreate" and m.startswith("Created pod: five-")) == 5


def test_backoff_limit_exceeded(server, ns, nodes):
    create(server, ns, job("fails", 1, 1, {ANN + "exit-code": "1"}, backoffLimit=1))
    j = wait_for(lambda: (lambda o: cond(o, "Failed") and o)(get(server, ns, "job", "fails")),
                 timeout=90, what="Failed")
    c = cond(j, "Failed")
    assert c["status"] == "True" and c["reason"] == "BackoffLimitExceeded"
    assert c["message"] == "Job has reached the specified backoff limit"
    assert j["status"]["failed"] == 2 and "succeeded" not in j["status"]
    assert "completionTime" not in j["status"]
    assert cond(j, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    # two pods: the first failure and its replacement after the 10 s back-off
    assert len(pods_of(server, ns, "fails")) == 2
    assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in \
        events(server, ns, "fails")
    out = server.kubectl("-n", ns, "get", "jobs", "fails", "--no-headers").stdout.split()
    assert out[1] == "Failed" and out[2] == "0/1", out


def test_indexed(server, ns, nodes):
    create(server, ns, job("idx", 3, 3, {ANN + "run-seconds": "1"}, completionMode="Indexed"))
    server.kubectl("-n", ns, "wait", "--for=condition=complete", "job/idx", "--timeout=60s")
    j = get(server, ns, "job", "idx")
    assert j["status"]["completedIndexes"] == "0-2" and j["status"]["succeeded"] == 3
    pods = sorted(pods_of(server, ns, "idx"),
                  key=lambda p: p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"])
    assert len(pods) == 3
    for i, p in enumerate(pods):
        assert p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == str(i)
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == str(i)
        assert p["metadata"]["name"].startswith("idx-%d-" % i)
        assert p["spec"]["hostname"] == "idx-%d" % i
        env = p["spec"]["containers"][0]["env"]
        assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "apiVersion": "v1",
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}} in env


def test_suspend_and_resume(server, ns, nodes):
    create(server, ns, job("sus", 2, 2, {ANN + "run-seconds": "1"}, suspend=True))
    j = wait_for(lambda: (lambda o: cond(o, "Suspended") and o)(get(server, ns, "job", "sus")),
                 what="Suspended")
    c = cond(j, "Suspended")
    assert c["status"] == "True" and c["reason"] == "JobSuspended"
    assert pods_of(server, ns, "sus") == []
    assert "startTime" not in j["status"]
    out = server.kubectl("-n", ns, "get", "jobs", "sus", "--no-headers").stdout.split()
    assert out[1] == "Suspended", out
    server.kubectl("-n", ns, "patch", "job", "sus", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    server.kubectl("-n", ns, "wait", "--for=condition=complete", "job/sus", "--timeout=60s")
    j = get(server, ns, "job", "sus")
    c = cond(j, "Suspended")
    assert c["status"] == "False" and c["reason"] == "JobResumed"
    ev = [r for r, _ in events(server, ns, "sus")]
    assert "Suspended" in ev and "Resumed" in ev


def test_suspend_deletes_active_pods(server, ns, nodes):
    create(server, ns, job("sus2", 2, 2))
    wait_for(lambda: len([p for p in pods_of(server, ns, "sus2")
                          if p["status"].get("phase") == "Running"]) == 2, what="2 running")
    server.kubectl("-n", ns, "patch", "job", "sus2", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait_for(lambda: pods_of(server, ns, "sus2") == [], what="pods deleted")
    j = get(server, ns, "job", "sus2")
    assert cond(j, "Suspended")["status"] == "True"
    assert "failed" not in j["status"] and "active" not in j["status"]
    assert ("SuccessfulDelete" in [r for r, _ in events(server, ns, "sus2")])


def test_active_deadline(server, ns, nodes):
    create(server, ns, job("slow", 2, 2, activeDeadlineSeconds=3))
    j = wait_for(lambda: (lambda o: cond(o, "Failed") and o)(get(server, ns, "job", "slow")),
                 what="Failed")
    c = cond(j, "Failed")
    assert c["reason"] == "DeadlineExceeded"
    assert c["message"] == "Job was active longer than specified deadline"
    assert "active" not in j["status"]
    # the two pods running at the deadline were counted as failed and deleted
    assert j["status"]["failed"] == 2
    wait_for(lambda: pods_of(server, ns, "slow") == [], what="pods deleted")
    assert ("DeadlineExceeded", "Job was active longer than specified deadline") in \
        events(server, ns, "slow")


def test_pod_failure_policy(server, ns, nodes):
    pfp = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
                     {"action": "FailJob", "onExitCodes": {"containerName": "main",
                                                           "operator": "In", "values": [42]}}]}
    create(server, ns, job("pfp", 1, 1, {ANN + "exit-code": "42"}, podFailurePolicy=pfp))
    j = wait_for(lambda: (lambda o: cond(o, "Failed") and o)(get(server, ns, "job", "pfp")),
                 what="Failed")
    c = cond(j, "Failed")
    assert c["reason"] == "PodFailurePolicy"
    pod = pods_of(server, ns, "pfp")[0]["metadata"]["name"]
    assert c["message"] == ("Container main for pod %s/%s failed with exit code 42 matching "
                            "FailJob rule at index 1" % (ns, pod))
    assert j["status"]["failed"] == 1
    # an ignored failure is not counted: the pod is replaced at once (no back-off)
    create(server, ns, job("ign", 1, 1, {ANN + "exit-code": "3"}, podFailurePolicy=pfp,
                           backoffLimit=0))
    wait_for(lambda: len(pods_of(server, ns, "ign")) >= 3, what="replacements")
    j = get(server, ns, "job", "ign")
    assert cond(j, "Failed") is None and "failed" not in j["status"]
    server.kubectl("-n", ns, "delete", "job", "ign")


def test_ttl_after_finished(server, ns, nodes):
    create(server, ns, job("ttl", 1, 1, {ANN + "run-seconds": "0"}, ttlSecondsAfterFinished=2))
    server.kubectl("-n", ns, "wait", "--for=condition=complete", "job/ttl", "--timeout=60s")
    done = time.time()

    def gone():
        p = server.kubectl("-n", ns, "get", "job", "ttl", check=False)
        return p.returncode != 0 and "NotFound" in p.stderr
    wait_for(gone, timeout=30, what="job deleted")
    # not before its TTL (the condition's second-precision time may be up to 1 s earlier)
    assert time.time() - done >= 0.9


def test_backoff_limit_with_restarts(server, ns, nodes):
    # restartPolicy OnFailure: container restarts count against backoffLimit
    j = job("crashy", 1, 1, {ANN + "crashes": "5"}, backoffLimit=2)
    j["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    create(server, ns, j)
    j = wait_for(lambda: (lambda o: cond(o, "Failed") and o)(get(server, ns, "job", "crashy")),
                 what="Failed")
    assert cond(j, "Failed")["reason"] == "BackoffLimitExceeded"
    wait_for(lambda: pods_of(server, ns, "crashy") == [], what="pod deleted")


def test_counts_survive_server_kill(fresh_server, hollow_nodes):
    # every pod is counted exactly once across a kill -9 of the server (job-tracking finalizers
    # and status.uncountedTerminatedPods), and the Job completes after the restart
    import signal
    s = fresh_server.start()
    hollow_nodes(s, 1, prefix="restart")
    create(s, "default", job("steady", 4, 2, {ANN + "run-seconds": "1"}))
    wait_for(lambda: get(s, "default", "job", "steady")["status"].get("succeeded", 0) >= 1,
             what="a first success")
    s.stop(sig=signal.SIGKILL)
    s.start()
    s.kubectl("wait", "--for=condition=complete", "job/steady", "--timeout=60s")
    j = get(s, "default", "job", "steady")
    assert j["status"]["succeeded"] == 4 and "failed" not in j["status"]
    pods = pods_of(s, "default", "steady")
    assert len([p for p in pods if p["status"].get("phase") == "Succeeded"]) == 4
    assert all("batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or [])
               for p in pods)


def test_success_policy(server, ns, nodes):
    # Indexed, 3 pods running; the policy is met once index 0 succeeds: the others are deleted
    create(server, ns, job("leader", 3, 3, completionMode="Indexed",
                           successPolicy={"rules": [{"succeededIndexes": "0"}]}))
    ix = "batch.kubernetes.io/job-completion-index"
    pods = wait_for(lambda: (lambda ps: ps if len(ps) == 3 and all(
        p["status"].get("phase") == "Running" for p in ps) else None)(pods_of(server, ns, "leader")),
        what="3 running")
    first = [p for p in pods if p["metadata"]["annotations"][ix] == "0"][0]["metadata"]["name"]
    server.kubectl("-n", ns, "annotate", "pod", first, ANN + "exit-code=0")
    server.kubectl("-n", ns, "wait", "--for=condition=complete", "job/leader", "--timeout=60s")
    j = get(server, ns, "job", "leader")
    for t in ("SuccessCriteriaMet", "Complete"):
        c = cond(j, t)
        assert c["reason"] == "SuccessPolicy" and c["message"] == "Matched rules at index 0", c
    # (the two pods deleted while running count as failed, as kube-controller-manager's do)
    assert j["status"]["completedIndexes"] == "0" and j["status"]["succeeded"] == 1
    wait_for(lambda: [p["metadata"]["name"] for p in pods_of(server, ns, "leader")] == [first],
             what="the other pods deleted")


def test_pod_failure_policy_disruption_ignored(server, ns, nodes):
    # a pod that fails with the DisruptionTarget condition (as an eviction leaves it) is not
    # counted against backoffLimit 0: it is replaced
    pfp = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    create(server, ns, job("evicted", 1, 1, podFailurePolicy=pfp, backoffLimit=0))
    pod = wait_for(lambda: (lambda ps: ps[0]["metadata"]["name"] if len(ps) == 1 and
                            ps[0]["status"].get("phase") == "Running" else None)(
        pods_of(server, ns, "evicted")), what="running")
    server.kubectl("-n", ns, "patch", "pod", pod, "--subresource=status", "-p", json.dumps(
        {"status": {"conditions": [{"type": "DisruptionTarget", "status": "True",
                                    "reason": "EvictionByEvictionAPI",
                                    # without it the disruption controller finds it stale
                                    "lastTransitionTime": time.strftime(
                                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}}))
    server.kubectl("-n", ns, "annotate", "pod", pod, ANN + "exit-code=137")
    wait_for(lambda: len(pods_of(server, ns, "evicted")) == 2, what="a replacement")
    j = get(server, ns, "job", "evicted")
    assert cond(j, "Failed") is None and "failed" not in j["status"]
    server.kubectl("-n", ns, "delete", "job", "evicted")


def test_released_pod_loses_finalizer(server, ns, nodes):
    # kubectl delete --cascade=orphan: the garbage collector removes the pods' ownerReferences
    # (done by hand here) and the released pods keep no job-tracking finalizer
    create(server, ns, job("rel", 1, 1))
    pod = wait_for(lambda: (lambda ps: ps[0] if ps else None)(pods_of(server, ns, "rel")),
                   what="a pod")
    assert "batch.kubernetes.io/job-tracking" in pod["metadata"]["finalizers"]
    name = pod["metadata"]["name"]
    server.kubectl("-n", ns, "delete", "job", "rel", "--cascade=orphan", "--wait=false")
    server.kubectl("-n", ns, "patch", "pod", name, "--type=merge",
                   "-p", '{"metadata":{"ownerReferences":null}}')
    wait_for(lambda: "batch.kubernetes.io/job-tracking" not in (
        get(server, ns, "pod", name)["metadata"].get("finalizers") or []), what="finalizer gone")
    assert [p["metadata"]["name"] for p in pods_of(server, ns, "rel")] == [name]
    server.kubectl("-n", ns, "patch", "job", "rel", "--type=merge",
                   "-p", '{"metadata":{"finalizers":null}}', check=False)


def test_managed_by_another_controller(server, ns, nodes):
    # a Job whose spec.managedBy names another controller gets no pods and no status from
    # kube-controller-manager's Job controller; one beside it, created after it, is run
    create(server, ns, job("external", 1, 1, managedBy="example.com/batch-runner"))
    create(server, ns, job("internal", 1, 1))
    wait_for(lambda: pods_of(server, ns, "internal"), what="the other Job's pod")
    wait_for(lambda: get(server, ns, "job", "internal")["status"].get("startTime"),
             what="the other Job's status")
    j = get(server, ns, "job", "external")
    assert not j.get("status"), j.get("status")
    assert pods_of(server, ns, "external") == []
    assert events(server, ns, "external") == []


def index_of(p):
    return int(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"])


def test_backoff_limit_per_index(server, ns, nodes):
    # backoffLimitPerIndex 1: index 1 fails twice (its replacement carries the failure count and
    # starts after the index's 10 s back-off), indexes 0 and 2 succeed: the Job fails with
    # FailedIndexes once every index is done
    create(server, ns, job("perindex", 3, 3, completionMode="Indexed", backoffLimitPerIndex=1))
    pods = wait_for(lambda: (lambda ps: ps if len(ps) == 3 and all(
        p["status"].get("phase") == "Running" for p in ps) else None)(
        pods_of(server, ns, "perindex")), what="3 running")
    for p in pods:
        assert p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] == "0"
        code = "1" if index_of(p) == 1 else "0"
        server.kubectl("-n", ns, "annotate", "pod", p["metadata"]["name"], ANN + "exit-code=" + code)
    first = [p["metadata"]["name"] for p in pods if index_of(p) == 1][0]
    j = wait_for(lambda: (lambda o: o if o["status"].get("completedIndexes") == "0,2" else None)(
        get(server, ns, "job", "perindex")), what="indexes 0 and 2 completed")
    assert j["status"]["failedIndexes"] == "" and cond(j, "FailureTarget") is None
    # the replacement for index 1
    again = wait_for(lambda: [p for p in pods_of(server, ns, "perindex") if index_of(p) == 1 and
                              p["metadata"]["name"] != first and
                              p["status"].get("phase") == "Running"],
                     timeout=90, what="index 1 replaced")[0]
    assert again["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] == "1"
    server.kubectl("-n", ns, "annotate", "pod", again["metadata"]["name"], ANN + "exit-code=1")
    j = wait_for(lambda: (lambda o: cond(o, "Failed") and o)(get(server, ns, "job", "perindex")),
                 what="Failed")
    c = cond(j, "Failed")
    assert c["reason"] == "FailedIndexes" and c["message"] == "Job has failed indexes"
    assert cond(j, "FailureTarget")["reason"] == "FailedIndexes"
    st = j["status"]
    assert st["failedIndexes"] == "1" and st["completedIndexes"] == "0,2"
    assert st["succeeded"] == 2 and st["failed"] == 2
    assert len(pods_of(server, ns, "perindex")) == 4
    assert ("FailedIndexes", "Job has failed indexes") in events(server, ns, "perindex")


def test_fail_index_and_max_failed_indexes(server, ns, nodes):
    pfp = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}}]}
    # FailIndex: the index fails at its first failure, whatever backoffLimitPerIndex allows
    create(server, ns, job("failix", 2, 2, {ANN + "exit-code": "42"}, completionMode="Indexed",
                           backoffLimitPerIndex=5, podFailurePolicy=pfp))
    # maxFailedIndexes 0: the first failed index fails the Job (index 1 never starts)
    create(server, ns, job("maxfail", 2, 1, {ANN + "exit-code": "42"}, completionMode="Indexed",
                           backoffLimitPerIndex=5, maxFailedIndexes=0, podFailurePolicy=pfp))
    j = wait_for(lambda: (lambda o: cond(o, "Failed") and o)(get(server, ns, "job", "failix")),
                 what="failix Failed")
    assert cond(j, "Failed")["reason"] == "FailedIndexes"
    assert j["status"]["failedIndexes"] == "0,1" and j["status"]["failed"] == 2
    assert len(pods_of(server, ns, "failix")) == 2
    j = wait_for(lambda: (lambda o: cond(o, "Failed") and o)(get(server, ns, "job", "maxfail")),
                 what="maxfail Failed")
    c = cond(j, "Failed")
    assert c["reason"] == "MaxFailedIndexesExceeded"
    assert c["message"] == "Job has exceeded the specified maximal number of failed indexes"
    assert j["status"]["failedIndexes"] == "0" and j["status"]["failed"] == 1
    assert [index_of(p) for p in pods_of(server, ns, "maxfail")] == [0]


def test_adopts_orphan_pods(server, ns, nodes):
    # a pod the Job's (manual) selector matches and nobody controls is adopted: it gets the Job's
    # controller reference and the job-tracking finalizer, and counts as one of its pods
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "stray", "labels": {"app": "adopt"}},
           "spec": {"restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox:1.36"}]}}
    create(server, ns, pod)
    wait_for(lambda: get(server, ns, "pod", "stray")["status"].get("phase") == "Running",
             what="stray running")
    j = job("adopter", 1, 1, manualSelector=True, selector={"matchLabels": {"app": "adopt"}})
    j["spec"]["template"]["metadata"]["labels"] = {"app": "adopt"}
    create(server, ns, j)
    p = wait_for(lambda: (lambda o: o if o["metadata"].get("ownerReferences") else None)(
        get(server, ns, "pod", "stray")), what="adopted")
    ref = p["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "Job" and ref["name"] == "adopter" and ref["controller"] is True
    assert "batch.kubernetes.io/job-tracking" in p["metadata"]["finalizers"]
    wait_for(lambda: get(server, ns, "job", "adopter")["status"].get("active") == 1,
             what="active 1")
    server.kubectl("-n", ns, "annotate", "pod", "stray", ANN + "exit-code=0")
    server.kubectl("-n", ns, "wait", "--for=condition=complete", "job/adopter", "--timeout=60s")
    j = get(server, ns, "job", "adopter")
    assert j["status"]["succeeded"] == 1
    # the adopted pod did the work: no pod of the Job's own was needed
    out = json.loads(server.kubectl("-n", ns, "get", "pods", "-l", "app=adopt",
                                    "-o", "json").stdout)["items"]
    assert [p["metadata"]["name"] for p in out] == ["stray"]
    assert "batch.kubernetes.io/job-tracking" not in (
        get(server, ns, "pod", "stray")["metadata"].get("finalizers") or [])


def test_slow_start_under_quota(server, ns, nodes):
    # a quota of 3 pods and parallelism 60: creations go in batches of 1, 2, 4, ... and stop at
    # the first batch with a refusal, so the Job makes a handful of failed requests, not 57
    server.kubectl("-n", ns, "create", "quota", "pods", "--hard=pods=3")
    wait_for(lambda: get(server, ns, "resourcequota", "pods").get("status", {}).get("hard"),
             what="quota status")
    create(server, ns, job("many", 60, 60))
    wait_for(lambda: len(pods_of(server, ns, "many")) == 3, what="3 pods")

    def refused():
        out = server.kubectl("-n", ns, "get", "events", "--field-selector",
                             "involvedObject.name=many,reason=FailedCreate", "-o", "json").stdout
        return sum(e.get("count", 1) for e in json.loads(out)["items"])
    wait_for(refused, what="a FailedCreate event")
    time.sleep(0.5)
    n = refused()
    print("FailedCreate requests:", n)
    # 4 in the first sync (the batch of 4 after 1 and 2), then one per retry with back-off
    assert 1 <= n < 30, n
    assert len(pods_of(server, ns, "many")) == 3
    # status.active counts the pods there are, not the ones refused
    wait_for(lambda: get(server, ns, "job", "many")["status"].get("active") == 3,
             what="active 3")
    server.kubectl("-n", ns, "delete", "job", "many")
