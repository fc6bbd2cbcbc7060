"""certificates.k8s.io/v1 CertificateSigningRequests: a new user makes a key and a CSR with
openssl, the admin approves it with `kubectl certificate approve`, the user builds a
kubeconfig from status.certificate and is authenticated as that user; denial, signer
checks, validation, the approval subresource and the Table columns."""
import base64
import json
import os
import subprocess
import time

import pytest

from conftest import KUBECTL


def openssl(*args, **kw):
    return subprocess.run(["openssl"] + list(args), check=True, capture_output=True, text=True, **kw)


def make_csr(tmp, name, subj, ec=False, san=None):
    key = os.path.join(tmp, name + ".key")
    csr = os.path.join(tmp, name + ".csr")
    if ec:
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    else:
        openssl("genrsa", "-out", key, "2048")
    openssl("req", "-new", "-key", key, "-out", csr, "-subj", subj,
            *(["-addext", "subjectAltName=" + san] if san else []))
    with open(csr, "rb") as f:
        return key, base64.b64encode(f.read()).decode()


def csr_manifest(name, request, signer="kubernetes.io/kube-apiserver-client",
                 usages=("client auth",), **spec):
    s = {"request": request, "signerName": signer, "usages": list(usages)}
    s.update(spec)
    return json.dumps({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                       "metadata": {"name": name}, "spec": s})


def get_csr(server, name):
    return json.loads(server.kubectl("get", "csr", name, "-o", "json").stdout)


def wait_cert(server, name, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        o = get_csr(server, name)
        if o["status"].get("certificate"):
            return o
        time.sleep(0.05)
    return get_csr(server, name)


@pytest.fixture
def cleanup(server):
    names = []
    yield names
    for n in names:
        server.kubectl("delete", "csr", n, "--ignore-not-found", check=False)


def test_new_user_gets_a_kubeconfig(server, tmp_path, cleanup):
    tmp = str(tmp_path)
    cleanup += ["jane", "jane-2"]
    key, req = make_csr(tmp, "jane", "/CN=jane/O=devs/O=qa")
    server.kubectl("create", "-f", "-", input=csr_manifest("jane", req, expirationSeconds=86400))
    o = get_csr(server, "jane")
    # the requester is the admin, whatever the body claims
    assert o["spec"]["username"] == "system:admin"
    assert o["spec"]["groups"] == ["system:masters", "system:authenticated"]
    assert o["status"] == {}
    out = server.kubectl("get", "csr", "jane").stdout.splitlines()
    assert out[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION",
                              "CONDITION"]
    assert out[1].split()[2:] == ["kubernetes.io/kube-apiserver-client", "system:admin", "24h",
                                  "Pending"]
    p = server.kubectl("certificate", "approve", "jane")
    assert "certificatesigningrequest.certificates.k8s.io/jane approved" in p.stdout
    o = wait_cert(server, "jane")
    cond = o["status"]["conditions"]
    assert [(c["type"], c["status"], c["reason"]) for c in cond] == [("Approved", "True",
                                                                      "KubectlApprove")]
    assert cond[0]["lastUpdateTime"] and cond[0]["lastTransitionTime"]
    assert server.kubectl("get", "csr", "jane").stdout.split()[-1] == "Approved,Issued"
    crt = os.path.join(tmp, "jane.crt")
    with open(crt, "wb") as f:
        f.write(base64.b64decode(o["status"]["certificate"]))
    # a client certificate from the client CA for the request's subject and lifetime
    tls = os.path.join(server.data_dir, "server", "tls")
    assert "OK" in openssl("verify", "-CAfile", os.path.join(tls, "client-ca.crt"), crt).stdout
    text = openssl("x509", "-in", crt, "-noout", "-subject", "-ext",
                   "extendedKeyUsage,basicConstraints").stdout
    assert "CN = jane" in text and "O = devs" in text and "O = qa" in text
    assert "TLS Web Client Authentication" in text and "CA:FALSE" in text
    end = openssl("x509", "-in", crt, "-noout", "-enddate").stdout.strip().split("=", 1)[1]
    not_after = time.mktime(time.strptime(end, "%b %d %H:%M:%S %Y GMT")) - time.timezone
    assert abs(not_after - (time.time() + 86400)) < 120
    # the user's own kubeconfig
    kc = os.path.join(tmp, "jane.kubeconfig")
    env = dict(os.environ, KUBECONFIG=kc, HOME=tmp)

    def k(*args, **kw):
        return subprocess.run([KUBECTL] + list(args), capture_output=True, text=True, env=env,
                              timeout=60, **kw)
    assert k("config", "set-cluster", "k1s", "--server", server.url, "--certificate-authority",
             server.ca(), "--embed-certs").returncode == 0
    assert k("config", "set-credentials", "jane", "--client-certificate", crt, "--client-key", key,
             "--embed-certs").returncode == 0
    assert k("config", "set-context", "jane", "--cluster", "k1s", "--user", "jane").returncode == 0
    assert k("config", "use-context", "jane").returncode == 0
    # she is authenticated as jane, with no rights of her own yet
    p = k("get", "namespaces", "-o", "name")
    assert p.returncode == 1 and 'User "jane" cannot list resource "namespaces"' in p.stderr
    who = k("auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == "jane"
    assert info["groups"] == ["devs", "qa", "system:authenticated"]
    # the admin lets her read, and send CSRs
    server.kubectl("create", "clusterrolebinding", "jane-view", "--clusterrole=view", "--user=jane")
    server.kubectl("create", "clusterrolebinding", "jane-csr",
                   "--clusterrole=system:node-bootstrapper", "--user=jane")
    try:
        p = k("get", "namespaces", "-o", "name")
        assert p.returncode == 0 and "namespace/default" in p.stdout, p.stderr
        # a CSR she creates records her as its requester
        _, req2 = make_csr(tmp, "jane-2", "/CN=jane")
        p = k("create", "-f", "-", input=csr_manifest("jane-2", req2))
        assert p.returncode == 0, p.stderr
        o = get_csr(server, "jane-2")
        assert o["spec"]["username"] == "jane"
        assert o["spec"]["groups"] == ["devs", "qa", "system:authenticated"]
    finally:
        server.kubectl("delete", "clusterrolebinding", "jane-view", "jane-csr", check=False)


def test_denied_failed_and_kubelet_requests(server, tmp_path, cleanup):
    tmp = str(tmp_path)
    cleanup += ["no", "node-ok", "node-bad", "usage-bad"]
    _, req = make_csr(tmp, "u", "/CN=someone")
    server.kubectl("create", "-f", "-", input=csr_manifest("no", req))
    server.kubectl("certificate", "deny", "no")
    time.sleep(0.3)
    o = get_csr(server, "no")
    assert [c["type"] for c in o["status"]["conditions"]] == ["Denied"]
    assert "certificate" not in o["status"]
    assert server.kubectl("get", "csr", "no").stdout.split()[-1] == "Denied"
    p = server.kubectl("certificate", "approve", "no", check=False)
    assert p.returncode != 0 and 'is already Denied' in p.stderr

    # the kubelet signer: only system:node:* in system:nodes, with the kubelet usages
    _, nreq = make_csr(tmp, "n", "/CN=system:node:edge-1/O=system:nodes", ec=True)
    usages = ("digital signature", "client auth")
    kubelet = "kubernetes.io/kube-apiserver-client-kubelet"
    server.kubectl("create", "-f", "-", input=csr_manifest("node-ok", nreq, kubelet, usages))
    server.kubectl("create", "-f", "-", input=csr_manifest("node-bad", req, kubelet, usages))
    server.kubectl("create", "-f", "-", input=csr_manifest("usage-bad", req,
                                                           usages=("client auth", "server auth")))
    server.kubectl("certificate", "approve", "node-ok", "node-bad", "usage-bad")
    o = wait_cert(server, "node-ok")
    crt = os.path.join(tmp, "n.crt")
    with open(crt, "wb") as f:
        f.write(base64.b64decode(o["status"]["certificate"]))
    text = openssl("x509", "-in", crt, "-noout", "-subject", "-ext", "keyUsage").stdout
    assert "CN = system:node:edge-1" in text and "Digital Signature" in text

    def failed(name):
        deadline = time.time() + 10
        while time.time() < deadline:
            o = get_csr(server, name)
            f = [c for c in o["status"].get("conditions", []) if c["type"] == "Failed"]
            if f:
                return o, f[0]
            time.sleep(0.05)
        raise AssertionError("no Failed condition on " + name)
    o, f = failed("node-bad")
    assert f["reason"] == "SignerValidationFailure" and f["status"] == "True"
    assert f["message"] == "subject organization is not system:nodes"
    assert "certificate" not in o["status"]
    o, f = failed("usage-bad")
    assert f["message"] == "invalid usage for client certificate: server auth"
    assert server.kubectl("get", "csr", "usage-bad").stdout.split()[-1] == "Approved,Failed"


def test_validation(server, tmp_path):
    p = server.kubectl("create", "-f", "-", check=False, input=csr_manifest(
        "bad", base64.b64encode(b"hello").decode(), signer="nodomain", usages=("client auth", "x"),
        expirationSeconds=60))
    assert p.returncode != 0
    err = p.stderr
    assert 'The CertificateSigningRequest "bad" is invalid' in err
    assert ("spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f}: PEM block type "
            "must be CERTIFICATE REQUEST") in err
    assert 'spec.usages[1]: Unsupported value: "x"' in err
    assert "spec.signerName: Invalid value: \"nodomain\"" in err
    assert ("spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 "
            "seconds (10 minutes)") in err
    _, req = make_csr(str(tmp_path), "v", "/CN=v")
    p = server.kubectl("create", "-f", "-", check=False,
                       input=csr_manifest("bad", req, signer="", usages=()))
    assert "spec.usages: Required value" in p.stderr and "spec.signerName: Required value" in p.stderr


def test_approval_subresource_changes_only_conditions(server, tmp_path, cleanup):
    cleanup.append("sub")
    _, req = make_csr(str(tmp_path), "s", "/CN=sub")
    server.kubectl("create", "-f", "-", input=csr_manifest(
        "sub", req, signer="example.com/custom", usages=("digital signature",)))
    o = get_csr(server, "sub")
    path = "/apis/certificates.k8s.io/v1/certificatesigningrequests/sub"
    o["spec"]["username"] = "mallory"
    o["status"]["certificate"] = base64.b64encode(b"nope").decode()
    o["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "Test"}]
    status, body = server.json("PUT", path + "/approval", o)
    assert status == 200, body
    assert body["spec"]["username"] == "system:admin" and "certificate" not in body["status"]
    assert body["status"]["conditions"][0]["reason"] == "Test"
    assert body["status"]["conditions"][0]["lastTransitionTime"]
    # a custom signer's request is left for its signer
    time.sleep(0.3)
    assert "certificate" not in get_csr(server, "sub")["status"]
    # Approved cannot be removed, nor Denied added next to it
    o = get_csr(server, "sub")
    o["status"]["conditions"] = []
    status, body = server.json("PUT", path + "/approval", o)
    assert status == 422 and 'updates may not remove a condition of type \\"Approved\\"' in json.dumps(body)
    o["status"]["conditions"] = [{"type": "Approved", "status": "True"},
                                 {"type": "Denied", "status": "True"}]
    status, body = server.json("PUT", path + "/approval", o)
    assert status == 422 and "Approved and Denied conditions are mutually exclusive" in body["message"]
    # the main resource keeps spec and status; the status subresource keeps Approved
    o = get_csr(server, "sub")
    o["spec"]["usages"] = ["client auth"]
    o["status"]["conditions"] = []
    status, body = server.json("PUT", path, o)
    assert status == 200 and body["spec"]["usages"] == ["digital signature"]
    assert [c["type"] for c in body["status"]["conditions"]] == ["Approved"]
    o = get_csr(server, "sub")
    o["status"]["conditions"] = [{"type": "Failed", "status": "True", "reason": "Custom"}]
    status, body = server.json("PUT", path + "/status", o)
    assert status == 200
    assert sorted(c["type"] for c in body["status"]["conditions"]) == ["Approved", "Failed"]
    # discovery
    status, res = server.json("GET", "/apis/certificates.k8s.io/v1")
    names = {r["name"] for r in res["resources"]}
    assert {"certificatesigningrequests", "certificatesigningrequests/approval",
            "certificatesigningrequests/status"} <= names


def test_kubelet_serving_signer_uses_the_server_ca(server, tmp_path, cleanup):
    tmp = str(tmp_path)
    cleanup += ["serving-ok", "serving-nosan"]
    serving = "kubernetes.io/kubelet-serving"
    usages = ("digital signature", "key encipherment", "server auth")
    _, req = make_csr(tmp, "s", "/CN=system:node:edge-1/O=system:nodes",
                      san="DNS:edge-1,IP:10.0.0.5")
    _, nosan = make_csr(tmp, "t", "/CN=system:node:edge-1/O=system:nodes")
    server.kubectl("create", "-f", "-", input=csr_manifest("serving-ok", req, serving, usages))
    server.kubectl("create", "-f", "-", input=csr_manifest("serving-nosan", nosan, serving, usages))
    # the signer is a field selector
    out = server.kubectl("get", "csr", "--field-selector", "spec.signerName=" + serving,
                         "-o", "name").stdout.split()
    assert sorted(out) == ["certificatesigningrequest.certificates.k8s.io/serving-nosan",
                           "certificatesigningrequest.certificates.k8s.io/serving-ok"]
    server.kubectl("certificate", "approve", "serving-ok", "serving-nosan")
    o = wait_cert(server, "serving-ok")
    crt = os.path.join(tmp, "s.crt")
    with open(crt, "wb") as f:
        f.write(base64.b64decode(o["status"]["certificate"]))
    assert "OK" in openssl("verify", "-CAfile", server.ca(), crt).stdout
    text = openssl("x509", "-in", crt, "-noout", "-ext",
                   "subjectAltName,extendedKeyUsage,keyUsage").stdout
    assert "DNS:edge-1" in text and "IP Address:10.0.0.5" in text
    assert "TLS Web Server Authentication" in text and "Key Encipherment" in text
    deadline = time.time() + 10
    while time.time() < deadline:
        conds = get_csr(server, "serving-nosan")["status"].get("conditions", [])
        if any(c["type"] == "Failed" for c in conds):
            break
        time.sleep(0.05)
    assert [c["message"] for c in conds if c["type"] == "Failed"] == [
        "DNS or IP subjectAltName is required"]
    # the legacy signer cannot be asked for through v1
    p = server.kubectl("create", "-f", "-", check=False, input=csr_manifest(
        "legacy", req, "kubernetes.io/legacy-unknown"))
    assert "the legacy signerName is not allowed via this API version" in p.stderr


def test_certificate_admission_plugins(server, ns, tmp_path, cleanup):
    tmp = str(tmp_path)
    # CertificateSubjectRestriction: no client certificate for system:masters
    _, req = make_csr(tmp, "m", "/CN=root/O=system:masters")
    p = server.kubectl("create", "-f", "-", check=False, input=csr_manifest("masters", req))
    assert p.returncode != 0
    assert ('certificatesigningrequests.certificates.k8s.io "masters" is forbidden: use of '
            'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed'
            ) in p.stderr
    # CertificateApproval: approving needs "approve" on the signer, not just the subresource
    role = "csr-approver-" + ns[-30:].strip("-")
    cleanup.append("needs-approver")
    _, req = make_csr(tmp, "a", "/CN=someone")
    server.kubectl("create", "-f", "-", input=csr_manifest("needs-approver", req))
    server.kubectl("create", "serviceaccount", "approver", "-n", ns)
    server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": role},
        "rules": [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
                   "verbs": ["get", "list"]},
                  {"apiGroups": ["certificates.k8s.io"],
                   "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]}]}))
    server.kubectl("create", "clusterrolebinding", role, "--clusterrole", role,
                   "--serviceaccount", "%s:approver" % ns)
    try:
        token = server.kubectl("-n", ns, "create", "token", "approver").stdout.strip()
        base = [KUBECTL, "--kubeconfig", os.devnull, "--server", server.url,
                "--certificate-authority", server.ca(), "--token", token]
        p = subprocess.run(base + ["certificate", "approve", "needs-approver"], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode != 0
        assert ('user not permitted to approve requests with signerName '
                '"kubernetes.io/kube-apiserver-client"') in p.stderr
        assert not get_csr(server, "needs-approver")["status"].get("conditions")
        # the domain wildcard is enough
        server.kubectl("patch", "clusterrole", role, "--type=json", "-p", json.dumps([
            {"op": "add", "path": "/rules/-", "value": {
                "apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                "resourceNames": ["kubernetes.io/*"], "verbs": ["approve"]}}]))
        deadline = time.time() + 10
        while True:
            p = subprocess.run(base + ["certificate", "approve", "needs-approver"],
                               capture_output=True, text=True, timeout=60)
            if p.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert p.returncode == 0, p.stderr
        assert wait_cert(server, "needs-approver")["status"]["certificate"]
        # CertificateSigning: writing a certificate into status needs "sign", even for a
        # user who may update the status subresource
        cleanup.append("needs-signer")
        server.kubectl("create", "-f", "-", input=csr_manifest(
            "needs-signer", req, signer="example.com/custom", usages=("digital signature",)))
        server.kubectl("certificate", "approve", "needs-signer")
        server.kubectl("patch", "clusterrole", role, "--type=json", "-p", json.dumps([
            {"op": "add", "path": "/rules/-", "value": {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["certificatesigningrequests/status"], "verbs": ["update"]}}]))
        o = get_csr(server, "needs-signer")
        o["status"]["certificate"] = base64.b64encode(b"x").decode()
        path = "/apis/certificates.k8s.io/v1/certificatesigningrequests/needs-signer/status"
        deadline = time.time() + 10
        while True:
            status, hdrs, body = server.request("PUT", path, o, client_cert=False,
                                                headers={"Authorization": "Bearer " + token})
            msg = json.loads(body)["message"]
            if "cannot update resource" not in msg or time.time() > deadline:
                break
            time.sleep(0.1)
        assert status == 403 and msg == (
            'certificatesigningrequests.certificates.k8s.io "needs-signer" is forbidden: user not '
            'permitted to sign requests with signerName "example.com/custom"')
        # the admin (system:masters) may
        status, body = server.json("PUT", path, o)
        assert status == 200 and body["status"]["certificate"] == o["status"]["certificate"]
    finally:
        server.kubectl("delete", "clusterrolebinding,clusterrole", role, "--ignore-not-found",
                       check=False)
