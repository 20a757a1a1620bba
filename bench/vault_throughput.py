"""Vault throughput: push/pull of a 512 MiB multi-file checkpoint over loopback vs `cp` on the same disk,
plus catalog query rates. The vault runs as its own process (`python -m services.vault`), as deployed.

    .venv/bin/python bench/vault_throughput.py [--mib 512] [--dir /tmp]

Ours includes everything a caller waits for: push = hash locally + CreateUpload + stream (server hashes and
fsyncs) + commit; pull = stream + verify every sha256 + fsync + atomic rename. `cp -r` neither hashes nor
fsyncs, so the ratios are conservative. "stream" isolates the transfer phase of push (after local hashing).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "clients"))
sys.path.insert(0, str(ROOT / "ops"))
sys.path.insert(0, str(ROOT / "tests"))  # fixtures.*

import grpc  # noqa: E402

from fixtures.kit import ADMIN_TOKEN, write_test_config  # noqa: E402
from realm.sdk import connect  # noqa: E402
from realm.vault.v1 import vault_pb2 as pb  # noqa: E402

MiB = 1024 * 1024


def make_checkpoint(root: Path, total_mib: int) -> int:
    """A HF-like directory: a few large shards plus small json/tokenizer files, distinct content per file."""
    root.mkdir(parents=True)
    shards = 4
    shard_bytes = (total_mib * MiB - 3 * MiB) // shards
    block = bytearray(os.urandom(MiB))
    for index in range(shards):
        with open(root / f"model-{index + 1:05d}-of-{shards:05d}.safetensors", "wb") as out:
            written = 0
            while written < shard_bytes:
                block[:8] = (index * 1_000_000 + written).to_bytes(8, "little")  # no two blocks alike
                n = min(MiB, shard_bytes - written)
                out.write(block[:n])
                written += n
    (root / "config.json").write_bytes(b'{"architectures": ["Qwen3ForCausalLM"]}')
    (root / "tokenizer.json").write_bytes(os.urandom(3 * MiB))
    (root / "trainer_state.json").write_bytes(b'{"global_step": 1000}')
    return sum(p.stat().st_size for p in root.iterdir())


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_seconds(server_pid: int | None = None) -> float:
    """CPU time used so far by this process, its finished children (cp) and the vault server process."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    if server_pid is not None:
        fields = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


CPU: dict[str, float] = {}


def measured(label: str, server_pid: int, fn) -> float:
    """Wall seconds of fn; its CPU seconds (client + server + children) go to CPU[label]."""
    before = cpu_seconds(server_pid)
    seconds = timed(fn)
    CPU[label] = cpu_seconds(server_pid) - before
    return seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_vault(work: Path) -> tuple[subprocess.Popen, object]:
    port = free_port()
    config = write_test_config(work, ports={"vault": port},
                               vault={"zones": {"hot": {"path": str(work / "zone")}}},
                               logging={"level": "warning", "format": "json"})
    log = open(work / "vault.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "services.vault", "--config", str(config)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    vault = connect(addresses={"vault": f"127.0.0.1:{port}"}, token=ADMIN_TOKEN).vault
    deadline = time.monotonic() + 30
    while True:
        try:
            vault.GetStats(pb.GetStatsRequest(), timeout=1)
            return proc, vault
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise RuntimeError((work / "vault.log").read_text()[-2000:]) from None
            time.sleep(0.1)


def rate(fn, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the files live (one disk)")
    parser.add_argument("--catalog-assets", type=int, default=200)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vault-bench-", dir=args.dir))
    proc = None
    try:
        src = work / "ckpt"
        size = make_checkpoint(src, args.mib)
        proc, vault = start_vault(work)

        def cp_once(index: int, sync: bool) -> float:
            target = work / f"cp-{index}-{int(sync)}"
            seconds = timed(lambda: (subprocess.run(["cp", "-r", str(src), str(target)], check=True),
                                     os.sync() if sync else None))
            shutil.rmtree(target)
            return seconds

        os.sync()  # start from a clean page cache state for every baseline
        cp_time = statistics.median(cp_once(i, False) for i in range(3))
        cp_sync_time = statistics.median(cp_once(i, True) for i in range(3))
        measured("cp", proc.pid, lambda: cp_once(9, False))

        marks: dict[str, float] = {}

        def on_progress(done: int, total: int) -> None:
            marks.setdefault("stream_start", time.perf_counter())

        asset_box = {}
        push_time = measured("push", proc.pid, lambda: asset_box.setdefault("a", vault.push(
            src, "checkpoint", lineage={"campaign": "bench", "global_step": 1000}, progress=on_progress)))
        stream_time = time.perf_counter() - marks["stream_start"]
        asset = asset_box["a"]
        dedup_time = timed(lambda: vault.push(src, "checkpoint", lineage={"campaign": "bench", "global_step": 1001}))
        pull_time = measured("pull", proc.pid, lambda: vault.pull(asset.name, work / "pulled"))

        # Catalog: many small assets, then point reads and filtered/ordered queries.
        tiny = work / "tiny"
        tiny.mkdir()
        names = []
        for i in range(args.catalog_assets):
            (tiny / "w").write_bytes(i.to_bytes(4, "little"))
            a = vault.push(tiny, "checkpoint", lineage={"campaign": f"c{i % 5}", "global_step": i})
            vault.AttachEval(pb.AttachEvalRequest(asset=a.name, eval=pb.Eval(skill="bin", accuracy=(i % 97) / 97,
                                                                             correct=i % 97, total=97)))
            names.append(a.name)
        get_rps = rate(lambda: vault.GetAsset(pb.GetAssetRequest(name=names[len(names) // 2])), 2.0)
        query_rps = rate(lambda: vault.QueryCheckpoints(pb.QueryCheckpointsRequest(
            campaign="c3", skill="bin", order_by="accuracy", page_size=10)), 2.0)
        list_rps = rate(lambda: vault.ListAssets(pb.ListAssetsRequest(page_size=50)), 2.0)
        stats_rps = rate(lambda: vault.GetStats(pb.GetStatsRequest()), 1.0)

        mb = size / 1e6
        rows = [
            ("cp -r (median of 3; no fsync)", cp_time),
            ("cp -r + sync (median of 3)", cp_sync_time),
            ("vault push: hash + upload + commit", push_time),
            ("  of which streaming + commit", stream_time),
            ("vault push of identical content (dedup)", dedup_time),
            ("vault pull: stream + verify + fsync + rename", pull_time),
        ]
        print(f"\n{size / MiB:.0f} MiB checkpoint, {len(list(src.iterdir()))} files, loopback gRPC, dir {args.dir},"
              f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
        print(f"{'operation':<46} {'seconds':>8} {'MB/s':>8} {'x cp':>6} {'x cp+sync':>10}")
        for label, seconds in rows:
            print(f"{label:<46} {seconds:>8.2f} {mb / seconds:>8.0f} {cp_time / seconds:>6.2f}"
                  f" {cp_sync_time / seconds:>10.2f}")
        print(f"\nCPU seconds per GB moved (client + server + cp, all processes): cp {CPU['cp'] / size * 1e9:.2f},"
              f" push {CPU['push'] / size * 1e9:.2f}, pull {CPU['pull'] / size * 1e9:.2f}"
              " — on a busy machine the wall-clock ratios follow these, since cp copies inside the kernel")
        print(f"\ncatalog ({args.catalog_assets} checkpoints + evals), requests/s over gRPC:")
        print(f"  GetAsset {get_rps:.0f}/s   QueryCheckpoints(best by accuracy) {query_rps:.0f}/s   "
              f"ListAssets(50) {list_rps:.0f}/s   GetStats {stats_rps:.0f}/s")
        print(f"RESULT upload_vs_cp={cp_time / push_time:.2f} upload_stream_vs_cp={cp_time / stream_time:.2f} "
              f"download_vs_cp={cp_time / pull_time:.2f} upload_vs_cp_sync={cp_sync_time / push_time:.2f} "
              f"download_vs_cp_sync={cp_sync_time / pull_time:.2f} dedup_push_vs_cp={cp_time / dedup_time:.2f} "
              f"cpu_push_vs_cp={CPU['push'] / CPU['cp']:.1f} cpu_pull_vs_cp={CPU['pull'] / CPU['cp']:.1f} "
              f"get_rps={get_rps:.0f} query_rps={query_rps:.0f} list_rps={list_rps:.0f}")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
