"""Admission webhooks: a small HTTPS server in the test (python3 http.server
+ ssl, certificates made with openssl) is called by the API server with an
AdmissionReview; it denies, patches (JSONPatch) or answers slowly. Checks
Kubernetes' messages for denials and failed calls, failurePolicy Ignore/Fail,
timeouts, CA and host name verification, Service clientConfig, selectors,
and the WEBHOOKS column."""
import base64
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import free_port


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_certs(d, names):
    """A CA and a server certificate for names (DNS names and IPs)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "1", "-subj", "/CN=webhook-ca", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
            "-subj", "/CN=webhook", cwd=d)
    san = ",".join(("IP:" + n) if n[0].isdigit() else ("DNS:" + n) for n in names)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.crt", "-days", "1", "-extfile", "ext.cnf", cwd=d)
    with open(os.path.join(d, "ca.crt"), "rb") as f:
        return base64.b64encode(f.read()).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    reviews = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        review = json.loads(self.rfile.read(n))
        Handler.reviews.append((self.path, review))
        req = review["request"]
        resp = {"uid": req["uid"], "allowed": True}
        path = self.path.split("?")[0]
        if path == "/deny":
            labels = ((req.get("object") or {}).get("metadata") or {}).get("labels") or {}
            if labels.get("deny") == "yes":
                resp = {"uid": req["uid"], "allowed": False,
                        "status": {"code": 403, "reason": "Forbidden",
                                   "message": "objects labelled deny=yes are not welcome"}}
        elif path == "/no-delete":
            if req["operation"] == "DELETE":
                resp = {"uid": req["uid"], "allowed": False,
                        "status": {"message": "%s %s is protected" % (
                            req["oldObject"]["kind"], req["name"])}}
        elif path == "/deny-bare":
            resp = {"uid": req["uid"], "allowed": False}
        elif path == "/label":
            ops = [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "by-webhook"}}]
            if (req["object"]["metadata"].get("labels")):
                ops = [{"op": "add", "path": "/metadata/labels/mutated", "value": "by-webhook"}]
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
            resp["warnings"] = ["the webhook added a label"]
        elif path == "/reinvoke":
            labels = req["object"]["metadata"].get("labels") or {}
            if "mutated" in labels:
                ops = [{"op": "add", "path": "/metadata/labels/seen-mutated", "value": "yes"}]
            elif labels:
                ops = [{"op": "add", "path": "/metadata/labels/a", "value": "1"}]
            else:
                ops = [{"op": "add", "path": "/metadata/labels", "value": {"a": "1"}}]
            resp["patchType"] = "JSONPatch"
            resp["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        elif path == "/slow":
            time.sleep(3)
        elif path == "/sleep1":
            time.sleep(1)
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def hook_server(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("webhook"))
    ca = make_certs(d, ["127.0.0.1", "localhost", "hooks.t-webhooks.svc"])
    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "srv.crt"), os.path.join(d, "srv.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield {"port": port, "ca": ca, "dir": d}
    srv.shutdown()


def config(kind, name, hooks):
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name}, "webhooks": hooks}


def hook(name, url, ca, ns, resources=("configmaps",), **kw):
    h = {"name": name, "clientConfig": {"url": url, "caBundle": ca},
         "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""],
                    "apiVersions": ["v1"], "resources": list(resources)}],
         "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
         "sideEffects": "None", "admissionReviewVersions": ["v1"]}
    h.update(kw)
    return h


class Installed:
    """Creates webhook configurations and removes them afterwards."""

    def __init__(self, server, *objs):
        self.server, self.objs = server, objs

    def __enter__(self):
        for o in self.objs:
            self.server.kubectl("create", "-f", "-", input=json.dumps(o))
        return self

    def __exit__(self, *exc):
        for o in self.objs:
            kind = o["kind"].lower()
            self.server.kubectl("delete", kind, o["metadata"]["name"], check=False)


def cm(ns, name, labels=None):
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": name, "namespace": ns, "labels": labels or {}}})


def test_validating_webhook_denies(server, ns, hook_server):
    url = "https://127.0.0.1:%d/deny" % hook_server["port"]
    v = config("ValidatingWebhookConfiguration", ns + "-deny",
               [hook("deny.k1s.test", url, hook_server["ca"], ns)])
    with Installed(server, v):
        out = server.kubectl("get", "validatingwebhookconfigurations", ns + "-deny").stdout
        assert out.split("\n")[0].split() == ["NAME", "WEBHOOKS", "AGE"], out
        assert out.split("\n")[1].split()[:2] == [ns + "-deny", "1"], out
        stored = json.loads(server.kubectl("get", "validatingwebhookconfiguration", ns + "-deny",
                                           "-o", "json").stdout)["webhooks"][0]
        assert stored["failurePolicy"] == "Fail" and stored["timeoutSeconds"] == 10
        assert stored["matchPolicy"] == "Equivalent" and stored["rules"][0]["scope"] == "*"
        p = server.kubectl("create", "-f", "-", input=cm(ns, "bad", {"deny": "yes"}), check=False)
        assert p.returncode != 0
        assert ('admission webhook "deny.k1s.test" denied the request: objects labelled '
                'deny=yes are not welcome') in p.stderr, p.stderr
        assert "Error from server (Forbidden)" in p.stderr, p.stderr
        server.kubectl("create", "-f", "-", input=cm(ns, "good"))
        # the review the webhook saw
        path, review = [x for x in Handler.reviews if x[0].startswith("/deny")][-1]
        assert path == "/deny?timeout=10s"
        req = review["request"]
        assert review["apiVersion"] == "admission.k8s.io/v1"
        assert req["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
        assert req["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
        assert req["operation"] == "CREATE" and req["namespace"] == ns and req["name"] == "good"
        assert req["object"]["metadata"]["name"] == "good" and req["oldObject"] is None
        assert req["dryRun"] is False and req["userInfo"]["username"]
        assert req["options"]["kind"] == "CreateOptions"
        # updates are reviewed with the old object
        p = server.kubectl("label", "configmap", "good", "deny=yes", "-n", ns, check=False)
        assert "denied the request" in p.stderr, p.stderr
        path, review = Handler.reviews[-1]
        assert review["request"]["operation"] == "UPDATE"
        assert review["request"]["oldObject"]["metadata"]["name"] == "good"
        # other namespaces are not selected
        p = server.kubectl("create", "-f", "-", input=cm("default", ns + "-x", {"deny": "yes"}))
        server.kubectl("delete", "configmap", ns + "-x", "-n", "default")


def test_mutating_webhook_adds_label(server, ns, hook_server):
    url = "https://localhost:%d/label" % hook_server["port"]
    m = config("MutatingWebhookConfiguration", ns + "-label",
               [hook("label.k1s.test", url, hook_server["ca"], ns)])
    with Installed(server, m):
        p = server.kubectl("create", "-f", "-", input=cm(ns, "m1"))
        assert "the webhook added a label" in p.stderr, p.stderr
        got = json.loads(server.kubectl("get", "configmap", "m1", "-n", ns, "-o",
                                        "json").stdout)
        assert got["metadata"]["labels"] == {"mutated": "by-webhook"}, got
        server.kubectl("create", "-f", "-", input=cm(ns, "m2", {"a": "b"}))
        got = json.loads(server.kubectl("get", "configmap", "m2", "-n", ns, "-o",
                                        "json").stdout)
        assert got["metadata"]["labels"] == {"a": "b", "mutated": "by-webhook"}, got
        # a dry run reaches a webhook with sideEffects None, and writes nothing
        server.kubectl("create", "-f", "-", "--dry-run=server", input=cm(ns, "m3"))
        assert Handler.reviews[-1][1]["request"]["dryRun"] is True
        p = server.kubectl("get", "configmap", "m3", "-n", ns, check=False)
        assert p.returncode != 0


def test_failure_policy_ignore_and_fail(server, ns, hook_server):
    down = free_port()
    url = "https://127.0.0.1:%d/deny" % down
    ign = config("ValidatingWebhookConfiguration", ns + "-ign",
                 [hook("ignore.k1s.test", url, hook_server["ca"], ns, failurePolicy="Ignore")])
    with Installed(server, ign):
        server.kubectl("create", "-f", "-", input=cm(ns, "admitted", {"deny": "yes"}))
    fail = config("ValidatingWebhookConfiguration", ns + "-fail",
                  [hook("fail.k1s.test", url, hook_server["ca"], ns)])
    with Installed(server, fail):
        p = server.kubectl("create", "-f", "-", input=cm(ns, "refused"), check=False)
        assert p.returncode != 0
        assert ('Internal error occurred: failed calling webhook "fail.k1s.test": failed to '
                'call webhook: Post "https://127.0.0.1:%d/deny?timeout=10s": dial tcp '
                '127.0.0.1:%d: connect: connection refused' % (down, down)) in p.stderr, p.stderr


def test_timeout_is_respected(server, ns, hook_server):
    url = "https://127.0.0.1:%d/slow" % hook_server["port"]
    v = config("ValidatingWebhookConfiguration", ns + "-slow",
               [hook("slow.k1s.test", url, hook_server["ca"], ns, timeoutSeconds=1)])
    with Installed(server, v):
        t0 = time.time()
        p = server.kubectl("create", "-f", "-", input=cm(ns, "late"), check=False)
        took = time.time() - t0
        assert p.returncode != 0
        assert ('failed calling webhook "slow.k1s.test": failed to call webhook: Post '
                '"https://127.0.0.1:%d/slow?timeout=1s": context deadline exceeded'
                % hook_server["port"]) in p.stderr, p.stderr
        assert took < 2.9, took
        # the server kept serving while it waited
        server.kubectl("get", "namespaces")


def test_certificate_is_verified(server, ns, hook_server):
    # a CA that did not sign the webhook's certificate: the cluster's own
    with open(server.ca(), "rb") as f:
        other_ca = base64.b64encode(f.read()).decode()
    url = "https://127.0.0.1:%d/deny" % hook_server["port"]
    v = config("ValidatingWebhookConfiguration", ns + "-ca",
               [hook("ca.k1s.test", url, other_ca, ns)])
    with Installed(server, v):
        p = server.kubectl("create", "-f", "-", input=cm(ns, "x"), check=False)
        assert "x509: certificate signed by unknown authority" in p.stderr, p.stderr


def test_service_client_config(server, hook_server):
    ns = "t-webhooks"
    server.kubectl("create", "namespace", ns)
    try:
        server.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "hooks", "namespace": ns},
            "spec": {"ports": [{"port": 443, "targetPort": hook_server["port"]}]}}))
        server.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "hooks", "namespace": ns},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                         "ports": [{"port": hook_server["port"]}]}]}))
        h = hook("svc.k1s.test", "", hook_server["ca"], ns, resources=["pods"],
                 objectSelector={"matchLabels": {"deny": "yes"}})
        h["clientConfig"] = {"service": {"name": "hooks", "namespace": ns, "path": "/deny"},
                             "caBundle": hook_server["ca"]}
        v = config("ValidatingWebhookConfiguration", ns + "-svc", [h])
        with Installed(server, v):
            p = server.kubectl("run", "bad", "--image=busybox", "-l", "deny=yes", "-n", ns,
                               check=False)
            assert 'admission webhook "svc.k1s.test" denied the request' in p.stderr, p.stderr
            n = len(Handler.reviews)
            server.kubectl("run", "good", "--image=busybox", "-n", ns)
            assert len(Handler.reviews) == n  # objectSelector: not called
        # the certificate must be valid for <service>.<namespace>.svc
        for name in ("other",):
            server.kubectl("create", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"ports": [{"port": 443, "targetPort": hook_server["port"]}]}}))
            server.kubectl("create", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": name, "namespace": ns},
                "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                             "ports": [{"port": hook_server["port"]}]}]}))
        h["name"] = "other.k1s.test"
        h["clientConfig"]["service"]["name"] = "other"
        v = config("ValidatingWebhookConfiguration", ns + "-other", [h])
        with Installed(server, v):
            p = server.kubectl("run", "bad", "--image=busybox", "-l", "deny=yes", "-n", ns,
                               check=False)
            assert ('failed calling webhook "other.k1s.test": failed to call webhook: Post '
                    '"https://other.t-webhooks.svc:443/deny?timeout=10s": tls: failed to verify '
                    'certificate: x509: certificate is valid for localhost, hooks.t-webhooks.svc, '
                    'not other.t-webhooks.svc') in p.stderr, p.stderr
    finally:
        server.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_invalid_configuration(server):
    bad = config("ValidatingWebhookConfiguration", "bad-config",
                 [{"name": "short", "clientConfig": {"url": "http://x/"},
                   "sideEffects": "Some", "timeoutSeconds": 31,
                   "admissionReviewVersions": ["v1"]}])
    p = server.kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode != 0
    assert 'webhooks[0].name: Invalid value: "short"' in p.stderr, p.stderr
    assert "webhooks[0].clientConfig.url" in p.stderr, p.stderr
    assert 'webhooks[0].sideEffects: Unsupported value: "Some"' in p.stderr, p.stderr
    assert "webhooks[0].timeoutSeconds: Invalid value: 31" in p.stderr, p.stderr


def test_validating_webhook_on_delete(server, ns, hook_server):
    url = "https://127.0.0.1:%d/no-delete" % hook_server["port"]
    h = hook("protect.k1s.test", url, hook_server["ca"], ns)
    h["rules"][0]["operations"] = ["DELETE"]
    v = config("ValidatingWebhookConfiguration", ns + "-protect", [h])
    server.kubectl("create", "-f", "-", input=cm(ns, "keep"))
    with Installed(server, v):
        p = server.kubectl("delete", "configmap", "keep", "-n", ns, check=False)
        assert p.returncode != 0
        # no reason in the webhook's status: kubectl prints none (the code is 400)
        assert ('Error from server: admission webhook "protect.k1s.test" denied '
                'the request: ConfigMap keep is protected') in p.stderr, p.stderr
        server.kubectl("get", "configmap", "keep", "-n", ns)
    server.kubectl("delete", "configmap", "keep", "-n", ns)


def test_mutating_reinvocation(server, ns, hook_server):
    base = "https://127.0.0.1:%d" % hook_server["port"]
    first = hook("first.k1s.test", base + "/reinvoke", hook_server["ca"], ns,
                 reinvocationPolicy="IfNeeded")
    second = hook("second.k1s.test", base + "/label", hook_server["ca"], ns)
    m = config("MutatingWebhookConfiguration", ns + "-reinv", [first, second])
    with Installed(server, m):
        server.kubectl("create", "-f", "-", input=cm(ns, "r"))
        got = json.loads(server.kubectl("get", "configmap", "r", "-n", ns, "-o",
                                        "json").stdout)["metadata"]["labels"]
        # the first webhook saw the second one's label when it was called again
        assert got == {"a": "1", "mutated": "by-webhook", "seen-mutated": "yes"}, got
    first["reinvocationPolicy"] = "Never"
    m = config("MutatingWebhookConfiguration", ns + "-never", [first, second])
    with Installed(server, m):
        server.kubectl("create", "-f", "-", input=cm(ns, "n"))
        got = json.loads(server.kubectl("get", "configmap", "n", "-n", ns, "-o",
                                        "json").stdout)["metadata"]["labels"]
        assert got == {"a": "1", "mutated": "by-webhook"}, got


def test_validating_webhooks_run_in_parallel(server, ns, hook_server):
    url = "https://127.0.0.1:%d/sleep1" % hook_server["port"]
    hooks = [hook("nap%d.k1s.test" % i, url, hook_server["ca"], ns) for i in range(3)]
    hooks.append(hook("deny.k1s.test", url.replace("/sleep1", "/deny"), hook_server["ca"], ns))
    v = config("ValidatingWebhookConfiguration", ns + "-naps", hooks)
    with Installed(server, v):
        t0 = time.time()
        server.kubectl("create", "-f", "-", input=cm(ns, "rested"))
        took = time.time() - t0
        assert took < 2.5, took  # three one-second webhooks at once, not one after another
        p = server.kubectl("create", "-f", "-", input=cm(ns, "no", {"deny": "yes"}), check=False)
        assert 'admission webhook "deny.k1s.test" denied the request' in p.stderr, p.stderr


def test_write_that_raced_a_slow_webhook_conflicts(server, ns, hook_server):
    """Two updates of one object wait for the same slow webhook; the second to commit finds
    the object changed meanwhile and gets 409 instead of overwriting the first."""
    url = "https://127.0.0.1:%d/sleep1" % hook_server["port"]
    h = hook("nap.k1s.test", url, hook_server["ca"], ns)
    h["rules"][0]["operations"] = ["UPDATE", "DELETE"]
    v = config("ValidatingWebhookConfiguration", ns + "-race", [h])
    server.kubectl("create", "-f", "-", input=cm(ns, "raced"))
    path = "/api/v1/namespaces/%s/configmaps/raced" % ns
    with Installed(server, v):
        results = []

        def patch(value):
            st, body = server.json("PATCH", path, {"data": {"k": value}},
                                   headers={"Content-Type": "application/merge-patch+json"})
            results.append(st)
        ts = [threading.Thread(target=patch, args=(str(i),)) for i in range(2)]
        for t in ts:
            t.start()
            time.sleep(0.2)
        for t in ts:
            t.join()
        assert sorted(results) == [200, 409], results
        # a delete that waited while the object went away answers 404
        ts = [threading.Thread(target=lambda: results.append(
            server.json("DELETE", path)[0])) for i in range(2)]
        del results[:]
        for t in ts:
            t.start()
            time.sleep(0.2)
        for t in ts:
            t.join()
        assert sorted(results) == [200, 404], results
