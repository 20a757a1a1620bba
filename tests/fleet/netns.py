"""Hosts on one machine: a network namespace per host, a veth pair each, on a bridge in the test's namespace.

Addresses come from 198.18.0.0/24 (the benchmarking range, never a real LAN). The bridge itself gets .254 so the
test process reaches every host; cutting a host's link (`ip link set <veth> down`) partitions it from all others.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field

SUBNET = "198.18.0"
BRIDGE_ADDRESS = f"{SUBNET}.254"


def ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(argv)}: {result.stderr.strip()}")
    return result


def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "iproute2 is not installed (apt-get install iproute2)"
    probe = f"realm-probe-{os.getpid()}"
    if ip("netns", "add", probe, check=False).returncode != 0:
        return "this kernel/container does not allow `ip netns add`"
    ip("netns", "delete", probe, check=False)
    return None


@dataclass
class Host:
    name: str  # also the namespace name
    address: str
    veth: str  # the bridge-side end; down = the host is cut off

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]


@dataclass
class NetnsFleet:
    hosts: dict[str, Host] = field(default_factory=dict)
    bridge: str = ""

    def cut(self, host: str) -> None:
        ip("link", "set", self.hosts[host].veth, "down")

    def restore(self, host: str) -> None:
        ip("link", "set", self.hosts[host].veth, "up")

    def remove(self) -> list[str]:
        """Delete every namespace and link this fleet made; returns what could not be removed."""
        leftovers = []
        for host in self.hosts.values():
            ip("link", "delete", host.veth, check=False)  # deletes both ends of the pair
            if ip("netns", "delete", host.name, check=False).returncode != 0 and host.name in namespaces():
                leftovers.append(host.name)
        if self.bridge:
            ip("link", "delete", self.bridge, check=False)
        leftovers += [link for link in [*(h.veth for h in self.hosts.values()), self.bridge] if link and link_exists(link)]
        return leftovers


def namespaces() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()}


def link_exists(name: str) -> bool:
    return ip("link", "show", name, check=False).returncode == 0


def create(names: list[str], tag: str, attach: dict[str, int] | None = None) -> NetnsFleet:
    """Namespaces named after the hosts; links named with `tag` so parallel runs do not collide.

    `attach` maps a host to a process (a container started with no network) whose namespace becomes that
    host's, instead of a new one."""
    attach = attach or {}
    clashing = set(names) & namespaces()
    if clashing:
        raise RuntimeError(f"network namespaces already exist: {sorted(clashing)} (a previous run left them?)")
    fleet = NetnsFleet(bridge=f"rb{tag}")
    try:
        ip("link", "add", fleet.bridge, "type", "bridge")
        ip("addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", fleet.bridge)
        ip("link", "set", fleet.bridge, "up")
        for index, name in enumerate(names, start=1):
            host = Host(name, f"{SUBNET}.{index}", f"rv{tag}{index}")
            fleet.hosts[name] = host
            if name in attach:
                ip("netns", "attach", name, str(attach[name]))
            else:
                ip("netns", "add", name)
            ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", name)
            ip("link", "set", host.veth, "master", fleet.bridge)
            ip("link", "set", host.veth, "up")
            ip("-n", name, "addr", "add", f"{host.address}/24", "dev", "eth0")
            ip("-n", name, "link", "set", "eth0", "up")
            ip("-n", name, "link", "set", "lo", "up")
    except Exception:
        fleet.remove()
        raise
    return fleet
