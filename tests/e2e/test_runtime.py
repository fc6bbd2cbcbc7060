"""The container runtime: `k1s ctr run` starts a `k1s shim` per container that runs runc,
writes the CRI log and records the exit; the containers outlive the process that started
them. Every container, cgroup and network namespace the tests make is removed afterwards."""
import os
import re
import secrets
import signal
import subprocess
import threading
import time

import pytest

from helpers import wait_for
from runtime_util import Ctr, build_busybox_rootfs

CRI_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) (stdout|stderr) ([FP]) (.*)$")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    return build_busybox_rootfs(str(tmp_path_factory.mktemp("rootfs")))


@pytest.fixture
def ctr(tmp_path):
    c = Ctr(str(tmp_path))
    try:
        yield c
    finally:
        c.cleanup()
    assert c.leftover_cgroups() == []


def records(path):
    out = []
    with open(path) as f:
        for line in f:
            m = CRI_LINE.match(line.rstrip("\n"))
            assert m, "not a CRI log line: %r" % line
            out.append((m.group(2), m.group(3), m.group(4)))
    return out


def test_run_writes_cri_log_and_exit_code(ctr, rootfs):
    p = ctr.run(rootfs, "hello", "sh", "-c", "echo out; echo err >&2; echo more", wait=True)
    assert p.returncode == 0
    recs = records(ctr.log_path("hello"))
    assert ("stdout", "F", "out") in recs and ("stdout", "F", "more") in recs
    assert ("stderr", "F", "err") in recs
    st = ctr.inspect("hello")
    assert st["state"] == "exited" and st["exitCode"] == 0 and st["reason"] == "Completed"
    assert st["startedAt"] <= st["finishedAt"]
    logs = ctr.run_cmd("logs", "hello")
    assert logs.stdout == "out\nmore\n" and logs.stderr == "err\n"
    ctr.run_cmd("rm", "hello")
    assert ctr.ps() == []


def test_exit_code_recorded(ctr, rootfs):
    p = ctr.run(rootfs, "three", "sh", "-c", "exit 3", wait=True, check=False)
    assert p.returncode == 3
    st = ctr.inspect("three")
    assert st["exitCode"] == 3 and st["reason"] == "Error"


def test_long_lines_split_into_partial_records(ctr, rootfs):
    # 40000 bytes then a newline, then an unterminated tail at exit.
    ctr.run(rootfs, "long", "sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; printf tail",
            wait=True)
    recs = records(ctr.log_path("long"))
    assert [(s, t, len(m)) for s, t, m in recs] == [
        ("stdout", "P", 16384), ("stdout", "P", 16384), ("stdout", "F", 40000 - 2 * 16384),
        ("stdout", "P", 4)]
    assert recs[-1][2] == "tail"
    assert ctr.run_cmd("logs", "long").stdout == "a" * 40000 + "\ntail"


def test_log_rotation(ctr, rootfs):
    ctr.run(rootfs, "rot", "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done",
            opts=["--log-max-size", "2000", "--log-max-files", "3"], wait=True)
    path = ctr.log_path("rot")
    assert os.path.exists(path + ".1") and os.path.exists(path + ".2")
    assert not os.path.exists(path + ".3")
    for f in (path, path + ".1", path + ".2"):
        assert os.path.getsize(f) <= 2000
    assert records(path)[-1] == ("stdout", "F", "line-199")
    # The files hold consecutive lines: .2 older than .1 older than the current one.
    older = [int(m[5:]) for _, _, m in records(path + ".2") + records(path + ".1") + records(path)]
    assert older == list(range(older[0], 200))


def test_logs_follow_across_rotation(ctr, rootfs):
    ctr.run(rootfs, "chatty", "sh", "-c",
            "echo first; read x; i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done",
            opts=["--stdin", "--log-max-size", "1500", "--log-max-files", "5"])
    wait_for(lambda: os.path.exists(ctr.log_path("chatty")) and
             ("stdout", "F", "first") in records(ctr.log_path("chatty")), timeout=30,
             what="first line")
    follower = ctr.popen("logs", "--follow", "chatty")
    time.sleep(0.5)
    assert follower.poll() is None
    # Let the container go on (through an attach's stdin), writing past two rotations.
    att = ctr.popen("attach", "chatty", stdin=True)
    att.stdin.write("go\n")
    att.stdin.flush()
    out, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0
    assert out.splitlines() == ["first"] + ["line-%d" % i for i in range(100)]
    assert att.wait(timeout=30) == 0


def test_start_error_is_reported(ctr, rootfs):
    p = ctr.run(rootfs, "bad", "nosuch", check=False)
    assert p.returncode != 0
    assert 'exec: "nosuch": executable file not found in $PATH' in p.stderr
    st = ctr.inspect("bad")
    assert st["state"] == "exited" and st["reason"] == "StartError"
    assert "nosuch" in st["message"]


def test_container_outlives_its_starter_and_is_readopted(ctr, rootfs):
    starter = ctr.popen("run", "--rootfs", rootfs, "--id", "survivor", "--cgroups-path",
                        ctr.cgroup_parent + "/survivor", "--wait", "--", "sh", "-c",
                        "echo started; exec sleep 1000")

    def running():
        sts = [s for s in ctr.ps() if s["id"] == "survivor"]
        return sts and sts[0]["state"] == "running" and sts[0]
    st = wait_for(running, timeout=30, what="container running")
    starter.send_signal(signal.SIGKILL)
    starter.wait()
    # The container keeps running; a new process sees it, execs in it, and hears its exit.
    time.sleep(0.2)
    st2 = ctr.inspect("survivor")
    assert st2["state"] == "running" and st2["pid"] == st["pid"]
    os.kill(st["pid"], 0)
    waiter = ctr.popen("wait", "survivor")
    time.sleep(0.3)
    assert waiter.poll() is None
    ctr.run_cmd("kill", "--signal", "KILL", "survivor")
    assert waiter.wait(timeout=30) == 137
    st3 = ctr.inspect("survivor")
    assert st3["state"] == "exited" and st3["exitCode"] == 137 and st3["signal"] == 9
    assert ("stdout", "F", "started") in records(ctr.log_path("survivor"))


def test_stop_sends_term_then_kill_after_grace(ctr, rootfs):
    ctr.run(rootfs, "stubborn", "sh", "-c",
            "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.2; done")
    wait_for(lambda: ("stdout", "F", "ready") in records(ctr.log_path("stubborn")), timeout=30,
             what="trap installed")
    ctr.run_cmd("stop", "--timeout", "2", "stubborn")
    st = ctr.inspect("stubborn")
    assert st["state"] == "exited" and st["exitCode"] == 137 and st["signal"] == 9
    assert ("stdout", "F", "got TERM") in records(ctr.log_path("stubborn"))

    # A process that exits on TERM is not killed.
    ctr.run(rootfs, "polite", "sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.2; done")
    wait_for(lambda: ("stdout", "F", "ready") in records(ctr.log_path("polite")), timeout=30,
             what="trap installed")
    ctr.run_cmd("stop", "--timeout", "30", "polite")
    st = ctr.inspect("polite")
    assert st["exitCode"] == 0 and st["reason"] == "Completed"


def test_exec(ctr, rootfs):
    ctr.run(rootfs, "box", "sleep", "1000", opts=["--env", "GREETING=hello"])
    p = ctr.run_cmd("exec", "box", "--", "sh", "-c", "echo $GREETING from exec; echo oops >&2; exit 7",
                    check=False)
    assert p.returncode == 7
    assert p.stdout == "hello from exec\n" and p.stderr == "oops\n"
    p = ctr.run_cmd("exec", "box", "--", "cat", input="piped stdin\n")
    assert p.stdout == "piped stdin\n"
    p = ctr.run_cmd("exec", "box", "--", "nosuch", check=False)
    assert p.returncode != 0 and "nosuch" in p.stderr
    # Stats from the container's cgroup.
    row = ctr.run_cmd("stats", "box").stdout.splitlines()[1].split()
    assert row[0] == "box" and int(row[2]) > 0 and int(row[4]) >= 1
    # A timeout kills the command (exec probes).
    p = ctr.run_cmd("exec", "--timeout", "0.5", "box", "--", "sleep", "60", check=False)
    assert p.returncode == 126 and "timed out" in p.stderr
    ctr.run_cmd("rm", "-f", "box")
    p = ctr.run_cmd("exec", "box", "--", "true", check=False)
    assert p.returncode != 0 and "not found" in p.stderr


def test_memory_limit_oom_killed(ctr, rootfs):
    p = ctr.run(rootfs, "hog", "sh", "-c", "tail /dev/zero", opts=["--memory", "16m"], wait=True,
                check=False, timeout=120)
    assert p.returncode == 137
    st = ctr.inspect("hog")
    assert st["reason"] == "OOMKilled" and st["exitCode"] == 137


def test_read_only_rootfs(ctr, rootfs):
    p = ctr.run(rootfs, "ro", "sh", "-c", "touch /newfile", opts=["--read-only"], wait=True,
                check=False)
    assert p.returncode != 0
    assert any("Read-only file system" in m for _, _, m in records(ctr.log_path("ro")))
    assert not os.path.exists(os.path.join(rootfs, "newfile"))
    # /dev/shm and the like stay writable.
    ctr.run(rootfs, "ro2", "sh", "-c", "touch /dev/shm/x", opts=["--read-only"], wait=True)


def test_network_namespaces(ctr, rootfs):
    # Default: a new, empty network namespace (only lo).
    ctr.run(rootfs, "net0", "cat", "/proc/net/dev", wait=True)
    ifaces = [m.split(":")[0].strip() for _, _, m in records(ctr.log_path("net0")) if ":" in m]
    assert ifaces == ["lo"]
    # One the test made: the container sees the veth pair made inside it.
    name = "k1s-rt-" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "k1sveth0", "type", "veth", "peer", "name",
                        "k1sveth1"], check=True)
        ctr.run(rootfs, "net1", "cat", "/proc/net/dev", opts=["--netns", "/var/run/netns/" + name],
                wait=True)
        ifaces = [m.split(":")[0].strip() for _, _, m in records(ctr.log_path("net1")) if ":" in m]
        assert sorted(ifaces) == ["k1sveth0", "k1sveth1", "lo"]
    finally:
        subprocess.run(["ip", "netns", "delete", name])


def test_terminal_exec_and_attach(ctr, rootfs):
    # A container with a terminal: its output reaches the log through the pty.
    ctr.run(rootfs, "tty", "sh", "-c", "tty; echo on-a-tty", opts=["--tty"], wait=True)
    texts = [m.rstrip("\r") for _, _, m in records(ctr.log_path("tty"))]
    assert texts[0].startswith("/dev/pts/") and "on-a-tty" in texts

    ctr.run(rootfs, "talk", "sh", "-c", "echo ready; while read l; do echo got $l; done; echo bye",
            opts=["--stdin"])
    # exec with a terminal: the process sees a pty; the exit code comes back.
    p = ctr.run_cmd("exec", "-t", "talk", "--", "sh", "-c", "tty; exit 4", check=False,
                    input="")
    assert p.returncode == 4 and p.stdout.startswith("/dev/pts/")
    # attach: input goes to the container's stdin, its output comes back.
    wait_for(lambda: ("stdout", "F", "ready") in records(ctr.log_path("talk")), timeout=30,
             what="container ready")
    att = ctr.popen("attach", "talk", stdin=True)
    att.stdin.write("hello\n")
    att.stdin.flush()
    got = []
    reader = threading.Thread(target=lambda: got.append(att.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert got == ["got hello\n"]
    att.stdin.close()
    ctr.run_cmd("kill", "--signal", "KILL", "talk")
    assert att.wait(timeout=30) == 137
    assert ("stdout", "F", "got hello") in records(ctr.log_path("talk"))


def test_shim_death_is_reported_and_cleaned_up(ctr, rootfs):
    ctr.run(rootfs, "orphan", "sleep", "1000")
    st = ctr.inspect("orphan")
    shim_pid = json_status(ctr, "orphan")["shimPid"]
    os.kill(shim_pid, signal.SIGKILL)
    wait_for(lambda: ctr.inspect("orphan")["state"] == "exited", timeout=30, what="reported exited")
    st2 = ctr.inspect("orphan")
    assert st2["exitCode"] == 255 and st2["reason"] == "Unknown"
    # The container itself outlived its shim; removing it kills it (runc delete --force).
    os.kill(st["pid"], 0)
    ctr.run_cmd("rm", "orphan")
    wait_for(lambda: not pid_alive(st["pid"]), timeout=30, what="container process gone")
    assert ctr.ps() == []


def mappings(pid):
    """(path, perms, Rss kB) of each file mapping of a process, from its smaps."""
    out, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                cur = [parts[5] if len(parts) > 5 else "", parts[1], 0]
                out.append(cur)
            elif parts[0] == "Rss:":
                cur[2] = int(parts[1])
    return out


def test_shim_maps_no_image_libraries_and_releases_startup_pages(ctr, rootfs):
    """libcurl and libarchive are loaded only to pull and unpack images: a shim never maps
    them. Once its container runs, the shim unmaps the libraries its code never calls
    (OpenSSL, SQLite, libevent, ...), gives back the clean file pages start-up touched, and
    goes on logging, exec'ing and recording the exit."""
    ctr.run(rootfs, "lean", "sh", "-c",
            "i=0; while [ $i -lt 600 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done")
    shim_pid = json_status(ctr, "lean")["shimPid"]
    wait_for(lambda: len(records(ctr.log_path("lean"))) >= 3, timeout=30, what="ticks")
    maps = mappings(shim_pid)
    libs = {os.path.basename(m[0]) for m in maps}
    assert not [n for n in libs if n.startswith(("libcurl", "libarchive", "libgnutls"))], libs
    unused = ("libcrypto", "libssl", "libsqlite3", "libevent", "libnghttp2", "libyaml", "libz")

    def libraries():
        return {os.path.basename(m[0]) for m in mappings(shim_pid) if ".so" in m[0]}
    wait_for(lambda: not [n for n in libraries() if n.startswith(unused)], timeout=30,
             what="unused libraries unmapped")
    kept = libraries()
    assert [n for n in kept if n.startswith("libc.so")], kept
    assert [n for n in kept if n.startswith("libjansson")], kept

    def released(*names):
        text = [m for m in mappings(shim_pid) if m[1] == "r-xp" and
                os.path.basename(m[0]).startswith(names)]
        assert len(text) == len(names), text
        return all(m[2] == 0 for m in text)
    # It still works: the log goes on, exec runs, the exit is recorded.
    n = len(records(ctr.log_path("lean")))
    wait_for(lambda: len(records(ctr.log_path("lean"))) > n + 2, timeout=30, what="more ticks")
    p = ctr.run_cmd("exec", "lean", "--", "sh", "-c", "echo from exec; exit 5", check=False)
    assert p.returncode == 5 and p.stdout == "from exec\n"
    # Serving the exec parsed JSON with jansson; once idle again (just after it answered) the
    # shim lets that go too.
    wait_for(lambda: released("libjansson"), timeout=30, what="exec's pages released")
    ctr.run_cmd("kill", "--signal", "KILL", "lean")
    wait_for(lambda: ctr.inspect("lean")["state"] == "exited", timeout=30, what="exit recorded")
    assert ctr.inspect("lean")["exitCode"] == 137
    ctr.run_cmd("rm", "lean")


def json_status(ctr, cid):
    import json
    with open(os.path.join(ctr.data_dir, "agent", "containers", cid, "status.json")) as f:
        return json.load(f)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def status_fields(ctr, cid):
    fields = {}
    for _, _, m in records(ctr.log_path(cid)):
        if ":" in m:
            k, v = m.split(":", 1)
            fields[k] = v.strip()
    return fields


def test_security_settings_reach_the_process(ctr, rootfs):
    show = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp|Uid|Gid):' /proc/self/status"
    # containerd's default capability set, no seccomp filter, may gain privileges.
    ctr.run(rootfs, "plain", "sh", "-c", show, wait=True)
    f = status_fields(ctr, "plain")
    assert f["CapEff"] == "00000000a80425fb" and f["Seccomp"] == "0" and f["NoNewPrivs"] == "0"
    # RuntimeDefault seccomp and allowPrivilegeEscalation: false; the profile refuses
    # unshare (it needs CAP_SYS_ADMIN), which the default capabilities otherwise allow.
    ctr.run(rootfs, "strict", "sh", "-c", show + "; unshare -U true || echo refused",
            opts=["--seccomp", "--no-new-privileges"], wait=True)
    f = status_fields(ctr, "strict")
    assert f["Seccomp"] == "2" and f["NoNewPrivs"] == "1"
    assert ("stdout", "F", "refused") in records(ctr.log_path("strict"))
    # A user, no capabilities but one.
    ctr.run(rootfs, "user", "sh", "-c", show,
            opts=["--user", "65534:65534", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
            wait=True)
    f = status_fields(ctr, "user")
    assert f["Uid"].split()[0] == "65534" and f["Gid"].split()[0] == "65534"
    assert f["CapBnd"] == "%016x" % (1 << 10)
    # Privileged: every capability the host allows, the host's devices.
    ctr.run(rootfs, "priv", "sh", "-c", show + "; ls /dev | wc -l", opts=["--privileged"],
            wait=True)
    f = status_fields(ctr, "priv")
    with open("/proc/self/status") as st:
        host_bnd = [l.split()[1] for l in st if l.startswith("CapBnd:")][0]
    assert f["CapEff"] == host_bnd and f["Seccomp"] == "0"
    ndev = int(records(ctr.log_path("priv"))[-1][2])
    assert ndev > 20
