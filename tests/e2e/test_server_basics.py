"""The server's front door: health, version, authentication, discovery, metrics."""
import json
import os
import stat
import subprocess

from conftest import KUBECTL


def test_health_endpoints_need_no_auth(server):
    for path in ("/healthz", "/livez", "/readyz"):
        status, _, body = server.request("GET", path, client_cert=False)
        assert status == 200 and body == b"ok", (path, status, body)
    status, _, body = server.request("GET", "/readyz?verbose", client_cert=False)
    assert status == 200 and b"readyz check passed" in body


def test_version(server):
    status, v = server.json("GET", "/version", client_cert=False)
    assert status == 200
    assert v["major"] == "1" and v["gitVersion"].startswith("v1.")
    out = server.kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["gitVersion"] == v["gitVersion"]


def test_unauthenticated_gets_401(server):
    status, body = server.json("GET", "/api/v1/namespaces", client_cert=False)
    assert status == 401
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized" and body["code"] == 401


def test_bearer_token(server):
    tokens = os.path.join(server.data_dir, "server", "cred", "tokens.csv")
    token = open(tokens).read().split(",")[0]
    status, body = server.json("GET", "/api/v1/namespaces", client_cert=False,
                               headers={"Authorization": "Bearer " + token})
    assert status == 200 and body["kind"] == "NamespaceList"
    status, _ = server.json("GET", "/api/v1/namespaces", client_cert=False,
                            headers={"Authorization": "Bearer wrong"})
    assert status == 401


def test_files_and_modes(server):
    mode = stat.S_IMODE(os.stat(server.kubeconfig).st_mode)
    assert mode == 0o600
    tls = os.path.join(server.data_dir, "server", "tls")
    for f in ("server-ca.crt", "client-ca.crt", "serving-kube-apiserver.crt", "client-admin.crt"):
        assert os.path.exists(os.path.join(tls, f)), f
    token = open(os.path.join(server.data_dir, "server", "token")).read().strip()
    assert token.startswith("K10") and "::server:" in token


def test_serving_cert_sans(server):
    crt = os.path.join(server.data_dir, "server", "tls", "serving-kube-apiserver.crt")
    text = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-text"], capture_output=True,
                          text=True, check=True).stdout
    for san in ("DNS:localhost", "IP Address:127.0.0.1", "DNS:kubernetes",
                "DNS:kubernetes.default.svc.cluster.local"):
        assert san in text, san


def test_default_namespaces_and_kubernetes_service(server):
    out = server.kubectl("get", "namespaces", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert "namespace/" + ns in out
    svc = json.loads(server.kubectl("get", "svc", "kubernetes", "-o", "json").stdout)
    assert svc["spec"]["clusterIP"] == "10.43.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443
    ep = json.loads(server.kubectl("get", "endpoints", "kubernetes", "-o", "json").stdout)
    assert ep["subsets"][0]["ports"][0]["port"] == server.port


def test_api_resources(server):
    out = server.kubectl("api-resources").stdout
    lines = {}
    for l in out.splitlines()[1:]:  # the core group's first (metrics.k8s.io has pods and nodes)
        lines.setdefault(l.split()[0], l)
    for name in ("pods", "deployments", "services", "configmaps", "namespaces", "nodes", "events",
                 "ingresses", "leases", "endpointslices", "roles", "clusterrolebindings",
                 "storageclasses", "poddisruptionbudgets", "horizontalpodautoscalers",
                 "priorityclasses", "cronjobs", "jobs", "statefulsets", "daemonsets",
                 "persistentvolumeclaims", "resourcequotas", "limitranges", "networkpolicies"):
        assert name in lines, name
    assert " po " in lines["pods"] and " deploy " in lines["deployments"]
    wide = server.kubectl("api-resources", "--namespaced=false", "-o", "name").stdout.split()
    assert "nodes" in wide and "namespaces" in wide and "pods" not in wide


def test_metrics(server):
    server.kubectl("get", "ns")
    status, _, body = server.request("GET", "/metrics")
    text = body.decode()
    assert status == 200
    assert 'apiserver_request_total{code="200",resource="namespaces",verb="list"}' in text
    assert "apiserver_request_duration_seconds_bucket" in text
    assert "k1s_store_commit_duration_seconds_bucket" in text
    assert "apiserver_registered_watchers" in text


def test_unknown_paths(server):
    status, body = server.json("GET", "/api/v1/nothings")
    assert status == 404 and body["reason"] == "NotFound"
    status, body = server.json("GET", "/apis/nope/v1")
    assert status == 404


def test_aggregated_discovery(server):
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    status, headers, body = server.request("GET", "/apis", headers={"Accept": accept})
    assert status == 200
    assert headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    doc = json.loads(body)
    assert doc["kind"] == "APIGroupDiscoveryList" and doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    groups = {g["metadata"]["name"]: g for g in doc["items"]}
    assert "apps" in groups and "" not in groups
    assert [v["version"] for v in groups["autoscaling"]["versions"]] == ["v2", "v1"]
    deploy = [r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments"][0]
    assert deploy["scope"] == "Namespaced" and deploy["shortNames"] == ["deploy"]
    assert {s["subresource"] for s in deploy["subresources"]} == {"scale", "status"}
    status, headers, body = server.request("GET", "/api", headers={"Accept": accept})
    core = json.loads(body)["items"]
    assert [g["metadata"]["name"] for g in core] == [""]
    # plain clients still get the legacy documents
    status, legacy = server.json("GET", "/apis")
    assert legacy["kind"] == "APIGroupList"
