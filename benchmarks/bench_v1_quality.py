"""Quality of StarGAN v1 at a preset, read by the oracles (a benchmark, not a test).

Attribute transfer (notebook 02): trains StarGAN v1 on the synthetic faces (or reuses the run in
--out), translates the held-out faces to every column of the paper's Fig. 4 and reports, per task,
the oracle's target-attribute accuracy (1 - the paper's classification error), how often the
unchanged attributes stay as they were, and content preservation.

Joint training (notebook 03, --joint): trains StarGAN-JNT (faces + expressions, mask vector) and
StarGAN-SNG (expressions only, half the iterations: as many expression batches as JNT), translates
held-out *faces* images to the 8 expressions and reports the accuracy read by an expressions oracle
trained on both capture styles (`expression_oracle_both_styles`), plus the wrong-mask experiment
(Fig. 7). As a check of that oracle it also scores faces images *painted* with each expression.

CycleGAN (notebook 01, --cyclegan): black <-> blond hair, both directions, the same oracle scores.

    .venv/bin/python benchmarks/bench_v1_quality.py --preset course
    .venv/bin/python benchmarks/bench_v1_quality.py --preset course --joint
    .venv/bin/python benchmarks/bench_v1_quality.py --preset course --cyclegan --set g_residual=True
    .venv/bin/python benchmarks/bench_v1_quality.py --preset course --set total_iters=3000 --set g_lr=5e-4

Runs are stored under --out (default results/bench_v1/<preset>[-<overrides>]) and resumed, so a
second call only evaluates. Prints a table and writes quality.json next to the checkpoint.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stargan_lib.data import get_oracle, make_dataset  # noqa: E402
from stargan_lib.models.stargan_v1 import config_for  # noqa: E402
from stargan_lib.presets import get_preset  # noqa: E402
from stargan_lib.experiments.stargan_v1 import (SINGLE_TASKS, evaluate_attribute_transfer,  # noqa: E402
                                                evaluate_domain_transfer, expression_oracle_both_styles,
                                                faces_with_expressions, joint_and_single_configs)
from stargan_lib.train.stargan_v1 import train  # noqa: E402


def parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def run_name(preset: str, overrides: dict) -> str:
    return "-".join([preset] + [f"{k}={v}" for k, v in sorted(overrides.items())]).replace("/", "_")


def timed_train(cfg, out: Path, preset: str) -> dict:
    t0 = time.perf_counter()
    res = train(cfg, out, preset=preset, progress=False)
    spi = res.seconds_per_iter                      # None: a finished run was loaded, no iteration ran
    return {"step": res.step, "seconds_per_iter": float("nan") if spi is None else spi,
            "wall_s": time.perf_counter() - t0, "nets": res.nets}


def attribute_transfer(args, overrides) -> dict:
    cfg = config_for(args.preset, device="cpu", **overrides)
    out = args.out or REPO / "results" / "bench_v1" / run_name(args.preset, overrides)
    run = timed_train(cfg, Path(out), args.preset)
    oracle = get_oracle("faces", preset=args.preset, progress=False, device="cpu")
    test = make_dataset("faces", "test", preset=args.preset)
    t0 = time.perf_counter()
    scores = evaluate_attribute_transfer(run["nets"]["G"], cfg, test, oracle)
    eval_s = time.perf_counter() - t0
    print(f"# StarGAN v1, preset {args.preset}, overrides {overrides}: {run['step']} iterations, "
          f"{run['seconds_per_iter']:.3f} s/it this call, train wall {run['wall_s']:.0f} s, eval {eval_s:.0f} s, "
          f"load avg {os.getloadavg()[0]:.1f}")
    print(f"{'task':8} {'n':>5} {'target acc':>10} {'kept acc':>9} {'content err':>11} {'(shuffled)':>10} {'corr':>6}")
    for name, s in scores.items():
        if name == "real":
            print(f"{'real':8} {s['n']:>5} {s['target_accuracy']:>10.1%}   (oracle on the untouched inputs)")
            continue
        print(f"{name:8} {s['n']:>5} {s['target_accuracy']:>10.1%} {s['kept_accuracy']:>9.1%} "
              f"{s['content_error']:>11.3f} {s['content_error_shuffled']:>10.3f} {s['content_corr']:>6.3f}")
    single = [scores[t]["target_accuracy"] for t in SINGLE_TASKS if t in scores]
    print(f"single-attribute transfer: min {min(single):.1%}, mean {np.mean(single):.1%} (goal: >= 90% each)")
    report = {"preset": args.preset, "overrides": overrides, "step": run["step"],
              "seconds_per_iter": run["seconds_per_iter"], "scores": scores}
    (Path(out) / "quality.json").write_text(json.dumps(report, indent=2))
    return report


def cyclegan_baseline(args, overrides) -> dict:
    """Notebook 01's CycleGAN (black <-> blond hair) read by the faces oracle, both directions."""
    from stargan_lib.experiments.cyclegan import evaluate_cyclegan
    from stargan_lib.models import cyclegan
    from stargan_lib.train.cyclegan import train as train_cyclegan

    cfg = cyclegan.config_for(args.preset, device="cpu", **overrides)
    out = Path(args.out or REPO / "results" / "bench_v1" / run_name(args.preset + "-cyclegan", overrides))
    t0 = time.perf_counter()
    res = train_cyclegan(cfg, out, preset=args.preset, progress=False)
    wall = time.perf_counter() - t0
    oracle = get_oracle("faces", preset=args.preset, progress=False, device="cpu")
    scores = evaluate_cyclegan(res.nets, cfg, make_dataset("faces", "test", preset=args.preset), oracle)
    print(f"# CycleGAN, preset {args.preset}, overrides {overrides}: {res.step} iterations, train wall {wall:.0f} s, "
          f"load avg {os.getloadavg()[0]:.1f}")
    print(f"{'direction':9} {'n':>5} {'target acc':>10} {'kept acc':>9} {'content err':>11} {'(shuffled)':>10}")
    for key, sc in scores.items():
        print(f"{key:9} {sc['n']:>5} {sc['target_accuracy']:>10.1%} {sc['kept_accuracy']:>9.1%} "
              f"{sc['content_error']:>11.3f} {sc['content_error_shuffled']:>10.3f}")
    report = {"preset": args.preset, "overrides": overrides, "step": res.step, "train_wall_s": wall, "scores": scores}
    (out / "quality.json").write_text(json.dumps(report, indent=2))
    return report


def joint_training(args, overrides) -> dict:
    base = Path(args.out or REPO / "results" / "bench_v1" /
                run_name(args.preset + "-joint" + (f"{args.jnt_iters}" if args.jnt_iters else ""), overrides))
    # as notebook 03: JNT trains half the preset's iterations (or --jnt-iters), SNG half of JNT's
    jnt, sng = joint_and_single_configs(args.preset, args.jnt_iters, device="cpu", **overrides)
    cfgs = {"JNT": jnt, "SNG": sng}
    runs = {name: timed_train(cfg, base / name, args.preset) for name, cfg in cfgs.items()}
    t0 = time.perf_counter()
    expr_oracle = expression_oracle_both_styles(args.preset, device="cpu")
    oracle_s = time.perf_counter() - t0
    face_oracle = get_oracle("faces", preset=args.preset, progress=False, device="cpu")
    faces_test = make_dataset("faces", "test", preset=args.preset)
    x_faces, _ = faces_test.subset(slice(0, args.n_eval)).tensors()
    truth = faces_with_expressions(faces_test.subset(slice(0, args.n_eval)),
                                   make_dataset("expressions", "test", preset=args.preset))
    x_gt, y_gt = truth.tensors()
    gt_acc = float((expr_oracle.predict(x_gt)["labels"].cpu() == y_gt).float().mean())
    print(f"# joint training, preset {args.preset}, overrides {overrides}, load avg {os.getloadavg()[0]:.1f}")
    for name, run in runs.items():
        print(f"{name}: {run['step']} iterations, {run['seconds_per_iter']:.3f} s/it this call, "
              f"train wall {run['wall_s']:.0f} s")
    print(f"expression oracle (both capture styles): {oracle_s:.0f} s to get; held-out accuracy studio "
          f"{expr_oracle.metrics['studio']['overall_accuracy']:.1%}, faces style "
          f"{expr_oracle.metrics['faces']['overall_accuracy']:.1%}; on the evaluated faces painted with "
          f"expressions (ground truth): {gt_acc:.1%}")
    report = {"preset": args.preset, "overrides": overrides, "oracle_on_painted_faces": gt_acc, "scores": {}}
    rows = [("JNT", jnt, 1, None), ("SNG", sng, 0, None), ("JNT wrong mask", jnt, 1, 0)]
    for label, cfg, dataset, mask in rows:
        G = runs[label.split()[0]]["nets"]["G"]
        s = evaluate_domain_transfer(G, cfg, x_faces, expr_oracle, dataset=dataset, content_oracle=face_oracle,
                                     mask_dataset=mask)
        report["scores"][label] = s
        per = " ".join(f"{k[:4]} {v:.0%}" for k, v in s["per_class"].items())
        attrs = " ".join(f"{k.split('_')[0]} {v:.0%}" for k, v in s.get("attributes", {}).items())
        print(f"{label:15} expression acc {s['accuracy']:.1%} | {per} | content err {s['content_error']:.3f} "
              f"(shuffled {s['content_error_shuffled']:.3f}) | faces oracle reads: {attrs}")
    as_input = (expr_oracle.predict(x_faces)["labels"].cpu()[None] == torch.arange(8)[:, None]).float().mean()
    print(f"unchanged inputs: expression 'accuracy' {as_input:.1%} (the level of a translation that does nothing)")
    real_attrs = (face_oracle.predict(x_faces)["logits"] > 0).float().mean(0).cpu()
    print("inputs          faces oracle reads: "
          + " ".join(f"{k.split('_')[0]} {v:.0%}" for k, v in zip(face_oracle.label_names, real_attrs.tolist())))
    (base / "quality.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="course")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="config override on top of the preset (repeatable)")
    parser.add_argument("--joint", action="store_true", help="JNT vs SNG expression synthesis (notebook 03)")
    parser.add_argument("--cyclegan", action="store_true",
                        help="notebook 01's CycleGAN baseline instead (--set applies to the CycleGAN config)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default results/bench_v1/...)")
    parser.add_argument("--n-eval", type=int, default=400, help="held-out faces for the joint evaluation")
    parser.add_argument("--jnt-iters", type=int, default=None,
                        help="JNT iterations (default: half the preset's, as notebook 03; SNG trains half of JNT's)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    get_preset(args.preset)
    overrides = parse_sets(args.set)
    if args.joint and args.cyclegan:
        parser.error("--joint and --cyclegan are two different benchmarks: give one")
    run = joint_training if args.joint else cyclegan_baseline if args.cyclegan else attribute_transfer
    run(args, overrides)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
