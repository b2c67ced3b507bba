"""Training schedules that are a function of the step alone, so a resumed run continues them exactly.

Introduced in `notebooks/02_stargan_v1.ipynb` (the learning rate's linear decay) and used again in
`notebooks/05_stargan_v2_D_to_F.ipynb` (λ_ds, through `models.stargan_v2_config.lambda_ds`). A helper module:
it imports nothing from the course.
"""

from __future__ import annotations


def linear_decay(step: int, total: int, decay_start: int) -> float:
    """Multiplier that is 1 until `decay_start`, then falls linearly to 0 at `total` (and stays 0).

    StarGAN v1 decays the learning rate this way over the second half of training (Sec. 5.3);
    StarGAN v2 decays λ_ds this way from its initial value to 0 (Sec. 3, Appendix B), with
    `decay_start` = 0.
    """
    if step <= decay_start or total <= decay_start:
        return 1.0
    return max(0.0, 1.0 - (step - decay_start) / (total - decay_start))
