"""stargan_lib: the finished implementations behind the StarGAN course notebooks.

Notebook 00 (`notebooks/00_setup_and_data.ipynb`) introduces the package, its presets and the
synthetic data. Sub-packages:

- `stargan_lib.presets`  the smoke / course / paper presets, in one place
- `stargan_lib.paths`    where the checkout's files and the package's resources are, from any directory
- `stargan_lib.data`     synthetic datasets, real-data loaders, oracle classifiers
- `stargan_lib.models`   CycleGAN, StarGAN v1, StarGAN v2 (one model per file)
- `stargan_lib.losses`   the papers' loss terms as pure functions
- `stargan_lib.metrics`  FID, LPIPS and oracle metrics
- `stargan_lib.cli`      the `stargan` command
"""

__version__ = "0.1.0"
