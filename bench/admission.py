#!/usr/bin/python3
"""Admission cost: median and p90 latency of creating a pod over one HTTPS
connection against build/k1s, in a namespace without admission objects, with
a ResourceQuota + LimitRange + PodSecurity restricted, and with a validating
webhook (a local python HTTPS server, which dominates what it adds). With a
quota, usage is summed from the store on each create, so the guarded figure
grows with the number of pods in the namespace.

Usage: bench/admission.py [N]  (N pods per setup, default 300). Prints figures;
asserts nothing."""
import base64
import http.client
import http.server
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from conftest import Server, free_port  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
POD_OK = {"name": "c", "image": "busybox",
          "resources": {"requests": {"cpu": "1m", "memory": "1Mi"},
                        "limits": {"cpu": "1m", "memory": "1Mi"}},
          "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                              "capabilities": {"drop": ["ALL"]},
                              "seccompProfile": {"type": "RuntimeDefault"}}}


def conn(s):
    ctx = s.ssl_context()
    return http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx)


def post(c, path, obj):
    body = json.dumps(obj)
    c.request("POST", path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit("create failed: %d %s" % (r.status, data[:300]))


def timed_pods(s, ns, n):
    c = conn(s)
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        post(c, "/api/v1/namespaces/%s/pods" % ns,
             {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p%d" % i},
              "spec": {"containers": [POD_OK]}})
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.9)]


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": {"uid": review["request"]["uid"], "allowed": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    tmp = tempfile.mkdtemp(prefix="k1s-bench-adm-")
    s = Server(tmp, binary=os.path.join(ROOT, "build", "k1s")).start()
    try:
        c = conn(s)
        for ns in ("plain", "guarded", "hooked"):
            post(c, "/api/v1/namespaces", {"metadata": {"name": ns}})
        post(c, "/api/v1/namespaces/guarded/resourcequotas",
             {"metadata": {"name": "q"}, "spec": {"hard": {"pods": str(N + 10),
                                                            "requests.cpu": "100",
                                                            "limits.memory": "100Gi"}}})
        post(c, "/api/v1/namespaces/guarded/limitranges",
             {"metadata": {"name": "lr"},
              "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}}]}})
        c.request("PATCH", "/api/v1/namespaces/guarded",
                  json.dumps({"metadata": {"labels": {
                      "pod-security.kubernetes.io/enforce": "restricted"}}}),
                  {"Content-Type": "application/merge-patch+json"})
        c.getresponse().read()
        # the webhook server
        d = os.path.join(tmp, "hook")
        os.makedirs(d)
        run = lambda *a: subprocess.run(["openssl"] + list(a), cwd=d, check=True,
                                        capture_output=True)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k", "-out", "c",
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
        port = free_port()
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook)
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(os.path.join(d, "c"), os.path.join(d, "k"))
        srv.socket = sctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        with open(os.path.join(d, "c"), "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        post(c, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
             {"metadata": {"name": "bench"}, "webhooks": [{
                 "name": "bench.k1s.test",
                 "clientConfig": {"url": "https://127.0.0.1:%d/" % port, "caBundle": ca},
                 "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                            "resources": ["pods"]}],
                 "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "hooked"}},
                 "sideEffects": "None", "admissionReviewVersions": ["v1"]}]})
        print("pod create latency over one connection, %d pods each (ms, median / p90):" % N)
        for ns, what in (("plain", "no admission objects"),
                         ("guarded", "ResourceQuota + LimitRange + PodSecurity restricted"),
                         ("hooked", "validating webhook (python https server)")):
            med, p90 = timed_pods(s, ns, N)
            print("  %-55s %6.2f / %6.2f" % (what, med, p90))
        srv.shutdown()
    finally:
        s.stop(check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
