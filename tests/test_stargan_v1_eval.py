"""Oracle-based evaluation of translations (notebooks 01-03, benchmarks/bench_v1_quality.py): the Fig. 4
edits, the scoring of attribute edits, expression synthesis and the wrong-mask labels.

A toy generator writes its label into the first pixels of the image and a toy oracle reads them back,
so a perfect translation, a do-nothing translation and a mask-obeying translation have known scores.
"""

import numpy as np
import pytest
import torch
import torch.nn as nn

from stargan_lib.data.base import CELEBA_ATTRS, ImageSet
from stargan_lib.errors import ConfigError
from stargan_lib.experiments.cyclegan import evaluate_cyclegan
from stargan_lib.experiments.stargan_v1 import (FIG4_TASKS, edit_attributes, evaluate_attribute_transfer,
                                                evaluate_domain_transfer, with_mask)
from stargan_lib.metrics.oracle_metrics import score_edit
from stargan_lib.models.cyclegan import CycleGANConfig
from stargan_lib.models.stargan_v1 import StarGANv1Config, translate

NAMES = list(CELEBA_ATTRS)


class WriteLabel(nn.Module):
    """G(x, c): x with c written (as -1/1) into the first pixels of row 0, channel 0. `mask_aware`:
    for a joint label [c1 (5), c2 (8), m (2)], write c1 when m says faces and c2 (at 5..12) otherwise."""

    def __init__(self, mask_aware=False, do_nothing=False):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))
        self.mask_aware, self.do_nothing = mask_aware, do_nothing

    def forward(self, x, c):
        out = x.clone()
        if self.do_nothing:
            return out
        if self.mask_aware:
            faces = c[:, -2] > 0.5
            c = c[:, :13].clone()
            c[faces, 5:] = 0
            c[~faces, :5] = 0
        out[:, 0, 0, :c.size(1)] = c * 2 - 1
        return out


class ReadPixels:
    """A toy oracle: logits from pixels [start, start + k) of row 0, channel 0; one content factor, the
    mean of channel 1."""

    def __init__(self, label_kind="binary", start=0, k=5, names=NAMES):
        self.label_kind, self.start, self.k, self.label_names = label_kind, start, k, list(names)

    def predict(self, x):
        logits = x[:, 0, 0, self.start:self.start + self.k] * 4
        return {"logits": logits, "factors": {"bg": x[:, 1].mean((1, 2))}}


def faces(n=40, size=16, seed=0):
    rng = np.random.default_rng(seed)
    hair = rng.integers(0, 4, n)
    labels = np.zeros((n, 5), np.float32)
    labels[hair < 3, hair[hair < 3]] = 1
    labels[:, 3:] = rng.random((n, 2)) > 0.5
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    ds = ImageSet("faces", "test", images, labels, NAMES, "binary")
    x, _ = ds.tensors()
    ds.images = ((x.clone().index_put_((torch.arange(n)[:, None], torch.tensor(0), torch.tensor(0),
                                         torch.arange(5)[None]), torch.from_numpy(labels) * 2 - 1)
                  .permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    return ds


def cfg(**kw):
    return StarGANv1Config(**{**dict(image_size=16, d_repeat_num=2), **kw})


def test_edit_attributes_follows_fig4():
    y = torch.tensor([[1.0, 0, 0, 1, 1], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]])
    assert edit_attributes(y, NAMES, ("Blond_Hair",)).tolist()[0] == [0, 1, 0, 1, 1]
    assert edit_attributes(y, NAMES, ("Male",))[:, 3].tolist() == [0, 1, 0, 1]
    assert edit_attributes(y, NAMES, ("Young",))[:, 4].tolist() == [0, 1, 1, 0]
    hair = edit_attributes(y, NAMES, ("Hair",))[:, :3].tolist()
    assert hair == [[0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0]]           # next colour; grey/red -> black
    assert edit_attributes(y, NAMES, FIG4_TASKS["H+G+A"]).tolist()[0] == [0, 1, 0, 0, 0]
    assert torch.equal(y, y.clone())                                        # input untouched
    with pytest.raises(ConfigError, match="unknown attribute 'Bald'"):
        edit_attributes(y, NAMES, ("Bald",))
    with pytest.raises(ConfigError, match=r"shape \(B, 5\)"):
        edit_attributes(y[:, :4], NAMES, ("Male",))


def test_translate_batches_and_checks_lengths():
    G = WriteLabel()
    x, c = torch.zeros(5, 3, 4, 8), torch.ones(5, 5)
    out = translate(G, x, c, batch_size=2)
    assert out.shape == x.shape and (out[:, 0, 0, :5] == 1).all()
    with pytest.raises(ConfigError, match="5 images but 4 labels"):
        translate(G, x, c[:4])


def test_perfect_and_do_nothing_translations_score_as_expected():
    data, oracle = faces(), ReadPixels()
    perfect = evaluate_attribute_transfer(WriteLabel(), cfg(), data, oracle)
    assert perfect["real"]["target_accuracy"] == 1.0
    for name in FIG4_TASKS:
        s = perfect[name]
        assert s["target_accuracy"] == 1.0 and s["kept_accuracy"] == 1.0
        assert s["content_error"] == pytest.approx(0.0, abs=1e-6) and s["content_error_shuffled"] > 0.1
    lazy = evaluate_attribute_transfer(WriteLabel(do_nothing=True), cfg(), data, oracle)
    for name in FIG4_TASKS:
        assert lazy[name]["target_accuracy"] == 0.0 and lazy[name]["kept_accuracy"] == 1.0
    # only the images a task changes are scored: Black on black-haired faces is no task
    n_black = int(data.labels[:, 0].sum())
    assert perfect["Black"]["n"] == len(data) - n_black and perfect["Gender"]["n"] == len(data)


def test_score_edit_counts_changed_and_kept_attributes():
    oracle = ReadPixels()
    x = torch.rand(2, 3, 4, 8) * 2 - 1
    y_src = torch.tensor([[1.0, 0, 0, 1, 1], [1.0, 0, 0, 0, 1]])
    y_trg = torch.tensor([[0.0, 1, 0, 1, 1], [0.0, 1, 0, 0, 1]])
    fake = x.clone()
    # the first image is right; the second misses blond and loses "young"
    fake[:, 0, 0, :5] = torch.tensor([[-1.0, 1, -1, 1, 1], [-1.0, -1, -1, -1, -1]])
    s = score_edit(oracle, x, fake, y_src, y_trg)
    assert s["target_accuracy"] == 0.5 and s["kept_accuracy"] == pytest.approx(5 / 6) and s["n"] == 2
    with pytest.raises(ConfigError, match="binary"):
        score_edit(ReadPixels("domain"), x, fake, y_src, y_trg)
    with pytest.raises(ConfigError, match="one \\(k,\\) label"):
        score_edit(oracle, x, fake, y_src, y_trg[:1])


def test_evaluate_cyclegan_uses_both_directions():
    data = faces(60)
    c = CycleGANConfig(image_size=16, n_layers_d=1)
    nets = {"G_AB": WriteOne(1), "G_BA": WriteOne(0)}
    scores = evaluate_cyclegan(nets, c, data, ReadPixels())
    assert set(scores) == {"A->B", "B->A"}
    assert scores["A->B"]["n"] == int(data.labels[:, 0].sum())
    assert scores["A->B"]["target_accuracy"] == 1.0 and scores["B->A"]["target_accuracy"] == 1.0


class WriteOne(nn.Module):
    """A CycleGAN generator to hair colour `k` (0 black, 1 blond): writes that hair label, keeps the rest."""

    def __init__(self, k):
        super().__init__()
        self.p, self.k = nn.Parameter(torch.zeros(())), k

    def forward(self, x):
        out = x.clone()
        out[:, 0, 0, :3] = -1
        out[:, 0, 0, self.k] = 1
        return out


def test_domain_transfer_and_the_wrong_mask():
    joint = cfg(datasets=("faces", "expressions"))
    expr_oracle = ReadPixels("domain", start=5, k=8, names=[f"e{i}" for i in range(8)])
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    right = evaluate_domain_transfer(WriteLabel(mask_aware=True), joint, x, expr_oracle, dataset=1,
                                     content_oracle=ReadPixels())
    assert right["accuracy"] == 1.0 and set(right["per_class"].values()) == {1.0}
    assert right["content_error"] == pytest.approx(0.0, abs=1e-6)
    assert right["attributes"] == {n: 0.0 for n in NAMES}                  # c1 is zero: nothing read as on
    wrong = evaluate_domain_transfer(WriteLabel(mask_aware=True), joint, x, expr_oracle, dataset=1, mask_dataset=0)
    assert wrong["accuracy"] == pytest.approx(1 / 8)                        # the request is ignored
    single = cfg(datasets=("expressions",), c_dim=8)
    eight = ReadPixels("domain", start=0, k=8, names=[f"e{i}" for i in range(8)])
    sng = evaluate_domain_transfer(WriteLabel(), single, x, eight, dataset=0)
    assert sng["accuracy"] == 1.0 and "attributes" not in sng
    with pytest.raises(ConfigError, match="binary labels"):
        evaluate_domain_transfer(WriteLabel(), joint, x, expr_oracle, dataset=0)
    with pytest.raises(ConfigError, match="reads 5 labels but dataset 'expressions' has 8"):
        evaluate_domain_transfer(WriteLabel(), single, x, ReadPixels("domain", start=0, k=5), dataset=0)


def test_with_mask_rewrites_only_the_mask():
    joint = cfg(datasets=("faces", "expressions"))
    c = torch.zeros(2, 15)
    c[:, 9], c[:, 14] = 1, 1
    w = with_mask(joint, c, 0)
    assert w[:, 13:].tolist() == [[1, 0], [1, 0]] and torch.equal(w[:, :13], c[:, :13])
    assert c[:, 14].tolist() == [1, 1]                                      # a copy
    with pytest.raises(ConfigError, match="joint"):
        with_mask(cfg(), torch.zeros(2, 5), 0)
    with pytest.raises(ConfigError, match=r"\(B, 15\)"):
        with_mask(joint, torch.zeros(2, 13), 0)


def test_faces_with_expressions_keeps_the_face_and_takes_the_expression(tmp_cache):
    from stargan_lib.data import make_dataset
    from stargan_lib.experiments.stargan_v1 import EXPRESSION_FACTORS, faces_with_expressions

    faces_set = make_dataset("faces", "test", n=6, image_size=16)
    expr = make_dataset("expressions", "test", n=5, image_size=16)
    out = faces_with_expressions(faces_set, expr)
    assert len(out) == 5 and out.name == "expressions" and out.label_kind == "domain"
    assert out.labels.tolist() == expr.labels.tolist()
    for k in EXPRESSION_FACTORS:
        assert np.array_equal(out.factors[k], expr.factors[k][:5])
    for k in ("pos_x", "skin_tone", "background", "hair_rgb"):
        assert np.array_equal(out.factors[k], faces_set.factors[k][:5])
    assert np.array_equal(out.images[:, 0, 0], faces_set.images[:5, 0, 0])    # same background corner
    assert not np.array_equal(out.images, faces_set.images[:5])                # other face parts
    with pytest.raises(ConfigError, match="faces set and an expressions set"):
        faces_with_expressions(expr, faces_set)


def test_expression_oracle_both_styles_is_trained_once(tmp_cache):
    from stargan_lib.experiments.stargan_v1 import expression_oracle_both_styles

    first = expression_oracle_both_styles("smoke", device="cpu")
    assert set(first.metrics) == {"studio", "faces", "preset"} and first.label_names[4] == "happy"
    assert len(list((tmp_cache / "oracle").glob("expressions_both_styles_*.pt"))) == 1
    again = expression_oracle_both_styles("smoke", device="cpu")
    for k, v in first.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])


def test_joint_and_single_configs_see_as_many_expression_batches():
    from stargan_lib.models.stargan_v1 import config_for
    from stargan_lib.experiments.stargan_v1 import joint_and_single_configs

    full = config_for("course")
    jnt, sng = joint_and_single_configs("course", seed=3)
    assert jnt.datasets == ("faces", "expressions") and sng.datasets == ("expressions",) and sng.c_dim == 8
    assert jnt.total_iters == full.total_iters // 2 and sng.total_iters == jnt.total_iters // 2
    assert jnt.decay_iters * full.total_iters == full.decay_iters * jnt.total_iters     # same decaying fraction
    assert jnt.seed == sng.seed == 3
    jnt, sng = joint_and_single_configs("smoke", jnt_iters=2)
    assert jnt.total_iters == 2 and sng.total_iters == config_for("smoke").n_critic   # at least one G update
