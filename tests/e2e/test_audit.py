"""The audit log: --audit-log-path (also in the config file, and "-" for standard output),
one audit.k8s.io/v1 Event per write and per denied request, rotation by size."""
import http.client
import json
import os
import time

from test_rbac import as_user, make_user


def by_people(evs):
    """Leaves out what the built-in controllers (kube-system service accounts) write."""
    return [e for e in evs
            if not e["user"]["username"].startswith("system:serviceaccount:kube-system:")]


def events(path):
    with open(path) as f:
        return by_people([json.loads(l) for l in f if l.strip()])


def wait_for(path, pred, timeout=5):
    deadline = time.time() + timeout
    while True:
        evs = events(path) if os.path.exists(path) else []
        if pred(evs) or time.time() > deadline:
            return evs
        time.sleep(0.05)


def test_writes_and_denials_are_audited(fresh_server):
    log = os.path.join(fresh_server.tmp, "audit", "audit.log")
    s = fresh_server
    s.extra_args = ["--audit-log-path", log]
    s.start()
    assert os.path.exists(log)
    # bootstrap writes are internal: nothing is logged for them
    s.kubectl("create", "configmap", "c1", "--from-literal=a=b")
    s.kubectl("get", "configmap", "c1")
    s.kubectl("label", "configmap", "c1", "x=y")
    s.kubectl("delete", "configmap", "c1")
    alice = make_user(s, "alice")
    p = as_user(s, alice, "get", "secret", "top", "-n", "kube-system", check=False)
    assert p.returncode == 1
    evs = wait_for(log, lambda e: len(e) >= 4)
    verbs = [(e["verb"], e["objectRef"].get("resource"), e["responseStatus"]["code"]) for e in evs]
    assert verbs == [("create", "configmaps", 201), ("patch", "configmaps", 200),
                     ("delete", "configmaps", 200), ("get", "secrets", 403)], verbs
    create = evs[0]
    assert create["kind"] == "Event" and create["apiVersion"] == "audit.k8s.io/v1"
    assert create["level"] == "Metadata" and create["stage"] == "ResponseComplete"
    assert len(create["auditID"]) == 36
    assert create["requestURI"].startswith("/api/v1/namespaces/default/configmaps")
    assert create["user"] == {"username": "system:admin",
                              "groups": ["system:masters", "system:authenticated"]}
    assert create["sourceIPs"] == ["127.0.0.1"]
    assert create["userAgent"].startswith("kubectl")
    assert create["objectRef"] == {"resource": "configmaps", "namespace": "default", "name": "c1",
                                   "apiVersion": "v1"}
    assert create["annotations"]["authorization.k8s.io/decision"] == "allow"
    for k in ("requestReceivedTimestamp", "stageTimestamp"):
        assert create[k].endswith("Z") and len(create[k]) == 27
    assert create["requestReceivedTimestamp"] <= create["stageTimestamp"]
    denied = evs[3]
    assert denied["user"] == {"username": "alice", "groups": ["system:authenticated"]}
    assert denied["objectRef"] == {"resource": "secrets", "namespace": "kube-system", "name": "top",
                                   "apiVersion": "v1"}
    assert denied["annotations"] == {"authorization.k8s.io/decision": "forbid",
                                     "authorization.k8s.io/reason": ""}
    assert denied["responseStatus"] == {
        "metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": 'secrets "top" is forbidden: User "alice" cannot get resource "secrets" in API '
                   'group "" in the namespace "kube-system"'}
    # impersonated requests name both users
    s.kubectl("create", "configmap", "c2", "--as", "bob", check=False)
    evs = wait_for(log, lambda e: len(e) >= 5)
    assert evs[4]["user"]["username"] == "system:admin"
    assert evs[4]["impersonatedUser"] == {"username": "bob", "groups": ["system:authenticated"]}
    assert evs[4]["annotations"]["authorization.k8s.io/decision"] == "forbid"
    # a failed write says why
    s.kubectl("create", "configmap", "c3")
    s.kubectl("create", "configmap", "c3", check=False)
    evs = wait_for(log, lambda e: len(e) >= 7)
    assert evs[6]["responseStatus"]["code"] == 409
    assert evs[6]["responseStatus"]["reason"] == "AlreadyExists"
    assert evs[6]["responseStatus"]["message"] == 'configmaps "c3" already exists'
    # and the audit id is the one the response carried
    status, hdrs, _ = s.request("POST", "/api/v1/namespaces/default/configmaps",
                                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c4"}})
    assert status == 201
    evs = wait_for(log, lambda e: len(e) >= 8)
    assert evs[7]["auditID"] == hdrs["Audit-Id"]


def test_audit_log_from_config_file_rotates(fresh_server):
    s = fresh_server
    log = os.path.join(s.tmp, "audit.log")
    with open(os.path.join(s.tmp, "config.yaml"), "w") as f:
        f.write("audit-log-path: %s\naudit-log-maxsize: 1\naudit-log-maxbackup: 1\n"
                "audit-log-maxage: 30\n" % log)
    s.start()
    conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=s.ssl_context())
    pad = "p" * 3000
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "r-"}})
    for i in range(800):  # about 2.5 MB of events: two rotations
        conn.request("POST", "/api/v1/namespaces/default/configmaps?pad=" + pad, body,
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 201
    conn.close()
    backups = [f for f in os.listdir(s.tmp) if f.startswith("audit-") and f.endswith(".log")]
    assert len(backups) == 1, backups  # maxbackup 1: the older one was removed
    assert os.path.getsize(os.path.join(s.tmp, backups[0])) >= 1024 * 1024
    assert os.path.getsize(log) < 1024 * 1024
    for e in events(log) + events(os.path.join(s.tmp, backups[0])):
        assert e["verb"] == "create"


def test_audit_log_to_stdout(fresh_server):
    s = fresh_server
    s.extra_args = ["--audit-log-path", "-"]
    s.start()
    s.kubectl("create", "namespace", "audited")
    deadline = time.time() + 5
    while '"audit.k8s.io/v1"' not in s.read_log() and time.time() < deadline:
        time.sleep(0.05)
    lines = by_people([json.loads(l) for l in s.read_log().splitlines()
                       if '"audit.k8s.io/v1"' in l])
    assert len(lines) == 1
    ev = lines[0]
    assert ev["verb"] == "create" and ev["objectRef"]["resource"] == "namespaces"
    assert "namespace" not in ev["objectRef"] and ev["objectRef"]["name"] == "audited"


def test_no_audit_log_by_default(server, tmp_path):
    server.kubectl("create", "configmap", "quiet", "-n", "default")
    assert '"audit.k8s.io/v1"' not in server.read_log()
    server.kubectl("delete", "configmap", "quiet", "-n", "default")
