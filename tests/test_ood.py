"""The out-of-distribution gate and the operating points: pure functions on known data, the fit on a real
checkpoint, the predictor's flag and the batch-predict CSV contract."""
import json

import numpy as np
import pandas as pd
import pytest

from hcview.metrics.ood import compute_ood_separation, fit_mahalanobis, mahalanobis_score, threshold_at_false_alarm
from hcview.metrics.operating import choose_threshold, compute_operating_point
from hcview.paths import samples_dir


def test_mahalanobis_flags_points_far_from_every_class():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (300, 8))
    b = rng.normal(6, 1, (300, 8))
    stats = fit_mahalanobis(np.r_[a, b], np.r_[np.zeros(300), np.ones(300)])
    assert stats["means"].shape == (2, 8) and stats["precision"].shape == (8, 8)
    val = np.r_[rng.normal(0, 1, (200, 8)), rng.normal(6, 1, (200, 8))]
    thr = threshold_at_false_alarm(mahalanobis_score(val, stats["means"], stats["precision"]), 0.05)
    far = rng.normal(3, 1, (100, 8)) + np.array([0, 0, 0, 0, 0, 0, 0, 12])
    sep = compute_ood_separation(mahalanobis_score(val, stats["means"], stats["precision"]),
                                 mahalanobis_score(far, stats["means"], stats["precision"]), thr)
    assert sep["auroc"] > 0.99 and sep["out_flagged"] > 0.95 and 0.03 <= sep["in_flagged"] <= 0.07
    # one class (multi-label models) and unknown labels (-100) ignored
    one = fit_mahalanobis(np.r_[a, b], np.r_[np.zeros(300), np.full(300, -100)])
    assert one["n_fit"] == 300 and one["means"].shape == (1, 8)


def test_operating_points():
    y = np.r_[np.zeros(90), np.ones(10)]
    s = np.r_[np.linspace(0, 0.2, 90), np.linspace(0.15, 0.3, 10)]
    op = choose_threshold(y, s)
    assert op["rule"] == "youden" and 0.15 <= op["threshold"] <= 0.2
    assert op["sensitivity"] + op["specificity"] - 1 >= compute_operating_point(y, s, 0.5)["sensitivity"] + \
        compute_operating_point(y, s, 0.5)["specificity"] - 1
    hi = choose_threshold(y, s, "sensitivity", 1.0)
    assert hi["sensitivity"] == 1.0 and hi["threshold"] <= 0.15 + 1e-9
    m = compute_operating_point([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], 0.5)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (1, 1, 1, 1) and m["ppv"] == 0.5 and m["npv"] == 0.5
    none = choose_threshold(np.zeros(5), np.linspace(0, 1, 5))
    assert none["threshold"] == 0.5 and "lacks a class" in none["rule"]


def test_fit_post_writes_the_gate_into_the_checkpoint(tmp_path, tmp_var_dir):
    import torch

    from hcview.models.checkpoint import load_checkpoint, read_card, save_checkpoint
    from hcview.models.registry import create_model
    from hcview.train.postfit import apply_post

    torch.manual_seed(0)
    p = tmp_path / "m.pt"
    save_checkpoint(create_model("cihmlc", "demo"), p, {"id": "cihmlc", "variant": "demo", "data": {"spec": "sample:nih"}})
    sha0 = read_card(p)["sha256"]
    extra = apply_post(p, probes=False)
    card = read_card(p)
    assert card["sha256"] != sha0 and card["ood"]["false_alarm_rate"] == 0.05
    assert set(card["operating_points"]["labels"]) == set(create_model("cihmlc", "demo").label_space.heads[0].labels)
    model, _ = load_checkpoint(p)
    assert model.ood.means.shape[1] == 128 and float(model.ood.threshold) == pytest.approx(extra["ood"]["threshold"])
    assert "ood.precision" in torch.load(p, weights_only=True)


@pytest.fixture(scope="module")
def cihmlc():
    from hcview.infer.predictor import Predictor

    p = Predictor("cihmlc", "demo", device="cpu")
    if p.ood is None:
        pytest.skip("the shipped CIHMLC demo has no OOD statistics")
    return p


def test_shipped_chest_model_flags_brain_mri_not_chest_xrays(cihmlc):
    brain = sorted((samples_dir() / "brain-mri").glob("*/*.jpg"))[::160]
    chest = sorted((samples_dir() / "nih-cxr-1000").glob("test/*/*.png"))[:8]
    flagged_brain = [cihmlc.predict(f, mc=0).ood for f in brain]
    flagged_chest = [cihmlc.predict(f, mc=0).ood for f in chest]
    assert sum(flagged_brain) >= len(brain) - 1 and sum(flagged_chest) <= 2
    j = cihmlc.predict(brain[0], mc=0).to_json()
    assert j["flags"]["ood"] and j["ood_score"] > j["ood_threshold"] > 0


def test_batch_csv_contract_equals_one_by_one(cihmlc, tmp_path, capsys):
    from hcview.cli import main

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    srcs = sorted((samples_dir() / "nih-cxr-1000").glob("test/*/*.png"))[:5] + sorted((samples_dir() / "brain-mri").glob("glioma/*.jpg"))[:2]
    for i, s in enumerate(srcs):
        (folder / ("sub" if i % 2 else "") / f"{i:02d}{s.suffix}").write_bytes(s.read_bytes())
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out.csv"
    assert main(["predict", "--model", "cihmlc", "--input", str(folder), "--csv", str(out), "--mc", "4",
                 "--batch-size", "3"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    labels = cihmlc.label_space.heads[0].labels
    assert list(df.columns[:4]) == ["path", "ood", "ood_score", "uncertain"]
    assert [f"p:labels:{lab}" for lab in labels] == [c for c in df.columns if c.startswith("p:")]
    assert [f"sd:labels:{lab}" for lab in labels] == [c for c in df.columns if c.startswith("sd:")]
    assert len(df) == 8 and df.columns[-1] == "error"
    bad = df[df["path"].str.endswith("broken.png")]
    assert len(bad) == 1 and bad["error"].iloc[0]
    good = df[df["error"] == ""]
    for _, row in good.iterrows():
        r = cihmlc.predict(row["path"], mc=0)
        np.testing.assert_allclose([float(row[f"p:labels:{lab}"]) for lab in labels], r.probs["labels"], atol=1e-5)
        assert int(float(row["ood"])) == int(r.ood) and float(row["ood_score"]) == pytest.approx(r.ood_score, rel=1e-4)
    assert good[good["path"].str.endswith(".jpg")]["ood"].astype(float).all()
    assert "8 images" in capsys.readouterr().out
    # several inputs without --csv: one line
    assert main(["predict", "--model", "cihmlc", "--input", str(folder)]) == 2


def test_input_ablation_scores_with_and_without_the_record():
    from hcview.errors import InputError
    from hcview.infer.input_ablation import input_ablation

    r = input_ablation("medfusionnet", "demo", "sample:nih", "val", ("meta",), n_boot=20)
    assert r["n_cases"] == 201 and r["dropped"] == ["meta"] and r["n_boot"] == 20
    assert r["difference"] == pytest.approx(r["with_all_inputs"] - r["without"])
    assert r["with_all_inputs"] != r["without"] and r["ci_low"] <= r["ci_high"]
    with pytest.raises(InputError, match="no optional input"):
        input_ablation("cihmlc", "demo", "sample:nih", "val", ("meta",), n_boot=1)
