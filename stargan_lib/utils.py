"""The small shared vocabulary every module uses: devices, seeds, cache folders, safe file writes.

Introduced in `notebooks/00_setup_and_data.ipynb`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stargan_lib.errors import CheckpointError, ConfigError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn "auto" / "cpu" / "cuda" / "cuda:1" into a torch.device.

    "auto" (or None) picks CUDA when present, else the CPU. Asking for CUDA on a machine without it
    is an error, not a silent fall-back.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(device)!r} was asked for but CUDA is not available here; "
                          "use --device cpu (or auto)")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Every random generator's state, for a checkpoint that resumes exactly."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    # NumPy's key array is stored as a tensor: `torch.load(weights_only=True)` refuses NumPy arrays.
    numpy_state = (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached)
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` saved."""
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys).astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def cache_root() -> Path:
    """Where generated data, oracle weights, metric weights and FID statistics are cached.

    `$STARGAN_CACHE` when set, else `~/.cache/stargan-course`.
    """
    root = os.environ.get("STARGAN_CACHE") or Path.home() / ".cache" / "stargan-course"
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir(*parts: str) -> Path:
    """A sub-folder of the cache, created on demand."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def params_key(params: dict[str, Any], length: int = 16) -> str:
    """A short stable hash of a JSON-able dict: the cache key of whatever those parameters make."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """`obj` as indented JSON (values JSON does not know written with `str`), atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def read_json_object(path: str | Path) -> dict[str, Any] | None:
    """The JSON object stored in `path`, or None when the file is missing, unreadable or not an object.

    For records that are recomputed when absent (results, timings); a file that must exist is read
    with `json.loads` and an error that names it.
    """
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def device_of(module: torch.nn.Module) -> torch.device:
    """The device of a module's (first) parameter: where its inputs must go."""
    return next(module.parameters()).device


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """`torch.save` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """`torch.load(..., weights_only=True)` with errors that name the file.

    Only tensors, numbers, strings and plain containers are unpickled, so a downloaded checkpoint
    cannot run code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; check the path (or train first)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for truncated / foreign files
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}. The file may be truncated or "
                              "not a PyTorch checkpoint; re-download or re-create it") from exc


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable and frozen parameters of a module (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def replace_checked(cfg: Any, overrides: dict[str, Any]) -> Any:
    """`dataclasses.replace` for the frozen configs, with an error that lists the valid field names.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (configs are frozen: derive, never mutate).
    """
    import dataclasses

    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"{type(cfg).__name__} has no field(s) {unknown}; valid fields: {sorted(names)}")
    return dataclasses.replace(cfg, **overrides)


def load_state_dict_checked(net: torch.nn.Module, sd: Any, where: str) -> None:
    """`load_state_dict` with an error that names the missing, unexpected and mis-shaped keys.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb`; every checkpoint loader uses it.
    """
    if sd is None:
        raise CheckpointError(f"{where}: the checkpoint has no weights for this network")
    own = net.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or shapes:
        def head(keys: list[str]) -> str:
            return ", ".join(keys[:6]) + (f" ... (+{len(keys) - 6})" if len(keys) > 6 else "")
        parts = []
        if missing:
            parts.append(f"missing keys: {head(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {head(unexpected)}")
        if shapes:
            parts.append("shape mismatch: " + head([f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}"
                                                    for k in shapes]))
        raise CheckpointError(f"{where} does not fit this model ({'; '.join(parts)}). It was made with "
                              "another configuration (image size, number of domains/labels, model size)")
    net.load_state_dict(sd)


def non_finite_weights(nets: Any) -> list[str]:
    """Names "net.param" of every parameter or buffer holding a NaN or an infinity (empty: all finite).

    `nets` maps names to modules. Introduced in `notebooks/01_cyclegan_baseline.ipynb`; the training
    engine checks before every checkpoint, `stargan eval` / `stargan sample` before using weights.
    """
    bad = []
    for name, net in nets.items():
        for key, t in net.state_dict().items():
            if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
                bad.append(f"{name}.{key}")
    return bad


def check_finite_weights(nets: Any, where: str) -> None:
    """Raise a CheckpointError naming `where` and the first bad tensors when a weight is not finite.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """
    bad = non_finite_weights(nets)
    if bad:
        more = f" ... (+{len(bad) - 4})" if len(bad) > 4 else ""
        raise CheckpointError(f"{where} holds non-finite weights (NaN/inf in {', '.join(bad[:4])}{more}): the run "
                              "diverged before it was saved. Use an earlier checkpoint or retrain with a lower "
                              "learning rate")


def check_run_lengths(cfg: Any) -> None:
    """A config's `total_iters` must be at least 1 and its batch size positive: a run of zero or fewer
    iterations would write no checkpoint. Every model's config validation calls this.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb`.
    """
    total = getattr(cfg, "total_iters", 1)
    if not isinstance(total, int) or total < 1:
        raise ConfigError(f"total_iters={total!r}: a run needs at least one iteration; give a positive "
                          "--total-iters (resuming a finished run with the same value does nothing more)")
    batch = getattr(cfg, "batch_size", 1)
    if batch < 1:
        raise ConfigError(f"batch_size={batch}: give a positive --batch-size")
