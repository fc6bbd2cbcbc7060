"""RBAC, the Node authorizer, NodeRestriction, access reviews and impersonation,
driven with kubectl and plain HTTPS as users whose client certificates the test
signs with the cluster's client CA (openssl)."""
import json
import os
import ssl
import subprocess
import time
import urllib.request

import pytest


def make_user(server, name, groups=()):
    """A kubeconfig for a client certificate with CN=name and O=groups; returns its path."""
    tls = os.path.join(server.data_dir, "server", "tls")
    d = os.path.join(server.tmp, "users", name.replace(":", "_"))
    os.makedirs(d, exist_ok=True)
    key, csr, crt = (os.path.join(d, f) for f in ("u.key", "u.csr", "u.crt"))
    subj = "".join("/O=%s" % g for g in groups) + "/CN=%s" % name
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", subj], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(tls, "client-ca.crt"),
                    "-CAkey", os.path.join(tls, "client-ca.key"), "-CAcreateserial", "-days", "2",
                    "-out", crt, "-extfile", "/dev/stdin"], input=b"extendedKeyUsage=clientAuth\n",
                   check=True, capture_output=True)
    kc = os.path.join(d, "kubeconfig")
    with open(kc, "w") as f:
        f.write("""apiVersion: v1
kind: Config
clusters:
- name: k1s
  cluster: {server: "%s", certificate-authority: "%s"}
users:
- name: u
  user: {client-certificate: "%s", client-key: "%s"}
contexts:
- name: u
  context: {cluster: k1s, user: u}
current-context: u
""" % (server.url, server.ca(), crt, key))
    return kc


def as_user(server, kc, *args, check=True, input=None):
    """kubectl with the user's kubeconfig (a private cache directory per user)."""
    env = dict(os.environ, KUBECONFIG=kc, HOME=os.path.dirname(kc))
    p = subprocess.run([server.kubectl_binary or "kubectl"] + list(args), capture_output=True,
                       text=True, env=env, input=input, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("kubectl %s failed (%d): %s%s" % (" ".join(args), p.returncode,
                                                                p.stdout, p.stderr))
    return p


def user_request(server, kc, method, path, body=None):
    """Plain HTTPS with the user's certificate; returns (status, parsed JSON)."""
    d = os.path.dirname(kc)
    ctx = ssl.create_default_context(cafile=server.ca())
    ctx.load_cert_chain(os.path.join(d, "u.crt"), os.path.join(d, "u.key"))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def alice(server):
    return make_user(server, "alice", ["devs"])


def bind_view(server, ns, user="alice"):
    server.kubectl("create", "rolebinding", "view-%s" % user, "--clusterrole=view",
                   "--user=%s" % user, "-n", ns)


def test_default_roles_are_reconciled(server):
    out = json.loads(server.kubectl("get", "clusterroles", "-o", "json").stdout)
    roles = {r["metadata"]["name"]: r for r in out["items"]}
    for name in ["cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user",
                 "system:public-info-viewer", "system:node", "system:node-proxier",
                 "system:kube-scheduler", "system:kube-controller-manager", "system:volume-scheduler",
                 "system:kube-dns", "system:auth-delegator",
                 "system:certificates.k8s.io:kube-apiserver-client-approver",
                 "system:controller:deployment-controller", "system:controller:namespace-controller"]:
        assert name in roles, name
        meta = roles[name]["metadata"]
        assert meta["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
        assert meta["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    # view, edit and admin are aggregated from the system:aggregate-to-* roles and each other
    def grants(role, verb, resource, group=""):
        return any(verb in r.get("verbs", []) and group in r.get("apiGroups", [])
                   and resource in r.get("resources", []) for r in roles[role].get("rules") or [])
    assert grants("view", "list", "pods")
    assert not grants("view", "create", "pods")
    assert grants("edit", "create", "pods") and grants("edit", "list", "pods")
    assert grants("admin", "create", "rolebindings", "rbac.authorization.k8s.io")
    assert grants("admin", "create", "deployments", "apps")
    crbs = json.loads(server.kubectl("get", "clusterrolebindings", "-o", "json").stdout)
    crb = {b["metadata"]["name"]: b for b in crbs["items"]}
    assert crb["cluster-admin"]["subjects"] == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}]
    assert crb["system:controller:deployment-controller"]["subjects"][0] == {
        "kind": "ServiceAccount", "name": "deployment-controller", "namespace": "kube-system"}
    rb = json.loads(server.kubectl("get", "rolebinding", "-n", "kube-system",
                                   "system::leader-locking-kube-scheduler", "-o", "json").stdout)
    assert rb["roleRef"]["kind"] == "Role"


def test_view_user_lists_in_its_namespace_only(server, ns, alice):
    server.kubectl("create", "configmap", "c1", "-n", ns)
    p = as_user(server, alice, "get", "configmaps", "-n", ns, check=False)
    assert p.returncode == 1
    assert ('configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" '
            'in the namespace "%s"' % ns) in p.stderr
    bind_view(server, ns)
    deadline = time.time() + 5
    while True:
        p = as_user(server, alice, "get", "configmaps", "-n", ns, check=False)
        if p.returncode == 0 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert p.returncode == 0, p.stderr
    assert "c1" in p.stdout
    # elsewhere: 403 with Kubernetes' message
    p = as_user(server, alice, "get", "pods", "-n", "kube-system", check=False)
    assert p.returncode == 1
    assert ('Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
            '"pods" in API group "" in the namespace "kube-system"') in p.stderr
    p = as_user(server, alice, "get", "nodes", check=False)
    assert ('nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the '
            'cluster scope') in p.stderr
    # writes in its own namespace: 403 too
    p = as_user(server, alice, "create", "configmap", "c2", "-n", ns, check=False)
    assert p.returncode == 1
    assert ('configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group '
            '"" in the namespace "%s"' % ns) in p.stderr
    p = as_user(server, alice, "delete", "configmap", "c1", "-n", ns, check=False)
    assert ('configmaps "c1" is forbidden: User "alice" cannot delete resource "configmaps" in API '
            'group "" in the namespace "%s"' % ns) in p.stderr
    p = as_user(server, alice, "scale", "deployment", "x", "--replicas=2", "-n", ns, check=False)
    assert 'cannot patch resource "deployments/scale" in API group "apps"' in p.stderr or \
        'cannot get resource "deployments" in API group "apps"' in p.stderr or \
        "NotFound" in p.stderr or "not found" in p.stderr
    # the Status object, as client libraries see it
    code, st = user_request(server, alice, "DELETE", "/apis/apps/v1/namespaces/%s/deployments/web" % ns)
    assert code == 403
    assert st["reason"] == "Forbidden" and st["code"] == 403 and st["status"] == "Failure"
    assert st["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert st["message"] == ('deployments.apps "web" is forbidden: User "alice" cannot delete resource '
                             '"deployments" in API group "apps" in the namespace "%s"' % ns)
    # a non-resource URL outside the discovery roles
    code, st = user_request(server, alice, "GET", "/metrics")
    assert code == 403
    assert st["message"] == 'forbidden: User "alice" cannot get path "/metrics"'
    # discovery, version and health stay open to every authenticated user
    assert user_request(server, alice, "GET", "/api")[0] == 200
    assert user_request(server, alice, "GET", "/apis/apps/v1")[0] == 200
    assert user_request(server, alice, "GET", "/version")[0] == 200


def test_admin_keeps_full_access(server, ns):
    server.kubectl("create", "configmap", "adm", "-n", ns)
    server.kubectl("get", "--raw", "/metrics")
    assert server.kubectl("auth", "can-i", "*", "*").stdout.strip() == "yes"


def test_can_i(server, ns, alice):
    bind_view(server, ns)
    p = as_user(server, alice, "auth", "can-i", "list", "pods", "-n", ns, check=False)
    assert (p.returncode, p.stdout.strip()) == (0, "yes")
    p = as_user(server, alice, "auth", "can-i", "create", "pods", "-n", ns, check=False)
    assert (p.returncode, p.stdout.strip()) == (1, "no")
    p = as_user(server, alice, "auth", "can-i", "list", "pods", "-n", "default", check=False)
    assert p.stdout.strip() == "no"
    p = as_user(server, alice, "auth", "can-i", "get", "pods/log", "-n", ns, check=False)
    assert p.stdout.strip() == "yes"
    p = as_user(server, alice, "auth", "can-i", "get", "secrets", "-n", ns, check=False)
    assert p.stdout.strip() == "no"
    # the admin asks on alice's behalf (impersonation)
    assert server.kubectl("auth", "can-i", "watch", "deployments.apps", "-n", ns, "--as", "alice"
                          ).stdout.strip() == "yes"
    p = server.kubectl("auth", "can-i", "delete", "deployments.apps", "-n", ns, "--as", "alice",
                       check=False)
    assert (p.returncode, p.stdout.strip()) == (1, "no")
    # the groups alice is in count, through impersonation too
    server.kubectl("create", "rolebinding", "devs-edit", "--clusterrole=edit", "--group=devs", "-n", ns)
    p = as_user(server, alice, "auth", "can-i", "create", "pods", "-n", ns, check=False)
    assert p.stdout.strip() == "yes"
    p = server.kubectl("auth", "can-i", "create", "pods", "-n", ns, "--as", "alice", check=False)
    assert p.stdout.strip() == "no"
    p = server.kubectl("auth", "can-i", "create", "pods", "-n", ns, "--as", "alice",
                       "--as-group", "devs", check=False)
    assert p.stdout.strip() == "yes"
    # non-resource URLs
    assert as_user(server, alice, "auth", "can-i", "get", "/version").stdout.strip() == "yes"
    p = as_user(server, alice, "auth", "can-i", "get", "/metrics", check=False)
    assert p.stdout.strip() == "no"


def test_can_i_list(server, ns, alice):
    bind_view(server, ns)
    out = as_user(server, alice, "auth", "can-i", "--list", "-n", ns).stdout
    lines = [l.split() for l in out.splitlines()]
    assert lines[0] == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    rows = {l[0]: l[1:] for l in lines[1:] if not l[0].startswith("[")}
    assert rows["pods"] == ["[]", "[]", "[get", "list", "watch]"]
    assert rows["deployments.apps"] == ["[]", "[]", "[get", "list", "watch]"]
    assert rows["selfsubjectaccessreviews.authorization.k8s.io"] == ["[]", "[]", "[create]"]
    assert "*.*" not in rows and "secrets" not in rows
    assert any(l[:2] == ["[/api/*]", "[]"] for l in lines)
    # another namespace: only what every user may do
    out = as_user(server, alice, "auth", "can-i", "--list", "-n", "default").stdout
    assert "pods " not in out and "selfsubjectrulesreviews" in out
    # the admin may do everything
    out = server.kubectl("auth", "can-i", "--list", "-n", ns).stdout
    assert out.splitlines()[1].split() == ["*.*", "[]", "[]", "[*]"]
    # and sees alice's list through impersonation
    out = server.kubectl("auth", "can-i", "--list", "-n", ns, "--as", "alice").stdout
    assert any(l.split()[:2] == ["pods", "[]"] for l in out.splitlines())


def test_whoami(server, alice):
    out = server.kubectl("auth", "whoami").stdout.split("\n")
    assert out[0].split() == ["ATTRIBUTE", "VALUE"]
    assert out[1].split() == ["Username", "system:admin"]
    assert out[2].split() == ["Groups", "[system:masters", "system:authenticated]"]
    out = as_user(server, alice, "auth", "whoami", "-o", "json").stdout
    ssr = json.loads(out)
    assert ssr["kind"] == "SelfSubjectReview"
    assert ssr["status"]["userInfo"] == {"username": "alice", "groups": ["devs", "system:authenticated"]}
    out = server.kubectl("auth", "whoami", "--as", "bob", "--as-group", "qa").stdout.split("\n")
    assert out[1].split() == ["Username", "bob"]
    assert out[2].split() == ["Groups", "[qa", "system:authenticated]"]
    # all three served versions
    for v in ("v1", "v1beta1", "v1alpha1"):
        code, body = user_request(server, alice, "POST", "/apis/authentication.k8s.io/%s/selfsubjectreviews" % v,
                                  {"apiVersion": "authentication.k8s.io/%s" % v, "kind": "SelfSubjectReview"})
        assert code == 201 and body["apiVersion"] == "authentication.k8s.io/" + v
        assert body["status"]["userInfo"]["username"] == "alice"
    # discovery lists only create for the reviews
    res = json.loads(server.kubectl("get", "--raw", "/apis/authorization.k8s.io/v1").stdout)["resources"]
    assert {r["name"]: r["verbs"] for r in res} == {
        "selfsubjectaccessreviews": ["create"], "subjectaccessreviews": ["create"],
        "localsubjectaccessreviews": ["create"], "selfsubjectrulesreviews": ["create"]}
    # never stored: no list
    p = server.kubectl("get", "--raw", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", check=False)
    assert p.returncode != 0 and "MethodNotAllowed" in p.stderr or "not allowed" in p.stderr


def test_impersonation_needs_the_impersonate_verb(server, ns, alice):
    p = as_user(server, alice, "get", "pods", "-n", ns, "--as", "bob", check=False)
    assert p.returncode == 1
    assert ('users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group '
            '"" at the cluster scope') in p.stderr
    p = as_user(server, alice, "get", "pods", "-n", ns, "--as", "system:serviceaccount:%s:robot" % ns,
                check=False)
    assert ('serviceaccounts "robot" is forbidden: User "alice" cannot impersonate resource '
            '"serviceaccounts" in API group "" in the namespace "%s"' % ns) in p.stderr
    # edit lets alice impersonate service accounts of the namespace
    server.kubectl("create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", ns)
    p = as_user(server, alice, "get", "pods", "-n", ns, "--as", "system:serviceaccount:%s:robot" % ns,
                check=False)
    assert ('pods is forbidden: User "system:serviceaccount:%s:robot" cannot list resource "pods" in '
            'API group "" in the namespace "%s"' % (ns, ns)) in p.stderr
    server.kubectl("create", "rolebinding", "robot-view", "--clusterrole=view",
                   "--serviceaccount=%s:robot" % ns, "-n", ns)
    as_user(server, alice, "get", "pods", "-n", ns, "--as", "system:serviceaccount:%s:robot" % ns)
    out = server.kubectl("auth", "whoami", "--as", "system:serviceaccount:%s:robot" % ns).stdout
    assert "[system:serviceaccounts system:serviceaccounts:%s system:authenticated]" % ns in out


def test_subject_access_reviews(server, ns):
    bind_view(server, ns, "carol")
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "carol", "resourceAttributes": {"namespace": ns, "verb": "list",
                                                            "resource": "pods"}}}
    code, body = server.json("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert code == 201
    assert body["status"] == {"allowed": True, "reason": 'RBAC: allowed by RoleBinding "view-carol/%s" '
                              'of ClusterRole "view" to User "carol"' % ns}
    sar["spec"]["resourceAttributes"]["verb"] = "delete"
    code, body = server.json("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert body["status"] == {"allowed": False}
    sar["spec"] = {"groups": ["system:masters"], "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}
    code, body = server.json("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert body["status"]["allowed"] is True
    sar["spec"] = {"user": "carol"}
    code, body = server.json("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert code == 422
    lsar = {"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
            "spec": {"user": "carol", "resourceAttributes": {"namespace": ns, "verb": "get",
                                                             "resource": "configmaps"}}}
    code, body = server.json("POST", "/apis/authorization.k8s.io/v1/namespaces/%s/localsubjectaccessreviews" % ns, lsar)
    assert code == 201 and body["status"]["allowed"] is True
    code, body = server.json("POST", "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews", lsar)
    assert code == 400


def test_token_review(server):
    tokens = open(os.path.join(server.data_dir, "server", "cred", "tokens.csv")).read().split(",")
    tr = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": tokens[0]}}
    code, body = server.json("POST", "/apis/authentication.k8s.io/v1/tokenreviews", tr)
    assert code == 201
    assert body["status"]["authenticated"] is True
    assert body["status"]["user"]["username"] == "admin"
    assert body["status"]["user"]["groups"] == ["system:masters", "system:authenticated"]
    tr["spec"]["token"] = "not-a-token"
    code, body = server.json("POST", "/apis/authentication.k8s.io/v1/tokenreviews", tr)
    assert code == 201 and not body["status"].get("authenticated")


def alice_may(server, ns, verb, resource, group):
    """A SubjectAccessReview for alice (kubectl auth can-i only knows served resources)."""
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "alice", "groups": ["system:authenticated"], "resourceAttributes": {
               "namespace": ns, "verb": verb, "resource": resource, "group": group}}}
    code, body = server.json("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    assert code == 201, body
    return body["status"]["allowed"]


def test_aggregation_follows_labelled_cluster_roles(server, alice, ns):
    bind_view(server, ns)
    assert not alice_may(server, ns, "list", "widgets", "example.com")
    server.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}]}))
    want = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}
    deadline = time.time() + 5
    while time.time() < deadline:
        roles = {r: json.loads(server.kubectl("get", "clusterrole", r, "-o", "json").stdout)
                 for r in ("view", "edit", "admin")}
        if all(want in (roles[r].get("rules") or []) for r in roles):
            break
        time.sleep(0.1)
    for r in ("view", "edit", "admin"):
        assert want in roles[r]["rules"], r
    assert alice_may(server, ns, "list", "widgets", "example.com")
    assert not alice_may(server, ns, "delete", "widgets", "example.com")
    server.kubectl("delete", "clusterrole", "widgets-view")
    deadline = time.time() + 5
    while time.time() < deadline:
        view = json.loads(server.kubectl("get", "clusterrole", "view", "-o", "json").stdout)
        if want not in view["rules"]:
            break
        time.sleep(0.1)
    assert want not in view["rules"]
    assert not alice_may(server, ns, "list", "widgets", "example.com")


def test_bootstrap_keeps_user_changes(fresh_server):
    s = fresh_server.start()
    s.kubectl("annotate", "clusterrole", "view", "rbac.authorization.kubernetes.io/autoupdate=false",
              "--overwrite")
    s.kubectl("patch", "clusterrole", "system:basic-user", "--type=json", "-p",
              '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}}]')
    s.kubectl("delete", "clusterrole", "system:kube-dns")
    s.kubectl("patch", "clusterrole", "system:discovery", "--type=json", "-p", '[{"op":"remove","path":"/rules/0"}]')
    s.kubectl("label", "clusterrole", "view", "rbac.authorization.k8s.io/aggregate-to-edit-")
    s.stop()
    s.start()
    assert s.kubectl("get", "clusterrole", "system:kube-dns", "-o", "name").stdout.strip() == \
        "clusterrole.rbac.authorization.k8s.io/system:kube-dns"
    basic = json.loads(s.kubectl("get", "clusterrole", "system:basic-user", "-o", "json").stdout)
    assert {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]} in basic["rules"]
    disc = json.loads(s.kubectl("get", "clusterrole", "system:discovery", "-o", "json").stdout)
    assert "/api/*" in disc["rules"][0]["nonResourceURLs"]
    view = json.loads(s.kubectl("get", "clusterrole", "view", "-o", "json").stdout)
    assert "rbac.authorization.k8s.io/aggregate-to-edit" not in view["metadata"]["labels"]


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p1"},
       "spec": {"nodeName": "n1", "serviceAccountName": "sa1",
                "containers": [{"name": "c", "image": "busybox",
                                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm1", "key": "k"}}}]}],
                "volumes": [{"name": "s", "secret": {"secretName": "s1"}},
                            {"name": "d", "persistentVolumeClaim": {"claimName": "claim1"}}]}}


def test_node_identity_is_restricted(server, ns):
    node = make_user(server, "system:node:n1", ["system:nodes"])
    for n in ("n1", "n2"):
        server.kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}}))
    for s in ("s1", "s2"):
        server.kubectl("create", "secret", "generic", s, "--from-literal=a=b", "-n", ns)
    server.kubectl("create", "configmap", "cm1", "--from-literal=k=v", "-n", ns)
    server.kubectl("create", "serviceaccount", "sa1", "-n", ns)
    server.kubectl("create", "configmap", "cm2", "-n", ns)
    server.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(POD))
    other = json.loads(json.dumps(POD))
    other["metadata"]["name"] = "p2"
    other["spec"]["nodeName"] = "n2"
    other["spec"]["volumes"] = [{"name": "s", "secret": {"secretName": "s2"}}]
    server.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(other))
    # reads: only what pods bound to the node use
    assert as_user(server, node, "get", "secret", "s1", "-n", ns, "-o", "name").stdout.strip() == "secret/s1"
    as_user(server, node, "get", "configmap", "cm1", "-n", ns)
    p = as_user(server, node, "get", "secret", "s2", "-n", ns, check=False)
    assert ('secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API '
            'group "" in the namespace "%s": no relationship found between node \'n1\' and this object' % ns) in p.stderr
    p = as_user(server, node, "get", "configmap", "cm2", "-n", ns, check=False)
    assert "no relationship found between node 'n1' and this object" in p.stderr
    p = as_user(server, node, "get", "secrets", "-n", ns, check=False)
    assert p.returncode == 1 and 'cannot list resource "secrets"' in p.stderr
    # a list narrowed to one name by fieldSelector is a read of that object, as the kubelet does
    code, body = user_request(server, node, "GET",
                              "/api/v1/namespaces/%s/secrets?fieldSelector=metadata.name%%3Ds1" % ns)
    assert code == 200 and [i["metadata"]["name"] for i in body["items"]] == ["s1"]
    code, body = user_request(server, node, "GET",
                              "/api/v1/namespaces/%s/secrets?fieldSelector=metadata.name%%3Ds2" % ns)
    assert code == 403
    # token of the pod's service account only
    tr = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": ["x"]}}
    code, body = user_request(server, node, "POST", "/api/v1/namespaces/%s/serviceaccounts/other/token" % ns, tr)
    assert code == 403 and "no relationship found" in body["message"]
    # other reads per the system:node role
    as_user(server, node, "get", "pods", "-n", ns)
    as_user(server, node, "get", "nodes")
    as_user(server, node, "get", "services", "-A")
    p = as_user(server, node, "get", "deployments", "-n", ns, check=False)
    assert p.returncode == 1 and "forbidden" in p.stderr
    # writes: its own Node and its status only
    as_user(server, node, "label", "node", "n1", "a=b", "topology.kubernetes.io/zone=z1")
    p = as_user(server, node, "label", "node", "n1", "node-restriction.kubernetes.io/trusted=yes",
                "kubernetes.io/role=master", check=False)
    assert ('nodes "n1" is forbidden: is not allowed to modify labels: kubernetes.io/role, '
            'node-restriction.kubernetes.io/trusted') in p.stderr
    p = as_user(server, node, "label", "node", "n2", "a=b", check=False)
    assert 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' in p.stderr
    code, body = user_request(server, node, "DELETE", "/api/v1/nodes/n2")
    assert code == 403 and body["message"] == ('nodes "n2" is forbidden: User "system:node:n1" cannot '
                                               'delete resource "nodes" in API group "" at the cluster scope')
    # pod status: only pods bound to it
    st = {"status": {"phase": "Running"}}
    ok = subprocess.run(["curl", "-sk", "--cert", os.path.join(os.path.dirname(node), "u.crt"),
                         "--key", os.path.join(os.path.dirname(node), "u.key"), "-X", "PATCH",
                         "-H", "Content-Type: application/merge-patch+json", "-d", json.dumps(st),
                         "-o", "/dev/null", "-w", "%{http_code}",
                         server.url + "/api/v1/namespaces/%s/pods/p1/status" % ns],
                        capture_output=True, text=True).stdout
    assert ok == "200"
    res = subprocess.run(["curl", "-sk", "--cert", os.path.join(os.path.dirname(node), "u.crt"),
                          "--key", os.path.join(os.path.dirname(node), "u.key"), "-X", "PATCH",
                          "-H", "Content-Type: application/merge-patch+json", "-d", json.dumps(st),
                          server.url + "/api/v1/namespaces/%s/pods/p2/status" % ns],
                         capture_output=True, text=True).stdout
    body = json.loads(res)
    assert body["code"] == 403
    assert body["message"] == ('pods "p2" is forbidden: node "n1" can only update pod status for pods '
                               'with spec.nodeName set to itself')
    # no pods of its own except mirror pods bound to itself
    code, body = user_request(server, node, "POST", "/api/v1/namespaces/%s/pods" % ns,
                              {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                               "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}})
    assert code == 403 and 'can only create mirror pods' in body["message"]
    # its own Lease in kube-node-lease, no other
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "n1"}}
    code, body = user_request(server, node, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease)
    assert code == 201, body
    lease["metadata"]["name"] = "n2"
    code, body = user_request(server, node, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease)
    assert code == 403
    assert body["message"] == ('leases.coordination.k8s.io "n2" is forbidden: can only access node lease '
                               'with the same name as the requesting node')
    code, body = user_request(server, node, "GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/n1" % ns)
    assert code == 403 and "can only access leases in the kube-node-lease namespace" in body["message"]
    # events
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "n1.%s" % ns},
          "involvedObject": {"kind": "Pod", "name": "p1", "namespace": ns}, "reason": "Test", "message": "m"}
    code, body = user_request(server, node, "POST", "/api/v1/namespaces/%s/events" % ns, ev)
    assert code == 201, body
    # a user named like a node but not in system:nodes is an ordinary user
    fake = make_user(server, "system:node:n3")
    p = as_user(server, fake, "get", "nodes", check=False)
    assert 'User "system:node:n3" cannot list resource "nodes"' in p.stderr


def test_token_file_users_and_uid(fresh_server):
    s = fresh_server.start()
    tokens = os.path.join(s.data_dir, "server", "cred", "tokens.csv")
    s.stop()
    with open(tokens, "a") as f:
        f.write('dave-token-0123456789,dave,dave-uid,"qa,ops"\n')
    s.start()
    empty = os.path.join(s.tmp, "empty-kubeconfig")
    open(empty, "w").close()
    dave = ["--kubeconfig", empty, "--server", s.url, "--certificate-authority", s.ca(),
            "--token", "dave-token-0123456789"]
    out = s.kubectl("auth", "whoami", *dave).stdout.split("\n")
    assert out[1].split() == ["Username", "dave"]
    assert out[2].split() == ["UID", "dave-uid"]
    assert out[3].split() == ["Groups", "[qa", "ops", "system:authenticated]"]
    p = s.kubectl("get", "pods", *dave, check=False)
    assert ('pods is forbidden: User "dave" cannot list resource "pods" in API group "" in the '
            'namespace "default"') in p.stderr
    s.kubectl("create", "rolebinding", "ops-view", "--clusterrole=view", "--group=ops")
    s.kubectl("get", "pods", *dave)
    # the admin may also act as a uid, with extra attributes
    out = s.kubectl("auth", "whoami", "--as", "erin", "--as-uid", "e-1").stdout.split("\n")
    assert out[2].split() == ["UID", "e-1"]
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=s.ssl_context())
    conn.putrequest("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews")
    for k, v in (("Content-Type", "application/json"), ("Impersonate-User", "erin"),
                 ("Impersonate-Extra-Scopes", "read"), ("Impersonate-Extra-Scopes", "write")):
        conn.putheader(k, v)
    body = b'{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    assert resp.status == 201
    assert json.loads(resp.read())["status"]["userInfo"]["extra"] == {"scopes": ["read", "write"]}
    conn.close()
    # extras need the impersonate verb on userextras too
    s.kubectl("create", "clusterrole", "imp-users", "--verb=impersonate", "--resource=users")
    s.kubectl("create", "clusterrolebinding", "dave-imp", "--clusterrole=imp-users", "--user=dave")
    out = s.kubectl("auth", "whoami", *dave, "--as", "erin").stdout
    assert "erin" in out
    p = s.kubectl("get", "pods", *dave, "--as", "erin", "--as-uid", "x", check=False)
    assert ('uids.authentication.k8s.io "x" is forbidden: User "dave" cannot impersonate resource '
            '"uids" in API group "authentication.k8s.io" at the cluster scope') in p.stderr


def test_python_client_reviews_and_forbidden(server, ns, alice):
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=alice, client_configuration=cfg)
    api = client.ApiClient(cfg)
    bind_view(server, ns)
    authz = client.AuthorizationV1Api(api)
    review = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            namespace=ns, verb="list", resource="pods"))))
    assert review.status.allowed is True
    rules = authz.create_self_subject_rules_review(client.V1SelfSubjectRulesReview(
        spec=client.V1SelfSubjectRulesReviewSpec(namespace=ns)))
    assert any("pods" in (r.resources or []) and "list" in r.verbs for r in rules.status.resource_rules)
    core = client.CoreV1Api(api)
    assert core.list_namespaced_pod(ns).items == []
    try:
        core.list_namespaced_secret(ns)
        raise AssertionError("alice listed secrets")
    except client.exceptions.ApiException as e:
        assert e.status == 403
        body = json.loads(e.body)
        assert body["reason"] == "Forbidden"
        assert body["details"] == {"kind": "secrets"}


def test_no_escalation_through_roles_and_bindings(server, ns):
    frank = make_user(server, "frank", ["team"])
    server.kubectl("create", "rolebinding", "frank-admin", "--clusterrole=admin", "--user=frank", "-n", ns)
    # a namespace admin may hand out what it holds
    as_user(server, frank, "create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", ns)
    as_user(server, frank, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", ns)
    as_user(server, frank, "create", "rolebinding", "bob-pods", "--role=pod-reader", "--user=bob", "-n", ns)
    # but not more
    p = as_user(server, frank, "create", "rolebinding", "frank-root", "--clusterrole=cluster-admin",
                "--user=frank", "-n", ns, check=False)
    assert p.returncode == 1
    assert ('rolebindings.rbac.authorization.k8s.io "frank-root" is forbidden: user "frank" '
            '(groups=["team" "system:authenticated"]) is attempting to grant RBAC permissions not '
            'currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n'
            '{NonResourceURLs:["*"], Verbs:["*"]}') in p.stderr
    p = as_user(server, frank, "create", "role", "node-reader", "--verb=get", "--resource=nodes",
                "-n", ns, check=False)
    assert ('roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "frank" (groups=["team" '
            '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
            '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}') in p.stderr
    # nor widen a role it may edit
    p = as_user(server, frank, "patch", "role", "pod-reader", "-n", ns, "--type=json", "-p",
                '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes"],"verbs":["list"]}}]',
                check=False)
    assert "attempting to grant RBAC permissions not currently held" in p.stderr
    assert '{APIGroups:[""], Resources:["nodes"], Verbs:["list"]}' in p.stderr
    # the bind verb on a role lifts the check for bindings to it
    server.kubectl("create", "clusterrole", "bind-cluster-admin", "--verb=bind",
                   "--resource=clusterroles.rbac.authorization.k8s.io", "--resource-name=cluster-admin")
    server.kubectl("create", "rolebinding", "frank-bind", "--clusterrole=bind-cluster-admin",
                   "--user=frank", "-n", ns)
    as_user(server, frank, "create", "rolebinding", "frank-root", "--clusterrole=cluster-admin",
            "--user=frank", "-n", ns)
    # the admin (system:masters) is never checked
    server.kubectl("create", "role", "anything", "--verb=*", "--resource=*", "-n", ns)


def test_auth_commands_with_each_kubectl(server, ns, alice, kubectl_version):
    """can-i, --list and the 403 with the newest kubectl and Debian's 1.20 (no whoami there)."""
    bind_view(server, ns)
    p = as_user(server, alice, "auth", "can-i", "list", "pods", "-n", ns, check=False)
    assert (p.returncode, p.stdout.strip().lower()) == (0, "yes")
    p = as_user(server, alice, "auth", "can-i", "delete", "pods", "-n", ns, check=False)
    assert (p.returncode, p.stdout.strip().lower()) == (1, "no")
    out = as_user(server, alice, "auth", "can-i", "--list", "-n", ns).stdout
    assert any(l.split()[:2] == ["pods", "[]"] and "list" in l for l in out.splitlines())
    p = as_user(server, alice, "get", "secrets", "-n", ns, check=False)
    assert ('secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in '
            'the namespace "%s"' % ns) in p.stderr
    assert server.kubectl("auth", "can-i", "get", "pods", "-n", ns, "--as", "alice").stdout.strip().lower() == "yes"
    if kubectl_version >= 27:
        assert "alice" in as_user(server, alice, "auth", "whoami").stdout
