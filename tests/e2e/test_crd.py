"""CustomResourceDefinitions end to end, driven by kubectl and plain HTTPS: a CRD with a
schema, printer columns and status/scale subresources; validation with field paths,
defaults, pruning, several versions, a cluster-scoped CRD, names conflicts, deleting a CRD,
and CRDs served again after a restart."""
import json
import time

import pytest

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                  "shortNames": ["wd"], "categories": ["all"]},
        "versions": [
            {"name": "v1", "served": True, "storage": True,
             "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "description": "A Widget is a test object.",
                 "properties": {
                     "spec": {
                         "type": "object",
                         "description": "What the widget should be.",
                         "required": ["size"],
                         "properties": {
                             "size": {"type": "integer", "minimum": 1, "maximum": 100,
                                      "description": "How big the widget is."},
                             "color": {"type": "string", "enum": ["red", "green", "blue"],
                                       "default": "red"},
                             "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 10},
                             "replicas": {"type": "integer", "default": 1},
                             "selector": {"type": "string"},
                             "email": {"type": "string", "format": "email"},
                             "ports": {"type": "array", "x-kubernetes-list-type": "map",
                                       "x-kubernetes-list-map-keys": ["port"],
                                       "items": {"type": "object", "required": ["port"],
                                                 "properties": {"port": {"type": "integer"},
                                                                "name": {"type": "string"}}}},
                             "tags": {"type": "array", "x-kubernetes-list-type": "set",
                                      "items": {"type": "string"}, "maxItems": 3},
                             "port": {"x-kubernetes-int-or-string": True},
                             "extra": {"type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True},
                         },
                     },
                     "status": {
                         "type": "object",
                         "properties": {
                             "phase": {"type": "string"},
                             "replicas": {"type": "integer"},
                             "conditions": {"type": "array", "items": {
                                 "type": "object",
                                 "properties": {"type": {"type": "string"},
                                                "status": {"type": "string"}}}},
                         },
                     },
                 },
             }},
             "subresources": {"status": {},
                              "scale": {"specReplicasPath": ".spec.replicas",
                                        "statusReplicasPath": ".status.replicas",
                                        "labelSelectorPath": ".spec.selector"}},
             "additionalPrinterColumns": [
                 {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                 {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                 {"name": "Ready", "type": "string",
                  "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                 {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
             ]},
        ],
    },
}


def apply_crd(server, crd):
    server.kubectl("apply", "-f", "-", input=json.dumps(crd))
    server.kubectl("wait", "--for", "condition=established", "--timeout=10s",
                   "crd/" + crd["metadata"]["name"])


@pytest.fixture(scope="module")
def widgets(server):
    apply_crd(server, WIDGET_CRD)
    yield "widgets.example.com"


def widget(wname, ns, **spec):
    return json.dumps({"apiVersion": "example.com/v1", "kind": "Widget",
                       "metadata": {"name": wname, "namespace": ns}, "spec": spec})


def test_crd_established_and_discovered(server, widgets):
    crd = json.loads(server.kubectl("get", "crd", widgets, "-o", "json").stdout)
    conds = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conds["NamesAccepted"]["status"] == "True"
    assert conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["Established"]["status"] == "True"
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["conversion"]["strategy"] == "None"
    out = server.kubectl("api-resources", "--api-group=example.com").stdout
    assert "widgets" in out and "wd" in out and "Widget" in out
    st, lst = server.json("GET", "/apis/example.com/v1")
    assert st == 200
    names = {r["name"]: r for r in lst["resources"]}
    assert names["widgets"]["namespaced"] is True
    assert names["widgets"]["categories"] == ["all"]
    assert "widgets/status" in names and "widgets/scale" in names
    st, groups = server.json("GET", "/apis")
    assert any(g["name"] == "example.com" for g in groups["groups"])
    st, agg = server.json("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    grp = [g for g in agg["items"] if g["metadata"]["name"] == "example.com"][0]
    res = grp["versions"][0]["resources"][0]
    assert res["resource"] == "widgets" and res["scope"] == "Namespaced"
    assert res["shortNames"] == ["wd"] and res["categories"] == ["all"]
    assert {s["subresource"] for s in res["subresources"]} == {"status", "scale"}


def test_apply_get_columns_defaults_prune(server, widgets, ns):
    out = server.kubectl("apply", "--validate=false", "-f", "-",
                         input=widget("w1", ns, size=3, bogus="x"))
    assert "created" in out.stdout
    w = json.loads(server.kubectl("get", "widget", "w1", "-n", ns, "-o", "json").stdout)
    assert w["spec"]["color"] == "red"        # default
    assert w["spec"]["replicas"] == 1         # default
    assert "bogus" not in w["spec"]           # pruned
    assert w["metadata"]["generation"] == 1
    table = server.kubectl("get", "widgets", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    assert table[1].split()[:3] == ["w1", "3", "red"]
    # short name and the "all" category
    assert "w1" in server.kubectl("get", "wd", "-n", ns).stdout
    assert "widget.example.com/w1" in server.kubectl("get", "all", "-n", ns).stdout


def test_strict_field_validation(server, widgets, ns):
    st, body = server.json("POST", "/apis/example.com/v1/namespaces/%s/widgets?fieldValidation=Strict" % ns,
                           json.loads(widget("strict", ns, size=2, bogus=1)))
    assert st == 400, body
    assert body["message"] == ('Widget in version "v1" cannot be handled as a Widget: '
                               'strict decoding error: unknown field "spec.bogus"'), body
    st, hdrs, _ = server.request("POST", "/apis/example.com/v1/namespaces/%s/widgets" % ns,
                                 widget("warned", ns, size=2, bogus=1))
    assert st == 201
    assert 'unknown field \\"spec.bogus\\"' in hdrs.get("Warning", "")


@pytest.mark.parametrize("spec,needle", [
    ({"size": "big"}, 'spec.size: Invalid value: "big": spec.size in body must be of type integer: "string"'),
    ({}, "spec.size: Required value"),
    ({"size": 0}, "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"),
    ({"size": 101}, "spec.size in body should be less than or equal to 100"),
    ({"size": 1, "color": "pink"}, 'spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"'),
    ({"size": 1, "name": "ABC"}, "spec.name in body should match '^[a-z]+$'"),
    ({"size": 1, "name": "abcdefghijkl"}, "spec.name: Too long: may not be more than 10 bytes"),
    ({"size": 1, "email": "nope"}, 'spec.email in body must be of type email: "nope"'),
    ({"size": 1, "tags": ["a", "a"]}, 'spec.tags[1]: Duplicate value: "a"'),
    ({"size": 1, "tags": ["a", "b", "c", "d"]}, "spec.tags: Too many: 4: must have at most 3 items"),
    ({"size": 1, "ports": [{"port": 80}, {"port": 80}]}, "spec.ports[1]: Duplicate value"),
    ({"size": 1, "port": True}, "spec.port"),
])
def test_invalid_objects_refused(server, widgets, ns, spec, needle):
    p = server.kubectl("apply", "-f", "-", input=widget("bad", ns, **spec), check=False)
    assert p.returncode != 0
    assert 'The Widget "bad" is invalid' in p.stderr, p.stderr
    assert needle in p.stderr, p.stderr


def test_valid_extras_accepted(server, widgets, ns):
    server.kubectl("apply", "-f", "-", input=widget("ok", ns, size=1, port="http",
                                                    extra={"any": {"thing": [1, 2]}},
                                                    ports=[{"port": 80}, {"port": 81}]))
    w = json.loads(server.kubectl("get", "widget", "ok", "-n", ns, "-o", "json").stdout)
    assert w["spec"]["extra"] == {"any": {"thing": [1, 2]}}   # preserved
    assert w["spec"]["port"] == "http"


def test_invalid_name(server, widgets, ns):
    p = server.kubectl("apply", "-f", "-", input=widget("Bad_Name", ns, size=1), check=False)
    assert p.returncode != 0
    assert "metadata.name: Invalid value: \"Bad_Name\"" in p.stderr


def test_status_subresource(server, widgets, ns):
    server.kubectl("apply", "-f", "-", input=widget("s1", ns, size=5))
    base = "/apis/example.com/v1/namespaces/%s/widgets/s1" % ns
    # a main-resource write ignores status
    st, w = server.json("PATCH", base, {"status": {"phase": "Up"}, "spec": {"size": 6}},
                        headers={"Content-Type": "application/merge-patch+json"})
    assert st == 200, w
    assert "phase" not in w.get("status", {})
    assert w["spec"]["size"] == 6 and w["metadata"]["generation"] == 2
    # /status writes only change status, and do not bump the generation
    st, w = server.json("PATCH", base + "/status",
                        {"status": {"phase": "Up", "replicas": 1,
                                    "conditions": [{"type": "Ready", "status": "True"}]},
                         "spec": {"size": 50}},
                        headers={"Content-Type": "application/merge-patch+json"})
    assert st == 200, w
    assert w["status"]["phase"] == "Up" and w["spec"]["size"] == 6
    assert w["metadata"]["generation"] == 2
    line = server.kubectl("get", "widget", "s1", "-n", ns).stdout.splitlines()[1].split()
    assert line[:4] == ["s1", "6", "red", "True"]
    # strategic merge patch is not for custom resources
    st, body = server.json("PATCH", base, {"spec": {"size": 7}},
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert st == 415


def test_scale(server, widgets, ns):
    server.kubectl("apply", "-f", "-", input=widget("sc", ns, size=5, selector="app=sc"))
    server.kubectl("scale", "widget", "sc", "-n", ns, "--replicas=4")
    w = json.loads(server.kubectl("get", "widget", "sc", "-n", ns, "-o", "json").stdout)
    assert w["spec"]["replicas"] == 4
    st, scale = server.json("GET", "/apis/example.com/v1/namespaces/%s/widgets/sc/scale" % ns)
    assert st == 200
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 4
    assert scale["status"]["selector"] == "app=sc"


def test_explain_and_openapi(server, widgets):
    out = server.kubectl("explain", "widgets.spec").stdout
    assert "What the widget should be." in out
    assert "size" in out and "How big the widget is." in out
    out = server.kubectl("explain", "widgets.metadata").stdout
    assert "ObjectMeta" in out
    st, idx = server.json("GET", "/openapi/v3")
    assert "apis/example.com/v1" in idx["paths"]
    st, doc = server.json("GET", idx["paths"]["apis/example.com/v1"]["serverRelativeURL"])
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}]


def test_watch_sees_custom_objects(server, widgets, ns):
    st, lst = server.json("GET", "/apis/example.com/v1/namespaces/%s/widgets" % ns)
    rv = lst["metadata"]["resourceVersion"]
    server.kubectl("apply", "-f", "-", input=widget("watched", ns, size=9))
    st, hdrs, body = server.request(
        "GET", "/apis/example.com/v1/namespaces/%s/widgets?watch=1&resourceVersion=%s&timeoutSeconds=1" % (ns, rv))
    events = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    assert any(e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "watched" for e in events)


GADGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.org"},
    "spec": {
        "group": "example.org",
        "scope": "Cluster",
        "names": {"plural": "gadgets", "kind": "Gadget"},
        "versions": [
            {"name": "v1beta1", "served": True, "storage": False,
             "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                 "spec": {"type": "object", "properties": {"mode": {"type": "string"}}}}}}},
            {"name": "v1", "served": True, "storage": True,
             "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                 "spec": {"type": "object", "properties": {
                     "mode": {"type": "string", "default": "auto"}}}}}}},
        ],
    },
}


def test_versions_and_cluster_scope(server):
    apply_crd(server, GADGET_CRD)
    server.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "example.org/v1beta1", "kind": "Gadget", "metadata": {"name": "g1"},
         "spec": {"mode": "manual"}}))
    st, g = server.json("GET", "/apis/example.org/v1/gadgets/g1")
    assert st == 200 and g["apiVersion"] == "example.org/v1" and g["spec"]["mode"] == "manual"
    st, g = server.json("GET", "/apis/example.org/v1beta1/gadgets/g1")
    assert st == 200 and g["apiVersion"] == "example.org/v1beta1"
    assert "namespace" not in g["metadata"]
    # defaults of the version read
    server.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "g2"}, "spec": {}}))
    st, g = server.json("GET", "/apis/example.org/v1/gadgets/g2")
    assert g["spec"]["mode"] == "auto"
    st, lst = server.json("GET", "/apis/example.org")
    assert lst["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in lst["versions"]] == ["v1", "v1beta1"]
    assert "g1" in server.kubectl("get", "gadgets").stdout
    # the storage version moves to v1beta1: objects stored as v1 still read in either version
    crd = json.loads(json.dumps(GADGET_CRD))
    crd["spec"]["versions"][0]["storage"] = True
    crd["spec"]["versions"][1]["storage"] = False
    server.kubectl("apply", "-f", "-", input=json.dumps(crd))
    deadline = time.time() + 2
    while time.time() < deadline:
        c = json.loads(server.kubectl("get", "crd", "gadgets.example.org", "-o", "json").stdout)
        if len(c["status"]["storedVersions"]) == 2:
            break
        time.sleep(0.05)
    assert c["status"]["storedVersions"] == ["v1", "v1beta1"]
    st, g = server.json("GET", "/apis/example.org/v1beta1/gadgets/g1")
    assert g["apiVersion"] == "example.org/v1beta1" and g["spec"]["mode"] == "manual"
    st, g = server.json("GET", "/apis/example.org/v1/gadgets/g1")
    assert g["apiVersion"] == "example.org/v1"


def test_names_conflict(server, widgets):
    other = json.loads(json.dumps(WIDGET_CRD))
    other["metadata"]["name"] = "things.example.com"
    other["spec"]["names"] = {"plural": "things", "singular": "thing", "kind": "Widget"}
    server.kubectl("apply", "-f", "-", input=json.dumps(other))
    deadline = time.time() + 5
    while time.time() < deadline:
        crd = json.loads(server.kubectl("get", "crd", "things.example.com", "-o", "json").stdout)
        conds = {c["type"]: c for c in crd.get("status", {}).get("conditions", [])}
        if "NamesAccepted" in conds:
            break
        time.sleep(0.1)
    assert conds["NamesAccepted"]["status"] == "False"
    # every conflicting name is checked; the last one found names the reason, as in Kubernetes
    assert conds["NamesAccepted"]["reason"] == "ListKindConflict"
    assert conds["NamesAccepted"]["message"] == '"WidgetList" is already in use'
    assert crd["status"]["acceptedNames"]["plural"] == "things"    # the free names are taken
    assert conds["Established"]["status"] == "False"
    st, _ = server.json("GET", "/apis/example.com/v1/things")
    assert st == 404
    server.kubectl("delete", "crd", "things.example.com")


@pytest.mark.parametrize("mutate,needle", [
    (lambda c: c["metadata"].update(name="wrong.example.com"),
     'metadata.name: Invalid value: "wrong.example.com": must be spec.names.plural+"."+spec.group'),
    (lambda c: c["spec"]["versions"][0].update(storage=False),
     "must have exactly one version marked as storage version"),
    (lambda c: c["spec"].update(scope="Galaxy"), 'spec.scope: Unsupported value: "Galaxy"'),
    (lambda c: c["spec"]["versions"][0].pop("schema"),
     "spec.versions[0].schema.openAPIV3Schema: Required value"),
    (lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].pop("type"),
     "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value"),
    (lambda c: c["spec"].update(conversion={"strategy": "Webhook"}), "not supported"),
])
def test_crd_validation(server, mutate, needle):
    crd = json.loads(json.dumps(WIDGET_CRD))
    crd["metadata"]["name"] = "sprockets.example.com"
    crd["spec"]["names"] = {"plural": "sprockets", "kind": "Sprocket"}
    mutate(crd)
    p = server.kubectl("create", "-f", "-", input=json.dumps(crd), check=False)
    assert p.returncode != 0
    assert needle in p.stderr, p.stderr


def test_delete_crd_removes_objects(server):
    crd = json.loads(json.dumps(WIDGET_CRD))
    crd["metadata"]["name"] = "doomeds.example.net"
    crd["spec"]["group"] = "example.net"
    crd["spec"]["names"] = {"plural": "doomeds", "kind": "Doomed"}
    apply_crd(server, crd)
    server.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "example.net/v1", "kind": "Doomed",
         "metadata": {"name": "d1", "namespace": "default"}, "spec": {"size": 1}}))
    # a watch on the resource sees the object go, then ends with the resource
    import threading
    got = {}

    def watch():
        got["resp"] = server.request(
            "GET", "/apis/example.net/v1/namespaces/default/doomeds?watch=1&timeoutSeconds=30",
            timeout=40)
    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    start = time.time()
    server.kubectl("delete", "crd", "doomeds.example.net", "--timeout=20s")
    t.join(25)
    assert not t.is_alive() and time.time() - start < 20
    events = [json.loads(l) for l in got["resp"][2].decode().splitlines() if l.strip()]
    assert any(e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "d1" for e in events)
    st, _ = server.json("GET", "/apis/example.net/v1/namespaces/default/doomeds")
    assert st == 404
    st, groups = server.json("GET", "/apis")
    assert not any(g["name"] == "example.net" for g in groups["groups"])
    assert "doomeds" not in server.kubectl("api-resources").stdout
    # the same CRD again: served again, and empty
    apply_crd(server, crd)
    st, lst = server.json("GET", "/apis/example.net/v1/namespaces/default/doomeds")
    assert st == 200 and lst["items"] == []
    server.kubectl("delete", "crd", "doomeds.example.net", "--timeout=20s")


def test_crds_served_after_restart(fresh_server):
    s = fresh_server.start()
    apply_crd(s, WIDGET_CRD)
    s.kubectl("apply", "-f", "-", input=widget("persist", "default", size=4))
    s.stop()
    s.start()
    w = json.loads(s.kubectl("get", "widget", "persist", "-n", "default", "-o", "json").stdout)
    assert w["spec"]["size"] == 4
    assert "persist" in s.kubectl("get", "widgets", "-A").stdout


def test_kubectl_120(server, widgets, ns):
    """Debian's kubectl 1.20 reads /openapi/v2 (explain, client-side validation)."""
    import os
    from conftest import KUBECTL_120
    if not os.path.exists(KUBECTL_120):
        pytest.skip("Debian's kubectl 1.20 not unpacked (run make deps)")
    k = lambda *a, **kw: server.kubectl(*a, binary=KUBECTL_120, **kw)
    k("apply", "-f", "-", input=widget("old", ns, size=2))
    assert k("get", "widgets", "-n", ns).stdout.splitlines()[0].split() == \
        ["NAME", "SIZE", "COLOR", "READY", "AGE"]
    out = k("explain", "widgets.spec").stdout
    assert "What the widget should be." in out and "size" in out
    p = k("apply", "-f", "-", input=widget("old2", ns, size="big"), check=False)
    assert p.returncode != 0 and "spec.size" in p.stderr
    k("scale", "widget", "old", "-n", ns, "--replicas=2")
    st, v2 = server.json("GET", "/openapi/v2")
    assert "com.example.v1.Widget" in v2["definitions"]
    assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}" in v2["paths"]


def test_namespace_deletion_removes_custom_objects(server, widgets):
    server.kubectl("create", "namespace", "crd-ns-gone")
    server.kubectl("apply", "-f", "-", input=widget("in-ns", "crd-ns-gone", size=1))
    server.kubectl("delete", "namespace", "crd-ns-gone", "--timeout=20s")
    st, _ = server.json("GET", "/apis/example.com/v1/namespaces/crd-ns-gone/widgets/in-ns")
    assert st == 404


def test_crd_update_adds_version(server):
    crd = json.loads(json.dumps(GADGET_CRD))
    crd["metadata"]["name"] = "gizmos.example.org"
    crd["spec"]["names"] = {"plural": "gizmos", "kind": "Gizmo", "shortNames": ["gz"]}
    crd["spec"]["versions"] = crd["spec"]["versions"][1:]
    apply_crd(server, crd)
    st, _ = server.json("GET", "/apis/example.org/v2/gizmos")
    assert st == 404
    v2 = json.loads(json.dumps(crd["spec"]["versions"][0]))
    v2.update(name="v2", storage=False)
    crd["spec"]["versions"].append(v2)
    server.kubectl("apply", "-f", "-", input=json.dumps(crd))
    deadline = time.time() + 2
    while time.time() < deadline:
        st, _ = server.json("GET", "/apis/example.org/v2/gizmos")
        if st == 200:
            break
        time.sleep(0.05)
    assert st == 200
    st, lst = server.json("GET", "/apis/example.org/v2")
    assert [r["name"] for r in lst["resources"]] == ["gizmos"]
    # a version no longer served goes away
    crd["spec"]["versions"][1]["served"] = False
    server.kubectl("apply", "-f", "-", input=json.dumps(crd))
    deadline = time.time() + 2
    while time.time() < deadline:
        st, _ = server.json("GET", "/apis/example.org/v2/gizmos")
        if st == 404:
            break
        time.sleep(0.05)
    assert st == 404
    server.kubectl("delete", "crd", "gizmos.example.org")


def test_python_client(server, widgets, ns):
    """python3-kubernetes: the CRD through ApiextensionsV1Api, objects through CustomObjectsApi,
    and a watch of them."""
    from kubernetes import client, config, watch
    cfg = client.Configuration()
    config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        crd = client.ApiextensionsV1Api(c).read_custom_resource_definition(widgets)
        assert crd.spec.names.kind == "Widget"
        assert {x.type: x.status for x in crd.status.conditions}["Established"] == "True"
        co = client.CustomObjectsApi(c)
        body = json.loads(widget("py", ns, size=4))
        created = co.create_namespaced_custom_object("example.com", "v1", ns, "widgets", body)
        assert created["spec"]["color"] == "red"
        patched = co.patch_namespaced_custom_object("example.com", "v1", ns, "widgets", "py",
                                                    {"spec": {"size": 5}})
        assert patched["spec"]["size"] == 5 and patched["metadata"]["generation"] == 2
        st = co.patch_namespaced_custom_object_status("example.com", "v1", ns, "widgets", "py",
                                                      {"status": {"phase": "Up"}})
        assert st["status"]["phase"] == "Up"
        items = co.list_namespaced_custom_object("example.com", "v1", ns, "widgets")["items"]
        assert "py" in [i["metadata"]["name"] for i in items]
        rv = co.list_namespaced_custom_object("example.com", "v1", ns, "widgets")["metadata"][
            "resourceVersion"]
        co.delete_namespaced_custom_object("example.com", "v1", ns, "widgets", "py")
        w = watch.Watch()
        seen = []
        for ev in w.stream(co.list_namespaced_custom_object, "example.com", "v1", ns, "widgets",
                           resource_version=rv, timeout_seconds=2):
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            if ev["type"] == "DELETED":
                w.stop()
        assert ("DELETED", "py") in seen
        with pytest.raises(client.exceptions.ApiException) as e:
            co.create_namespaced_custom_object("example.com", "v1", ns, "widgets",
                                               json.loads(widget("bad", ns, size="x")))
        assert e.value.status == 422
        assert json.loads(e.value.body)["details"]["causes"][0]["field"] == "spec.size"


def test_defaults_applied_when_reading(server):
    crd = json.loads(json.dumps(GADGET_CRD))
    crd["metadata"]["name"] = "doodads.example.org"
    crd["spec"]["names"] = {"plural": "doodads", "kind": "Doodad"}
    crd["spec"]["versions"] = crd["spec"]["versions"][:1]
    crd["spec"]["versions"][0]["storage"] = True
    apply_crd(server, crd)
    server.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "example.org/v1beta1", "kind": "Doodad", "metadata": {"name": "d"},
         "spec": {}}))
    st, d = server.json("GET", "/apis/example.org/v1beta1/doodads/d")
    assert "mode" not in d["spec"]
    # a default added to the schema later shows on objects stored before it
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "mode"]["default"] = "later"
    server.kubectl("apply", "-f", "-", input=json.dumps(crd))
    deadline = time.time() + 2
    while time.time() < deadline:
        st, d = server.json("GET", "/apis/example.org/v1beta1/doodads/d")
        if d["spec"].get("mode"):
            break
        time.sleep(0.05)
    assert d["spec"]["mode"] == "later"
    st, lst = server.json("GET", "/apis/example.org/v1beta1/doodads")
    assert lst["items"][0]["spec"]["mode"] == "later"
    server.kubectl("delete", "crd", "doodads.example.org")
