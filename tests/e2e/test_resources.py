"""Per-type behaviour a kubectl user notices: defaults, allocation, status, subresources."""
import json
import textwrap

POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata:
      name: p1
      labels: {app: p}
    spec:
      containers:
      - name: c
        image: busybox
        command: ["sleep", "3600"]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
    """)


def get(server, ns, *what):
    return json.loads(server.kubectl("-n", ns, "get", *what, "-o", "json").stdout)


def test_pod_defaults_and_status(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=POD)
    p = get(server, ns, "pod", "p1")
    spec = p["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert p["status"]["phase"] == "Pending"
    assert p["status"]["qosClass"] == "Burstable"
    assert "generation" not in p["metadata"] or p["metadata"]["generation"] >= 1
    out = server.kubectl("-n", ns, "get", "pods").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:4] == ["p1", "0/1", "Pending", "0"]
    wide = server.kubectl("-n", ns, "get", "pods", "-o", "wide").stdout.splitlines()[0].split()
    assert wide[5:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    # an unscheduled pod goes at once
    server.kubectl("-n", ns, "delete", "pod", "p1", timeout=20)


def test_pod_binding_and_status_subresource(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=POD)
    status, body = server.json("POST", "/api/v1/namespaces/%s/pods/p1/binding" % ns,
                               {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"},
                                "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}})
    assert status == 201, body
    p = get(server, ns, "pod", "p1")
    assert p["spec"]["nodeName"] == "node-a"
    status, body = server.json("POST", "/api/v1/namespaces/%s/pods/p1/binding" % ns,
                               {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"},
                                "target": {"kind": "Node", "name": "node-b"}})
    assert status == 409
    # status writes go through /status only
    status, _ = server.json("PATCH", "/api/v1/namespaces/%s/pods/p1/status" % ns,
                            {"status": {"phase": "Running", "podIP": "10.42.0.5"}},
                            headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200
    server.kubectl("-n", ns, "patch", "pod", "p1", "--type=merge", "-p", '{"status":{"phase":"Failed"}}')
    p = get(server, ns, "pod", "p1")
    assert p["status"]["phase"] == "Running" and p["status"]["podIP"] == "10.42.0.5"
    names = server.kubectl("-n", ns, "get", "pods", "--field-selector", "status.phase=Running,spec.nodeName=node-a",
                           "-o", "name").stdout.split()
    assert names == ["pod/p1"]
    # a pod on a node is deleted gracefully: Terminating until the kubelet (or --force) finishes it
    server.kubectl("-n", ns, "delete", "pod", "p1", "--wait=false")
    p = get(server, ns, "pod", "p1")
    assert p["metadata"]["deletionTimestamp"] and p["metadata"]["deletionGracePeriodSeconds"] == 30
    assert "Terminating" in server.kubectl("-n", ns, "get", "pod", "p1").stdout
    server.kubectl("-n", ns, "delete", "pod", "p1", "--force", "--grace-period=0")
    assert server.kubectl("-n", ns, "get", "pod", "p1", check=False).returncode != 0


def test_service_ip_and_nodeport_allocation(server, ns):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "NodePort", "selector": {"app": "web"},
                    "ports": [{"port": 80, "targetPort": 8080}]}}
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(svc))
    s = get(server, ns, "svc", "web")
    ip = s["spec"]["clusterIP"]
    assert ip.startswith("10.43.") and s["spec"]["clusterIPs"] == [ip]
    port = s["spec"]["ports"][0]
    assert 30000 <= port["nodePort"] <= 32767 and port["protocol"] == "TCP"
    assert s["spec"]["sessionAffinity"] == "None"
    line = server.kubectl("-n", ns, "get", "svc", "web").stdout.splitlines()[1].split()
    assert line[:3] == ["web", "NodePort", ip] and line[4] == "80:%d/TCP" % port["nodePort"]
    # apply again keeps the allocations
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(svc))
    s2 = get(server, ns, "svc", "web")
    assert s2["spec"]["clusterIP"] == ip and s2["spec"]["ports"][0]["nodePort"] == port["nodePort"]
    # a second service may not take the same node port or IP
    other = json.loads(json.dumps(svc))
    other["metadata"]["name"] = "other"
    other["spec"]["ports"][0]["nodePort"] = port["nodePort"]
    p = server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(other), check=False)
    assert p.returncode != 0 and "already allocated" in p.stderr
    # both are released on delete
    server.kubectl("-n", ns, "delete", "svc", "web")
    other["spec"]["clusterIP"] = ip
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(other))
    s3 = get(server, ns, "svc", "other")
    assert s3["spec"]["clusterIP"] == ip and s3["spec"]["ports"][0]["nodePort"] == port["nodePort"]


def test_headless_and_invalid_service(server, ns):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
           "spec": {"clusterIP": "None", "selector": {"a": "b"}, "ports": [{"port": 80}]}}
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(svc))
    assert get(server, ns, "svc", "h")["spec"]["clusterIP"] == "None"
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad"},
           "spec": {"ports": [{"port": 70000}]}}
    p = server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode != 0 and "spec.ports[0].port" in p.stderr


def test_nodes(server):
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "edge-1", "labels": {"node-role.kubernetes.io/control-plane": "true"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian", "kernelVersion": "6.1",
                                    "containerRuntimeVersion": "k1s", "architecture": "amd64",
                                    "bootID": "b", "kubeProxyVersion": "v1.32.0", "machineID": "m",
                                    "operatingSystem": "linux", "systemUUID": "u"},
                       "addresses": [{"type": "InternalIP", "address": "192.0.2.10"}]}}
    server.kubectl("apply", "-f", "-", input=json.dumps(node))
    line = server.kubectl("get", "nodes").stdout.splitlines()[1].split()
    assert line[0] == "edge-1" and line[1] == "Ready" and line[2] == "control-plane"
    server.kubectl("cordon", "edge-1")
    assert "Ready,SchedulingDisabled" in server.kubectl("get", "node", "edge-1").stdout
    server.kubectl("delete", "node", "edge-1")


def test_get_all_and_scale_subresource(server, ns):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"a": "d"}},
                    "template": {"metadata": {"labels": {"a": "d"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(dep))
    out = server.kubectl("-n", ns, "get", "all").stdout
    assert "deployment.apps/d" in out
    status, scale = server.json("GET", "/apis/apps/v1/namespaces/%s/deployments/d/scale" % ns)
    assert status == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"]["selector"] == "a=d"
    status, scale = server.json("PUT", "/apis/apps/v1/namespaces/%s/deployments/d/scale" % ns,
                                {"apiVersion": "autoscaling/v1", "kind": "Scale",
                                 "metadata": {"name": "d", "namespace": ns}, "spec": {"replicas": 4}})
    assert status == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 4
    assert get(server, ns, "deploy", "d")["spec"]["replicas"] == 4


def test_finalizers_hold_deletion(server, ns):
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "held", "finalizers": ["example.com/keep"]}, "data": {"a": "b"}}
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(cm))
    server.kubectl("-n", ns, "delete", "cm", "held", "--wait=false")
    c = get(server, ns, "cm", "held")
    assert c["metadata"]["deletionTimestamp"]
    server.kubectl("-n", ns, "patch", "cm", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert server.kubectl("-n", ns, "get", "cm", "held", check=False).returncode != 0


def test_generate_name_and_dry_run(server, ns):
    status, body = server.json("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})
    assert status == 201 and body["metadata"]["name"].startswith("gen-") and len(body["metadata"]["name"]) == 9
    status, body = server.json("POST", "/api/v1/namespaces/%s/configmaps?dryRun=All" % ns,
                               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}})
    assert status == 201
    status, _ = server.json("GET", "/api/v1/namespaces/%s/configmaps/dry" % ns)
    assert status == 404


def test_optimistic_concurrency(server, ns):
    status, cm = server.json("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "occ"}, "data": {"n": "1"}})
    cm["data"]["n"] = "2"
    status, cm2 = server.json("PUT", "/api/v1/namespaces/%s/configmaps/occ" % ns, cm)
    assert status == 200
    cm["data"]["n"] = "3"
    status, err = server.json("PUT", "/api/v1/namespaces/%s/configmaps/occ" % ns, cm)
    assert status == 409 and err["reason"] == "Conflict"
    # a no-op update writes nothing
    status, cm3 = server.json("PUT", "/api/v1/namespaces/%s/configmaps/occ" % ns, cm2)
    assert status == 200 and cm3["metadata"]["resourceVersion"] == cm2["metadata"]["resourceVersion"]


def test_events_in_both_api_groups(server, ns):
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
          "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
          "reportingInstance": "ctl-1", "action": "Test", "reason": "Tested", "type": "Normal",
          "note": "hello", "regarding": {"kind": "Pod", "name": "p", "namespace": ns}}
    status, body = server.json("POST", "/apis/events.k8s.io/v1/namespaces/%s/events" % ns, ev)
    assert status == 201, body
    assert body["note"] == "hello" and body["regarding"]["name"] == "p"
    status, core = server.json("GET", "/api/v1/namespaces/%s/events/e1" % ns)
    assert status == 200 and core["message"] == "hello" and core["involvedObject"]["name"] == "p"
    assert core["reportingComponent"] == "example.com/ctl"
    out = server.kubectl("-n", ns, "get", "events", "--field-selector", "involvedObject.name=p").stdout
    assert "Tested" in out and "hello" in out
    status, lst = server.json("GET", "/apis/events.k8s.io/v1/namespaces/%s/events" % ns)
    assert [i["note"] for i in lst["items"]] == ["hello"]


def test_paginated_list_is_a_consistent_snapshot(server, ns):
    base = "/api/v1/namespaces/%s/configmaps" % ns
    for n in ("a", "b", "c", "d"):
        server.json("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n},
                                    "data": {"v": "1"}})
    status, page1 = server.json("GET", base + "?limit=2")
    assert [i["metadata"]["name"] for i in page1["items"]] == ["a", "b"]
    rv = page1["metadata"]["resourceVersion"]
    # changes after the first page are not seen by the later pages
    server.json("DELETE", base + "/c")
    server.json("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}})
    server.json("PATCH", base + "/d", {"data": {"v": "2"}},
                headers={"Content-Type": "application/merge-patch+json"})
    status, page2 = server.json("GET", base + "?limit=2&continue=" + page1["metadata"]["continue"])
    assert status == 200, page2
    assert [i["metadata"]["name"] for i in page2["items"]] == ["c", "d"]
    assert page2["items"][1]["data"] == {"v": "1"}
    # the last page holds the namespace's kube-root-ca.crt
    assert page2["metadata"]["resourceVersion"] == rv and page2["metadata"]["remainingItemCount"] == 1
    # the same snapshot by resourceVersionMatch=Exact; now is different
    status, exact = server.json("GET", base + "?resourceVersion=%s&resourceVersionMatch=Exact" % rv)
    assert [i["metadata"]["name"] for i in exact["items"]] == ["a", "b", "c", "d", "kube-root-ca.crt"]
    status, now = server.json("GET", base)
    assert [i["metadata"]["name"] for i in now["items"]] == ["a", "b", "d", "e", "kube-root-ca.crt"]
    status, body = server.json("GET", base + "?resourceVersion=999999999")
    assert status == 504 and "Too large resource version" in body["message"]
    status, body = server.json("GET", base + "?resourceVersionMatch=Exact")
    assert status == 400


def test_hpa_in_v1_and_v2(server, ns):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
           "spec": {"selector": {"matchLabels": {"a": "w"}},
                    "template": {"metadata": {"labels": {"a": "w"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    server.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(dep))
    # kubectl autoscale writes autoscaling/v1
    server.kubectl("-n", ns, "autoscale", "deployment", "w", "--min=2", "--max=5", "--cpu-percent=80")
    v2 = get(server, ns, "hpa", "w")
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    status, v1 = server.json("GET", "/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers/w" % ns)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 80 and "metrics" not in v1["spec"]
    line = server.kubectl("-n", ns, "get", "hpa").stdout.splitlines()[1].split()
    assert line[:2] == ["w", "Deployment/w"] and "80%" in line[3]


def test_logs_of_a_pod_that_has_not_started(server, ns):
    server.kubectl("-n", ns, "apply", "-f", "-", input=POD)
    p = server.kubectl("-n", ns, "logs", "p1", check=False)
    assert p.returncode != 0 and 'container "c" in pod "p1" is waiting to start' in p.stderr
