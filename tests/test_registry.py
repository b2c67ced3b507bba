"""One table of models (`train.registry.MODELS`), one shape of `train`, and the run fields every config
shares written once (`models.common.run_settings`)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from stargan_lib.train.engine import RunConfig
from stargan_lib.train.registry import MODELS, model_of

SHARED = ("batch_size", "beta1", "beta2", "total_iters", "seed", "device", "log_every", "sample_every", "ckpt_every")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_through_one_signature(name):
    params = inspect.signature(MODELS[name].train).parameters
    assert list(params)[:3] == ["cfg", "out_dir", "data"]
    for kw in ("preset", "data_dir", "progress", "stop_after"):
        assert params[kw].kind is inspect.Parameter.KEYWORD_ONLY, kw


@pytest.mark.parametrize("name", sorted(MODELS))
def test_configs_are_built_the_same_way_and_share_the_run_fields(name):
    model = MODELS[name]
    cfg = model.config_for("smoke", seed=3)
    assert isinstance(cfg, model.config_class) and cfg.seed == 3 and model_of(cfg) is model
    assert model_of(model.config_class.__name__) is model
    assert all(hasattr(cfg, f) for f in RunConfig.__annotations__)
    own = model.config_class.__dict__.get("__annotations__", {})
    assert not set(SHARED) & set(own), f"{name} declares a shared run field itself"
    assert set(SHARED) <= {f.name for f in dataclasses.fields(cfg)}
