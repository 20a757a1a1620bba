import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from engine import docker_engine, role_images  # noqa: E402,F401  (fixtures)
