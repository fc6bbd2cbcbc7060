"""The image store through `k1s ctr images`: pulls from a local docker-registry (plain HTTP via
a registries.yaml mirror entry, basic auth, mirrors with rewrites), by tag and by digest,
layer reuse, air-gap import of skopeo's oci-archive and docker-archive tarballs, overlayfs
mounts with whiteouts applied, removal and garbage collection, and repair after a crash."""
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import K1S_BIN
from images_util import (Registry, SKOPEO, build_busybox_layout, busybox_registry,  # noqa: F401
                         oci_archive, plain_http_registries)


class Ctr:
    def __init__(self, tmp, registries=""):
        self.tmp = tmp
        self.data_dir = os.path.join(tmp, "data")
        self.reg_path = os.path.join(tmp, "registries.yaml")
        self.set_registries(registries)

    def set_registries(self, text):
        with open(self.reg_path, "w") as f:
            f.write(text)

    def run(self, *args, check=True):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
        r = subprocess.run([K1S_BIN, "ctr", "images"] + list(args) +
                           ["--data-dir", self.data_dir, "--private-registry", self.reg_path],
                           capture_output=True, text=True, timeout=300, env=env)
        if check and r.returncode != 0:
            raise AssertionError("k1s ctr images %s: exit %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def names(self):
        return self.run("ls", "-q").stdout.split()

    def agent(self, *p):
        return os.path.join(self.data_dir, "agent", *p)


plain_http = plain_http_registries


@pytest.fixture
def ctr():
    tmp = tempfile.mkdtemp(prefix="k1s-images-")
    c = Ctr(tmp)
    c.mounts = []
    try:
        yield c
    finally:
        for m in c.mounts:
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def test_pull_inspect_mount_and_reuse(ctr, busybox_registry):
    reg = busybox_registry
    ctr.set_registries(plain_http(reg.host))
    ctr.run("pull", reg.ref)
    assert ctr.names() == [reg.ref]
    info = json.loads(ctr.run("inspect", reg.ref).stdout)
    assert info["id"] == reg.image["config"]
    assert info["manifestDigest"] == reg.digest
    assert info["repoDigest"] == "%s/k1stest/busybox@%s" % (reg.host, reg.digest)
    assert [l["diffID"] for l in info["layers"]] == reg.image["diff_ids"]
    cfg = info["config"]
    assert cfg["Cmd"] == ["sh"] and cfg["WorkingDir"] == "/tmp"
    assert "K1S_TEST=1" in cfg["Env"] and cfg["ExposedPorts"] == ["80/tcp"]
    assert cfg["Labels"] == {"k1s.test": "busybox"}
    df = json.loads(ctr.run("df").stdout)
    assert df["snapshotBytes"] == info["unpacked"] > len(open("/usr/bin/busybox", "rb").read())
    assert df["contentBytes"] == info["size"]
    assert 0 < df["fsAvailable"] < df["fsCapacity"]
    # the image ID and a short prefix of it find the image too
    assert json.loads(ctr.run("inspect", info["id"][7:19]).stdout)["name"] == reg.ref

    # the read-only view: layer 2's whiteout and opaque dir applied over layer 1
    mnt = os.path.join(ctr.tmp, "view")
    os.mkdir(mnt)
    ctr.run("mount", reg.ref, mnt)
    ctr.mounts.append(mnt)
    assert os.readlink(os.path.join(mnt, "bin/sh")) == "busybox"
    st1, st2 = os.stat(os.path.join(mnt, "bin/busybox")), os.stat(os.path.join(mnt, "bin/cat"))
    assert st1.st_ino == st2.st_ino and st1.st_mode & 0o111
    assert sorted(os.listdir(os.path.join(mnt, "etc"))) == ["added.txt", "keep.txt", "owned"]
    assert os.listdir(os.path.join(mnt, "opq")) == ["new.txt"]
    st = os.stat(os.path.join(mnt, "etc/owned"))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1000, 1001, 0o640)
    assert os.getxattr(os.path.join(mnt, "etc/owned"), "user.k1s") == b"yes"
    with pytest.raises(OSError):
        open(os.path.join(mnt, "etc/new"), "w")
    out = subprocess.run(["chroot", mnt, "/bin/sh", "-c", "cat /etc/keep.txt; echo $(ls /opq)"],
                         capture_output=True, text=True)
    assert out.stdout == "keep\nnew.txt\n", out
    ctr.run("unmount", "view", mnt)
    assert not os.path.ismount(mnt)

    # a container's writable rootfs: writes go to its own upper dir, gone after unmount
    rw = os.path.join(ctr.tmp, "rw")
    os.mkdir(rw)
    ctr.run("mount", "--rw", "--key", "ctr1", reg.ref, rw)
    ctr.mounts.append(rw)
    with open(os.path.join(rw, "etc/written"), "w") as f:
        f.write("x")
    os.unlink(os.path.join(rw, "etc/keep.txt"))
    assert os.path.exists(ctr.agent("snapshots/rw/ctr1/upper/etc/written"))
    mounts = ctr.run("mounts").stdout.splitlines()[1:]
    assert len(mounts) == 1 and mounts[0].split()[:3] == ["ctr1", info["id"][7:20], "yes"]
    # the same key elsewhere is refused while mounted
    os.mkdir(os.path.join(ctr.tmp, "rw2"))
    r = ctr.run("mount", "--rw", "--key", "ctr1", reg.ref, os.path.join(ctr.tmp, "rw2"),
                check=False)
    assert r.returncode == 1 and "is mounted on" in r.stderr, r.stderr
    # a mounted image's layers stay while the image is removed
    ctr.run("rm", reg.ref)
    assert os.listdir(os.path.join(rw, "bin"))
    ctr.run("unmount", "ctr1", rw)
    assert not os.path.exists(ctr.agent("snapshots/rw/ctr1"))
    assert ctr.run("mounts").stdout.splitlines()[1:] == []

    # pulled again: nothing left, so everything is downloaded; then a second pull
    # downloads nothing (HEAD on the manifest only)
    ctr.run("gc")
    assert os.listdir(ctr.agent("content/blobs/sha256")) == []
    r = ctr.run("pull", "--progress", reg.ref)
    assert "layer 2/2" in r.stderr and "downloading" in r.stderr, r.stderr
    assert r.stderr.rstrip().endswith("done"), r.stderr
    before = reg.blob_gets()
    ctr.run("pull", reg.ref)
    assert reg.blob_gets() == before

    # by digest: found by name@digest; recorded under the digest reference
    by_digest = "%s/k1stest/busybox@%s" % (reg.host, reg.digest)
    ctr.run("pull", by_digest)
    assert by_digest in ctr.names()
    assert reg.blob_gets() == before
    ctr.run("rm", by_digest, reg.ref)
    assert ctr.names() == []
    assert os.listdir(ctr.agent("content/blobs/sha256")) == []
    assert [d for d in os.listdir(ctr.agent("snapshots")) if d != "rw"] == []


def test_pull_errors(ctr, busybox_registry):
    reg = busybox_registry
    ctr.set_registries(plain_http(reg.host))
    r = ctr.run("pull", "%s/k1stest/busybox:nope" % reg.host, check=False)
    assert r.returncode == 1
    assert "pull %s/k1stest/busybox:nope" % reg.host in r.stderr and "not found" in r.stderr
    r = ctr.run("pull", "Bad/Ref", check=False)
    assert r.returncode == 1 and "invalid image reference" in r.stderr
    # https against a plain-HTTP registry: says what to configure
    ctr.set_registries("")
    r = ctr.run("pull", reg.ref, check=False)
    assert r.returncode == 1 and "http://" in r.stderr and "registries.yaml" in r.stderr, r.stderr
    # nothing listening
    ctr.set_registries(plain_http("127.0.0.1:1"))
    r = ctr.run("pull", "127.0.0.1:1/x/y:1", check=False)
    assert r.returncode == 1 and "127.0.0.1:1" in r.stderr
    assert ctr.names() == []


def test_mirror_with_rewrite(ctr, busybox_registry):
    reg = busybox_registry
    # a registry that does not exist (nothing listens on port 1), served by the mirror
    ctr.set_registries('mirrors:\n  "127.0.0.1:1":\n    endpoint: ["http://%s"]\n'
                       '    rewrite:\n      "^mirrored/(.*)": "k1stest/$1"\n' % reg.host)
    ctr.run("pull", "127.0.0.1:1/mirrored/busybox:1")
    assert ctr.names() == ["127.0.0.1:1/mirrored/busybox:1"]
    info = json.loads(ctr.run("inspect", "127.0.0.1:1/mirrored/busybox:1").stdout)
    assert info["manifestDigest"] == reg.digest


def test_basic_auth(ctr, busybox_registry):
    tmp = tempfile.mkdtemp(prefix="k1s-authreg-")
    reg = Registry(tmp, user="edge", password="s3cret")
    try:
        reg.start()
        ref = reg.push(busybox_registry.layout, "private/busybox:1")
        ctr.set_registries(plain_http(reg.host))
        r = ctr.run("pull", ref, check=False)
        assert r.returncode == 1
        assert "401 Unauthorized (configure credentials in %s)" % ctr.reg_path in r.stderr, r.stderr
        ctr.set_registries(plain_http(reg.host, extra='configs:\n  "%s":\n    auth:\n'
                                      '      username: edge\n      password: wrong\n' % reg.host))
        r = ctr.run("pull", ref, check=False)
        assert r.returncode == 1
        assert "401 Unauthorized (check the credentials in %s)" % ctr.reg_path in r.stderr, r.stderr
        ctr.set_registries(plain_http(reg.host, extra='configs:\n  "%s":\n    auth:\n'
                                      '      username: edge\n      password: s3cret\n' % reg.host))
        ctr.run("pull", ref)
        assert ctr.names() == [ref]
        # credentials given on the command line (as imagePullSecrets would be)
        ctr.run("rm", ref)
        ctr.set_registries(plain_http(reg.host))
        ctr.run("pull", "--user", "edge:s3cret", ref)
        assert ctr.names() == [ref]
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_import_archives(ctr, busybox_registry):
    layout = busybox_registry.layout
    oci = os.path.join(ctr.tmp, "oci.tar")
    dock = os.path.join(ctr.tmp, "docker.tar")
    oci_archive(layout, oci, "k1stest/imported:oci")
    subprocess.run([SKOPEO, "copy", "--insecure-policy", "oci:%s:1" % layout,
                    "docker-archive:%s:k1stest/imported:docker" % dock], check=True,
                   capture_output=True)
    with open(dock, "rb") as f, gzip.open(dock + ".gz", "wb") as g:
        g.write(f.read())
    subprocess.run(["zstd", "-q", oci, "-o", oci + ".zst"], check=True)
    r = ctr.run("import", oci + ".zst")
    assert r.stdout.strip() == "imported docker.io/k1stest/imported:oci"
    r = ctr.run("import", dock + ".gz")
    assert r.stdout.strip() == "imported docker.io/k1stest/imported:docker"
    assert ctr.names() == ["docker.io/k1stest/imported:docker", "docker.io/k1stest/imported:oci"]
    a = json.loads(ctr.run("inspect", "k1stest/imported:oci").stdout)
    b = json.loads(ctr.run("inspect", "k1stest/imported:docker").stdout)
    # the same layers, unpacked once
    assert a["id"] == b["id"] == busybox_registry.image["config"]
    assert [l["chainID"] for l in a["layers"]] == [l["chainID"] for l in b["layers"]]
    snaps = [d for d in os.listdir(ctr.agent("snapshots")) if d != "rw"]
    assert len(snaps) == 2
    mnt = os.path.join(ctr.tmp, "m")
    os.mkdir(mnt)
    ctr.run("mount", "k1stest/imported:docker", mnt)
    ctr.mounts.append(mnt)
    assert sorted(os.listdir(os.path.join(mnt, "etc"))) == ["added.txt", "keep.txt", "owned"]
    ctr.run("unmount", "m", mnt)
    # the air-gap dir, as the agent imports it at start: new or changed files only
    ctr.run("rm", "k1stest/imported:oci", "k1stest/imported:docker")
    shutil.copy(oci + ".zst", ctr.agent("images", "airgap.tar.zst"))
    ctr.run("import")
    assert ctr.names() == ["docker.io/k1stest/imported:oci"]
    ctr.run("rm", "k1stest/imported:oci")
    ctr.run("import")
    assert ctr.names() == []
    os.utime(ctr.agent("images", "airgap.tar.zst"), (1, 1))
    ctr.run("import")
    assert ctr.names() == ["docker.io/k1stest/imported:oci"]
    # not an image archive
    bad = os.path.join(ctr.tmp, "bad.tar")
    subprocess.run(["tar", "-cf", bad, "-C", ctr.tmp, "registries.yaml"], check=True)
    r = ctr.run("import", bad, check=False)
    assert r.returncode == 1 and "not an image archive" in r.stderr


def test_repair_after_crash(ctr, busybox_registry):
    """What a kill -9 mid-pull leaves (a partial download, a half-unpacked layer, a snapshot
    the index does not name) is removed when the store is next opened."""
    reg = busybox_registry
    ctr.set_registries(plain_http(reg.host))
    ctr.run("pull", reg.ref)
    with open(ctr.agent("content/ingest", "f" * 64), "w") as f:
        f.write("partial")
    os.makedirs(ctr.agent("snapshots/tmp-abc/fs/etc"))
    os.makedirs(ctr.agent("snapshots/99/fs"))
    with open(ctr.agent("content/blobs/sha256", "e" * 64), "w") as f:
        f.write("orphan")
    assert ctr.names() == [reg.ref]
    assert os.listdir(ctr.agent("content/ingest")) == []
    assert sorted(d for d in os.listdir(ctr.agent("snapshots")) if d != "rw") == ["1", "2"]
    assert not os.path.exists(ctr.agent("content/blobs/sha256", "e" * 64))
    ctr.run("inspect", reg.ref)


def test_parallel_pulls(ctr, busybox_registry):
    """Several references at once go through the asynchronous API: the same image asked for
    twice is downloaded once, and one failing pull does not stop the others."""
    reg = busybox_registry
    ctr.set_registries(plain_http(reg.host, "127.0.0.1:1"))
    before = reg.blob_gets()
    r = ctr.run("pull", reg.ref, reg.ref, "127.0.0.1:1/x/y:1", check=False)
    assert r.returncode == 1
    assert "pull 127.0.0.1:1/x/y:1: mirror 127.0.0.1:1:" in r.stderr, r.stderr
    assert ctr.names() == [reg.ref]
    assert reg.blob_gets() - before == 3  # config and two layers
    # progress arrives on the loop, and the last report of the pull counts every byte
    ctr.run("rm", reg.ref)
    r = ctr.run("pull", "--progress", reg.ref, reg.ref)
    lines = [l for l in r.stderr.splitlines() if l.startswith(reg.ref + ": ")]
    assert any(": downloading " in l for l in lines), r.stderr
    last = lines[-1].split(": ", 1)[1]
    assert last.startswith("done ") and last.split()[1:3] == last.split()[4:6], r.stderr


@pytest.fixture
def fake_registry(busybox_registry):
    from images_util import FakeRegistry
    tmp = tempfile.mkdtemp(prefix="k1s-fakereg-")
    reg = FakeRegistry(tmp, busybox_registry.layout, busybox_registry.image)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_https_bearer_index(ctr, fake_registry):
    """HTTPS with a private CA, the bearer-token flow with basic credentials at the token
    server, and a multi-platform index resolved to this node's platform."""
    reg = fake_registry
    creds = '    auth:\n      username: edge\n      password: %s\n'
    ctr.set_registries('configs:\n  "%s":\n' % reg.host + creds % "s3cret")
    r = ctr.run("pull", reg.ref, check=False)
    assert r.returncode == 1 and "private CA set tls.ca_file" in r.stderr, r.stderr
    tls = '    tls:\n      ca_file: %s\n' % reg.cert
    ctr.set_registries('configs:\n  "%s":\n' % reg.host + creds % "wrong" + tls)
    r = ctr.run("pull", reg.ref, check=False)
    assert r.returncode == 1
    assert "token server answered 401 Unauthorized (check the credentials in %s)" % ctr.reg_path \
        in r.stderr, r.stderr
    ctr.set_registries('configs:\n  "%s":\n' % reg.host + creds % "s3cret" + tls)
    ctr.run("pull", reg.ref)
    assert ctr.names() == [reg.ref]
    info = json.loads(ctr.run("inspect", reg.ref).stdout)
    assert info["manifestDigest"] == reg.manifest  # the amd64 entry of the index
    service, scope, auth = reg.token_requests[-1]
    assert (service, scope) == ("k1s-test", "repository:k1stest/busybox:pull")
    assert auth.startswith("Basic ")
    # an identity token (OAuth2 refresh token) instead of a password
    ctr.run("rm", reg.ref)
    ctr.set_registries('configs:\n  "%s":\n    auth:\n      identitytoken: refresh-me\n'
                       % reg.host + tls)
    ctr.run("pull", reg.ref)
    assert reg.token_requests[-1] == ("k1s-test", "repository:k1stest/busybox:pull",
                                      "refresh:refresh-me")
    # insecure_skip_verify instead of the CA
    ctr.run("rm", reg.ref)
    ctr.set_registries('configs:\n  "%s":\n' % reg.host + creds % "s3cret" +
                       '    tls:\n      insecure_skip_verify: true\n')
    ctr.run("pull", reg.ref)


def test_corrupt_layer(ctr, fake_registry):
    """A layer whose content does not match its digest fails the pull and leaves nothing."""
    reg = fake_registry
    reg.corrupt.add(json.loads(open(os.path.join(
        reg.layout, "blobs", "sha256", reg.manifest[7:])).read())["layers"][1]["digest"])
    ctr.set_registries('configs:\n  "%s":\n    auth: {username: edge, password: s3cret}\n'
                       '    tls: {ca_file: %s}\n' % (reg.host, reg.cert))
    r = ctr.run("pull", reg.ref, check=False)
    assert r.returncode == 1 and "digest mismatch" in r.stderr, r.stderr
    assert ctr.names() == []
    ctr.run("gc")
    assert os.listdir(ctr.agent("content/ingest")) == []
    assert os.listdir(ctr.agent("content/blobs/sha256")) == []


def test_kill_during_pull(ctr, fake_registry):
    """k1s killed -9 in the middle of a layer download: the next use of the store removes the
    partial download, and pulling again completes."""
    reg = fake_registry
    manifest = json.loads(open(os.path.join(
        reg.layout, "blobs", "sha256", reg.manifest[7:])).read())
    big = manifest["layers"][0]["digest"]
    reg.stall.add(big)
    ctr.set_registries('configs:\n  "%s":\n    auth: {username: edge, password: s3cret}\n'
                       '    tls: {ca_file: %s}\n' % (reg.host, reg.cert))
    proc = subprocess.Popen([K1S_BIN, "ctr", "images", "pull", reg.ref, "--data-dir",
                             ctr.data_dir, "--private-registry", ctr.reg_path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ingest = ctr.agent("content/ingest", big[7:])
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if os.path.exists(ingest) and os.path.getsize(ingest) > 0:
                break
            assert proc.poll() is None, "pull ended early"
            time.sleep(0.05)
        assert os.path.getsize(ingest) > 0
    finally:
        proc.kill()
        proc.wait()
    reg.stall.clear()
    reg.release.set()
    assert ctr.names() == []
    assert os.listdir(ctr.agent("content/ingest")) == []
    ctr.run("pull", reg.ref)
    assert ctr.names() == [reg.ref]


def test_disk_full(ctr, busybox_registry):
    """A store on a filesystem that fills up mid-pull: a clear error, nothing half-written
    left behind, and the same pull works once there is room."""
    reg = busybox_registry
    os.makedirs(ctr.data_dir)
    # room for the download (1 MB), not for the unpacked layer (2 MB)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1800k", "tmpfs", ctr.data_dir], check=True)
    ctr.mounts.append(ctr.data_dir)
    ctr.set_registries(plain_http(reg.host))
    r = ctr.run("pull", reg.ref, check=False)
    assert r.returncode == 1 and "No space left on device" in r.stderr, r.stderr
    assert "unpack 'bin/busybox'" in r.stderr, r.stderr
    assert ctr.names() == []
    assert os.listdir(ctr.agent("content/ingest")) == []
    assert [d for d in os.listdir(ctr.agent("snapshots")) if d != "rw"] == []
    subprocess.run(["mount", "-o", "remount,size=16m", ctr.data_dir], check=True)
    ctr.run("pull", reg.ref)
    assert ctr.names() == [reg.ref]


def test_anonymous_bearer(ctr, busybox_registry):
    """Docker Hub's flow without credentials: an anonymous token for the pull scope."""
    from images_util import FakeRegistry
    tmp = tempfile.mkdtemp(prefix="k1s-fakereg-")
    reg = FakeRegistry(tmp, busybox_registry.layout, busybox_registry.image, anonymous=True)
    try:
        ctr.set_registries('configs:\n  "%s":\n    tls: {ca_file: %s}\n' % (reg.host, reg.cert))
        ctr.run("pull", reg.ref)
        assert ctr.names() == [reg.ref]
        assert reg.token_requests and all(auth == "" for _, _, auth in reg.token_requests)
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_moved_tag(ctr, busybox_registry):
    """Pulling a tag that now names another image replaces the record and frees what only
    the old image used (here its config), keeping the shared layers."""
    reg = busybox_registry
    other = os.path.join(ctr.tmp, "other-layout")
    img2 = build_busybox_layout(other, cmd=("httpd", "-f"))
    ref = reg.push(reg.layout, "k1stest/moving:1")
    ctr.set_registries(plain_http(reg.host))
    ctr.run("pull", ref)
    reg.push(other, "k1stest/moving:1")
    ctr.run("pull", ref)
    info = json.loads(ctr.run("inspect", ref).stdout)
    assert info["id"] == img2["config"] and info["config"]["Cmd"] == ["httpd", "-f"]
    blobs = os.listdir(ctr.agent("content/blobs/sha256"))
    assert reg.image["config"][7:] not in blobs and img2["config"][7:] in blobs
    assert len([d for d in os.listdir(ctr.agent("snapshots")) if d != "rw"]) == 2


def test_client_certificate(ctr, busybox_registry):
    """A registry that wants a client certificate (tls.cert_file and key_file)."""
    from images_util import FakeRegistry
    tmp = tempfile.mkdtemp(prefix="k1s-fakereg-")
    reg = FakeRegistry(tmp, busybox_registry.layout, busybox_registry.image, anonymous=True,
                       client_certs=True)
    try:
        base = 'configs:\n  "%s":\n    tls:\n      ca_file: %s\n' % (reg.host, reg.cert)
        ctr.set_registries(base)
        r = ctr.run("pull", reg.ref, check=False)
        assert r.returncode == 1 and "tls.cert_file" in r.stderr, r.stderr
        ctr.set_registries(base + "      cert_file: %s\n      key_file: %s\n" % (
            reg.client_cert, reg.client_key))
        ctr.run("pull", reg.ref)
        assert ctr.names() == [reg.ref]
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_registry_in_netns(ctr, busybox_registry):
    """The registry on the loopback of a network namespace the test makes (as the pod tests
    run it), pulled from inside that namespace."""
    ns = "k1s-img-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    tmp = tempfile.mkdtemp(prefix="k1s-nsreg-")
    reg = Registry(tmp, netns=ns)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        reg.start()
        ref = reg.push(busybox_registry.layout, "k1stest/busybox:ns")
        ctr.set_registries(plain_http_registries(reg.host))
        r = subprocess.run(["ip", "netns", "exec", ns, K1S_BIN, "ctr", "images", "pull", ref,
                            "--data-dir", ctr.data_dir, "--private-registry", ctr.reg_path],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert ctr.names() == [ref]
    finally:
        reg.stop()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def test_two_processes_pull_at_once(ctr, busybox_registry):
    """Two k1s processes pulling into one store at once (the agent and `k1s ctr`): the
    per-blob locks make one download what the other then uses, and the index stays whole."""
    reg = busybox_registry
    ctr.set_registries(plain_http(reg.host))
    other = reg.push(reg.layout, "k1stest/other:1")
    before = reg.blob_gets()
    procs = [subprocess.Popen([K1S_BIN, "ctr", "images", "pull", ref, "--data-dir", ctr.data_dir,
                               "--private-registry", ctr.reg_path], stderr=subprocess.PIPE,
                              text=True) for ref in (reg.ref, reg.ref, other)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert ctr.names() == sorted([reg.ref, other])
    assert reg.blob_gets() - before == 3
    assert len([d for d in os.listdir(ctr.agent("snapshots")) if d != "rw"]) == 2
    assert os.listdir(ctr.agent("content/ingest")) == []
