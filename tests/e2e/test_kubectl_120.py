"""Debian's kubectl 1.20 (package kubernetes-client) against k1s."""
import json
import os
import textwrap

import pytest

from conftest import KUBECTL_120

pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL_120),
                                reason="Debian's kubectl 1.20 not unpacked (run make deps)")

CM = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: old
    data:
      a: "1"
    """)


def k(server, *args, **kw):
    return server.kubectl(*args, binary=KUBECTL_120, **kw)


def test_version_and_api_resources(server):
    out = k(server, "version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["major"] == "1"
    res = k(server, "api-resources").stdout
    assert "deployments" in res and "configmaps" in res


def test_crud_apply_twice_patch_label_scale_delete(server, ns):
    assert "configmap/old created" in k(server, "-n", ns, "apply", "-f", "-", input=CM).stdout
    assert "unchanged" in k(server, "-n", ns, "apply", "-f", "-", input=CM).stdout
    assert "configured" in k(server, "-n", ns, "apply", "-f", "-", input=CM.replace('"1"', '"2"')).stdout
    k(server, "-n", ns, "patch", "cm", "old", "--type=merge", "-p", '{"data":{"b":"3"}}')
    k(server, "-n", ns, "label", "cm", "old", "x=y")
    k(server, "-n", ns, "annotate", "cm", "old", "n=m")
    cm = json.loads(k(server, "-n", ns, "get", "cm", "old", "-o", "json").stdout)
    assert cm["data"] == {"a": "2", "b": "3"} and cm["metadata"]["labels"] == {"x": "y"}
    k(server, "-n", ns, "create", "deployment", "d", "--image=busybox")
    k(server, "-n", ns, "scale", "deployment", "d", "--replicas=3")
    d = json.loads(k(server, "-n", ns, "get", "deploy", "d", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 3
    out = k(server, "-n", ns, "get", "deploy,cm", "-o", "wide").stdout
    assert "deployment.apps/d" in out and "configmap/old" in out
    assert "Name:" in k(server, "-n", ns, "describe", "cm", "old").stdout
    k(server, "-n", ns, "delete", "cm", "old")
    assert k(server, "-n", ns, "get", "cm", "old", check=False).returncode != 0


def test_create_secret_and_namespace(server):
    k(server, "create", "namespace", "from-old-kubectl")
    k(server, "-n", "from-old-kubectl", "create", "secret", "generic", "s", "--from-literal=k=v")
    s = json.loads(k(server, "-n", "from-old-kubectl", "get", "secret", "s", "-o", "json").stdout)
    assert s["data"]["k"] == "dg=="
    k(server, "delete", "namespace", "from-old-kubectl", timeout=60)
