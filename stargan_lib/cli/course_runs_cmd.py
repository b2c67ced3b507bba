"""`stargan course-runs`: train the long runs every lecture notebook shows beside its live run, and
ship them in the package (`make course-runs`).

Introduced in `notebooks/01_cyclegan_baseline.ipynb`, section "The course run"; see
`stargan_lib.experiments.course_runs`.

  stargan course-runs                          # every course run of the course preset (= make course-runs)
  stargan course-runs --only v2_C,v2_F         # rebuild some runs (= make course-runs ONLY=v2_C,v2_F)
  stargan course-runs --status                 # what is trained, what ships, what is stale
  stargan course-runs --table                  # the shipped runs' figures as Markdown (the README's table)
  stargan course-runs --preset smoke           # the tiny runs CI loads (seconds)

Runs train in `<cache>/course-runs/<preset>/` (outside the work tree: `$STARGAN_CACHE` moves it), two at
a time with one thread each on a CPU, one at a time on a GPU; an interrupted call resumes where it
stopped. Finished runs are exported into `stargan_lib/resources/course_runs/<preset>/`; commit them.
Exit status 1 when a run failed, 2 on bad input.
"""

from __future__ import annotations

import argparse


def cmd_course_runs(args: argparse.Namespace) -> int:
    """`stargan course-runs`: train, resume and export the course runs (or `--status`)."""
    from stargan_lib.experiments.course_schedule import run_course_runs

    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    if args.status:
        return print_status(args.preset or "course", only)
    if args.table:
        return print_table(args.preset or "course", only)
    failed = run_course_runs(args.preset or "course", only=only, jobs=args.jobs, threads=args.run_threads,
                             export=not args.no_export, dest=args.dest, report_every=args.report_every)
    if failed:
        print(f"stargan course-runs: {len(failed)} run(s) failed: {', '.join(failed)}")
        return 1
    return 0


def print_status(preset: str, only: list[str] | None) -> int:
    """One line per course run: trained (steps), shipped (size, dtype) and whether it is stale."""
    from stargan_lib.experiments.course_runs import check_name, long_config, run_names, run_state
    from stargan_lib.experiments.course_schedule import logged_step
    from stargan_lib.experiments.course_ship import CourseRunError, load_course_run, shipped_paths

    names = [check_name(n, preset).name for n in only] if only else run_names(preset)
    stale = 0
    for n in names:
        total = long_config(n, preset).total_iters
        trained = "finished" if run_state(n, preset) else f"step {logged_step(n, preset):,}/{total:,}"
        pt, _ = shipped_paths(n, preset)
        try:
            run = load_course_run(n, preset)
            shipped = f"shipped ({pt.stat().st_size / 1e6:.2f} MB, {run.state['dtype']})"
        except CourseRunError as exc:
            stale += 1
            shipped = f"NOT USABLE: {exc}"
        print(f"{n:18} trained: {trained:20} {shipped}")
    return 1 if stale else 0


def print_table(preset: str, only: list[str] | None) -> int:
    """The shipped runs' manifests as Markdown: length, training time, device, size and every figure
    (what the README's course-run table is made from)."""
    from stargan_lib.experiments.course_runs import check_name, run_names
    from stargan_lib.experiments.course_ship import CourseRunError, read_manifest

    names = [check_name(n, preset).name for n in only] if only else run_names(preset)
    print("| run | notebook | iterations (live → course) | training | device | weights | figures |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        try:
            m = read_manifest(n, preset)
        except CourseRunError as exc:
            print(f"| {n} | – | – | – | – | – | {exc} |")
            continue
        figs = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in m["figures"].items()
                         if v is not None and k != "source")
        print(f"| {n} | {m['notebook'][:2]} | {m['live_iterations']:,} → {m['iterations']:,} | "
              f"{float(m['train_seconds']) / 60:.0f} min | {m['device']} | {m['bytes'] / 1e6:.2f} MB {m['dtype']} | "
              f"{figs} |")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `stargan course-runs`."""
    from stargan_lib.cli.dataclass_args import positive_int

    p = subparsers.add_parser(
        "course-runs", help="train the long course runs the notebooks show, and ship them",
        description="Train every run a lecture notebook shows (CycleGAN, StarGAN v1, JNT/SNG, the Table 3 models, "
                    "StarGAN v2 A-F) at its long schedule (presets.py, course_runs), resume what was interrupted, "
                    "then write the networks the notebooks evaluate into stargan_lib/resources/course_runs/.")
    p.add_argument("--preset", default=None, help="course (default) or smoke (tiny runs, for CI)")
    p.add_argument("--only", default=None, help="comma-separated run names to (re)build, e.g. v2_C,stargan_v1")
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="trainings side by side (default: 2 on a CPU with 2+ cores, 1 on a GPU)")
    p.add_argument("--run-threads", type=positive_int, default=None,
                   help="torch threads of each training (default: $STARGAN_THREADS divided among the trainings "
                        "that run at the same time, else 1 on a CPU, every core on a GPU)")
    p.add_argument("--no-export", action="store_true", help="train only; do not write the package's copies")
    p.add_argument("--dest", default=None, help="export into this folder instead of the package's resources")
    p.add_argument("--status", action="store_true", help="print what is trained and shipped; train nothing")
    p.add_argument("--table", action="store_true",
                   help="print the shipped runs' manifests (length, time, figures) as a Markdown table; train nothing")
    p.add_argument("--report-every", type=float, default=60.0, help="seconds between progress lines (default 60)")
    p.set_defaults(func=cmd_course_runs)
