import asyncio

import pytest

from services.kit.config import HostSpec, ServiceEndpoint
from services.kit.errors import NotFound
from services.warden.fleet import (
    CRITICAL,
    DEGRADED,
    DISK_USAGE,
    OFFLINE,
    OK,
    ONLINE,
    SERVICE_DOWN,
    UNKNOWN,
    WARN,
    DiskUsage,
    FleetMonitor,
    disk_level,
    rollup,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def endpoint(name, host="a"):
    return ServiceEndpoint(name, host, "127.0.0.1", "127.0.0.1", 1, None, (), True)


def make_monitor(clock, **kwargs):
    return FleetMonitor(
        hosts={"a": HostSpec("a", "127.0.0.1", ("storage",)), "b": HostSpec("b", "127.0.0.1", ("inference",))},
        services={"vault": endpoint("vault"), "trainer": endpoint("trainer"), "inference": endpoint("inference", "b")},
        local_host="a", clock=clock, **kwargs,
    )


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


@pytest.mark.parametrize(("percent", "level"), [(10, OK), (85, WARN), (94.9, WARN), (95, CRITICAL), (100, CRITICAL)])
def test_disk_level(percent, level):
    assert disk_level(percent, 85, 95) == level


async def test_states_since_times_and_watchers():
    clock = FakeClock()
    monitor = make_monitor(clock)
    status = monitor.status()
    assert status.state == OFFLINE and {s.state for h in status.hosts for s in h.services} == {UNKNOWN}

    for name in ("vault", "trainer"):
        monitor.observe(name, "SERVING", latency_ms=2.5, mode="WATCH")
    monitor.observe("inference", "UNREACHABLE", error="UNAVAILABLE: refused")
    status = monitor.status()
    assert status.state == DEGRADED and status.serving == 2 and status.total == 3
    assert monitor.host("a").state == ONLINE and monitor.host("b").state == OFFLINE
    with pytest.raises(NotFound):
        monitor.host("c")

    waiter = asyncio.create_task(monitor.wait_for_change(status.version))
    clock.now += 5
    monitor.observe("vault", "SERVING", mode="WATCH")  # nothing changed: the watcher keeps waiting
    await asyncio.sleep(0)
    assert not waiter.done()
    vault = next(s for s in monitor.host("a").services if s.service == "vault")
    assert vault.last_change_time == 1000.0 and vault.check_time == 1005.0 and vault.latency_ms == 2.5

    clock.now += 1
    monitor.observe("inference", "SERVING", latency_ms=1.0, mode="WATCH", reconnected=True)
    changed = await asyncio.wait_for(waiter, 1)
    assert changed.state == ONLINE and changed.version == status.version + 1
    (inference,) = monitor.host("b").services
    assert inference.last_change_time == 1006.0 and inference.reconnects == 1 and inference.error == ""


async def test_critical_service_down_for_threshold_raises_and_resolves_an_alert():
    clock = FakeClock()
    monitor = make_monitor(clock, alert_after_seconds=30, critical_services=["vault"])
    for name in ("vault", "trainer", "inference"):
        monitor.observe(name, "SERVING")
    monitor.observe("vault", "UNREACHABLE", error="DEADLINE_EXCEEDED")
    monitor.observe("trainer", "UNREACHABLE")  # not critical: never alerts
    version = monitor.version
    clock.now += 29
    monitor.tick()
    assert monitor.status().alerts == () and monitor.version == version

    clock.now += 1
    monitor.tick()
    (alert,) = monitor.status().alerts
    assert alert.kind == SERVICE_DOWN and alert.subject == "vault" and alert.severity == CRITICAL
    assert "30 s" in alert.message and "DEADLINE_EXCEEDED" in alert.message
    assert [a.subject for a in monitor.alert_events_after(version)] == ["vault"]

    fired_version = monitor.version
    clock.now += 3
    monitor.observe("vault", "SERVING")
    assert monitor.status().alerts == ()
    (resolved,) = monitor.alert_events_after(fired_version)
    assert resolved.subject == "vault" and resolved.resolve_time == clock.now


def test_a_service_never_seen_alerts_after_the_threshold_from_start():
    clock = FakeClock()
    monitor = make_monitor(clock, alert_after_seconds=10, critical_services=["inference"])
    clock.now += 10
    monitor.tick()
    assert [a.subject for a in monitor.status().alerts] == ["inference"]


def test_disk_thresholds_fire_escalate_and_resolve():
    clock = FakeClock()
    monitor = make_monitor(clock)

    def usage(percent):
        return DiskUsage("/data", 100, percent, 100 - percent, disk_level(percent, 85, 95))

    monitor.observe_disks([usage(50)])
    assert monitor.status().alerts == ()
    assert monitor.host("a").disks[0].used_percent == 50 and monitor.host("b").disks == ()
    start = monitor.version
    monitor.observe_disks([usage(90)])
    (alert,) = monitor.status().alerts
    assert alert.kind == DISK_USAGE and alert.severity == WARN and "90.0%" in alert.message
    monitor.observe_disks([usage(97)])
    (alert,) = monitor.status().alerts
    assert alert.severity == CRITICAL
    monitor.observe_disks([usage(40)])
    assert monitor.status().alerts == ()
    events = monitor.alert_events_after(start)
    assert [(e.severity, e.resolve_time is not None) for e in events] == [
        (WARN, False), (WARN, True), (CRITICAL, False), (CRITICAL, True)]
