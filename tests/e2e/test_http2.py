"""HTTP/2 over TLS (ALPN h2): curl, nghttp, kubectl and a small libnghttp2 client
(bench/k1s-h2.c, built here) against the real server; HTTP/1.1 stays for
clients that ask for it."""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import KUBECTL_120, ROOT

CURL = shutil.which("curl")
NGHTTP = shutil.which("nghttp")


@pytest.fixture(scope="module")
def h2client(tmp_path_factory):
    """bench/k1s-h2.c, compiled for this test run."""
    out = str(tmp_path_factory.mktemp("h2") / "k1s-h2")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "openssl", "libnghttp2"],
                           capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-std=c17", "-O1", "-o", out, os.path.join(ROOT, "bench", "k1s-h2.c")] + flags,
                   check=True)
    return out


def tls_dir(server):
    return os.path.join(server.data_dir, "server", "tls")


def run_h2(h2client, server, *args, timeout=60, check=True):
    p = subprocess.run([h2client] + list(args) + ["--port", str(server.port), "--tls", tls_dir(server)],
                       capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, "k1s-h2 %s failed:\n%s\n%s" % (args[0], p.stdout, p.stderr)
    vals = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition("=")
        vals[k] = v
    return vals


def curl(server, *args, timeout=30):
    cert, key = server.admin_cert()
    cmd = [CURL, "-sS", "--cacert", server.ca(), "--cert", cert, "--key", key] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def curl_json(server, path, *args):
    """GET/POST over HTTP/2 with curl; returns (http_version, status, parsed body)."""
    p = curl(server, "--http2", "-w", "\n%{http_version} %{http_code}", *args, server.url + path)
    assert p.returncode == 0, p.stderr
    body, _, tail = p.stdout.rpartition("\n")
    version, code = tail.split()
    return version, int(code), json.loads(body) if body else None


@pytest.mark.skipif(not CURL, reason="curl is not installed")
def test_curl_h2_version_api_list_create(server, ns):
    v, code, body = curl_json(server, "/version")
    assert (v, code) == ("2", 200) and body["major"] == "1"
    v, code, body = curl_json(server, "/api")
    assert (v, code) == ("2", 200) and body["kind"] == "APIVersions"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "h2"}, "data": {"a": "b"}}
    v, code, body = curl_json(server, "/api/v1/namespaces/%s/configmaps" % ns, "-X", "POST",
                              "-H", "Content-Type: application/json", "--data-binary", json.dumps(cm))
    assert (v, code) == ("2", 201) and body["metadata"]["uid"]
    v, code, body = curl_json(server, "/api/v1/namespaces/%s/configmaps" % ns)
    assert (v, code) == ("2", 200) and [i["metadata"]["name"] for i in body["items"] if i["metadata"]["name"] != "kube-root-ca.crt"] == ["h2"]
    v, code, body = curl_json(server, "/api/v1/namespaces/%s/configmaps/nope" % ns)
    assert (v, code) == ("2", 404) and body["reason"] == "NotFound"
    # HEAD: the GET's headers, content-length included, no body
    p = curl(server, "--http2", "-I", server.url + "/version")
    assert p.stdout.startswith("HTTP/2 200") and re.search(r"(?m)^content-length: \d+", p.stdout)
    # response header names are lowercase on HTTP/2, and the API's own headers come through
    p = curl(server, "--http2", "-D", "-", "-o", "/dev/null", server.url + "/openapi/v2",
             "-H", "Accept: application/json")
    assert re.search(r"(?m)^etag: ", p.stdout) and "Etag" not in p.stdout


@pytest.mark.skipif(not CURL, reason="curl is not installed")
def test_curl_h2_watch(server, ns):
    out = {}

    def watch():
        out["p"] = curl(server, "--http2", "-N", "-w", "\n%{http_version}",
                        server.url + "/api/v1/namespaces/%s/configmaps?watch=1&timeoutSeconds=4" % ns)

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(1)
    status, _ = server.json("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                            {"metadata": {"name": "w1"}, "data": {"x": "1"}})
    assert status == 201
    server.json("DELETE", "/api/v1/namespaces/%s/configmaps/w1" % ns)
    t.join(30)
    lines = out["p"].stdout.strip().splitlines()
    assert lines[-1] == "2", out["p"].stdout[-300:]
    events = [json.loads(l) for l in lines[:-1] if l.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events
            if e["object"]["metadata"]["name"] != "kube-root-ca.crt"] == [("ADDED", "w1"), ("DELETED", "w1")]


def test_alpn_offers_h2_and_http11(server):
    """h2 when the client offers it, http/1.1 for clients that want it (client-go's upgrades)."""
    def alpn(protos):
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port, "-alpn", protos],
                           input="", capture_output=True, text=True, errors="replace", timeout=30)
        m = re.search(r"ALPN protocol: (\S+)", p.stdout)
        return m.group(1) if m else None
    assert alpn("h2,http/1.1") == "h2"
    assert alpn("http/1.1,h2") == "h2"  # the server's preference, as Go servers do
    assert alpn("http/1.1") == "http/1.1"
    if CURL:
        p = curl(server, "--http1.1", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", server.url + "/api")
        assert p.stdout == "1.1 200"
    # no ALPN at all (Python's urllib): HTTP/1.1
    status, _, _ = server.request("GET", "/api")
    assert status == 200


@pytest.mark.skipif(not NGHTTP, reason="nghttp (nghttp2-client) is not installed")
def test_nghttp_many_concurrent_streams_on_one_connection(server):
    cert, key = server.admin_cert()
    p = subprocess.run([NGHTTP, "-n", "-s", "-m", "100", "--cert=" + cert, "--key=" + key,
                        server.url + "/api/v1/namespaces"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines() if l.strip().endswith("/api/v1/namespaces")]
    assert len(rows) == 100 and all(r[4] == "200" for r in rows), p.stdout[-1000:]
    # 100 distinct stream ids: all on the one connection nghttp opened
    assert len({r[0] for r in rows}) == 100


def test_max_concurrent_streams_is_kube_apiservers_100(server, h2client):
    # 250 requests at once: the server allows 100 streams at a time and all are answered
    vals = run_h2(h2client, server, "streams", "--count", "250", "--path", "/api")
    assert vals["max_concurrent_streams"] == "100"
    assert vals["streams_ok"] == "250" and vals["streams_refused"] == "0"


def test_reset_watch_streams_do_not_leak(server, h2client):
    """20 watches on one connection see a create; RST_STREAM on each ends them on the server
    (apiserver_registered_watchers goes back) while the connection keeps working."""
    vals = run_h2(h2client, server, "watches", "--pid", str(server.proc.pid), "--watchers", "20",
                  "--settle", "0.2")
    assert vals["h2_watch_ok"] == "20" and vals["h2_watch_events"] == "20"
    assert int(vals["h2_registered_watchers_open"]) >= int(vals["h2_registered_watchers_idle"]) + 20
    assert vals["h2_registered_watchers_after_reset"] == vals["h2_registered_watchers_idle"]
    assert vals["h2_connection_alive"] == "1"


def test_body_and_header_limits(server, h2client):
    # a body over 3 MiB sent without content-length: 413 as a Status, connection still usable
    vals = run_h2(h2client, server, "get", "--path", "/api/v1/namespaces/default/configmaps",
                  "--body-bytes", str(4 << 20))
    assert vals["status"] == "413" and vals["after_status"] == "200"
    body = json.loads(vals["body"].strip("'"))
    assert body["reason"] == "RequestEntityTooLarge" and body["code"] == 413
    # and announced by content-length (curl sends it): refused before the body
    if CURL:
        v, code, body = curl_json(server, "/api/v1/namespaces/default/configmaps", "-X", "POST",
                                  "-H", "Content-Type: application/json", "--data-binary",
                                  "@" + os.path.join(ROOT, "Makefile"), "-H", "Content-Length: 5000000")
        assert (v, code) == ("2", 413)
    # headers over 64 KiB: 431
    vals = run_h2(h2client, server, "get", "--header-bytes", "70000")
    assert vals["status"] == "431" and vals["after_status"] == "200"


def test_kubectl_speaks_h2(server, ns):
    """The newest kubectl negotiates h2 (Go's http2 debug log says so) and its usual commands work."""
    p = server.kubectl("get", "namespaces", env={"GODEBUG": "http2debug=1"})
    assert "default" in p.stdout
    assert "http2: Transport" in p.stderr, p.stderr[-2000:]
    manifest = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
                           "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
                           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                    "template": {"metadata": {"labels": {"app": "web"}},
                                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
    assert "created" in server.kubectl("apply", "-f", "-", input=manifest).stdout
    assert "unchanged" in server.kubectl("apply", "-f", "-", input=manifest).stdout
    server.kubectl("scale", "deployment/web", "--replicas=3", "-n", ns)
    out = server.kubectl("get", "deployments", "-n", ns, "-o", "jsonpath={.items[0].spec.replicas}").stdout
    assert out == "3"
    assert "Replicas:" in server.kubectl("describe", "deployment", "web", "-n", ns).stdout
    server.kubectl("create", "configmap", "c1", "--from-literal=a=b", "-n", ns)
    # a watch and other requests on the same multiplexed connection
    w = subprocess.Popen([server.kubectl_binary or shutil.which("kubectl"), "get", "configmaps", "-n", ns,
                          "-w", "--request-timeout=8s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp))
    time.sleep(2)
    server.kubectl("create", "configmap", "c2", "--from-literal=a=b", "-n", ns)
    time.sleep(1)
    w.send_signal(signal.SIGINT)
    out, _ = w.communicate(timeout=20)
    assert "c1" in out and "c2" in out, out
    server.kubectl("delete", "deployment", "web", "-n", ns)


def test_python_client_still_uses_http11(server, ns):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        core = client.CoreV1Api(c)
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py")))
        assert [i.metadata.name for i in core.list_namespaced_config_map(ns).items
                if i.metadata.name != "kube-root-ca.crt"] == ["py"]


def test_goaway_on_shutdown(fresh_server, h2client):
    s = fresh_server.start()
    p = subprocess.Popen([h2client, "goaway", "--port", str(s.port), "--tls", tls_dir(s)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready=1"
    s.stop()  # SIGTERM; also checks for a clean exit without ASan reports
    out, err = p.communicate(timeout=30)
    vals = dict(l.split("=", 1) for l in out.splitlines())
    assert vals["goaway"] == "1", err
    assert vals["goaway_error"] == "0"  # NO_ERROR: a graceful shutdown
    assert vals["goaway_last_stream_id"] == vals["watch_stream_id"]


def test_stalled_reader_loses_its_watch(server, ns, h2client):
    """A watch whose client stops reading (its HTTP/2 windows never reopen) while 20 MB of events
    pile up is ended by the server (watch.c's back-pressure sees the stream's unsent bytes), not
    buffered without bound."""
    vals = run_h2(h2client, server, "slowwatch", "--pid", str(server.proc.pid), "--ns", ns,
                  "--count", "24", "--body-bytes", "900000", timeout=120)
    assert vals["slow_watch_status"] == "200" and vals["created"] == "24"
    assert int(vals["received_bytes"]) <= 65535  # the client's window: no more was sent
    assert vals["watchers_open"] != vals["watchers_idle"]
    assert vals["watchers_after"] == vals["watchers_idle"]
    assert vals["stream_closed"] == "1"
    assert "client is not reading; closing the watch" in server.read_log()


def versioned_kubectls():
    """The kubectl.1.NN binaries the installed kubectl package keeps beside its kubectl, and
    Debian's kubectl 1.20 if it is unpacked."""
    found = [KUBECTL_120] if os.path.exists(KUBECTL_120) else []
    k = shutil.which("kubectl")
    if k:
        d = os.path.dirname(os.path.realpath(k))
        found += sorted(os.path.join(d, f) for f in os.listdir(d) if re.fullmatch(r"kubectl\.1\.\d+", f))
    return found


@pytest.mark.parametrize("binary", versioned_kubectls() or [None])
def test_every_kubectl_version_over_h2(server, ns, binary):
    if binary is None:
        pytest.skip("no versioned kubectl binaries on this machine")
    env = {"GODEBUG": "http2debug=1"}
    p = server.kubectl("create", "configmap", "v", "--from-literal=a=b", "-n", ns, binary=binary, env=env)
    assert "http2: Transport" in p.stderr, p.stderr[-1000:]
    out = server.kubectl("get", "configmaps", "-n", ns, "-o", "name", binary=binary).stdout
    assert "configmap/v" in out.split(), out
    server.kubectl("delete", "configmap", "v", "-n", ns, binary=binary)
