"""`stargan_lib.figures.write_figures`: the FIGURES_JSON output of the notebooks."""

import json

import numpy as np
import pytest

from stargan_lib.errors import ConfigError
from stargan_lib.figures import write_figures


def test_empty_path_writes_nothing(tmp_path):
    assert write_figures("", {"a": 1.0}) is None
    assert list(tmp_path.iterdir()) == []


def test_writes_flat_object_with_plain_numbers(tmp_path):
    path = write_figures(tmp_path / "sub" / "f.json",
                         {"target_acc_x": np.float32(0.5), "n": np.int64(3), "fid": float("nan"), "preset": "smoke"},
                         fractions=("target_acc_",))
    assert json.loads(path.read_text()) == {"target_acc_x": 0.5, "n": 3, "fid": None, "preset": "smoke"}


def test_percentage_is_refused_with_its_name(tmp_path):
    with pytest.raises(ConfigError, match="target_acc_x.*95"):
        write_figures(tmp_path / "f.json", {"target_acc_x": 95.0}, fractions=("target_acc_",))
    assert not (tmp_path / "f.json").exists()


def test_nested_value_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="per_class.*flat"):
        write_figures(tmp_path / "f.json", {"per_class": {"a": 1}})
