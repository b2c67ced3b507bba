from stargan_lib.data.datasets import (ImageSetDataset, InfiniteLoader, JointLoader, domain_arrays,  # noqa: F401
                                       domain_groups, domain_indices, domain_train_test, fixed_batch,
                                       make_unified_label, open_dataset, pair_indices, split_unified_label,
                                       to_imageset)
from stargan_lib.data.export import export_imageset  # noqa: F401
from stargan_lib.data.real import CelebADataset, FolderDataset, detect_layout  # noqa: F401
from stargan_lib.data.oracle import Oracle, evaluate_oracle, get_oracle, train_oracle  # noqa: F401
from stargan_lib.data.synthetic import (DATASETS, content_factors, describe, factor_names,  # noqa: F401
                                        make_dataset, paint_factors, pose_factors, render, style_classes,
                                        style_factors)
