"""The environment the supervisor gives its children: what a service needs, nothing it was not meant to get.

A service reads its settings from realm.yaml (+ `REALM__…` overrides) and its tokens from the sources the file
names. Anything else in the supervisor's shell — an operator's `REALM_TOKEN`, cloud keys, SSH agents — stays
out: a service that finds an ambient credential could act with it for callers who never presented it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from realm.settings import OVERRIDE_PREFIX, Settings

# Process basics and the runtimes services use (Python, PyTorch/CUDA, Hugging Face, BLAS threads).
PASSED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
    "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV",
    "REALM_HOST",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM",
    "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_CACHE",
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "PYTORCH_CUDA_ALLOC_CONF", "NCCL_DEBUG",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
})
PASSED_PREFIXES = ("LC_", OVERRIDE_PREFIX, "NVIDIA_", "TORCH_", "GRPC_")


def token_env_names(settings: Settings) -> set[str]:
    """Environment variables realm.yaml names as token sources (`auth.tokens[].env`): services must read them."""
    return {token.env for token in settings.tokens if token.env}


def child_environment(settings: Settings, environ: Mapping[str, str], extra_names: Iterable[str] = ()) -> dict[str, str]:
    """The supervisor's environment filtered to what services need, plus `supervisor.pass_env` names."""
    wanted = PASSED_NAMES | token_env_names(settings) | set(extra_names)
    env = {k: v for k, v in environ.items() if k in wanted or k.startswith(PASSED_PREFIXES)}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
