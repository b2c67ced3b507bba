"""The measures issue 15 added for StarGAN v2 (notebooks 04-06): pose kept, reference style agreement,
the oracle Fréchet distance (a course metric), bootstrap standard errors over sources, and the Fig. 3 /
Fig. 4 grid layouts. Pure functions on made-up numbers, so each claim is checked exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from stargan_lib.errors import ConfigError, DataError
from stargan_lib.grids import latent_layout, reference_layout
from stargan_lib.metrics.bootstrap import FrechetResampler, source_draws, standard_error
from stargan_lib.metrics.fid_metric import fid_from_stats, frechet_distance, statistics_from_features
from stargan_lib.metrics.oracle_metrics import oracle_frechet_distance, pose_kept, style_agreement


def _pose(n, seed):
    rng = np.random.default_rng(seed)
    return {"pos_x": rng.uniform(-0.08, 0.08, n), "pos_y": rng.uniform(-0.02, 0.10, n),
            "head_size": rng.uniform(0.44, 0.54, n)}


def test_pose_kept_counts_outputs_within_the_tolerance_of_every_factor():
    src = _pose(400, 0)
    tol = {"pos_x": 0.01, "pos_y": 0.01, "head_size": 0.01}
    noise = np.random.default_rng(1).normal(0, 0.002, 400)                 # a precise reader
    kept = pose_kept({k: v + noise for k, v in src.items()}, src, tol, seed=0)
    assert kept["kept"] == 1.0 and kept["per_factor"] == {k: 1.0 for k in tol}
    # random re-pairing keeps almost nothing: the "nothing kept" level
    assert kept["shuffled"] < 0.05 and kept["n"] == 400
    moved = dict(src, pos_x=src["pos_x"] + 0.02 * (np.arange(400) % 2))     # every other output moved sideways
    half = pose_kept(moved, src, tol)
    assert half["kept"] == 0.5 and half["per_factor"]["pos_x"] == 0.5 and half["per_factor"]["pos_y"] == 1.0


def test_pose_kept_bad_input():
    src = _pose(4, 0)
    with pytest.raises(DataError, match="lack the factors"):
        pose_kept({"pos_x": src["pos_x"]}, src, {"pos_y": 0.1})
    with pytest.raises(DataError, match="one source row per output"):
        pose_kept(_pose(3, 1), src, {"pos_x": 0.1})
    with pytest.raises(ConfigError, match="at least one pose factor"):
        pose_kept(src, src, {})


def test_style_agreement_and_its_chance_level():
    ref = {"fur_color": np.arange(8).repeat(10), "pattern": np.tile([0, 1, 2, 0, 1], 16)}
    same = style_agreement(ref, ref)
    assert same["agreement"] == same["all"] == 1.0
    # chance: sum over classes of (share of outputs) x (share of references): 1/8 for 8 equal colours,
    # 0.4^2 + 2 * 0.3^2... here pattern shares are 0.4, 0.4, 0.2
    assert same["chance"] == pytest.approx((1 / 8 + (0.4 ** 2 + 0.4 ** 2 + 0.2 ** 2)) / 2)
    ignored = style_agreement({"fur_color": np.zeros(80, np.int64), "pattern": np.zeros(80, np.int64)}, ref)
    # an output that always says "class 0" agrees as often as chance says it would
    assert ignored["agreement"] == pytest.approx(ignored["chance"])
    half = style_agreement({"fur_color": ref["fur_color"], "pattern": (ref["pattern"] + 1) % 3}, ref)
    assert half["agreement"] == 0.5 and half["per_factor"] == {"fur_color": 1.0, "pattern": 0.0} and half["all"] == 0
    with pytest.raises(DataError, match="lack"):
        style_agreement({"eye_color": ref["pattern"]}, ref)


def test_oracle_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(600, 16))
    assert oracle_frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    b = rng.normal(size=(600, 16))
    near, far = oracle_frechet_distance(a, b), oracle_frechet_distance(a, b + 1.0)
    assert 0 < near < far and far == pytest.approx(near + 16, rel=0.1)        # ||mu shift||^2 = 16


def test_oracle_frechet_distance_of_features_with_dead_units_is_exact_and_quiet():
    # ReLU features whose first 40 units never fire: both covariances are singular (rank < 256), as the
    # oracle's are. SciPy's sqrtm warns "Matrix is singular" there; the distance is still exact, as the
    # symmetric route sum sqrt(eig(S_a^1/2 S_b S_a^1/2)) shows, so no warning reaches the user.
    rng = np.random.default_rng(0)
    w = rng.normal(size=(200, 256))
    a = np.maximum(rng.normal(size=(300, 200)) @ w, 0)
    b = np.maximum(rng.normal(size=(500, 200)) @ w + 0.5, 0)
    a[:, :40] = b[:, :40] = 0
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ev, vecs = np.linalg.eigh(sa)
    root = vecs * np.sqrt(np.clip(ev, 0, None))
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(root.T @ sb @ root), 0, None)).sum()
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa) + np.trace(sb) - 2 * trace_sqrt
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # any warning fails the test
        got = oracle_frechet_distance(a, b)
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n, d", [(40, 64), (200, 16)])              # low-rank route (n <= d) and d x d route
def test_frechet_resampler_matches_the_direct_distance(n, d):
    rng = np.random.default_rng(0)
    real = statistics_from_features(rng.normal(size=(500, d)), warn=False)
    fake = rng.normal(size=(n, d)) * 1.3 + 0.2
    r = FrechetResampler(fake, 4, real.mu, real.sigma)
    assert r.n_sources == n // 4
    assert r.distance(np.arange(n // 4)) == pytest.approx(fid_from_stats(statistics_from_features(fake, warn=False),
                                                                         real), rel=1e-7)
    draw = rng.integers(0, n // 4, n // 4)                        # with repeats
    rows = fake[r.rows(draw)]
    st = statistics_from_features(rows, warn=False, keep_features=False)
    assert r.distance(draw) == pytest.approx(frechet_distance(st.mu, st.sigma, real.mu, real.sigma), rel=1e-5)
    with pytest.raises(DataError, match="do not split"):
        FrechetResampler(fake[:-1], 4, real.mu, real.sigma)


def test_bootstrap_standard_error_of_a_mean_matches_the_formula():
    """For a mean over n sources, the bootstrap SE approaches std / sqrt(n) (times sqrt((n-1)/n))."""
    values = np.random.default_rng(0).normal(size=50)
    draws = source_draws({0: 50}, n_boot=4000, seed=1)
    se = standard_error([values[d[0]].mean() for d in draws])
    assert se == pytest.approx(values.std(ddof=0) / np.sqrt(50), rel=0.05)
    again = source_draws({0: 50, 1: 7}, n_boot=3, seed=1)
    assert [len(d[1]) for d in again] == [7, 7, 7]
    assert all((a[0] == b[0]).all() for a, b in zip(again, source_draws({0: 50, 1: 7}, n_boot=3, seed=1)))
    with pytest.raises(ConfigError, match="at least 2 draws"):
        source_draws({0: 5}, n_boot=1)


def test_reference_layout_is_figure_4():
    src = torch.full((2, 3, 4, 4), -1.0)                         # black sources
    ref = torch.full((3, 3, 4, 4), 1.0)                          # white references
    out = torch.linspace(-0.9, 0.9, 6).reshape(2, 3, 1, 1, 1).expand(2, 3, 3, 4, 4)
    cells, nrow = reference_layout(src, ref, out)
    assert nrow == 4 and cells.shape == (12, 4, 4, 3)
    grid = cells.reshape(3, 4, 4, 4, 3)                          # (rows, columns, H, W, 3)
    assert (grid[0, 0] == 255).all() and (grid[0, 1:] == 255).all()          # blank corner, references on top
    assert (grid[1:, 0] == 0).all()                                          # sources down the left side
    expected = np.clip((out[:, :, 0, 0, 0].numpy() + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    assert (grid[1:, 1:, 0, 0, 0] == expected).all()                         # cell (i, j): source i, reference j
    with pytest.raises(DataError, match="do not fit"):
        reference_layout(src, ref, out[:, :2])


def test_latent_layout_is_figure_3():
    src = torch.full((2, 3, 4, 4), -1.0)
    out = torch.linspace(-0.9, 0.9, 12).reshape(2, 3, 2, 1, 1, 1).expand(2, 3, 2, 3, 4, 4)   # 3 domains x 2 codes
    cells, nrow = latent_layout(src, out)
    assert nrow == 7 and cells.shape == (14, 4, 4, 3)
    grid = cells.reshape(2, 7, 4, 4, 3)
    assert (grid[:, 0] == 0).all()
    expected = np.clip((out[:, :, :, 0, 0, 0].reshape(2, 6).numpy() + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    assert (grid[:, 1:, 0, 0, 0] == expected).all()              # domain-major, then latent code


def test_grid_figures_are_labelled_as_in_the_paper():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stargan_lib.viz import show_latent_grid, show_reference_grid

    src, ref = torch.zeros(2, 3, 4, 4), torch.zeros(3, 3, 4, 4)
    fig = show_reference_grid(src, ref, torch.zeros(2, 3, 3, 4, 4), source_labels=["cat", "dog"],
                              reference_labels=["cat", "dog", "wild"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["source ↓", "cat", "dog", "wild"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["reference →", "cat", "dog"]
    fig2 = show_latent_grid(src, torch.zeros(2, 3, 2, 3, 4, 4), ["cat", "dog", "wild"])
    assert [t.get_text() for t in fig2.axes[0].get_xticklabels()][:3] == ["source", "cat z1", "cat z2"]
    with pytest.raises(DataError, match="domain names"):
        show_latent_grid(src, torch.zeros(2, 3, 2, 3, 4, 4), ["cat", "dog"])
    plt.close("all")


def test_protocol_course_metrics_with_the_smoke_oracle(tmp_cache, monkeypatch):
    """The protocol's course metrics, with the smoke oracle and then with an exact reader of the recorded
    factors ('generators' that return the reference or the source). Inception is replaced by a cheap
    fixed projection."""
    from stargan_lib.data import get_oracle, make_dataset
    from stargan_lib.metrics import fid_metric, protocol

    proj = torch.randn(3 * 4 * 4, 32, generator=torch.Generator().manual_seed(0))

    def features(images, batch_size=50, device="auto", progress=True, quantize=True, desc=""):
        from stargan_lib.metrics.images import as_image_batches

        xs = torch.cat(list(as_image_batches(images).iterate(10_000)))
        return (torch.nn.functional.adaptive_avg_pool2d(xs, 4).flatten(1) @ proj).double().numpy()

    monkeypatch.setattr(protocol, "inception_features", features)
    monkeypatch.setattr(fid_metric, "inception_features", features)
    train, test = make_dataset("animals", "train", preset="smoke"), make_dataset("animals", "test", preset="smoke")
    oracle = get_oracle("animals", preset="smoke", progress=False, device="cpu")
    cfg = protocol.EvalConfig(n_sources=3, n_outputs=2, device="cpu", bootstrap=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fid_metric.FIDSampleSizeWarning)
        res = protocol.evaluate_protocol(train, test, latent_fn=lambda x, y, z: x, reference_fn=lambda x, y, r: r,
                                         cfg=cfg, oracle=oracle, progress=False, dataset="animals")
    ref, lat = res["modes"]["reference"], res["modes"]["latent"]
    for mode in (ref, lat):
        assert mode["oracle_fd"] > 0 and mode["oracle_fd_se"] > 0 and mode["fid_se"] > 0 and mode["bootstrap"] == 20
        assert 0 <= mode["pose_kept"] <= 1
    assert 0 <= ref["style_agreement"] <= 1 and 0 < ref["style_agreement_chance"] < 1

    # A reader that knows every test image's recorded factors (found by its pixels): outputs that are the
    # references agree with their style exactly, outputs that are the sources keep their pose exactly, and
    # with the sources re-paired at random almost none does. Any misalignment of outputs with their
    # sources or references would show here.
    keys = {bytes(img): i for i, img in enumerate(np.concatenate([test.images, train.images]))}
    recorded = {k: np.concatenate([np.asarray(test.factors[k]), np.asarray(train.factors[k])])
                for k in ("pos_x", "pos_y", "head_size", "fur_color", "pattern")}

    class Reader:
        def __getattr__(self, name):
            return getattr(oracle, name)

        def predict(self, x, features=False):
            out = oracle.predict(x, features=features)
            u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
            rows = np.array([keys[bytes(img)] for img in u8])
            out["factors"] = {**out["factors"], **{k: torch.as_tensor(recorded[k][rows]).float()
                                                   for k in ("pos_x", "pos_y", "head_size")}}
            out["style"] = {k: torch.as_tensor(recorded[k][rows]) for k in out["style"]}
            return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fid_metric.FIDSampleSizeWarning)
        exact = protocol.evaluate_protocol(train, test, latent_fn=lambda x, y, z: x, reference_fn=lambda x, y, r: r,
                                           cfg=cfg, oracle=Reader(), progress=False, dataset="animals")
    assert exact["modes"]["reference"]["style_agreement"] == 1.0
    assert exact["modes"]["latent"]["pose_kept"] == 1.0 and exact["modes"]["latent"]["pose_kept_shuffled"] < 0.5
    assert "style_agreement" not in lat
