"""Crash and disk-full behaviour of the store, through the real server."""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import Server


def create_cm(server, ns, name, payload="x"):
    return server.json("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                       {"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": name}, "data": {"v": payload}})


def test_kill9_during_write_storm_loses_no_acknowledged_write(fresh_server):
    s = fresh_server.start()
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        i = 0
        while not stop.is_set():
            name = "w%d-%d" % (w, i)
            try:
                status, body = create_cm(s, "default", name)
            except Exception:
                return
            if status == 201:
                with lock:
                    acked.append((name, int(body["metadata"]["resourceVersion"])))
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    # kill while writes are in flight, once enough have been acknowledged (however slow the machine)
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            if len(acked) > 200:
                break
        time.sleep(0.05)
    s.proc.send_signal(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    s.proc.wait()
    s.log.close()
    assert len(acked) > 50, "too few writes before the kill: %d" % len(acked)
    db = os.path.join(s.data_dir, "server", "db", "state.db")
    out = subprocess.run(["sqlite3", db, "PRAGMA integrity_check;"], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out
    s.start()
    status, body = s.json("GET", "/api/v1/namespaces/default/configmaps")
    have = {i["metadata"]["name"] for i in body["items"]}
    missing = [n for n, _ in acked if n not in have]
    assert not missing, "acknowledged writes lost: %s" % missing[:10]
    top = max(rv for _, rv in acked)
    status, created = create_cm(s, "default", "after-restart")
    assert status == 201 and int(created["metadata"]["resourceVersion"]) > top


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small tmpfs")
def test_disk_full_fails_writes_clearly_and_recovers(fresh_server):
    s = fresh_server
    mnt = os.path.join(s.tmp, "small")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt], check=True)
    try:
        s.data_dir = os.path.join(mnt, "data")
        s.start()
        filler = os.path.join(mnt, "filler")
        big = "y" * 200000
        failed = None
        for i in range(100):
            status, body = create_cm(s, "default", "big%d" % i, big)
            if status != 201:
                failed = (status, body)
                break
        assert failed is not None, "the disk never filled up"
        status, body = failed
        assert status == 507 or status >= 500, failed
        assert "disk" in body["message"] or "space" in body["message"], body
        # the server is still up and serves reads
        st, _ = s.json("GET", "/api/v1/namespaces/default/configmaps?limit=1")
        assert st == 200
        # free space: delete some objects (deletes may need space too: remove a file first)
        for i in range(3):
            s.json("DELETE", "/api/v1/namespaces/default/configmaps/big%d" % i)
        subprocess.run(["mount", "-o", "remount,size=16m", mnt], check=True)
        status, body = create_cm(s, "default", "after-space-returns")
        assert status == 201, body
        s.stop()
    finally:
        if s.proc:
            s.stop(check=False)
        subprocess.run(["umount", "-l", mnt])


def test_restart_keeps_objects_and_revisions(fresh_server):
    s = fresh_server.start()
    status, first = create_cm(s, "default", "persist")
    assert status == 201
    s.stop()
    s.start()
    status, got = s.json("GET", "/api/v1/namespaces/default/configmaps/persist")
    assert status == 200 and got["metadata"]["uid"] == first["metadata"]["uid"]
    status, second = create_cm(s, "default", "persist2")
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    # a watch can resume from before the restart
    status, _, data = s.request(
        "GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%s&timeoutSeconds=1"
        % first["metadata"]["resourceVersion"])
    events = [json.loads(l) for l in data.decode().splitlines() if l]
    assert [e["object"]["metadata"]["name"] for e in events] == ["persist2"]
    s.stop()


def test_bad_input_stores_nothing(server, ns):
    before = server.json("GET", "/api/v1/namespaces/%s/configmaps" % ns)[1]["metadata"]["resourceVersion"]
    path = "/api/v1/namespaces/%s/configmaps" % ns
    status, body = server.json("POST", path, "{not json")
    assert status == 400 and body["reason"] == "BadRequest"
    status, body = server.json("POST", path, {"apiVersion": "apps/v1", "kind": "Deployment",
                                              "metadata": {"name": "x"}})
    assert status == 400
    status, body = server.json("POST", path, "a: [", headers={"Content-Type": "application/yaml"})
    assert status == 400
    status, body = server.json("POST", path, {"kind": "ConfigMap", "apiVersion": "v1",
                                              "metadata": {"name": "big"}, "data": {"a": "z" * (4 * 1024 * 1024)}})
    assert status == 413
    status, body = server.json("POST", path, {"kind": "ConfigMap", "apiVersion": "v1",
                                              "metadata": {"name": "big"}, "data": {"a": "z" * (2 * 1024 * 1024)}})
    assert status in (413, 422), body
    status, body = server.json("GET", path + "?labelSelector=a%20in%20(")
    assert status == 400
    status, body = server.json("PATCH", path + "/nothere", {"a": 1},
                               headers={"Content-Type": "application/merge-patch+json"})
    assert status == 404
    after = server.json("GET", "/api/v1/namespaces/%s/configmaps" % ns)[1]
    assert [i["metadata"]["name"] for i in after["items"]] == ["kube-root-ca.crt"]
