"""Helpers for the node agent tests: a `k1s agent` process of its own."""
import os
import signal
import subprocess
import time

from conftest import K1S_BIN


class Agent:
    """A running `k1s agent` with its own data directory and log."""

    count = 0

    def __init__(self, tmp, server_url, token, name, data_dir=None, extra=()):
        self.tmp = tmp
        self.server_url = server_url
        self.token = token
        self.name = name
        self.data_dir = data_dir or os.path.join(tmp, "agent-" + name)
        Agent.count += 1
        self.log_path = os.path.join(tmp, "agent-%s-%d.log" % (name, Agent.count))
        self.extra = list(extra)
        self.proc = None
        self.log = None

    def args(self):
        cfg = os.path.join(self.tmp, "agent-config.yaml")
        if not os.path.exists(cfg):
            open(cfg, "w").close()
        a = [K1S_BIN, "agent", "--config", cfg, "--server", self.server_url,
             "--node-name", self.name, "--data-dir", self.data_dir]
        if self.token is not None:
            a += ["--token", self.token]
        return a + self.extra

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        for k in ("K1S_URL", "K1S_TOKEN", "K1S_NODE_NAME"):
            env.pop(k, None)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self

    def run(self, timeout=30):
        """Runs to completion (for refusals); returns (returncode, log text)."""
        self.start()
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        return self.proc.returncode, self.read_log()

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=60, count=1):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.read_log().count(text) >= count:
                return
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("agent log has no %r:\n%s" % (text, self.read_log()[-5000:]))

    def stop(self, sig=signal.SIGTERM, check=True):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        rc = self.proc.returncode
        self.proc = None
        if check and sig == signal.SIGTERM:
            log = self.read_log()
            assert "AddressSanitizer" not in log and "runtime error:" not in log, log[-5000:]
            assert rc == 0, "k1s agent exited with %d:\n%s" % (rc, log[-5000:])


def server_token(server):
    with open(os.path.join(server.data_dir, "server", "token")) as f:
        return f.read().strip()
