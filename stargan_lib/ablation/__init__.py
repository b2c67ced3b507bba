"""Table 1 of the StarGAN v2 paper reproduced: train and evaluate configurations A–F, then tabulate.

Introduced in `notebooks/experiment.ipynb` (one configuration, run by papermill) and
`notebooks/06_ablation_table.ipynb` (the table); `stargan ablation --preset course` (= `make ablation`)
runs the experiment notebook once per configuration and writes the table.

One experiment (`prepare` -> `train_configuration` -> `write_grids` -> `evaluate_configuration` ->
`write_result`, or `run_experiment` for all of them):
  1. the configuration's StarGAN v2 config at the preset (`models.stargan_v2_config.make_config`), trained for the
     preset's ablation length (`Preset.ablation.total_iters`), resuming from `<out>/runs/<X>/checkpoint.pt`;
  2. a sample grid of held-out images with the EMA networks (`<out>/<X>.png`; E–F also
     `<X>_reference.png`): one output per domain for A–C, several latent-guided outputs for D–F;
  3. the StarGAN v2 evaluation protocol (Appendix C, `metrics.protocol`) on the EMA networks: FID
     against the target domain's training images, LPIPS diversity where the configuration has
     several outputs per source (D–F), and on synthetic data the oracle's target-domain accuracy
     and content preservation;
  4. `<out>/<X>.json`: preset, dataset, seed, iterations, timings, metrics, library version.

The ablation (`run_ablation`): a manifest (`<out>/manifest.json`: preset, dataset, seed, iterations,
evaluation sizes) refuses to mix results of other settings in one folder; configurations whose JSON
holds a result are skipped unless `force`, so an interrupted run resumes; each configuration runs in
its own kernel through papermill (working directory `notebooks/`), its executed notebook is kept
in `<out>/notebooks/`, and a failing configuration is recorded as failed (with the path of its
notebook) while the others still run. Then `ablation.csv`, `ablation.md` (ours beside the paper's
Table 1) and `ablation.png`.

Reading the numbers: the paper measured CelebA-HQ at 256 px after 100k iterations with 1,000s of
test images; the course measures 32 px synthetic animals after 600-2,500 iterations with 300 images per
domain pair. FID from few images is biased upwards (the bias shrinks with the count), so only
numbers computed with equal image counts are comparable: the trend between configurations carries
over, the absolute values do not. The paper notes that the FID gap between C and D is partly the
number of outputs per source; here A–C translate as many distinct sources as D–F have outputs, so
every configuration's FID uses the same number of images.

Modules: `settings` (configurations, sizes, results folder, manifest, records), `experiment`
(one configuration), `runner` (all of them, through papermill, under a lock) and `table`. This
package imports their public names, so `from stargan_lib import ablation; ablation.run_ablation(...)`
reads as one module.
"""

from stargan_lib.ablation.experiment import (Experiment, evaluate_configuration, headline, prepare,  # noqa: F401
                                            run_experiment, train_configuration, write_grids, write_result)
from stargan_lib.ablation.runner import (LOCK, AblationLock, AblationRun, default_jobs, execute_experiment,  # noqa: F401
                                        experiment_notebook, run_ablation)
from stargan_lib.ablation.settings import (DEFAULT_OUT, MANIFEST, MANIFEST_KEYS, NOTEBOOK_OUT,  # noqa: F401
                                          PAPER_NAMES, PAPER_TABLE1, REAL_SETS, RESULT_FORMAT, SYNTHETIC_SETS,
                                          TABLE_FILES, ablation_iters, as_preset, check_dataset, check_manifest,
                                          data_root, default_out_dir, eval_sizes, experiment_config, is_done,
                                          load_result, make_manifest, parse_configs, resolve_out_dir)
from stargan_lib.ablation.course_table import check_course_runs, course_out_dir, run_course_table  # noqa: F401
from stargan_lib.ablation.table import (CSV_COLUMNS, TREND_TEXT, collect_results, fid_margins,  # noqa: F401
                                       grid_figures, lpips_margins, plot_table, step_verdicts, table_csv,
                                       table_markdown, trend, trend_report, verdict, write_table)

__all__ = ["PAPER_TABLE1", "Experiment", "AblationRun", "AblationLock", "parse_configs", "default_out_dir", "ablation_iters",
           "experiment_config", "eval_sizes", "make_manifest", "check_manifest", "prepare", "train_configuration",
           "write_grids", "evaluate_configuration", "headline", "write_result", "run_experiment",
           "experiment_notebook", "resolve_out_dir", "default_jobs", "execute_experiment", "load_result", "is_done", "run_ablation", "collect_results", "trend",
           "lpips_margins",
           "table_markdown", "table_csv", "plot_table", "write_table", "fid_margins", "step_verdicts", "verdict",
           "run_course_table", "course_out_dir", "check_course_runs", "trend_report", "grid_figures"]
