"""Ordinary manifests of every built-in kind apply cleanly, twice, with either kubectl."""
import json
import os

import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifests")
pytestmark = pytest.mark.usefixtures("kubectl_version")


def test_bundle_applies_and_is_idempotent(server, ns, kubectl_version):
    bundle = os.path.join(HERE, "bundle.yaml")
    out = server.kubectl("-n", ns, "apply", "-f", bundle).stdout
    assert out.count(" created") == 20, out
    out = server.kubectl("-n", ns, "apply", "-f", bundle).stdout
    # As on any cluster, three objects always read "configured" on a re-apply: a Secret
    # written with stringData (stored as data), a StatefulSet whose volumeClaimTemplates
    # the server fills in (an atomic list), and a PodDisruptionBudget (its selector has
    # the "replace" patch strategy). Everything else is unchanged.
    # kubectl 1.20 predates batch/v1 CronJob and policy/v1 PodDisruptionBudget, so it
    # sends JSON merge patches for them: the CronJob's defaulted containers list then
    # differs, and the PodDisruptionBudget's selector does not.
    configured = sorted(l.split()[0] for l in out.splitlines() if l.endswith(" configured"))
    if kubectl_version >= 21:
        want = ["poddisruptionbudget.policy/web", "secret/app-secret", "statefulset.apps/db"]
    else:
        want = ["cronjob.batch/backup", "secret/app-secret", "statefulset.apps/db"]
    assert configured == want, out
    assert out.count(" unchanged") == 17, out
    d = json.loads(server.kubectl("-n", ns, "get", "deploy", "web", "-o", "json").stdout)
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["periodSeconds"] == 10
    assert d["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"] == 420
    s = json.loads(server.kubectl("-n", ns, "get", "secret", "app-secret", "-o", "json").stdout)
    assert set(s["data"]) == {"username", "password"}
    out = server.kubectl("-n", ns, "get", "all").stdout
    for kind in ("service/web", "deployment.apps/web", "statefulset.apps/db", "daemonset.apps/agent",
                 "job.batch/migrate", "cronjob.batch/backup", "horizontalpodautoscaler.autoscaling/web"):
        assert kind in out, (kind, out)
    for what in ("ingress", "networkpolicy", "pdb", "role", "rolebinding", "lease", "pvc", "limitrange",
                 "resourcequota", "sa", "cm"):
        assert server.kubectl("-n", ns, "get", what).stdout.strip(), what
    server.kubectl("-n", ns, "delete", "-f", bundle, timeout=60)


def test_cluster_scoped_bundle(server):
    path = os.path.join(HERE, "cluster.yaml")
    out = server.kubectl("apply", "-f", path).stdout
    assert out.count(" created") + out.count(" unchanged") == 5, out
    out = server.kubectl("apply", "-f", path).stdout
    assert out.count(" unchanged") == 5, out
    for what in ("storageclass", "priorityclass", "ingressclass", "clusterrole", "clusterrolebinding"):
        assert "bundle-" in server.kubectl("get", what).stdout, what
    server.kubectl("delete", "-f", path)
