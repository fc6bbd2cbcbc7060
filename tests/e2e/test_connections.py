"""Slow, stalled and idle clients do not hurt others."""
import shutil
import socket
import ssl
import tempfile
import time

from conftest import K1S_RELEASE_BIN, Server


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def test_stalled_clients_do_not_block_others(server):
    ctx = server.ssl_context()
    stalled = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", server.port))
        t = ctx.wrap_socket(s, server_hostname="localhost")
        # half a request, never finished
        t.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n")
        stalled.append(t)
    raw = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]  # no TLS handshake
    t0 = time.time()
    status, body = server.json("GET", "/api/v1/namespaces")
    assert status == 200 and time.time() - t0 < 2
    for s in stalled + raw:
        s.close()


def test_idle_connections_are_cheap():
    # memory is measured on the release build: the sanitizer build's quarantine hides it
    tmp = tempfile.mkdtemp(prefix="k1s-e2e-")
    server = Server(tmp, binary=K1S_RELEASE_BIN).start()
    try:
        check_idle_connections(server)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def check_idle_connections(server):
    ctx = server.ssl_context()
    before = rss_kb(server.proc.pid)
    conns = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", server.port))
        conns.append(ctx.wrap_socket(s, server_hostname="localhost"))
    time.sleep(0.3)
    after = rss_kb(server.proc.pid)
    status, _ = server.json("GET", "/version")
    assert status == 200
    for c in conns:
        c.close()
    # an idle TLS connection costs OpenSSL's state plus a few KB of ours
    assert (after - before) / 200 < 64, (before, after)
