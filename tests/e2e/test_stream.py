"""Logs, exec, attach and cp through the API server to a kubelet API (src/agent/kubelet-api.c),
with real kubectl: the API server finds the node's kubelet from its Node (a hollow node whose
InternalIP is 127.0.0.1 and whose kubelet port is the test kubelet's, stream_util.py) and
forwards; the test kubelet serves CRI log files the test writes and runs exec'd commands as
host processes."""
import json
import os
import subprocess
import time

import pytest

from stream_util import FixtureKubelet, cri_line


@pytest.fixture
def kubelet(server):
    k = FixtureKubelet(server).start()
    yield k
    log = k.close()
    assert "Sanitizer" not in log and "runtime error" not in log, log


@pytest.fixture
def node(server, kubelet, hollow_nodes):
    cluster = hollow_nodes(server, 1, prefix="stream", host_ip="127.0.0.1",
                           kubelet_port=kubelet.port)
    return cluster[0]


def make_pod(server, ns, node, name, containers=("main",)):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node.name,
                    "containers": [{"name": c, "image": "busybox"} for c in containers]}}
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(pod))
    server.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/" + name, "--timeout=30s")
    return json.loads(server.kubectl("-n", ns, "get", "pod", name, "-o", "json").stdout)


def test_logs(server, ns, kubelet, node):
    uid = make_pod(server, ns, node, "web", containers=("main", "big"))["metadata"]["uid"]
    d = kubelet.container_dir(ns, "web", uid, "main")
    t0 = time.time() - 100
    with open(os.path.join(d, "0.log"), "w") as f:
        f.write(cri_line("first run", t=t0))
    with open(os.path.join(d, "1.log.20260101-000000"), "w") as f:  # rotated: read first
        f.write(cri_line("one", t=t0 + 1))
        f.write(cri_line("tw", partial=True, t=t0 + 2) + cri_line("o", t=t0 + 2))
    with open(os.path.join(d, "1.log"), "w") as f:
        f.write(cri_line("three", stream="stderr", t=t0 + 3))
        f.write(cri_line("four", t=time.time()))
    out = server.kubectl("-n", ns, "logs", "web", "-c", "main").stdout
    assert out == "one\ntwo\nthree\nfour\n"
    assert server.kubectl("-n", ns, "logs", "web", "-c", "main", "--tail=2").stdout == "three\nfour\n"
    assert server.kubectl("-n", ns, "logs", "web", "-c", "main", "--since=30s").stdout == "four\n"
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 2))
    assert server.kubectl("-n", ns, "logs", "web", "-c", "main",
                          "--since-time=" + since).stdout == "two\nthree\nfour\n"
    assert server.kubectl("-n", ns, "logs", "web", "-c", "main", "--previous").stdout == "first run\n"
    assert server.kubectl("-n", ns, "logs", "web", "-c", "main", "--limit-bytes=6").stdout == "one\ntw"
    ts = server.kubectl("-n", ns, "logs", "web", "-c", "main", "--timestamps", "--tail=1").stdout
    assert ts.endswith("Z four\n") and ts.startswith(time.strftime("%Y-", time.gmtime()))
    # a big log (read in pieces, the loop kept free between them)
    big = kubelet.container_dir(ns, "web", uid, "big")
    line = cri_line("x" * 100, t=t0)
    with open(os.path.join(big, "0.log"), "w") as f:
        for i in range(60000):
            f.write(line if i < 59999 else cri_line("the end", t=t0))
    assert server.kubectl("-n", ns, "logs", "web", "-c", "big", "--tail=1").stdout == "the end\n"
    out = server.kubectl("-n", ns, "logs", "web", "-c", "big").stdout
    assert len(out) == 59999 * 101 + 8 and out.endswith("the end\n")
    # a container that is not there
    p = server.kubectl("-n", ns, "logs", "web", "-c", "nope", check=False)
    assert p.returncode != 0 and "container nope is not valid for pod web" in p.stderr


def test_logs_follow_ends_when_the_container_exits(server, ns, kubelet, node):
    uid = make_pod(server, ns, node, "tail")["metadata"]["uid"]
    d = kubelet.container_dir(ns, "tail", uid, "main")
    with open(os.path.join(d, "0.log"), "w") as f:
        f.write(cri_line("before"))
    open(os.path.join(d, "running"), "w").close()
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
    p = subprocess.Popen(["kubectl", "-n", ns, "logs", "-f", "tail"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline() == "before\n"
        with open(os.path.join(d, "0.log"), "a") as f:
            f.write(cri_line("after"))
        assert p.stdout.readline() == "after\n"
        # rotation: the file is renamed and a new one started
        os.rename(os.path.join(d, "0.log"), os.path.join(d, "0.log.20260101-000000"))
        with open(os.path.join(d, "0.log"), "w") as f:
            f.write(cri_line("rotated"))
        assert p.stdout.readline() == "rotated\n"
        with open(os.path.join(d, "0.log"), "a") as f:
            f.write(cri_line("last"))
        os.unlink(os.path.join(d, "running"))
        out, err = p.communicate(timeout=30)
        assert out == "last\n" and p.returncode == 0, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_exec(server, ns, kubelet, node):
    uid = make_pod(server, ns, node, "box")["metadata"]["uid"]
    d = kubelet.container_dir(ns, "box", uid, "main")
    open(os.path.join(d, "running"), "w").close()
    p = server.kubectl("-n", ns, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2")
    assert p.stdout == "out\n" and p.stderr == "err\n"
    # stdin, including its end (v5's close channel)
    data = "".join("line %d\n" % i for i in range(20000))
    p = server.kubectl("-n", ns, "exec", "-i", "box", "--", "wc", "-l", input=data)
    assert p.stdout.strip() == "20000"
    # much output: framing past 64 KiB, back-pressure on the way
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
    big = subprocess.run(["kubectl", "-n", ns, "exec", "box", "--", "head", "-c", "20000000",
                          "/dev/zero"], capture_output=True, env=env, timeout=120)
    assert big.returncode == 0 and len(big.stdout) == 20000000 and not big.stdout.strip(b"\0")
    # the exit code comes through
    p = server.kubectl("-n", ns, "exec", "box", "--", "sh", "-c", "exit 3", check=False)
    assert p.returncode == 3, p.stderr
    p = server.kubectl("-n", ns, "exec", "box", "--", "nosuchcmd", check=False)
    assert p.returncode != 0 and "nosuchcmd" in p.stderr
    # a terminal: -it under a pty
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
    t = subprocess.run(["script", "-qec", "kubectl -n %s exec -it box -- sh -c 'tty && exit 5'" % ns,
                        "/dev/null"], capture_output=True, text=True, env=env, timeout=60)
    assert "/dev/pts/" in t.stdout and t.returncode == 5, (t.stdout, t.stderr)
    # the terminal's size reaches the process (resize channel)
    t = subprocess.run(["script", "-qec", "stty cols 91 rows 37; kubectl -n %s exec -it box -- "
                        "sh -c 'for i in $(seq 100); do s=$(stty size); [ \"$s\" != \"0 0\" ] && break; "
                        "sleep 0.1; done; echo $s'" % ns, "/dev/null"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert "37 91" in t.stdout, (t.stdout, t.stderr)
    # a container that is not running
    os.unlink(os.path.join(d, "running"))
    p = server.kubectl("-n", ns, "exec", "box", "--", "true", check=False)
    assert p.returncode != 0 and "container not running" in p.stderr, p.stderr


def test_cp_both_ways(server, ns, kubelet, node, tmp_path):
    uid = make_pod(server, ns, node, "files")["metadata"]["uid"]
    d = kubelet.container_dir(ns, "files", uid, "main")
    open(os.path.join(d, "running"), "w").close()
    src = tmp_path / "hello.txt"
    src.write_text("hello from the test\n" * 1000)
    inside = os.path.join(d, "copied.txt")
    server.kubectl("-n", ns, "cp", str(src), "files:" + inside)
    with open(inside) as f:
        assert f.read() == src.read_text()
    back = tmp_path / "back.txt"
    server.kubectl("-n", ns, "cp", "files:" + inside, str(back))
    assert back.read_text() == src.read_text()


def test_attach(server, ns, kubelet, node):
    uid = make_pod(server, ns, node, "att")["metadata"]["uid"]
    d = kubelet.container_dir(ns, "att", uid, "main")
    open(os.path.join(d, "running"), "w").close()
    os.mkfifo(os.path.join(d, "attach.in"))
    os.mkfifo(os.path.join(d, "attach.out"))
    # the "container": copies what attach sends it back, upper-cased
    prog = subprocess.Popen(["sh", "-c", "tr a-z A-Z < attach.in > attach.out"], cwd=d)
    try:
        p = server.kubectl("-n", ns, "attach", "-i", "att", input="hello\n", timeout=60)
        assert "HELLO" in p.stdout
    finally:
        prog.kill()
        prog.wait()


def test_exec_needs_create_on_pods_exec(server, ns, kubelet, node):
    make_pod(server, ns, node, "guarded")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "peek", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods", "pods/exec", "pods/log"],
                       "verbs": ["get", "list"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "peek", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "peek"},
               "subjects": [{"kind": "User", "name": "viewer"}]}
    server.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                          "items": [role, binding]}))
    p = server.kubectl("-n", ns, "--as=viewer", "exec", "guarded", "--", "true", check=False)
    assert p.returncode != 0
    assert 'cannot create resource "pods/exec" in API group "" in the namespace' in p.stderr, p.stderr


def test_kubelet_down(server, ns, kubelet, node):
    make_pod(server, ns, node, "lonely")
    kubelet.stop()
    p = server.kubectl("-n", ns, "exec", "lonely", "--", "true", check=False)
    assert p.returncode != 0
    assert "error dialing backend: dial tcp 127.0.0.1:%d: connect: connection refused" % \
        kubelet.port in p.stderr, p.stderr
    p = server.kubectl("-n", ns, "logs", "lonely", check=False)
    assert p.returncode != 0 and "connection refused" in p.stderr, p.stderr


@pytest.fixture
def netns():
    """A network namespace of the test's own (only loopback, no route out), removed after."""
    name = "k1s-pf-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "pids", name], capture_output=True)
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            subprocess.run(["kill", "-9", pid], check=False)
        subprocess.run(["ip", "netns", "del", name], check=False)


def port_forward(server, ns, pod, remote, extra=()):
    """Starts kubectl port-forward; returns (process, local port)."""
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
    p = subprocess.Popen(["kubectl", "-n", ns, "port-forward", *extra, "pod/" + pod,
                          ":%d" % remote], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    line = p.stdout.readline()
    if "Forwarding from 127.0.0.1:" not in line:
        p.kill()
        raise AssertionError("port-forward did not start: %r %s" % (line, p.stderr.read()))
    return p, int(line.split("127.0.0.1:")[1].split()[0])


def http_get(port, path="/", timeout=20):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
        return r.read()


@pytest.mark.parametrize("transport", ["websocket", "spdy", "python"])
def test_port_forward(server, ns, kubelet, node, netns, tmp_path, transport):
    uid = make_pod(server, ns, node, "web")["metadata"]["uid"]
    kubelet.container_dir(ns, "web", uid, "main")
    with open(os.path.join(kubelet.root, "%s_web_%s" % (ns, uid), "netns"), "w") as f:
        f.write("/var/run/netns/%s\n" % netns)
    www = tmp_path / "www"
    www.mkdir()
    body = b"hello through the tunnel\n" * 200000
    (www / "index.html").write_bytes(body)
    httpd = subprocess.Popen(["ip", "netns", "exec", netns, "busybox", "httpd", "-f", "-p",
                              "127.0.0.1:8080", "-h", str(www)])
    env = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "true" if transport == "websocket" else "false"}
    os.environ.update(env)
    pf = None
    try:
        if transport == "python":
            # python3-kubernetes: the WebSocket channel protocol (v4.channel.k8s.io, ports=)
            kubernetes = pytest.importorskip("kubernetes")
            from kubernetes.stream import portforward
            client = kubernetes.config.new_client_from_config(config_file=server.kubeconfig)
            core = kubernetes.client.CoreV1Api(client)
            deadline = time.time() + 30
            while True:
                fwd = portforward(core.connect_get_namespaced_pod_portforward, "web", ns,
                                  ports="8080")
                sock = fwd.socket(8080)
                sock.setblocking(True)
                sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                got = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    got += chunk
                sock.close()
                err = fwd.error(8080)
                if got or time.time() > deadline:
                    break
                time.sleep(0.2)
            assert got.startswith(b"HTTP/1.") and got.endswith(body), (got[:200], err)
            assert err is None
            client.close()
            return
        pf, port = port_forward(server, ns, "web", 8080)
        deadline = time.time() + 30
        while True:
            try:
                got = http_get(port, "/index.html")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        assert got == body
        # several connections, one after the other and at once
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            assert all(r == body for r in ex.map(lambda _: http_get(port, "/index.html"),
                                                 range(8)))
        # a port nothing listens on: the error comes back and the connection fails
        pf2, port2 = port_forward(server, ns, "web", 9)
        try:
            with pytest.raises(OSError):
                http_get(port2)
        finally:
            pf2.kill()
            _, err = pf2.communicate(timeout=20)
        assert "connection refused" in err, err
    finally:
        for k in env:
            os.environ.pop(k, None)
        if pf:
            pf.kill()
            pf.wait()
        httpd.kill()
        httpd.wait()


def test_kubelet_api_authorizes_others_with_subject_access_reviews(server, kubelet, tmp_path):
    import ssl
    import urllib.request
    from stream_util import client_cert

    def get(user, path):
        ctx = ssl.create_default_context(cafile=server.ca())
        ctx.check_hostname = False
        ctx.load_cert_chain(*client_cert(server, str(tmp_path), user))
        try:
            with urllib.request.urlopen("https://127.0.0.1:%d%s" % (kubelet.port, path),
                                        context=ctx, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    code, body = get("kubelet-stranger", "/pods")
    assert code == 403 and "user=kubelet-stranger, verb=get, resource=nodes, subresource=proxy" in body
    name = "kubelet-reader-%d" % os.getpid()
    objs = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": name},
             "rules": [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": name},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
             "subjects": [{"kind": "User", "name": "kubelet-reader"}]}]
    server.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                          "items": objs}))
    try:
        deadline = time.time() + 30
        while True:
            code, body = get("kubelet-reader", "/pods")
            if code == 200 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert code == 200 and json.loads(body)["kind"] == "PodList"
        # stats is another subresource: not granted
        code, body = get("kubelet-reader", "/stats/summary")
        assert code == 403 and "subresource=stats" in body
        # decisions are cached (allowed: 5 minutes), as the kubelet's webhook authorizer does
        server.kubectl("delete", "clusterrolebinding", name)
        assert get("kubelet-reader", "/pods")[0] == 200
    finally:
        server.kubectl("delete", "clusterrole,clusterrolebinding", name, check=False)


def test_nodes_proxy(server, kubelet, node):
    out = server.kubectl("get", "--raw", "/api/v1/nodes/%s/proxy/healthz" % node.name).stdout
    assert out == "ok"
    pods = json.loads(server.kubectl("get", "--raw", "/api/v1/nodes/%s/proxy/pods" % node.name).stdout)
    assert pods["kind"] == "PodList"


def test_kubelet_stops_with_sessions_open(server, ns, kubelet, node):
    uid = make_pod(server, ns, node, "busy")["metadata"]["uid"]
    d = kubelet.container_dir(ns, "busy", uid, "main")
    open(os.path.join(d, "running"), "w").close()
    with open(os.path.join(d, "0.log"), "w") as f:
        f.write(cri_line("x"))
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
    ex = subprocess.Popen(["kubectl", "-n", ns, "exec", "busy", "--", "sh", "-c",
                           "echo started; sleep 100"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)
    lf = subprocess.Popen(["kubectl", "-n", ns, "logs", "-f", "busy"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert ex.stdout.readline() == "started\n"
        assert lf.stdout.readline() == "x\n"
        kubelet.stop()  # the fixture's teardown checks it freed everything
        ex.wait(timeout=30)
        lf.wait(timeout=30)
        assert ex.returncode != 0
    finally:
        for p in (ex, lf):
            if p.poll() is None:
                p.kill()
            p.communicate()


def test_python_client_exec_and_logs(server, ns, kubelet, node):
    """python3-kubernetes: exec over WebSockets with v4.channel.k8s.io, logs over HTTP/1.1."""
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import stream
    uid = make_pod(server, ns, node, "py")["metadata"]["uid"]
    d = kubelet.container_dir(ns, "py", uid, "main")
    open(os.path.join(d, "running"), "w").close()
    with open(os.path.join(d, "0.log"), "w") as f:
        f.write(cri_line("from python"))
    client = kubernetes.config.new_client_from_config(config_file=server.kubeconfig)
    core = kubernetes.client.CoreV1Api(client)
    out = stream(core.connect_get_namespaced_pod_exec, "py", ns,
                 command=["sh", "-c", "echo hi; echo there >&2"], stdout=True, stderr=True,
                 stdin=False, tty=False)
    assert out.replace("\n", "") in ("hithere", "therehi")
    ws = stream(core.connect_get_namespaced_pod_exec, "py", ns, command=["sh", "-c", "exit 4"],
                stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    ws.run_forever(timeout=30)
    assert ws.returncode == 4
    assert core.read_namespaced_pod_log("py", ns) == "from python\n"
    client.close()


def test_kubectl_120_over_spdy(server, ns, kubelet, node, netns, tmp_path):
    """kubectl 1.20 speaks SPDY/3.1 for exec (v4.channel.k8s.io) and port-forward."""
    from conftest import KUBECTL_120
    if not os.path.exists(KUBECTL_120):
        pytest.skip("no kubectl 1.20")
    uid = make_pod(server, ns, node, "old")["metadata"]["uid"]
    d = kubelet.container_dir(ns, "old", uid, "main")
    open(os.path.join(d, "running"), "w").close()
    p = server.kubectl("-n", ns, "exec", "old", "--", "sh", "-c", "echo out; echo err >&2",
                       binary=KUBECTL_120)
    assert p.stdout == "out\n" and p.stderr == "err\n"
    data = "".join("line %d\n" % i for i in range(20000))
    p = server.kubectl("-n", ns, "exec", "-i", "old", "--", "wc", "-l", input=data,
                       binary=KUBECTL_120)
    assert p.stdout.strip() == "20000"
    p = server.kubectl("-n", ns, "exec", "old", "--", "sh", "-c", "exit 3", check=False,
                       binary=KUBECTL_120)
    assert p.returncode == 3, p.stderr
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
    t = subprocess.run(["script", "-qec", "stty cols 91 rows 37; %s -n %s exec -it old -- "
                        "sh -c 'for i in $(seq 100); do s=$(stty size); [ \"$s\" != \"0 0\" ] "
                        "&& break; sleep 0.1; done; echo $s'" % (KUBECTL_120, ns), "/dev/null"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert "37 91" in t.stdout, (t.stdout, t.stderr)
    # cp both ways (stdin's end is the stream's FIN)
    src = tmp_path / "src.txt"
    src.write_text("copied by kubectl 1.20\n" * 500)
    inside = os.path.join(d, "copied.txt")
    server.kubectl("-n", ns, "cp", str(src), "old:" + inside, binary=KUBECTL_120)
    with open(inside) as f:
        assert f.read() == src.read_text()
    back = tmp_path / "back.txt"
    server.kubectl("-n", ns, "cp", "old:" + inside, str(back), binary=KUBECTL_120)
    assert back.read_text() == src.read_text()
    # port-forward
    with open(os.path.join(kubelet.root, "%s_old_%s" % (ns, uid), "netns"), "w") as f:
        f.write("/var/run/netns/%s\n" % netns)
    (tmp_path / "index.html").write_text("old kubectl\n")
    httpd = subprocess.Popen(["ip", "netns", "exec", netns, "busybox", "httpd", "-f", "-p",
                              "127.0.0.1:8080", "-h", str(tmp_path)])
    pf = subprocess.Popen([KUBECTL_120, "-n", ns, "port-forward", "pod/old", ":8080"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = pf.stdout.readline()
        assert "Forwarding from 127.0.0.1:" in line, line
        port = int(line.split("127.0.0.1:")[1].split()[0])
        deadline = time.time() + 30
        while True:
            try:
                assert http_get(port, "/index.html") == b"old kubectl\n"
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        pf.kill()
        pf.wait()
        httpd.kill()
        httpd.wait()


def test_kubelet_certificate_is_verified(server, ns, hollow_nodes):
    k = FixtureKubelet(server, san="127.0.0.2").start()
    try:
        cluster = hollow_nodes(server, 1, prefix="badcert", host_ip="127.0.0.1", kubelet_port=k.port)
        uid = make_pod(server, ns, cluster[0], "p")["metadata"]["uid"]
        d = k.container_dir(ns, "p", uid, "main")
        with open(os.path.join(d, "0.log"), "w") as f:
            f.write(cri_line("hello"))
        p = server.kubectl("-n", ns, "logs", "p", check=False)
        assert p.returncode != 0 and "error dialing backend: tls: failed to verify certificate" in \
            p.stderr, p.stderr
        p = server.kubectl("-n", ns, "logs", "p", "--insecure-skip-tls-verify-backend")
        assert p.stdout == "hello\n"
    finally:
        log = k.close()
    assert "Sanitizer" not in log, log
