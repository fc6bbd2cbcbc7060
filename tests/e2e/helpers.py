"""Helpers the controller end-to-end tests share: polling, creating objects and reading them back
through kubectl, pod conditions, hollow nodes for a test module, and a server of a module's own
(for modules that run only some controllers)."""
import json
import shutil
import tempfile
import time

from conftest import Server


def wait_for(fn, timeout=60, what="condition", interval=0.2, retry_errors=False):
    """Calls fn until it returns something true, and returns that; fails after timeout seconds.
    With retry_errors, an AssertionError from fn (a kubectl that failed) counts as not yet."""
    deadline = time.time() + timeout
    while True:
        try:
            v = fn()
        except AssertionError:
            if not retry_errors:
                raise
            v = None
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def create(server, ns, *objs):
    """`kubectl create` of the objects (as one List) in namespace ns."""
    server.kubectl("-n", ns, "create", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def kjson(server, ns, *args):
    """`kubectl [-n ns] ARGS -o json`, parsed; fails if kubectl does."""
    return json.loads(server.kubectl(*(["-n", ns] if ns else []), *args, "-o", "json").stdout)


def get(server, ns, *what):
    """`kubectl [-n ns] get WHAT -o json`, parsed, or None when kubectl fails (NotFound)."""
    p = server.kubectl(*(["-n", ns] if ns else []), "get", *what, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None


def cond(obj, type_):
    """The status condition of type type_ of obj, or None."""
    for c in (obj or {}).get("status", {}).get("conditions") or []:
        if c["type"] == type_:
            return c
    return None


def ready(pod):
    """Whether the pod's Ready condition is True."""
    c = cond(pod, "Ready")
    return c is not None and c["status"] == "True"


def hollow_cluster(server, prefix, n, **node_opts):
    """For a module-scoped fixture (`yield from`): n hollow nodes (hollow.py) named prefix-...,
    closed after the module's tests."""
    from hollow import HollowCluster
    c = HollowCluster(server.url, server.ca(), *server.admin_cert(), prefix=prefix)
    c.add_nodes(n, **node_opts)
    yield c
    c.close()


def own_server(prefix, *args):
    """For a module-scoped `server` fixture (`yield from`) that overrides the session's: a server
    started with extra args in a temp directory of its own, stopped and removed afterwards. The
    `ns` fixture then makes its namespaces there."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    s = Server(tmp, extra_args=list(args)).start()
    yield s
    s.stop()
    shutil.rmtree(tmp, ignore_errors=True)
