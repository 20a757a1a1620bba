"""What the gateway adds: a REST unary read vs the same RPC over gRPC (p50/p99, 1 and 32 concurrent clients), SSE
events/s vs the same server stream over gRPC, and REST reads while 8 generations run vs idle.

Real services (vault, warden, inference with the tiny hero) and the gateway run on 127.0.0.1 in one event loop on
a background thread; the clients (aiohttp for REST/SSE, grpc.aio for the baseline) run in the main thread's loop.
Goals (issue 11): <= 1 ms added p50 on loopback; p99 of REST reads under 8 generations within 2x of idle.

    .venv/bin/python bench/gateway_latency.py [--requests 400] [--events 2000] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "clients", ROOT / "ops"):
    sys.path.insert(0, str(extra))

import aiohttp  # noqa: E402
import torch  # noqa: E402
from aiohttp import web  # noqa: E402

from realm.inference.v1 import inference_pb2 as ipb  # noqa: E402
from realm.sdk.aio import AsyncRealm  # noqa: E402
from realm.vault.v1 import vault_pb2  # noqa: E402
from realm.warden.v1 import warden_pb2  # noqa: E402
from realm_ops.tiny_hero import build_tiny_hero  # noqa: E402
from services.gateway.app import create_app, make_runner  # noqa: E402
from services.gateway.config import config_from_settings  # noqa: E402
from services.inference.app import setup as inference_setup  # noqa: E402
from services.kit.config import SERVICE_NAMES, settings_from_dict  # noqa: E402
from services.kit.logs import configure_logging  # noqa: E402
from services.kit.server import ServiceServer  # noqa: E402
from services.vault.app import setup as vault_setup  # noqa: E402
from services.warden.app import setup as warden_setup  # noqa: E402

TOKEN = "bench-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def settings_for(tmp: Path):
    raw = {"data_dir": str(tmp / "var"), "hosts": {"local": {"address": "127.0.0.1", "roles": ["inference"]}},
           "services": {n: {"host": "local", "port": 0} for n in SERVICE_NAMES},
           "auth": {"tokens": [{"name": "admin", "role": "admin", "value": TOKEN}], "client_token": "admin"},
           "logging": {"level": "warning", "format": "json"}, "inference": {"max_batch_size": 8}}
    return settings_from_dict(raw, root=tmp, env={})


class Servers:
    """Services + gateway in their own loop and thread."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = contextlib.AsyncExitStack()

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(600)

    async def _serve(self, settings, name, setup):
        server = ServiceServer(settings, name, port=0, metrics_port=False)
        await setup(server)
        await server.start()
        self.stack.push_async_callback(server.stop, 0.5)
        return f"127.0.0.1:{server.bound_port}"

    async def start(self, hero: Path) -> dict[str, str]:
        settings = settings_for(self.tmp)
        addresses = {name: await self._serve(settings, name, setup) for name, setup in
                     (("vault", vault_setup), ("warden", warden_setup), ("inference", inference_setup))}
        realm = AsyncRealm(addresses, TOKEN)
        await realm.inference.LoadModel(ipb.LoadModelRequest(source=str(hero), model_id="default", wait=True),
                                        timeout=600)
        app = create_app(config_from_settings(settings, addresses))
        runner = make_runner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.stack.push_async_callback(runner.cleanup)
        addresses["gateway"] = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        await realm.close()
        return addresses

    def stop(self) -> None:
        self.run(self.stack.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(concurrency: int, total: int, one) -> list[float]:
    latencies: list[float] = []
    remaining = iter(range(total))

    async def worker():
        for _ in remaining:
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def measure(addresses: dict[str, str], requests: int, events: int) -> dict[str, float]:
    realm = AsyncRealm(addresses, TOKEN)
    results: dict[str, float] = {}
    async with aiohttp.ClientSession(addresses["gateway"], headers=AUTH) as http:
        async def rest_read():
            async with http.get("/api/v1/fleet") as response:
                assert response.status == 200, await response.text()
                await response.read()

        async def grpc_read():
            await realm.warden.GetFleetStatus(warden_pb2.GetFleetStatusRequest())

        for _ in range(50):  # warm both paths (connections, caches)
            await rest_read()
            await grpc_read()
        print(f"{'unary read':<28}{'clients':>8}{'gRPC p50':>11}{'REST p50':>11}{'added p50':>11}"
              f"{'gRPC p99':>11}{'REST p99':>11}")
        for clients in (1, 32):
            base = await timed(clients, requests, grpc_read)
            rest = await timed(clients, requests, rest_read)
            b50, r50, b99, r99 = (percentile(base, .5), percentile(rest, .5), percentile(base, .99),
                                  percentile(rest, .99))
            results[f"added_p50_ms_c{clients}"] = (r50 - b50) * 1e3
            results[f"p50_ratio_c{clients}"] = r50 / b50
            results[f"p99_ratio_c{clients}"] = r99 / b99
            print(f"{'GET /api/v1/fleet':<28}{clients:>8}{b50 * 1e3:>10.2f}m{r50 * 1e3:>10.2f}m"
                  f"{(r50 - b50) * 1e3:>10.2f}m{b99 * 1e3:>10.2f}m{r99 * 1e3:>10.2f}m")

        for i in range(events):
            await realm.vault.AppendLedgerEvent(vault_pb2.AppendLedgerEventRequest(event=vault_pb2.LedgerEvent(
                kind=vault_pb2.LEDGER_EVENT_KIND_NOTE, message=f"bench {i}")))

        async def grpc_events():
            count = 0
            async for _ in realm.vault.WatchLedger(vault_pb2.WatchLedgerRequest(history_only=True)):
                count += 1
            return count

        async def sse_events():
            count = 0
            async with http.get("/api/v1/ledger:watch", params={"replay": "true", "history_only": "true"}) as resp:
                async for line in resp.content:
                    count += line.startswith(b"data: ")
            return count

        print(f"\n{'event stream':<28}{'clients':>8}{'gRPC ev/s':>12}{'SSE ev/s':>12}{'ratio':>8}")
        for clients in (1, 32):
            for name, reader in (("grpc", grpc_events), ("sse", sse_events)):
                started = time.perf_counter()
                counts = await asyncio.gather(*(reader() for _ in range(clients)))
                assert all(c >= events for c in counts), counts
                results[f"{name}_events_per_s_c{clients}"] = sum(counts) / (time.perf_counter() - started)
            ratio = results[f"sse_events_per_s_c{clients}"] / results[f"grpc_events_per_s_c{clients}"]
            results[f"sse_ratio_c{clients}"] = ratio
            print(f"{'ledger replay':<28}{clients:>8}{results[f'grpc_events_per_s_c{clients}']:>12.0f}"
                  f"{results[f'sse_events_per_s_c{clients}']:>12.0f}{ratio:>8.2f}")

        idle = await timed(4, requests, rest_read)
        body = {"model": "default", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 256}
        stop = asyncio.Event()

        async def generation():
            while not stop.is_set():
                async with http.post("/v1/chat/completions", json=body) as response:
                    assert response.status == 200, await response.text()
                    await response.read()

        generations = [asyncio.create_task(generation()) for _ in range(8)]
        await asyncio.sleep(1.0)  # let the 8 generations fill the batch before measuring
        busy = await timed(4, requests, rest_read)
        stop.set()
        await asyncio.gather(*generations)
        results["busy_p99_ratio"] = percentile(busy, .99) / percentile(idle, .99)
        print(f"\n{'REST reads, 4 clients':<28}{'p50':>10}{'p99':>10}")
        print(f"{'idle':<28}{percentile(idle, .5) * 1e3:>9.2f}m{percentile(idle, .99) * 1e3:>9.2f}m")
        print(f"{'8 generations running':<28}{percentile(busy, .5) * 1e3:>9.2f}m{percentile(busy, .99) * 1e3:>9.2f}m")
        print(f"{'busy/idle p99':<28}{results['busy_p99_ratio']:>10.2f}")
        print(f"\n(idle p50 {statistics.median(idle) * 1e3:.2f} ms over {len(idle)} reads)")
    await realm.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configure_logging("warning", "json", service="bench")  # a log line per RPC would dominate what is measured
    with tempfile.TemporaryDirectory() as tmp:
        hero = build_tiny_hero(Path(tmp) / "hero")
        servers = Servers(Path(tmp))
        try:
            addresses = servers.run(servers.start(hero))
            results = asyncio.run(measure(addresses, args.requests, args.events))
        finally:
            servers.stop()
    keys = ("added_p50_ms_c1", "added_p50_ms_c32", "p50_ratio_c1", "p99_ratio_c1", "p50_ratio_c32",
            "p99_ratio_c32", "sse_ratio_c1", "sse_ratio_c32", "busy_p99_ratio")
    print("RESULT " + " ".join(f"{k}={results[k]:.3f}" for k in keys))


if __name__ == "__main__":
    main()
