"""`stargan data export|preview|info`: the course data from a shell.

Introduced in `notebooks/00_setup_and_data.ipynb`.

  stargan data export animals --out data/afhq_synth          # train/ + val/ domain folders
  stargan data export faces --out data/celeba_synth --n 500  # img_align_celeba/ + list_attr_celeba.txt
  stargan data preview expressions --out grid.png --n 16
  stargan data preview data/afhq/train                        # a real folder works too
  stargan data info data/afhq                                 # what is in a download, and which --data-dir
  stargan data info data/afhq --check                         # decode every image, name the unreadable ones

Commands that read image files take `--on-bad skip|error` (the library's `on_bad`): skip leaves an
unreadable file out with a warning, error stops at it.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from stargan_lib.errors import DataError
from stargan_lib.cli.dataclass_args import add_on_bad_arg, image_px, nonneg_int, positive_int

SYNTHETIC = ("faces", "expressions", "animals", "faces_gender")


# The most image memory a synthetic set may take (N x size x size x 3 bytes): larger requests are refused
# before rendering starts instead of failing in the allocator.
MAX_RENDER_BYTES = 8 * 2 ** 30


def check_render_size(n_images: int, size: int, flags: str) -> None:
    """Refuse (DataError naming the flags) a set of `n_images` images of `size` px that needs more than
    MAX_RENDER_BYTES of memory. Introduced in `notebooks/00_setup_and_data.ipynb` (`stargan data export`)."""
    need = n_images * size * size * 3
    if need > MAX_RENDER_BYTES:
        raise DataError(f"{n_images:,} images of {size} px need {need / 2 ** 30:,.1f} GiB of memory, more than the "
                        f"{MAX_RENDER_BYTES / 2 ** 30:.0f} GiB allowed; lower {flags}")


def _make(name: str, split: str, n: int, size: int | None, seed: int, preset: str | None):
    from stargan_lib.data.synthetic import make_dataset

    return make_dataset(name, split=split, n=n, image_size=size, seed=seed, preset=preset)


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------

def cmd_export(args: argparse.Namespace) -> int:
    """`stargan data export`: write a synthetic set in a real layout (notebook 00 shows the same from Python)."""
    from stargan_lib.data.export import export_imageset
    from stargan_lib.presets import get_preset
    from stargan_lib.utils import check_cache_writable, check_output_dir

    check_output_dir(args.out, "--out", "give a new folder you can write")    # before any image is rendered
    check_cache_writable()
    preset = get_preset(args.preset)
    n = preset.n_train if args.n is None else args.n
    n_test = preset.n_test if args.n_test is None else args.n_test
    size = preset.image_size if args.size is None else args.size
    check_render_size(n + n_test, size, "--n / --n-test or --size")
    train = _make(args.dataset, "train", n, size, args.seed, preset.name)
    test = _make(args.dataset, "test", n_test, size, args.seed, preset.name) if n_test > 0 else None
    result = export_imageset(train, args.out, args.layout, test_set=test, overwrite=args.overwrite,
                             image_format=args.format, progress=args.progress)
    print(result.describe())
    return 0


# ------------------------------------------------------------------------------------------------
# preview
# ------------------------------------------------------------------------------------------------

def grid_image(images: np.ndarray, nrow: int, pad: int = 2, min_cell: int = 64) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one (rows*H', nrow*W', 3) uint8 grid, small images enlarged (nearest) to min_cell."""
    n, h, w, _ = images.shape
    scale = max(1, -(-min_cell // max(h, w)))
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    grid = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, ncol)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top:top + h, left:left + w] = images[k]
    return grid


def _spread(labels: np.ndarray, kind: str, n: int) -> np.ndarray:
    """Indices of n items, taking domains in turn (so every domain shows), else the first n."""
    if kind != "domain":
        return np.arange(min(n, len(labels)))
    per = [list(np.flatnonzero(labels == k)) for k in range(int(labels.max()) + 1)] if len(labels) else []
    out: list[int] = []
    while len(out) < min(n, len(labels)):
        for idx in per:
            if idx and len(out) < n:
                out.append(idx.pop(0))
    return np.asarray(out, dtype=np.int64)


def _describe_label(label: np.ndarray, names: list[str], kind: str) -> str:
    if kind == "domain":
        return names[int(label)]
    on = [a for a, v in zip(names, label) if v > 0.5]
    return "+".join(on) if on else "(none)"


def cmd_preview(args: argparse.Namespace) -> int:
    """`stargan data preview`: save a grid of a synthetic set or a real folder (introduced in notebook 00)."""
    from PIL import Image

    from stargan_lib.data.base import ImageSet
    from stargan_lib.data.datasets import to_imageset
    from stargan_lib.data.real import CelebADataset, FolderDataset, detect_layout
    from stargan_lib.presets import get_preset

    from stargan_lib.utils import check_cache_writable, check_output_file

    check_output_file(args.out, "--out", "give a PNG file path you can write")
    source = args.dataset
    if source in SYNTHETIC:
        check_cache_writable()
        preset = get_preset(args.preset)
        size = preset.image_size if args.size is None else args.size
        pool = max(args.n, 4 * args.n)  # enough items for every domain to appear
        check_render_size(pool, size, "--n or --size")
        imageset: ImageSet = _make(source, args.split, pool, size, args.seed, preset.name)
        shown = imageset.subset(_spread(np.asarray(imageset.labels), imageset.label_kind, args.n))
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"{source!r} is neither a synthetic dataset ({', '.join(SYNTHETIC)}) nor an existing "
                            "folder; check the spelling or the path")
        layout = detect_layout(path)
        size = 128 if args.size is None else args.size
        if layout.kind == "celeba":
            dataset = CelebADataset(path, split="all", image_size=size, check_files=False, on_bad=args.on_bad)
        elif layout.kind == "domains":
            dataset = FolderDataset(path, image_size=size, check_files=False, on_bad=args.on_bad)
        else:
            FolderDataset(path, image_size=size, on_bad=args.on_bad)  # raises the error that explains the layout
            raise DataError(f"cannot preview {path}: {layout.describe()}")
        pick = _spread(np.asarray(dataset.labels), dataset.label_kind, args.n)
        from torch.utils.data import Subset

        sub = Subset(dataset, pick.tolist())
        sub.labels, sub.label_names, sub.label_kind, sub.root = (
            np.asarray(dataset.labels)[pick], dataset.label_names, dataset.label_kind, dataset.root)
        shown = to_imageset(sub, name=path.name, split="preview")
    grid = grid_image(shown.images, args.nrow)
    out = Path(args.out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(out)
    print(f"wrote {out} ({len(shown)} images of {source}, {shown.image_size} px, {args.nrow} per row)")
    for k in range(len(shown)):
        label = _describe_label(shown.labels[k], shown.label_names, shown.label_kind)
        print(f"  [{k // args.nrow},{k % args.nrow}] {label}")
    return 0


# ------------------------------------------------------------------------------------------------
# info
# ------------------------------------------------------------------------------------------------

def cmd_info(args: argparse.Namespace) -> int:
    """`stargan data info [--check]`: layout, domains, counts and --data-dir of a folder (introduced in notebook 00)."""
    from stargan_lib.data.export import MANIFEST, read_manifest
    from stargan_lib.data.real import BadImageWarning, CelebADataset, FolderDataset, detect_layout

    path = Path(args.dir).expanduser()
    layout = detect_layout(path)
    print(layout.describe())
    if (path / MANIFEST).is_file():
        m = read_manifest(path)
        print(f"  exported by `stargan data export`: synthetic {m['dataset']!r}, {m['image_size'][0]} px, "
              f"counts {m['counts']}" + (f"; CelebA test split: {m['celeba_test_size']} images"
                                         if m.get("celeba_test_size") else ""))
    if layout.kind == "unknown":
        return 1
    if args.check:
        targets = ([path] if layout.kind in ("celeba", "domains")
                   else [path / s for s in layout.details["splits"]])
        for target in targets:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", BadImageWarning)
                # "decode": every pixel is read, so files cut after an intact header are found too.
                if layout.kind == "celeba":          # duplicates are reported by the layout above, not an error here
                    ds = CelebADataset(target, split="all", check_files="decode", on_bad=args.on_bad,
                                       progress=args.progress, allow_duplicates=True)
                else:
                    ds = FolderDataset(target, check_files="decode", on_bad=args.on_bad, progress=args.progress)
            bad = [str(w.message) for w in caught if issubclass(w.category, BadImageWarning)]
            print(f"  checked {target}: {len(ds)} readable images" + ("" if not bad else f"; {'; '.join(bad)}"))
    if layout.kind == "celeba" and layout.details.get("n_duplicates"):
        return 1                                  # training refuses an attribute file listing an image twice
    return 0


# ------------------------------------------------------------------------------------------------
# argparse
# ------------------------------------------------------------------------------------------------

def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `stargan data export|preview|info`; introduced in `notebooks/00_setup_and_data.ipynb`."""
    from stargan_lib.data.export import LAYOUTS
    from stargan_lib.presets import PRESETS

    data = subparsers.add_parser(
        "data", help="export, preview and inspect datasets",
        description="Synthetic course data and real dataset folders: export a synthetic set in a real layout, "
                    "preview a set as an image grid, or check what a downloaded folder holds.")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    ex = sub.add_parser(
        "export", help="write a synthetic set in a real dataset's folder layout",
        description="Render a synthetic dataset (training and held-out split) and write it as CelebA "
                    "(img_align_celeba/ + list_attr_celeba.txt), StarGAN v2 folders (train|val/<domain>/) or RaFD "
                    "folders (train|test/<expression>/), with export.json and factors.npz (generative factors).")
    ex.add_argument("dataset", choices=SYNTHETIC, help="synthetic dataset to export")
    ex.add_argument("--out", required=True, help="output folder (must be new or empty; see --overwrite)")
    ex.add_argument("--layout", choices=sorted(LAYOUTS), default=None,
                    help="folder layout (default: faces->celeba, expressions->rafd, animals/faces_gender->folders)")
    ex.add_argument("--preset", choices=sorted(PRESETS), default=None,
                    help="preset giving the default sizes (default: $STARGAN_PRESET or course)")
    ex.add_argument("--n", type=positive_int, default=None, help="training images (default: the preset's n_train)")
    ex.add_argument("--n-test", type=nonneg_int, default=None,
                    help="held-out images, 0 for none (default: the preset's n_test)")
    ex.add_argument("--size", type=image_px, default=None, help="image size in px (default: the preset's)")
    ex.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    ex.add_argument("--format", choices=["png", "jpg"], default="png",
                    help="image file format; png keeps pixels exact (default png)")
    ex.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    ex.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    ex.set_defaults(func=cmd_export)

    pv = sub.add_parser(
        "preview", help="write a PNG grid of a synthetic set or a dataset folder",
        description="Save a grid of images (domains taken in turn) and print each cell's label.")
    pv.add_argument("dataset", metavar="DATASET_OR_DIR",
                    help=f"a synthetic dataset ({', '.join(SYNTHETIC)}) or a folder in a real layout "
                         "(CelebA root or a split folder such as data/afhq/train)")
    pv.add_argument("--out", default="preview.png", help="PNG file to write (default preview.png)")
    pv.add_argument("--n", type=positive_int, default=16, help="number of images (default 16)")
    pv.add_argument("--nrow", type=positive_int, default=8, help="images per row (default 8)")
    pv.add_argument("--size", type=image_px, default=None,
                    help="image size in px (default: the preset's for synthetic sets, 128 for folders)")
    pv.add_argument("--preset", choices=sorted(PRESETS), default=None, help="preset (synthetic sets only)")
    pv.add_argument("--split", choices=["train", "test"], default="train", help="split (synthetic sets only)")
    pv.add_argument("--seed", type=int, default=0, help="generation seed (synthetic sets only)")
    add_on_bad_arg(pv, "skip")
    pv.set_defaults(func=cmd_preview)

    info = sub.add_parser(
        "info", help="describe a dataset folder: layout, domains and counts or attributes",
        description="Recognise the layout of a downloaded or exported folder and print its domains with image "
                    "counts (or CelebA's attributes), and the --data-dir to pass for training.")
    info.add_argument("dir", help="the folder to inspect")
    info.add_argument("--check", action="store_true",
                      help="also decode every image completely and report each unreadable file by path (corrupt, "
                           "truncated after an intact header, not an image, a broken or looping symbolic link)")
    info.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                      help="progress bar for --check")
    add_on_bad_arg(info, "skip")
    info.set_defaults(func=cmd_info)
