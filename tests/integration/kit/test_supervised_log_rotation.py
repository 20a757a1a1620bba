"""A service under the supervisor writes its log through the rotating pump: size- and count-bounded files."""

from __future__ import annotations

import pytest

from fixtures.kit import write_test_config
from fixtures.realm_up import supervise
from realm.settings import load_settings
from realm.warden.v1 import warden_pb2 as wpb
from realm_ops.supervisor import Supervisor

pytestmark = pytest.mark.integration

MAX_BYTES = 2048
BACKUPS = 2


def test_a_supervised_service_log_rotates_at_its_size_bound(tmp_path):
    def write_config(ports: dict[str, int]):  # the supervisor needs the port in realm.yaml (fixtures.realm_up)
        return write_test_config(tmp_path, ports=ports, logging={"level": "info", "format": "json",
                                                                 "max_bytes": MAX_BYTES, "backups": BACKUPS})

    supervisor = supervise(tmp_path, write_config, ["warden"],
                           lambda config: Supervisor(load_settings(config), config, only=["warden"]))
    settings = supervisor.settings
    try:
        assert supervisor.children[0].state == "SERVING"
        from realm.sdk import connect

        warden = connect(settings).warden
        for _ in range(60):  # each RPC writes one canonical log line (~300 bytes): ~9 files' worth
            warden.GetFleetStatus(wpb.GetFleetStatusRequest())
    finally:
        supervisor.stop_all()
        supervisor.release()
    assert supervisor.log_pumps["warden"].join(timeout=60)  # the pump drains once the child is gone

    log = settings.data_dir / "logs" / "warden.log"
    files = sorted(log.parent.glob("warden.log*"))
    assert [f.name for f in files] == ["warden.log", "warden.log.1", "warden.log.2"]
    assert all(0 < f.stat().st_size <= MAX_BYTES for f in files)
    assert b"GetFleetStatus" in log.with_name("warden.log.1").read_bytes()
