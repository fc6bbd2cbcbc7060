"""Server-side apply and managedFields, driven by kubectl and plain HTTPS as on a real cluster:
the same manifests applied client-side and server-side, conflicts between field managers,
--force-conflicts, fields leaving the object when they leave the applied manifest, the
managedFields entries of create/update/patch/scale/status writes, the migration of a
client-side-applied object to server-side apply, kubectl diff --server-side and dry-run."""
import json
import os
import shutil
import stat
import tempfile
import textwrap
import urllib.parse

import pytest

from conftest import Server

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifests")
BUNDLE = os.path.join(HERE, "bundle.yaml")


@pytest.fixture(scope="module")
def server():
    """These tests check the managedFields and status of Deployments, which the deployment
    controller writes too: a server of their own without controllers."""
    tmp = tempfile.mkdtemp(prefix="k1s-e2e-")
    s = Server(tmp, extra_args=["--disable-controllers"]).start()
    yield s
    s.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def get(server, ns, what, name):
    return json.loads(server.kubectl("-n", ns, "get", what, name, "-o", "json",
                                     "--show-managed-fields").stdout)


def entries(obj):
    """managedFields as {(manager, operation, subresource): fieldsV1}."""
    return {(e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
            for e in obj["metadata"].get("managedFields", [])}


def deployment(name, replicas=2, image="nginx:1.25", labels=None, ports=True):
    lab = {"app": name}
    lab.update(labels or {})
    c = {"name": "web", "image": image}
    if ports:
        c["ports"] = [{"containerPort": 80}]
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": lab},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [c]}}}})


def apply_path(ns, plural, name, group="apps/v1", **query):
    base = "/api/v1" if group == "v1" else "/apis/" + group
    q = urllib.parse.urlencode(query)
    return "%s/namespaces/%s/%s/%s%s" % (base, ns, plural, name, "?" + q if q else "")


def test_bundle_client_side_and_server_side(server, ns):
    """Every kind of the bundle applies server-side; the objects equal the client-side ones,
    and a second server-side apply changes nothing."""
    other = ns + "-ssa"
    server.kubectl("create", "namespace", other)
    try:
        server.kubectl("-n", ns, "apply", "-f", BUNDLE)
        out = server.kubectl("-n", other, "apply", "--server-side", "-f", BUNDLE).stdout
        assert out.count(" serverside-applied") == 20, out
        kinds = "deploy,sts,ds,job,cronjob,svc,cm,secret,pvc,ing,netpol,pdb,role,rolebinding,lease," \
                "limitrange,quota,sa,hpa"

        def objects(n):
            items = json.loads(server.kubectl("-n", n, "get", kinds, "-o", "json",
                                              "--show-managed-fields").stdout)["items"]
            return {(o["kind"], o["metadata"]["name"]): o for o in items}

        csa, ssa = objects(ns), objects(other)
        assert len(ssa) >= 19 and set(csa) == set(ssa)
        for key, o in ssa.items():
            if key in (("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")):
                continue  # the server's own, in every namespace
            # same content; only server-set fields (and Service IPs) differ
            a, b = dict(csa[key]), dict(o)
            for x in (a, b):
                x.pop("metadata")
                x.pop("status", None)
                if x.get("kind") == "Service":
                    for f in ("clusterIP", "clusterIPs"):
                        x["spec"].pop(f, None)
                if x.get("kind") == "Job":  # its selector names the Job's uid
                    x["spec"].pop("selector")
                    x["spec"]["template"]["metadata"].pop("labels")
            assert a == b, key
            mf = entries(o) if "managedFields" in o["metadata"] else {}
            if key == ("ServiceAccount", "app"):
                # nothing but a name: an empty set, which Kubernetes drops too
                assert mf == {}, mf
            else:
                assert ("kubectl", "Apply", "") in mf, (key, mf)
        before = {k: o["metadata"]["resourceVersion"] for k, o in ssa.items()}
        server.kubectl("-n", other, "apply", "--server-side", "-f", BUNDLE)
        after = {k: o["metadata"]["resourceVersion"] for k, o in objects(other).items()}
        assert before == after
    finally:
        # the bundle holds a PersistentVolume, which outlives namespaces
        server.kubectl("-n", ns, "delete", "-f", BUNDLE, "--ignore-not-found", "--wait=false",
                       check=False, timeout=60)
        server.kubectl("-n", other, "delete", "-f", BUNDLE, "--ignore-not-found", "--wait=false",
                       check=False, timeout=60)
        server.kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_conflict_and_force(server, ns):
    # client-side apply, then another manager's apply over HTTP: the Status as Kubernetes words it
    server.kubectl("-n", ns, "apply", "-f", "-", input=deployment("csa", replicas=2))
    status, body = server.json("PATCH", apply_path(ns, "deployments", "csa", fieldManager="team-b"),
                               deployment("csa", replicas=3),
                               headers={"Content-Type": "application/apply-patch+yaml"})
    assert status == 409, body
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Apply failed with 1 conflict: conflict with '
                               '"kubectl-client-side-apply" using apps/v1: .spec.replicas')
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "field": ".spec.replicas",
         "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]
    status, body = server.json("PATCH", apply_path(ns, "deployments", "csa", fieldManager="team-b"),
                               deployment("csa", replicas=3, image="nginx:1.26"),
                               headers={"Content-Type": "application/apply-patch+yaml"})
    assert status == 409, body
    assert body["message"] == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:'
        '\n- .spec.replicas\n- .spec.template.spec.containers[name="web"].image')
    assert len(body["details"]["causes"]) == 2

    # two server-side appliers through kubectl
    server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=team-a", "-f", "-",
                   input=deployment("web", replicas=2))
    p = server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=team-b", "-f", "-",
                       input=deployment("web", replicas=3), check=False)
    assert p.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "team-a": .spec.replicas' in p.stderr, \
        p.stderr
    assert "--force-conflicts" in p.stderr
    assert get(server, ns, "deploy", "web")["spec"]["replicas"] == 2

    # a value equal to the live one is shared, not a conflict
    server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=team-c", "-f", "-",
                   input=deployment("web", replicas=2))

    out = server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=team-b",
                         "--force-conflicts", "-f", "-", input=deployment("web", replicas=3)).stdout
    assert "serverside-applied" in out
    d = get(server, ns, "deploy", "web")
    assert d["spec"]["replicas"] == 3
    mf = entries(d)
    assert "f:replicas" in mf[("team-b", "Apply", "")]["f:spec"]
    assert "f:replicas" not in mf[("team-a", "Apply", "")]["f:spec"]
    assert "f:replicas" not in mf[("team-c", "Apply", "")]["f:spec"]
    # the other fields stay shared
    assert "f:selector" in mf[("team-a", "Apply", "")]["f:spec"]

    # an Update manager (kubectl scale) conflicts as well, named with its subresource
    server.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=1")
    p = server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=team-b", "-f", "-",
                       input=deployment("web", replicas=3), check=False)
    assert p.returncode == 1
    assert 'with subresource "scale" using apps/v1: .spec.replicas' in p.stderr, p.stderr


def test_removed_field_leaves_object(server, ns):
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "settings", "labels": {"a": "1", "b": "2"}},
          "data": {"x": "1", "y": "2"}}
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=json.dumps(cm))
    server.kubectl("-n", ns, "label", "cm", "settings", "c=3")
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=deployment("web"))
    del cm["data"]["y"]
    del cm["metadata"]["labels"]["b"]
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=json.dumps(cm))
    got = get(server, ns, "cm", "settings")
    assert got["data"] == {"x": "1"}
    # the label another manager set stays
    assert got["metadata"]["labels"] == {"a": "1", "c": "3"}
    assert entries(got)[("kubectl", "Apply", "")] == {
        "f:data": {"f:x": {}}, "f:metadata": {"f:labels": {"f:a": {}}}}

    # a list item and a whole list leave too
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=deployment("web", ports=False))
    c = get(server, ns, "deploy", "web")["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in c and c["image"] == "nginx:1.25"

    # a field someone else also owns stays when one applier drops it
    server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=second", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "settings"}, "data": {"x": "1"}}))
    cm["data"] = {"z": "3"}
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=json.dumps(cm))
    assert get(server, ns, "cm", "settings")["data"] == {"x": "1", "z": "3"}


def test_managed_fields_of_update_writes(server, ns, tmp_path):
    server.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.25")
    d = get(server, ns, "deploy", "web")
    mf = d["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"], e["apiVersion"], e["fieldsType"]) for e in mf] == \
        [("kubectl-create", "Update", "apps/v1", "FieldsV1")]
    assert mf[0]["time"].endswith("Z")
    f = mf[0]["fieldsV1"]
    # defaulted fields belong to the writer; server-set metadata to nobody
    assert set(f["f:spec"]) >= {"f:replicas", "f:selector", "f:progressDeadlineSeconds",
                                "f:template", "f:strategy"}
    assert f["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    # a struct held by pointer is added itself, one held by value is not
    assert "." in f["f:spec"]["f:strategy"]["f:rollingUpdate"]
    assert "." not in f["f:spec"]["f:strategy"] and "." not in f["f:spec"]["f:template"]
    assert "f:status" not in f
    c = f["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert {".", "f:image", "f:name", "f:imagePullPolicy"} <= set(c)

    server.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=3")
    server.kubectl("-n", ns, "label", "deploy", "web", "tier=front")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/image: nginx:1.25/image: nginx:1.26/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    server.kubectl("-n", ns, "edit", "deploy", "web", env={"EDITOR": str(editor)})
    d = get(server, ns, "deploy", "web")
    mf = entries(d)
    scale = [k for k in mf if k[2] == "scale"]
    assert len(scale) == 1 and mf[scale[0]] == {"f:spec": {"f:replicas": {}}}
    assert mf[("kubectl-label", "Update", "")] == {"f:metadata": {"f:labels": {"f:tier": {}}}}
    edit = mf[("kubectl-edit", "Update", "")]
    assert edit == {"f:spec": {"f:template": {"f:spec": {"f:containers": {
        'k:{"name":"nginx"}': {"f:image": {}}}}}}}
    create = mf[("kubectl-create", "Update", "")]
    assert "f:replicas" not in create["f:spec"]
    assert "f:image" not in create["f:spec"]["f:template"]["f:spec"]["f:containers"][
        'k:{"name":"nginx"}']

    # the status subresource: an entry of its own, with only status fields
    path = "/apis/apps/v1/namespaces/%s/deployments/web/status?fieldManager=my-controller" % ns
    status, body = server.json("PATCH", path, {"status": {"replicas": 3, "readyReplicas": 1}},
                               headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body
    st = [e for e in body["metadata"]["managedFields"] if e["manager"] == "my-controller"]
    assert len(st) == 1 and st[0]["subresource"] == "status" and st[0]["operation"] == "Update"
    assert st[0]["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}

    # without fieldManager the manager is the User-Agent's product name
    status, body = server.json("PATCH", "/apis/apps/v1/namespaces/%s/deployments/web" % ns,
                               {"metadata": {"annotations": {"note": "x"}}},
                               headers={"Content-Type": "application/merge-patch+json",
                                        "User-Agent": "my-tool/1.2 (linux)"})
    assert status == 200, body
    assert ("my-tool", "Update", "") in entries(body)

    # managedFields [{}] resets them; the write's own fields are all that is left
    status, body = server.json("PATCH", "/apis/apps/v1/namespaces/%s/deployments/web" % ns,
                               {"metadata": {"managedFields": [{}]}},
                               headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body
    assert "managedFields" not in body["metadata"]


def test_client_side_to_server_side_migration(server, ns):
    """kubectl apply, then kubectl apply --server-side: kubectl's csaupgrade hands the
    client-side fields to the server-side manager; no conflicts, and from then on fields
    dropped from the manifest leave the object."""
    server.kubectl("-n", ns, "apply", "-f", "-", input=deployment("web", replicas=2))
    mf = entries(get(server, ns, "deploy", "web"))
    assert list(mf) == [("kubectl-client-side-apply", "Update", "")]
    out = server.kubectl("-n", ns, "apply", "--server-side", "-f", "-",
                         input=deployment("web", replicas=4)).stdout
    assert "serverside-applied" in out
    d = get(server, ns, "deploy", "web")
    assert d["spec"]["replicas"] == 4
    mf = entries(d)
    assert ("kubectl", "Apply", "") in mf
    assert ("kubectl-client-side-apply", "Update", "") not in mf
    # the last-applied annotation is kept in step for a later client-side apply
    last = json.loads(d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 4
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-",
                   input=deployment("web", replicas=4, ports=False))
    c = get(server, ns, "deploy", "web")["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in c


def test_diff_and_dry_run(server, ns):
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=deployment("web"))
    rv = get(server, ns, "deploy", "web")["metadata"]["resourceVersion"]
    p = server.kubectl("-n", ns, "diff", "--server-side", "-f", "-",
                       input=deployment("web", replicas=5), check=False)
    assert p.returncode == 1, p.stderr
    assert "-  replicas: 2" in p.stdout and "+  replicas: 5" in p.stdout, p.stdout
    out = server.kubectl("-n", ns, "apply", "--server-side", "--dry-run=server", "-f", "-",
                         input=deployment("web", replicas=5)).stdout
    assert "(server dry run)" in out
    d = get(server, ns, "deploy", "web")
    assert d["spec"]["replicas"] == 2 and d["metadata"]["resourceVersion"] == rv
    p = server.kubectl("-n", ns, "diff", "--server-side", "-f", "-", input=deployment("web"),
                       check=False)
    assert p.returncode == 0 and p.stdout == "", p.stdout
    # a new object: shown whole, created by nothing
    p = server.kubectl("-n", ns, "diff", "--server-side", "-f", "-", input=deployment("new"),
                       check=False)
    assert p.returncode == 1 and "+  replicas: 2" in p.stdout
    server.kubectl("-n", ns, "apply", "--server-side", "--dry-run=server", "-f", "-",
                   input=deployment("new"))
    assert server.kubectl("-n", ns, "get", "deploy", "new", check=False).returncode != 0


def test_apply_over_http(server, ns):
    yaml_body = textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: plain
        data:
          k: v
        """)
    ct = {"Content-Type": "application/apply-patch+yaml"}
    # fieldManager is required, as PatchOptions validation says
    status, body = server.json("PATCH", apply_path(ns, "configmaps", "plain", group="v1"),
                               yaml_body, headers=ct)
    assert status == 422, body
    assert body["reason"] == "Invalid"
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                               'value: is required for apply patch')
    assert body["details"]["kind"] == "PatchOptions"
    status, body = server.json("PATCH", apply_path(ns, "configmaps", "plain", group="v1",
                                                   fieldManager="x" * 129), yaml_body, headers=ct)
    assert status == 422 and "fieldManager: Too long" in body["message"], body
    status, body = server.json("POST", "/api/v1/namespaces/%s/configmaps?fieldManager=%s" %
                               (ns, "y" * 129), {"metadata": {"name": "c"}})
    assert status == 422 and body["message"].startswith('CreateOptions.meta.k8s.io "" is invalid'), body
    status, body = server.json("PATCH", apply_path(ns, "configmaps", "plain", group="v1",
                                                   force="true"), {"data": {"k": "v"}},
                               headers={"Content-Type": "application/merge-patch+json"})
    assert status == 422 and "force: Forbidden" in body["message"], body

    # YAML body: creates the object (201), then updates it (200)
    path = apply_path(ns, "configmaps", "plain", group="v1", fieldManager="tool")
    status, body = server.json("PATCH", path, yaml_body, headers=ct)
    assert status == 201, body
    assert entries(body) == {("tool", "Apply", ""): {"f:data": {"f:k": {}}}}
    status, body = server.json("PATCH", path, yaml_body.replace("k: v", "k: w"), headers=ct)
    assert status == 200 and body["data"] == {"k": "w"}, body
    # managedFields may not be applied
    bad = yaml_body + "  managedFields: []\n"
    bad = bad.replace("data:\n  k: v\n", "") + "data:\n  k: v\n"
    status, body = server.json("PATCH", path, json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "plain", "managedFields": [{"manager": "x", "operation": "Apply"}]}}),
        headers=ct)
    assert status == 400 and "managedFields must be nil" in body["message"], body
    # a wrong kind or name is refused
    status, body = server.json("PATCH", path, yaml_body.replace("name: plain", "name: other"),
                               headers=ct)
    assert status == 400, body


def test_update_managers_are_capped(server, ns):
    """At most ten Update entries: older ones merge into "ancient-changes", as in Kubernetes."""
    server.kubectl("-n", ns, "create", "configmap", "many")
    for i in range(12):
        status, body = server.json(
            "PATCH", "/api/v1/namespaces/%s/configmaps/many?fieldManager=m%d" % (ns, i),
            {"data": {"k%d" % i: "v"}}, headers={"Content-Type": "application/merge-patch+json"})
        assert status == 200, body
    mf = entries(get(server, ns, "cm", "many"))
    assert len(mf) == 10, mf
    ancient = mf[("ancient-changes", "Update", "")]
    assert "f:k0" in ancient["f:data"]
    assert ("m11", "Update", "") in mf and ("m0", "Update", "") not in mf


def test_kubectl_120_server_side_apply(server, ns):
    """Debian's kubectl 1.20 speaks the same apply protocol."""
    from conftest import KUBECTL_120
    if not os.path.exists(KUBECTL_120):
        import pytest
        pytest.skip("Debian's kubectl 1.20 not unpacked (run make deps)")
    server.kubectl("-n", ns, "apply", "--server-side", "--field-manager=old", "-f", "-",
                   input=deployment("web", replicas=2), binary=KUBECTL_120)
    p = server.kubectl("-n", ns, "apply", "--server-side", "-f", "-",
                       input=deployment("web", replicas=3), binary=KUBECTL_120, check=False)
    assert p.returncode != 0 and 'conflict with "old": .spec.replicas' in p.stderr, p.stderr
    server.kubectl("-n", ns, "apply", "--server-side", "--force-conflicts", "-f", "-",
                   input=deployment("web", replicas=3), binary=KUBECTL_120)
    assert get(server, ns, "deploy", "web")["spec"]["replicas"] == 3


def test_apply_to_status_subresource(server, ns):
    """kubectl apply --server-side --subresource=status: an Apply entry of its own, conflicts
    between status managers, and status fields leave when no longer applied."""
    from conftest import kubectl_minor, KUBECTL
    import pytest
    if kubectl_minor(KUBECTL) < 24:
        pytest.skip("kubectl before 1.24 has no --subresource")
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=deployment("web"))
    st = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
          "status": {"replicas": 2, "readyReplicas": 1,
                     "conditions": [{"type": "Available", "status": "True", "reason": "Ok"}]}}
    server.kubectl("-n", ns, "apply", "--server-side", "--subresource=status",
                   "--field-manager=ctl", "-f", "-", input=json.dumps(st))
    d = get(server, ns, "deploy", "web")
    assert d["status"]["readyReplicas"] == 1
    mf = entries(d)
    assert mf[("ctl", "Apply", "status")] == {"f:status": {
        "f:conditions": {'k:{"type":"Available"}': {".": {}, "f:reason": {}, "f:status": {},
                                                     "f:type": {}}},
        "f:readyReplicas": {}, "f:replicas": {}}}
    assert "f:status" not in mf[("kubectl", "Apply", "")]
    st["status"]["readyReplicas"] = 2
    p = server.kubectl("-n", ns, "apply", "--server-side", "--subresource=status",
                       "--field-manager=other", "-f", "-", input=json.dumps(st), check=False)
    assert p.returncode == 1
    assert 'conflict with "ctl" with subresource "status": .status.readyReplicas' in p.stderr
    del st["status"]["readyReplicas"]
    server.kubectl("-n", ns, "apply", "--server-side", "--subresource=status",
                   "--field-manager=ctl", "-f", "-", input=json.dumps(st))
    assert "readyReplicas" not in get(server, ns, "deploy", "web")["status"]


def test_python_client_apply(server, ns):
    """python3-kubernetes: an apply patch with fieldManager and force through its ApiClient
    (Debian's version picks the first patch media type itself), and managedFields decoded into
    its V1ManagedFieldsEntry models."""
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as c:

        def apply(body, manager, force=False):
            query = [("fieldManager", manager)] + ([("force", "true")] if force else [])
            return c.call_api("/apis/apps/v1/namespaces/{ns}/deployments/{name}", "PATCH",
                              {"ns": ns, "name": "py"}, query,
                              {"Content-Type": "application/apply-patch+yaml",
                               "Accept": "application/json"},
                              body=json.dumps(body), response_type="V1Deployment",
                              auth_settings=["BearerToken"], _return_http_data_only=True)

        body = json.loads(deployment("py", replicas=1))
        d = apply(body, "py-tool")
        assert d.spec.replicas == 1
        (e,) = d.metadata.managed_fields
        assert (e.manager, e.operation, e.api_version, e.fields_type) == \
            ("py-tool", "Apply", "apps/v1", "FieldsV1")
        assert "f:replicas" in e.fields_v1["f:spec"]
        body["spec"]["replicas"] = 4
        with pytest.raises(client.exceptions.ApiException) as err:
            apply(body, "other")
        assert err.value.status == 409
        assert json.loads(err.value.body)["details"]["causes"][0]["field"] == ".spec.replicas"
        d = apply(body, "other", force=True)
        assert d.spec.replicas == 4
        assert {m.manager for m in d.metadata.managed_fields} == {"py-tool", "other"}
        assert client.AppsV1Api(c).read_namespaced_deployment("py", ns).spec.replicas == 4


def test_apply_to_scale_subresource(server, ns):
    """An applied autoscaling/v1 Scale owns the workload's spec.replicas, with subresource
    "scale" (as an autoscaler applying replicas would)."""
    server.kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=deployment("web"))
    scale = "apiVersion: autoscaling/v1\nkind: Scale\nmetadata:\n  name: web\nspec:\n  replicas: 4\n"
    ct = {"Content-Type": "application/apply-patch+yaml"}
    path = "/apis/apps/v1/namespaces/%s/deployments/web/scale?fieldManager=scaler" % ns
    status, body = server.json("PATCH", path, scale, headers=ct)
    assert status == 409, body
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    status, body = server.json("PATCH", path + "&force=true", scale, headers=ct)
    assert status == 200, body
    assert body["kind"] == "Scale" and body["spec"]["replicas"] == 4
    d = get(server, ns, "deploy", "web")
    assert d["spec"]["replicas"] == 4
    mf = entries(d)
    assert mf[("scaler", "Apply", "scale")] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in mf[("kubectl", "Apply", "")]["f:spec"]
    status, body = server.json("PATCH", path.replace("/web/", "/missing/"), scale, headers=ct)
    assert status == 404, body
    status, body = server.json("PATCH", path, deployment("web"), headers=ct)
    assert status == 400 and "must be of type Scale" in body["message"], body


def test_apply_to_object_without_managed_fields(server):
    """Objects nobody manages yet (the server's own bootstrap namespaces): the first apply
    records their fields as "before-first-apply", so they neither vanish nor change hands."""
    mf = get(server, "default", "namespace", "kube-public")["metadata"].get("managedFields")
    if mf:
        import pytest
        pytest.skip("kube-public already has managedFields")
    ns_cfg = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "kube-public", "labels": {"team": "x"}}}
    server.kubectl("apply", "--server-side", "--field-manager=labeler", "-f", "-",
                   input=json.dumps(ns_cfg))
    o = get(server, "default", "namespace", "kube-public")
    mf = entries(o)
    assert mf[("labeler", "Apply", "")] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    before = mf[("before-first-apply", "Update", "")]
    assert "f:kubernetes.io/metadata.name" in before["f:metadata"]["f:labels"]
    del ns_cfg["metadata"]["labels"]
    server.kubectl("apply", "--server-side", "--field-manager=labeler", "-f", "-",
                   input=json.dumps(ns_cfg))
    o = get(server, "default", "namespace", "kube-public")
    assert o["metadata"]["labels"] == {"kubernetes.io/metadata.name": "kube-public"}
