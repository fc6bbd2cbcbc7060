"""Service accounts: the default account and kube-root-ca.crt of every namespace, the
TokenRequest API (`kubectl create token`, python3-kubernetes), the tokens as bearer
credentials (kubectl, plain HTTPS) until their account or pod goes, issuer discovery,
and the ServiceAccount admission plugin on pods."""
import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.request

import pytest
from kubernetes import client, config

from conftest import KUBECTL

ISSUER = "https://kubernetes.default.svc.cluster.local"
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), b64url_decode(s)


def with_token(server, token, path, method="GET"):
    """An HTTPS request authenticated by a bearer token only (no client certificate)."""
    return server.request(method, path, headers={"Authorization": "Bearer " + token},
                          client_cert=False)[0]


def kubectl_with_token(server, token, *args):
    """kubectl with nothing but the server, its CA and the token."""
    return subprocess.run([KUBECTL, "--kubeconfig", os.devnull, "--server", server.url,
                           "--certificate-authority", server.ca(), "--token", token] + list(args),
                          capture_output=True, text=True, timeout=60)


def create_token(server, ns, name, *extra):
    return server.kubectl("-n", ns, "create", "token", name, *extra).stdout.strip()


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


def get_json(server, *args):
    p = server.kubectl("get", "-o", "json", *args, check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def test_every_namespace_has_default_account_and_root_ca(server, ns):
    with open(server.ca()) as f:
        ca = f.read()
    for n in ("default", "kube-system", "kube-public", "kube-node-lease", ns):
        sa = get_json(server, "-n", n, "serviceaccount", "default")
        assert sa and sa["metadata"]["uid"], n
        cm = get_json(server, "-n", n, "configmap", "kube-root-ca.crt")
        assert cm["data"] == {"ca.crt": ca}, n
        assert "kube-apiserver" in cm["metadata"]["annotations"]["kubernetes.io/description"]
    # deleted while the namespace is active: they come back, as new objects
    old = get_json(server, "-n", ns, "serviceaccount", "default")["metadata"]["uid"]
    server.kubectl("-n", ns, "delete", "serviceaccount", "default")
    server.kubectl("-n", ns, "delete", "configmap", "kube-root-ca.crt")
    sa = wait_for(lambda: get_json(server, "-n", ns, "serviceaccount", "default"))
    assert sa and sa["metadata"]["uid"] != old
    assert wait_for(lambda: get_json(server, "-n", ns, "configmap", "kube-root-ca.crt"))
    # a changed CA bundle is put back
    server.kubectl("-n", ns, "patch", "configmap", "kube-root-ca.crt", "--type=merge", "-p",
                   '{"data":{"ca.crt":"forged"}}')
    assert wait_for(lambda: get_json(server, "-n", ns, "configmap",
                                     "kube-root-ca.crt")["data"]["ca.crt"] == ca)
    # and kubectl delete --all leaves them in place once the namespace is active
    server.kubectl("-n", ns, "delete", "serviceaccounts,configmaps", "--all")
    assert wait_for(lambda: get_json(server, "-n", ns, "serviceaccount", "default") and
                    get_json(server, "-n", ns, "configmap", "kube-root-ca.crt"))


def test_create_token_is_a_signed_jwt(server, ns, tmp_path):
    server.kubectl("-n", ns, "create", "serviceaccount", "robot")
    uid = get_json(server, "-n", ns, "serviceaccount", "robot")["metadata"]["uid"]
    before = int(time.time())
    token = create_token(server, ns, "robot")
    hdr, claims, sig = jwt_parts(token)
    assert hdr["alg"] == "RS256"
    assert claims["iss"] == ISSUER
    assert claims["sub"] == "system:serviceaccount:%s:robot" % ns
    assert claims["aud"] == [ISSUER, "k3s"]
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert before - 5 <= claims["iat"] <= time.time() + 5
    assert claims["jti"]
    assert claims["kubernetes.io"] == {"namespace": ns,
                                       "serviceaccount": {"name": "robot", "uid": uid}}
    # the signature and key id check out with openssl against service.key's public half
    key = os.path.join(server.data_dir, "server", "tls", "service.key")
    pub = tmp_path / "pub.pem"
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", str(pub)], check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(pub), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    assert hdr["kid"] == base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "data").write_bytes(token.rsplit(".", 1)[0].encode())
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature",
                        str(tmp_path / "sig"), str(tmp_path / "data")], capture_output=True, text=True)
    assert v.returncode == 0 and "Verified OK" in v.stdout
    # audiences and duration as asked
    t2 = create_token(server, ns, "robot", "--audience", "k3s", "--audience", "vault",
                      "--duration", "2h")
    c2 = jwt_parts(t2)[1]
    assert c2["aud"] == ["k3s", "vault"] and c2["exp"] - c2["iat"] == 7200


def test_token_authenticates_until_the_account_is_deleted(server, ns):
    server.kubectl("-n", ns, "create", "serviceaccount", "robot")
    token = create_token(server, ns, "robot")
    p = kubectl_with_token(server, token, "get", "--raw", "/api")
    assert p.returncode == 0 and json.loads(p.stdout)["kind"] == "APIVersions", p.stderr
    # it is the account: RBAC answers for it, and a binding gives it rights
    p = kubectl_with_token(server, token, "-n", ns, "get", "configmaps", "-o", "name")
    assert p.returncode == 1 and ('User "system:serviceaccount:%s:robot" cannot list' % ns) in p.stderr
    server.kubectl("-n", ns, "create", "rolebinding", "robot-view", "--clusterrole=view",
                   "--serviceaccount=%s:robot" % ns)
    p = kubectl_with_token(server, token, "-n", ns, "get", "configmaps", "-o", "name")
    assert p.returncode == 0 and "configmap/kube-root-ca.crt" in p.stdout, p.stderr
    assert with_token(server, token, "/api/v1/namespaces/%s/serviceaccounts" % ns) == 200
    # a forged or truncated token is refused
    h, pl, s = token.split(".")
    assert with_token(server, token[:-4], "/api") == 401
    forged = json.loads(b64url_decode(pl))
    forged["sub"] = "system:serviceaccount:kube-system:default"
    pl2 = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    assert with_token(server, "%s.%s.%s" % (h, pl2, s), "/api") == 401
    # deleting the account revokes it, also when one of the same name comes back
    server.kubectl("-n", ns, "delete", "serviceaccount", "robot")
    assert with_token(server, token, "/api") == 401
    p = kubectl_with_token(server, token, "get", "--raw", "/api")
    assert p.returncode != 0 and "Unauthorized" in p.stderr
    server.kubectl("-n", ns, "create", "serviceaccount", "robot")
    assert with_token(server, token, "/api") == 401
    assert with_token(server, create_token(server, ns, "robot"), "/api") == 200


def test_token_audience_must_be_the_apis(server, ns):
    assert with_token(server, create_token(server, ns, "default", "--audience", "k3s"), "/api") == 200
    assert with_token(server, create_token(server, ns, "default", "--audience", "vault"), "/api") == 401


def test_token_request_errors(server, ns):
    p = server.kubectl("-n", ns, "create", "token", "nobody", check=False)
    assert p.returncode != 0 and 'serviceaccounts "nobody" not found' in p.stderr
    p = server.kubectl("-n", ns, "create", "token", "default", "--duration", "5m", check=False)
    assert p.returncode != 0
    assert ('TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid '
            'value: 300: may not specify a duration less than 10 minutes') in p.stderr
    base = "/api/v1/namespaces/%s/serviceaccounts/default/token" % ns
    status, body = server.json("POST", base, {"apiVersion": "authentication.k8s.io/v1",
                                              "kind": "TokenRequest", "spec": {}})
    assert status == 201 and body["kind"] == "TokenRequest"
    assert body["spec"]["expirationSeconds"] == 3600 and body["spec"]["boundObjectRef"] is None
    assert body["status"]["token"].count(".") == 2 and body["status"]["expirationTimestamp"]
    status, body = server.json("POST", base, {"apiVersion": "authentication.k8s.io/v1",
                                              "kind": "TokenRequest", "metadata": {"name": "other"},
                                              "spec": {}})
    assert status == 422 and "must match the service account name" in body["message"]
    status, body = server.json("POST", base, {"apiVersion": "authentication.k8s.io/v1",
                                              "kind": "TokenRequest", "spec": {"boundObjectRef": {
                                                  "kind": "ConfigMap", "apiVersion": "v1",
                                                  "name": "kube-root-ca.crt"}}})
    assert status == 400 and body["message"] == "cannot bind token to object of type /v1, Kind=ConfigMap"
    # only POST: the account is not readable or writable through it
    status, body = server.json("GET", base)
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    status, body = server.json("PUT", base, {"apiVersion": "v1", "kind": "ServiceAccount",
                                             "metadata": {"name": "default"}})
    assert status == 405
    # discovery lists the subresource
    status, res = server.json("GET", "/api/v1")
    tok = [r for r in res["resources"] if r["name"] == "serviceaccounts/token"]
    assert tok and tok[0]["kind"] == "TokenRequest" and tok[0]["group"] == "authentication.k8s.io"


def test_python_client_token_request(server, ns):
    cfg = client.Configuration()
    config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        core = client.CoreV1Api(c)
        tr = core.create_namespaced_service_account_token(
            "default", ns, client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(audiences=["k3s"], expiration_seconds=1200)))
        assert tr.status.token and tr.spec.expiration_seconds == 1200
        assert with_token(server, tr.status.token, "/api") == 200


def test_bound_pod_token_dies_with_the_pod(server, ns):
    server.kubectl("-n", ns, "run", "p", "--image=busybox", "--restart=Never")
    pod = get_json(server, "-n", ns, "pod", "p")
    token = create_token(server, ns, "default", "--bound-object-kind", "Pod",
                         "--bound-object-name", "p")
    claims = jwt_parts(token)[1]
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": pod["metadata"]["uid"]}
    assert with_token(server, token, "/api") == 200
    # the projected-volume expiry (3607 s) gets kube-apiserver's one-year extension
    base = "/api/v1/namespaces/%s/serviceaccounts/default/token" % ns
    status, body = server.json("POST", base, {"apiVersion": "authentication.k8s.io/v1",
                                              "kind": "TokenRequest", "spec": {
                                                  "expirationSeconds": 3607, "boundObjectRef": {
                                                      "kind": "Pod", "apiVersion": "v1",
                                                      "name": "p", "uid": pod["metadata"]["uid"]}}})
    assert status == 201, body
    c = jwt_parts(body["status"]["token"])[1]
    assert c["exp"] - c["iat"] == 365 * 24 * 3600 and c["kubernetes.io"]["warnafter"] == c["iat"] + 3607
    # a wrong uid is a conflict; another account's token cannot bind to the pod
    status, body = server.json("POST", base, {"apiVersion": "authentication.k8s.io/v1",
                                              "kind": "TokenRequest", "spec": {"boundObjectRef": {
                                                  "kind": "Pod", "apiVersion": "v1", "name": "p",
                                                  "uid": "00000000-0000-0000-0000-000000000000"}}})
    assert status == 409 and "does not match the UID in record" in body["message"]
    server.kubectl("-n", ns, "create", "serviceaccount", "other")
    p = server.kubectl("-n", ns, "create", "token", "other", "--bound-object-kind", "Pod",
                       "--bound-object-name", "p", check=False)
    assert ('cannot bind token for serviceaccount "other" to pod running with serviceaccount '
            '"default"') in p.stderr
    p = server.kubectl("-n", ns, "create", "token", "default", "--bound-object-kind", "Pod",
                       "--bound-object-name", "nope", check=False)
    assert 'pods "nope" not found' in p.stderr
    server.kubectl("-n", ns, "delete", "pod", "p")
    assert with_token(server, token, "/api") == 401
    # the same name again is another pod
    server.kubectl("-n", ns, "run", "p", "--image=busybox", "--restart=Never")
    assert with_token(server, token, "/api") == 401


def test_bound_secret_token_dies_with_the_secret(server, ns):
    server.kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=a=b")
    token = create_token(server, ns, "default", "--bound-object-kind", "Secret",
                         "--bound-object-name", "s")
    assert jwt_parts(token)[1]["kubernetes.io"]["secret"]["name"] == "s"
    assert with_token(server, token, "/api") == 200
    server.kubectl("-n", ns, "delete", "secret", "s")
    assert with_token(server, token, "/api") == 401


def test_issuer_discovery(server, ns):
    token = create_token(server, ns, "default")
    status, hdrs, body = server.request("GET", "/.well-known/openid-configuration",
                                        headers={"Authorization": "Bearer " + token},
                                        client_cert=False)
    assert status == 200
    doc = json.loads(body)
    assert doc["issuer"] == ISSUER and doc["jwks_uri"].endswith("/openid/v1/jwks")
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    status, hdrs, body = server.request("GET", "/openid/v1/jwks")
    assert status == 200 and hdrs["Content-Type"] == "application/jwk-set+json"
    keys = json.loads(body)["keys"]
    assert len(keys) == 1 and keys[0]["kid"] == jwt_parts(token)[0]["kid"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["e"] == "AQAB"
    # not for anonymous callers
    assert server.request("GET", "/openid/v1/jwks", client_cert=False)[0] == 401


def pod_spec(server, ns, name):
    return get_json(server, "-n", ns, "pod", name)["spec"]


def test_pod_gets_service_account_and_token_volume(server, ns):
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "a", "image": "busybox"},
                       {"name": "b", "image": "busybox",
                        "volumeMounts": [{"name": "own", "mountPath": MOUNT}]}],
        "volumes": [{"name": "own", "emptyDir": {}}]}}
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(manifest))
    spec = pod_spec(server, ns, "web")
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    vols = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(vols) == 1 and len(vols[0]["name"]) == len("kube-api-access-") + 5
    assert vols[0]["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": vols[0]["name"], "readOnly": True, "mountPath": MOUNT}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    # a container that mounts the path itself keeps its own mount
    assert spec["containers"][1]["volumeMounts"] == [{"name": "own", "mountPath": MOUNT}]


def test_automount_off_and_missing_account(server, ns):
    server.kubectl("-n", ns, "run", "off", "--image=busybox", "--restart=Never",
                   "--overrides", '{"spec":{"automountServiceAccountToken":false}}')
    spec = pod_spec(server, ns, "off")
    assert spec["serviceAccountName"] == "default" and not spec.get("volumes")
    assert "volumeMounts" not in spec["containers"][0]
    # the account's choice, unless the pod says otherwise; its imagePullSecrets are copied
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
        "automountServiceAccountToken": False, "imagePullSecrets": [{"name": "regcred"}]}))
    server.kubectl("-n", ns, "run", "q1", "--image=busybox", "--restart=Never",
                   "--overrides", '{"spec":{"serviceAccountName":"quiet"}}')
    spec = pod_spec(server, ns, "q1")
    assert spec["serviceAccountName"] == "quiet" and not spec.get("volumes")
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    server.kubectl("-n", ns, "run", "q2", "--image=busybox", "--restart=Never", "--overrides",
                   '{"spec":{"serviceAccountName":"quiet","automountServiceAccountToken":true}}')
    assert [v for v in pod_spec(server, ns, "q2")["volumes"]
            if v["name"].startswith("kube-api-access-")]
    # an account that does not exist: 403, as the admission plugin answers
    p = server.kubectl("-n", ns, "run", "x", "--image=busybox", "--restart=Never",
                       "--overrides", '{"spec":{"serviceAccountName":"ghost"}}', check=False)
    assert p.returncode != 0
    assert ('pods "x" is forbidden: error looking up service account %s/ghost: '
            'serviceaccount "ghost" not found' % ns) in p.stderr
    status, body = server.json("POST", "/api/v1/namespaces/%s/pods" % ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "y"},
        "spec": {"serviceAccountName": "ghost", "containers": [{"name": "c", "image": "busybox"}]}})
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["details"] == {"name": "y", "kind": "pods"}


def test_tokens_survive_a_restart(fresh_server):
    s = fresh_server.start()
    token = s.kubectl("create", "token", "default").stdout.strip()
    key = open(os.path.join(s.data_dir, "server", "tls", "service.key")).read()
    s.stop()
    s.start()
    assert open(os.path.join(s.data_dir, "server", "tls", "service.key")).read() == key
    assert with_token(s, token, "/api") == 200


def test_legacy_token_secret(server, ns):
    server.kubectl("-n", ns, "create", "serviceaccount", "ci")
    uid = get_json(server, "-n", ns, "serviceaccount", "ci")["metadata"]["uid"]
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "ci-token", "annotations": {"kubernetes.io/service-account.name": "ci"}}}))
    sec = wait_for(lambda: (get_json(server, "-n", ns, "secret", "ci-token") or {}).get("data", {}).get("token")
                   and get_json(server, "-n", ns, "secret", "ci-token"))
    assert sec["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == uid
    with open(server.ca(), "rb") as f:
        assert base64.b64decode(sec["data"]["ca.crt"]) == f.read()
    assert base64.b64decode(sec["data"]["namespace"]).decode() == ns
    token = base64.b64decode(sec["data"]["token"]).decode()
    claims = jwt_parts(token)[1]
    assert claims == {"iss": "kubernetes/serviceaccount",
                      "kubernetes.io/serviceaccount/namespace": ns,
                      "kubernetes.io/serviceaccount/secret.name": "ci-token",
                      "kubernetes.io/serviceaccount/service-account.name": "ci",
                      "kubernetes.io/serviceaccount/service-account.uid": uid,
                      "sub": "system:serviceaccount:%s:ci" % ns}
    p = kubectl_with_token(server, token, "auth", "whoami", "-o", "json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:%s:ci" % ns and info["uid"] == uid
    # its use is tracked by day; a secret marked invalid stops it until the label goes
    labels = get_json(server, "-n", ns, "secret", "ci-token")["metadata"]["labels"]
    assert labels["kubernetes.io/legacy-token-last-used"] == time.strftime("%Y-%m-%d", time.gmtime())
    server.kubectl("-n", ns, "label", "secret", "ci-token",
                   "kubernetes.io/legacy-token-invalid-since=2026-01-01")
    assert with_token(server, token, "/api") == 401
    server.kubectl("-n", ns, "label", "secret", "ci-token", "kubernetes.io/legacy-token-invalid-since-")
    assert with_token(server, token, "/api") == 200
    # a token the secret no longer holds is refused
    server.kubectl("-n", ns, "patch", "secret", "ci-token", "--type=merge", "-p",
                   '{"data":{"token":"%s"}}' % base64.b64encode(b"other").decode())
    assert with_token(server, token, "/api") == 401
    # the account's deletion takes its token secrets with it
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "ci-2", "annotations": {"kubernetes.io/service-account.name": "ci"}}}))
    sec = wait_for(lambda: (get_json(server, "-n", ns, "secret", "ci-2") or {}).get("data", {}).get("token")
                   and get_json(server, "-n", ns, "secret", "ci-2"))
    token = base64.b64decode(sec["data"]["token"]).decode()
    assert with_token(server, token, "/api") == 200
    server.kubectl("-n", ns, "delete", "serviceaccount", "ci")
    assert with_token(server, token, "/api") == 401
    assert wait_for(lambda: get_json(server, "-n", ns, "secret", "ci-2") is None)
    # a secret for an account that does not exist is removed
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "orphan", "annotations": {"kubernetes.io/service-account.name": "nobody"}}}))
    assert wait_for(lambda: get_json(server, "-n", ns, "secret", "orphan") is None)


def test_pod_on_a_node_and_graceful_deletion(server, ns):
    node = "sa-node-" + ns[-20:].strip("-")
    server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}))
    try:
        node_uid = get_json(server, "node", node)["metadata"]["uid"]
        server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}))
        token = create_token(server, ns, "default", "--bound-object-kind", "Pod",
                             "--bound-object-name", "p")
        k8s = jwt_parts(token)[1]["kubernetes.io"]
        assert k8s["node"] == {"name": node, "uid": node_uid} and k8s["pod"]["name"] == "p"
        # a pod shutting down gracefully keeps API access, as in Kubernetes (its
        # deletionTimestamp is in the future); it ends once the pod is gone
        server.kubectl("-n", ns, "delete", "pod", "p", "--wait=false")
        assert get_json(server, "-n", ns, "pod", "p")["metadata"]["deletionTimestamp"]
        assert with_token(server, token, "/api") == 200
        server.kubectl("-n", ns, "delete", "pod", "p", "--grace-period=0", "--force")
        assert with_token(server, token, "/api") == 401
    finally:
        server.kubectl("delete", "node", node, check=False)


def test_deprecated_service_account_field_mirrors(server, ns):
    server.kubectl("-n", ns, "create", "serviceaccount", "app")
    # the old name alone is read as serviceAccountName
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "old"},
        "spec": {"serviceAccount": "app", "containers": [{"name": "c", "image": "busybox"}]}}))
    spec = pod_spec(server, ns, "old")
    assert spec["serviceAccountName"] == "app" and spec["serviceAccount"] == "app"
    # an update that leaves the deprecated field out is the same pod
    pod = get_json(server, "-n", ns, "pod", "old")
    del pod["spec"]["serviceAccount"]
    pod["metadata"]["labels"] = {"x": "y"}
    server.kubectl("-n", ns, "replace", "-f", "-", input=json.dumps(pod))
    assert pod_spec(server, ns, "old")["serviceAccount"] == "app"
    # pod templates show both too
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"serviceAccountName": "app", "containers": [{"name": "c", "image": "busybox"}]}}}}))
    t = get_json(server, "-n", ns, "deployment", "d")["spec"]["template"]["spec"]
    assert t["serviceAccount"] == "app" and "volumes" not in t


def test_node_bound_token_dies_with_the_node(server, ns):
    node = "sa-bound-" + ns[-20:].strip("-")
    server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}))
    try:
        uid = get_json(server, "node", node)["metadata"]["uid"]
        token = create_token(server, ns, "default", "--bound-object-kind", "Node",
                             "--bound-object-name", node)
        k8s = jwt_parts(token)[1]["kubernetes.io"]
        assert k8s["node"] == {"name": node, "uid": uid} and "pod" not in k8s
        assert with_token(server, token, "/api") == 200
    finally:
        server.kubectl("delete", "node", node, check=False)
    assert with_token(server, token, "/api") == 401


def test_token_user_info_reaches_a_csr(server, ns, tmp_path):
    """A CSR records its requester: name, uid, groups and the token's extra."""
    server.kubectl("-n", ns, "run", "p", "--image=busybox", "--restart=Never")
    pod_uid = get_json(server, "-n", ns, "pod", "p")["metadata"]["uid"]
    sa_uid = get_json(server, "-n", ns, "serviceaccount", "default")["metadata"]["uid"]
    token = create_token(server, ns, "default", "--bound-object-kind", "Pod", "--bound-object-name", "p")
    key, csr = str(tmp_path / "k.pem"), str(tmp_path / "r.csr")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=x"],
                   check=True, capture_output=True)
    name = "csr-" + ns[-40:].strip("-")
    # RBAC: let the account create CSRs
    server.kubectl("create", "clusterrole", name, "--verb=create",
                   "--resource=certificatesigningrequests.certificates.k8s.io")
    server.kubectl("create", "clusterrolebinding", name, "--clusterrole", name,
                   "--serviceaccount", "%s:default" % ns)
    with open(csr, "rb") as f:
        body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"name": name},
                "spec": {"request": base64.b64encode(f.read()).decode(), "username": "forged",
                         "signerName": "example.com/x", "usages": ["digital signature"]}}
    status, hdrs, data = server.request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                                        body, headers={"Authorization": "Bearer " + token},
                                        client_cert=False)
    try:
        assert status == 201, data
        spec = json.loads(data)["spec"]
        assert spec["username"] == "system:serviceaccount:%s:default" % ns and spec["uid"] == sa_uid
        assert spec["groups"] == ["system:serviceaccounts", "system:serviceaccounts:" + ns,
                                  "system:authenticated"]
        assert spec["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
        assert spec["extra"]["authentication.kubernetes.io/pod-uid"] == [pod_uid]
        assert spec["extra"]["authentication.kubernetes.io/credential-id"] == [
            "JTI=" + jwt_parts(token)[1]["jti"]]
        # kubectl auth whoami (SelfSubjectReview) and TokenReview report the same user
        p = kubectl_with_token(server, token, "auth", "whoami", "-o", "json")
        info = json.loads(p.stdout)["status"]["userInfo"]
        assert info["uid"] == sa_uid and info["extra"] == spec["extra"]
        status, tr = server.json("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
        assert status == 201 and tr["status"]["authenticated"]
        assert tr["status"]["user"]["extra"] == spec["extra"]
    finally:
        server.kubectl("delete", "csr", name, "--ignore-not-found", check=False)
        server.kubectl("delete", "clusterrolebinding,clusterrole", name, "--ignore-not-found",
                       check=False)


def test_server_side_apply_create_is_admitted_as_a_create(server, ns):
    manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: ssa}\nspec: {containers: [{name: c, image: busybox}]}\n"
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=manifest)
    spec = pod_spec(server, ns, "ssa")
    assert spec["serviceAccountName"] == "default"
    assert [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    # applying it again is an update: the admission defaults stay as they are
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=manifest)
    assert pod_spec(server, ns, "ssa")["volumes"] == spec["volumes"]
    p = server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", check=False,
                       input=manifest.replace("name: ssa", "name: ghost").replace(
                           "spec: {", "spec: {serviceAccountName: ghost, "))
    assert 'error looking up service account %s/ghost' % ns in p.stderr
