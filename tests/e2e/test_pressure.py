"""Image garbage collection and node-pressure eviction on the node agent (issue 5), with
thresholds given as k3s users give them (--kubelet-arg) and set so that this machine counts
as full: an unused image is collected while one in use stays; DiskPressure and MemoryPressure
set the node condition and its taint; the kubelet refuses new pods as kubelet does (Failed,
reason Evicted, "Pod was rejected: The node had condition: [DiskPressure]. "), evicts a
running pod that uses more than it requests with SIGKILL (Failed/Evicted, an Evicted event),
its ReplicaSet replaces it, and a critical pod stays."""
import json
import os
import shutil
import subprocess

import images_util
from conftest import K1S_BIN
from node_util import PodCluster


def node_events(c):
    out = c.kubectl("get", "events", "-A", "--field-selector", "involvedObject.kind=Node",
                    "-o", "json").stdout
    return json.loads(out)["items"]


def images(c):
    r = subprocess.run([K1S_BIN, "ctr", "images", "ls", "-q", "--data-dir", c.server.data_dir],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def pods_of(c, selector, ns="default"):
    out = c.kubectl("get", "pods", "-n", ns, "-l", selector, "-o", "json").stdout
    return json.loads(out)["items"]


def test_image_gc_and_disk_pressure_eviction(tmp_path):
    # one node, so that the test stays short: image GC above 1% (this disk is fuller than
    # that), and a hard eviction threshold this disk is always below
    c = PodCluster(str(tmp_path), n=23, server_args=[
        "--kubelet-arg", "image-gc-high-threshold=1", "--kubelet-arg", "image-gc-low-threshold=0",
        "--kubelet-arg", "minimum-image-ttl-duration=0s",
        "--kubelet-arg", "eviction-hard=nodefs.available<99%",
        "--kubelet-arg", "eviction-pressure-transition-period=30s"])
    try:
        def cond(t):
            n = c.get("node", "e2e-node")
            return next((x for x in n["status"]["conditions"] if x["type"] == t), None)

        dp = c.wait(lambda: (lambda x: x if x and x["status"] == "True" else None)(
            cond("DiskPressure")), 60, "DiskPressure=True")
        assert dp["reason"] == "KubeletHasDiskPressure", dp
        assert dp["message"] == "kubelet has disk pressure", dp
        assert cond("MemoryPressure")["status"] == "False"
        assert cond("Ready")["status"] == "True"
        # allocatable is what the threshold leaves: 1% of the disk
        st = c.get("node", "e2e-node")["status"]
        cap = int(st["capacity"]["ephemeral-storage"].rstrip("Ki")) * 1024
        assert int(st["allocatable"]["ephemeral-storage"]) <= cap // 100 + 4096, st
        # the node lifecycle controller taints the node, as TaintNodesByCondition
        c.wait(lambda: any(t["key"] == "node.kubernetes.io/disk-pressure" and
                           t["effect"] == "NoSchedule"
                           for t in c.get("node", "e2e-node")["spec"].get("taints", [])),
               60, "the disk-pressure taint")

        # a critical pod is never evicted, and the image it runs is in use
        c.apply({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "critical", "namespace": "kube-system",
                              "labels": {"app": "critical"}},
                 "spec": {"nodeName": "e2e-node", "priorityClassName": "system-node-critical",
                          "terminationGracePeriodSeconds": 1,
                          "containers": [{"name": "c", "image": c.image,
                                          "command": ["sleep", "3600"]}]}})
        c.wait(lambda: [p for p in pods_of(c, "app=critical", "kube-system")
                        if p["status"].get("phase") == "Running"], 90, "pod critical Running")
        # an air-gap image (pinned: never collected), written where the agent imports from
        airgap = os.path.join(str(tmp_path), "layout-airgap")
        images_util.build_busybox_layout(airgap, tag="3", cmd=("false",))
        tar = images_util.oci_archive(airgap, os.path.join(str(tmp_path), "airgap.tar"),
                                      "docker.io/k1stest/airgap:3", tag="3")
        shutil.copy(tar, os.path.join(c.server.data_dir, "agent", "images"))
        c.wait(lambda: "docker.io/k1stest/airgap:3" in images(c), 60, "the air-gap import")
        # an image the node pulled once and no container uses
        other = os.path.join(str(tmp_path), "layout-other")
        images_util.build_busybox_layout(other, tag="2", cmd=("true",))
        unused = c.registry.push(other, "k1stest/unused:2", tag="2")
        r = subprocess.run([K1S_BIN, "ctr", "images", "pull", unused, "--data-dir",
                            c.server.data_dir, "--private-registry",
                            os.path.join(str(tmp_path), "registries.yaml")],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        # a BestEffort pod bound to the node (the taint keeps the scheduler away): refused by
        # the kubelet's admission, as Evicted
        c.apply({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "be", "labels": {"app": "be"}},
                 "spec": {"nodeName": "e2e-node", "terminationGracePeriodSeconds": 1,
                          "containers": [{"name": "c", "image": c.image,
                                          "command": ["sleep", "3600"]}]}})

        # image GC on the next status sync (10 s): the unused image goes, the one in use stays
        c.wait(lambda: unused not in images(c), 60, "the unused image to be collected")
        assert c.image in images(c)
        assert "docker.io/k1stest/airgap:3" in images(c)
        # the disk cannot get below 0% usage: kubelet's event says so
        ev = c.wait(lambda: [e for e in node_events(c) if e["reason"] == "FreeDiskSpaceFailed"],
                    30, "a FreeDiskSpaceFailed event")
        assert ev[0]["message"].startswith(
            "Failed to garbage collect required amount of images. Attempted to free "), ev[0]
        assert ev[0]["type"] == "Warning"

        ev = c.wait(lambda: [p for p in pods_of(c, "app=be")
                             if p["status"].get("reason") == "Evicted"], 90,
                    "a pod to be evicted")[0]
        st = ev["status"]
        assert st["phase"] == "Failed", st
        assert st["message"] == ("Pod was rejected: The node had condition: "
                                 "[DiskPressure]. "), st
        assert st["qosClass"] == "BestEffort"
        name = ev["metadata"]["name"]
        assert not any("running" in cs["state"] or "terminated" in cs["state"]
                       for cs in st.get("containerStatuses") or []), st
        out = c.kubectl("get", "events", "--field-selector",
                        "involvedObject.name=%s,reason=Evicted" % name, "-o", "json").stdout
        evs = json.loads(out)["items"]
        assert evs and evs[0]["type"] == "Warning", evs
        assert evs[0]["message"] == "The node had condition: [DiskPressure]. ", evs
        assert "Evicted" in c.kubectl("describe", "pod", name).stdout
        reasons = [e["reason"] for e in node_events(c)]
        assert "EvictionThresholdMet" in reasons and "NodeHasDiskPressure" in reasons, reasons
        crit = pods_of(c, "app=critical", "kube-system")[0]["status"]
        assert crit["phase"] == "Running" and not crit.get("reason"), crit
    finally:
        c.close()


def test_memory_pressure_refuses_best_effort_and_evicts_above_request(tmp_path):
    c = PodCluster(str(tmp_path), n=24, server_args=[
        "--kubelet-arg", "eviction-hard=memory.available<1000Ti"])
    try:
        def cond(t):
            n = c.get("node", "e2e-node")
            return next((x for x in n["status"]["conditions"] if x["type"] == t), None)

        mp = c.wait(lambda: (lambda x: x if x and x["status"] == "True" else None)(
            cond("MemoryPressure")), 60, "MemoryPressure=True")
        assert mp["reason"] == "KubeletHasInsufficientMemory", mp
        assert cond("DiskPressure")["status"] == "False"  # eviction-hard replaced its defaults
        c.wait(lambda: any(t["key"] == "node.kubernetes.io/memory-pressure"
                           for t in c.get("node", "e2e-node")["spec"].get("taints", [])),
               60, "the memory-pressure taint")
        loop = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
        def spec(res):
            return {"nodeName": "e2e-node", "terminationGracePeriodSeconds": 30,
                    "containers": [{"name": "c", "image": c.image, "command": loop,
                                    "resources": res}]}

        for name, res in (("within", {"requests": {"memory": "1Gi"}}), ("be", {})):
            c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                     "spec": spec(res)})
        # a pod of a ReplicaSet (bound to the node: the taint keeps the scheduler away)
        c.apply({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "above"},
                 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "above"}},
                          "template": {"metadata": {"labels": {"app": "above"}},
                                       "spec": spec({"requests": {"memory": "1Ki"}})}}})

        def evicted(sel):
            return [p for p in pods_of(c, sel) if p["status"].get("reason") == "Evicted"]

        # under memory pressure the kubelet refuses BestEffort pods
        st = c.wait(lambda: (lambda s: s if s.get("reason") == "Evicted" else None)(
            c.get("pod", "be")["status"]), 60, "pod be to be refused")
        assert st["phase"] == "Failed"
        assert st["message"] == ("Pod was rejected: The node had condition: "
                                 "[MemoryPressure]. "), st
        # Burstable pods start; the one using more than its request is evicted first
        ev = c.wait(lambda: evicted("app=above"), 60, "the pod above its request evicted")[0]
        above, st = ev["metadata"]["name"], ev["status"]
        assert c.get("pod", "within")["status"].get("reason") != "Evicted"
        assert st["phase"] == "Failed"
        assert st["message"].startswith("The node was low on resource: memory. Threshold "
                                        "quantity: 1000Ti, available: "), st
        assert "Container c was using " in st["message"], st
        assert "request is 1Ki, has larger consumption of memory. " in st["message"], st
        conds = {x["type"]: x for x in st["conditions"]}
        assert conds["DisruptionTarget"]["reason"] == "TerminationByKubelet", conds
        # killed at once (grace period 0: SIGKILL, which its TERM trap cannot catch)
        cs = c.wait(lambda: (lambda s: s if s and "terminated" in s[0]["state"] else None)(
            c.get("pod", above)["status"].get("containerStatuses")), 30,
            "its container to be killed")
        assert cs[0]["state"]["terminated"]["exitCode"] == 137, cs
        out = c.kubectl("get", "events", "--field-selector",
                        "involvedObject.name=%s,reason=Evicted" % above, "-o", "json").stdout
        evs = json.loads(out)["items"]
        assert evs and evs[0]["type"] == "Warning" and evs[0]["message"] == st["message"], evs
        # its ReplicaSet replaces it
        c.wait(lambda: [p for p in pods_of(c, "app=above") if p["metadata"]["name"] != above],
               60, "a replacement pod")
        c.kubectl("delete", "rs", "above", "--wait=false")
    finally:
        c.close()


def test_bad_kubelet_arg_stops_the_server(tmp_path):
    r = subprocess.run([K1S_BIN, "server", "--data-dir", str(tmp_path), "--kubelet-arg",
                        "eviction-hard=disk.available<10%"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2
    assert "unsupported eviction signal disk.available" in r.stderr, r.stderr
