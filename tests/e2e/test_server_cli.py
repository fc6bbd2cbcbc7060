"""`k1s server` flags, config file, certificates reused across restarts, clear start-up errors."""
import os
import subprocess

from conftest import K1S_BIN, Server, free_port


def run(*args, timeout=20):
    return subprocess.run([K1S_BIN] + list(args), capture_output=True, text=True, timeout=timeout)


def test_help_lists_flags():
    p = run("server", "--help")
    assert p.returncode == 0
    for flag in ("--data-dir", "--bind-address", "--https-listen-port", "--write-kubeconfig",
                 "--write-kubeconfig-mode", "--tls-san", "--token", "--log-level", "--disable-agent",
                 "--config"):
        assert flag in p.stdout, flag


def test_bad_flags_are_clear():
    p = run("server", "--no-such-flag")
    assert p.returncode == 2 and "unknown flag --no-such-flag" in p.stderr
    p = run("server", "--https-listen-port", "http")
    assert p.returncode == 2 and "wants a port number" in p.stderr
    p = run("server", "--log-level", "loud")
    assert p.returncode == 2 and "--log-level" in p.stderr


def test_config_file_keys(fresh_server):
    s = fresh_server
    port = free_port()
    with open(os.path.join(s.tmp, "config.yaml"), "w") as f:
        f.write("https-listen-port: %d\ntls-san:\n  - edge.example.com\n  - 192.0.2.7\n"
                "write-kubeconfig-mode: \"0644\"\n" % port)
    s.extra_args = []
    # flags from the fixture set the port; drop them so the file's value is used
    s.port = port
    s.url = "https://127.0.0.1:%d" % port
    env_args = ["server", "--data-dir", s.data_dir, "--bind-address", "127.0.0.1",
                "--write-kubeconfig", s.kubeconfig, "--config", os.path.join(s.tmp, "config.yaml")]
    log = open(s.log_path, "ab")
    s.log = log
    s.proc = subprocess.Popen([K1S_BIN] + env_args, stdout=log, stderr=subprocess.STDOUT)
    s.wait_ready()
    crt = os.path.join(s.data_dir, "server", "tls", "serving-kube-apiserver.crt")
    text = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-text"], capture_output=True,
                          text=True).stdout
    assert "DNS:edge.example.com" in text and "IP Address:192.0.2.7" in text
    assert oct(os.stat(s.kubeconfig).st_mode & 0o777) == "0o644"
    s.stop()


def test_bad_config_file_is_clear(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("https-listen-port: 1\nnot-an-option: true\n")
    p = run("server", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert p.returncode != 0 and 'unknown option "not-an-option"' in p.stderr
    cfg.write_text("a: [\n")
    p = run("server", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert p.returncode != 0 and str(cfg) in p.stderr


def test_port_in_use(server, tmp_path):
    p = run("server", "--data-dir", str(tmp_path / "d"), "--bind-address", "127.0.0.1",
            "--https-listen-port", str(server.port), "--write-kubeconfig", str(tmp_path / "kc"),
            "--config", str(tmp_path / "none.yaml"))
    # --config given explicitly must exist
    assert p.returncode != 0
    (tmp_path / "none.yaml").write_text("")
    p = run("server", "--data-dir", str(tmp_path / "d"), "--bind-address", "127.0.0.1",
            "--https-listen-port", str(server.port), "--write-kubeconfig", str(tmp_path / "kc"),
            "--config", str(tmp_path / "none.yaml"))
    assert p.returncode != 0 and "address already in use" in p.stderr


def test_restart_reuses_pki_and_token(fresh_server):
    s = fresh_server.start()
    tls = os.path.join(s.data_dir, "server", "tls")
    ca = open(os.path.join(tls, "server-ca.crt")).read()
    token = open(os.path.join(s.data_dir, "server", "token")).read()
    s.stop()
    s.start()
    assert open(os.path.join(tls, "server-ca.crt")).read() == ca
    assert open(os.path.join(s.data_dir, "server", "token")).read() == token
    s.kubectl("get", "ns")
    s.stop()


def test_given_token_is_used(fresh_server):
    s = fresh_server
    s.extra_args = ["--token", "my-secret"]
    s.start()
    token = open(os.path.join(s.data_dir, "server", "token")).read().strip()
    assert token.startswith("K10") and token.endswith("::server:my-secret")
    s.stop()
