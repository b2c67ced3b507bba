"""`stargan params`, `stargan train`, `stargan sample` for CycleGAN and StarGAN v1."""

import json

import pytest

from stargan_lib.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("argv, want", [
    (["stargan_v1", "--preset", "paper"], {"G": 8_430_528, "D": 44_762_048}),
    (["stargan_v1", "--preset", "paper", "--n-labels", "8"], {"G": 8_439_936, "D": 44_786_624}),
    (["stargan_v1", "--preset", "paper", "--datasets", "faces,expressions"], {"G": 8_461_888, "D": 44_827_584}),
    (["cyclegan", "--preset", "paper"], {"G": 11_378_179, "D": 2_764_737}),
])
def test_params_paper_counts(capsys, argv, want):
    code, out, _ = run(capsys, "params", *argv)
    counts = json.loads(out)
    assert code == 0 and {k: counts[k] for k in want} == want


def test_params_cyclegan_k_domains(capsys):
    _, out, _ = run(capsys, "params", "cyclegan", "--preset", "paper", "--n-domains", "3")
    counts = json.loads(out)
    assert counts["n_generators"] == 6 and counts["total"] == 6 * (11_378_179 + 2_764_737)


def test_params_bad_config_is_a_clean_error(capsys):
    code, _, err = run(capsys, "params", "stargan_v1", "--preset", "paper", "--image-size", "96")
    assert code == 2 and "d_repeat_num" in err and "Traceback" not in err


def test_train_resume_and_sample_stargan_v1(capsys, tmp_path, tmp_cache):
    out = tmp_path / "run"
    base = ["train", "stargan_v1", "--preset", "smoke", "--out", str(out), "--sample-every", "0", "--no-progress"]
    code, text, _ = run(capsys, *base, "--total-iters", "2", "--device", "cpu")
    assert code == 0 and json.loads(text[text.index("{"):])["step"] == 2
    code, text, _ = run(capsys, *base, "--total-iters", "3")
    assert code == 0 and json.loads(text[text.index("{"):])["step"] == 3          # resumed from step 2
    code, _, err = run(capsys, *base, "--total-iters", "4", "--lambda-cls", "2")
    assert code == 2 and "lambda_cls" in err                                         # another configuration
    code, text, _ = run(capsys, "sample", str(out / "checkpoint.pt"), "--out", str(tmp_path / "g.png"),
                        "--preset", "smoke", "--n", "2")
    assert code == 0 and (tmp_path / "g.png").is_file() and "Blond_Hair" in text


def test_train_and_sample_cyclegan(capsys, tmp_path, tmp_cache):
    out = tmp_path / "cg"
    code, _, _ = run(capsys, "train", "cyclegan", "--preset", "smoke", "--out", str(out), "--total-iters", "1",
                     "--sample-every", "0", "--no-progress")
    assert code == 0
    code, _, _ = run(capsys, "sample", str(out / "checkpoint.pt"), "--out", str(tmp_path / "c.png"),
                     "--preset", "smoke", "--n", "2")
    assert code == 0 and (tmp_path / "c.png").is_file()


def test_sample_rejects_a_foreign_file(capsys, tmp_path):
    import torch

    torch.save({"weights": torch.zeros(1)}, tmp_path / "x.pt")
    code, _, err = run(capsys, "sample", str(tmp_path / "x.pt"), "--out", str(tmp_path / "g.png"))
    assert code == 2 and "not a course training checkpoint" in err
