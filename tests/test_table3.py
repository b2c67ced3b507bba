"""Table 3 of the v1 paper in its setting (`stargan_lib.experiments.table3`): configs and bad input.
The full train-and-score path runs in notebook 02 (nbval and tests/test_notebook_figures.py at smoke)."""

import pytest

from stargan_lib.errors import ConfigError
from stargan_lib.experiments.table3 import TARGETS, default_cyclegan_iters, default_targets, table3_configs


def test_paper_preset_trains_a_cyclegan_per_pair_and_stargan_pools_all_expressions():
    assert default_targets("paper") == TARGETS and len(TARGETS) == 7 and "neutral" not in TARGETS
    assert default_cyclegan_iters("paper") is None
    stargan, cyclegans = table3_configs("course", ("happy", "sad"), cyclegan_iters=400)
    assert stargan.datasets == ("expressions",) and stargan.c_dim == 8
    assert {t: (c.domain_a, c.domain_b, c.total_iters, c.decay_iters) for t, c in cyclegans.items()} == {
        "happy": ("neutral", "happy", 400, 200), "sad": ("neutral", "sad", 400, 200)}


@pytest.mark.parametrize("targets", [(), ("neutral",), ("happy", "joyful")])
def test_unknown_or_missing_targets_are_refused_with_the_choices(targets):
    with pytest.raises(ConfigError, match="choose one or more of"):
        table3_configs("smoke", targets)


@pytest.mark.slow
def test_run_table3_trains_what_is_missing_and_scores_both_methods(tmp_path, monkeypatch):
    # A cold cache: the expressions oracle is trained inside run_table3 (it once ran under no_grad and failed).
    from stargan_lib.experiments.table3 import run_table3

    monkeypatch.setenv("STARGAN_CACHE", str(tmp_path / "cache"))
    r = run_table3("smoke", tmp_path / "runs", targets=("happy",))
    assert r["targets"] == ["happy"] and r["n"] > 0
    for method, models in (("StarGAN", 1), ("CycleGAN", 7)):
        assert 0.0 <= r[method]["error"] <= 1.0 and r[method]["models"] == models
        assert set(r[method]["per_target"]) == {"happy"}
    assert r["CycleGAN"]["params"] > r["StarGAN"]["params"] > 0
    assert (tmp_path / "runs" / "StarGAN" / "checkpoint.pt").is_file()
    assert (tmp_path / "runs" / "CycleGAN_neutral_happy" / "checkpoint.pt").is_file()
