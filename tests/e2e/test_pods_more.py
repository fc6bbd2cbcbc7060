"""The kubelet's finer pod details on the real node (issue 5), as test_pods.py does it (a server
with its embedded agent in a network namespace of its own, tests/e2e/node_util.py): fsGroup and
supplementalGroups, Memory emptyDirs, hostPath types, readOnly mounts, subPath and subPathExpr,
a volume whose ConfigMap appears later, host namespaces, termination messages, the statuses
kubectl shows for init containers and deleted pods, HTTPS and gRPC probes, and probes that name
their host."""
import os
import subprocess
import sys
import time

import pytest

from node_util import PodCluster


@pytest.fixture(scope="module")
def pod_cluster(tmp_path_factory):
    # a node namespace of its own number, so that test_pods.py may run beside it
    c = PodCluster(str(tmp_path_factory.mktemp("podsmore")), n=41)
    try:
        yield c
    finally:
        c.close()


def pod(name, image, command, restart="Always", **spec):
    s = {"restartPolicy": restart, "terminationGracePeriodSeconds": 2,
         "containers": [{"name": "c", "image": image, "command": command}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}


def status(c, name):
    p = c.get("pod", name)
    return p["status"] if p else {}


def events(c, name):
    return c.kubectl("get", "events", "--field-selector", "involvedObject.name=" + name).stdout


def kubectl_status(c, name):
    """The STATUS column of `kubectl get pod`."""
    out = c.kubectl("get", "pod", name, "--no-headers", check=False).stdout.split()
    return out[2] if len(out) > 2 else ""


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(l.split()[1] == path for l in f)


def test_fsgroup_volumes_and_mounts(pod_cluster, tmp_path):
    """fsGroup owns the pod's volumes (setgid directories, group-readable files) and joins
    supplementalGroups in the process's groups; a Memory emptyDir is one tmpfs of sizeLimit
    shared by the pod's containers and unmounted with the pod; hostPath DirectoryOrCreate and
    FileOrCreate create what is missing; readOnly, subPath and subPathExpr; downwardAPI
    resourceFieldRef."""
    c = pod_cluster
    host = str(tmp_path)
    os.chmod(host, 0o755)
    c.kubectl("create", "configmap", "owned", "--from-literal=greeting=hi")
    script = "; ".join([
        "echo groups $(id -u) $(id -G)",
        "echo ed $(busybox stat -c '%g %a' /ed)",
        "touch /ed/new && echo new $(busybox stat -c %g /ed/new)",
        "echo cm $(busybox stat -L -c '%g %a' /cm/greeting) $(cat /cm/greeting)",
        "echo mem $(cat /mem/from-init) $(busybox df -k /mem | busybox awk 'NR==2{print $2}')",
        "echo mem-group $(busybox stat -c '%g %a' /mem)",
        "touch /ro/x 2>/dev/null && echo ro writable || echo ro read-only",
        "echo sub $(cat /sub/f)",
        "echo expr $(cat /expr/f)",
        "echo created $(busybox stat -c '%F %a' /created /newfile | busybox tr '\\n' ,)",
        "echo null $(busybox stat -c %F /null)",
        "echo res $(cat /res/cpu) $(cat /res/mem)",
    ])
    p = pod("owned", c.image, ["sh", "-c", script], restart="Never")
    p["metadata"]["labels"] = {"app": "owned"}
    p["spec"]["securityContext"] = {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000,
                                    "supplementalGroups": [4000]}
    p["spec"]["initContainers"] = [{
        "name": "init", "image": c.image, "command": [
            "sh", "-c", "echo shared > /mem/from-init; mkdir -p /ed/sub /ed/owned; "
                        "echo in-subpath > /ed/sub/f; echo in-expr > /ed/owned/f"],
        "volumeMounts": [{"name": "mem", "mountPath": "/mem"}, {"name": "ed", "mountPath": "/ed"}]}]
    p["spec"]["containers"][0]["env"] = [
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    p["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "ed", "mountPath": "/ed"},
        {"name": "cm", "mountPath": "/cm"},
        {"name": "mem", "mountPath": "/mem"},
        {"name": "ed", "mountPath": "/ro", "readOnly": True},
        {"name": "ed", "mountPath": "/sub", "subPath": "sub"},
        {"name": "ed", "mountPath": "/expr", "subPathExpr": "$(POD)"},
        {"name": "created", "mountPath": "/created"},
        {"name": "newfile", "mountPath": "/newfile"},
        {"name": "null", "mountPath": "/null"},
        {"name": "res", "mountPath": "/res"}]
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "250m"}}
    p["spec"]["volumes"] = [
        {"name": "ed", "emptyDir": {}},
        {"name": "cm", "configMap": {"name": "owned"}},
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "created", "hostPath": {"path": host + "/made/dir", "type": "DirectoryOrCreate"}},
        {"name": "newfile", "hostPath": {"path": host + "/made/file", "type": "FileOrCreate"}},
        {"name": "null", "hostPath": {"path": "/dev/null", "type": "CharDevice"}},
        {"name": "res", "downwardAPI": {"items": [
            {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu",
                                                 "divisor": "1m"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "c",
                                                 "resource": "limits.memory",
                                                 "divisor": "1Mi"}}]}}]
    c.apply(p)
    st = c.wait(lambda: (lambda s: s if s.get("phase") in ("Succeeded", "Failed") else None)(
        status(c, "owned")), 90, "owned to finish")
    log = c.pod_log_file("owned", "c")
    assert st["phase"] == "Succeeded", (st, log)
    lines = dict(l.split(" ", 1) for l in log.splitlines())
    assert lines["groups"] == "1000 3000 2000 4000", log
    assert lines["ed"] == "2000 2777", log          # setgid, group rwx
    assert lines["new"] == "2000", log              # inherited through setgid
    assert lines["cm"] == "2000 644 hi", log
    assert lines["mem"] == "shared 1024", log       # the init container's tmpfs, 1 MiB
    assert lines["mem-group"] == "2000 2777", log
    assert lines["ro"] == "read-only", log
    assert lines["sub"] == "in-subpath", log
    assert lines["expr"] == "in-expr", log
    assert lines["null"] == "character special file", log
    cpu, mem = lines["res"].split()
    assert cpu == "250" and int(mem) > 100, log  # no memory limit: the node's allocatable
    # kubelet's modes for what it creates: 0755 directories, 0644 files
    assert lines["created"] == "directory 755,regular empty file 644,", log
    assert os.path.isdir(host + "/made/dir") and os.path.isfile(host + "/made/file")
    uid = c.get("pod", "owned")["metadata"]["uid"]
    mem = os.path.join(c.server.data_dir, "agent", "pods", uid, "volumes", "mem")
    assert mounted(mem), "the Memory emptyDir is not a tmpfs of the pod"
    c.kubectl("delete", "pod", "owned", "--timeout=60s")
    c.wait(lambda: not mounted(mem), 30, "the tmpfs to be unmounted")
    c.kubectl("delete", "configmap", "owned")


def test_hostpath_type_mismatch_and_late_configmap(pod_cluster):
    """A hostPath of the wrong type: FailedMount with kubelet's message, the pod waits in
    ContainerCreating. A missing ConfigMap: FailedMount, then the pod starts once it exists."""
    c = pod_cluster
    p = pod("blockdev", c.image, ["sh", "-c", "sleep 1"], restart="Never")
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "d", "mountPath": "/d"}]
    p["spec"]["volumes"] = [{"name": "d", "hostPath": {"path": "/dev/null",
                                                        "type": "BlockDevice"}}]
    c.apply(p)
    late = pod("late", c.image, ["sh", "-c", "cat /cfg/k"], restart="Never")
    late["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": "/cfg"}]
    late["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "late-cfg"}}]
    c.apply(late)
    c.wait(lambda: "hostPath type check failed: /dev/null is not a block device" in
           events(c, "blockdev"), 60, "FailedMount for the block device")
    assert "FailedMount" in events(c, "blockdev")
    c.wait(lambda: 'configmap "late-cfg" not found' in events(c, "late"), 60,
           "FailedMount for the missing configMap")
    for name in ("blockdev", "late"):
        st = status(c, name)
        assert st["phase"] == "Pending", st
        assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
        assert kubectl_status(c, name) == "ContainerCreating"
    c.kubectl("create", "configmap", "late-cfg", "--from-literal=k=arrived")
    c.wait(lambda: status(c, "late").get("phase") == "Succeeded", 60, "late to start and finish")
    assert c.pod_log_file("late", "c").strip() == "arrived"
    # items naming a key the ConfigMap lacks: skipped when optional, else FailedMount
    for name, optional in (("keys-opt", True), ("keys-req", False)):
        p = pod(name, c.image, ["sh", "-c", "ls /cfg"], restart="Never")
        p["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": "/cfg"}]
        p["spec"]["volumes"] = [{"name": "cfg", "configMap": {
            "name": "late-cfg", "optional": optional,
            "items": [{"key": "k", "path": "k"}, {"key": "gone", "path": "g"}]}}]
        c.apply(p)
    c.wait(lambda: status(c, "keys-opt").get("phase") == "Succeeded", 60, "keys-opt to finish")
    assert c.pod_log_file("keys-opt", "c") == "k\n"
    c.wait(lambda: "references non-existent config key: gone" in events(c, "keys-req"), 60,
           "FailedMount for the missing key")
    c.kubectl("delete", "pod", "blockdev", "late", "keys-opt", "keys-req", "--wait=false")


def test_host_namespaces_and_termination_message(pod_cluster):
    """hostNetwork, hostPID and hostIPC pods share the node's namespaces (the test runs in the
    node's network namespace); terminationMessagePath's content is the terminated message."""
    c = pod_cluster
    script = ("echo net $(busybox readlink /proc/self/ns/net); "
              "echo pid $(busybox readlink /proc/self/ns/pid); "
              "echo ipc $(busybox readlink /proc/self/ns/ipc); "
              "echo bye from the host > /tmp/last-words")
    p = pod("hostns", c.image, ["sh", "-c", script], restart="Never",
            hostNetwork=True, hostPID=True, hostIPC=True)
    p["spec"]["containers"][0]["terminationMessagePath"] = "/tmp/last-words"
    c.apply(p)
    own = pod("ownns", c.image, ["sh", "-c", "echo pid $(busybox readlink /proc/self/ns/pid); "
                                             "echo failing > /dev/termination-log; exit 3"],
              restart="Never")
    c.apply(own)
    for name in ("hostns", "ownns"):
        c.wait(lambda: status(c, name).get("phase") in ("Succeeded", "Failed"), 60, name)
    lines = dict(l.split(" ", 1) for l in c.pod_log_file("hostns", "c").splitlines())
    assert lines["net"] == os.readlink("/proc/self/ns/net"), lines
    assert lines["pid"] == os.readlink("/proc/self/ns/pid"), lines
    assert lines["ipc"] == os.readlink("/proc/self/ns/ipc"), lines
    st = status(c, "hostns")
    assert st["podIP"] == st["hostIP"] == c.node.addr, st
    msg = c.kubectl("get", "pod", "hostns", "-o", "jsonpath={.status.containerStatuses[0]"
                    ".state.terminated.message}").stdout
    assert msg == "bye from the host\n", msg
    own_pid = c.pod_log_file("ownns", "c").split()[1]
    assert own_pid != os.readlink("/proc/self/ns/pid")
    term = status(c, "ownns")["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["message"] == "failing\n", term
    c.kubectl("delete", "pod", "hostns", "ownns", "--wait=false")


def test_init_statuses_and_terminating(pod_cluster):
    """What `kubectl get pods` shows: Init:0/1 while an init container runs (the app container
    waits as PodInitializing), Init:Error, Init:CrashLoopBackOff, and Terminating while a pod
    is deleted with a grace period."""
    c = pod_cluster
    slow = pod("init-slow", c.image, ["sh", "-c", "sleep 600"])
    slow["spec"]["initContainers"] = [{"name": "i", "image": c.image,
                                       "command": ["sh", "-c", "sleep 4"]}]
    c.apply(slow)
    failed = pod("init-fail", c.image, ["sh", "-c", "true"], restart="Never")
    failed["spec"]["initContainers"] = [{"name": "i", "image": c.image,
                                         "command": ["sh", "-c", "exit 1"]}]
    c.apply(failed)
    crash = pod("init-crash", c.image, ["sh", "-c", "true"])
    crash["spec"]["initContainers"] = [{"name": "i", "image": c.image,
                                        "command": ["sh", "-c", "exit 1"]}]
    c.apply(crash)
    c.wait(lambda: kubectl_status(c, "init-slow") == "Init:0/1", 60, "Init:0/1")
    st = status(c, "init-slow")
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing", st
    c.wait(lambda: kubectl_status(c, "init-fail") == "Init:Error", 60, "Init:Error")
    assert status(c, "init-fail")["phase"] == "Failed"
    c.wait(lambda: kubectl_status(c, "init-crash") == "Init:CrashLoopBackOff", 60,
           "Init:CrashLoopBackOff")
    c.wait(lambda: kubectl_status(c, "init-slow") == "Running", 60, "init-slow Running")
    # a container that ignores SIGTERM: the pod shows Terminating for its grace period
    stubborn = pod("stubborn", c.image, ["sh", "-c", "trap '' TERM; echo up; "
                                                     "while true; do sleep 0.2; done"])
    stubborn["spec"]["terminationGracePeriodSeconds"] = 6
    c.apply(stubborn)
    c.wait(lambda: c.pod_log_file("stubborn", "c") == "up\n", 60, "stubborn running")
    c.kubectl("delete", "pod", "stubborn", "--wait=false")
    c.wait(lambda: kubectl_status(c, "stubborn") == "Terminating", 10, "Terminating")
    c.wait(lambda: c.get("pod", "stubborn") is None, 60, "stubborn to go after its grace period")
    c.kubectl("delete", "pod", "init-slow", "init-fail", "init-crash", "--wait=false")


HTTPS_SERVER = r"""
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Host") == "probe.example" and self.headers.get("X-Probe") == "yes"
        self.send_response(200 if ok else 500)
        self.end_headers()
        with open(sys.argv[4], "a") as f:
            f.write("%s %s %s\n" % (self.path, self.headers.get("Host"),
                                    self.headers.get("User-Agent")))
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"""

GRPC_SERVER = r"""
import sys
import time
from concurrent import futures
import grpc
def check(req, ctx):
    svc = req[2:].decode() if len(req) > 2 else ""
    if svc == "bad":
        return b"\x08\x02"
    if svc in ("", "good"):
        return b"\x08\x01"
    ctx.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
h = grpc.method_handlers_generic_handler(
    "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(check)})
s = grpc.server(futures.ThreadPoolExecutor(2))
s.add_generic_rpc_handlers((h,))
s.add_insecure_port("%s:%s" % (sys.argv[1], sys.argv[2]))
s.start()
print("ready", flush=True)
s.wait_for_termination()
"""


def _free_port(addr):
    import socket
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def test_https_and_grpc_probes(pod_cluster, tmp_path):
    """httpGet over HTTPS (a self-signed certificate, not verified) with httpHeaders setting
    the Host; gRPC health checks: SERVING makes the pod Ready, NOT_SERVING and an unknown
    service fail with kubelet's messages. The servers run in the node's network namespace and
    are probed by hostNetwork pods."""
    c = pod_cluster
    addr = c.node.addr
    pem = str(tmp_path / "tls.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=probe", "-keyout", pem, "-out", pem + ".crt"],
                   check=True, capture_output=True)
    with open(pem, "a") as f, open(pem + ".crt") as crt:
        f.write(crt.read())
    hits = str(tmp_path / "hits")
    https_port, grpc_port = _free_port(addr), _free_port(addr)
    procs = [subprocess.Popen([sys.executable, "-c", HTTPS_SERVER, addr, str(https_port), pem,
                               hits]),
             subprocess.Popen([sys.executable, "-c", GRPC_SERVER, addr, str(grpc_port)],
                              stdout=subprocess.PIPE, text=True)]
    try:
        assert procs[1].stdout.readline().strip() == "ready"

        def probed(name, probe):
            p = pod(name, c.image, ["sh", "-c", "sleep 600"], hostNetwork=True)
            p["spec"]["containers"][0]["readinessProbe"] = dict(
                probe, periodSeconds=1, failureThreshold=1, timeoutSeconds=2)
            c.apply(p)

        probed("https", {"httpGet": {"scheme": "HTTPS", "port": https_port, "path": "/healthz",
                                     "httpHeaders": [{"name": "Host", "value": "probe.example"},
                                                     {"name": "X-Probe", "value": "yes"}]}})
        probed("grpc-good", {"grpc": {"port": grpc_port}})
        probed("grpc-bad", {"grpc": {"port": grpc_port, "service": "bad"}})
        probed("grpc-unknown", {"grpc": {"port": grpc_port, "service": "nosuch"}})
        for name in ("https", "grpc-good"):
            c.wait(lambda: (status(c, name).get("containerStatuses") or [{}])[0].get("ready"),
                   60, name + " Ready")
        with open(hits) as f:
            assert f.readline() == "/healthz probe.example kube-probe/1.32\n"
        c.wait(lambda: 'service unhealthy (responded with "NOT_SERVING")' in
               events(c, "grpc-bad"), 60, "the NOT_SERVING message")
        c.wait(lambda: "code = NotFound desc = unknown service" in events(c, "grpc-unknown"),
               60, "the NotFound message")
        for name in ("grpc-bad", "grpc-unknown"):
            assert status(c, name)["containerStatuses"][0]["ready"] is False
        # the gRPC server goes: the good pod's probe fails and it is no longer Ready
        procs[1].terminate()
        procs[1].wait(timeout=10)
        c.wait(lambda: not status(c, "grpc-good")["containerStatuses"][0]["ready"], 60,
               "grpc-good not Ready")
        assert "timeout: failed to connect service" in events(c, "grpc-good")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
        c.kubectl("delete", "pod", "https", "grpc-good", "grpc-bad", "grpc-unknown",
                  "--wait=false", check=False)


def test_subpath_cannot_escape_its_volume(pod_cluster):
    """A container puts a symlink to / in a shared emptyDir; another container's subPath
    through it does not reach the node's root: CreateContainerConfigError with the reason."""
    c = pod_cluster
    p = pod("escape", c.image, ["sh", "-c", "ls /host"], restart="Never")
    p["spec"]["initContainers"] = [{"name": "i", "image": c.image,
                                    "command": ["sh", "-c", "busybox ln -s / /ed/root"],
                                    "volumeMounts": [{"name": "ed", "mountPath": "/ed"}]}]
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "ed", "mountPath": "/host",
                                                   "subPath": "root"}]
    p["spec"]["volumes"] = [{"name": "ed", "emptyDir": {}}]
    c.apply(p)
    st = c.wait(lambda: (lambda s: s if (s.get("containerStatuses") or [{}])[0].get(
        "state", {}).get("waiting", {}).get("reason") == "CreateContainerConfigError" else None)(
        status(c, "escape")), 60, "CreateContainerConfigError")
    assert "leads outside the volume" in st["containerStatuses"][0]["state"]["waiting"][
        "message"], st
    assert c.pod_log_file("escape", "c") == ""
    c.kubectl("delete", "pod", "escape", "--wait=false")


def test_prestop_sleep_action(pod_cluster):
    """A preStop hook's sleep action runs (no FailedPreStopHook) before the container is
    stopped; the pod goes well within its grace period."""
    c = pod_cluster
    p = pod("sleepy", c.image, ["sh", "-c", "trap 'exit 0' TERM; echo up; "
                                            "while true; do sleep 0.2; done"])
    p["spec"]["terminationGracePeriodSeconds"] = 20
    p["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": 1}}}
    c.apply(p)
    c.wait(lambda: c.pod_log_file("sleepy", "c") == "up\n", 60, "sleepy running")
    c.kubectl("delete", "pod", "sleepy", "--timeout=60s", timeout=90)
    ev = events(c, "sleepy")
    assert "Killing" in ev and "FailedPreStopHook" not in ev, ev


def test_generic_ephemeral_volume(pod_cluster):
    """An ephemeral volume: the controller makes the pod's claim, local-path provisions it on
    the node, and the kubelet mounts it like the claim it is."""
    c = pod_cluster
    p = pod("eph", c.image, ["sh", "-c", "echo scratch > /scratch/f; cat /scratch/f"],
            restart="Never")
    p["spec"]["containers"][0]["volumeMounts"] = [{"name": "scratch", "mountPath": "/scratch"}]
    p["spec"]["volumes"] = [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
        "resources": {"requests": {"storage": "1Mi"}}}}}}]
    c.apply(p)
    try:
        c.wait(lambda: status(c, "eph").get("phase") in ("Succeeded", "Failed"), 90,
               "eph to finish")
    except AssertionError:
        raise AssertionError("eph: %s\n%s\n%s" % (status(c, "eph"), events(c, "eph"),
                                                   c.kubectl("get", "pvc,pv", "-o", "wide",
                                                             check=False).stdout))
    assert status(c, "eph")["phase"] == "Succeeded", events(c, "eph")
    assert c.pod_log_file("eph", "c") == "scratch\n"
    pvc = c.get("pvc", "eph-scratch")
    assert pvc and pvc["status"]["phase"] == "Bound", pvc
    c.kubectl("delete", "pod", "eph", "--timeout=60s")


def test_native_sidecars(pod_cluster, tmp_path):
    """Init containers with restartPolicy Always (sidecars) start before the app containers
    and keep running beside them; a pod whose app container completes Succeeds and its
    sidecar is stopped; kubectl counts the sidecar in READY; a deleted pod's sidecar is
    stopped after its app container."""
    c = pod_cluster
    host = str(tmp_path)
    side = {"name": "side", "image": c.image, "restartPolicy": "Always",
            "command": ["sh", "-c", "trap 'exit 0' TERM; echo hello > /sh/msg; "
                                    "while true; do sleep 0.2; done"],
            "volumeMounts": [{"name": "sh", "mountPath": "/sh"}]}
    job = pod("sidecar-job", c.image, ["sh", "-c", "cat /sh/msg"], restart="Never")
    job["spec"]["initContainers"] = [side]
    job["spec"]["containers"][0]["volumeMounts"] = [{"name": "sh", "mountPath": "/sh"}]
    job["spec"]["volumes"] = [{"name": "sh", "emptyDir": {}}]
    c.apply(job)
    # the app takes a second to go: a sidecar stopped at the same time would write first
    svc = pod("sidecar-svc", c.image, ["sh", "-c", "trap 'sleep 1; echo app >> /h/order; "
                                                   "exit 0' TERM; while true; do sleep 0.2; done"])
    svc["spec"]["terminationGracePeriodSeconds"] = 10
    svc["spec"]["initContainers"] = [dict(side, readinessProbe={
        "exec": {"command": ["cat", "/sh/msg"]}, "periodSeconds": 1}, command=[
        "sh", "-c", "trap 'echo side >> /h/order; exit 0' TERM; "
                    "echo hello > /sh/msg; while true; do sleep 0.2; done"],
        volumeMounts=[{"name": "sh", "mountPath": "/sh"}, {"name": "h", "mountPath": "/h"}])]
    svc["spec"]["containers"][0]["volumeMounts"] = [{"name": "h", "mountPath": "/h"}]
    svc["spec"]["volumes"] = [{"name": "sh", "emptyDir": {}},
                              {"name": "h", "hostPath": {"path": host}}]
    c.apply(svc)
    c.wait(lambda: status(c, "sidecar-job").get("phase") in ("Succeeded", "Failed"), 60,
           "sidecar-job to finish")
    st = status(c, "sidecar-job")
    assert st["phase"] == "Succeeded", st
    assert c.pod_log_file("sidecar-job", "c") == "hello\n"
    c.wait(lambda: "running" not in status(c, "sidecar-job")["initContainerStatuses"][0][
        "state"], 30, "the sidecar to be stopped")
    c.wait(lambda: c.kubectl("get", "pod", "sidecar-svc", "--no-headers").stdout.split()[1:3] ==
           ["2/2", "Running"], 60, "sidecar-svc 2/2 Running")
    conds = {x["type"]: x["status"] for x in status(c, "sidecar-svc")["conditions"]}
    assert conds["Initialized"] == conds["Ready"] == "True", conds
    c.kubectl("delete", "pod", "sidecar-svc", "--timeout=60s", timeout=90)
    with open(os.path.join(host, "order")) as f:
        assert f.read() == "app\nside\n"
    c.kubectl("delete", "pod", "sidecar-job", "--wait=false")


def test_startup_probe_gates_started_and_ready(pod_cluster):
    """A container is neither started nor ready until its startup probe passes."""
    c = pod_cluster
    p = pod("slowstart", c.image, ["sh", "-c", "(sleep 8; touch /tmp/started) & exec sleep 600"])
    p["spec"]["containers"][0]["startupProbe"] = {
        "exec": {"command": ["cat", "/tmp/started"]}, "periodSeconds": 1, "failureThreshold": 60}
    c.apply(p)
    cs = c.wait(lambda: (lambda s: s if "running" in s.get("state", {}) else None)(
        (status(c, "slowstart").get("containerStatuses") or [{}])[0]), 60, "slowstart running")
    assert cs["started"] is False and cs["ready"] is False, cs
    assert c.kubectl("get", "pod", "slowstart", "--no-headers").stdout.split()[1] == "0/1"
    c.wait(lambda: (lambda x: x.get("started") and x.get("ready"))(
        status(c, "slowstart")["containerStatuses"][0]), 60, "slowstart started and ready")
    c.kubectl("delete", "pod", "slowstart", "--wait=false")


def test_probe_host_by_name(pod_cluster):
    """A probe's host may be a name: the agent looks it up with the node's resolver
    (/etc/hosts first), as kubelet does. A hostNetwork pod serves on the node's 127.0.0.1; its
    httpGet and tcpSocket probes name `localhost`."""
    c = pod_cluster
    port = 20000 + c.n * 10 + 7
    p = pod("byname", c.image, ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/index.html"
                                " && exec httpd -f -p 127.0.0.1:%d -h /tmp/www" % port],
            hostNetwork=True)
    ctr = p["spec"]["containers"][0]
    ctr["readinessProbe"] = {"httpGet": {"host": "localhost", "port": port, "path": "/"},
                             "periodSeconds": 1, "failureThreshold": 1}
    ctr["livenessProbe"] = {"tcpSocket": {"host": "localhost", "port": port},
                            "periodSeconds": 1, "failureThreshold": 3}
    c.apply(p)
    c.wait(lambda: (status(c, "byname").get("containerStatuses") or [{}])[0].get("ready"),
           60, "byname Ready")
    time.sleep(3)  # liveness keeps passing: no restart
    assert status(c, "byname")["containerStatuses"][0]["restartCount"] == 0
    c.kubectl("delete", "pod", "byname", "--wait=false")
