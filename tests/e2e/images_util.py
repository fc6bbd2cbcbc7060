"""Test images and a local registry, for the image tests and the pod tests that reuse them.

build_busybox_layout() writes an OCI image layout by hand from /usr/bin/busybox (busybox-static):
two layers, the second whiting out a file and making a directory opaque, so unpacking is
tested too. Registry runs Debian's docker-registry on 127.0.0.1:<free port> with storage in a
temp dir (optionally with htpasswd basic auth); push() copies a layout to it with skopeo.

    reg = Registry(tmpdir).start()
    ref = reg.push(layout, "k1stest/busybox:1")   # "127.0.0.1:PORT/k1stest/busybox:1"

The `busybox_registry` fixture (module scope) does both and yields a Registry with .ref and
.digest (manifest digest) of the pushed image; nothing touches the network beyond loopback.
Registry(tmp, netns=NS) runs it on the loopback of a network namespace instead (pod tests);
plain_http_registries(host) is the registries.yaml that makes k1s use plain HTTP for it;
oci_archive(layout, path, name) writes an air-gap tarball for <data-dir>/agent/images.
FakeRegistry serves the same image over HTTPS with bearer tokens, a multi-platform index,
client certificates, and corrupt or stalling blobs on demand.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

import pytest

BUSYBOX = "/usr/bin/busybox"
REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(entries):
    """entries: (name, kind, data_or_target, mode[, uid, gid, pax headers]). Returns the
    uncompressed tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode, *more in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            ti.mtime = 1700000000
            if more:
                ti.uid, ti.gid, ti.pax_headers = more[0], more[1], more[2]
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = data
                t.addfile(ti)
    return buf.getvalue()


def _blob(layout, data):
    d = _sha(data)
    path = os.path.join(layout, "blobs", "sha256", d[7:])
    with open(path, "wb") as f:
        f.write(data)
    return d


APPLETS = ("cat", "echo", "env", "false", "hostname", "httpd", "id", "kill", "ls", "mkdir", "nc",
           "nslookup", "ps", "rm", "sleep", "tar", "test", "touch", "tr", "true", "wc", "wget")


def build_busybox_layout(layout, tag="1", cmd=("sh",), extra_files=None, applets=APPLETS):
    """Writes an OCI layout with a two-layer busybox image tagged `tag`; returns a dict with
    the manifest and config digests and the layer diff IDs. /bin holds busybox, sh (a
    symlink), cat (a hard link) and a symlink per applet; extra_files {path: bytes} adds
    executable files to the first layer."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    l1 = [("bin", "dir", None, 0o755), ("bin/busybox", "file", bb, 0o755),
          ("bin/sh", "symlink", "busybox", 0o777), ("bin/cat", "hardlink", "bin/busybox", 0o755),
          ("etc", "dir", None, 0o755), ("etc/removed.txt", "file", b"old\n", 0o644),
          ("etc/keep.txt", "file", b"keep\n", 0o644), ("opq", "dir", None, 0o755),
          ("opq/old.txt", "file", b"old\n", 0o644), ("tmp", "dir", None, 0o1777),
          ("etc/owned", "file", b"secret\n", 0o640, 1000, 1001, {"SCHILY.xattr.user.k1s": "yes"})]
    for a in applets:
        if a not in ("cat", "sh"):
            l1.append(("bin/" + a, "symlink", "busybox", 0o777))
    for name, data in (extra_files or {}).items():
        l1.append((name, "file", data, 0o755))
    l2 = [("etc", "dir", None, 0o755), ("etc/.wh.removed.txt", "file", b"", 0o644),
          ("etc/added.txt", "file", b"added\n", 0o644), ("opq", "dir", None, 0o755),
          ("opq/.wh..wh..opq", "file", b"", 0o644), ("opq/new.txt", "file", b"new\n", 0o644)]
    t1, t2 = _tar(l1), _tar(l2)
    # both gzip: skopeo would compress an uncompressed layer on push, changing the digests
    # (docker-archive imports cover uncompressed layers)
    layers = [(gzip.compress(t, mtime=0), t, "application/vnd.oci.image.layer.v1.tar+gzip")
              for t in (t1, t2)]
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": list(cmd), "Env": ["PATH=/bin", "K1S_TEST=1"], "WorkingDir": "/tmp",
                   "Labels": {"k1s.test": "busybox"}, "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": [_sha(t) for _, t, _ in layers]},
    }
    cbytes = json.dumps(config, sort_keys=True).encode()
    cdigest = _blob(layout, cbytes)
    descs = []
    for comp, _, mt in layers:
        descs.append({"mediaType": mt, "digest": _blob(layout, comp), "size": len(comp)})
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cdigest, "size": len(cbytes)},
                "layers": descs}
    mbytes = json.dumps(manifest, sort_keys=True).encode()
    mdigest = _blob(layout, mbytes)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest,
             "size": len(mbytes), "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    return {"manifest": mdigest, "config": cdigest, "diff_ids": config["rootfs"]["diff_ids"],
            "layers": [d["digest"] for d in descs]}


def plain_http_registries(*hosts, extra=""):
    """registries.yaml text making each host a plain-HTTP endpoint of itself (what a test
    registry needs), followed by extra."""
    out = "mirrors:\n"
    for h in hosts:
        out += '  "%s":\n    endpoint: ["http://%s"]\n' % (h, h)
    return out + extra


def oci_archive(layout, path, name, tag="1"):
    """Writes image `tag` of an OCI layout as an air-gap tarball (skopeo's oci-archive) named
    `name` (e.g. "docker.io/k1stest/busybox:1")."""
    subprocess.run([SKOPEO, "copy", "--insecure-policy", "oci:%s:%s" % (layout, tag),
                    "oci-archive:%s:%s" % (path, name)], check=True, capture_output=True)
    return path


class Registry:
    """Debian's docker-registry on 127.0.0.1:<free port>, storage in a temp dir. With netns,
    it runs inside that network namespace (on its loopback), as do push() and the readiness
    check; the namespace's lo must be up."""

    def __init__(self, tmp, user=None, password=None, netns=None):
        self.tmp = tmp
        self.user, self.password = user, password
        self.netns = netns
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.proc = None
        self.log_path = os.path.join(tmp, "registry.log")

    def start(self):
        os.makedirs(os.path.join(self.tmp, "data"), exist_ok=True)
        cfg = ["version: 0.1", "log:", "  level: info", "  accesslog:", "    disabled: false",
               "storage:", "  filesystem:", "    rootdirectory: %s" % os.path.join(self.tmp, "data"),
               "  delete:", "    enabled: true", "http:", "  addr: %s" % self.host]
        if self.user:
            htp = os.path.join(self.tmp, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", self.user, self.password], check=True,
                                 capture_output=True, text=True).stdout
            with open(htp, "w") as f:
                f.write(out)
            cfg += ["auth:", "  htpasswd:", "    realm: k1s-test", "    path: %s" % htp]
        path = os.path.join(self.tmp, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self._cmd([REGISTRY_BIN, "serve", path]), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited:\n" + self.read_log())
            if self.netns:
                # any HTTP answer (200, or 401 with auth) means it is up
                r = subprocess.run(self._cmd(["busybox", "wget", "-q", "-O", "/dev/null",
                                              "http://%s/v2/" % self.host]),
                                   capture_output=True, text=True)
                if r.returncode == 0 or "401" in r.stderr:
                    return self
                time.sleep(0.1)
                continue
            try:
                urllib.request.urlopen("http://%s/v2/" % self.host, timeout=2)
                return self
            except urllib.error.HTTPError:
                return self  # 401 with auth: it is up
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("docker-registry did not start:\n" + self.read_log())

    def _cmd(self, args):
        return (["ip", "netns", "exec", self.netns] if self.netns else []) + args

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def blob_gets(self, settle=0.5, timeout=15):
        """How many blob GETs the registry has answered so far, from its access log, which
        is written after the response: the count once it has not changed for `settle` s."""
        def count():
            return sum(1 for l in self.read_log().splitlines()
                       if '"GET /v2/' in l and "/blobs/" in l)
        last, since, deadline = count(), time.time(), time.time() + timeout
        while time.time() < deadline and time.time() - since < settle:
            time.sleep(0.1)
            n = count()
            if n != last:
                last, since = n, time.time()
        return last

    def push(self, layout, repo_tag, tag="1"):
        """Copies image `tag` of an OCI layout to this registry as repo_tag; returns the ref."""
        ref = "%s/%s" % (self.host, repo_tag)
        args = [SKOPEO, "copy", "--insecure-policy", "--dest-tls-verify=false",
                "oci:%s:%s" % (layout, tag), "docker://" + ref]
        if self.user:
            args[2:2] = ["--dest-creds", "%s:%s" % (self.user, self.password)]
        subprocess.run(self._cmd(args), check=True, capture_output=True, timeout=120)
        return ref

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None


@pytest.fixture(scope="module")
def busybox_registry():
    """A registry on loopback holding the test busybox image as <host>/k1stest/busybox:1.
    Yields the Registry with .layout, .ref, .digest (manifest) and .image (the digests)."""
    tmp = tempfile.mkdtemp(prefix="k1s-registry-")
    reg = Registry(tmp)
    try:
        reg.layout = os.path.join(tmp, "layout")
        reg.image = build_busybox_layout(reg.layout)
        reg.start()
        reg.ref = reg.push(reg.layout, "k1stest/busybox:1")
        reg.digest = reg.image["manifest"]
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class FakeRegistry:
    """A small distribution-API registry in this process, for what docker-registry cannot
    easily do here: HTTPS with a private CA, the bearer-token flow (a /token endpoint that
    wants basic credentials), a multi-platform index, and corrupt blobs. It serves the image
    of an OCI layout (build_busybox_layout) as <host>/<repo>:<tag>."""

    def __init__(self, tmp, layout, image, repo="k1stest/busybox", tag="1", user="edge",
                 password="s3cret", anonymous=False, client_certs=False):
        import http.server
        import socketserver
        import ssl
        import threading
        self.tmp, self.layout, self.repo, self.tag = tmp, layout, repo, tag
        self.user, self.password, self.anonymous = user, password, anonymous
        self.identity_token = "refresh-me"
        self.corrupt = set()  # digests served with altered content
        self.stall = set()  # digests of which only half is sent, then nothing until release
        self.release = threading.Event()
        self.token_requests = []
        self.blob_gets = 0
        self.cert = os.path.join(tmp, "registry.crt")
        key = os.path.join(tmp, "registry.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", self.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        # a multi-platform index: another architecture first, then this one
        self.manifest = image["manifest"]
        with open(os.path.join(layout, "blobs", "sha256", self.manifest[7:]), "rb") as f:
            msize = len(f.read())
        other = "sha256:" + "0" * 64
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [
                     {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": other,
                      "size": msize, "platform": {"os": "linux", "architecture": "arm64",
                                                  "variant": "v8"}},
                     {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "digest": self.manifest, "size": msize,
                      "platform": {"os": "linux", "architecture": "amd64"}}]}
        self.index = json.dumps(index).encode()
        self.index_digest = _sha(self.index)
        self.tokens = set()
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def send(self, code, body=b"", ctype="application/json", headers=None):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self):
                self.do_GET()

            def do_POST(self):
                """The OAuth2 form docker uses with an identity (refresh) token."""
                import urllib.parse
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                reg.token_requests.append((form.get("service", [""])[0],
                                           form.get("scope", [""])[0],
                                           "refresh:" + form.get("refresh_token", [""])[0]))
                if self.path != "/token" or form.get("grant_type") != ["refresh_token"] or \
                        form.get("refresh_token") != [reg.identity_token]:
                    return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                tok = "tok%d" % len(reg.token_requests)
                reg.tokens.add(tok)
                return self.send(200, json.dumps({"access_token": tok}).encode())

            def do_GET(self):
                import base64
                import urllib.parse
                u = urllib.parse.urlparse(self.path)
                auth = self.headers.get("Authorization", "")
                if u.path == "/token":
                    q = urllib.parse.parse_qs(u.query)
                    reg.token_requests.append((q.get("service", [""])[0], q.get("scope", [""])[0],
                                               auth))
                    want = "Basic " + base64.b64encode(
                        ("%s:%s" % (reg.user, reg.password)).encode()).decode()
                    if auth != want and not (reg.anonymous and not auth):
                        return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                    tok = "tok%d" % len(reg.token_requests)
                    reg.tokens.add(tok)
                    return self.send(200, json.dumps({"token": tok}).encode())
                if not auth.startswith("Bearer ") or auth[7:] not in reg.tokens:
                    ch = 'Bearer realm="https://%s/token",service="k1s-test",scope="repository:%s:pull"' % (
                        reg.host, reg.repo)
                    return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                                     headers={"WWW-Authenticate": ch})
                prefix = "/v2/%s/" % reg.repo
                if not u.path.startswith(prefix):
                    return self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
                kind, _, ref = u.path[len(prefix):].partition("/")
                if kind == "manifests" and ref in (reg.tag, reg.index_digest):
                    return self.send(200, reg.index, "application/vnd.oci.image.index.v1+json",
                                     {"Docker-Content-Digest": reg.index_digest})
                path = os.path.join(reg.layout, "blobs", "sha256", ref[7:]) if ref.startswith("sha256:") else ""
                if not path or not os.path.exists(path):
                    return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                with open(path, "rb") as f:
                    data = f.read()
                if ref in reg.corrupt:
                    data = data[:-1] + bytes([data[-1] ^ 1])
                if kind == "blobs":
                    reg.blob_gets += 1
                    if ref in reg.stall:
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        try:
                            self.wfile.write(data[:len(data) // 2])
                            self.wfile.flush()
                        except OSError:
                            pass
                        reg.release.wait(120)
                        self.close_connection = True
                        return
                    return self.send(200, data, "application/octet-stream")
                return self.send(200, data, "application/vnd.oci.image.manifest.v1+json",
                                 {"Docker-Content-Digest": ref})

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        if client_certs:
            # clients must show this self-signed certificate (tls.cert_file/key_file)
            self.client_cert = os.path.join(tmp, "client.crt")
            self.client_key = os.path.join(tmp, "client.key")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                            self.client_key, "-out", self.client_cert, "-days", "1", "-subj",
                            "/CN=k1s-node"], check=True, capture_output=True)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.client_cert)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.host = "127.0.0.1:%d" % self.port
        self.ref = "%s/%s:%s" % (self.host, repo, tag)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
