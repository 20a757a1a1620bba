import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from engine import start_engine, stop_engine  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def load_images_module():
    spec = importlib.util.spec_from_file_location("realm_docker_images", ROOT / "docker" / "images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    process = start_engine(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
    yield
    stop_engine(process)


@pytest.fixture(scope="session")
def role_images(docker_engine):
    """The four role images (CPU profile), built once per session; docker's layer cache makes rebuilds cheap."""
    images = load_images_module()
    if not images.shutil.which("debootstrap") and not images.image_exists(images.LOCAL_BASE):
        pytest.skip("debootstrap is not installed (apt-get install debootstrap) and no local base image exists")
    try:
        args = images.build_args("cpu")
        built = {role: images.build(role, "cpu", "latest", args, quiet=True) for role in images.ROLES}
    except images.BuildError as exc:
        pytest.fail(str(exc))
    return built, images.sizes()
