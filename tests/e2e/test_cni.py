"""The pod network: k1s's CNI driver with Debian's containernetworking-plugins.

Everything happens inside namespaces the test makes (see cni_util.NetEnv):
a "node" namespace where `k1s ctr net` runs, so cni0, veths and iptables
rules are made there, plus pod namespaces and a client namespace joined to
the node by a veth. Nothing leaves the machine; all namespaces are removed
afterwards, even when a test fails.
"""
import ipaddress
import os
import shutil
import signal
import subprocess
import time

import pytest

from cni_util import CNI_BIN, K1S_BIN, NetEnv

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(os.path.join(CNI_BIN, "bridge"))
    or not shutil.which("iptables") or not shutil.which("busybox"),
    reason="needs root, containernetworking-plugins, iptables and busybox")

CIDR = "10.42.0.0/24"


@pytest.fixture
def env():
    e = NetEnv()
    try:
        yield e
    finally:
        e.cleanup()


def test_two_pods_get_addresses_and_reach_each_other(env):
    p1, p2 = env.add_ns("p1"), env.add_ns("p2")
    env.k1s("config", "--pod-cidr", CIDR)
    r1 = env.add(p1, "default/a")
    r2 = env.add(p2, "default/b", "--uid", "1234-5678")
    ip1, ip2 = env.pod_ip(r1), env.pod_ip(r2)
    net = ipaddress.ip_network(CIDR)
    assert ipaddress.ip_address(ip1) in net and ipaddress.ip_address(ip2) in net
    assert ip1 != ip2
    gw = [ip["gateway"] for ip in r1["ips"]][0]
    assert gw == "10.42.0.1"
    # cni0 is the node's gateway; each pod has eth0 with its address.
    assert "inet 10.42.0.1/24" in env.sh(env.node, "ip", "addr", "show", "cni0").stdout
    assert "inet %s/24" % ip1 in env.sh(p1, "ip", "addr", "show", "eth0").stdout
    assert "UP" in env.sh(p1, "ip", "link", "show", "lo").stdout
    assert env.ipam_files() == sorted([ip1, ip2])
    # The pods reach each other and the gateway.
    assert env.ping(p1, ip2)
    assert env.ping(p2, ip1)
    assert env.ping(p1, gw)
    env.k1s("check", "--id", "default-a", "--pod", "default/a", "--netns", env.path(p1))

    # DEL removes the veth and frees the address; DEL twice is fine.
    veths = env.links(env.node).count("veth")
    env.k1s("del", "--id", "default-a", "--pod", "default/a", "--netns", env.path(p1))
    assert env.links(env.node).count("veth") == veths - 1
    assert "eth0" not in env.links(p1)
    assert env.ipam_files() == [ip2]
    assert not [f for f in env.cache_files() if "default-a" in f]
    env.k1s("del", "--id", "default-a", "--pod", "default/a", "--netns", env.path(p1))
    # A deleted attachment no longer checks out.
    p = env.k1s("check", "--id", "default-a", "--netns", env.path(p1), check=False)
    assert p.returncode == 1 and "no completed attachment" in p.stderr


def test_host_port_reaches_pod_and_del_after_restart_uses_cache(env):
    pod, client = env.add_ns("pod"), env.add_ns("client")
    # The client namespace reaches the node on 192.168.250.1 through a veth.
    run_in_node = env.sh
    run_in_node(env.node, "ip", "link", "add", "k1sc0", "type", "veth", "peer", "name", "k1sc1")
    run_in_node(env.node, "ip", "link", "set", "k1sc1", "netns", env.path(client))
    run_in_node(env.node, "ip", "addr", "add", "192.168.250.1/24", "dev", "k1sc0")
    run_in_node(env.node, "ip", "link", "set", "k1sc0", "up")
    env.sh(client, "ip", "addr", "add", "192.168.250.2/24", "dev", "k1sc1")
    env.sh(client, "ip", "link", "set", "k1sc1", "up")
    env.sh(client, "ip", "link", "set", "lo", "up")

    r = env.add(pod, "web/server", "--pod-cidr", CIDR, "--port", "18080:8080/tcp")
    ip = env.pod_ip(r)
    env.spawn(pod, "busybox", "nc", "-ll", "-p", "8080", "-e", "echo", "hello-from-pod")
    got = ""
    deadline = time.time() + 30
    while time.time() < deadline:
        p = env.sh(client, "busybox", "nc", "-w", "3", "192.168.250.1", "18080", check=False,
                   timeout=20)
        got = p.stdout
        if "hello-from-pod" in got:
            break
        time.sleep(0.2)
    assert "hello-from-pod" in got
    # The pod port itself is reachable from the node too (routing via cni0).
    assert "hello-from-pod" in env.sh(env.node, "busybox", "nc", "-w", "3", ip, "8080").stdout
    # Hairpin: the pod reaches itself through its hostPort on the gateway.
    assert "hello-from-pod" in env.sh(pod, "busybox", "nc", "-w", "3", "10.42.0.1",
                                      "18080").stdout
    rules = env.sh(env.node, "iptables-save", "-t", "nat").stdout
    assert "web-server" in rules and "--dport 18080" in rules
    assert env.k1s("ls").stdout.split()[2:] == ["web-server", ip]
    # Adding the same sandbox again is refused and leaves it working.
    p = env.add(pod, "web/server", check=False)
    assert p.returncode == 1 and "already attached" in p.stderr, p.stderr
    assert "hello-from-pod" in env.sh(env.node, "busybox", "nc", "-w", "3", ip, "8080").stdout

    # A new process (every `k1s ctr` call is one, as after an agent restart)
    # deletes with only the id: netns, ports and prevResult come from the
    # cache, so the DNAT rules and the masquerade chain go too.
    env.k1s("del", "--id", "web-server")
    rules = env.sh(env.node, "iptables-save", "-t", "nat").stdout
    assert "web-server" not in rules, rules
    assert "eth0" not in env.links(pod)
    assert env.ipam_files() == []
    assert env.cache_files() == []
    env.k1s("del", "--id", "web-server")


def test_failed_add_rolls_back_and_pod_cidr_change(env):
    a, b, c = env.add_ns("a"), env.add_ns("b"), env.add_ns("c")
    env.k1s("config", "--pod-cidr", CIDR)
    ra = env.add(a, "default/a")
    ip_a = env.pod_ip(ra)
    # The node's podCIDR changes to a /30: room for one pod (.2; .1 is cni0).
    env.k1s("config", "--pod-cidr", "10.42.5.0/30")
    rb = env.add(b, "default/b")
    assert env.pod_ip(rb) == "10.42.5.2"
    assert "inet 10.42.5.1/30" in env.sh(env.node, "ip", "addr", "show", "cni0").stdout
    assert env.ping(b, "10.42.5.1")
    # The range is full: a clear error naming the plugin and pod, and
    # nothing left behind for it.
    p = env.add(c, "default/c", check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("k1s: CNI bridge ADD for pod default/c: "), p.stderr
    assert "no IP addresses available" in p.stderr, p.stderr
    assert "eth0" not in env.links(c)
    assert not [f for f in env.cache_files() if "default-c" in f]
    assert sorted(env.ipam_files()) == sorted([ip_a, "10.42.5.2"])
    # The first pod is deleted with the config it was added with.
    env.k1s("del", "--id", "default-a")
    assert env.ipam_files() == ["10.42.5.2"]
    assert "eth0" not in env.links(a)
    # Plugins that are not there are named, with where they were looked for.
    p = env.add(c, "default/c", "--cni-bin-dir", "/nonexistent/cni", check=False)
    assert p.returncode == 1
    assert ('CNI loopback ADD for pod default/c: plugin "loopback" not found in '
            "/nonexistent/cni (install containernetworking-plugins") in p.stderr, p.stderr
    # A netns path that does not exist is reported as such.
    p = env.add(c, "default/c", netns="/run/netns/%s-nope" % env.prefix, check=False)
    assert p.returncode == 1 and "CNI loopback ADD for pod default/c" in p.stderr, p.stderr


def test_named_netns_lifecycle(env):
    env.k1s("config", "--pod-cidr", CIDR)
    d = env.netns_dir
    path = env.k1s("netns", "add", "--netns-dir", d, enter="nsenter").stdout.strip()
    assert os.path.dirname(path) == d and os.path.basename(path).startswith("cni-")
    with open("/proc/self/mountinfo") as f:
        assert " %s " % path in f.read()
    # A fresh namespace: only lo, and not the node's.
    links = os.popen("nsenter --net=%s ip -o link" % path).read()
    assert links.startswith("1: lo:") and links.count("\n") == 1, links
    assert env.k1s("netns", "ls", "--netns-dir", d).stdout.split() == [os.path.basename(path)]
    # Usable as a pod's namespace.
    r = env.add(None, "default/pinned", netns=path)
    gw = r["ips"][0]["gateway"]
    assert os.system("nsenter --net=%s busybox ping -c 3 -w 10 %s >/dev/null" % (path, gw)) == 0
    env.k1s("del", "--id", "default-pinned")
    env.k1s("netns", "rm", path, enter="nsenter")
    assert not os.path.exists(path)
    with open("/proc/self/mountinfo") as f:
        assert " %s " % path not in f.read()
    env.k1s("netns", "rm", path, enter="nsenter")  # idempotent
    # clean removes leftovers; a name that exists is refused.
    p1 = env.k1s("netns", "add", "--netns-dir", d, "x1", enter="nsenter").stdout.strip()
    p = env.k1s("netns", "add", "--netns-dir", d, "x1", enter="nsenter", check=False)
    assert p.returncode == 1 and "File exists" in p.stderr
    assert env.k1s("netns", "clean", "--netns-dir", d, enter="nsenter").stdout.strip() == "removed 1"
    assert not os.path.exists(p1)


def test_del_cleans_up_after_agent_killed_mid_add(env):
    """The agent is killed -9 while portmap runs: the veth and the address
    are in place but ADD never finished. DEL with just the id, from a new
    process, finds the half-made attachment in the cache and removes it."""
    pod = env.add_ns("pod")
    env.k1s("config", "--pod-cidr", CIDR)
    bin_dir = os.path.join(env.tmp, "bin")
    os.makedirs(bin_dir)
    for p in ("bridge", "host-local", "loopback"):
        os.symlink(os.path.join(CNI_BIN, p), os.path.join(bin_dir, p))
    with open(os.path.join(bin_dir, "portmap"), "w") as f:
        f.write("#!/bin/sh\nexec sleep 60\n")
    os.chmod(os.path.join(bin_dir, "portmap"), 0o755)
    proc = subprocess.Popen(
        ["ip", "netns", "exec", env.node, K1S_BIN, "ctr", "net", "add", "--id", "half",
         "--pod", "default/half", "--netns", env.path(pod), "--port", "18081:80",
         "--cni-bin-dir", bin_dir, "--data-dir", env.data_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not ("eth0" in env.links(pod) and env.ipam_files()):
            assert proc.poll() is None, "k1s ctr net add exited early"
            time.sleep(0.1)
        assert "eth0" in env.links(pod)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # k1s and the stuck portmap
        proc.wait()
    assert len(env.ipam_files()) == 1
    assert "cbr0-half-eth0" in env.cache_files()
    assert "(incomplete" in env.k1s("ls").stdout
    env.k1s("del", "--id", "half")
    assert "eth0" not in env.links(pod)
    assert env.ipam_files() == []
    assert env.cache_files() == []
    assert "half" not in env.sh(env.node, "iptables-save", "-t", "nat").stdout


def test_dual_stack_pod_cidrs(env):
    pod = env.add_ns("pod")
    r = env.add(pod, "default/ds", "--pod-cidr", "10.42.0.0/24,fd00:42::/64")
    addrs = sorted(ip["address"] for ip in r["ips"])
    assert addrs == ["10.42.0.2/24", "fd00:42::2/64"], r
    assert "default via fd00:42::1" in env.sh(pod, "ip", "-6", "route").stdout
    assert env.ping(pod, "fd00:42::1")
    assert env.ipam_files() == ["10.42.0.2", "fd00:42::2"]
    env.k1s("del", "--id", "default-ds")
    assert env.ipam_files() == []
