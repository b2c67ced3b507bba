"""The official StarGAN v2 demo on real photos: the released networks (AFHQ, and CelebA-HQ with the
face-alignment network's high-pass masks) translate the sample photos with the styles of reference photos.

Introduced in `notebooks/05_stargan_v2_D_to_F.ipynb` (section 9), which calls `official_demo`.

The released files are not part of the course (about 1 GB together, CC BY-NC 4.0). They come from the
official repository's download script, run in a clone of it:

    git clone https://github.com/clovaai/stargan-v2 && cd stargan-v2
    bash download.sh pretrained-network-afhq        # expr/checkpoints/afhq/100000_nets_ema.ckpt
    bash download.sh pretrained-network-celeba-hq   # expr/checkpoints/celeba_hq/100000_nets_ema.ckpt
    bash download.sh wing                           # expr/checkpoints/wing.ckpt (FAN, CelebA-HQ only)

and go to the same paths under the course checkout (`stargan_lib.paths.official_checkpoint_dir`).
`missing_files_message` prints exactly these commands for the files that are absent.

As the official `sample` mode (its reference-guided synthesis): every source is translated with the
style code E_y(x_ref) of every reference; with the CelebA-HQ network, G receives FAN's masks of the
source (`stargan_lib.models.fan`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from stargan_lib.data.base import to_tensor_image
from stargan_lib.data.real import load_rgb
from stargan_lib.errors import ConfigError
from stargan_lib.models.fan import FAN
from stargan_lib.models.stargan_v2 import load_official_nets_ema, translate_reference

# The sample photos (tests/fixtures/samples/<dataset>/<domain>/) used as sources and references.
DEMO_PHOTOS: dict[str, dict[str, list[str]]] = {
    "afhq": {"domains": ["cat", "dog", "wild"],
             "sources": ["cat/flickr_cat_000253.jpg", "dog/pixabay_dog_000322.jpg", "wild/flickr_wild_000432.jpg"],
             "references": ["cat/pixabay_cat_001479.jpg", "dog/pixabay_dog_000799.jpg",
                            "wild/flickr_wild_003796.jpg"]},
    "celeba_hq": {"domains": ["female", "male"],
                  "sources": ["female/039913.jpg", "male/145842.jpg"],
                  "references": ["female/091623.jpg", "male/156498.jpg"]},
}
DOWNLOAD_TARGET = {"afhq": "pretrained-network-afhq", "celeba_hq": "pretrained-network-celeba-hq"}
CLONE = "git clone https://github.com/clovaai/stargan-v2"


def _check_dataset(dataset: str) -> None:
    if dataset not in DEMO_PHOTOS:
        raise ConfigError(f"no official demo for dataset {dataset!r}; choose one of {sorted(DEMO_PHOTOS)}")


def needed_files(dataset: str, ckpt: str | Path, wing: str | Path | None = None) -> dict[str, Path]:
    """The files the demo of `dataset` reads: {"nets_ema": ckpt} and, for CelebA-HQ, {"wing": wing}."""
    _check_dataset(dataset)
    files = {"nets_ema": Path(ckpt)}
    if dataset == "celeba_hq":
        if wing is None:
            raise ConfigError("the CelebA-HQ demo needs the face-alignment network: pass wing= (wing.ckpt's path)")
        files["wing"] = Path(wing)
    return files


def missing_files_message(dataset: str, ckpt: str | Path, wing: str | Path | None = None) -> str | None:
    """None when the demo's files exist; else the shell commands that fetch the missing ones and put
    them where the demo looks (`ckpt`, `wing`)."""
    files = needed_files(dataset, ckpt, wing)
    missing = {k: p for k, p in files.items() if not p.is_file()}
    if not missing:
        return None
    lines = [f"The official {dataset} demo needs {len(missing)} released file(s) that are not here:"]
    lines += [f"  {p}" for p in missing.values()]
    lines += ["Fetch them with the official repository's download script (CC BY-NC 4.0):", f"  {CLONE}"]
    for key, path in missing.items():
        target = DOWNLOAD_TARGET[dataset] if key == "nets_ema" else "wing"
        saved = (f"expr/checkpoints/{dataset}/100000_nets_ema.ckpt" if key == "nets_ema"
                 else "expr/checkpoints/wing.ckpt")
        lines += [f"  (cd stargan-v2 && bash download.sh {target})        # saves stargan-v2/{saved}",
                  f"  mkdir -p '{path.parent}' && cp 'stargan-v2/{saved}' '{path}'"]
    lines.append("then run this cell again.")
    return "\n".join(lines)


def photo(path: str | Path, image_size: int) -> torch.Tensor:
    """A photo as (3, image_size, image_size) in [-1, 1] (resized as the official test loader does)."""
    return to_tensor_image(np.array(load_rgb(Path(path), image_size)))


@torch.no_grad()
def official_demo(dataset: str, ckpt: str | Path, samples_dir: str | Path, wing: str | Path | None = None,
                  device: str | torch.device = "cpu") -> dict[str, Any]:
    """Reference-guided synthesis of the released `dataset` network on the sample photos.

    Returns {"images": (N, 3, 256, 256) in [-1, 1] for `viz.show_grid`, "nrow", "col_labels",
    "title"}: a header row (a blank corner, the references), then each source followed by its
    translation with each reference's style. CelebA-HQ's generator gets FAN's masks of the source
    (`wing`: the released wing.ckpt). Files are loaded safely (`weights_only=True`).
    """
    files = needed_files(dataset, ckpt, wing)
    device = torch.device(device)
    fan = FAN(fname_pretrained=files["wing"]).to(device) if "wing" in files else None   # small: checked first
    nets = load_official_nets_ema(str(files["nets_ema"]), dataset=dataset).to(device).eval()
    spec, size = DEMO_PHOTOS[dataset], nets.cfg.image_size
    folder = Path(samples_dir)
    x_src = torch.stack([photo(folder / p, size) for p in spec["sources"]]).to(device)
    x_ref = torch.stack([photo(folder / p, size) for p in spec["references"]]).to(device)
    m = len(x_ref)
    y_ref = torch.arange(m, device=device)                       # one reference per domain, in domain order
    rows = [torch.cat([torch.ones_like(x_ref[:1]), x_ref])]
    for i in range(len(x_src)):
        xi = x_src[i:i + 1].expand(m, -1, -1, -1)
        masks = fan.get_heatmap(xi) if fan is not None else None
        rows.append(torch.cat([x_src[i:i + 1], translate_reference(nets, xi, y_ref, x_ref, masks)]))
    hpf = " with FAN's high-pass masks" if fan is not None else ""
    return {"images": torch.cat(rows).float().cpu().clamp(-1, 1), "nrow": m + 1,
            "col_labels": ["source"] + list(spec["domains"]),
            "title": f"released StarGAN v2 ({dataset}{hpf}): reference-guided synthesis"}
