"""Check functions for the labs: compare a student's implementation with the library's reference
on random inputs and explain a mismatch in plain words.

Used in the check cells of `solutions/`/`labs/` 01 (CycleGAN), 02 (StarGAN v1) and 03 (mask
vector). Each check prints a line starting with "✓" when the implementation agrees with the
reference, and raises `AssertionError` with a sentence saying what is wrong otherwise.
"""

from stargan_lib.checks.cyclegan import check_cycle_loss, check_identity_loss, check_image_pool
from stargan_lib.checks.stargan_v1 import (check_cls_losses, check_gradient_penalty, check_label_concat,
                                           check_masked_cls_loss, check_unified_label)

__all__ = ["check_cycle_loss", "check_identity_loss", "check_image_pool", "check_cls_losses",
           "check_gradient_penalty", "check_label_concat", "check_masked_cls_loss", "check_unified_label"]
