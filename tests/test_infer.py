"""Predictors, MC dropout, result structuring, predict CLI. Tiny untrained demo models, 64x64 inputs."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hcview.models import list_models
from hcview.explain.guard import state_fingerprint
from hcview.infer import results as R
from hcview.infer.mc_dropout import mc_samples, summarize
from hcview.infer.predictor import Predictor
from hcview.models import get_spec
from hcview.models.labels import load_label_space
from hcview.models.registry import create_model

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
MODELS = list_models()


def _x(seed=0, size=64):
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {m: create_model(m, "demo").eval() for m in MODELS}


@pytest.mark.parametrize("mid", MODELS)
def test_mc_fast_path_equals_full_passes(models, mid):
    m, x = models[mid], _x()
    before = state_fingerprint(m)
    fast = mc_samples(m, x, n=4, seed=7, fast=True)
    full = mc_samples(m, x, n=4, seed=7, fast=False)
    for h in fast:
        assert fast[h].shape == full[h].shape == (4, 1, m.label_space.head(h).size)
        torch.testing.assert_close(fast[h], full[h], rtol=1e-5, atol=1e-6)
    # dropout really is active: the passes differ, and a different seed gives different samples
    first = max(m.label_space.heads, key=lambda h: h.size).name
    assert fast[first].std(0).max() > 0
    assert not torch.equal(fast[first], mc_samples(m, x, n=4, seed=8)[first])
    # the shared model is left exactly as found: eval everywhere, no hooks, same weights
    assert state_fingerprint(m) == before
    assert not any(mod.training for mod in m.modules())


def test_mc_batchnorm_stays_in_inference_mode(models):
    m = models["cihmlc"]
    bn = m.head_bn
    stats = bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)
    mc_samples(m, _x(), n=3)
    assert torch.equal(bn.running_mean, stats[0]) and torch.equal(bn.running_var, stats[1])
    assert int(bn.num_batches_tracked) == stats[2]


def test_summary_flags_sigmoid_and_softmax():
    ls = load_label_space("cihmlc")
    n, c = 10, ls.heads[0].size
    s = torch.full((n, 1, c), 0.9)
    s[:, 0, 0] = torch.linspace(0.3, 0.7, n)           # straddles 0.5 -> uncertain
    s[:, 0, 1] = torch.linspace(0.05, 0.1, n)          # confidently negative
    u = summarize({"labels": s}, ls)["labels"]
    assert u.uncertain[0] and not u.uncertain[1] and not u.uncertain[2]
    assert u.ci_low[0] < 0.5 < u.ci_high[0]
    assert u.mutual_info[0] > u.mutual_info[2] >= 0
    # softmax: top-1 and top-2 intervals overlap -> uncertain; well separated -> not
    tx = load_label_space("hcnet_brain_mri")
    sizes = tx.head_sizes
    samples = {}
    for h, k in sizes.items():
        p = torch.zeros(n, 1, k)
        p[:, 0, 0] = 1.0 if k == 1 else 0.97
        if k > 1:
            p[:, 0, 1:] = 0.03 / (k - 1)
        samples[h] = p
    samples["disease"][:, 0, :2] = torch.stack([torch.linspace(0.3, 0.6, n), torch.linspace(0.6, 0.3, n)], 1)
    samples["disease"][:, 0, 2:] = (1 - samples["disease"][:, 0, :2].sum(1, keepdim=True)) / (sizes["disease"] - 2)
    us = summarize(samples, tx)
    assert us["disease"].uncertain[0] and not us["category"].uncertain[0]


def test_hierarchy_detail_agreement():
    ls = load_label_space("hcnet_brain_mri")
    d_labels = ls.head("disease").labels
    dis = d_labels[0]
    an, cat = ls.parent_of(dis)
    probs = {h.name: np.full(h.size, 0.01) for h in ls.heads}
    probs["anatomy"][ls.head("anatomy").labels.index(an)] = 0.9
    probs["category"][ls.head("category").labels.index(cat)] = 0.9
    probs["disease"][0] = 0.9
    d = R.hierarchy_detail(ls, probs)
    assert d["heads_agree"] and not d["inconsistent"] and d["prediction"]["disease"] == dis
    other_cat = next(c for c in ls.head("category").labels if c != cat)
    probs["category"][:] = 0.01
    probs["category"][ls.head("category").labels.index(other_cat)] = 0.9
    d = R.hierarchy_detail(ls, probs)
    assert not d["heads_agree"] and d["inconsistent"]


def test_tree_detail_flags_every_inconsistent_edge():
    ls = load_label_space("cihmlc")
    labels = ls.heads[0].labels
    p = np.full(len(labels), 0.9)
    p[labels.index("Cardiac")] = 0.2            # both children of Cardiac above 0.5 -> 2 violations
    p[labels.index("Consolidation")] = 0.1      # child Pneumonia 0.9 -> 1 violation
    d = R.tree_detail(ls, {"labels": p})
    bad = {(e["parent"], e["child"]) for e in d["edges"] if e["inconsistent"]}
    assert bad == {("Cardiac", "Enlarged Cardiomediastinum"), ("Cardiac", "Cardiomegaly"), ("Consolidation", "Pneumonia")}
    assert len(d["edges"]) == len(ls.edges) == 20 and d["inconsistent"]
    assert not R.tree_detail(ls, {"labels": np.full(len(labels), 0.9)})["inconsistent"]


def test_regression_denormalisation():
    ls = load_label_space("resmtnet_jsrt")
    vals = np.array([0.5, 0.25, 0.5])  # x, y, size
    d = R.regression_detail(ls, vals, (1024, 1024))
    assert d["x_px"] == pytest.approx(512) and d["y_px"] == pytest.approx(256)
    assert d["size_mm"] == pytest.approx(30.0)
    assert d["pixel_spacing_mm"] == pytest.approx([0.35, 0.35])        # 0.175 mm on 2048, scaled to 1024
    assert d["size_px"] == pytest.approx(30.0 / 0.35)
    assert d["x_mm"] == pytest.approx(512 * 0.35)
    d2 = R.regression_detail(ls, vals, (1024, 1024), pixel_spacing_mm=[0.2, 0.1])
    assert d2["x_mm"] == pytest.approx(512 * 0.1) and d2["y_mm"] == pytest.approx(256 * 0.2)
    assert d2["spacing_source"] == "image"


@pytest.mark.parametrize("mid", MODELS)
def test_predictor_untrained_structure(models, mid, tmp_models_dir):
    pr = get_spec(mid).predictor(mid, "demo", device="cpu", model=models[mid])
    pr.input_size = 64
    img = np.random.default_rng(0).random((80, 72)).astype(np.float32)
    rec = {"Patient Age": 61, "Patient Gender": "F"} if mid == "medfusionnet" else None
    res = pr.predict(img, record=rec, mc=3)
    j = json.loads(json.dumps(res.to_json(), default=float))
    assert j["flags"]["untrained"] is True
    n_cls = sum(h.size for h in models[mid].label_space.heads if h.kind != "regression")
    assert len(j["outputs"]) == n_cls
    for o in j["outputs"]:
        assert 0 <= o["prob"] <= 1 and o["ci_low"] <= o["mc_mean"] <= o["ci_high"]
    if mid == "hcnet":
        assert set(j["prediction"]) == {"anatomy", "category", "disease"} and "heads_agree" in j
    if mid == "cihmlc":
        assert len(j["edges"]) == 20 and all("parent" in o for o in j["outputs"] if o["label"] == "Pneumonia")
        assert j["flags"]["inconsistent"] == any(e["inconsistent"] for e in j["edges"])
    if mid == "medfusionnet":
        assert j["modalities"] == ["image", "record"]
        assert j["record_features"] == {"age/100": True, "sex (M=1, F=0)": True, "view (PA=1, AP=0)": False}
        # the record changes the output (it is really used)
        assert not np.allclose(res.probs["labels"], pr.predict(img, mc=0).probs["labels"])
    if mid == "resmtnet":
        r = j["regression"]
        assert 0 <= r["x_px"] <= 72 and 0 <= r["y_px"] <= 80 and r["size_mm"] > 0


def test_get_predictor_untrained_without_checkpoint(tmp_models_dir):
    from hcview.infer.predictor import get_predictor

    p = get_predictor("cihmlc", "demo", "cpu", fresh=True)
    assert p.untrained and p.checkpoint is None and "UNTRAINED" in p.notices[0]
    assert get_predictor("cihmlc", "demo", "cpu") is p


def _sample(pattern):
    hits = sorted(SAMPLES.glob(pattern))
    if not hits:
        pytest.skip(f"sample {pattern} not bundled")
    return hits[0]


@pytest.mark.parametrize("mid,pattern", [("cihmlc", "nih-cxr-512/*.png"), ("hcnet", "brain-mri/*/*.jpg"),
                                         ("resmtnet", "dicom/*.dcm")])
def test_predict_cli_json(mid, pattern, tmp_models_dir, tmp_path, capsys):
    from hcview.cli import main

    src = _sample(pattern)
    rc = main(["predict", "--model", mid, "--input", str(src), "--mc", "3", "--explain", "gradcam,lrp",
               "--target", "top2", "--out", str(tmp_path / "maps"), "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    j = json.loads(out)
    assert j["model"] == mid and j["variant"] == "demo"
    assert set(j["flags"]) == {"ood", "uncertain", "inconsistent", "synthetic_input", "synthetic_model", "untrained",
                               "modality_mismatch"} and j["flags"]["untrained"]
    assert {"label", "level", "prob", "mc_mean", "mc_std", "ci_low", "ci_high"} <= set(j["outputs"][0])
    assert len(j["heatmaps"]) == 4
    for h in j["heatmaps"]:
        assert Path(h["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert h["approximate"] == (h["method"] == "lrp" and mid not in ("hcnet", "cihmlc"))  # cihmlc: chain LRP
    if mid == "resmtnet":
        assert {"x_px", "y_px", "size_px", "x_mm", "y_mm", "size_mm"} <= set(j["regression"])
        assert j["regression"]["spacing_source"] == "image"  # DICOM pixel spacing used


def test_predict_cli_medfusion_records(tmp_models_dir, tmp_path, capsys):
    from hcview.cli import main

    csv = tmp_path / "rec.csv"
    csv.write_text("Patient Age,Patient Gender,View Position\n45,M,PA\n,F,\n")
    src = _sample("nih-cxr-512/*.png")
    assert main(["predict", "--model", "medfusionnet", "--input", str(src), "--records", str(csv), "--row", "1",
                 "--mc", "2", "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["record_features"] == {"age/100": False, "sex (M=1, F=0)": True, "view (PA=1, AP=0)": False}
    assert main(["predict", "--model", "medfusionnet", "--input", str(src), "--records", str(csv), "--row", "5"]) == 2
    err = capsys.readouterr().err
    assert "row 5" in err and err.count("\n") == 1


@pytest.mark.parametrize("content,name", [(b"", "empty.png"), (b"not an image at all", "x.jpg"),
                                          (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "trunc.png")])
def test_predict_cli_bad_input_one_line(content, name, tmp_path, tmp_models_dir, capsys):
    from hcview.cli import main

    p = tmp_path / name
    p.write_bytes(content)
    rc = main(["predict", "--model", "cihmlc", "--input", str(p), "--mc", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_modality_mismatch_is_flagged():
    """A chest CR DICOM given to the brain-MRI HC-Net is out of distribution; the chest model is not."""
    from hcview.infer.predictor import get_predictor
    from hcview.paths import samples_dir

    dcm = samples_dir() / "dicom" / "siim_pneumothorax_sample.dcm"
    mri = get_predictor("hcnet", "demo").predict(dcm, mc=0)
    assert mri.flags()["modality_mismatch"] is True
    assert "CR" in mri.modality_mismatch and "MR" in mri.modality_mismatch
    chest = get_predictor("cihmlc", "demo").predict(dcm, mc=0)
    assert chest.flags()["modality_mismatch"] is False
    png = get_predictor("hcnet", "demo").predict(samples_dir() / "nih-cxr-512" / "00000001_000.png", mc=0)
    assert png.flags()["modality_mismatch"] is False  # no header, nothing to compare
