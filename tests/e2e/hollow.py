"""Hollow nodes: a kubelet stand-in for end-to-end tests, as Kubernetes' kubemark has.

A HollowNode plays the API side of a kubelet over the real HTTPS API and nothing else: it
gets a client certificate for system:node:<name> (group system:nodes) through a
CertificateSigningRequest with the kubernetes.io/kube-apiserver-client-kubelet signer that
the admin approves, registers its Node, renews its Lease in kube-node-lease, writes Node
status heartbeats, watches the pods bound to it (fieldSelector spec.nodeName=<name>) and moves
them through the phases a kubelet reports, without running any container. All of its own
writes go through the Node authorizer and NodeRestriction as a real node's do.

What a pod does is chosen per pod by annotations (so that a pod template in a Deployment or
Job can carry them), by the node's defaults (Behaviour) or through the fixture
(HollowNode.finish_pod):

    hollow.k1s.io/ready-delay-seconds  seconds from container start to ready (readiness probe)
    hollow.k1s.io/never-ready          "true": containers run but never become ready
    hollow.k1s.io/run-seconds          containers exit after this long (exit code 0 unless ...)
    hollow.k1s.io/exit-code            ... containers exit with this code (after run-seconds,
                                       default at once); restartPolicy decides what follows
    hollow.k1s.io/crashes              containers exit (exit-code, default 1) this many times,
                                       are restarted, then keep running: restartCount = crashes
    hollow.k1s.io/start-delay-seconds  the pod stays Pending (ContainerCreating) this long
    hollow.k1s.io/delete-after-grace   "true": a pod being deleted goes when its grace period
                                       ends (by default the node confirms deletions at once)

As a kubelet does, a node admits a pod only if it fits the node's allocatable cpu, memory,
ephemeral-storage and pods beside the pods it runs; otherwise the pod fails at once with
reason OutOf<resource> ("Pod was rejected: Node didn't have enough resource: ...").

Setting hollow.k1s.io/exit-code on a running pod (kubectl annotate) ends it then.

What the scenarios use of a node (name, host_ip, pod_cidr, client() with the node's own
credentials, stop() and start()) is what a wrapper around the real agent will offer too.

The module needs only the standard library and the openssl command, so it runs under any
python3; the scenarios live in test_hollow.py and speak only kubectl and the API, so that they
can run against the real node agent later.
"""
import base64
from decimal import ROUND_CEILING, Decimal
import hashlib
import http.client
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

ANN = "hollow.k1s.io/"
KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"


def now_rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def now_micro(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


class ApiError(Exception):
    def __init__(self, code, body):
        self.code = code
        self.body = body
        msg = body.get("message") if isinstance(body, dict) else body
        super().__init__("HTTP %d: %s" % (code, msg))


class Client:
    """A small JSON client over one kept-alive HTTPS connection; one per thread."""

    def __init__(self, url, ca, cert=None, key=None, timeout=30):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=ca)
        if cert:
            self.ctx.load_cert_chain(cert, key)
        self.timeout = timeout
        self.conn = None

    def _connect(self, timeout):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, content_type="application/json"):
        """Returns (status, decoded body); retries once on a dropped kept-alive connection."""
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self._connect(self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        try:
            out = json.loads(raw) if raw else None
        except ValueError:
            out = raw.decode(errors="replace")
        return r.status, out

    def call(self, method, path, body=None, content_type="application/json", ok=(200, 201)):
        code, out = self.request(method, path, body, content_type)
        if code not in ok:
            raise ApiError(code, out)
        return out

    def stream(self, path):
        """Opens a watch; returns (connection, response) for the caller to read lines from."""
        conn = self._connect(None)
        conn.request("GET", path, headers={"Accept": "application/json"})
        return conn, conn.getresponse()


class Behaviour:
    """A node's defaults for the pods it runs; pod annotations override them."""

    def __init__(self, ready_delay=0.0, never_ready=False, run_seconds=None, exit_code=None,
                 crashes=0, start_delay=0.0, delete_after_grace=False, restart_backoff=0.1):
        self.ready_delay = ready_delay
        self.never_ready = never_ready
        self.run_seconds = run_seconds
        self.exit_code = exit_code
        self.crashes = crashes
        self.start_delay = start_delay
        # seconds a crashed container waits in CrashLoopBackOff before its restart
        self.restart_backoff = restart_backoff
        # False: a pod being deleted is removed at once; True: when its grace period ends
        self.delete_after_grace = delete_after_grace


def _fake_id(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


class _Pod:
    """What the hollow kubelet knows of one pod (by uid)."""

    def __init__(self, obj):
        self.obj = obj
        self.uid = obj["metadata"]["uid"]
        self.ns = obj["metadata"]["namespace"]
        self.name = obj["metadata"]["name"]
        self.state = "new"  # new, pending, running, waiting (restart back-off), done
        self.ip = None
        self.start_time = None
        self.started_at = None  # current container run (RFC 3339)
        self.run_started = None  # ... as epoch seconds
        self.created = None  # when the node first saw it
        self.ready = False
        self.restart_at = None  # end of a CrashLoopBackOff
        self.restarts = 0
        self.last_term = None  # lastState.terminated
        self.exit_code = None  # of the finished run
        self.finished_at = None
        self.due = 0.0  # next time the pod needs looking at
        self.transitions = {}  # condition type -> (status, lastTransitionTime)
        self.sent = None  # last status written
        self.delete_at = None
        self.finish_code = None  # set by HollowNode.finish_pod
        self.reject = None  # (reason, message) when admission turned it away


class HollowNode:
    """One hollow kubelet. start() registers and runs it; stop() makes it go silent."""

    def __init__(self, cluster, name, index, cpu="4", memory="8Gi", ephemeral_storage="50Gi",
                 pods=110, zone=None, labels=None, taints=None, arch="amd64", behaviour=None,
                 lease_interval=10.0, status_report_interval=60.0, events=True, images=(),
                 host_ip=None, kubelet_port=10250):
        self.cluster = cluster
        self.name = name
        self.index = index
        self.capacity = {"cpu": str(cpu), "memory": str(memory),
                         "ephemeral-storage": str(ephemeral_storage), "pods": str(pods)}
        self.zone = zone
        self.labels = dict(labels or {})
        self.taints = list(taints or [])
        self.arch = arch
        self.behaviour = behaviour or Behaviour()
        self.lease_interval = lease_interval
        self.status_report_interval = status_report_interval
        self.events = events  # record the Events a kubelet records (Started, Killing, ...)
        # image reference -> size: the images the node reports; those its pods use join them
        self.images = {}
        for im in images:
            ref, size = (im, 5 * 2**20) if isinstance(im, str) else im
            self.images[_normalize_image(ref)] = int(size)
        self.outbox = []  # events waiting to be written
        # host_ip and kubelet_port: where the API server finds this node's kubelet API (a test
        # kubelet on 127.0.0.1, see stream_util.py)
        self.host_ip = host_ip or str(ipaddress.ip_address("10.240.0.1") + index)
        self.kubelet_port = kubelet_port
        self.pod_cidr = ipaddress.ip_network("10.42.%d.0/24" % (index % 256))
        self.cert = self.key = None
        self.pods = {}  # uid -> _Pod
        self.ips = set()
        self.lock = threading.Condition()
        self.dirty = set()
        self.stopping = threading.Event()
        self.threads = []
        self.watch_conn = None
        self.lease_renewals = 0
        self.status_writes = 0
        self.errors = []
        self.node_uid = None
        self._last_status = None
        self._last_status_at = 0.0
        self._transitions = {}

    # ---------- identity ----------

    def client(self):
        return Client(self.cluster.url, self.cluster.ca, self.cert, self.key)

    def bootstrap(self):
        """Gets the node's client certificate through an approved CSR (as k1s agents will)."""
        if self.cert:
            return
        d = self.cluster.tmp
        key, csr = os.path.join(d, self.name + ".key"), os.path.join(d, self.name + ".csr")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
                        "-subj", "/O=system:nodes/CN=system:node:%s" % self.name],
                       check=True, capture_output=True)
        with open(csr, "rb") as f:
            req = base64.b64encode(f.read()).decode()
        admin = self.cluster.admin()
        csr_name = "node-csr-%s-%s" % (self.name, uuid.uuid4().hex[:8])
        base = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
        obj = admin.call("POST", base, {
            "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": csr_name},
            "spec": {"request": req, "signerName": KUBELET_SIGNER,
                     "usages": ["digital signature", "key encipherment", "client auth"]}})
        self.cluster.csrs.append(csr_name)
        obj.setdefault("status", {})["conditions"] = [{
            "type": "Approved", "status": "True", "reason": "AutoApproved",
            "message": "Auto approving kubelet client certificate after SubjectAccessReview."}]
        admin.call("PUT", base + "/" + csr_name + "/approval", obj)
        deadline = time.time() + 30
        while True:
            o = admin.call("GET", base + "/" + csr_name)
            if o.get("status", {}).get("certificate"):
                break
            if time.time() > deadline:
                raise RuntimeError("CSR %s was not signed: %s" % (csr_name, o.get("status")))
            time.sleep(0.02)
        admin.close()
        crt = os.path.join(d, self.name + ".crt")
        with open(crt, "wb") as f:
            f.write(base64.b64decode(o["status"]["certificate"]))
        self.cert, self.key = crt, key

    # ---------- lifecycle ----------

    def start(self):
        """Registers the Node (or takes up an existing one) and starts the kubelet's loops."""
        assert not self.threads, "already running"
        self.bootstrap()
        self.stopping.clear()
        api = self.client()
        self.register(api)
        self.renew_lease(api)
        for reason, msg in (("Starting", "Starting kubelet."),
                            ("NodeHasSufficientMemory", None), ("NodeHasNoDiskPressure", None),
                            ("NodeHasSufficientPID", None),
                            ("NodeAllocatableEnforced", "Updated Node Allocatable limit across pods"),
                            ("NodeReady", None)):
            self._node_event(reason, msg or "Node %s status is now: %s" % (self.name, reason))
        self._flush_events(api)
        api.close()
        for fn, what in ((self._watch_loop, "watch"), (self._work_loop, "work")):
            t = threading.Thread(target=self._guard, args=(fn,), name="hollow-%s-%s" % (self.name, what),
                                 daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        """The node goes silent: no Lease renewals, no status, no pod updates."""
        self.stopping.set()
        with self.lock:
            self.lock.notify_all()
        c = self.watch_conn
        if c is not None and c.sock is not None:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self.threads:
            t.join(10)
            assert not t.is_alive(), "%s did not stop" % t.name
        self.threads = []
        # a restarted kubelet rebuilds its view from the API
        self.pods = {}
        self.ips = set()
        self.dirty = set()

    @property
    def running(self):
        return bool(self.threads)

    def _guard(self, fn):
        try:
            fn()
        except Exception as e:  # recorded for the test to see (cluster.errors()); the node goes quiet
            if not self.stopping.is_set():
                self.errors.append("%s: %r" % (threading.current_thread().name, e))

    # ---------- Node and Lease ----------

    def node_labels(self):
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": self.arch, "beta.kubernetes.io/os": "linux",
                  "beta.kubernetes.io/arch": self.arch}
        if self.zone:
            labels["topology.kubernetes.io/zone"] = self.zone
        labels.update(self.labels)
        return labels

    def node_status(self):
        t = now_rfc3339()
        conds = []
        for typ, status, reason, msg in (
                ("MemoryPressure", "False", "KubeletHasSufficientMemory",
                 "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status")):
            prev = self._transitions.get(typ)
            if not prev or prev[0] != status:
                self._transitions[typ] = prev = (status, t)
            conds.append({"type": typ, "status": status, "lastHeartbeatTime": t,
                          "lastTransitionTime": prev[1], "reason": reason, "message": msg})
        v = self.cluster.version
        # as the kubelet lists them: largest first, at most 50 (nodeStatusMaxImages)
        images = sorted(self.images.items(), key=lambda kv: (-kv[1], kv[0]))[:50]
        return {
            "images": [{"names": [_image_id(ref), ref], "sizeBytes": size} for ref, size in images],
            "capacity": dict(self.capacity), "allocatable": dict(self.capacity),
            "conditions": conds,
            "addresses": [{"type": "InternalIP", "address": self.host_ip},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {"machineID": _fake_id("machine", self.name)[:32],
                         "systemUUID": str(uuid.UUID(_fake_id("uuid", self.name)[:32])),
                         "bootID": _fake_id("boot", self.name, id(self))[:32],
                         "kernelVersion": os.uname().release, "osImage": "k1s hollow node",
                         "containerRuntimeVersion": "hollow://1.0.0", "kubeletVersion": v,
                         "kubeProxyVersion": v, "operatingSystem": "linux",
                         "architecture": self.arch},
        }

    def register(self, api):
        """Creates the Node as the node itself, or takes up the one left from an earlier run."""
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": self.node_labels(),
                             "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": {"taints": self.taints} if self.taints else {},
                "status": self.node_status()}
        code, out = api.request("POST", "/api/v1/nodes", node)
        if code == 409:
            out = api.call("GET", "/api/v1/nodes/" + self.name)
        elif code != 201:
            raise ApiError(code, out)
        self.node_uid = out["metadata"]["uid"]
        self.write_node_status(api, force=True)

    def write_node_status(self, api, force=False):
        """Patches the Node's status when it changed or the report interval passed (kubelet's
        nodeStatusReportFrequency); returns whether it wrote."""
        st = self.node_status()
        key = json.dumps({k: v for k, v in st.items() if k != "conditions"}, sort_keys=True) + \
            json.dumps([(c["type"], c["status"]) for c in st["conditions"]])
        now = time.monotonic()
        if not force and key == self._last_status and now - self._last_status_at < self.status_report_interval:
            return False
        api.call("PATCH", "/api/v1/nodes/%s/status" % self.name, {"status": st},
                 "application/merge-patch+json")
        self._last_status, self._last_status_at = key, now
        self.status_writes += 1
        return True

    def renew_lease(self, api):
        path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + self.name
        code, lease = api.request("GET", path)
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": now_micro()}
        if code == 404:
            api.call("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease",
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.name,
                                                  "uid": self.node_uid}]},
                "spec": spec})
        elif code == 200:
            lease["spec"].update(spec)
            api.call("PUT", path, lease)
        else:
            raise ApiError(code, lease)
        self.lease_renewals += 1

    # ---------- the fixture's own controls ----------

    def finish_pod(self, ns, name, exit_code=0):
        """Makes the pod's containers exit now with exit_code (restartPolicy decides the rest)."""
        with self.lock:
            for p in self.pods.values():
                if p.ns == ns and p.name == name:
                    p.finish_code = exit_code
                    p.due = 0
                    self.dirty.add(p.uid)
                    self.lock.notify_all()
                    return
        raise KeyError("%s/%s is not on %s" % (ns, name, self.name))

    # ---------- the pod watch ----------

    def _watch_loop(self):
        api = self.client()
        sel = urllib.parse.quote("spec.nodeName=" + self.name)
        while not self.stopping.is_set():
            try:
                lst = api.call("GET", "/api/v1/pods?fieldSelector=" + sel)
            except Exception as e:
                if not _transient(e):
                    raise
                api.close()
                self.stopping.wait(0.5)  # the server restarts: list again
                continue
            rv = lst["metadata"]["resourceVersion"]
            with self.lock:
                seen = set()
                for o in lst["items"]:
                    self._observe(o)
                    seen.add(o["metadata"]["uid"])
                for uid in list(self.pods):
                    if uid not in seen:
                        self._forget(uid)
                self.lock.notify_all()
            while not self.stopping.is_set():
                path = "/api/v1/pods?watch=true&allowWatchBookmarks=true&fieldSelector=%s&resourceVersion=%s" % (sel, rv)
                try:
                    conn, resp = api.stream(path)
                except (OSError, http.client.HTTPException):
                    self.stopping.wait(0.5)
                    continue
                self.watch_conn = conn
                if self.stopping.is_set():
                    conn.close()
                    break
                if resp.status != 200:
                    conn.close()
                    time.sleep(0.2)
                    break  # relist
                gone = False
                try:
                    while True:
                        line = resp.readline()
                        if not line:
                            break
                        ev = json.loads(line)
                        obj = ev.get("object") or {}
                        if ev["type"] == "ERROR":
                            gone = True
                            break
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if ev["type"] == "BOOKMARK":
                            continue
                        with self.lock:
                            if ev["type"] == "DELETED":
                                self._forget(obj["metadata"]["uid"])
                            else:
                                self._observe(obj)
                            self.lock.notify_all()
                except (OSError, http.client.HTTPException, ValueError):
                    pass
                finally:
                    conn.close()
                    self.watch_conn = None
                if gone:
                    break
        api.close()

    def _observe(self, obj):
        uid = obj["metadata"]["uid"]
        p = self.pods.get(uid)
        if p is None:
            p = self.pods[uid] = _Pod(obj)
            self._adopt(p)
        p.obj = obj
        self.dirty.add(uid)

    def _adopt(self, p):
        """A pod this node ran before a restart: take up its state from its status."""
        st = p.obj.get("status") or {}
        if st.get("phase") == "Failed" and (st.get("reason") or "").startswith("OutOf"):
            p.state, p.reject = "rejected", (st["reason"], st.get("message", "")[len("Pod was rejected: "):])
            return
        if st.get("hostIP") != self.host_ip:
            return
        ip = st.get("podIP")
        if ip:
            p.ip = ip
            self.ips.add(ip)
        p.start_time = st.get("startTime")
        cs = (st.get("containerStatuses") or [{}])[0]
        p.restarts = cs.get("restartCount", 0)
        p.last_term = (cs.get("lastState") or {}).get("terminated")
        for c in st.get("conditions") or []:
            p.transitions[c["type"]] = (c["status"], c.get("lastTransitionTime"))
        if st.get("phase") in ("Succeeded", "Failed"):
            p.state = "done"
            term = (cs.get("state") or {}).get("terminated") or {}
            p.exit_code = term.get("exitCode", 0)
            p.finished_at = term.get("finishedAt")
            p.started_at = term.get("startedAt")
        elif "running" in (cs.get("state") or {}):
            p.state = "running"
            started = cs["state"]["running"].get("startedAt")
            p.started_at = started
            p.run_started = _parse_time(started)

    def _forget(self, uid):
        p = self.pods.pop(uid, None)
        if p and p.ip:
            self.ips.discard(p.ip)
        self.dirty.discard(uid)

    # ---------- the kubelet's work ----------

    def _work_loop(self):
        api = self.client()
        next_lease = time.monotonic() + self.lease_interval
        next_status = time.monotonic() + min(self.lease_interval, self.status_report_interval)
        while not self.stopping.is_set():
            now = time.monotonic()
            # a write that fails while the server is away is retried shortly, as kubelet does
            if now >= next_lease:
                try:
                    self.renew_lease(api)
                    next_lease = now + self.lease_interval
                except Exception as e:
                    if not _transient(e):
                        raise
                    api.close()
                    next_lease = now + min(0.5, self.lease_interval)
            if now >= next_status:
                try:
                    self.write_node_status(api)
                    next_status = now + min(self.lease_interval, self.status_report_interval)
                except Exception as e:
                    if not _transient(e):
                        raise
                    api.close()
                    next_status = now + 0.5
            with self.lock:
                wall = time.time()
                todo = [p for p in self.pods.values() if p.uid in self.dirty or (p.due and p.due <= wall)]
                self.dirty.clear()
            for p in todo:
                if self.stopping.is_set():
                    break
                try:
                    self._sync_pod(api, p)
                except Exception as e:
                    if _transient(e):
                        api.close()
                        p.due = time.time() + 0.5
                        continue
                    if not isinstance(e, ApiError) or e.code not in (404, 409):
                        raise
                    with self.lock:
                        if e.code == 404:
                            self._forget(p.uid)
            self._flush_events(api)
            with self.lock:
                if self.dirty or self.stopping.is_set():
                    continue
                wake = min([next_lease, next_status])
                dues = [p.due for p in self.pods.values() if p.due]
                wait = wake - time.monotonic()
                if dues:
                    wait = min(wait, min(dues) - time.time())
                if wait > 0:
                    self.lock.wait(wait)
        api.close()

    def _knobs(self, p):
        ann = (p.obj.get("metadata") or {}).get("annotations") or {}
        b = self.behaviour

        def num(key, default, conv=float):
            v = ann.get(ANN + key)
            return conv(v) if v not in (None, "") else default
        return {
            "ready_delay": num("ready-delay-seconds", b.ready_delay),
            "never_ready": ann.get(ANN + "never-ready", str(b.never_ready).lower()) == "true",
            "run_seconds": num("run-seconds", b.run_seconds),
            "exit_code": num("exit-code", b.exit_code, int),
            "crashes": num("crashes", b.crashes, int),
            "start_delay": num("start-delay-seconds", b.start_delay),
        }

    def _alloc_ip(self):
        for h in self.pod_cidr.hosts():
            ip = str(h)
            if h.packed[-1] >= 2 and ip not in self.ips:
                self.ips.add(ip)
                return ip
        raise RuntimeError("%s: pod CIDR %s is full" % (self.name, self.pod_cidr))

    def _sync_pod(self, api, p):
        """Moves one pod along: what a kubelet's pod worker would do on this event or timer."""
        meta = p.obj["metadata"]
        wall = time.time()
        p.due = 0
        if meta.get("deletionTimestamp"):
            return self._sync_deleting(api, p, wall)
        if p.state in ("done", "rejected"):
            return self._write_status(api, p)  # no-op unless an earlier write failed
        k = self._knobs(p)
        policy = p.obj["spec"].get("restartPolicy", "Always")
        if p.state == "new":
            rejected = self._admit(p)
            if rejected:
                p.state, p.reject = "rejected", rejected
                self._pod_event(p, None, "Warning", rejected[0], rejected[1])
                return self._write_status(api, p)
            with self.lock:
                p.ip = p.ip or self._alloc_ip()
            p.start_time = p.start_time or now_rfc3339(wall)
            p.created = wall
            if k["start_delay"] > 0:
                p.state = "pending"
                p.due = wall + k["start_delay"]
                return self._write_status(api, p)
            p.state = "pending"
        if p.state == "pending":
            if wall < p.created + k["start_delay"]:
                p.due = p.created + k["start_delay"]
                return
            self._run(p, wall)
        if p.state == "waiting":  # restart back-off over
            if wall < p.restart_at:
                p.due = p.restart_at
                return self._write_status(api, p)
            self._run(p, wall)
        # running: does it end, and when is it ready?
        code, end = None, None
        if p.finish_code is not None:
            code, end = p.finish_code, wall
            p.finish_code = None
        elif p.restarts < k["crashes"]:
            code = k["exit_code"] if k["exit_code"] not in (None, 0) else 1
            end = p.run_started + (k["run_seconds"] or 0)
        elif not k["crashes"] and (k["exit_code"] is not None or k["run_seconds"] is not None):
            code = k["exit_code"] or 0
            end = p.run_started + (k["run_seconds"] or 0)
        if end is not None and end <= wall:
            p.exit_code = code
            p.finished_at = now_rfc3339(wall)
            if policy == "Always" or (policy == "OnFailure" and code != 0):
                p.last_term = self._terminated(p)
                p.restarts += 1
                p.state = "waiting"
                p.restart_at = wall + self.behaviour.restart_backoff
                for c in p.obj["spec"].get("containers", []):
                    self._pod_event(p, c["name"], "Warning", "BackOff",
                                    "Back-off restarting failed container %s in pod %s_%s(%s)"
                                    % (c["name"], p.name, p.ns, p.uid))
                p.due = p.restart_at
            else:
                p.state = "done"
            return self._write_status(api, p)
        if end is not None:
            p.due = end
        if not k["never_ready"] and wall < p.run_started + k["ready_delay"]:
            p.due = min(p.due or 1e18, p.run_started + k["ready_delay"])
        p.ready = not k["never_ready"] and wall >= p.run_started + k["ready_delay"]
        return self._write_status(api, p)

    def _run(self, p, wall):
        for c in p.obj["spec"].get("containers", []) + (p.obj["spec"].get("initContainers") or []):
            self.images.setdefault(_normalize_image(c.get("image", "")), 5 * 2**20)
        for c in p.obj["spec"].get("containers", []):
            self._pod_event(p, c["name"], "Normal", "Pulled",
                            'Container image "%s" already present on machine' % c.get("image", ""))
            self._pod_event(p, c["name"], "Normal", "Created", "Created container: " + c["name"])
            self._pod_event(p, c["name"], "Normal", "Started", "Started container " + c["name"])
        p.state = "running"
        p.run_started = wall
        p.started_at = now_rfc3339(wall)
        p.ready = False

    # ---------- events ----------

    def _event(self, ns, ref, typ, reason, message):
        if not self.events:
            return
        t = time.time()
        self.outbox.append((ns, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "%s.%x" % (ref["name"], time.time_ns() + len(self.outbox)), "namespace": ns},
            "involvedObject": ref, "reason": reason, "message": message,
            "source": {"component": "kubelet", "host": self.name},
            "firstTimestamp": now_rfc3339(t), "lastTimestamp": now_rfc3339(t), "count": 1,
            "type": typ, "eventTime": None, "reportingComponent": "kubelet",
            "reportingInstance": self.name}))

    def _pod_event(self, p, container, typ, reason, message):
        ref = {"kind": "Pod", "namespace": p.ns, "name": p.name, "uid": p.uid, "apiVersion": "v1",
               "resourceVersion": p.obj["metadata"].get("resourceVersion", "")}
        if container:
            ref["fieldPath"] = "spec.containers{%s}" % container
        self._event(p.ns, ref, typ, reason, message)

    def _node_event(self, reason, message):
        # the kubelet names its Node by name in the uid field too
        self._event("default", {"kind": "Node", "name": self.name, "uid": self.name}, "Normal",
                    reason, message)

    def _flush_events(self, api):
        """Writes the recorded events; like the kubelet's recorder, drops those that fail."""
        out, self.outbox = self.outbox, []
        for ns, ev in out:
            try:
                api.request("POST", "/api/v1/namespaces/%s/events" % ns, ev)
            except (OSError, http.client.HTTPException):
                api.close()

    def _terminated(self, p):
        code = p.exit_code or 0
        return {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                "startedAt": p.started_at, "finishedAt": p.finished_at,
                "containerID": self._container_id(p, "", p.restarts)}

    def _container_id(self, p, cname, restarts):
        return "containerd://" + _fake_id(p.uid, cname, restarts)

    def _sync_deleting(self, api, p, wall):
        meta = p.obj["metadata"]
        if p.delete_at is None:
            p.delete_at = wall
            if self.behaviour.delete_after_grace or \
                    (meta.get("annotations") or {}).get(ANN + "delete-after-grace") == "true":
                p.delete_at = wall + int(meta.get("deletionGracePeriodSeconds") or 0)
        if wall < p.delete_at:
            p.due = p.delete_at
            return
        if p.state not in ("done", "new", "rejected"):
            # the containers are stopped: a graceful stop exits 0, a forced one is SIGKILL
            p.exit_code = 0 if int(meta.get("deletionGracePeriodSeconds") or 0) > 0 else 137
            if p.state == "running":
                for c in p.obj["spec"].get("containers", []):
                    self._pod_event(p, c["name"], "Normal", "Killing", "Stopping container " + c["name"])
            p.finished_at = now_rfc3339(wall)
            p.state = "done"
            self._write_status(api, p)
        api.call("DELETE", "/api/v1/namespaces/%s/pods/%s" % (p.ns, p.name),
                 {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                  "preconditions": {"uid": p.uid}})
        with self.lock:
            self._forget(p.uid)

    def _cond(self, p, typ, status, reason=None, message=None, t=None):
        prev = p.transitions.get(typ)
        if not prev or prev[0] != status:
            prev = p.transitions[typ] = (status, t or now_rfc3339())
        c = {"type": typ, "status": status, "lastProbeTime": None, "lastTransitionTime": prev[1]}
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        return c

    def _admit(self, p):
        """The kubelet's admission of a new pod against the node's allocatable (lifecycle's
        predicate admit handler): None, or (reason, message) of the first resource short."""
        with self.lock:
            others = [o.obj for o in self.pods.values()
                      if o is not p and o.state in ("pending", "running", "waiting")]
        if len(others) + 1 > int(self.capacity["pods"]):
            r = ("pods", 1, len(others), int(self.capacity["pods"]))
        else:
            want = _pod_requests(p.obj)
            used = {}
            for o in others:
                for k, v in _pod_requests(o).items():
                    used[k] = used.get(k, 0) + v
            r = None
            for res in ("cpu", "memory", "ephemeral-storage"):
                cap = _amount(res, self.capacity[res])
                if want.get(res, 0) and want[res] + used.get(res, 0) > cap:
                    r = (res, want[res], used.get(res, 0), cap)
                    break
            if r is None:
                return None
        return ("OutOf" + r[0], "Node didn't have enough resource: %s, requested: %d, used: %d, "
                "capacity: %d" % r)

    def pod_status(self, p):
        if p.state == "rejected":
            return {"phase": "Failed", "reason": p.reject[0],
                    "message": "Pod was rejected: " + p.reject[1]}
        spec = p.obj["spec"]
        names = [c["name"] for c in spec.get("containers", [])]
        done = p.state == "done"
        ready = p.state == "running" and p.ready
        images = {c["name"]: c.get("image", "") for c in spec.get("containers", [])}
        statuses = []
        for n in names:
            img = images[n]
            cs = {"name": n, "image": _normalize_image(img), "imageID": "", "containerID": "",
                  "ready": ready, "started": p.state == "running", "restartCount": p.restarts,
                  "lastState": {"terminated": p.last_term}}
            if p.state in ("running", "done", "waiting"):
                cs["imageID"] = _image_id(img)
            if p.state == "running":
                cs["containerID"] = self._container_id(p, n, p.restarts)
                cs["state"] = _state("running", {"startedAt": p.started_at})
            elif done:
                t = self._terminated(p)
                t["containerID"] = self._container_id(p, n, p.restarts)
                cs["containerID"] = t["containerID"]
                cs["state"] = _state("terminated", t)
            elif p.state == "waiting":
                cs["containerID"] = self._container_id(p, n, p.restarts - 1)
                cs["state"] = _state("waiting", {"reason": "CrashLoopBackOff",
                                           "message": "back-off %gs restarting failed container=%s pod=%s_%s(%s)"
                                           % (self.behaviour.restart_backoff, n, p.name, p.ns, p.uid)})
            else:
                cs["state"] = _state("waiting", {"reason": "ContainerCreating"})
            statuses.append(cs)
        if done:
            phase = "Succeeded" if (p.exit_code or 0) == 0 else "Failed"
        elif p.state in ("running", "waiting"):
            phase = "Running"
        else:
            phase = "Pending"
        init = []
        initializing = p.state in ("new", "pending")
        for c in spec.get("initContainers") or []:
            st = {"name": c["name"], "image": _normalize_image(c.get("image", "")), "ready": False,
                  "started": False, "restartCount": 0, "imageID": "", "containerID": "",
                  "state": _state("waiting", {"reason": "PodInitializing"})}
            if not initializing:  # init containers run (and complete) as the sandbox comes up
                st.update(ready=True, imageID=_image_id(c.get("image", "")),
                          containerID=self._container_id(p, "init-" + c["name"], 0),
                          state=_state("terminated", {"exitCode": 0, "reason": "Completed",
                                                      "startedAt": p.start_time,
                                                      "finishedAt": p.start_time}))
            init.append(st)
        if initializing and init:
            for cs in statuses:
                cs["state"] = _state("waiting", {"reason": "PodInitializing"})
        not_ready = [n for n in names if not ready]
        existing = (p.obj.get("status") or {}).get("conditions") or []
        # as the kubelet's status.GeneratePodReadyCondition and its siblings word them
        if done:
            why = "PodCompleted" if phase == "Succeeded" else "PodFailed"
            crc = self._cond(p, "ContainersReady", "False", why)
            rc = self._cond(p, "Ready", "False", why)
        elif not_ready:
            msg = "containers with unready status: [%s]" % " ".join(not_ready)
            crc = self._cond(p, "ContainersReady", "False", "ContainersNotReady", msg)
            rc = self._cond(p, "Ready", "False", "ContainersNotReady", msg)
        else:
            crc = self._cond(p, "ContainersReady", "True")
            gates = []
            for g in spec.get("readinessGates") or []:
                t = g.get("conditionType")
                c = next((c for c in existing if c["type"] == t), None)
                if c is None:
                    gates.append("corresponding condition of pod readiness gate \"%s\" does not exist." % t)
                elif c.get("status") != "True":
                    gates.append("the status of pod readiness gate \"%s\" is not \"True\", but %s"
                                 % (t, c.get("status")))
            rc = self._cond(p, "Ready", "False", "ReadinessGatesNotReady", ", ".join(gates)) if gates \
                else self._cond(p, "Ready", "True")
        sandbox = p.state in ("running", "waiting")  # the start delay stands for sandbox creation
        ours = [self._cond(p, "PodReadyToStartContainers", "True" if sandbox else "False"),
                self._cond(p, "Initialized", "False", "ContainersNotInitialized",
                           "containers with incomplete status: [%s]" % " ".join(c["name"] for c in init))
                if initializing and init else
                self._cond(p, "Initialized", "True", "PodCompleted" if phase == "Succeeded" else None),
                rc, crc, self._cond(p, "PodScheduled", "True")]
        st = {"phase": phase, "conditions": ours, "hostIP": self.host_ip,
              "hostIPs": [{"ip": self.host_ip}], "startTime": p.start_time,
              "containerStatuses": statuses}
        if init:
            st["initContainerStatuses"] = init
        if p.ip:
            st["podIP"], st["podIPs"] = p.ip, [{"ip": p.ip}]
        return st

    def _write_status(self, api, p):
        st = self.pod_status(p)
        body = json.dumps(st, sort_keys=True)
        if body == p.sent:
            return
        # a strategic merge patch, as the kubelet's status manager sends: conditions merge by
        # type, so conditions others own (readiness gates, DisruptionTarget) stay; the nulls in
        # container states remove the state the container left
        out = api.call("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (p.ns, p.name),
                       {"metadata": {"uid": p.uid}, "status": st},
                       "application/strategic-merge-patch+json")
        p.sent = body
        with self.lock:
            if p.uid in self.pods:
                p.obj = out


_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1, "k": 10**3,
           "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def _quantity(q):
    """A resource.Quantity string ("500m", "1Gi", "2e3") as a Decimal."""
    q = str(q).strip()
    m = re.fullmatch(r"([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)", q)
    if not m:
        raise ValueError("not a quantity: %r" % q)
    if m.group(2):
        return Decimal(m.group(1) + m.group(2))
    return Decimal(m.group(1)) * _SUFFIX[m.group(3) or ""]


def _amount(res, q):
    """What the kubelet compares: millicores for cpu, bytes otherwise (rounded up)."""
    v = _quantity(q) * (1000 if res == "cpu" else 1)
    return int(v.to_integral_value(rounding=ROUND_CEILING))


def _pod_requests(pod):
    """A pod's effective requests: the larger of its containers' sum and any init container,
    plus its overhead (resource helpers' PodRequests)."""
    spec = pod.get("spec") or {}
    total = {}
    def amount(k, v):
        try:
            return _amount(k, v)
        except ValueError:  # the API server validated it; count what cannot be read as 0
            return 0
    for c in spec.get("containers") or []:
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            total[k] = total.get(k, 0) + amount(k, v)
    for c in spec.get("initContainers") or []:
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            total[k] = max(total.get(k, 0), amount(k, v))
    for k, v in (spec.get("overhead") or {}).items():
        total[k] = total.get(k, 0) + amount(k, v)
    return total


def _transient(e):
    """Is e what a client sees while the server restarts or is overloaded?"""
    if isinstance(e, ApiError):
        return e.code >= 500 or e.code == 429
    return isinstance(e, (OSError, http.client.HTTPException))


def _state(which, value):
    """A container state for a patch: the one that holds, the others removed."""
    st = {"waiting": None, "running": None, "terminated": None}
    st[which] = value
    return st


def _normalize_image(image):
    """docker.io/library/busybox:latest for busybox, as the runtime names images."""
    repo, at, digest = image.partition("@")
    head, _, tail = repo.rpartition(":")
    tag = ""
    if head and "/" not in tail:
        repo, tag = head, tail
    first = repo.split("/")[0]
    if "/" not in repo:
        repo = "docker.io/library/" + repo
    elif "." not in first and ":" not in first and first != "localhost":
        repo = "docker.io/" + repo
    if at:
        return repo + "@" + digest
    return "%s:%s" % (repo, tag or "latest")


def _image_id(image):
    """A made-up digest for an image reference, in the form a runtime reports (repo@sha256:...),
    the same for every spelling of the reference."""
    ref = _normalize_image(image)
    if "@" in ref:
        return ref
    return "%s@sha256:%s" % (ref.rpartition(":")[0], _fake_id("image", ref))


def _parse_time(s):
    if not s:
        return time.time()
    return time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


class HollowCluster:
    """N hollow nodes against one API server, with the admin credentials to bootstrap them."""

    def __init__(self, url, ca, admin_cert, admin_key, n=0, prefix="hollow", **node_opts):
        self.url, self.ca = url, ca
        self.admin_cert, self.admin_key = admin_cert, admin_key
        self.tmp = tempfile.mkdtemp(prefix="k1s-hollow-")
        self.csrs = []
        self.nodes = []
        self.prefix = prefix
        self.version = "v0.0.0"
        admin = self.admin()
        code, v = admin.request("GET", "/version")
        admin.close()
        if code == 200:
            self.version = v.get("gitVersion", self.version)
        for _ in range(n):
            self.add_node(**node_opts)

    def admin(self):
        return Client(self.url, self.ca, self.admin_cert, self.admin_key)

    def add_node(self, name=None, start=True, **opts):
        """Adds (and by default starts) one more hollow node; returns it."""
        i = len(self.nodes)
        node = HollowNode(self, name or "%s-%d" % (self.prefix, i), i, **opts)
        self.nodes.append(node)
        if start:
            node.start()
        return node

    def add_nodes(self, n, start=True, parallel=8, **opts):
        """Adds n nodes, getting their certificates and registering them `parallel` at a
        time (a hundred nodes join in seconds); returns the new nodes."""
        new = [self.add_node(start=False, **opts) for _ in range(n)]
        todo = list(new)
        lock = threading.Lock()
        failed = []

        def worker():
            while True:
                with lock:
                    if not todo or failed:
                        return
                    node = todo.pop()
                try:
                    node.start() if start else node.bootstrap()
                except Exception as e:
                    with lock:
                        failed.append(e)
        threads = [threading.Thread(target=worker, name="hollow-join-%d" % i) for i in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failed:
            raise failed[0]
        return new

    def __getitem__(self, i):
        return self.nodes[i]

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    @property
    def names(self):
        return [n.name for n in self.nodes]

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def errors(self):
        return [(n.name, e) for n in self.nodes for e in n.errors]

    def close(self, delete=True):
        """Stops every node; with delete, force-deletes their pods (as PodGC does for pods on a
        deleted node), their Leases, Nodes and CSRs, so a shared server is left clean."""
        for n in self.nodes:
            n.stop()
        if delete:
            admin = self.admin()
            for n in self.nodes:
                sel = urllib.parse.quote("spec.nodeName=" + n.name)
                code, lst = admin.request("GET", "/api/v1/pods?fieldSelector=" + sel)
                for o in (lst or {}).get("items", []) if code == 200 else []:
                    m = o["metadata"]
                    admin.request("DELETE", "/api/v1/namespaces/%s/pods/%s" % (m["namespace"], m["name"]),
                                  {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
                admin.request("DELETE", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + n.name)
                admin.request("DELETE", "/api/v1/nodes/" + n.name)
            for c in self.csrs:
                admin.request("DELETE", "/apis/certificates.k8s.io/v1/certificatesigningrequests/" + c)
            admin.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _from_kubeconfig(path, tmp):
    """(url, ca, cert, key) of a kubeconfig's current context, via kubectl config view."""
    out = subprocess.run(["kubectl", "--kubeconfig", path, "config", "view", "--raw", "--minify",
                          "-o", "json"], check=True, capture_output=True, text=True).stdout
    cfg = json.loads(out)
    cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
    files = []
    for data_key, file_key, name in (("certificate-authority-data", "certificate-authority", "ca.crt"),
                                     ("client-certificate-data", "client-certificate", "admin.crt"),
                                     ("client-key-data", "client-key", "admin.key")):
        src = cluster if name == "ca.crt" else user
        if src.get(data_key):
            f = os.path.join(tmp, name)
            with open(f, "wb") as fh:
                fh.write(base64.b64decode(src[data_key]))
            files.append(f)
        else:
            files.append(src[file_key])
    return (cluster["server"],) + tuple(files)


def main(argv=None):
    """Runs hollow nodes against a running server until interrupted, like kubemark's
    hollow-node: python3 tests/e2e/hollow.py --kubeconfig /etc/k1s/k1s.yaml --nodes 100"""
    import argparse
    import signal
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--kubeconfig", required=True, help="an admin kubeconfig (client certificate)")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--prefix", default="hollow")
    ap.add_argument("--lease-interval", type=float, default=10.0)
    ap.add_argument("--no-events", action="store_true", help="record no Events")
    ap.add_argument("--keep", action="store_true", help="leave the Nodes and their pods on exit")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="k1s-hollow-cfg-")
    try:
        url, ca, cert, key = _from_kubeconfig(args.kubeconfig, tmp)
        cluster = HollowCluster(url, ca, cert, key, prefix=args.prefix)
        done = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: done.set())
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        t = time.time()
        cluster.add_nodes(args.nodes, lease_interval=args.lease_interval, events=not args.no_events)
        print("%d hollow nodes ready in %.1fs" % (args.nodes, time.time() - t), flush=True)
        done.wait()
        cluster.close(delete=not args.keep)
        for name, err in cluster.errors():
            print("%s: %s" % (name, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
