"""Watch streams over raw HTTPS and through kubectl get -w."""
import json
import os
import subprocess
import time

from conftest import KUBECTL


def test_kubectl_get_watch(server, ns, kubectl_version):
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.tmp)
    p = subprocess.Popen([server.kubectl_binary or KUBECTL, "-n", ns, "get", "cm", "-w", "--output-watch-events"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.0)
        server.kubectl("-n", ns, "create", "configmap", "watched", "--from-literal=a=b")
        server.kubectl("-n", ns, "label", "cm", "watched", "x=y")
        server.kubectl("-n", ns, "delete", "cm", "watched")
        time.sleep(1.0)
    finally:
        p.terminate()
        out, err = p.communicate(timeout=10)
    lines = out.splitlines()
    assert lines[0].split() == ["EVENT", "NAME", "DATA", "AGE"], out
    kinds = [l.split()[0] for l in lines if "watched" in l]
    assert kinds == ["ADDED", "MODIFIED", "DELETED"], out + err


def test_watch_with_label_selector_transitions(server, ns):
    server.kubectl("-n", ns, "create", "configmap", "sel", "--from-literal=a=b")
    status, body = server.json("GET", "/api/v1/namespaces/%s/configmaps" % ns)
    rv = body["metadata"]["resourceVersion"]
    server.kubectl("-n", ns, "label", "cm", "sel", "watch=me")
    server.kubectl("-n", ns, "label", "cm", "sel", "watch-")
    status, _, data = server.request(
        "GET", "/api/v1/namespaces/%s/configmaps?watch=1&labelSelector=watch%%3Dme&resourceVersion=%s&timeoutSeconds=1"
        % (ns, rv))
    events = [json.loads(l) for l in data.decode().splitlines() if l.strip()]
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]


def test_watch_without_rv_starts_with_current_objects(server, ns):
    server.kubectl("-n", ns, "create", "configmap", "a1")
    server.kubectl("-n", ns, "create", "configmap", "a2")
    status, _, data = server.request(
        "GET", "/api/v1/namespaces/%s/configmaps?watch=true&timeoutSeconds=1" % ns)
    names = [json.loads(l)["object"]["metadata"]["name"] for l in data.decode().splitlines() if l]
    assert "a1" in names and "a2" in names


def test_bookmarks_and_metrics_count_watchers(server, ns):
    status, _, body = server.request("GET", "/metrics")
    assert b"apiserver_registered_watchers" in body


def test_many_watchers_share_large_events(server, ns):
    import threading
    base = "/api/v1/namespaces/%s/configmaps" % ns
    status, lst = server.json("GET", base)
    rv = lst["metadata"]["resourceVersion"]
    results = [None] * 5

    def watch(i):
        status, _, data = server.request("GET", base + "?watch=1&resourceVersion=%s&timeoutSeconds=3" % rv)
        results[i] = [json.loads(l) for l in data.decode().splitlines() if l]

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    big = "x" * 4000
    server.json("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
                               "data": {"v": big}})
    server.json("PATCH", base + "/big", {"data": {"v": big + "y"}},
                headers={"Content-Type": "application/merge-patch+json"})
    server.json("DELETE", base + "/big")
    for t in threads:
        t.join()
    for events in results:
        assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
        assert events[1]["object"]["data"]["v"] == big + "y"
        assert events[2]["object"]["metadata"]["resourceVersion"] != events[1]["object"]["metadata"]["resourceVersion"]
