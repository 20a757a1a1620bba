import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_matches_protos():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "protos.py"), "check"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_every_service_has_a_proto_package():
    for svc in ("common", "trainer", "inference", "vault", "curriculum", "warden"):
        protos = list((ROOT / "protos" / "realm" / svc / "v1").glob("*.proto"))
        assert protos, svc
        for proto in protos:
            assert f"package realm.{svc}.v1;" in proto.read_text()
