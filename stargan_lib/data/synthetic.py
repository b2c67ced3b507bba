"""The synthetic data family the course trains on: procedural, deterministic, rendered at any size.

Introduced in `notebooks/00_setup_and_data.ipynb`.

Real face and animal datasets cannot be downloaded on every machine, and GANs trained on them need
GPU-days. So the course draws its own images. Four datasets stand in for the four of the papers:

=================  ==========  =========================================================  ===========
name               stands for  labels                                                     label kind
=================  ==========  =========================================================  ===========
``faces``          CelebA      Black_Hair, Blond_Hair, Brown_Hair, Male, Young            binary
``expressions``    RaFD        angry ... surprised (8 expressions)                        domain
``animals``        AFHQ        cat, dog, wild                                             domain
``faces_gender``   CelebA-HQ   female, male                                               domain
=================  ==========  =========================================================  ===========

How an image is made: see `stargan_lib.data.synthetic_canvas` (signed distances painted at any
size). The families live in `synthetic_faces` (faces, expressions, faces_gender) and `synthetic_animals`;
this module is the registry (`DATASETS`, `describe`, `factor_names`), `render` and the cached
`make_dataset`.

Caching
-------
`make_dataset` stores each generated set in `cache_dir("data")` as a compressed ``.npz`` whose
name holds a hash of every parameter (dataset, split, size, count, seed, `RENDERER_VERSION`), so
the next notebook loads it from disk instead of drawing it again. Bump `RENDERER_VERSION` whenever
a change to these modules changes a single pixel.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from stargan_lib.data.base import (
    AFHQ_DOMAINS,
    CELEBA_ATTRS,
    CELEBA_HQ_DOMAINS,
    RAFD_EXPRESSIONS,
    ImageSet,
)
from stargan_lib.data.synthetic_animals import (ANIMAL_EYE_COLORS, FUR_COLORS, FUR_PATTERNS,  # noqa: F401
                                                SCENES, paint_animals, sample_animals)
from stargan_lib.data.synthetic_faces import (EYE_COLORS, HAIR_COLORS, paint_faces,  # noqa: F401
                                              sample_expressions, sample_faces, sample_faces_gender, skin_rgb)
from stargan_lib.errors import ConfigError
from stargan_lib.presets import Preset, get_preset
from stargan_lib.utils import atomic_write_bytes, cache_dir, params_key

# Bump when the pictures change: it is part of every cache key.
RENDERER_VERSION = 1

SPLITS = ("train", "test")

# Pixels painted per batch (images * height * width): keeps every temporary array ~2 MB, in cache.
_PIXELS_PER_BATCH = 1 << 19


# ==================================================================================================
# The registry of datasets
# ==================================================================================================

@dataclass(frozen=True)
class DatasetInfo:
    """What a synthetic dataset is: its labels, its factors, and which factors are content."""

    name: str
    stands_for: str
    label_kind: str                         # "binary" or "domain"
    label_names: tuple[str, ...]
    content: tuple[str, ...]                # factors a translation must keep (pose, identity, scene)
    between: str                            # what changes between domains / attributes
    within: str                             # what varies inside a domain
    sample: Callable
    paint: Callable
    # Categorical factors that make up an image's *style* inside its domain (what reference-guided
    # synthesis should copy), each with its class names, read by the oracle's style heads; () where the
    # course does not score style.
    style: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The content factors that are the subject's pose and position (what `pose_kept` checks).
    pose: tuple[str, ...] = ()


_FACE_FACTORS_DOC = ("skin tone, face width and height, position, background colour and gradient, "
                     "eye colour, shirt colour, lip colour, lighting direction")

DATASETS: dict[str, DatasetInfo] = {
    "faces": DatasetInfo(
        name="faces", stands_for="CelebA", label_kind="binary", label_names=tuple(CELEBA_ATTRS),
        content=("pos_x", "pos_y", "face_w", "face_h", "skin_tone", "background"),
        between=("hair colour (black / blond / brown, or none of them: grey or red), gender (Male: short "
                 "hair, visible ears, square jaw, thicker brows, stubble or beard; female: long hair, "
                 "lipstick) and age (not Young: forehead lines, smile lines, eye bags, receding hairline)"),
        within=_FACE_FACTORS_DOC + ", beard type, hair length, casual expression (smile, open mouth)",
        sample=sample_faces, paint=paint_faces),
    "expressions": DatasetInfo(
        name="expressions", stands_for="RaFD", label_kind="domain", label_names=tuple(RAFD_EXPRESSIONS),
        content=("face_w", "face_h", "skin_tone", "hair_rgb", "background"),
        between=("the facial expression, drawn with brows (raised, lowered, tilted), eyes (narrowed, wide) "
                 "and mouth (smile, frown, open lens, round O, one-sided smirk, teeth, nose wrinkles)"),
        within=("the person (skin tone, face shape, hair colour and length, gender, age, eye colour), the "
                "expression's intensity, and the studio light; capture style: centred, fixed framing, "
                "plain light background, black shirt, strong side light"),
        sample=sample_expressions, paint=paint_faces),
    "animals": DatasetInfo(
        name="animals", stands_for="AFHQ", label_kind="domain", label_names=tuple(AFHQ_DOMAINS),
        content=("pos_x", "pos_y", "head_size", "background"),
        between=("the head's shape: cat = round head, tall pointed ears, small cheeks, pink nose, whiskers, "
                 "slit pupils; dog = long head, floppy ears, big snout, black nose, tongue; wild = broad head "
                 "with a ragged mane, small round ears, broad pale muzzle, tear marks"),
        within=("fur colour (8 colours), fur pattern (solid / stripes / spots, with its frequency, angle, "
                "contrast), muzzle colour, eye colour (5), ear size, mane size and colour, scene behind "
                "(grass, soil, rock, sky, snow), position and head size"),
        sample=sample_animals, paint=paint_animals,
        style=(("fur_color", tuple(FUR_COLORS)), ("pattern", tuple(FUR_PATTERNS))),
        pose=("pos_x", "pos_y", "head_size")),
    "faces_gender": DatasetInfo(
        name="faces_gender", stands_for="CelebA-HQ", label_kind="domain", label_names=tuple(CELEBA_HQ_DOMAINS),
        content=("pos_x", "pos_y", "face_w", "face_h", "skin_tone", "background"),
        between=("gender: female = long hair, lipstick, fine brows; male = short hair, visible ears, "
                 "square jaw, thick brows, stubble or beard"),
        within=("hair colour (black, blond, brown, grey, red), hair length, beard type, age (wrinkles), "
                + _FACE_FACTORS_DOC + ", casual expression; large centred faces on soft two-tone backgrounds"),
        sample=sample_faces_gender, paint=paint_faces),
}


def dataset_info(name: str) -> DatasetInfo:
    """The `DatasetInfo` of `name`, or a ConfigError that lists the valid names."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown synthetic dataset {name!r}; choose one of {list(DATASETS)}") from None


def describe(name: str) -> str:
    """A paragraph on what varies between the domains of `name` and what varies inside one."""
    info = dataset_info(name)
    unit = "attributes" if info.label_kind == "binary" else "domains"
    return (f"{name} (a synthetic stand-in for {info.stands_for}; {info.label_kind} labels: "
            f"{', '.join(info.label_names)}).\n"
            f"Between {unit}: {info.between}.\n"
            f"Inside a domain: {info.within}.\n"
            f"Content a translation must keep: {', '.join(info.content)}.")


def factor_names(name: str) -> list[str]:
    """Names of every factor recorded for each image of dataset `name` (sorted)."""
    info = dataset_info(name)
    if name not in _FACTOR_NAMES:
        factors, _ = info.sample(np.random.default_rng(0), 1)
        _FACTOR_NAMES[name] = sorted(factors)
    return list(_FACTOR_NAMES[name])


_FACTOR_NAMES: dict[str, list[str]] = {}


def content_factors(name: str) -> list[str]:
    """The factors of `name` that a translation must preserve (position, face shape, skin, scene)."""
    return list(dataset_info(name).content)


def style_factors(name: str) -> list[str]:
    """The categorical style factors of `name` (animals: fur colour and pattern class) that the oracle
    reads and reference-guided synthesis should copy; empty for sets whose style is not scored.
    Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb`."""
    return [factor for factor, _ in dataset_info(name).style]


def style_classes(name: str) -> dict[str, list[str]]:
    """{style factor: its class names} of `name` (the recorded factor holds the class index)."""
    return {factor: list(classes) for factor, classes in dataset_info(name).style}


def pose_factors(name: str) -> list[str]:
    """The content factors of `name` that are pose and position (animals: pos_x, pos_y, head_size);
    `metrics.oracle_metrics.pose_kept` checks them. Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb`."""
    return list(dataset_info(name).pose)


# ==================================================================================================
# Public API: render (no cache) and make_dataset (cached)
# ==================================================================================================

def _check_size(image_size) -> int:
    if not isinstance(image_size, (int, np.integer)) or isinstance(image_size, bool) or image_size < 8:
        raise ConfigError(f"image_size={image_size!r} is not usable; give an integer of at least 8 "
                          "(the course uses 16, 32, 64 or 128)")
    return int(image_size)


def render(name: str, n: int, image_size: int, seed: int = 0) -> ImageSet:
    """Draw `n` images of dataset `name` at `image_size` px from `seed` (deterministic, no cache).

    Factors are drawn first (they do not depend on the size), then painted in batches, so the same
    seed gives the same pictures at every resolution.
    """
    info = dataset_info(name)
    size = _check_size(image_size)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"n={n!r} images cannot be rendered; give a non-negative integer")
    n = int(n)
    rng = np.random.default_rng(seed)
    factors, labels = info.sample(rng, n)
    factors = {k: _as_factor_array(v) for k, v in factors.items()}
    images = paint_factors(name, factors, size)
    params = {"dataset": name, "n": n, "image_size": size, "seed": int(seed), "renderer_version": RENDERER_VERSION}
    return ImageSet(name=name, split="custom", images=images, labels=labels, label_names=list(info.label_names),
                    label_kind=info.label_kind, factors=factors, params=params)


def paint_factors(name: str, factors: dict[str, np.ndarray], image_size: int) -> np.ndarray:
    """Paint images of dataset `name` from given factors: (N, S, S, 3) uint8.

    `factors` is an `ImageSet.factors` dict, possibly edited: change one factor (say "male" or
    "pattern") and paint again to see exactly what that factor does, everything else kept.
    """
    info = dataset_info(name)
    size = _check_size(image_size)
    missing = sorted(set(factor_names(name)) - set(factors))
    if missing:
        raise ConfigError(f"factors for {name!r} lack {missing}; start from an ImageSet.factors of {name!r}")
    n = len(next(iter(factors.values())))
    images = np.empty((n, size, size, 3), np.uint8)
    batch = max(1, _PIXELS_PER_BATCH // (size * size))
    for start in range(0, n, batch):
        part = {k: np.asarray(v)[start:start + batch] for k, v in factors.items()}
        images[start:start + batch] = info.paint(part, size)
    return images


def _as_factor_array(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v)
    if v.dtype.kind in "iub":
        return v.astype(np.int64)
    return v.astype(np.float32)


def split_seed(name: str, split: str, seed: int) -> int:
    """The rendering seed of one split: train and test never share images."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    words = [int(seed) % 2**32, SPLITS.index(split), list(DATASETS).index(name)]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def _cache_path(params: dict) -> Path:
    key = params_key(params)
    return cache_dir("data") / f"{params['dataset']}_{params['split']}_{params['image_size']}px_n{params['n']}_{key}.npz"


def _save(ds: ImageSet, path: Path) -> None:
    arrays = {"images": ds.images, "labels": ds.labels}
    arrays.update({f"factor__{k}": v for k, v in ds.factors.items()})
    meta = {"name": ds.name, "split": ds.split, "label_names": ds.label_names, "label_kind": ds.label_kind,
            "params": ds.params}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load(path: Path) -> ImageSet:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        factors = {k[len("factor__"):]: z[k] for k in z.files if k.startswith("factor__")}
        return ImageSet(name=meta["name"], split=meta["split"], images=z["images"], labels=z["labels"],
                        label_names=meta["label_names"], label_kind=meta["label_kind"], factors=factors,
                        params=meta["params"])


def make_dataset(name: str, split: str = "train", n: int | None = None, image_size: int | None = None,
                 seed: int = 0, preset: str | Preset | None = None, cache: bool = True) -> ImageSet:
    """The synthetic set `name` / `split`, loaded from the disk cache or rendered and cached.

    n and image_size default to the preset's n_train (n_test for split "test") and image_size;
    the preset defaults to `$STARGAN_PRESET` or "course". The train and test splits are drawn
    from different seeds derived from `seed`.
    """
    dataset_info(name)
    preset = preset if isinstance(preset, Preset) else get_preset(preset)
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    n = (preset.n_train if split == "train" else preset.n_test) if n is None else n
    size = _check_size(preset.image_size if image_size is None else image_size)
    params = {"dataset": name, "split": split, "n": int(n), "image_size": size, "seed": int(seed),
              "renderer_version": RENDERER_VERSION}
    path = _cache_path(params) if cache else None
    if path is not None and path.is_file():
        try:
            return _load(path)
        except Exception as exc:  # a truncated or foreign file: the cache is disposable, draw again
            warnings.warn(f"synthetic data cache {path} is unreadable ({exc}); rendering it again", stacklevel=2)
    ds = render(name, n, size, split_seed(name, split, seed))
    ds.split = split
    ds.params = params
    if path is not None:
        _save(ds, path)
    return ds
