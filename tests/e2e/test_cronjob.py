"""The CronJob controller inside `k1s server`, through kubectl, with hollow nodes running the
Jobs' pods: `kubectl create job --from=cronjob/x`, history limits, and a schedule in a time zone
creating Jobs on the minute (the one test that waits for a minute boundary; the schedule
arithmetic itself is unit-tested in tests/unit/controllers/cron.c)."""
import json
import time

import pytest

from test_job import cond, create, events, get, wait_for

ANN = "hollow.k1s.io/"


@pytest.fixture(scope="module")
def nodes(server):
    from hollow import HollowCluster
    c = HollowCluster(server.url, server.ca(), *server.admin_cert(), prefix="cronnode")
    c.add_nodes(1, cpu="8", memory="16Gi")
    yield c
    c.close()


def cronjob(name, schedule, annotations=None, **spec):
    s = {"schedule": schedule,
         "jobTemplate": {"metadata": {"labels": {"app": name}},
                         "spec": {"backoffLimit": 0, "template": {
                             "metadata": {"annotations": annotations or {}},
                             "spec": {"restartPolicy": "Never",
                                      "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}}
    s.update(spec)
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": s}


def job_names(server, ns):
    out = server.kubectl("-n", ns, "get", "jobs", "-o", "json").stdout
    return sorted(j["metadata"]["name"] for j in json.loads(out)["items"]
                  if not j["metadata"].get("deletionTimestamp"))


def finished(server, ns, name, typ):
    return wait_for(lambda: (lambda o: cond(o, typ) and o)(get(server, ns, "job", name)),
                    what="%s %s" % (name, typ))


def test_create_from_cronjob_and_history_limits(server, ns, nodes):
    create(server, ns, cronjob("nightly", "0 3 * * *", {ANN + "run-seconds": "0"}, suspend=True,
                               successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1))
    cj = get(server, ns, "cronjob", "nightly")
    server.kubectl("-n", ns, "create", "job", "m1", "--from=cronjob/nightly")
    j = get(server, ns, "job", "m1")
    assert j["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert j["metadata"]["labels"]["app"] == "nightly"
    ref = j["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "CronJob" and ref["uid"] == cj["metadata"]["uid"] and ref["controller"]
    finished(server, ns, "m1", "Complete")
    server.kubectl("-n", ns, "create", "job", "m2", "--from=cronjob/nightly")
    m2 = finished(server, ns, "m2", "Complete")
    # a manual Job never enters status.active, but its success counts
    wait_for(lambda: get(server, ns, "cronjob", "nightly")["status"].get("lastSuccessfulTime") ==
             m2["status"]["completionTime"], what="lastSuccessfulTime")
    # one successful Job is kept: the older one goes
    wait_for(lambda: job_names(server, ns) == ["m2"], what="m1 deleted")
    assert ("SuccessfulDelete", "Deleted job m1") in events(server, ns, "nightly")
    # failed Jobs have their own limit
    server.kubectl("-n", ns, "patch", "cronjob", "nightly", "--type=merge", "-p", json.dumps(
        {"spec": {"jobTemplate": {"spec": {"template": {"metadata": {"annotations": {
            ANN + "exit-code": "1"}}}}}}}))
    server.kubectl("-n", ns, "create", "job", "f1", "--from=cronjob/nightly")
    finished(server, ns, "f1", "Failed")
    server.kubectl("-n", ns, "create", "job", "f2", "--from=cronjob/nightly")
    finished(server, ns, "f2", "Failed")
    wait_for(lambda: job_names(server, ns) == ["f2", "m2"], what="f1 deleted")
    # suspended: nothing is scheduled, and the table says so
    line = server.kubectl("-n", ns, "get", "cronjob", "nightly", "--no-headers").stdout.split()
    assert line[:6] == ["nightly", "0", "3", "*", "*", "*"] and line[7] == "True", line


def test_schedule_in_time_zone_creates_jobs(server, ns, nodes):
    create(server, ns, cronjob("minutely", "* * * * *", {ANN + "run-seconds": "1"},
                               timeZone="Asia/Tokyo", concurrencyPolicy="Forbid"))
    names = wait_for(lambda: job_names(server, ns), timeout=90, what="a scheduled Job")
    assert len(names) == 1
    name = names[0]
    j = get(server, ns, "job", name)
    minutes = int(name.rsplit("-", 1)[1])
    ts = j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    want = time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(minutes * 60 + 9 * 3600))
    assert ts == want
    assert j["metadata"]["labels"]["app"] == "minutely"
    assert j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cj = get(server, ns, "cronjob", "minutely")
    assert cj["status"]["lastScheduleTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime(minutes * 60))
    finished(server, ns, name, "Complete")

    def seen_completed():
        cj = get(server, ns, "cronjob", "minutely")
        return not cj["status"].get("active") and cj["status"].get("lastSuccessfulTime") and cj
    cj = wait_for(seen_completed, what="active emptied")
    ev = events(server, ns, "minutely")
    assert ("SuccessfulCreate", "Created job " + name) in ev
    assert ("SawCompletedJob", "Saw completed job: %s, status: Complete" % name) in ev
    line = server.kubectl("-n", ns, "get", "cronjob", "minutely", "--no-headers").stdout.split()
    assert line[6] == "Asia/Tokyo" and line[7] == "False" and line[8] == "0", line
    server.kubectl("-n", ns, "delete", "cronjob", "minutely")


def test_concurrency_forbid_then_replace(server, ns, nodes):
    # a Job still running from an earlier schedule time, as the status says (a manual Job made to
    # look like the controller's own, and the last schedule time two minutes back)
    create(server, ns, cronjob("busy", "* * * * *", suspend=True, concurrencyPolicy="Forbid"))
    server.kubectl("-n", ns, "create", "job", "old", "--from=cronjob/busy")
    old = get(server, ns, "job", "old")
    wait_for(lambda: ("UnexpectedJob", "Saw a job that the controller did not create or forgot: "
                      "old") in events(server, ns, "busy"), what="UnexpectedJob")
    ref = {"kind": "Job", "apiVersion": "batch/v1", "namespace": ns, "name": "old",
           "uid": old["metadata"]["uid"]}
    back = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))
    server.kubectl("-n", ns, "patch", "cronjob", "busy", "--subresource=status", "--type=merge",
                   "-p", json.dumps({"status": {"active": [ref], "lastScheduleTime": back}}))
    server.kubectl("-n", ns, "patch", "cronjob", "busy", "--type=merge", "-p",
                   '{"spec":{"suspend":false}}')
    wait_for(lambda: ("JobAlreadyActive", "Not starting job because prior execution is running "
                      "and concurrency policy is Forbid") in events(server, ns, "busy"),
             what="JobAlreadyActive")
    assert job_names(server, ns) == ["old"]
    # Replace: the running Job goes and the missed schedule time's Job starts
    server.kubectl("-n", ns, "patch", "cronjob", "busy", "--type=merge", "-p",
                   '{"spec":{"concurrencyPolicy":"Replace"}}')
    names = wait_for(lambda: (lambda n: n if "old" not in n and n else None)(
        job_names(server, ns)), what="old replaced")
    assert len(names) == 1 and names[0].startswith("busy-")
    assert ("SuccessfulDelete", "Deleted job old") in events(server, ns, "busy")
    cj = wait_for(lambda: (lambda o: o["status"].get("active") and o)(
        get(server, ns, "cronjob", "busy")), what="status.active")
    assert [a["name"] for a in cj["status"]["active"]] == names
    server.kubectl("-n", ns, "delete", "cronjob", "busy")
