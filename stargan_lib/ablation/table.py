"""The ablation's table: one row per configuration record, the trend of Table 1 checked on them,
and `ablation.csv`, `ablation.md` (ours beside the paper's numbers) and `ablation.png`.

Introduced in `notebooks/06_ablation_table.ipynb`.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

from stargan_lib.ablation.settings import MANIFEST, PAPER_NAMES, PAPER_TABLE1, TABLE_FILES, load_result
from stargan_lib.configs_v2 import DESCRIPTIONS, LETTERS
from stargan_lib.utils import atomic_write_bytes, read_json_object

# The paper's metrics with their bootstrap standard errors over the sources, then the course metrics
# (read by the oracle on synthetic data: oracle Fréchet distance, target accuracy, pose kept, reference
# style agreement and its chance level), then the run. Empty where undefined.
CSV_COLUMNS = ("config", "fid", "fid_se", "lpips", "lpips_se", "oracle_fd", "oracle_fd_se", "oracle_accuracy",
               "pose_kept", "style_agreement", "style_agreement_chance", "content_error", "description", "status",
               "fid_reference", "lpips_reference", "images_per_pair", "paper_fid", "paper_lpips", "iterations",
               "train_s", "eval_s", "total_s", "preset", "dataset", "seed", "notebook", "error")
COURSE_METRICS = ("oracle_fd", "oracle_fd_se", "oracle_accuracy", "pose_kept", "style_agreement",
                  "style_agreement_chance")


def collect_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """One flat row per configuration with a record in `out_dir` (ok or failed), in Table 1 order."""
    rows = []
    for letter in LETTERS:
        res = load_result(out_dir, letter)
        if res is None:
            continue
        m, t = res.get("metrics", {}), res.get("timings", {})
        rows.append({
            "config": letter, "description": res.get("description", DESCRIPTIONS[letter]),
            "status": res.get("status", "failed"), "fid": m.get("fid"), "fid_se": m.get("fid_se"),
            "lpips": m.get("lpips"), "lpips_se": m.get("lpips_se"),
            **{k: m.get(k) for k in COURSE_METRICS},
            "oracle_accuracy": m.get("oracle_accuracy"), "content_error": m.get("content_error"),
            "fid_reference": m.get("fid_reference"), "lpips_reference": m.get("lpips_reference"),
            "images_per_pair": m.get("images_per_pair"),
            "paper_fid": PAPER_TABLE1[letter]["fid"], "paper_lpips": PAPER_TABLE1[letter]["lpips"],
            "iterations": res.get("iterations"), "train_s": t.get("train_s"), "eval_s": t.get("eval_s"),
            "total_s": t.get("total_s"), "preset": res.get("preset"), "dataset": res.get("dataset"),
            "seed": res.get("seed"), "notebook": res.get("notebook"), "error": res.get("error"),
            "grid": (res.get("grids") or {}).get("latent") or (res.get("grids") or {}).get("det"),
            "grid_reference": (res.get("grids") or {}).get("reference"),
        })
    return rows


def trend(rows: Iterable[Mapping[str, Any]]) -> dict[str, bool | None]:
    """The qualitative claims of Table 1, checked on our rows (None: a configuration is missing/failed).

    - lpips_undefined_A_C: A–C have no LPIPS (one output per source);
    - lpips_D_lt_E_le_F:   LPIPS(D) < LPIPS(E) <= LPIPS(F);
    - fid_F_lt_A:          FID(F) < FID(A).
    """
    ok = {r["config"]: r for r in rows if r.get("status") == "ok"}
    abc = [ok.get(c) for c in "ABC"]
    lp = [ok.get(c, {}).get("lpips") for c in "DEF"]
    return {
        "lpips_undefined_A_C": None if None in abc else all(r["lpips"] is None for r in abc),
        "lpips_D_lt_E_le_F": None if None in lp else bool(lp[0] < lp[1] <= lp[2]),
        "fid_F_lt_A": None if "A" not in ok or "F" not in ok else bool(ok["F"]["fid"] < ok["A"]["fid"]),
    }


def lpips_margins(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For D -> E and E -> F: the LPIPS difference and twice its standard error (None where a
    configuration or its standard error is missing). A difference below its 2 s.e. is within the
    evaluation's noise: the ordering could flip with other sources or latent codes. (Training noise,
    another seed, is not in the standard error: it can only widen the margin.)"""
    ok = {r["config"]: r for r in rows if r.get("status") == "ok"}
    out = []
    for a, b in ("DE", "EF"):
        ra, rb = ok.get(a, {}), ok.get(b, {})
        if None in (ra.get("lpips"), rb.get("lpips"), ra.get("lpips_se"), rb.get("lpips_se")):
            out.append({"pair": f"{a}->{b}", "diff": None, "two_se": None})
            continue
        out.append({"pair": f"{a}->{b}", "diff": rb["lpips"] - ra["lpips"],
                    "two_se": 2 * math.hypot(ra["lpips_se"], rb["lpips_se"])})
    return out


def fid_margins(rows: Iterable[Mapping[str, Any]], key: str = "fid") -> list[dict[str, Any]]:
    """For each Table 1 step (A->B, B->C, ..., E->F): the change of `key` ("fid" or the course's
    "oracle_fd") and twice its bootstrap standard error, sqrt(se_a^2 + se_b^2) (None where a
    configuration or a standard error is missing). The configurations' errors are combined as
    independent: each was evaluated on its own outputs. A change smaller than its 2 s.e. could flip
    with another draw of sources."""
    ok = {r["config"]: r for r in rows if r.get("status") == "ok"}
    out = []
    for a, b in zip(LETTERS, LETTERS[1:]):
        ra, rb = ok.get(a, {}), ok.get(b, {})
        vals = (ra.get(key), rb.get(key), ra.get(f"{key}_se"), rb.get(f"{key}_se"))
        if None in vals:
            out.append({"pair": f"{a}->{b}", "diff": None, "two_se": None})
            continue
        out.append({"pair": f"{a}->{b}", "diff": vals[1] - vals[0], "two_se": 2 * math.hypot(vals[2], vals[3])})
    return out


def verdict(diff: float | None, two_se: float | None, lower_is_better: bool) -> str:
    """"holds" / "reversed" / "noise" for one step's change (None: "not measured")."""
    if diff is None or two_se is None:
        return "not measured"
    if abs(diff) <= two_se:
        return "noise"
    return "holds" if (diff < 0) == lower_is_better else "reversed"


def step_verdicts(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Per Table 1 step ("A->B" ... "E->F"): "<change> (2 s.e. <x>): <verdict>" for FID and the oracle
    FD, and for LPIPS on D->E and E->F (`verdict`)."""
    rows = list(rows)
    out: dict[str, dict[str, str]] = {}
    for key, margins, spec, lower in (("fid", fid_margins(rows), ".1f", True),
                                      ("oracle_fd", fid_margins(rows, "oracle_fd"), ".2f", True),
                                      ("lpips", lpips_margins(rows), ".3f", False)):
        for m in margins:
            v = verdict(m["diff"], m["two_se"], lower)
            out.setdefault(m["pair"], {})[key] = (
                v if m["diff"] is None else f"{m['diff']:+{spec}} (2 s.e. {m['two_se']:{spec}}): **{v}**")
    return out


def _iterations_text(its: Any) -> str:
    """12,500 / "A 800, B 800, ..." for a results folder's training length(s)."""
    if isinstance(its, Mapping):
        return ", ".join(f"{k} {v:,}" for k, v in its.items())
    return f"{its:,}" if isinstance(its, int) else str(its)


TREND_TEXT = {"lpips_undefined_A_C": "LPIPS undefined for A-C (one output per source)",
              "lpips_D_lt_E_le_F": "LPIPS: D < E <= F (diversity grows)",
              "fid_F_lt_A": "FID: F < A (quality improves over the baseline)"}


def _fmt(v: Any, spec: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def _pm(r: Mapping[str, Any], key: str, spec: str) -> str:
    """`value ± se` (just the value where the standard error is undefined)."""
    v, se = r.get(key), r.get(f"{key}_se")
    return _fmt(v, spec) + (f" ± {format(se, spec)}" if v is not None and se is not None else "")


def table_markdown(rows: list[dict[str, Any]], manifest: Mapping[str, Any] | None = None) -> str:
    """`ablation.md`: our numbers beside the paper's Table 1, the settings, the trend and the failures."""
    lines = ["# StarGAN v2 ablation (Table 1) reproduced", ""]
    if manifest:
        ev = manifest.get("evaluation", {})
        its = f"{_iterations_text(manifest.get('iterations'))} training iterations"
        its = (f"the shipped course runs (evaluated without training) of {its}" if manifest.get("course_runs")
               else f"{its} per configuration")
        lines += [f"Preset `{manifest.get('preset')}`, dataset `{manifest.get('dataset')}`, seed "
                  f"{manifest.get('seed')}, {its}; "
                  f"evaluation: {ev.get('n_sources')} source image(s) per domain x {ev.get('n_outputs')} outputs "
                  f"per source and target domain{' (latent-guided only)' if not ev.get('reference') else ''}, real FID statistics from "
                  f"{ev.get('n_real') or 'all'} training images per domain.", ""]
    lines += ["| | Configuration | FID (ours) | LPIPS (ours) | FID (paper) | LPIPS (paper) | oracle FD | "
              "oracle accuracy | pose kept | style agreement (chance) | train | eval |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        name = PAPER_NAMES[r["config"]]
        if r["status"] != "ok":
            nb = Path(r["notebook"]).name if r.get("notebook") else "?"
            lines.append(f"| {r['config']} | {name} | **failed** | see `notebooks/{nb}` | "
                         f"{_fmt(r['paper_fid'])} | {_fmt(r['paper_lpips'], '.3f')} | | | | | | |")
            continue
        style = ("-" if r.get("style_agreement") is None else
                 f"{r['style_agreement']:.2f} ({_fmt(r.get('style_agreement_chance'), '.2f')})")
        lines.append(f"| {r['config']} | {name} | {_pm(r, 'fid', '.1f')} | {_pm(r, 'lpips', '.3f')} | "
                     f"{_fmt(r['paper_fid'])} | {_fmt(r['paper_lpips'], '.3f')} | {_pm(r, 'oracle_fd', '.2f')} | "
                     f"{_fmt(r.get('oracle_accuracy'), '.2f')} | {_fmt(r.get('pose_kept'), '.2f')} | {style} | "
                     f"{_fmt(r['train_s'], '.0f')} s | {_fmt(r['eval_s'], '.0f')} s |")
    lines += ["", "Paper: CelebA-HQ, 256 px, 100k iterations, latent-guided synthesis, all test images. Ours: "
              "FID of A-C from one output per source (as many distinct sources as D-F have outputs), of D-F "
              "latent-guided; LPIPS over the pairs of each source's outputs. ± is a bootstrap standard error "
              "over the source images (each source domain's sources resampled with replacement, every metric "
              "recomputed; `stargan_lib/metrics/bootstrap.py`): the evaluation's sampling noise, not the "
              "training seed's. FID from few images is biased "
              "upwards: compare only numbers computed with the same image counts (same preset), and read the "
              "trend, not the absolute values, against the paper.", "",
              "Course metrics (synthetic data only, read by the oracle classifier; not in the paper): "
              "**oracle FD** is a Fréchet distance between outputs and real target-domain images in the "
              "oracle's 256-d feature space (not FID, not comparable with it); **oracle accuracy** the share "
              "of outputs read as the target domain; **pose kept** the share whose position and head size are "
              "read within the oracle's own 99th-percentile error of the source's recorded values; **style "
              "agreement** (E-F, reference-guided, when evaluated) the share of fur colour / pattern classes "
              "read as the reference's recorded ones, with the level of randomly paired references.",
              "", "## Which steps of Table 1 hold", "",
              "Each step's change and twice its standard error (bootstrap over the sources; the two "
              "configurations' errors combined as independent). **holds**: the change goes the paper's way "
              "(FID and oracle FD down, LPIPS up) by more than twice its standard error; **reversed**: the other "
              "way by more than that; **noise**: within it.", "",
              "| step | FID | oracle FD | LPIPS |", "|---|---|---|---|"]
    for step, cells in step_verdicts(rows).items():
        lines.append(f"| {step} | " + " | ".join(cells.get(k, "") for k in ("fid", "oracle_fd", "lpips")) + " |")
    lines += ["", "## Trend", ""]
    for key, ok in trend(rows).items():
        mark = "not measured (configuration missing or failed)" if ok is None else ("holds" if ok else "does NOT hold")
        if key == "lpips_D_lt_E_le_F" and ok is not None:
            noisy = [m for m in lpips_margins(rows) if m["diff"] is not None and abs(m["diff"]) < m["two_se"]]
            if noisy:
                mark += ", but " + "; ".join(f"{m['pair']} {m['diff']:+.3f} is within the noise (2 s.e. "
                                            f"{m['two_se']:.3f})" for m in noisy)
        lines.append(f"- {TREND_TEXT[key]}: {mark}")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed configurations", ""]
        for r in failed:
            lines.append(f"- {r['config']}: {r.get('error')} (executed notebook: `{r.get('notebook')}`)")
    return "\n".join(lines) + "\n"


def table_csv(rows: list[dict[str, Any]]) -> str:
    """`ablation.csv`: one line per row, the columns of `CSV_COLUMNS` (empty where a value is missing)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def plot_table(rows: list[dict[str, Any]], title: str = ""):
    """FID (ours, bars; the paper's on a second axis) and LPIPS (ours beside the paper's) per configuration."""
    import numpy as np
    from matplotlib.figure import Figure

    letters = list(LETTERS)
    by = {r["config"]: r for r in rows}
    x = np.arange(len(letters))
    fig = Figure(figsize=(11, 4))        # not pyplot: no GUI backend needed, nothing left open
    ax1, ax3 = fig.subplots(1, 2)
    ours = [by[c]["fid"] if c in by and by[c]["status"] == "ok" else np.nan for c in letters]
    ax1.bar(x, np.nan_to_num(ours), color="tab:blue", label="ours (left axis, ± 2 s.e.)")
    fse = [(i, by[c]["fid"], 2 * by[c]["fid_se"]) for i, c in enumerate(letters)
           if c in by and by[c]["status"] == "ok" and by[c].get("fid_se") is not None]
    if fse:
        i, v, e = zip(*fse)
        ax1.errorbar(i, v, yerr=e, fmt="none", ecolor="black", capsize=3)
    for i, c in enumerate(letters):
        if c in by and by[c]["status"] != "ok":
            ax1.text(i, 0, "failed", rotation=90, ha="center", va="bottom", color="tab:red")
        elif c not in by:
            ax1.text(i, 0, "not run", rotation=90, ha="center", va="bottom", color="grey")
    ax1.set_xticks(x, letters)
    ax1.set_ylabel("FID, ours (lower is better)")
    ax2 = ax1.twinx()
    ax2.plot(x, [PAPER_TABLE1[c]["fid"] for c in letters], "o--", color="tab:orange", label="paper (right axis)")
    ax2.set_ylabel("FID, paper (CelebA-HQ)")
    ax2.set_ylim(bottom=0)
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    ax1.set_title("FID per configuration")
    w = 0.38
    lp_ours = [by[c]["lpips"] if c in by and by[c]["status"] == "ok" and by[c]["lpips"] is not None else np.nan
               for c in letters]
    lp_paper = [PAPER_TABLE1[c]["lpips"] if PAPER_TABLE1[c]["lpips"] is not None else np.nan for c in letters]
    ax3.bar(x - w / 2, np.nan_to_num(lp_ours), w, color="tab:blue", label="ours (± 2 s.e.)")
    # error bars: twice the standard error of our LPIPS over the evaluated sources
    se = [(i, by[c]["lpips"], 2 * by[c]["lpips_se"]) for i, c in enumerate(letters)
          if c in by and by[c].get("lpips") is not None and by[c].get("lpips_se") is not None]
    if se:
        i, v, e = zip(*se)
        ax3.errorbar(np.array(i) - w / 2, v, yerr=e, fmt="none", ecolor="black", capsize=3)
    ax3.bar(x + w / 2, np.nan_to_num(lp_paper), w, color="tab:orange", label="paper")
    for i, c in enumerate(letters[:3]):
        ax3.text(i, 0.005, "undefined", rotation=90, ha="center", va="bottom", color="grey", fontsize=8)
    ax3.set_xticks(x, letters)
    ax3.set_ylabel("LPIPS diversity (higher is more diverse)")
    ax3.legend(fontsize=8)
    ax3.set_title("LPIPS per configuration")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def write_table(out_dir: str | Path, rows: list[dict[str, Any]] | None = None) -> dict[str, Path]:
    """Write `ablation.csv`, `ablation.md` and `ablation.png` in `out_dir` from its results (atomic)."""
    out = Path(out_dir)
    rows = collect_results(out) if rows is None else rows
    manifest = read_json_object(out / MANIFEST)
    files = {"csv": out / TABLE_FILES[0], "md": out / TABLE_FILES[1], "png": out / TABLE_FILES[2]}
    atomic_write_bytes(files["csv"], table_csv(rows).encode())
    atomic_write_bytes(files["md"], table_markdown(rows, manifest).encode())
    its = (manifest or {}).get("iterations")
    its = "the shipped course runs" if (manifest or {}).get("course_runs") else f"{_iterations_text(its)} iterations"
    title = "" if not manifest else f"preset {manifest.get('preset')}, {manifest.get('dataset')}, {its}"
    buf = io.BytesIO()
    plot_table(rows, title).savefig(buf, format="png", dpi=100)
    atomic_write_bytes(files["png"], buf.getvalue())
    return files


def trend_report(rows: list[dict[str, Any]]) -> str:
    """The lines notebook 06 prints under a table: Table 1's claims (`trend`), then every step's change on
    LPIPS, FID and the oracle FD against twice its standard error."""
    lines = []
    for key, holds in trend(rows).items():
        v = "not measured" if holds is None else ("holds" if holds else "does NOT hold")
        lines.append(f"{TREND_TEXT[key]:55} {v}")
    for name, margins, spec in (("LPIPS", lpips_margins(rows), ".3f"), ("FID", fid_margins(rows), ".1f"),
                                ("oracle FD", fid_margins(rows, "oracle_fd"), ".2f")):
        for m in margins:
            if m["diff"] is None:
                lines.append(f"{name} {m['pair']}: no standard error (a configuration or its error is missing), "
                             "not judged")
                continue
            noise = "within the noise" if abs(m["diff"]) <= m["two_se"] else "outside the noise"
            lines.append(f"{name} {m['pair']}: {m['diff']:+{spec}}, twice its standard error {m['two_se']:{spec}}: "
                         f"{noise}")
    return "\n".join(lines)


def grid_figures(rows: list[dict[str, Any]], out_dir: str | Path) -> list[Any]:
    """The configurations' sample grids side by side (the paper's Fig. 3: latent-guided for D-F, one output
    per domain for A-C) and, for E-F, the reference-guided grids (Fig. 4); matplotlib Figures."""
    from matplotlib.figure import Figure
    from PIL import Image

    out = Path(out_dir)
    ok = [r for r in rows if r["status"] == "ok" and r.get("grid") and (out / r["grid"]).is_file()]
    refs = [r for r in ok if r.get("grid_reference") and (out / r["grid_reference"]).is_file()]
    figs = []
    for items, key, height, title in ((ok, "grid", 5, None), (refs, "grid_reference", 4, "reference-guided")):
        if not items:
            continue
        fig = Figure(figsize=(3.2 * len(items), height))
        axes = fig.subplots(1, len(items), squeeze=False)[0]
        for ax, r in zip(axes, items):
            with Image.open(out / r[key]) as im:
                ax.imshow(im.convert("RGB"), interpolation="nearest")
            ax.set_title(f"{r['config']}: " + (title or f"FID {r['fid']:.0f}" + (
                "" if r["lpips"] is None else f", LPIPS {r['lpips']:.2f}")), fontsize=9)
            ax.axis("off")
        if title:
            fig.suptitle("top row: the references; left column: the sources", fontsize=9)
        fig.tight_layout()
        figs.append(fig)
    return figs
