"""The Endpoints and EndpointSlice controllers inside `k1s server`: a Service with a selector gets
an Endpoints object and discovery.k8s.io/v1 EndpointSlices listing the selected pods (here run by
hollow nodes, hollow.py), ready ones apart from not-ready ones, terminating ones as
serving/terminating; named target ports are resolved per pod; headless Services get hostnames;
publishNotReadyAddresses lists every pod as ready; slices split at 100 endpoints; Services
without a selector are left alone; deleting a Service deletes its Endpoints and slices; nothing
is rewritten when nothing changed. Everything is checked through kubectl."""
import json
import time

import pytest

from helpers import create, get, hollow_cluster, ready, wait_for

MANAGED_BY = "endpointslice-controller.k8s.io"


@pytest.fixture(scope="module")
def nodes(server):
    yield from hollow_cluster(server, "ep", 2, pods=250, zone="zone-a", events=False)


def pod(name, labels, ports=(), annotations=None, hostname=None, subdomain=None, grace=None):
    c = {"name": "c", "image": "busybox:1.36",
         "ports": [{"name": n, "containerPort": p} for n, p in ports]}
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "labels": labels, "annotations": annotations or {}},
         "spec": {"containers": [c]}}
    if hostname:
        p["spec"]["hostname"] = hostname
    if subdomain:
        p["spec"]["subdomain"] = subdomain
    if grace is not None:
        p["spec"]["terminationGracePeriodSeconds"] = grace
    return p


def service(name, selector, ports=(), headless=False, publish_not_ready=False, labels=None):
    s = {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "labels": labels or {}},
         "spec": {"ports": [{"name": n, "port": p, "targetPort": t} for n, p, t in ports]}}
    if selector is not None:
        s["spec"]["selector"] = selector
    if headless:
        s["spec"]["clusterIP"] = "None"
    if publish_not_ready:
        s["spec"]["publishNotReadyAddresses"] = True
    return s


def endpoints(server, ns, name):
    return get(server, ns, "endpoints", name)


def slices(server, ns, name):
    lst = get(server, ns, "endpointslices", "-l", "kubernetes.io/service-name=" + name)
    return lst["items"] if lst else []


def pod_ips(server, ns, names):
    out = {}
    for n in names:
        p = get(server, ns, "pod", n)
        out[n] = p["status"].get("podIP")
    return out


def running(server, ns, names):
    def check():
        ips = {}
        for n in names:
            p = get(server, ns, "pod", n)
            if not ready(p) or not p["status"].get("podIP"):
                return None
            ips[n] = p["status"]["podIP"]
        return ips
    return wait_for(check, what="pods %s ready" % names)


def addrs(ep, key="addresses"):
    """{pod name: (ip, [ports])} over every subset of an Endpoints object."""
    out = {}
    for ss in (ep or {}).get("subsets") or []:
        for a in ss.get(key) or []:
            out[a["targetRef"]["name"]] = (a["ip"], sorted(p["port"] for p in ss.get("ports") or []))
    return out


def slice_eps(items):
    """{pod name: (endpoint, ports)} over slices."""
    out = {}
    for s in items:
        for e in s.get("endpoints") or []:
            out[e["targetRef"]["name"]] = (e, sorted(p["port"] for p in s.get("ports") or []))
    return out


def test_endpoints_follow_pod_readiness(server, ns, nodes):
    create(server, ns,
           *[pod("web-%d" % i, {"app": "web"}, ports=[("http", 8080)]) for i in range(3)],
           pod("other", {"app": "other"}, ports=[("http", 8080)]),
           service("web", {"app": "web"}, ports=[("http", 80, "http")], labels={"team": "a"}))
    ips = running(server, ns, ["web-0", "web-1", "web-2"])

    ep = wait_for(lambda: (lambda e: e if len(addrs(e)) == 3 else None)(endpoints(server, ns, "web")),
                  what="3 ready addresses")
    assert addrs(ep) == {n: (ip, [8080]) for n, ip in ips.items()}
    assert not addrs(ep, "notReadyAddresses")
    ss = ep["subsets"][0]
    assert ss["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    a = ss["addresses"][0]
    assert a["nodeName"].startswith("ep-") and a["targetRef"]["kind"] == "Pod"
    assert a["targetRef"]["namespace"] == ns and a["targetRef"]["uid"]
    assert ep["metadata"]["labels"] == {"team": "a"}
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"].get("annotations", {})

    # the slice: labels, owner, address type, conditions
    items = wait_for(lambda: (lambda s: s if len(slice_eps(s)) == 3 else None)(slices(server, ns, "web")),
                     what="a slice of 3")
    assert len(items) == 1
    s = items[0]
    assert s["addressType"] == "IPv4"
    assert s["metadata"]["labels"] == {"kubernetes.io/service-name": "web", "team": "a",
                                       "endpointslice.kubernetes.io/managed-by": MANAGED_BY}
    assert s["metadata"]["generateName"] == "web-"
    svc = get(server, ns, "service", "web")
    ref = s["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("Service", "web",
                                                                        svc["metadata"]["uid"], True)
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    for name, (e, _) in slice_eps(items).items():
        assert e["addresses"] == [ips[name]]
        assert e["conditions"] == {"ready": True, "serving": True, "terminating": False}
        assert e["nodeName"].startswith("ep-") and e["zone"] == "zone-a"

    # what kubectl users read
    out = server.kubectl("-n", ns, "get", "endpoints", "web").stdout
    assert "web" in out and ":8080" in out
    line = [l for l in out.splitlines() if l.startswith("web ")][0]
    assert all(ip + ":8080" in line for ip in ips.values()), line
    out = server.kubectl("-n", ns, "describe", "service", "web").stdout
    line = [l for l in out.splitlines() if l.startswith("Endpoints:")][0]
    assert all(ip + ":8080" in line for ip in ips.values()), out
    out = server.kubectl("-n", ns, "get", "endpointslices").stdout
    line = [l for l in out.splitlines() if l.startswith("web-")][0]
    assert line.split()[1:3] == ["IPv4", "8080"], out
    assert all(ip in line for ip in ips.values()), out

    # nothing changes when nothing that matters changes
    rv_ep = ep["metadata"]["resourceVersion"]
    rv_s = s["metadata"]["resourceVersion"]
    server.kubectl("-n", ns, "annotate", "pod", "web-0", "unrelated=1")
    server.kubectl("-n", ns, "label", "pod", "other", "extra=1")
    time.sleep(1.5)
    assert endpoints(server, ns, "web")["metadata"]["resourceVersion"] == rv_ep
    assert slices(server, ns, "web")[0]["metadata"]["resourceVersion"] == rv_s

    # a pod that turns not ready moves to notReadyAddresses, and back
    server.kubectl("-n", ns, "annotate", "pod", "web-1", "hollow.k1s.io/never-ready=true")
    ep = wait_for(lambda: (lambda e: e if "web-1" in addrs(e, "notReadyAddresses") else None)(
        endpoints(server, ns, "web")), what="web-1 not ready")
    assert set(addrs(ep)) == {"web-0", "web-2"}
    e = wait_for(lambda: (lambda m: m if m.get("web-1") and not m["web-1"][0]["conditions"]["ready"]
                          else None)(slice_eps(slices(server, ns, "web"))), what="slice not ready")
    assert e["web-1"][0]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    server.kubectl("-n", ns, "annotate", "pod", "web-1", "hollow.k1s.io/never-ready-")
    wait_for(lambda: len(addrs(endpoints(server, ns, "web"))) == 3, what="web-1 ready again")

    # a pod losing the label, or deleted, goes
    server.kubectl("-n", ns, "label", "pod", "web-2", "app=gone", "--overwrite")
    server.kubectl("-n", ns, "delete", "pod", "web-0", "--wait=false")
    wait_for(lambda: set(addrs(endpoints(server, ns, "web"))) == {"web-1"}, what="only web-1 left")
    wait_for(lambda: set(slice_eps(slices(server, ns, "web"))) == {"web-1"}, what="slice: web-1 only")
    # a pod gaining the label comes
    server.kubectl("-n", ns, "label", "pod", "other", "app=web", "--overwrite")
    wait_for(lambda: set(addrs(endpoints(server, ns, "web"))) == {"web-1", "other"},
             what="other joins")

    # deleting the Service deletes its Endpoints and slices
    server.kubectl("-n", ns, "delete", "service", "web")
    wait_for(lambda: endpoints(server, ns, "web") is None, what="endpoints gone")
    wait_for(lambda: not slices(server, ns, "web"), what="slices gone")


def test_named_ports_resolved_per_pod(server, ns, nodes):
    create(server, ns,
           pod("a", {"app": "np"}, ports=[("http", 8080), ("metrics", 9100)]),
           pod("b", {"app": "np"}, ports=[("http", 8080), ("metrics", 9100)]),
           pod("c", {"app": "np"}, ports=[("http", 9090)]),
           service("np", {"app": "np"}, ports=[("web", 80, "http"), ("metrics", 9100, "metrics")]))
    ips = running(server, ns, ["a", "b", "c"])

    def settled():
        ep = endpoints(server, ns, "np")
        got = addrs(ep)
        return ep if len(got) == 3 and len(ep["subsets"]) == 2 else None
    ep = wait_for(settled, what="2 subsets")
    # ports offered by the same addresses share a subset: {a,b}: 8080 and 9100, {c}: 9090
    subsets = sorted((sorted(a["targetRef"]["name"] for a in s["addresses"]),
                      sorted((p["name"], p["port"]) for p in s["ports"])) for s in ep["subsets"])
    assert subsets == [(["a", "b"], [("metrics", 9100), ("web", 8080)]), (["c"], [("web", 9090)])]
    assert {a["ip"] for s in ep["subsets"] for a in s["addresses"]} == set(ips.values())

    items = wait_for(lambda: (lambda s: s if len(slice_eps(s)) == 3 and len(s) == 2 else None)(
        slices(server, ns, "np")), what="2 slices")
    by_ports = {tuple(sorted((p["name"], p["port"]) for p in s["ports"])):
                sorted(e["targetRef"]["name"] for e in s["endpoints"]) for s in items}
    assert by_ports == {(("metrics", 9100), ("web", 8080)): ["a", "b"], (("web", 9090),): ["c"]}

    # a new selector selects other pods: here none, and the slices give way to a placeholder
    server.kubectl("-n", ns, "patch", "service", "np", "-p", '{"spec":{"selector":{"app":"none"}}}')
    wait_for(lambda: not (endpoints(server, ns, "np") or {}).get("subsets"), what="no subsets")
    items = wait_for(lambda: (lambda s: s if len(s) == 1 and not s[0].get("endpoints") else None)(
        slices(server, ns, "np")), what="a placeholder slice")
    assert not items[0].get("ports")


def test_headless_hostnames_and_publish_not_ready(server, ns, nodes):
    create(server, ns,
           pod("h-0", {"app": "h"}, hostname="h-0", subdomain="h"),
           pod("h-1", {"app": "h"}, hostname="h-1", subdomain="h",
               annotations={"hollow.k1s.io/never-ready": "true"}),
           service("h", {"app": "h"}, headless=True),
           service("pnr", {"app": "h"}, ports=[("", 80, 80)], publish_not_ready=True))
    running(server, ns, ["h-0"])

    def headless():
        ep = endpoints(server, ns, "h")
        return ep if addrs(ep) and addrs(ep, "notReadyAddresses") else None
    ep = wait_for(headless, what="headless endpoints")
    assert ep["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
    ready = ep["subsets"][0]["addresses"]
    assert [(a["targetRef"]["name"], a["hostname"]) for a in ready] == [("h-0", "h-0")]
    assert [a["hostname"] for a in ep["subsets"][0]["notReadyAddresses"]] == ["h-1"]
    assert "ports" not in ep["subsets"][0]
    items = wait_for(lambda: (lambda s: s if len(slice_eps(s)) == 2 else None)(slices(server, ns, "h")),
                     what="headless slice")
    assert items[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    eps = slice_eps(items)
    assert eps["h-0"][0]["hostname"] == "h-0"
    assert eps["h-1"][0]["conditions"] == {"ready": False, "serving": False, "terminating": False}

    # publishNotReadyAddresses: every pod is a ready address; the pod from the other Service's
    # subdomain gets no hostname here
    ep = wait_for(lambda: (lambda e: e if len(addrs(e)) == 2 else None)(endpoints(server, ns, "pnr")),
                  what="both ready")
    assert not addrs(ep, "notReadyAddresses")
    assert all("hostname" not in a for a in ep["subsets"][0]["addresses"])
    eps = wait_for(lambda: (lambda m: m if len(m) == 2 else None)(slice_eps(slices(server, ns, "pnr"))),
                   what="pnr slice")
    assert eps["h-1"][0]["conditions"] == {"ready": True, "serving": False, "terminating": False}


def test_terminating_pods(server, ns, nodes):
    create(server, ns,
           pod("t-0", {"app": "t"}, ports=[("http", 8080)], grace=60,
               annotations={"hollow.k1s.io/delete-after-grace": "true"}),
           pod("t-1", {"app": "t"}, ports=[("http", 8080)]),
           service("t", {"app": "t"}, ports=[("http", 80, "http")]))
    running(server, ns, ["t-0", "t-1"])
    wait_for(lambda: len(addrs(endpoints(server, ns, "t"))) == 2, what="2 addresses")
    server.kubectl("-n", ns, "delete", "pod", "t-0", "--wait=false")
    # Endpoints drop a terminating pod; slices keep it as serving and terminating, not ready
    wait_for(lambda: set(addrs(endpoints(server, ns, "t"))) == {"t-1"}, what="t-0 dropped")
    eps = wait_for(lambda: (lambda m: m if m.get("t-0") and m["t-0"][0]["conditions"]["terminating"]
                            else None)(slice_eps(slices(server, ns, "t"))), what="t-0 terminating")
    assert eps["t-0"][0]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert eps["t-1"][0]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    server.kubectl("-n", ns, "delete", "pod", "t-0", "--grace-period=0", "--force", check=False)


def test_services_without_selector_left_alone_and_mirrored(server, ns, nodes):
    create(server, ns, service("manual", None, ports=[("web", 80, 80)]),
           {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "manual", "labels": {"team": "b"}, "annotations": {"note": "x"}},
            "subsets": [{"addresses": [{"ip": "192.0.2.1", "hostname": "one"}],
                         "notReadyAddresses": [{"ip": "192.0.2.2"}, {"ip": "not-an-ip"}],
                         "ports": [{"name": "web", "port": 80}]}]})
    # the user's Endpoints stay as written; the mirroring controller copies them into a slice
    items = wait_for(lambda: slices(server, ns, "manual"), what="a mirrored slice")
    ep = endpoints(server, ns, "manual")
    assert ep["subsets"][0]["addresses"] == [{"ip": "192.0.2.1", "hostname": "one"}]
    assert len(items) == 1
    s = items[0]
    assert s["metadata"]["labels"] == {
        "team": "b", "kubernetes.io/service-name": "manual",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}
    assert s["metadata"]["annotations"] == {"note": "x"}
    ref = s["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"]) == ("Endpoints", "manual", ep["metadata"]["uid"])
    assert s["ports"] == [{"name": "web", "port": 80, "protocol": "TCP"}]
    assert sorted((e["addresses"][0], e["conditions"]["ready"], e.get("hostname"))
                  for e in s["endpoints"]) == [("192.0.2.1", True, "one"), ("192.0.2.2", False, None)]
    out = server.kubectl("-n", ns, "get", "events", "--field-selector",
                         "involvedObject.kind=Endpoints,reason=InvalidIPAddress").stdout
    assert "Skipped 1 invalid IP addresses when mirroring to EndpointSlices" in out
    # the user's changes follow; nothing is rewritten when nothing changed
    server.kubectl("-n", ns, "patch", "endpoints", "manual", "--type=json", "-p",
                   '[{"op": "remove", "path": "/subsets/0/notReadyAddresses"}]')
    items = wait_for(lambda: (lambda s: s if s and len(s[0]["endpoints"]) == 1 else None)(
        slices(server, ns, "manual")), what="one mirrored endpoint")
    rv = items[0]["metadata"]["resourceVersion"]
    time.sleep(1)
    assert slices(server, ns, "manual")[0]["metadata"]["resourceVersion"] == rv
    # the API server's own kubernetes Endpoints stay as it writes them, and are not mirrored
    k = get(server, "default", "endpoints", "kubernetes")
    assert len(k["subsets"]) == 1 and k["subsets"][0]["ports"][0]["name"] == "https"
    assert [s["metadata"]["name"] for s in slices(server, "default", "kubernetes")] == ["kubernetes"]
    # the Service gone, its Endpoints go (as upstream's endpoint controller does) and so do the
    # mirrored slices
    server.kubectl("-n", ns, "delete", "service", "manual")
    wait_for(lambda: not slices(server, ns, "manual"), what="mirrored slice gone")
    wait_for(lambda: endpoints(server, ns, "manual") is None, what="endpoints gone")


def test_empty_service_has_placeholder_slice(server, ns, nodes):
    create(server, ns, service("empty", {"app": "nothing"}, ports=[("", 80, 80)]))
    items = wait_for(lambda: slices(server, ns, "empty"), what="placeholder slice")
    assert len(items) == 1 and not items[0].get("endpoints")
    ep = wait_for(lambda: endpoints(server, ns, "empty"), what="empty endpoints")
    assert not ep.get("subsets")
    rv = items[0]["metadata"]["resourceVersion"]
    time.sleep(1)
    assert slices(server, ns, "empty")[0]["metadata"]["resourceVersion"] == rv


def delete_pods(server, ns, selector):
    """Deletes the pods matching selector with one deletecollection request (the hollow nodes
    confirm the deletions)."""
    status, _, body = server.request(
        "DELETE", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (ns, selector),
        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
    assert status == 200, body


def test_slices_split_at_100(server, ns, nodes):
    n = 110
    create(server, ns, *[pod("p-%03d" % i, {"app": "many", "half": "ab"[i % 2]},
                             ports=[("http", 8080)]) for i in range(n)],
           service("many", {"app": "many"}, ports=[("http", 80, "http")]))

    def split():
        items = slices(server, ns, "many")
        counts = sorted(len(s.get("endpoints") or []) for s in items)
        return counts if sum(counts) == n and all(e["conditions"]["ready"] for s in items
                                                 for e in s.get("endpoints") or []) else None
    counts = wait_for(split, timeout=180, what="%d ready endpoints in slices" % n)
    assert counts == [10, 100], counts
    ep = endpoints(server, ns, "many")
    assert len(addrs(ep)) == n
    # scaling down empties slices in place rather than reshuffling them
    names = {s["metadata"]["name"] for s in slices(server, ns, "many")}
    delete_pods(server, ns, "half%3Da")
    left = n // 2

    def halved():
        items = slices(server, ns, "many")
        counts = [len(s.get("endpoints") or []) for s in items]
        return items if sum(counts) == left else None
    items = wait_for(halved, timeout=120, what="half the endpoints")
    assert {s["metadata"]["name"] for s in items} <= names
    assert all(len(s["endpoints"]) <= 100 for s in items)
    wait_for(lambda: len(addrs(endpoints(server, ns, "many"))) == left, what="half the addresses")
    delete_pods(server, ns, "app%3Dmany")
    wait_for(lambda: not addrs(endpoints(server, ns, "many")), what="no addresses")
    items = wait_for(lambda: (lambda s: s if len(s) == 1 and not s[0].get("endpoints") else None)(
        slices(server, ns, "many")), what="only a placeholder slice")


def test_slices_wait_for_the_pods_node(server, ns):
    """A pod bound to a Node that does not exist is in the Endpoints but not in the slices
    until the Node comes (as upstream, so that slices never point at a missing node)."""
    p = pod("ghost-pod", {"app": "ghost"}, ports=[("http", 8080)])
    p["spec"]["nodeName"] = "ep-ghost"
    create(server, ns, p, service("ghost", {"app": "ghost"}, ports=[("http", 80, "http")]))
    server.kubectl("-n", ns, "patch", "pod", "ghost-pod", "--subresource=status", "--type=merge",
                   "-p", json.dumps({"status": {
                       "phase": "Running", "podIP": "10.99.0.7", "podIPs": [{"ip": "10.99.0.7"}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}))
    wait_for(lambda: addrs(endpoints(server, ns, "ghost")) == {"ghost-pod": ("10.99.0.7", [8080])},
             what="endpoints with the pod")
    items = wait_for(lambda: slices(server, ns, "ghost"), what="a slice")
    assert not slice_eps(items)
    server.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "ep-ghost", "labels": {"topology.kubernetes.io/zone": "zone-g"}}}))
    try:
        eps = wait_for(lambda: slice_eps(slices(server, ns, "ghost")), what="the pod in a slice")
        e = eps["ghost-pod"][0]
        assert (e["addresses"], e["nodeName"], e["zone"]) == (["10.99.0.7"], "ep-ghost", "zone-g")
    finally:
        server.kubectl("delete", "node", "ep-ghost")
        server.kubectl("-n", ns, "delete", "pod", "ghost-pod", "--grace-period=0", "--force",
                       check=False)


def test_no_rewrites_after_a_server_restart(fresh_server, hollow_nodes):
    """Crash-only: after kill -9 and a restart the controllers find their Endpoints and slices
    as they left them and write nothing; leftover Endpoints of a Service deleted while no
    controller ran go."""
    import signal
    s = fresh_server.start()
    hollow_nodes(s, 1, prefix="epr", events=False)
    ns = "default"
    create(s, ns, *[pod("r-%d" % i, {"app": "r"}, ports=[("http", 8080)]) for i in range(2)],
           service("r", {"app": "r"}, ports=[("http", 80, "http")]),
           service("h", {"app": "r"}, headless=True))
    wait_for(lambda: len(addrs(endpoints(s, ns, "r"))) == 2 and len(addrs(endpoints(s, ns, "h"))) == 2,
             what="endpoints")
    wait_for(lambda: len(slice_eps(slices(s, ns, "r"))) == 2 and len(slice_eps(slices(s, ns, "h"))) == 2,
             what="slices")
    time.sleep(0.5)

    def versions():
        out = {}
        for name in ("r", "h"):
            out["ep/" + name] = endpoints(s, ns, name)["metadata"]["resourceVersion"]
            for sl in slices(s, ns, name):
                out["slice/" + sl["metadata"]["name"]] = sl["metadata"]["resourceVersion"]
        return out
    before = versions()
    # Endpoints left behind by a Service deleted while no controller ran
    s.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "orphan", "namespace": ns}}))
    s.stop(signal.SIGKILL)
    s.start()
    # once a new Service has its Endpoints and slice, the controllers have looked at everything
    create(s, ns, service("probe", {"app": "r"}, ports=[("http", 80, "http")]))
    wait_for(lambda: len(addrs(endpoints(s, ns, "probe"))) == 2, what="probe endpoints")
    wait_for(lambda: len(slice_eps(slices(s, ns, "probe"))) == 2, what="probe slice")
    wait_for(lambda: endpoints(s, ns, "orphan") is None, what="orphan endpoints deleted")
    assert versions() == before
