"""Container HEALTHCHECK: every service this host runs (REALM_HOST in REALM_CONFIG) must answer SERVING.

gRPC services through grpc.health.v1 Check, the gateway through /healthz (realm.health.probe does both).
Exit 0 when all serve, 1 otherwise; one line per service for `docker inspect`'s health log.
"""

from __future__ import annotations

import os
import sys

from realm.health import probe
from realm.settings import load_settings


def main() -> int:
    settings = load_settings()
    endpoints = settings.services_on_host(settings.this_host)
    if not endpoints:
        print(f"no services configured for host {settings.this_host!r}")
        return 1
    timeout = float(os.environ.get("REALM_HEALTHCHECK_TIMEOUT", "2"))
    results = [probe(endpoint, timeout=timeout) for endpoint in endpoints]
    for result in results:
        print(f"{result.service} {result.address} {result.state} {result.latency_ms:.1f}ms {result.error}".rstrip())
    return 0 if all(r.serving for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
