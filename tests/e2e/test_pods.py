"""Pods really run on the node agent (issue 5): a server with its embedded agent in a network
namespace of its own (tests/e2e/node_util.py), a busybox image from a local registry, and
kubectl. Checks what a kubectl user sees: phases and statuses, restarts with back-off, pod IPs
that answer, volumes, graceful deletion, and containers that outlive an agent restart."""
import json
import os
import signal
import subprocess
import time
import urllib.request

from conftest import free_port
import images_util
from node_util import pod_cluster  # noqa: F401  (fixture)


def pod(name, image, command, restart="Always", **spec):
    s = {"restartPolicy": restart, "terminationGracePeriodSeconds": 5,
         "containers": [{"name": "c", "image": image, "command": command}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


def status(c, name):
    p = c.get("pod", name)
    return p["status"] if p else {}


def ctr_state(st, i=0, key="containerStatuses"):
    return (st.get(key) or [{}])[i].get("state", {})


def test_pod_runs_serves_and_reports(pod_cluster):
    c = pod_cluster
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {
        "terminationGracePeriodSeconds": 5,
        "initContainers": [{"name": "init", "image": c.image, "volumeMounts": [
            {"name": "w", "mountPath": "/work"}],
            "command": ["sh", "-c", "echo served by $(hostname) > /work/index.html"]}],
        "containers": [{"name": "httpd", "image": c.image, "volumeMounts": [
            {"name": "w", "mountPath": "/work"}],
            "env": [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "MSG", "value": "ip=$(IP) node=$(NODE)"},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "command": ["sh", "-c", "echo $MSG; exec httpd -f -p 8080 -h /work"]}],
        "volumes": [{"name": "w", "emptyDir": {}}]}})
    st = c.wait(lambda: (lambda s: s if s.get("phase") == "Running" and s.get("podIP") and
                         s["containerStatuses"][0].get("ready") else None)(status(c, "web")),
                90, "pod web Running")
    ip = st["podIP"]
    assert ip.startswith("10.42."), st
    assert st["hostIP"] == c.node.addr
    assert st["qosClass"] == "BestEffort"
    cs = st["containerStatuses"][0]
    assert cs["containerID"].startswith("containerd://") and cs["restartCount"] == 0
    assert cs["image"] == c.image and "@sha256:" in cs["imageID"]
    init = st["initContainerStatuses"][0]["state"]["terminated"]
    assert init["exitCode"] == 0 and init["reason"] == "Completed"
    conds = {x["type"]: x["status"] for x in st["conditions"]}
    assert conds["Ready"] == conds["ContainersReady"] == conds["Initialized"] == "True", conds
    assert conds["PodScheduled"] == "True"
    body = urllib.request.urlopen("http://%s:8080/" % ip, timeout=10).read().decode()
    assert body == "served by web\n"
    # env: fieldRefs and $(VAR) expansion (NODE is defined after MSG, so it stays as written)
    assert c.wait(lambda: c.pod_log_file("web", "httpd"), 10, "log") == "ip=%s node=$(NODE)\n" % ip
    out = c.kubectl("get", "pod", "web").stdout
    assert "Running" in out and "1/1" in out
    ev = c.kubectl("get", "events", "--field-selector", "involvedObject.name=web").stdout
    for reason in ("Pulled", "Created", "Started"):
        assert reason in ev, ev


def test_completed_error_and_crashloop(pod_cluster):
    c = pod_cluster
    c.apply(pod("ok", c.image, ["sh", "-c", "echo bye"], restart="Never"))
    bad = pod("bad", c.image, ["sh", "-c", "echo oops >&2; exit 3"], restart="Never")
    bad["spec"]["containers"][0]["terminationMessagePolicy"] = "FallbackToLogsOnError"
    c.apply(bad)
    c.apply(pod("crash", c.image, ["sh", "-c", "exit 1"]))
    c.wait(lambda: status(c, "ok").get("phase") == "Succeeded", 60, "ok Succeeded")
    c.wait(lambda: status(c, "bad").get("phase") == "Failed", 60, "bad Failed")
    t = ctr_state(status(c, "bad"))["terminated"]
    assert t["exitCode"] == 3 and t["reason"] == "Error", t
    assert t.get("message") == "oops\n", t  # FallbackToLogsOnError
    assert c.pod_log_file("bad", "c") == "oops\n"
    out = c.kubectl("get", "pods", "ok", "bad").stdout
    assert "Completed" in out and "Error" in out, out
    # restarts at once, then backs off: CrashLoopBackOff with lastState
    st = c.wait(lambda: (lambda s: s if s.get("containerStatuses") and
                         s["containerStatuses"][0]["restartCount"] >= 2 and
                         ctr_state(s).get("waiting", {}).get("reason") == "CrashLoopBackOff"
                         else None)(status(c, "crash")), 90, "CrashLoopBackOff")
    cs = st["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off" in cs["state"]["waiting"]["message"]
    assert st["phase"] == "Running"
    assert "CrashLoopBackOff" in c.kubectl("get", "pod", "crash").stdout
    ev = c.kubectl("get", "events", "--field-selector", "involvedObject.name=crash").stdout
    assert "BackOff" in ev
    c.kubectl("delete", "pod", "ok", "bad", "crash")


def test_api_volumes(pod_cluster):
    c = pod_cluster
    c.kubectl("create", "configmap", "cfg", "--from-literal=greeting=hello")
    c.kubectl("create", "secret", "generic", "sec", "--from-literal=password=s3cret")
    p = pod("vols", c.image, ["sh", "-c",
                              "cat /cfg/greeting /sec/password; echo; cat /info/labels; echo; "
                              "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; "
                              "wc -c < /var/run/secrets/kubernetes.io/serviceaccount/token; "
                              "touch /cfg/x 2>/dev/null || echo read-only; "
                              "echo $GREETING $S_password"], restart="Never")
    p["spec"]["containers"][0]["env"] = [
        {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}}]
    p["spec"]["containers"][0]["envFrom"] = [{"prefix": "S_", "secretRef": {"name": "sec"}}]
    p["metadata"]["labels"] = {"app": "vols"}
    p["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "cfg", "mountPath": "/cfg"}, {"name": "sec", "mountPath": "/sec"},
        {"name": "info", "mountPath": "/info"}]
    p["spec"]["volumes"] = [
        {"name": "cfg", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "sec"}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]
    c.apply(p)
    c.wait(lambda: status(c, "vols").get("phase") == "Succeeded", 60, "vols Succeeded")
    lines = c.pod_log_file("vols", "c").splitlines()
    assert lines[0] == "hellos3cret", lines
    assert lines[1] == 'app="vols"', lines
    assert lines[2] == "default", lines
    assert int(lines[3]) > 100, lines  # a signed service-account token
    assert lines[4] == "read-only", lines
    assert lines[5] == "hello s3cret", lines
    # a missing configMap: FailedMount, and the pod waits in ContainerCreating
    p = pod("novol", c.image, ["sh", "-c", "sleep 1"], restart="Never")
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "x", "mountPath": "/x"}]
    p["spec"]["volumes"] = [{"name": "x", "configMap": {"name": "nosuch"}}]
    c.apply(p)
    c.wait(lambda: "FailedMount" in c.kubectl("get", "events", "--field-selector",
                                              "involvedObject.name=novol").stdout, 30,
           "FailedMount")
    ev = c.kubectl("get", "events", "--field-selector", "involvedObject.name=novol").stdout
    assert 'configmap "nosuch" not found' in ev, ev
    assert ctr_state(status(c, "novol"))["waiting"]["reason"] == "ContainerCreating"
    # a configMap volume follows its object while the pod runs
    p = pod("follow", c.image, ["sh", "-c", "while true; do cat /cfg/greeting; echo; sleep 0.5; "
                                            "done"])
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": "/cfg"}]
    p["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "cfg"}}]
    c.apply(p)
    c.wait(lambda: "hello" in c.pod_log_file("follow", "c"), 60, "follow running")
    c.kubectl("patch", "configmap", "cfg", "-p", '{"data":{"greeting":"updated"}}')
    c.wait(lambda: "updated" in c.pod_log_file("follow", "c"), 60, "the volume to follow")
    c.kubectl("delete", "pod", "vols", "novol", "follow", "--wait=false")


def test_image_pull_errors(pod_cluster):
    c = pod_cluster
    c.apply(pod("noimg", c.registry.host + "/k1stest/nosuch:1", ["sh"]))
    st = c.wait(lambda: (lambda s: s if ctr_state(s).get("waiting", {}).get("reason") in
                         ("ErrImagePull", "ImagePullBackOff") else None)(status(c, "noimg")),
                60, "ErrImagePull")
    assert st["phase"] == "Pending"
    c.wait(lambda: ctr_state(status(c, "noimg")).get("waiting", {}).get("reason") ==
           "ImagePullBackOff", 30, "ImagePullBackOff")
    assert "ImagePullBackOff" in c.kubectl("get", "pod", "noimg").stdout
    ev = c.kubectl("get", "events", "--field-selector", "involvedObject.name=noimg").stdout
    assert "Failed to pull image" in ev and "Back-off pulling image" in ev, ev
    # a command that cannot start: RunContainerError, then CrashLoopBackOff
    c.apply(pod("nocmd", c.image, ["/no/such/command"]))
    c.wait(lambda: "executable file not found" in c.kubectl(
        "get", "events", "--field-selector", "involvedObject.name=nocmd").stdout or
        "no such file" in c.kubectl("get", "events", "--field-selector",
                                    "involvedObject.name=nocmd").stdout, 60, "a failed start")
    c.wait(lambda: ctr_state(status(c, "nocmd")).get("waiting", {}).get("reason") ==
           "CrashLoopBackOff", 30, "CrashLoopBackOff after RunContainerError")
    c.kubectl("delete", "pod", "nocmd", "--wait=false")
    # a private registry: refused without credentials, pulled with imagePullSecrets
    c.apply(pod("private-no", c.private_image, ["sh", "-c", "echo private"], restart="Never"))
    c.wait(lambda: "401 Unauthorized" in c.kubectl(
        "get", "events", "--field-selector", "involvedObject.name=private-no").stdout, 60,
        "a pull refused for lack of credentials")
    c.kubectl("create", "secret", "docker-registry", "regcred",
              "--docker-server=" + c.auth_registry.host, "--docker-username=edge",
              "--docker-password=pw")
    p = pod("private", c.private_image, ["sh", "-c", "echo private"], restart="Never")
    p["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
    c.apply(p)
    c.wait(lambda: status(c, "private").get("phase") == "Succeeded", 60, "private Succeeded")
    assert c.pod_log_file("private", "c") == "private\n"
    c.kubectl("delete", "pod", "noimg", "private", "private-no", "--wait=false")


def test_graceful_delete_and_agent_restart(pod_cluster):
    c = pod_cluster
    gp = pod("graceful", c.image, ["sh", "-c",
                                      "trap 'echo got TERM; exit 0' TERM; echo up; "
                                      "while true; do sleep 0.2; done"])
    gp["spec"]["terminationGracePeriodSeconds"] = 30
    c.apply(gp)
    st = c.wait(lambda: (lambda s: s if s.get("phase") == "Running" and
                         c.pod_log_file("graceful", "c") else None)(status(c, "graceful")),
                60, "graceful Running")
    cid = st["containerStatuses"][0]["containerID"]
    uid = c.get("pod", "graceful")["metadata"]["uid"]
    # the agent dies: the container keeps running and is re-adopted, not restarted
    out = subprocess.run(["pgrep", "-f", "k1s agent .*%s" % c.server.data_dir],
                         capture_output=True, text=True).stdout.split()
    assert out, "no agent process"
    for pid in out:
        os.kill(int(pid), signal.SIGKILL)
    c.wait(lambda: "re-adopted" in c.server.read_log(), 60, "the agent to come back")
    time.sleep(2)
    st = status(c, "graceful")
    cs = st["containerStatuses"][0]
    assert cs["containerID"] == cid and cs["restartCount"] == 0 and "running" in cs["state"], cs
    # delete: SIGTERM is trapped and the pod goes well before its grace period of 30 s
    log_dir = "/var/log/pods/default_graceful_%s" % uid
    log_path = os.path.join(log_dir, "c", "0.log")
    t0 = time.time()
    c.kubectl("delete", "pod", "graceful", "--timeout=60s")
    assert time.time() - t0 < 20
    assert c.get("pod", "graceful") is None
    assert not os.path.exists(log_dir), "the pod's logs stay after it was deleted"
    assert not os.path.exists(log_path)


def test_probes(pod_cluster):
    c = pod_cluster
    # readiness over HTTP: 404 until the file appears after 3 s, then Ready
    web = pod("probed", c.image, ["sh", "-c", "mkdir -p /w; (sleep 3; echo ok > /w/ready.html) & "
                                              "exec httpd -f -p 8080 -h /w"])
    web["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    web["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/ready.html", "port": "http"}, "periodSeconds": 1,
        "failureThreshold": 1}
    web["spec"]["containers"][0]["livenessProbe"] = {"tcpSocket": {"port": 8080},
                                                     "periodSeconds": 1}
    c.apply(web)
    c.wait(lambda: "Readiness probe failed: HTTP probe failed with statuscode: 404" in
           c.kubectl("get", "events", "--field-selector", "involvedObject.name=probed").stdout,
           60, "a failed readiness probe")
    st = status(c, "probed")
    assert st["containerStatuses"][0]["ready"] is False
    assert {x["type"]: x["status"] for x in st["conditions"]}["Ready"] == "False"
    st = c.wait(lambda: (lambda s: s if s.get("containerStatuses") and
                         s["containerStatuses"][0]["ready"] else None)(status(c, "probed")),
                60, "probed Ready")
    assert st["containerStatuses"][0]["restartCount"] == 0  # the tcp liveness probe passes
    # liveness by exec: the file goes after 2 s, the container is killed and restarted
    live = pod("liveness", c.image, ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; "
                                                 "sleep 600"])
    live["spec"]["containers"][0]["livenessProbe"] = {
        "exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 2}
    live["spec"]["terminationGracePeriodSeconds"] = 1
    c.apply(live)
    c.wait(lambda: (lambda s: s.get("containerStatuses") and
                    s["containerStatuses"][0]["restartCount"] >= 1)(status(c, "liveness")),
           60, "a restart after failed liveness probes")
    ev = c.kubectl("get", "events", "--field-selector", "involvedObject.name=liveness").stdout
    assert "Liveness probe failed" in ev and "failed liveness probe, will be restarted" in ev, ev
    c.kubectl("delete", "pod", "probed", "liveness", "--wait=false")


def test_lifecycle_hooks(pod_cluster, tmp_path):
    c = pod_cluster
    host = str(tmp_path)
    p = pod("hooks", c.image, ["sh", "-c", "while [ ! -f /tmp/post ]; do sleep 0.1; done; "
                                           "echo saw $(cat /tmp/post); sleep 600"])
    p["spec"]["containers"][0]["lifecycle"] = {
        "postStart": {"exec": {"command": ["sh", "-c", "echo poststart > /tmp/post"]}},
        "preStop": {"exec": {"command": ["sh", "-c", "echo prestop > /host/prestop"]}}}
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "h", "mountPath": "/host"}]
    p["spec"]["volumes"] = [{"name": "h", "hostPath": {"path": host, "type": "Directory"}}]
    p["spec"]["terminationGracePeriodSeconds"] = 3
    c.apply(p)
    c.wait(lambda: c.pod_log_file("hooks", "c") == "saw poststart\n", 60, "the postStart hook")
    c.kubectl("delete", "pod", "hooks", "--timeout=60s")
    with open(os.path.join(host, "prestop")) as f:
        assert f.read() == "prestop\n"


def test_persistent_volume_claim(pod_cluster):
    """A claim of the built-in local-path class (WaitForFirstConsumer): provisioned on the node
    for the pod, mounted, and what the pod wrote is on the node's disk, kept after the pod."""
    c = pod_cluster
    c.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                      "resources": {"requests": {"storage": "1Mi"}}}})
    p = pod("writer", c.image, ["sh", "-c", "echo persisted > /data/f; cat /data/f"],
            restart="Never")
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "d", "mountPath": "/data"}]
    p["spec"]["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
    c.apply(p)
    c.wait(lambda: status(c, "writer").get("phase") == "Succeeded", 90, "writer Succeeded")
    assert c.pod_log_file("writer", "c") == "persisted\n"
    pv = c.get("pvc", "data")["spec"]["volumeName"]
    path = c.get("pv", pv)["spec"]["hostPath"]["path"]
    c.kubectl("delete", "pod", "writer")
    with open(os.path.join(path, "f")) as f:
        assert f.read() == "persisted\n"
    c.kubectl("delete", "pvc", "data", "--wait=false")


def test_logs_exec_cp_port_forward(pod_cluster, tmp_path):
    c = pod_cluster
    c.apply(pod("tools", c.image, ["sh", "-c", "mkdir -p /w; echo page > /w/index.html; "
                                               "echo line1; echo line2 >&2; "
                                               "exec httpd -f -p 8080 -h /w"]))
    c.wait(lambda: status(c, "tools").get("phase") == "Running" and
           c.pod_log_file("tools", "c"), 60, "tools Running")
    out = c.kubectl("logs", "tools").stdout
    assert out == "line1\nline2\n", out
    assert c.kubectl("logs", "tools", "--tail=1").stdout == "line2\n"
    p = c.kubectl("exec", "tools", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                  check=False)
    assert p.returncode == 3 and p.stdout == "out\n" and "err" in p.stderr, p
    p = c.kubectl("exec", "-i", "tools", "--", "sh", "-c", "tr a-z A-Z", input="hello\n")
    assert p.stdout == "HELLO\n", p
    src = tmp_path / "f.txt"
    src.write_text("copied\n")
    c.kubectl("cp", str(src), "default/tools:/tmp/f.txt")
    assert c.kubectl("exec", "tools", "--", "cat", "/tmp/f.txt").stdout == "copied\n"
    c.kubectl("cp", "default/tools:/tmp/f.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "copied\n"
    # port-forward to the pod's httpd
    port = free_port()
    pf = subprocess.Popen(["kubectl", "--kubeconfig", c.server.kubeconfig, "port-forward",
                           "pod/tools", "%d:8080" % port], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        body = c.wait(lambda: _get("http://127.0.0.1:%d/" % port), 30, "port-forward")
        assert body == "page\n"
    finally:
        pf.terminate()
        pf.wait(timeout=10)
    c.kubectl("delete", "pod", "tools", "--wait=false")


def _get(url):
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except Exception:
        return None


def test_second_node_with_airgap_image(pod_cluster, tmp_path):
    """`k1s agent` in a namespace of its own joins with the token, imports an air-gap image
    tarball at start, and runs a pod bound to it; its logs come through its kubelet API."""
    c = pod_cluster
    tar = images_util.oci_archive(c.layout, str(tmp_path / "airgap.tar"),
                                  "docker.io/k1stest/airgap:1")
    # tainted so that the scheduler keeps the other tests' pods off it (it cannot reach the
    # registry); this pod names the node
    c.add_node("e2e-node2", str(tmp_path), airgap=[tar],
               extra=["--node-taint", "e2e=second-node:NoSchedule"])
    c.wait(lambda: (lambda n: n and n["spec"].get("podCIDR") and any(
        x["type"] == "Ready" and x["status"] == "True" for x in n["status"]["conditions"]))(
        c.get("node", "e2e-node2")), 90, "node e2e-node2 Ready")
    p = pod("on-node2", "docker.io/k1stest/airgap:1", ["sh", "-c", "echo from node2; sleep 600"])
    p["spec"]["nodeName"] = "e2e-node2"
    p["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    c.apply(p)
    st = c.wait(lambda: (lambda s: s if s.get("phase") == "Running" else None)(
        status(c, "on-node2")), 90, "on-node2 Running")
    assert st["hostIP"] == "10.98.%d.2" % c.n
    assert st["podIP"].startswith("10.42.") and st["podIP"] != status(c, "on-node2")["hostIP"]
    c.wait(lambda: c.kubectl("logs", "on-node2", check=False).stdout == "from node2\n", 30,
           "logs from node2")
    c.kubectl("delete", "pod", "on-node2", "--timeout=60s")


def test_deployment_rollout_on_the_real_node(pod_cluster):
    """Issue 4's scenarios against the real agent: a Deployment rolls out, rolls to a new
    template (readiness-gated), scales, and is deleted with its pods."""
    c = pod_cluster
    tmpl = {"metadata": {"labels": {"app": "roll"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "web", "image": c.image, "env": [{"name": "V", "value": "1"}],
                "command": ["sh", "-c", "mkdir -p /w; echo v$V > /w/index.html; "
                                        "exec httpd -f -p 8080 -h /w"],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                   "periodSeconds": 1}}]}}
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "roll"},
             "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "roll"}},
                      "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                      "template": tmpl}})
    c.kubectl("rollout", "status", "deployment/roll", "--timeout=120s", timeout=150)
    c.kubectl("set", "env", "deployment/roll", "V=2")
    c.kubectl("rollout", "status", "deployment/roll", "--timeout=120s", timeout=150)
    pods = json.loads(c.kubectl("get", "pods", "-l", "app=roll", "-o", "json").stdout)["items"]
    running = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 2, [p["metadata"]["name"] for p in pods]
    for p in running:
        ip = p["status"]["podIP"]
        assert urllib.request.urlopen("http://%s:8080/" % ip, timeout=10).read() == b"v2\n"
    c.kubectl("scale", "deployment/roll", "--replicas=3")
    c.kubectl("rollout", "status", "deployment/roll", "--timeout=120s", timeout=150)
    c.kubectl("delete", "deployment", "roll", "--timeout=120s", timeout=150)
    c.wait(lambda: not json.loads(c.kubectl("get", "pods", "-l", "app=roll", "-o",
                                            "json").stdout)["items"], 90, "the pods to go")
