"""PersistentVolume binding and the local-path provisioner inside `k1s server`, seen through
kubectl: pre-created volumes bind to the claims they fit (and not to others), Retain leaves a
Released volume and Delete removes it, the local-path StorageClass is the default, an Immediate
class provisions at once and a WaitForFirstConsumer claim waits for the scheduler's
selected-node annotation, and the protection finalizers keep a claim in use until its pod goes."""
import json
import os
import time

import pytest


def wait_for(fn, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def apply(server, *objs):
    server.kubectl("apply", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def get(server, *args):
    p = server.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def pv(name, size, cls, policy="Retain", modes=("ReadWriteOnce",), labels=None, path=None,
       claim=None):
    o = {"apiVersion": "v1", "kind": "PersistentVolume",
         "metadata": {"name": name, "labels": labels or {}},
         "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                  "persistentVolumeReclaimPolicy": policy, "storageClassName": cls,
                  "hostPath": {"path": path or "/mnt/" + name}}}
    if claim:
        o["spec"]["claimRef"] = {"namespace": claim[0], "name": claim[1]}
    return o


def pvc(ns, name, size, cls=None, modes=("ReadWriteOnce",), selector=None, volume=None,
        annotations=None):
    o = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
         "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}}
    if cls is not None:
        o["spec"]["storageClassName"] = cls
    if selector:
        o["spec"]["selector"] = {"matchLabels": selector}
    if volume:
        o["spec"]["volumeName"] = volume
    return o


def phase(server, kind, name, ns=None):
    o = get(server, *(["-n", ns] if ns else []), kind, name)
    return o and o["status"].get("phase")


def events(server, ns, name):
    out = get(server, "-n", ns, "events", "--field-selector", "involvedObject.name=" + name)
    return [(e["reason"], e["message"], e["source"].get("component")) for e in out["items"]]


def wait_event(server, ns, name, reason):
    return wait_for(lambda: [e for e in events(server, ns, name) if e[0] == reason],
                    what="%s Event on %s" % (reason, name))[0]


def table(server, *args):
    """kubectl get output as a list of {column: value} rows."""
    lines = server.kubectl("get", *args).stdout.splitlines()
    head = lines[0]
    starts = [i for i in range(len(head)) if head[i] != " " and (i == 0 or head[i - 2:i] == "  ")]
    rows = []
    for line in lines[1:]:
        row = {}
        for j, s in enumerate(starts):
            e = starts[j + 1] if j + 1 < len(starts) else None
            row[head[s:e].strip()] = line[s:e].strip()
        rows.append(row)
    return rows


def delete_pvs(server, *names):
    server.kubectl("delete", "pv", *names, "--wait=false", "--ignore-not-found", check=False)


def test_local_path_class_is_default(server):
    rows = wait_for(lambda: [r for r in table(server, "sc") if r["NAME"].startswith("local-path")],
                    what="the local-path StorageClass")
    assert rows[0]["NAME"] == "local-path (default)"
    assert rows[0]["PROVISIONER"] == "rancher.io/local-path"
    assert rows[0]["RECLAIMPOLICY"] == "Delete"
    assert rows[0]["VOLUMEBINDINGMODE"] == "WaitForFirstConsumer"


def test_prebound_volumes_bind_to_claims_that_fit(server, ns):
    cls = ns + "-manual"
    small, big, rwx, labeled = (ns + "-small", ns + "-big", ns + "-rwx", ns + "-labeled")
    try:
        apply(server, pv(small, "1Gi", cls), pv(big, "5Gi", cls),
              pv(rwx, "1Gi", cls, modes=("ReadWriteOnce", "ReadWriteMany")),
              pv(labeled, "2Gi", cls, labels={"tier": "gold"}))
        for n in (small, big, rwx, labeled):
            wait_for(lambda n=n: phase(server, "pv", n) == "Available", what=n + " Available")
        apply(server, pvc(ns, "fits", "500Mi", cls), pvc(ns, "too-big", "10Gi", cls),
              pvc(ns, "gold", "1Gi", cls, selector={"tier": "gold"}),
              pvc(ns, "platinum", "1Gi", cls, selector={"tier": "platinum"}))
        wait_for(lambda: phase(server, "pvc", "fits", ns) == "Bound", what="fits Bound")
        wait_for(lambda: phase(server, "pvc", "gold", ns) == "Bound", what="gold Bound")
        claim = get(server, "-n", ns, "pvc", "fits")
        # the smallest volume with the fewest access modes that fits
        assert claim["spec"]["volumeName"] == small
        assert claim["status"]["capacity"] == {"storage": "1Gi"}
        assert claim["status"]["accessModes"] == ["ReadWriteOnce"]
        a = claim["metadata"]["annotations"]
        assert a["pv.kubernetes.io/bind-completed"] == "yes"
        assert a["pv.kubernetes.io/bound-by-controller"] == "yes"
        assert "kubernetes.io/pvc-protection" in claim["metadata"]["finalizers"]
        vol = wait_for(lambda: (lambda v: v if v["status"]["phase"] == "Bound" else None)(
            get(server, "pv", small)), what=small + " Bound")
        assert vol["spec"]["claimRef"]["name"] == "fits"
        assert vol["spec"]["claimRef"]["namespace"] == ns
        assert vol["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
        assert vol["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
        assert "kubernetes.io/pv-protection" in vol["metadata"]["finalizers"]
        assert get(server, "-n", ns, "pvc", "gold")["spec"]["volumeName"] == labeled

        # no volume fits these: they stay Pending, and the others stay Available
        time.sleep(1)
        assert phase(server, "pvc", "too-big", ns) == "Pending"
        assert phase(server, "pvc", "platinum", ns) == "Pending"
        assert phase(server, "pv", big) == "Available"
        assert phase(server, "pv", rwx) == "Available"
        reason, msg, comp = wait_event(server, ns, "too-big", "ProvisioningFailed")
        assert msg == 'storageclass.storage.k8s.io "%s" not found' % cls
        assert comp == "persistentvolume-controller"

        # a volume that fits, created later, is found without any resync
        apply(server, pv(ns + "-huge", "20Gi", cls))
        wait_for(lambda: phase(server, "pvc", "too-big", ns) == "Bound", what="too-big Bound")
        assert get(server, "-n", ns, "pvc", "too-big")["spec"]["volumeName"] == ns + "-huge"

        # once bound, nothing is written again (no controller fights over an object)
        def versions():
            objs = get(server, "-n", ns, "pvc")["items"] + get(server, "pv")["items"]
            return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in objs
                    if o["metadata"]["name"].startswith(ns) or o["metadata"].get("namespace") == ns}
        wait_for(lambda: phase(server, "pv", ns + "-huge") == "Bound", what="huge Bound")
        before = versions()
        time.sleep(1.5)
        assert versions() == before

        # growing a claim needs a class that allows expansion, and a bound claim
        grow = '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}'
        p = server.kubectl("-n", ns, "patch", "pvc", "fits", "-p", grow, check=False)
        assert p.returncode != 0
        assert ('persistentvolumeclaims "fits" is forbidden: only dynamically provisioned pvc can '
                'be resized and the storageclass that provisions the pvc must support resize'
                in p.stderr), p.stderr
        p = server.kubectl("-n", ns, "patch", "pvc", "platinum", "-p", grow, check=False)
        assert ('The PersistentVolumeClaim "platinum" is invalid: spec: Forbidden: spec is '
                'immutable after creation except resources.requests and volumeAttributesClassName '
                'for bound claims' in p.stderr), p.stderr

        rows = {r["NAME"]: r for r in table(server, "-n", ns, "pvc")}
        assert rows["fits"]["STATUS"] == "Bound"
        assert rows["fits"]["VOLUME"] == small
        assert rows["fits"]["CAPACITY"] == "1Gi"
        assert rows["fits"]["ACCESS MODES"] == "RWO"
        assert rows["fits"]["STORAGECLASS"] == cls
        assert rows["platinum"]["STATUS"] == "Pending"
        assert rows["platinum"]["VOLUME"] == ""
        rows = {r["NAME"]: r for r in table(server, "pv")}
        assert rows[small]["STATUS"] == "Bound"
        assert rows[small]["CLAIM"] == ns + "/fits"
        assert rows[small]["RECLAIM POLICY"] == "Retain"
        assert rows[small]["CAPACITY"] == "1Gi"
        assert rows[rwx]["ACCESS MODES"] == "RWO,RWX"
        assert rows[rwx]["STATUS"] == "Available"
        assert rows[rwx]["CLAIM"] == ""
    finally:
        server.kubectl("-n", ns, "delete", "pvc", "--all", "--wait=false", check=False)
        delete_pvs(server, small, big, rwx, labeled, ns + "-huge")


def test_prebound_claim_and_volume(server, ns):
    cls = ns + "-manual"
    a, b = ns + "-a", ns + "-b"
    try:
        # a volume reserved for a claim by claimRef, and a claim naming its volume
        apply(server, pv(a, "1Gi", cls, claim=(ns, "wants-a")), pv(b, "1Gi", cls),
              pvc(ns, "other", "2Gi", cls), pvc(ns, "wants-a", "1Gi", cls),
              pvc(ns, "wants-b", "1Gi", cls, volume=b))
        wait_for(lambda: phase(server, "pvc", "wants-a", ns) == "Bound", what="wants-a Bound")
        wait_for(lambda: phase(server, "pvc", "wants-b", ns) == "Bound", what="wants-b Bound")
        assert get(server, "-n", ns, "pvc", "wants-a")["spec"]["volumeName"] == a
        va = get(server, "pv", a)
        # bound by the user's claimRef, not by the controller
        assert "pv.kubernetes.io/bound-by-controller" not in va["metadata"].get("annotations", {})
        cb = get(server, "-n", ns, "pvc", "wants-b")
        assert "pv.kubernetes.io/bound-by-controller" not in cb["metadata"]["annotations"]
        assert cb["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        time.sleep(0.5)
        assert phase(server, "pvc", "other", ns) == "Pending"
    finally:
        server.kubectl("-n", ns, "delete", "pvc", "--all", "--wait=false", check=False)
        delete_pvs(server, a, b)


def test_reclaim_retain_and_delete(server, ns):
    cls = ns + "-manual"
    keep, tmp, mnt = ns + "-keep", ns + "-tmp", ns + "-mnt"
    try:
        apply(server, pv(keep, "1Gi", cls, labels={"v": "keep"}),
              pv(tmp, "1Gi", cls, policy="Delete", labels={"v": "tmp"},
                 path="/tmp/k1s-e2e-" + ns),
              pv(mnt, "1Gi", cls, policy="Delete", labels={"v": "mnt"}))
        apply(server, *[pvc(ns, v, "1Gi", cls, selector={"v": v}) for v in ("keep", "tmp", "mnt")])
        for v in ("keep", "tmp", "mnt"):
            wait_for(lambda v=v: phase(server, "pvc", v, ns) == "Bound", what=v + " Bound")
        server.kubectl("-n", ns, "delete", "pvc", "keep", "tmp", "mnt", timeout=60)
        # Retain: the volume is Released and keeps its claimRef
        wait_for(lambda: phase(server, "pv", keep) == "Released", what=keep + " Released")
        assert get(server, "pv", keep)["spec"]["claimRef"]["name"] == "keep"
        # Delete of a hostPath under /tmp: the volume goes
        wait_for(lambda: get(server, "pv", tmp) is None, what=tmp + " deleted")
        # Delete of anything else: no plugin can delete it; it fails, as upstream's does
        wait_for(lambda: phase(server, "pv", mnt) == "Failed", what=mnt + " Failed")
        reason, msg, comp = wait_event(server, "default", mnt, "VolumeFailedDelete")
        assert msg == ('error getting deleter volume plugin for volume "%s": no deletable volume '
                       'plugin matched' % mnt)
        rows = {r["NAME"]: r for r in table(server, "pv")}
        assert rows[keep]["STATUS"] == "Released"
        assert rows[keep]["CLAIM"] == ns + "/keep"
        assert rows[mnt]["STATUS"] == "Failed"
        # a claim of the same name is another claim: the Released volume is not reused...
        apply(server, pvc(ns, "keep", "1Gi", cls, selector={"v": "keep"}))
        time.sleep(1)
        assert phase(server, "pvc", "keep", ns) == "Pending"
        # ...until the administrator clears its claimRef
        server.kubectl("patch", "pv", keep, "--type=json",
                       "-p", '[{"op":"remove","path":"/spec/claimRef"}]')
        wait_for(lambda: phase(server, "pvc", "keep", ns) == "Bound", what="keep bound again")
        server.kubectl("-n", ns, "delete", "pvc", "keep", timeout=60)
        wait_for(lambda: phase(server, "pv", keep) == "Released", what=keep + " Released again")
        # a Released volume is deleted at once: nothing holds its pv-protection finalizer
        server.kubectl("delete", "pv", keep, timeout=30)
    finally:
        delete_pvs(server, keep, tmp, mnt)


def test_immediate_class_provisions_at_once(server, ns):
    cls = ns + "-now"
    try:
        apply(server, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                       "metadata": {"name": cls}, "provisioner": "rancher.io/local-path",
                       "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete",
                       "allowVolumeExpansion": True})
        apply(server, pvc(ns, "data", "2Gi", cls))
        wait_for(lambda: phase(server, "pvc", "data", ns) == "Bound", what="data Bound")
        # its class allows growing it
        server.kubectl("-n", ns, "patch", "pvc", "data", "-p",
                       '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}')
        claim = get(server, "-n", ns, "pvc", "data")
        name = "pvc-" + claim["metadata"]["uid"]
        assert claim["spec"]["volumeName"] == name
        a = claim["metadata"]["annotations"]
        assert a["volume.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
        assert a["volume.beta.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"
        vol = get(server, "pv", name)
        path = os.path.join(server.data_dir, "storage", "%s_%s_data" % (name, ns))
        assert vol["spec"]["hostPath"] == {"path": path, "type": "DirectoryOrCreate"}
        assert vol["spec"]["capacity"] == {"storage": "2Gi"}  # nothing expands volumes yet
        assert vol["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
        assert vol["spec"]["storageClassName"] == cls
        assert "nodeAffinity" not in vol["spec"]
        assert vol["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == \
            "rancher.io/local-path"
        assert wait_event(server, ns, "data", "ExternalProvisioning")[1] == (
            "Waiting for a volume to be created either by the external provisioner "
            "'rancher.io/local-path' or manually by the system administrator. If volume creation "
            "is delayed, please verify that the provisioner is running and correctly registered.")
        assert wait_event(server, ns, "data", "Provisioning")[1] == \
            'External provisioner is provisioning volume for claim "%s/data"' % ns
        r, msg, comp = wait_event(server, ns, "data", "ProvisioningSucceeded")
        assert msg == "Successfully provisioned volume " + name
        assert comp.startswith("rancher.io/local-path")

        # a node's directory cannot be shared
        apply(server, pvc(ns, "shared", "1Gi", cls, modes=("ReadWriteMany",)))
        r, msg, comp = wait_event(server, ns, "shared", "ProvisioningFailed")
        assert msg == ('failed to provision volume with StorageClass "%s": NodePath only supports '
                       'ReadWriteOnce and ReadWriteOncePod (1.22+) access modes' % cls)
        assert phase(server, "pvc", "shared", ns) == "Pending"

        # the node agent would create the directory; deleting the claim removes it and the volume
        os.makedirs(path)
        open(os.path.join(path, "file"), "w").close()
        server.kubectl("-n", ns, "delete", "pvc", "data", timeout=60)
        wait_for(lambda: get(server, "pv", name) is None, what=name + " deleted")
        assert not os.path.exists(path)
    finally:
        server.kubectl("delete", "sc", cls, "--ignore-not-found", check=False)


def test_wait_for_first_consumer(server, ns, hollow_nodes):
    node = ns[:40] + "-n"
    hollow_nodes(server, 1, prefix=node)
    node += "-0"
    # no class given: the default one, local-path, WaitForFirstConsumer
    apply(server, pvc(ns, "later", "1Gi"))
    claim = get(server, "-n", ns, "pvc", "later")
    assert claim["spec"]["storageClassName"] == "local-path"
    r, msg, comp = wait_event(server, ns, "later", "WaitForFirstConsumer")
    assert msg == "waiting for first consumer to be created before binding"
    assert comp == "persistentvolume-controller"
    time.sleep(1)
    assert phase(server, "pvc", "later", ns) == "Pending"
    assert not [v for v in get(server, "pv")["items"]
                if v["spec"].get("claimRef", {}).get("namespace") == ns]

    # a pod that uses it and cannot be scheduled is named
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
        "spec": {"nodeSelector": {"no-such-label": "x"},
                 "containers": [{"name": "c", "image": "busybox:1.36"}],
                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "later"}}]}}))
    assert wait_event(server, ns, "later", "WaitForPodScheduled")[1] == \
        "waiting for pod user to be scheduled"

    # the scheduler's choice of node provisions a volume there
    server.kubectl("-n", ns, "annotate", "pvc", "later",
                   "volume.kubernetes.io/selected-node=" + node)
    wait_for(lambda: phase(server, "pvc", "later", ns) == "Bound", what="later Bound")
    claim = get(server, "-n", ns, "pvc", "later")
    vol = get(server, "pv", claim["spec"]["volumeName"])
    assert vol["spec"]["nodeAffinity"] == {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    assert vol["spec"]["hostPath"]["path"] == os.path.join(
        server.data_dir, "storage", "%s_%s_later" % (vol["metadata"]["name"], ns))
    assert vol["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert vol["spec"]["storageClassName"] == "local-path"
    rows = {r["NAME"]: r for r in table(server, "-n", ns, "pvc")}
    assert rows["later"]["STATUS"] == "Bound"
    assert rows["later"]["VOLUME"] == vol["metadata"]["name"]
    assert rows["later"]["STORAGECLASS"] == "local-path"
    server.kubectl("-n", ns, "delete", "pod", "user", "--grace-period=0", "--force", check=False)
    server.kubectl("-n", ns, "delete", "pvc", "later", timeout=60)
    wait_for(lambda: get(server, "pv", vol["metadata"]["name"]) is None, what="volume deleted")

    # a pod put on a node without the scheduler: its claim follows it there
    apply(server, pvc(ns, "follow", "1Gi"))
    server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "placed"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:1.36"}],
                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "follow"}}]}}))
    wait_for(lambda: phase(server, "pvc", "follow", ns) == "Bound", what="follow Bound")
    claim = get(server, "-n", ns, "pvc", "follow")
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    vol = get(server, "pv", claim["spec"]["volumeName"])
    assert vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0][
        "values"] == [node]
    server.kubectl("-n", ns, "delete", "pod", "placed", "--grace-period=0", "--force")
    server.kubectl("-n", ns, "delete", "pvc", "follow", timeout=60)
    wait_for(lambda: get(server, "pv", vol["metadata"]["name"]) is None, what="volume deleted")


def test_claim_in_use_is_protected(server, ns, hollow_nodes):
    node = ns[:40] + "-n"
    hollow_nodes(server, 1, prefix=node)
    node += "-0"
    cls = ns + "-manual"
    name = ns + "-vol"
    try:
        apply(server, pv(name, "1Gi", cls), pvc(ns, "used", "1Gi", cls))
        wait_for(lambda: phase(server, "pvc", "used", ns) == "Bound", what="used Bound")
        server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:1.36"}],
                     "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "used"}}]}}))
        server.kubectl("-n", ns, "delete", "pvc", "used", "--wait=false")
        time.sleep(1)
        rows = {r["NAME"]: r for r in table(server, "-n", ns, "pvc")}
        assert rows["used"]["STATUS"] == "Terminating"
        # the volume is still Bound, so it cannot go either
        server.kubectl("delete", "pv", name, "--wait=false")
        time.sleep(0.5)
        assert phase(server, "pv", name) == "Bound"
        server.kubectl("-n", ns, "delete", "pod", "user", "--grace-period=0", "--force")
        wait_for(lambda: get(server, "-n", ns, "pvc", "used") is None, what="claim gone")
        # with the claim gone the volume is Released, and then deleted
        wait_for(lambda: get(server, "pv", name) is None, what="volume gone")
    finally:
        delete_pvs(server, name)


def test_restart_keeps_bindings(fresh_server):
    s = fresh_server
    s.start()
    apply(s, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
              "metadata": {"name": "now"}, "provisioner": "rancher.io/local-path",
              "volumeBindingMode": "Immediate"},
          pv("static", "1Gi", "manual"))
    apply(s, pvc("default", "dyn", "1Gi", "now"), pvc("default", "stat", "1Gi", "manual"))
    for n in ("dyn", "stat"):
        wait_for(lambda n=n: phase(s, "pvc", n, "default") == "Bound", what=n + " Bound")
    wait_for(lambda: all(v["status"]["phase"] == "Bound" for v in get(s, "pv")["items"]),
             what="volumes Bound")

    def versions():
        objs = get(s, "-n", "default", "pvc")["items"] + get(s, "pv")["items"]
        return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in objs}
    before = versions()
    s.stop(sig=9)
    s.start()
    # the controllers come back (a new claim is provisioned), see everything bound, provision
    # nothing twice and write nothing
    apply(s, pvc("default", "after", "1Gi", "now"))
    wait_for(lambda: phase(s, "pvc", "after", "default") == "Bound", what="after Bound")
    now = versions()
    assert {k: v for k, v in now.items() if k in before} == before
    assert len(get(s, "pv")["items"]) == 3


def test_generic_ephemeral_volume(server, ns):
    cls = ns + "-now"
    try:
        apply(server, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                       "metadata": {"name": cls}, "provisioner": "rancher.io/local-path",
                       "volumeBindingMode": "Immediate"})
        # a claim of the name the pod's would get, not made for it
        apply(server, pvc(ns, "squatted-scratch", "1Gi", cls))
        tmpl = {"metadata": {"labels": {"app": "eph"}},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                         "resources": {"requests": {"storage": "1Gi"}}}}
        for name in ("eph", "squatted"):
            server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeSelector": {"no-such-label": "x"},
                         "containers": [{"name": "c", "image": "busybox:1.36"}],
                         "volumes": [{"name": "scratch",
                                      "ephemeral": {"volumeClaimTemplate": tmpl}}]}}))
        wait_for(lambda: phase(server, "pvc", "eph-scratch", ns) == "Bound", what="claim Bound")
        claim = get(server, "-n", ns, "pvc", "eph-scratch")
        pod = get(server, "-n", ns, "pod", "eph")
        assert claim["metadata"]["labels"] == {"app": "eph"}
        assert claim["metadata"]["ownerReferences"] == [{
            "apiVersion": "v1", "kind": "Pod", "name": "eph", "uid": pod["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
        r, msg, comp = wait_event(server, ns, "squatted", "FailedBinding")
        assert msg == ("PVC %s/squatted-scratch was not created for pod %s/squatted (pod is not "
                       "owner)" % (ns, ns))
        assert comp == "ephemeral_volume"
        # deleted under its pod, the claim comes back
        server.kubectl("-n", ns, "delete", "pvc", "eph-scratch", "--wait=false")
        wait_for(lambda: (get(server, "-n", ns, "pvc", "eph-scratch") or {}).get(
            "metadata", {}).get("uid") not in (None, claim["metadata"]["uid"]),
            what="the claim created again")
    finally:
        server.kubectl("-n", ns, "delete", "pod", "--all", "--grace-period=0", "--force",
                       check=False)
        server.kubectl("-n", ns, "delete", "pvc", "--all", "--wait=false", check=False)
        server.kubectl("delete", "sc", cls, "--ignore-not-found", check=False)


def test_local_path_can_be_turned_off(fresh_server):
    s = fresh_server
    s.extra_args += ["--kube-controller-manager-arg", "controllers=*,-local-path-provisioner"]
    s.start()
    # the binder runs (a claim of an unknown class is told so), the provisioner does not
    apply(s, pvc("default", "c", "1Gi", "missing"))
    wait_event(s, "default", "c", "ProvisioningFailed")
    assert "local-path" not in s.kubectl("get", "sc").stdout


def test_local_volumes_bind_on_the_consumers_node(server, ns):
    cls = ns + "-local"
    names = [ns + "-a", ns + "-b"]
    try:
        apply(server, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                       "metadata": {"name": cls}, "provisioner": "kubernetes.io/no-provisioner",
                       "volumeBindingMode": "WaitForFirstConsumer"})
        vols = []
        for n, size in zip(names, ("1Gi", "5Gi")):
            v = pv(n, size, cls)
            v["spec"]["local"] = {"path": "/mnt/disks/" + n}
            del v["spec"]["hostPath"]
            v["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [n + "-node"]}]}]}}
            vols.append(v)
        apply(server, *vols)
        apply(server, pvc(ns, "data", "1Gi", cls))
        wait_event(server, ns, "data", "WaitForFirstConsumer")
        # the pod lands on b's node: the claim gets b, not the smaller a
        server.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
            "spec": {"nodeName": names[1] + "-node",
                     "containers": [{"name": "c", "image": "busybox:1.36"}],
                     "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}))
        wait_for(lambda: phase(server, "pvc", "data", ns) == "Bound", what="data Bound")
        assert get(server, "-n", ns, "pvc", "data")["spec"]["volumeName"] == names[1]
        assert phase(server, "pv", names[0]) == "Available"
    finally:
        server.kubectl("-n", ns, "delete", "pod", "user", "--grace-period=0", "--force",
                       check=False)
        server.kubectl("-n", ns, "delete", "pvc", "--all", "--wait=false", check=False)
        delete_pvs(server, *names)
        server.kubectl("delete", "sc", cls, "--ignore-not-found", check=False)
