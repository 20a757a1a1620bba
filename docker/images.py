"""Build the four host-role images (training, inference, storage, control) from docker/Dockerfile.*.

    python docker/images.py build [--profile cpu|cuda] [--roles training,inference] [--tag latest]
    python docker/images.py base      # the local Debian bookworm base (debootstrap + docker import), if absent
    python docker/images.py sizes     # image sizes, one JSON object

Profiles:
  cuda  the production build: Dockerfile defaults (debian:bookworm-slim, torch from the CUDA index, bitsandbytes +
        liger-kernel on training, bitsandbytes on inference). Needs a registry for the base image.
  cpu   a test build for machines without a registry or GPU: a bookworm base made with debootstrap and imported,
        the local torch CPU wheel (pip's find-links folder) bind-mounted into the build, no GPU extras.

A CA bundle for a TLS-intercepting proxy is passed as the build secret `ca` (REALM_BUILD_CA, else pip's `cert`,
else the system bundle); builds run with `--network host` (no bridge network is needed). Stdlib only.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKER_DIR = ROOT / "docker"
WHEELS = DOCKER_DIR / "wheels"
ROLES = ("storage", "control", "inference", "training")
LOCAL_BASE = "realm-base:bookworm"
DEBIAN_MIRROR = os.environ.get("REALM_DEBIAN_MIRROR", "http://deb.debian.org/debian")
TORCH_VERSION = "2.13.0"
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


class BuildError(RuntimeError):
    pass


def image_name(role: str, tag: str = "latest") -> str:
    return f"realm/{role}:{tag}"


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, **kwargs)


def docker_bin() -> str:
    found = shutil.which("docker")
    if not found:
        raise BuildError("no docker CLI on PATH (apt-get install docker.io)")
    return found


def engine_running(docker: str | None = None) -> bool:
    try:
        return _run([docker or docker_bin(), "info", "--format", "{{.ServerVersion}}"],
                    capture_output=True, timeout=20).returncode == 0
    except (BuildError, subprocess.TimeoutExpired):
        return False


def builder() -> tuple[list[str], dict[str, str]]:
    """A `docker build` that speaks BuildKit (secrets, bind/cache mounts): buildx when installed, else a CLI
    older than 23 with DOCKER_BUILDKIT=1 (Debian's docker.io 20.10 ships no buildx but has BuildKit built in)."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    candidates = [docker_bin(), "/usr/bin/docker"]
    for docker in dict.fromkeys(candidates):
        if not Path(docker).exists():
            continue
        if _run([docker, "buildx", "version"], capture_output=True).returncode == 0:
            return [docker, "buildx", "build", "--load"], env
        version = _run([docker, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True)
        major = re.match(r"(\d+)\.", version.stdout.strip())
        if major and int(major.group(1)) < 23:
            return [docker, "build"], env
    raise BuildError("no BuildKit-capable docker build: install docker-buildx, or use Debian's docker.io CLI")


def image_exists(name: str) -> bool:
    return _run([docker_bin(), "image", "inspect", name], capture_output=True).returncode == 0


def ensure_local_base(name: str = LOCAL_BASE) -> str:
    """A minimal Debian bookworm root filesystem imported as an image; built once, then reused."""
    if image_exists(name):
        return name
    if not shutil.which("debootstrap"):
        raise BuildError("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="realm-base-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        result = _run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
                      capture_output=True, text=True)
        if result.returncode != 0:
            raise BuildError(f"debootstrap failed: {result.stderr[-2000:]}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = _run([docker_bin(), "import", "-", name], stdin=tar.stdout, capture_output=True, text=True)
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise BuildError(f"docker import failed: {imported.stderr[-2000:]}")
    return name


def pip_find_links() -> list[Path]:
    """Where pip looks for local wheels: PIP_FIND_LINKS, then `find-links` in pip's config files."""
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    config = configparser.ConfigParser()
    config.read([Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"), Path.home() / ".config/pip/pip.conf",
                 Path.home() / ".pip/pip.conf", *([os.environ["PIP_CONFIG_FILE"]] if "PIP_CONFIG_FILE" in os.environ
                                                  else [])])
    for section in ("global", "install"):
        links += config.get(section, "find-links", fallback="").split()
    return [Path(link.removeprefix("file://")) for link in links if not link.startswith(("http:", "https:"))]


def stage_torch_wheel() -> str | None:
    """Hard-link (or copy) the local torch CPU wheel into docker/wheels/; its path inside the build, or None."""
    pattern = f"torch-{TORCH_VERSION}+cpu-cp311-cp311-*.whl"
    for folder in pip_find_links():
        for wheel in sorted(folder.glob(pattern)) if folder.is_dir() else []:
            WHEELS.mkdir(exist_ok=True)
            target = WHEELS / wheel.name
            if not target.exists():
                try:
                    os.link(wheel, target)
                except OSError:
                    shutil.copy2(wheel, target)
            return f"/wheels/{wheel.name}"
    return None


def ca_bundle() -> Path | None:
    explicit = os.environ.get("REALM_BUILD_CA")
    if explicit:
        return Path(explicit)
    config = configparser.ConfigParser()
    config.read([Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf")])
    for candidate in (os.environ.get("PIP_CERT"), config.get("global", "cert", fallback=None), str(SYSTEM_CA)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build_args(profile: str) -> dict[str, str]:
    if profile == "cuda":
        return {}
    if profile != "cpu":
        raise BuildError(f"unknown profile {profile!r}: cpu or cuda")
    wheel = stage_torch_wheel()
    args = {"BASE_IMAGE": ensure_local_base(), "EXTRA_PACKAGES": ""}
    if wheel:
        args.update(TORCH_SPEC=wheel, TORCH_INDEX_URL="")
    else:
        args.update(TORCH_SPEC=f"torch=={TORCH_VERSION}", TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu")
    return args


def build(role: str, profile: str = "cpu", tag: str = "latest", args: dict[str, str] | None = None,
          quiet: bool = False) -> str:
    if role not in ROLES:
        raise BuildError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    WHEELS.mkdir(exist_ok=True)
    command, env = builder()
    argv = [*command, "--network", "host", "-f", str(DOCKER_DIR / f"Dockerfile.{role}"), "-t", image_name(role, tag)]
    for key, value in (build_args(profile) if args is None else args).items():
        argv += ["--build-arg", f"{key}={value}"]
    ca = ca_bundle()
    if ca is not None:
        argv += ["--secret", f"id=ca,src={ca}"]
    if quiet:
        argv.append("--quiet")
    # Builds share two CPU cores with everything else on a small machine: be polite.
    result = _run(["nice", "-n", "10", *argv, str(ROOT)], env=env, cwd=ROOT,
                  capture_output=quiet, text=True)
    if result.returncode != 0:
        raise BuildError(f"building {image_name(role, tag)} failed" + (f":\n{result.stderr[-4000:]}" if quiet else ""))
    return image_name(role, tag)


def sizes(tag: str = "latest") -> dict[str, int]:
    out = {}
    for role in ROLES:
        result = _run([docker_bin(), "image", "inspect", "--format", "{{.Size}}", image_name(role, tag)],
                      capture_output=True, text=True)
        if result.returncode == 0:
            out[image_name(role, tag)] = int(result.stdout.strip())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the role images")
    build_cmd.add_argument("--profile", default=os.environ.get("REALM_IMAGE_PROFILE", "cpu"), choices=["cpu", "cuda"])
    build_cmd.add_argument("--roles", default=",".join(ROLES))
    build_cmd.add_argument("--tag", default="latest")
    sub.add_parser("base", help=f"build {LOCAL_BASE} with debootstrap when absent")
    sizes_cmd = sub.add_parser("sizes", help="image sizes in bytes")
    sizes_cmd.add_argument("--tag", default="latest")
    args = parser.parse_args(argv)
    try:
        if not engine_running():
            raise BuildError("no docker engine answers (start one: dockerd --bridge=none --iptables=false)")
        if args.command == "base":
            print(ensure_local_base())
        elif args.command == "sizes":
            print(json.dumps(sizes(args.tag)))
        else:
            profile_args = build_args(args.profile)
            for role in [r.strip() for r in args.roles.split(",") if r.strip()]:
                print(f"== {image_name(role, args.tag)} ({args.profile})", flush=True)
                build(role, args.profile, args.tag, profile_args)
            print(json.dumps({name: f"{size / 1e9:.2f} GB" for name, size in sizes(args.tag).items()}))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
