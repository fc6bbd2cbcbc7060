"""Scenarios for nodes that run pods, played here by hollow nodes (hollow.py): pods bound to a
node become Running and Ready, fail or complete on request, are removed when deleted; the
node renews its Lease, shows Ready, and as system:node:<name> cannot touch another node's
pods. The scenarios speak kubectl and the API; only the `hollow_nodes` fixture and the
hollow.k1s.io annotations are particular to hollow nodes."""
import ipaddress
import json
import signal
import threading
import time

from hollow import ANN


def pod(name, node, restart="Always", annotations=None, containers=("c",), grace=None):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "annotations": dict(annotations or {})},
         "spec": {"nodeName": node, "restartPolicy": restart,
                  "containers": [{"name": c, "image": "busybox:1.36"} for c in containers]}}
    if grace is not None:
        p["spec"]["terminationGracePeriodSeconds"] = grace
    return p


def create(server, ns, *pods):
    server.kubectl("-n", ns, "create", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(pods)}))


def get(server, ns, name):
    return json.loads(server.kubectl("-n", ns, "get", "pod", name, "-o", "json").stdout)


def wait_for(fn, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def phase_is(server, ns, name, phase):
    return lambda: get(server, ns, name)["status"].get("phase") == phase


def wide(server, ns):
    """`kubectl get pods -o wide` as {name: {column: cell}}, cut at the header's columns."""
    lines = server.kubectl("-n", ns, "get", "pods", "-o", "wide").stdout.splitlines()
    cols = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
            "READINESS GATES"]
    starts = [lines[0].index(c + " ") if c != cols[-1] else lines[0].index(c) for c in cols]
    starts[6] = lines[0].index(" NODE ") + 1
    rows = {}
    for ln in lines[1:]:
        cells = [ln[s:e].strip() for s, e in zip(starts, starts[1:] + [None])]
        rows[cells[0]] = dict(zip(cols, cells))
    return rows


def test_pods_become_running_and_ready(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 3, zone="zone-a")
    names = cluster.names
    # the nodes: Ready, with their capacity, labels and identity
    lines = server.kubectl("get", "nodes", *names).stdout.splitlines()
    assert [ln.split()[:2] for ln in lines[1:]] == [[n, "Ready"] for n in names]
    node = json.loads(server.kubectl("get", "node", names[1], "-o", "json").stdout)
    assert node["status"]["capacity"]["pods"] == "110"
    assert set(node["status"]["allocatable"]) >= {"cpu", "memory", "ephemeral-storage", "pods"}
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == names[1] and labels["kubernetes.io/os"] == "linux"
    assert labels["topology.kubernetes.io/zone"] == "zone-a" and labels["kubernetes.io/arch"]
    conds = {c["type"]: (c["status"], c["reason"]) for c in node["status"]["conditions"]}
    assert conds == {"Ready": ("True", "KubeletReady"),
                     "MemoryPressure": ("False", "KubeletHasSufficientMemory"),
                     "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
                     "PIDPressure": ("False", "KubeletHasSufficientPID")}
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.")
    assert {a["type"] for a in node["status"]["addresses"]} == {"InternalIP", "Hostname"}
    # each node's certificate came from an approved kubelet-client CSR
    csrs = json.loads(server.kubectl("get", "csr", "-o", "json").stdout)["items"]
    mine = [c for c in csrs if c["metadata"]["name"] in cluster.csrs]
    assert len(mine) == 3
    for c in mine:
        assert c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
        assert [x["type"] for x in c["status"]["conditions"]] == ["Approved"]
        assert c["status"]["certificate"]
    # the pods
    create(server, ns, *[pod("p%d" % i, names[i % 3], containers=("a", "b") if i == 0 else ("c",))
                         for i in range(6)])
    p = server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=30s")
    assert p.stdout.count("condition met") == 6
    rows = wide(server, ns)
    assert set(rows) == {"p%d" % i for i in range(6)}
    ips = set()
    for i in range(6):
        r = rows["p%d" % i]
        assert r["STATUS"] == "Running" and r["NODE"] == names[i % 3]
        assert r["READY"] == ("2/2" if i == 0 else "1/1") and r["RESTARTS"] == "0"
        assert ipaddress.ip_address(r["IP"]) in cluster[i % 3].pod_cidr
        ips.add(r["IP"])
    assert len(ips) == 6
    st = get(server, ns, "p0")["status"]
    assert st["phase"] == "Running" and st["hostIP"] == cluster[0].host_ip
    assert st["podIPs"] == [{"ip": st["podIP"]}] and st["startTime"]
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
        "ContainersReady": "True", "PodScheduled": "True"}
    assert [c["name"] for c in st["containerStatuses"]] == ["a", "b"]
    for cs in st["containerStatuses"]:
        assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
        assert cs["state"]["running"]["startedAt"] and cs["image"] == "docker.io/library/busybox:1.36"
        assert cs["imageID"].startswith("docker.io/library/busybox@sha256:")
        assert cs["containerID"].startswith("containerd://")
    assert st["containerStatuses"][0]["containerID"] != st["containerStatuses"][1]["containerID"]
    # the Events a kubelet records, for the pods and the nodes
    evs = events(server, ns, "p1")
    assert [(e["reason"], e["type"]) for e in evs] == [("Pulled", "Normal"), ("Created", "Normal"),
                                                       ("Started", "Normal")]
    assert evs[0]["message"] == 'Container image "busybox:1.36" already present on machine'
    assert evs[2]["message"] == "Started container c"
    assert evs[2]["source"] == {"component": "kubelet", "host": names[1]}
    assert evs[2]["involvedObject"]["fieldPath"] == "spec.containers{c}"
    reasons = [e["reason"] for e in events(server, "default", names[2])
               if e["source"]["component"] == "kubelet"]  # not the node controller's RegisteredNode
    assert reasons[0] == "Starting" and "NodeReady" in reasons
    # a list in pages while the nodes write elsewhere (Leases): the later pages come from a
    # snapshot of an older revision in which nothing under pods/<ns> changed
    code, page = server.json("GET", "/api/v1/namespaces/%s/pods?limit=4" % ns)
    assert code == 200 and len(page["items"]) == 4
    cluster[0].renew_lease(cluster[0].client())
    code, rest = server.json("GET", "/api/v1/namespaces/%s/pods?limit=4&continue=%s" %
                             (ns, page["metadata"]["continue"]))
    assert code == 200, rest
    assert [i["metadata"]["name"] for i in page["items"] + rest["items"]] == ["p%d" % i for i in range(6)]
    assert rest["metadata"]["resourceVersion"] == page["metadata"]["resourceVersion"]
    assert len(server.kubectl("-n", ns, "get", "pods", "--chunk-size=2").stdout.splitlines()) == 7
    assert not cluster.errors()


def test_pods_fail_complete_and_restart_on_request(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 3)
    a, b, c = cluster.names
    create(server, ns,
           pod("fails", a, "Never", {ANN + "exit-code": "3"}),
           pod("completes", b, "Never", {ANN + "run-seconds": "0.5"}),
           pod("crashes", c, "Always", {ANN + "crashes": "2", ANN + "exit-code": "1"}),
           pod("never-ready", a, annotations={ANN + "never-ready": "true"}),
           pod("slow", b, annotations={ANN + "ready-delay-seconds": "2"}),
           pod("later", c, "Never"),
           pod("told", a, "OnFailure"))
    wait_for(phase_is(server, ns, "fails", "Failed"), what="fails to fail")
    wait_for(phase_is(server, ns, "completes", "Succeeded"), what="completes to succeed")
    st = get(server, ns, "fails")["status"]
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error" and term["finishedAt"]
    assert {c["type"]: c.get("reason") for c in st["conditions"]}["Ready"] == "PodFailed"
    assert st["containerStatuses"][0]["state"] == {"terminated": term}
    st = get(server, ns, "completes")["status"]
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    conds = {c["type"]: (c["status"], c.get("reason")) for c in st["conditions"]}
    assert conds["Ready"] == conds["ContainersReady"] == ("False", "PodCompleted")
    assert conds["Initialized"] == ("True", "PodCompleted")
    assert conds["PodReadyToStartContainers"] == ("False", None)
    # the slow pod runs before it is ready
    s = get(server, ns, "slow")["status"]
    assert s["phase"] == "Running" and s["containerStatuses"][0]["ready"] is False
    assert {c["type"]: c.get("reason") for c in s["conditions"]}["Ready"] == "ContainersNotReady"
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/slow", "pod/crashes", "--timeout=20s")
    p = server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/never-ready", "--timeout=1s",
                       check=False)
    assert p.returncode != 0
    # a test ends a pod by annotation, or through the fixture
    server.kubectl("-n", ns, "annotate", "pod", "later", ANN + "exit-code=7")
    wait_for(phase_is(server, ns, "later", "Failed"), what="later to fail")
    cluster[0].finish_pod(ns, "told", 0)  # OnFailure: exit 0 completes it
    wait_for(phase_is(server, ns, "told", "Succeeded"), what="told to succeed")
    rows = wide(server, ns)
    assert rows["fails"]["STATUS"] == "Error" and rows["fails"]["READY"] == "0/1"
    assert rows["later"]["STATUS"] == "Error"
    assert rows["completes"]["STATUS"] == "Completed" and rows["told"]["STATUS"] == "Completed"
    assert rows["never-ready"]["STATUS"] == "Running" and rows["never-ready"]["READY"] == "0/1"
    assert rows["crashes"]["STATUS"] == "Running" and rows["crashes"]["RESTARTS"].split()[0] == "2"
    cs = get(server, ns, "crashes")["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 2 and cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error" and list(cs["state"]) == ["running"]
    backoff = [e for e in events(server, ns, "crashes") if e["reason"] == "BackOff"]
    assert len(backoff) == 2 and backoff[0]["type"] == "Warning"
    assert backoff[0]["message"].startswith("Back-off restarting failed container c in pod crashes_%s(" % ns)
    assert not cluster.errors()


def test_deletion_completes(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 2)
    a, b = cluster.names
    create(server, ns, pod("quick", a), pod("graceful", b, annotations={ANN + "delete-after-grace": "true"},
                                            grace=2), pod("done", a, "Never", {ANN + "exit-code": "0"}))
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/quick", "pod/graceful", "--timeout=20s")
    wait_for(phase_is(server, ns, "done", "Succeeded"))
    # kubectl delete waits until the node has confirmed the pod gone
    t = time.time()
    assert 'pod "quick" deleted' in server.kubectl("-n", ns, "delete", "pod", "quick", "--timeout=20s").stdout
    assert time.time() - t < 10
    server.kubectl("-n", ns, "delete", "pod", "done", "--timeout=20s")
    # with the grace period honoured, the pod stays Terminating until it ends
    t = time.time()
    server.kubectl("-n", ns, "delete", "pod", "graceful", "--wait=false")
    o = get(server, ns, "graceful")
    assert o["metadata"]["deletionTimestamp"] and o["metadata"]["deletionGracePeriodSeconds"] == 2
    assert wide(server, ns)["graceful"]["STATUS"] == "Terminating"
    server.kubectl("-n", ns, "wait", "--for=delete", "pod/graceful", "--timeout=20s")
    assert time.time() - t >= 1.5
    assert server.kubectl("-n", ns, "get", "pods", "-o", "name").stdout == ""
    assert not cluster.errors()


def events(server, ns, name):
    """The Events about one object, oldest first."""
    items = json.loads(server.kubectl("-n", ns, "get", "events", "-o", "json").stdout)["items"]
    return [e for e in items if e["involvedObject"]["name"] == name]


def lease(server, name):
    return json.loads(server.kubectl("-n", "kube-node-lease", "get", "lease", name, "-o", "json").stdout)


def test_lease_renews_stops_and_restarts(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 3, lease_interval=0.3)
    n0 = cluster[0]
    le = lease(server, n0.name)
    assert le["spec"]["holderIdentity"] == n0.name and le["spec"]["leaseDurationSeconds"] == 40
    owner = le["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Node" and owner["name"] == n0.name and owner["uid"] == n0.node_uid
    first = le["spec"]["renewTime"]
    wait_for(lambda: lease(server, n0.name)["spec"]["renewTime"] != first, 5, "a renewal")
    create(server, ns, pod("keep", n0.name))
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/keep", "--timeout=20s")
    ip = get(server, ns, "keep")["status"]["podIP"]
    # a stopped node goes silent
    n0.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("hollow-%s-" % n0.name)]
    stopped = lease(server, n0.name)["spec"]["renewTime"]
    other = lease(server, cluster[1].name)["spec"]["renewTime"]
    time.sleep(1)
    assert lease(server, n0.name)["spec"]["renewTime"] == stopped
    assert lease(server, cluster[1].name)["spec"]["renewTime"] != other
    create(server, ns, pod("while-away", n0.name))
    time.sleep(0.5)
    assert get(server, ns, "while-away")["status"].get("phase") == "Pending"
    # and takes up where it was when it comes back
    n0.start()
    wait_for(lambda: lease(server, n0.name)["spec"]["renewTime"] != stopped, 5, "a renewal")
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/while-away", "--timeout=20s")
    keep = get(server, ns, "keep")["status"]
    assert keep["podIP"] == ip and keep["containerStatuses"][0]["restartCount"] == 0
    assert get(server, ns, "while-away")["status"]["podIP"] != ip
    server.kubectl("-n", ns, "delete", "pod", "keep", "--timeout=20s")
    assert not cluster.errors()


def test_hollow_threads_end_with_the_fixture(server, hollow_nodes):
    before = {t.name for t in threading.enumerate()}
    cluster = hollow_nodes(server, 2, prefix="hollow-t")
    assert len([t for t in threading.enumerate() if t.name.startswith("hollow-hollow-t-")]) == 4
    cluster.close()
    assert {t.name for t in threading.enumerate()} <= before
    assert "hollow-t-0" not in server.kubectl("get", "nodes", "-o", "name").stdout


def test_node_cannot_touch_another_nodes_pods(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 2)
    a, b = cluster.names
    create(server, ns, pod("on-b", b))
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/on-b", "--timeout=20s")
    as_a = cluster[0].client()
    try:
        code, body = as_a.request("PATCH", "/api/v1/namespaces/%s/pods/on-b/status" % ns,
                                  {"status": {"phase": "Failed"}}, "application/merge-patch+json")
        assert code == 403 and body["reason"] == "Forbidden"
        assert body["message"] == ('pods "on-b" is forbidden: node "%s" can only update pod status for '
                                   'pods with spec.nodeName set to itself' % a)
        code, body = as_a.request("DELETE", "/api/v1/namespaces/%s/pods/on-b" % ns,
                                  {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
        assert code == 403
        assert body["message"] == ('pods "on-b" is forbidden: node "%s" can only delete pods with '
                                   'spec.nodeName set to itself' % a)
        code, body = as_a.request("PATCH", "/api/v1/nodes/%s/status" % b,
                                  {"status": {"conditions": []}}, "application/merge-patch+json")
        assert code == 403 and 'node "%s" is not allowed to modify node "%s"' % (a, b) in body["message"]
        code, body = as_a.request("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + b,
                                  lease(server, b))
        assert code == 403
        # its own pods' status it may write, and it reads as system:node:<name>
        code, body = as_a.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                  {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert code == 201, body
        assert body["status"]["userInfo"]["username"] == "system:node:" + a
        assert "system:nodes" in body["status"]["userInfo"]["groups"]
    finally:
        as_a.close()
    assert get(server, ns, "on-b")["status"]["phase"] == "Running"
    assert not cluster.errors()


def test_bound_pod_runs_and_status_heartbeats_are_sparse(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 1, lease_interval=0.2, status_report_interval=1.5)
    n = cluster[0]
    # a node can join with taints and labels of its own
    tainted = cluster.add_node(labels={"node.kubernetes.io/pool": "gpu"}, zone="z2", arch="arm64",
                               taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
                               images=[("registry.local:5000/cuda:12", 3 * 10**9), "busybox"])
    out = server.kubectl("get", "node", tainted.name, "-o", "json").stdout
    tn = json.loads(out)
    assert tn["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    assert tn["metadata"]["labels"]["node.kubernetes.io/pool"] == "gpu"
    assert tn["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
    assert tn["status"]["nodeInfo"]["architecture"] == "arm64"
    assert server.kubectl("get", "nodes", "-l", "topology.kubernetes.io/zone=z2", "-o", "name").stdout == \
        "node/%s\n" % tainted.name
    # a pod created unbound and bound later through pods/binding, as a scheduler does (one of
    # another name, so that the built-in default-scheduler leaves it alone)
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bound"},
         "spec": {"schedulerName": "test-scheduler",
                  "containers": [{"name": "c", "image": "busybox"}]}}))
    time.sleep(0.3)
    assert get(server, ns, "bound")["status"].get("phase") == "Pending"
    code, body = server.json("POST", "/api/v1/namespaces/%s/pods/bound/binding" % ns,
                             {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
                              "target": {"apiVersion": "v1", "kind": "Node", "name": n.name}})
    assert code == 201, body
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/bound", "--timeout=20s")
    assert wide(server, ns)["bound"]["NODE"] == n.name
    # the Lease is renewed every 0.2 s; the unchanged Node status only every 1.5 s
    w0, r0 = n.status_writes, n.lease_renewals
    time.sleep(3.2)
    assert n.lease_renewals - r0 >= 10
    assert 1 <= n.status_writes - w0 <= 3
    node = json.loads(server.kubectl("get", "node", n.name, "-o", "json").stdout)
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
    beat = time.mktime(time.strptime(ready["lastHeartbeatTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert time.time() - beat < 3.5
    assert ready["lastTransitionTime"] <= ready["lastHeartbeatTime"]
    # the images it was given, and those its pods pulled, largest first
    imgs = [(i["names"][1], i["sizeBytes"]) for i in node["status"]["images"]]
    assert imgs == [("docker.io/library/busybox:latest", 5 * 2**20)]
    gpu = json.loads(server.kubectl("get", "node", tainted.name, "-o", "json").stdout)["status"]["images"]
    assert gpu[0]["names"][1] == "registry.local:5000/cuda:12" and gpu[0]["sizeBytes"] == 3 * 10**9
    assert gpu[0]["names"][0].startswith("registry.local:5000/cuda@sha256:")
    assert not cluster.errors()


def test_readiness_gates_hold_ready_until_their_condition(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 1)
    p = pod("gated", cluster.names[0])
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/gate"}]
    creating = pod("creating", cluster.names[0], annotations={ANN + "start-delay-seconds": "1.5"})
    creating["spec"]["initContainers"] = [{"name": "setup", "image": "busybox:1.36"}]
    create(server, ns, p, creating,
           pod("sandbox", cluster.names[0], annotations={ANN + "start-delay-seconds": "1.5"}))
    # a pod whose sandbox takes a while is Pending, ContainerCreating, then Running
    wait_for(lambda: get(server, ns, "creating")["status"].get("hostIP"), what="the first status")
    st = get(server, ns, "creating")["status"]
    assert st["phase"] == "Pending" and st["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "PodInitializing"}}
    assert st["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    rows = wide(server, ns)
    assert rows["creating"]["STATUS"] == "Init:0/1" and rows["sandbox"]["STATUS"] == "ContainerCreating"
    assert get(server, ns, "sandbox")["status"]["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ContainerCreating"}}
    conds = {c["type"]: (c["status"], c.get("message")) for c in st["conditions"]}
    assert conds["PodReadyToStartContainers"] == ("False", None)
    assert conds["Initialized"] == ("False", "containers with incomplete status: [setup]")
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/creating", "--timeout=20s")
    st = get(server, ns, "creating")["status"]
    assert list(st["containerStatuses"][0]["state"]) == ["running"]
    init = st["initContainerStatuses"][0]
    assert init["name"] == "setup" and init["ready"] is True
    assert init["state"]["terminated"]["reason"] == "Completed" and init["state"]["terminated"]["exitCode"] == 0
    wait_for(phase_is(server, ns, "gated", "Running"))
    wait_for(lambda: get(server, ns, "gated")["status"]["containerStatuses"][0]["ready"])
    ready = [c for c in get(server, ns, "gated")["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "False" and ready["reason"] == "ReadinessGatesNotReady"
    assert ready["message"] == 'corresponding condition of pod readiness gate "example.com/gate" does not exist.'
    assert wide(server, ns)["gated"]["READINESS GATES"] == "0/1"
    # the gate's owner sets its condition; the node's next status keeps it and turns Ready
    code, body = server.json("PATCH", "/api/v1/namespaces/%s/pods/gated/status" % ns,
                             {"status": {"conditions": [{"type": "example.com/gate", "status": "True"}]}},
                             {"Content-Type": "application/strategic-merge-patch+json"})
    assert code == 200, body
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/gated", "--timeout=20s")
    conds = {c["type"]: c["status"] for c in get(server, ns, "gated")["status"]["conditions"]}
    assert conds["example.com/gate"] == "True" and conds["Ready"] == "True"
    assert wide(server, ns)["gated"]["READINESS GATES"] == "1/1"
    assert not cluster.errors()


def test_nodes_ride_out_a_server_restart(fresh_server, hollow_nodes):
    s = fresh_server.start()
    cluster = hollow_nodes(s, 2, lease_interval=0.3)
    a, b = cluster.names
    create(s, "default", pod("before", a))
    s.kubectl("wait", "--for=condition=Ready", "pod/before", "--timeout=20s")
    s.stop(signal.SIGKILL)
    time.sleep(1)
    s.start()
    stamp = lease(s, a)["spec"]["renewTime"]
    wait_for(lambda: lease(s, a)["spec"]["renewTime"] != stamp, 10, "a renewal after the restart")
    # the watches are back: new pods run, deleted pods go
    create(s, "default", pod("after", b))
    s.kubectl("wait", "--for=condition=Ready", "pod/after", "--timeout=20s")
    s.kubectl("delete", "pod", "before", "--timeout=20s")
    assert s.kubectl("get", "pods", "-o", "name").stdout == "pod/after\n"
    assert not cluster.errors()


def test_hollow_node_command(server):
    """tests/e2e/hollow.py run by itself keeps hollow nodes up against any server, for benches."""
    import os
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hollow.py")
    p = subprocess.Popen([sys.executable, script, "--kubeconfig", server.kubeconfig, "--nodes", "2",
                          "--prefix", "cli", "--lease-interval", "0.5"], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("2 hollow nodes ready in ")
        lines = server.kubectl("get", "nodes", "cli-0", "cli-1").stdout.splitlines()
        assert [ln.split()[:2] for ln in lines[1:]] == [["cli-0", "Ready"], ["cli-1", "Ready"]]
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    assert p.returncode == 0 and out == ""
    assert server.kubectl("get", "nodes", "cli-0", "--ignore-not-found").stdout == ""


def test_node_rejects_pods_beyond_its_allocatable(server, ns, hollow_nodes):
    cluster = hollow_nodes(server, 1, cpu="1", memory="1Gi", pods=2)
    node = cluster.names[0]

    def sized(name, cpu=None, memory=None):
        p = pod(name, node)
        req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
        if req:
            p["spec"]["containers"][0]["resources"] = {"requests": req}
        return p
    create(server, ns, sized("big", cpu="600m", memory="512Mi"))
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/big", "--timeout=20s")
    create(server, ns, sized("too-big", cpu="0.5"))
    wait_for(phase_is(server, ns, "too-big", "Failed"))
    st = get(server, ns, "too-big")["status"]
    assert st["reason"] == "OutOfcpu"
    assert st["message"] == ("Pod was rejected: Node didn't have enough resource: cpu, requested: 500, "
                             "used: 600, capacity: 1000")
    create(server, ns, sized("heavy", memory="0.75Gi"))
    wait_for(phase_is(server, ns, "heavy", "Failed"))
    assert get(server, ns, "heavy")["status"]["message"] == (
        "Pod was rejected: Node didn't have enough resource: memory, requested: 805306368, "
        "used: 536870912, capacity: 1073741824")
    create(server, ns, sized("small", cpu="100m"))
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/small", "--timeout=20s")
    create(server, ns, sized("one-more"))
    wait_for(phase_is(server, ns, "one-more", "Failed"))
    assert get(server, ns, "one-more")["status"]["reason"] == "OutOfpods"
    rows = wide(server, ns)
    assert rows["too-big"]["STATUS"] == "OutOfcpu" and rows["one-more"]["STATUS"] == "OutOfpods"
    assert [e["reason"] for e in events(server, ns, "too-big")] == ["OutOfcpu"]
    # room again once a pod is gone
    server.kubectl("-n", ns, "delete", "pod", "big", "--timeout=20s")
    create(server, ns, sized("after", cpu="900m"))
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/after", "--timeout=20s")
    assert not cluster.errors()
