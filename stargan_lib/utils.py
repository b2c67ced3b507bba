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


CACHE_ENV = "STARGAN_CACHE"


def _cache_flag() -> str:
    return f"the cache folder ${CACHE_ENV}" if os.environ.get(CACHE_ENV) else "the cache folder"


def cache_root() -> Path:
    """Where generated data, oracle weights, metric weights and FID statistics are cached.

    `$STARGAN_CACHE` when set, else `~/.cache/stargan-course`. A location that is a file or cannot be
    created is a ConfigError that names it and says to set $STARGAN_CACHE to a folder you can write.
    """
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "stargan-course"
    root = Path(root).expanduser()
    make_dir(root, _cache_flag(), fix=f"set ${CACHE_ENV} to a folder you can write")
    return root


def cache_dir(*parts: str) -> Path:
    """A sub-folder of the cache, created on demand."""
    path = cache_root().joinpath(*parts)
    make_dir(path, _cache_flag(), fix=f"set ${CACHE_ENV} to a folder you can write")
    return path


def check_cache_writable() -> Path:
    """The cache root, checked before a command that writes into it starts: a folder this user can write
    (else a ConfigError naming $STARGAN_CACHE). Introduced in `notebooks/00_setup_and_data.ipynb`."""
    root = cache_root()
    return check_output_dir(root, _cache_flag(), fix=f"set ${CACHE_ENV} to a folder you can write")


# ---------------------------------------------------------------------------- output paths, checked up front
def _first_existing(path: Path) -> Path:
    probe = path
    while not (probe.exists() or probe.is_symlink()) and probe != probe.parent:
        probe = probe.parent
    return probe


def check_output_dir(path: str | Path, flag: str, fix: str = "choose another folder") -> Path:
    """`path` as a folder a command can write into, checked before any work: it is not a file, it can be
    created (no file on the way, no broken link) and this user may write there; else a ConfigError naming
    `flag`, the path and `fix`. Nothing is created. Introduced in `notebooks/00_setup_and_data.ipynb`."""
    path = Path(path).expanduser()
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{flag} {path} is a broken symbolic link; remove it or {fix}")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder; give a folder path (or move the file away), "
                          f"or {fix}")
    base = _first_existing(path)
    if base.is_symlink() and not base.exists():
        raise ConfigError(f"{flag} {path} cannot be created: {base} is a broken symbolic link; {fix}")
    if not base.is_dir():
        raise ConfigError(f"{flag} {path} cannot be created: {base} is a file, not a folder; {fix}")
    if not os.access(base, os.W_OK | os.X_OK):
        what = "cannot write into it" if base == path else f"cannot create it in {base}"
        raise ConfigError(f"{flag} {path}: permission denied ({what}); {fix}")
    return path


def check_output_file(path: str | Path, flag: str, fix: str = "choose another path") -> Path:
    """`path` as a file a command can write, checked before any work: not a folder, its folder can be
    created and written, an existing file may be replaced; else a ConfigError naming `flag` and the path.
    Introduced in `notebooks/00_setup_and_data.ipynb`."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; give a file path (e.g. {path / 'out.png'}), or {fix}")
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(f"{flag} {path} cannot be created: {path.parent} is a file, not a folder; {fix}")
    check_output_dir(path.parent, f"{flag} {path}: its folder", fix)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {path} exists and cannot be written (permission denied); {fix}")
    return path


def make_dir(path: str | Path, flag: str, fix: str = "choose another folder") -> Path:
    """Create the folder `path` (and its parents), with a ConfigError naming `flag` instead of an OSError."""
    path = Path(path)
    if path.is_dir():
        return path
    check_output_dir(path, flag, fix)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{flag} {path} cannot be created ({exc.strerror or exc}); {fix}") from exc
    return path


def _write_error(path: Path, exc: OSError) -> ConfigError:
    try:
        under_cache = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "stargan-course").expanduser()
        hint = (f"set ${CACHE_ENV} to a folder you can write" if path.resolve().is_relative_to(under_cache.resolve())
                else "choose a folder you can write to")
    except (OSError, ValueError):
        hint = "choose a folder you can write to"
    return ConfigError(f"cannot write {path}: {exc.strerror or exc} ({exc.__class__.__name__}); {hint}")


def params_key(params: dict[str, Any], length: int = 16) -> str:
    """A short stable hash of a JSON-able dict: the cache key of whatever those parameters make."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def current_umask() -> int:
    """This process's umask (read from /proc where it can be, so the umask is never changed, even briefly)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode a plain `open(path, "w")` gives a new file: 0o666 less the umask (0o644 under umask 022)."""
    return 0o666 & ~current_umask()


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in the folder of `path` (created as needed); a ConfigError naming the path when the
    folder cannot be created or written (a read-only cache, a file where a folder should be)."""
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a folder; give a file path")
    make_dir(path.parent, f"the folder of {path}")
    try:
        return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from exc


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old file or the new one, never half of one.

    The file gets the user's usual mode (0o666 less the umask), not the 0o600 of a temporary file."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        os.fchmod(fd, default_file_mode())
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
    """`torch.save` through a temporary file and an atomic rename (mode: 0o666 less the umask)."""
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        try:
            os.fchmod(fd, default_file_mode())
        finally:
            os.close(fd)
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

    `nets` maps names to modules or to state dicts. Introduced in `notebooks/01_cyclegan_baseline.ipynb`;
    the training engine checks before every checkpoint and on resume, `stargan eval` / `stargan sample`
    before using weights.
    """
    bad = []
    for name, net in nets.items():
        sd = net.state_dict() if isinstance(net, torch.nn.Module) else (net or {})
        for key, t in sd.items():
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


# The largest image side any model is built for (the papers train at 128-256 px; CelebA-HQ exists at 1024):
# the data, activations and the size-dependent kernels of larger images cannot be allocated.
MAX_IMAGE_SIZE = 1024

# Ranges a numeric config field may declare in its metadata ("range": kind; "max": a largest value).
FIELD_RANGES: dict[str, tuple[str, Any]] = {
    "positive": ("a finite number > 0", lambda v: v > 0),
    "nonneg": ("a finite number >= 0", lambda v: v >= 0),
    "count": ("an integer >= 1", lambda v: v >= 1 and float(v).is_integer()),
    "count0": ("an integer >= 0", lambda v: v >= 0 and float(v).is_integer()),
    "beta": ("a number in [0, 1)", lambda v: 0 <= v < 1),
}


def field_range(kind: str, maximum: float | None = None) -> dict[str, Any]:
    """Field metadata declaring the values a numeric config field accepts (`check_fields` enforces it).

    kind: "positive" (> 0: learning rates), "nonneg" (>= 0: loss weights, weight decay, γ), "count"
    (integer >= 1: sizes, batch, iterations), "count0" (integer >= 0: 0 = off / derived) or "beta"
    ([0, 1): Adam β, EMA β); `maximum`: the largest value that can be allocated or makes sense."""
    if kind not in FIELD_RANGES:
        raise ValueError(f"unknown field range {kind!r}; one of {sorted(FIELD_RANGES)}")
    return {"range": kind, **({"max": maximum} if maximum is not None else {})}


def check_fields(cfg: Any) -> None:
    """Every numeric field of a config dataclass is finite (no NaN, no infinity) and within the range its
    metadata declares (`field_range`); else a ConfigError naming the field, its flag, the value and a
    value that works (the paper's default). Every model's config validation calls this first.

    Introduced in `notebooks/01_cyclegan_baseline.ipynb` (configs are validated when they are made)."""
    import dataclasses
    import math
    import numbers

    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name, None)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            continue
        kind, top = f.metadata.get("range"), f.metadata.get("max")
        need, test = FIELD_RANGES.get(kind, ("a finite number", lambda v: True))
        if math.isfinite(value) and test(value) and (top is None or value <= top):
            continue
        flag = "--" + f.name.replace("_", "-")
        limit = f" and at most {top}" if top is not None else ""
        example = f"; e.g. the paper's {f.default!r}" if isinstance(f.default, (int, float)) else ""
        raise ConfigError(f"{f.name}={value!r} ({flag}): must be {need}{limit}{example}. Set a valid value "
                          f"({flag} on the command line, {f.name}=... in Python)")


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
