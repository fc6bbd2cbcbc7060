"""A test kubelet for the streaming tests: tests/e2e/fixtures/kubelet.c (the real kubelet API
server of src/agent over a backend where a container is a directory and a host process), built
against build/asan/libk1s.a, plus helpers to give it pods.

A pod ns/name with uid U is <root>/<ns>_<name>_<U>/<container>/ holding the CRI log files
(0.log, 1.log after a restart, ...), a file "running" while the container runs, and optionally
FIFOs attach.in/attach.out for attach. Commands run by exec see a PATH of busybox applets.
"""
import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "tests", "e2e", "fixtures", "kubelet.c")
LIB = os.path.join(ROOT, "build", "asan", "libk1s.a")
BIN = os.path.join(ROOT, "build", "asan", "fixtures", "kubelet")
PKGS = ["libevent_core", "libevent_extra", "libevent_openssl", "libevent_pthreads", "openssl",
        "jansson", "yaml-0.1", "sqlite3", "zlib", "libnghttp2"]
APPLETS = ["sh", "cat", "echo", "tar", "ls", "sleep", "tty", "stty", "test", "mkdir", "rm",
           "head", "wc", "true", "env", "printf", "seq"]


def build():
    """Builds the fixture if it is missing or older than its source or the library."""
    if os.path.exists(BIN) and os.path.getmtime(BIN) >= max(os.path.getmtime(SRC),
                                                            os.path.getmtime(LIB)):
        return BIN
    os.makedirs(os.path.dirname(BIN), exist_ok=True)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs"] + PKGS, check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-std=c17", "-D_GNU_SOURCE", "-I" + os.path.join(ROOT, "src"), "-g",
                    "-O1", "-fsanitize=address,undefined", "-o", BIN, SRC, LIB] + flags +
                   ["-lpthread", "-lm", "-lutil"], check=True)
    return BIN


class FixtureKubelet:
    def __init__(self, server, san="127.0.0.1"):
        self.server = server
        self.san = san
        self.tmp = tempfile.mkdtemp(prefix="k1s-kubelet-")
        self.root = os.path.join(self.tmp, "pods")
        os.makedirs(self.root)
        self.bin_dir = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin_dir)
        for a in APPLETS:
            os.symlink("/usr/bin/busybox", os.path.join(self.bin_dir, a))
        self.proc = None
        self.port = None

    def start(self):
        env = dict(os.environ)
        env["K1S_FIXTURE_PATH"] = self.bin_dir
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        tls = os.path.join(self.server.data_dir, "server", "tls")
        args = [build(), "--tls-dir", tls, "--root", self.root, "--node", "stream",
                "--api-port", str(self.server.port), "--san", self.san]
        if self.port:
            args += ["--port", str(self.port)]
        self.log = open(os.path.join(self.tmp, "kubelet.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("port "), "fixture kubelet did not start: %r %s" % (
            line, self.read_log())
        self.port = int(line.split()[1])
        return self

    def read_log(self):
        try:
            with open(os.path.join(self.tmp, "kubelet.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        log = self.read_log()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return log

    def container_dir(self, ns, pod, uid, ctr):
        d = os.path.join(self.root, "%s_%s_%s" % (ns, pod, uid), ctr)
        os.makedirs(d, exist_ok=True)
        return d


def client_cert(server, tmp, user, groups=()):
    """A client certificate for user (and groups) from the cluster's client CA: (cert, key)."""
    tls = os.path.join(server.data_dir, "server", "tls")
    key, csr, crt = (os.path.join(tmp, user + ext) for ext in (".key", ".csr", ".crt"))
    subj = "".join("/O=" + g for g in groups) + "/CN=" + user
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", subj], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(tls, "client-ca.crt"),
                    "-CAkey", os.path.join(tls, "client-ca.key"), "-CAcreateserial", "-out", crt,
                    "-days", "1"], check=True, capture_output=True)
    return crt, key


def cri_line(msg, stream="stdout", partial=False, t=None):
    t = time.time() if t is None else t
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%09dZ" % int((t % 1) * 1e9)
    return "%s %s %s %s\n" % (ts, stream, "P" if partial else "F", msg)
