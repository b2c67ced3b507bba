"""`stargan ablation`: Table 1 of the StarGAN v2 paper, one command (`make ablation`).

Introduced in `notebooks/06_ablation_table.ipynb`; each configuration runs `notebooks/experiment.ipynb`
through papermill (see `stargan_lib.ablation`).

  stargan ablation --preset course                    # A-F into results/ablation (= make ablation)
  stargan ablation --preset course --configs D,E,F    # some configurations only
  stargan ablation --preset smoke --out /tmp/abl      # the CI-sized run (about a minute)
  stargan ablation --preset course --force --configs F   # run F again from scratch
  stargan ablation --preset paper --dataset celeba_hq --data-dir data/celeba_hq --device cuda
  stargan ablation --preset course --course-runs      # the table over the shipped course runs, no training

Run it again after an interruption: finished configurations are skipped. The results folder
remembers its preset, dataset, seed, iterations and evaluation sizes (manifest.json) and refuses a
run with other settings. Exit status 1 when a configuration failed (the table marks it and points
to its executed notebook), 2 on bad input.
"""

from __future__ import annotations

import argparse

from stargan_lib.cli.dataclass_args import add_on_bad_arg, count_or_auto, positive_int


def cmd_ablation(args: argparse.Namespace) -> int:
    """`stargan ablation`: Table 1, A-F; exit 1 when a configuration failed (notebook 06 shows the same)."""
    from stargan_lib.ablation import run_ablation
    from stargan_lib.utils import check_cache_writable, check_output_dir

    if args.out:
        check_output_dir(args.out, "--out", "give a results folder you can write")
    check_cache_writable()
    if args.course_runs:
        from stargan_lib.ablation.course_table import run_course_table

        bad = [f for f, v in (("--dataset", args.dataset != "animals"), ("--data-dir", args.data_dir),
                              ("--iters", args.iters), ("--seed", args.seed)) if v]
        if bad:
            print(f"stargan ablation: --course-runs evaluates the shipped runs as they are; {', '.join(bad)} "
                  "do not apply (drop them, or leave out --course-runs to train from scratch)")
            return 2
        run = run_course_table(preset=args.preset or "course", configs=args.configs, out_dir=args.out,
                               force=args.force, jobs=args.jobs or None, threads=args.threads or None,
                               progress=not args.quiet)
        print(f"wrote {run.files['md']}, {run.files['csv'].name}, {run.files['png'].name}")
        return 1 if run.failed else 0
    run = run_ablation(preset=args.preset, configs=args.configs, dataset=args.dataset, out_dir=args.out,
                       force=args.force, seed=args.seed, iters=args.iters, data_dir=args.data_dir,
                       device=args.device, threads=args.threads or None, jobs=args.jobs or None,
                       progress=not args.quiet, on_bad=args.on_bad)
    print(f"wrote {run.files['md']}, {run.files['csv'].name}, {run.files['png'].name}")
    if run.failed:
        print(f"stargan ablation: {len(run.failed)} configuration(s) failed: {', '.join(run.failed)}; their executed "
              f"notebooks are in {run.out_dir / 'notebooks'}")
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `stargan ablation`; introduced in `notebooks/06_ablation_table.ipynb`."""
    p = subparsers.add_parser(
        "ablation", help="reproduce Table 1 of the StarGAN v2 paper (configurations A-F)",
        description="Train and evaluate StarGAN v2 configurations A-F (Table 1 of the paper) by running "
                    "notebooks/experiment.ipynb through papermill once per configuration, then write "
                    "ablation.csv, ablation.md (ours beside the paper's numbers) and ablation.png. Finished "
                    "configurations are skipped, so an interrupted run resumes.")
    p.add_argument("--preset", default=None, help="smoke / course / paper (default $STARGAN_PRESET or course)")
    p.add_argument("--configs", default="A,B,C,D,E,F", help="comma-separated configuration letters (default A-F)")
    p.add_argument("--dataset", default="animals",
                   help="animals / faces_gender (synthetic stand-ins of AFHQ / CelebA-HQ) or afhq / celeba_hq "
                        "(real, with --data-dir); default animals")
    p.add_argument("--data-dir", default=None, help="real data: the folder holding train/ and val/")
    p.add_argument("--out", default=None,
                   help="results folder (default results/ablation for the course preset, "
                        "results/ablation_<preset> for the others)")
    p.add_argument("--force", action="store_true",
                   help="run the selected configurations again from scratch (deletes their results and training runs)")
    p.add_argument("--seed", type=int, default=0, help="seed of training and evaluation (default 0)")
    p.add_argument("--iters", type=positive_int, default=None,
                   help="training iterations per configuration (default: the preset's ablation length)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1 ...")
    p.add_argument("--threads", type=count_or_auto, default=0,
                   help="torch CPU threads per configuration (default 0: $STARGAN_THREADS divided among the "
                        "configurations that run at the same time, else the thread policy; see --jobs)")
    p.add_argument("--jobs", type=count_or_auto, default=0,
                   help="configurations run at the same time, each in its own process (default 0 = auto: "
                        "2 on a CPU with 2+ cores, 1 on a GPU)")
    p.add_argument("--course-runs", action="store_true",
                   help="evaluate the shipped course runs v2_A..v2_F (`make course-runs`) instead of training: "
                        "the table in results/ablation_course_runs (_<preset> at other presets)")
    p.add_argument("--quiet", action="store_true", help="no per-cell progress bar")
    add_on_bad_arg(p, default="skip")
    p.set_defaults(func=cmd_ablation)
