"""Built-in admission plugins, driven with kubectl: ResourceQuota (refusal
message, status.used kept current), LimitRanger (defaults, annotation,
max), DefaultTolerationSeconds, DefaultStorageClass and PodSecurity
(enforce refuses, warn prints kubectl warnings, audit annotations)."""
import json
import re
import time

import pytest


def apply(server, obj, check=True, *args):
    return server.kubectl("apply", "-f", "-", *args, input=json.dumps(obj), check=check)


def create(server, obj, check=True, *args):
    return server.kubectl("create", "-f", "-", *args, input=json.dumps(obj), check=check)


def pod(name, ns, containers=None, **spec):
    cs = containers or [{"name": "c", "image": "busybox"}]
    s = {"containers": cs}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": s}


def get(server, *args):
    return json.loads(server.kubectl("get", "-o", "json", *args).stdout)


def wait_for(fn, timeout=10):
    end = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > end:
            return v
        time.sleep(0.1)


def test_quota_refuses_pod_over_count_and_keeps_status(server, ns):
    create(server, {"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "q", "namespace": ns},
                    "spec": {"hard": {"pods": "2", "configmaps": "10"}}})
    # status shows hard and used once the quota is created (kube-root-ca.crt is a configmap)
    def used():
        q = get(server, "-n", ns, "resourcequota", "q")
        return q.get("status", {}).get("used")
    assert wait_for(lambda: used() == {"pods": "0", "configmaps": "1"}), used()
    create(server, pod("p1", ns))
    create(server, pod("p2", ns))
    p = create(server, pod("p3", ns), False)
    assert p.returncode != 0
    assert ('pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, '
            'limited: pods=2') in p.stderr, p.stderr
    assert wait_for(lambda: used() == {"pods": "2", "configmaps": "1"}), used()
    out = server.kubectl("describe", "quota", "q", "-n", ns).stdout
    assert "pods" in out and "2     2" in out, out
    # deleting a pod frees its slot and the status follows
    server.kubectl("delete", "pod", "p1", "-n", ns, "--grace-period=0", "--force")
    assert wait_for(lambda: used() == {"pods": "1", "configmaps": "1"}), used()
    create(server, pod("p3", ns))
    # a dry run is checked but charges nothing
    p = server.kubectl("run", "p4", "--image=busybox", "-n", ns, "--dry-run=server", check=False)
    assert "exceeded quota: q" in p.stderr, p.stderr
    # raising the limit shows in status.hard at once, and admits again
    server.kubectl("patch", "resourcequota", "q", "-n", ns, "-p",
                   '{"spec":{"hard":{"pods":"3"}}}')
    assert wait_for(lambda: get(server, "-n", ns, "resourcequota", "q")["status"]["hard"]
                    == {"pods": "3", "configmaps": "10"})
    server.kubectl("run", "p4", "--image=busybox", "-n", ns)
    assert wait_for(lambda: used() == {"pods": "3", "configmaps": "1"}), used()


def test_quota_compute_resources(server, ns):
    create(server, {"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "compute", "namespace": ns},
                    "spec": {"hard": {"requests.cpu": "1", "limits.memory": "1Gi"}}})
    p = create(server, pod("nolimits", ns), False)
    assert p.returncode != 0
    assert ('pods "nolimits" is forbidden: failed quota: compute: must specify '
            'limits.memory for: c; requests.cpu for: c') in p.stderr, p.stderr
    res = {"requests": {"cpu": "600m"}, "limits": {"memory": "512Mi"}}
    create(server, pod("a", ns, [{"name": "c", "image": "busybox", "resources": res}]))
    p = create(server, pod("b", ns, [{"name": "c", "image": "busybox", "resources": res}]), False)
    assert ('pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
            'used: requests.cpu=600m, limited: requests.cpu=1') in p.stderr, p.stderr
    q = wait_for(lambda: get(server, "-n", ns, "quota", "compute").get("status", {}).get("used")
                 if get(server, "-n", ns, "quota", "compute").get("status", {}).get("used", {}).get("requests.cpu") == "600m" else None)
    assert q == {"requests.cpu": "600m", "limits.memory": "512Mi"}, q


def test_quota_object_count_by_group(server, ns):
    create(server, {"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "objs", "namespace": ns},
                    "spec": {"hard": {"count/deployments.apps": "1", "services.nodeports": "1"}}})
    server.kubectl("create", "deployment", "d1", "--image=busybox", "-n", ns)
    p = server.kubectl("create", "deployment", "d2", "--image=busybox", "-n", ns, check=False)
    assert ('deployments.apps "d2" is forbidden: exceeded quota: objs, requested: '
            'count/deployments.apps=1, used: count/deployments.apps=1, limited: '
            'count/deployments.apps=1') in p.stderr, p.stderr
    p = server.kubectl("create", "service", "nodeport", "np", "--tcp=80:80,81:81", "-n", ns,
                       check=False)
    assert "exceeded quota: objs, requested: services.nodeports=2" in p.stderr, p.stderr


def test_limitrange_defaults_and_max(server, ns):
    create(server, {"apiVersion": "v1", "kind": "LimitRange",
                    "metadata": {"name": "lr", "namespace": ns},
                    "spec": {"limits": [{"type": "Container",
                                         "default": {"cpu": "500m", "memory": "256Mi"},
                                         "defaultRequest": {"cpu": "100m"},
                                         "max": {"cpu": "1"}}]}})
    create(server, pod("d", ns, initContainers=[{"name": "init", "image": "busybox"}]))
    p = get(server, "-n", ns, "pod", "d")
    c = p["spec"]["containers"][0]["resources"]
    assert c == {"limits": {"cpu": "500m", "memory": "256Mi"},
                 "requests": {"cpu": "100m", "memory": "256Mi"}}, c
    assert p["spec"]["initContainers"][0]["resources"]["limits"]["cpu"] == "500m"
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for "
        "container c; cpu, memory request for init container init; cpu, memory limit for init "
        "container init"), p["metadata"]["annotations"]
    big = [{"name": "big", "image": "busybox", "resources": {"limits": {"cpu": "2"}}}]
    r = create(server, pod("big", ns, big), False)
    assert r.returncode != 0
    assert ('pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
            in r.stderr), r.stderr


def test_limitrange_pod_and_pvc(server, ns):
    create(server, {"apiVersion": "v1", "kind": "LimitRange",
                    "metadata": {"name": "lr", "namespace": ns},
                    "spec": {"limits": [{"type": "Pod", "max": {"memory": "1Gi"}},
                                        {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}},
                                        {"type": "PersistentVolumeClaim",
                                         "min": {"storage": "1Gi"}}]}})
    cs = [{"name": "a", "image": "busybox", "resources": {"limits": {"memory": "600Mi"}}},
          {"name": "b", "image": "busybox", "resources": {"limits": {"memory": "600Mi"}}}]
    r = create(server, pod("two", ns, cs), False)
    # all violations, aggregated as Kubernetes' utilerrors.NewAggregate prints them
    assert ('pods "two" is forbidden: [maximum memory usage per Pod is 1Gi, but limit is 1200Mi, '
            'cpu max limit to request ratio per Container is 2, but no request is specified or '
            'request is 0, cpu max limit to request ratio per Container is 2, but no request is '
            'specified or request is 0]' in r.stderr), r.stderr
    ratio = [{"name": "r", "image": "busybox",
              "resources": {"requests": {"cpu": "100m"},
                            "limits": {"cpu": "300m", "memory": "100Mi"}}}]
    r = create(server, pod("ratio", ns, ratio), False)
    assert ('pods "ratio" is forbidden: cpu max limit to request ratio per Container is 2, but '
            'provided ratio is 3.000000' in r.stderr), r.stderr
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "small", "namespace": ns},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                    "resources": {"requests": {"storage": "100Mi"}}}}
    r = create(server, pvc, False)
    assert ('persistentvolumeclaims "small" is forbidden: minimum storage usage per '
            'PersistentVolumeClaim is 1Gi, but request is 100Mi') in r.stderr, r.stderr


def test_default_tolerations(server, ns):
    tol = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
            "effect": "NoExecute", "tolerationSeconds": 60}]
    create(server, pod("t", ns, tolerations=tol))
    got = get(server, "-n", ns, "pod", "t")["spec"]["tolerations"]
    assert got == tol + [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                          "effect": "NoExecute", "tolerationSeconds": 300}], got
    create(server, pod("u", ns))
    got = get(server, "-n", ns, "pod", "u")["spec"]["tolerations"]
    assert [t["key"] for t in got] == ["node.kubernetes.io/not-ready",
                                       "node.kubernetes.io/unreachable"], got
    assert all(t["tolerationSeconds"] == 300 for t in got)


def test_default_storage_class(server, ns):
    def sc(name, default):
        ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
        return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": name, "annotations": ann},
                "provisioner": "k1s.io/local"}
    apply(server, sc(ns + "-plain", False))
    apply(server, sc(ns + "-default", True))

    def claim(name, cls=None):
        spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        if cls is not None:
            spec["storageClassName"] = cls
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": ns}, "spec": spec}
    try:
        create(server, claim("a"))
        assert get(server, "-n", ns, "pvc", "a")["spec"]["storageClassName"] == ns + "-default"
        create(server, claim("b", ""))
        assert get(server, "-n", ns, "pvc", "b")["spec"]["storageClassName"] == ""
        create(server, claim("c", ns + "-plain"))
        assert get(server, "-n", ns, "pvc", "c")["spec"]["storageClassName"] == ns + "-plain"
    finally:
        server.kubectl("delete", "storageclass", ns + "-plain", ns + "-default", check=False)


def label_ns(server, ns, *labels):
    return server.kubectl("label", "--overwrite", "namespace", ns, *labels)


RESTRICTED_OK = {"name": "c", "image": "busybox",
                 "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                     "capabilities": {"drop": ["ALL"]},
                                     "seccompProfile": {"type": "RuntimeDefault"}}}


def test_podsecurity_enforce_restricted(server, ns):
    label_ns(server, ns, "pod-security.kubernetes.io/enforce=restricted")
    priv = [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]
    p = create(server, pod("priv", ns, priv), False)
    assert p.returncode != 0
    assert ('Error from server (Forbidden): error when creating "STDIN": pods "priv" is '
            'forbidden: violates PodSecurity "restricted:latest": privileged (container "c" '
            'must not set securityContext.privileged=true), allowPrivilegeEscalation != false '
            '(container "c" must set securityContext.allowPrivilegeEscalation=false), '
            'unrestricted capabilities (container "c" must set '
            'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container '
            '"c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container '
            '"c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
            '"Localhost")') in p.stderr, p.stderr
    create(server, pod("ok", ns, [RESTRICTED_OK]))
    vols = [{"name": "h", "hostPath": {"path": "/tmp"}}]
    p = create(server, pod("vol", ns, [RESTRICTED_OK], volumes=vols, hostNetwork=True), False)
    assert ('violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), '
            'restricted volume types (volume "h" uses restricted volume type "hostPath")'
            in p.stderr), p.stderr
    # workloads are not refused, only warned about at the warn level (none set here)
    p = server.kubectl("create", "deployment", "d", "--image=busybox", "-n", ns)
    assert "Warning" not in p.stderr, p.stderr


def test_podsecurity_baseline_and_versions(server, ns):
    label_ns(server, ns, "pod-security.kubernetes.io/enforce=baseline",
             "pod-security.kubernetes.io/enforce-version=v1.30")
    cs = [{"name": "a", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}],
           "securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN"]}}},
          {"name": "b", "image": "busybox", "ports": [{"containerPort": 81, "hostPort": 10081}]}]
    p = create(server, pod("bad", ns, cs), False)
    assert ('pods "bad" is forbidden: violates PodSecurity "baseline:v1.30": non-default '
            'capabilities (container "a" must not include "NET_ADMIN" in '
            'securityContext.capabilities.add), hostPort (containers "a", "b" use hostPorts '
            '10081, 8080)') in p.stderr, p.stderr
    # baseline admits what only restricted forbids
    create(server, pod("fine", ns))


def test_podsecurity_warn_and_audit(server, ns):
    label_ns(server, ns, "pod-security.kubernetes.io/warn=restricted",
             "pod-security.kubernetes.io/audit=baseline")
    p = create(server, pod("w", ns))
    assert ('Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation '
            '!= false (container "c" must set securityContext.allowPrivilegeEscalation=false)'
            in p.stderr), p.stderr
    assert get(server, "-n", ns, "pod", "w")["metadata"]["name"] == "w"
    # pod templates of workloads are checked for warn too
    p = server.kubectl("create", "deployment", "web", "--image=busybox", "-n", ns)
    assert 'Warning: would violate PodSecurity "restricted:latest"' in p.stderr, p.stderr
    p = create(server, pod("quiet", ns, [RESTRICTED_OK]))
    assert "Warning" not in p.stderr, p.stderr


def test_podsecurity_namespace_labels(server, ns):
    priv = [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]
    create(server, pod("p1", ns, priv))
    create(server, pod("p2", ns, priv))
    p = label_ns(server, ns, "pod-security.kubernetes.io/enforce=baseline")
    assert ('Warning: existing pods in namespace "%s" violate the new PodSecurity enforce '
            'level "baseline:latest"' % ns) in p.stderr, p.stderr
    assert "Warning: p1, p2: privileged" in p.stderr, p.stderr
    p = server.kubectl("label", "--overwrite", "namespace", ns,
                       "pod-security.kubernetes.io/enforce=strict", check=False)
    assert p.returncode != 0
    assert ('metadata.labels[pod-security.kubernetes.io/enforce]: Unsupported value: '
            '"strict"') in p.stderr, p.stderr


def test_quota_storage_and_service_updates(server, ns):
    create(server, {"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "storage", "namespace": ns},
                    "spec": {"hard": {"requests.storage": "2Gi", "services.loadbalancers": "0"}}})
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "data", "namespace": ns},
           "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                    "resources": {"requests": {"storage": "1Gi"}}}}
    create(server, pvc)
    pvc["metadata"]["name"] = "more"
    pvc["spec"]["resources"]["requests"]["storage"] = "1536Mi"
    p = create(server, pvc, False)
    assert ('persistentvolumeclaims "more" is forbidden: exceeded quota: storage, requested: '
            'requests.storage=1536Mi, used: requests.storage=1Gi, limited: requests.storage=2Gi'
            in p.stderr), p.stderr
    # (an unbound claim cannot grow: validation refuses that before quota is asked)
    server.kubectl("create", "service", "clusterip", "s", "--tcp=80:80", "-n", ns)
    p = server.kubectl("patch", "service", "s", "-n", ns, "-p",
                       '{"spec":{"type":"LoadBalancer"}}', check=False)
    assert "exceeded quota: storage, requested: services.loadbalancers=1" in p.stderr, p.stderr


def test_admission_answers_with_each_kubectl(server, ns, kubectl_version):
    """Quota refusals, PodSecurity warnings and webhook configurations read the same with
    the newest kubectl and Debian's kubectl 1.20."""
    create(server, {"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "one", "namespace": ns}, "spec": {"hard": {"pods": "1"}}})
    label_ns(server, ns, "pod-security.kubernetes.io/warn=restricted")
    p = server.kubectl("run", "a", "--image=busybox", "-n", ns)
    assert 'Warning: would violate PodSecurity "restricted:latest"' in p.stderr, p.stderr
    p = server.kubectl("run", "b", "--image=busybox", "-n", ns, check=False)
    assert ('pods "b" is forbidden: exceeded quota: one, requested: pods=1, used: pods=1, '
            'limited: pods=1') in p.stderr, p.stderr
    name = "%s-%d" % (ns, kubectl_version)
    v = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": name},
         "webhooks": [{"name": "x.k1s.test", "clientConfig": {"url": "https://127.0.0.1:1/"},
                       "rules": [{"operations": ["CREATE"], "apiGroups": ["nothing.example"],
                                  "apiVersions": ["v1"], "resources": ["things"]}],
                       "sideEffects": "None", "admissionReviewVersions": ["v1"]}]}
    try:
        server.kubectl("apply", "-f", "-", input=json.dumps(v))
        out = server.kubectl("get", "validatingwebhookconfigurations", name).stdout
        assert out.split("\n")[1].split()[:2] == [name, "1"], out
    finally:
        server.kubectl("delete", "validatingwebhookconfiguration", name, check=False)


def test_generate_name_resolved_after_mutating_admission(server, ns):
    """A generateName is resolved after mutating admission (as BeforeCreate does); what is
    derived from the name, like a Job's job-name labels, still carries the final name."""
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"generateName": "once-", "namespace": ns},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox"}]}}}}
    out = server.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(job)).stdout
    got = json.loads(out)
    name = got["metadata"]["name"]
    assert name.startswith("once-") and len(name) == 10, name
    labels = got["spec"]["template"]["metadata"]["labels"]
    assert labels["job-name"] == name and labels["batch.kubernetes.io/job-name"] == name, labels
    # validating admission runs after the name is generated (Store.Create), so a refusal
    # names the object by its generated name
    create(server, {"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "none", "namespace": ns},
                    "spec": {"hard": {"count/jobs.batch": "1"}}})
    p = server.kubectl("create", "-f", "-", input=json.dumps(job), check=False)
    assert re.search(r'jobs.batch "once-[a-z0-9]{5}" is forbidden: exceeded quota: none',
                     p.stderr), p.stderr
