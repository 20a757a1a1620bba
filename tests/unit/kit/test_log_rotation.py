"""Service log files: size- and count-bounded rotation, fed through the pipe a child writes into."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.kit.config import ConfigError
from services.kit.logs import LogRotation, RotatingLogFile, start_log_pump


def log_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + "*"))


def test_writing_past_the_size_bound_rotates_and_keeps_at_most_n_files(tmp_path):
    path = tmp_path / "vault.log"
    log = RotatingLogFile(path, LogRotation(max_bytes=1024, backups=3))
    lines = [f"line {i:05d} {'x' * 40}\n".encode() for i in range(400)]  # ~21 KB: many rotations
    for line in lines:
        log.write(line)
    log.close()

    files = log_files(path)
    assert [f.name for f in files] == ["vault.log", "vault.log.1", "vault.log.2", "vault.log.3"]
    assert all(f.stat().st_size <= 1024 for f in files)
    # Newest last: .3 is oldest, then .2, .1, the live file; together they hold the last lines, whole and in order.
    kept = b"".join(f.read_bytes() for f in [path.with_name("vault.log.3"), path.with_name("vault.log.2"),
                                             path.with_name("vault.log.1"), path])
    kept_lines = kept.splitlines(keepends=True)
    assert kept_lines == lines[-len(kept_lines):]
    assert len(kept_lines) > 3 * (1024 // len(lines[0]))


def test_the_first_write_that_would_pass_the_bound_rotates(tmp_path):
    path = tmp_path / "trainer.log"
    log = RotatingLogFile(path, LogRotation(max_bytes=1024, backups=2))
    log.write(b"a" * 1000 + b"\n")
    assert log_files(path) == [path]
    log.write(b"b" * 100 + b"\n")
    log.close()
    assert path.read_bytes() == b"b" * 100 + b"\n"
    assert path.with_name("trainer.log.1").read_bytes() == b"a" * 1000 + b"\n"


def test_a_line_longer_than_a_file_is_split_not_allowed_to_grow_the_file(tmp_path):
    path = tmp_path / "big.log"
    log = RotatingLogFile(path, LogRotation(max_bytes=1024, backups=5))
    log.write(b"z" * 3000)
    log.close()
    assert sorted(f.stat().st_size for f in log_files(path)) == [952, 1024, 1024]


def test_zero_backups_keeps_only_the_live_file(tmp_path):
    path = tmp_path / "w.log"
    log = RotatingLogFile(path, LogRotation(max_bytes=1024, backups=0))
    for i in range(100):
        log.write(f"{i:040d}\n".encode())
    log.close()
    assert log_files(path) == [path] and path.stat().st_size <= 1024


def test_an_existing_file_counts_towards_the_bound_after_a_restart(tmp_path):
    path = tmp_path / "c.log"
    path.write_bytes(b"y" * 1015 + b"\n")
    log = RotatingLogFile(path, LogRotation(max_bytes=1024, backups=1))
    log.write(b"after restart\n")
    log.close()
    assert path.read_bytes() == b"after restart\n"


def test_a_child_process_output_through_the_pump_is_rotated(tmp_path):
    path = tmp_path / "logs" / "curriculum.log"
    write_fd, pump = start_log_pump(path, LogRotation(max_bytes=4096, backups=2))
    script = "import sys\nfor i in range(2000): print(f'record {i:06d}', flush=i % 7 == 0)\n" \
             "print('boom', file=sys.stderr)\n"
    try:
        child = subprocess.Popen([sys.executable, "-c", script], stdout=write_fd, stderr=subprocess.STDOUT)
    finally:
        os.close(write_fd)
    assert child.wait() == 0
    assert pump.join(timeout=60)

    files = log_files(path)
    assert len(files) == 3 and all(f.stat().st_size <= 4096 for f in files)
    tail = path.read_bytes().splitlines()
    assert tail[-2:] == [b"record 001999", b"boom"]


@pytest.mark.parametrize(("section", "key"), [
    ({"max_bytes": 10}, "logging.max_bytes"), ({"max_bytes": "10MB"}, "logging.max_bytes"),
    ({"backups": -1}, "logging.backups"), ({"backups": True}, "logging.backups"),
])
def test_bad_rotation_settings_name_the_key(section, key):
    with pytest.raises(ConfigError) as error:
        LogRotation.from_section(section)
    assert error.value.key == key


def test_rotation_defaults():
    assert LogRotation.from_section({}) == LogRotation(10 * 1024 * 1024, 5)
