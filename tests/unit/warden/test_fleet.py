import asyncio
from dataclasses import dataclass

import pytest

from services.kit.config import HostSpec, ServiceEndpoint
from services.kit.errors import NotFound
from services.warden.fleet import DEGRADED, OFFLINE, ONLINE, FleetMonitor, rollup


@dataclass
class FakeProbeResult:
    state: str
    latency_ms: float = 1.0
    error: str = ""


def endpoint(name, host="a"):
    return ServiceEndpoint(name, host, "127.0.0.1", "127.0.0.1", 1, None, (), True)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["SERVING", "SERVING"], ONLINE),
        (["SERVING", "NOT_SERVING"], DEGRADED),
        (["SERVING", "UNREACHABLE"], DEGRADED),
        (["UNREACHABLE", "NOT_SERVING"], OFFLINE),
        ([], OFFLINE),
    ],
)
def test_rollup(states, expected):
    assert rollup(states) == expected


async def test_monitor_tracks_changes_and_wakes_watchers():
    states = {"vault": "SERVING", "trainer": "SERVING", "inference": "UNREACHABLE"}
    monitor = FleetMonitor(
        hosts={"a": HostSpec("a", "127.0.0.1", ("storage",)), "b": HostSpec("b", "127.0.0.1", ("inference",))},
        services={"vault": endpoint("vault"), "trainer": endpoint("trainer"), "inference": endpoint("inference", "b")},
        probe=lambda ep, timeout: FakeProbeResult(states[ep.name]),
        interval=3600,
    )
    await monitor.start()
    try:
        status = monitor.status()
        assert status.state == DEGRADED and status.serving == 2 and status.total == 3
        assert monitor.host("a").state == ONLINE and monitor.host("b").state == OFFLINE
        with pytest.raises(NotFound):
            monitor.host("c")

        waiter = asyncio.create_task(monitor.wait_for_change(status.version))
        await monitor.refresh()  # nothing changed: the watcher keeps waiting
        await asyncio.sleep(0.01)
        assert not waiter.done()
        states["inference"] = "SERVING"
        await monitor.refresh()
        changed = await asyncio.wait_for(waiter, 1)
        assert changed.state == ONLINE and changed.version == status.version + 1
        inference = next(s for s in monitor.host("b").services if s.service == "inference")
        assert inference.last_change_time >= inference.check_time - 1
    finally:
        await monitor.close()
