"""Health probes: a re-export of `realm.health` (clients and the supervisor probe services the same way)."""

from realm.health import HTTP_SERVICES, Probe, probe

__all__ = ["HTTP_SERVICES", "Probe", "probe"]
