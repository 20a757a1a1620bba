"""`python -m services.gateway --config realm.yaml`: the HTTP gateway on the configured port (or --port; 0 = any
free port, published in <data_dir>/run/gateway.address.json as the kit's servers do: services.kit.ports)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import replace

from aiohttp import web

from services.gateway.app import create_app, make_runner
from services.gateway.config import config_from_settings
from services.kit.config import ConfigError, load_settings
from services.kit.lifetime import die_with_parent_from_env
from services.kit.logs import configure_logging, get_logger
from services.kit.ports import publish_address, withdraw_address


async def serve(settings, port: int | None) -> None:
    endpoint = settings.service("gateway")
    app = create_app(config_from_settings(settings))
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, endpoint.bind_host, endpoint.port if port is None else port)
    await site.start()
    bound = runner.addresses[0][1]  # the port read back (port 0 = any free port), published for a parent
    publish_address(settings.data_dir, "gateway", endpoint.connect_host, bound)
    get_logger("realm.gateway").info("serving", address=replace(endpoint, port=bound).bind_address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    withdraw_address(settings.data_dir, "gateway", bound)
    await runner.cleanup()


def main() -> None:
    die_with_parent_from_env(signal.SIGTERM)  # under the supervisor: end with it, however it ends
    parser = argparse.ArgumentParser(prog="python -m services.gateway")
    parser.add_argument("--config")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    try:
        settings = load_settings(args.config)
        config_from_settings(settings)  # a bad gateway section fails here, naming the key
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_settings().get("level", "info"), settings.log_settings().get("format", "auto"),
                      service="gateway")
    asyncio.run(serve(settings, args.port))


if __name__ == "__main__":
    main()
