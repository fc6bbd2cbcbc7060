"""kubectl against k1s: the everyday commands a user types."""
import json
import os
import stat
import textwrap
import time

import pytest

# every test here runs with the newest kubectl and with Debian's kubectl 1.20
pytestmark = pytest.mark.usefixtures("kubectl_version")

CM = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: app-config
      labels:
        app: web
    data:
      color: blue
      size: "3"
    """)

DEPLOY = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels:
        app: web
    spec:
      replicas: 2
      selector:
        matchLabels:
          app: web
      template:
        metadata:
          labels:
            app: web
        spec:
          containers:
          - name: web
            image: busybox:1.36
            command: ["httpd", "-f", "-p", "8080"]
            ports:
            - containerPort: 8080
            env:
            - name: A
              value: "1"
            - name: B
              value: "2"
    """)


def test_create_get_delete_configmap(server, ns):
    out = server.kubectl("-n", ns, "create", "-f", "-", input=CM).stdout
    assert "configmap/app-config created" in out
    cm = json.loads(server.kubectl("-n", ns, "get", "cm", "app-config", "-o", "json").stdout)
    assert cm["data"] == {"color": "blue", "size": "3"}
    assert cm["metadata"]["uid"] and cm["metadata"]["resourceVersion"]
    assert cm["metadata"]["creationTimestamp"].endswith("Z")
    again = server.kubectl("-n", ns, "create", "-f", "-", input=CM, check=False)
    assert again.returncode != 0 and "AlreadyExists" in again.stderr
    table = server.kubectl("-n", ns, "get", "configmaps").stdout
    assert table.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    assert "app-config" in table and " 2 " in table
    out = server.kubectl("-n", ns, "delete", "cm", "app-config").stdout
    assert 'configmap "app-config" deleted' in out
    gone = server.kubectl("-n", ns, "get", "cm", "app-config", check=False)
    assert gone.returncode != 0 and 'configmaps "app-config" not found' in gone.stderr


def test_apply_twice_with_change(server, ns):
    out = server.kubectl("-n", ns, "apply", "-f", "-", input=DEPLOY).stdout
    assert "deployment.apps/web created" in out
    out = server.kubectl("-n", ns, "apply", "-f", "-", input=DEPLOY).stdout
    assert "deployment.apps/web unchanged" in out
    changed = DEPLOY.replace("replicas: 2", "replicas: 3").replace("busybox:1.36", "busybox:1.37")
    changed = changed.replace("""        - name: B
          value: "2"
""", "")
    assert "name: B" not in changed
    out = server.kubectl("-n", ns, "apply", "-f", "-", input=changed).stdout
    assert "deployment.apps/web configured" in out
    d = json.loads(server.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 3
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "busybox:1.37"
    assert c["env"] == [{"name": "A", "value": "1"}]
    assert d["metadata"]["generation"] == 2
    # defaults as Kubernetes sets them
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["spec"]["progressDeadlineSeconds"] == 600
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert d["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_diff_and_server_dry_run(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=CM)
    same = server.kubectl("-n", ns, "diff", "-f", "-", input=CM, check=False)
    assert same.returncode == 0, same.stderr
    changed = CM.replace("blue", "green")
    diff = server.kubectl("-n", ns, "diff", "-f", "-", input=changed, check=False)
    assert diff.returncode == 1, diff.stderr
    assert "-  color: blue" in diff.stdout and "+  color: green" in diff.stdout
    server.kubectl("-n", ns, "apply", "--dry-run=server", "-f", "-", input=changed)
    cm = json.loads(server.kubectl("-n", ns, "get", "cm", "app-config", "-o", "json").stdout)
    assert cm["data"]["color"] == "blue"


def test_patch_all_three_types(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=DEPLOY)
    server.kubectl("-n", ns, "patch", "deploy", "web", "--type=merge", "-p",
                   '{"metadata":{"labels":{"tier":"front"}}}')
    server.kubectl("-n", ns, "patch", "deploy", "web", "--type=json", "-p",
                   '[{"op":"replace","path":"/spec/replicas","value":4}]')
    server.kubectl("-n", ns, "patch", "deploy", "web", "-p",
                   '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:2"}]}}}}')
    d = json.loads(server.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    assert d["metadata"]["labels"]["tier"] == "front"
    assert d["spec"]["replicas"] == 4
    c = d["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["image"] == "busybox:2" and c[0]["command"][0] == "httpd"
    bad = server.kubectl("-n", ns, "patch", "deploy", "web", "--type=json", "-p",
                         '[{"op":"remove","path":"/spec/nothere"}]', check=False)
    assert bad.returncode != 0


def test_label_annotate_scale_replace(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=DEPLOY)
    server.kubectl("-n", ns, "label", "deploy", "web", "env=prod")
    server.kubectl("-n", ns, "annotate", "deploy", "web", "note=hello")
    out = server.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=5").stdout
    assert "scaled" in out
    d = json.loads(server.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    assert d["metadata"]["labels"]["env"] == "prod"
    assert d["metadata"]["annotations"]["note"] == "hello"
    assert d["spec"]["replicas"] == 5
    server.kubectl("-n", ns, "label", "deploy", "web", "env-")
    d = json.loads(server.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    d["spec"]["replicas"] = 1
    out = server.kubectl("-n", ns, "replace", "-f", "-", input=json.dumps(d)).stdout
    assert "replaced" in out
    d2 = json.loads(server.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    assert d2["spec"]["replicas"] == 1
    # a stale resourceVersion conflicts
    stale = server.kubectl("-n", ns, "replace", "-f", "-", input=json.dumps(d), check=False)
    assert stale.returncode != 0 and "the object has been modified" in stale.stderr


def test_edit_with_editor_script(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=CM)
    editor = os.path.join(server.tmp, "editor-%s.sh" % ns)
    with open(editor, "w") as f:
        f.write("#!/bin/sh\nsed -i 's/color: blue/color: red/' \"$1\"\n")
    os.chmod(editor, 0o755)
    out = server.kubectl("-n", ns, "edit", "cm", "app-config", env={"EDITOR": editor}).stdout
    assert "edited" in out
    cm = json.loads(server.kubectl("-n", ns, "get", "cm", "app-config", "-o", "json").stdout)
    assert cm["data"]["color"] == "red"


def test_output_formats(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=CM)
    y = server.kubectl("-n", ns, "get", "cm", "app-config", "-o", "yaml").stdout
    assert "kind: ConfigMap" in y and "color: blue" in y
    assert server.kubectl("-n", ns, "get", "cm", "app-config", "-o", "jsonpath={.data.color}").stdout == "blue"
    assert "configmap/app-config" in server.kubectl("-n", ns, "get", "cm", "-o", "name").stdout.split()
    server.kubectl("-n", ns, "apply", "-f", "-", input=DEPLOY)
    wide = server.kubectl("-n", ns, "get", "deploy", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                               "IMAGES", "SELECTOR"]
    assert wide[1].split()[:2] == ["web", "0/2"] and "app=web" in wide[1]
    js = json.loads(server.kubectl("-n", ns, "get", "cm", "-o", "json").stdout)
    assert js["kind"] == "List" and any(i["metadata"]["name"] == "app-config" for i in js["items"])


def test_selectors_and_chunks(server, ns):
    for i in range(12):
        server.kubectl("-n", ns, "create", "configmap", "c%02d" % i, "--from-literal=k=v")
        if i % 3 == 0:
            server.kubectl("-n", ns, "label", "cm", "c%02d" % i, "three=yes")
    names = server.kubectl("-n", ns, "get", "cm", "-l", "three=yes", "-o", "name").stdout.split()
    assert names == ["configmap/c00", "configmap/c03", "configmap/c06", "configmap/c09"]
    names = server.kubectl("-n", ns, "get", "cm", "-l", "three!=yes,!nothing", "-o", "name").stdout.split()
    assert "configmap/c01" in names and "configmap/c00" not in names
    names = server.kubectl("-n", ns, "get", "cm", "--field-selector", "metadata.name=c05", "-o", "name").stdout.split()
    assert names == ["configmap/c05"]
    out = server.kubectl("-n", ns, "get", "cm", "--chunk-size=5", "-o", "name", "-v=6").stdout
    assert len([l for l in out.split() if l.startswith("configmap/c")]) == 12
    bad = server.kubectl("-n", ns, "get", "cm", "-l", "a in (", check=False)
    assert bad.returncode != 0
    bad = server.kubectl("-n", ns, "get", "cm", "--field-selector", "spec.nope=1", check=False)
    assert bad.returncode != 0 and "field label not supported" in bad.stderr


def test_all_namespaces(server, ns):
    server.kubectl("-n", ns, "create", "configmap", "everywhere", "--from-literal=a=b")
    out = server.kubectl("get", "cm", "-A").stdout
    assert out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert ns in out and "everywhere" in out


def test_create_secret_and_configmap_from_file(server, ns):
    server.kubectl("-n", ns, "create", "secret", "generic", "s1", "--from-literal=password=hunter2")
    s = json.loads(server.kubectl("-n", ns, "get", "secret", "s1", "-o", "json").stdout)
    assert s["type"] == "Opaque" and s["data"]["password"] == "aHVudGVyMg=="
    path = os.path.join(server.tmp, "app-%s.properties" % ns)
    with open(path, "w") as f:
        f.write("a=1\nb=2\n")
    server.kubectl("-n", ns, "create", "configmap", "fromfile", "--from-file=" + path)
    cm = json.loads(server.kubectl("-n", ns, "get", "cm", "fromfile", "-o", "json").stdout)
    assert cm["data"]["app-%s.properties" % ns] == "a=1\nb=2\n"
    # stringData folds into data
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s2"},
        "stringData": {"user": "admin"}}))
    s2 = json.loads(server.kubectl("-n", ns, "get", "secret", "s2", "-o", "json").stdout)
    assert s2["data"]["user"] == "YWRtaW4=" and "stringData" not in s2


def test_describe(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=DEPLOY)
    out = server.kubectl("-n", ns, "describe", "deploy", "web").stdout
    assert "Name:" in out and "web" in out and "Replicas:" in out
    out = server.kubectl("-n", ns, "describe", "ns", ns).stdout
    assert "Active" in out


def test_invalid_objects_are_refused(server, ns):
    bad = DEPLOY.replace("""  template:
    metadata:
      labels:
        app: web""", """  template:
    metadata:
      labels:
        app: other""")
    assert "app: other" in bad
    p = server.kubectl("-n", ns, "apply", "-f", "-", input=bad, check=False)
    assert p.returncode != 0
    assert "is invalid" in p.stderr and "spec.template.metadata.labels" in p.stderr
    p = server.kubectl("-n", ns, "create", "configmap", "Bad_Name", check=False)
    assert p.returncode != 0 and "is invalid" in p.stderr
    unknown = CM.replace("\ndata:", "\nbogus: 1\ndata:")
    p = server.kubectl("-n", ns, "apply", "-f", "-", input=unknown, check=False)
    assert p.returncode != 0 and 'unknown field "bogus"' in p.stderr


def test_delete_namespace_with_contents(server):
    server.kubectl("create", "namespace", "doomed")
    server.kubectl("-n", "doomed", "apply", "-f", "-", input=CM)
    server.kubectl("-n", "doomed", "apply", "-f", "-", input=DEPLOY)
    out = server.kubectl("delete", "ns", "doomed", timeout=60).stdout
    assert 'namespace "doomed" deleted' in out
    p = server.kubectl("get", "ns", "doomed", check=False)
    assert p.returncode != 0 and "not found" in p.stderr
    p = server.kubectl("-n", "doomed", "get", "cm", "-o", "name")
    assert p.stdout.strip() == ""


def test_terminating_namespace_refuses_new_objects(server):
    server.kubectl("create", "namespace", "sticky")
    server.kubectl("-n", "sticky", "apply", "-f", "-", input=CM)
    server.kubectl("-n", "sticky", "patch", "cm", "app-config", "--type=merge", "-p",
                   '{"metadata":{"finalizers":["example.com/hold"]}}')
    server.kubectl("delete", "ns", "sticky", "--wait=false")
    p = server.kubectl("-n", "sticky", "create", "configmap", "late", check=False)
    assert p.returncode != 0 and "being terminated" in p.stderr
    ns = json.loads(server.kubectl("get", "ns", "sticky", "-o", "json").stdout)
    assert ns["status"]["phase"] == "Terminating"
    server.kubectl("-n", "sticky", "patch", "cm", "app-config", "--type=json", "-p",
                   '[{"op":"remove","path":"/metadata/finalizers"}]')
    deadline = time.time() + 10
    while time.time() < deadline:
        if server.kubectl("get", "ns", "sticky", check=False).returncode != 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("namespace sticky was not removed after its last finalizer went")


def test_explain(server):
    out = server.kubectl("explain", "deployment.spec").stdout
    assert "KIND:" in out and "Deployment" in out and "replicas" in out and "template" in out
    out = server.kubectl("explain", "pod.spec.containers.image").stdout
    assert "image" in out and "<string>" in out


def test_create_validation_modes(server, ns, kubectl_version):
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v"}, "data": {}, "extra": 1}
    p = server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode != 0 and 'unknown field "extra"' in p.stderr
    if kubectl_version >= 25:
        # server-side validation in Warn mode (kubectl 1.25+): accepted with a warning
        p = server.kubectl("-n", ns, "create", "--validate=warn", "-f", "-", input=json.dumps(bad),
                           check=False)
        assert p.returncode == 0 and 'unknown field "extra"' in p.stderr
    else:
        server.kubectl("-n", ns, "create", "--validate=false", "-f", "-", input=json.dumps(bad))
    cm = json.loads(server.kubectl("-n", ns, "get", "cm", "v", "-o", "json").stdout)
    assert "extra" not in cm


def test_system_namespaces_cannot_be_deleted(server):
    for name in ("default", "kube-system", "kube-public"):
        p = server.kubectl("delete", "ns", name, check=False)
        assert p.returncode != 0 and "may not be deleted" in p.stderr


def test_labelling_a_terminating_namespace_keeps_it(server):
    server.kubectl("create", "-f", "-", input='{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"slow"}}')
    server.kubectl("-n", "slow", "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}))
    server.kubectl("delete", "ns", "slow", "--wait=false")
    server.kubectl("label", "ns", "slow", "x=y")
    ns = json.loads(server.kubectl("get", "ns", "slow", "-o", "json").stdout)
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["labels"]["x"] == "y"
    server.kubectl("-n", "slow", "patch", "cm", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    deadline = time.time() + 10
    while time.time() < deadline and server.kubectl("get", "ns", "slow", check=False).returncode == 0:
        time.sleep(0.1)
    assert server.kubectl("get", "ns", "slow", check=False).returncode != 0


def test_namespace_with_a_deletion_timestamp_label_is_not_terminating(server):
    server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "tricky", "labels": {"deletionTimestamp": "never"}}}))
    server.kubectl("-n", "tricky", "create", "configmap", "fine")
    server.kubectl("delete", "ns", "tricky", timeout=60)
