"""The training loop on demo variants with tiny subsets and --max-steps (fast, CPU)."""
import json
import math

import numpy as np
import pytest
import torch

from hcview.errors import InputError
from hcview.train.config import resolve_config
from hcview.train.trainer import Cancelled, balanced_weights, collate, simple_metrics, train

TINY = {"batch_size": 4, "max_train_samples": 16, "max_eval_samples": 8, "device": "cpu"}


def test_config_merge_order():
    cfg = resolve_config("cihmlc", "demo")
    assert cfg["loss"] == "hbce" and cfg["scheduler"] == "plateau"          # paper default
    from hcview.models import get_spec
    assert cfg["lr"] == get_spec("cihmlc").variant("demo").train["lr"]      # variant override
    cfg = resolve_config("cihmlc", "demo", lr=0.5, hbce_indicator="surrogate", epochs=None)
    assert cfg["lr"] == 0.5 and cfg["hbce_indicator"] == "surrogate"       # CLI override; None ignored
    assert cfg["data"] == "sample:nih"
    with pytest.raises(InputError):
        resolve_config("cihmlc", "demo", hbce_mode="bogus")
    with pytest.raises(InputError):
        resolve_config("hcnet", "paper")  # paper variant needs a real dataset path


def test_balanced_weights_hand():
    w = balanced_weights(np.array([0, 0, 0, 1, -100]))
    assert np.allclose(w, [1 / 3, 1 / 3, 1 / 3, 1.0, 0.0])
    y = np.array([[1, 0], [1, 0], [1, 1], [0, 0]], dtype=float)  # label0: 3 pos, label1: 1 pos, one empty case
    assert np.allclose(balanced_weights(y), [1 / 3, 1 / 3, 1.0, 1.0])


def test_simple_metrics_hand():
    from hcview.models import get_spec

    ls = get_spec("resmtnet").label_space("demo")
    n = 4
    ys = {"state": np.array([0, 1, 2, -100]), "regression": np.array([[0.5, 0.5, 0.1]] * n)}
    ps = {"state": np.eye(3)[[0, 1, 0, 0]], "regression": np.array([[0.7, 0.5, 0.1]] * n)}
    mask = np.array([[1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]], dtype=float)
    m = simple_metrics(ls, ys, ps, mask)
    assert m["val_state_acc"] == pytest.approx(2 / 3)
    assert m["val_x_mse"] == pytest.approx(0.04) and m["val_y_mse"] == 0.0
    ls2 = get_spec("medfusionnet").label_space("demo")
    K = ls2.heads[0].size
    y = np.zeros((4, K))
    y[:2, 0] = 1
    p = np.zeros((4, K))
    p[:, 0] = [0.9, 0.2, 0.5, 0.1]  # pos scores .9,.2 vs neg .5,.1 -> AUROC 3/4 ; other labels single-class: skipped
    assert simple_metrics(ls2, {"labels": y}, {"labels": p}, None)["val_mean_auroc"] == pytest.approx(0.75)


def test_train_hcnet_writes_two_checkpoints_cards_progress_and_registers(tmp_path, tmp_models_dir):
    from hcview.models.checkpoint import load_checkpoint

    cfg = resolve_config("hcnet", "demo", max_steps=2, **TINY)
    res = train(cfg, tmp_path / "run", register=True, show_bar=False)
    assert res["steps"] == 2 and res["stopped"] == "max_steps"
    for name in ("best_loss", "best_metric"):
        model, card = load_checkpoint(tmp_path / "run" / f"{name}.pt")
        assert card["training"]["loss"] == "hcnet" and card["training"]["max_steps"] == 2
        assert card["data"]["spec"] == "sample:brain-mri" and card["data"]["n_train"] == 16
        assert "disease_class_weights" in card["loss"]
        assert "val_disease_acc" in card["metrics"]["val"]
    _, card = load_checkpoint(tmp_models_dir / "hcnet-demo.pt")  # registered, loads with its card
    assert card["checkpoint_kind"] == "best_val_disease_acc"
    assert "test_disease_acc" in card["metrics"]["test"]
    lines = [json.loads(s) for s in (tmp_path / "run" / "progress.jsonl").read_text().splitlines()]
    steps = [e for e in lines if e["event"] == "step"]
    assert [e["step"] for e in steps] == [1, 2]
    for k in ("epoch", "step", "loss", "lr", "eta_s", "parts"):
        assert k in steps[0]
    assert math.isfinite(steps[0]["loss"]) and set(steps[0]["parts"]) == {"anatomy", "category", "disease"}
    assert lines[-1]["event"] == "done" and "test" in lines[-1]


def test_train_cihmlc_records_hbce_options_and_cancel(tmp_path, tmp_models_dir):
    cfg = resolve_config("cihmlc", "demo", max_steps=1, hbce_mode="fixed", hbce_indicator="surrogate", hbce_lambda=2.0, **TINY)
    train(cfg, tmp_path / "a", show_bar=False)
    card = json.loads((tmp_path / "a" / "best_metric.json").read_text())
    assert {k: card["loss"][k] for k in ("hbce_mode", "hbce_indicator", "hbce_lambda", "hbce_beta")} == \
        {"hbce_mode": "fixed", "hbce_indicator": "surrogate", "hbce_lambda": 2.0, "hbce_beta": 1.0}
    assert set(card["loss"]["hbce_edge_weights"].values()) == {1.0}
    assert not (tmp_models_dir / "cihmlc-demo.pt").exists()  # not registered without register=True

    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 2  # stop before the third step

    cfg = resolve_config("cihmlc", "demo", max_steps=50, **TINY)
    with pytest.raises(Cancelled):
        train(cfg, tmp_path / "b", should_stop=stop, show_bar=False)
    ev = [json.loads(s) for s in (tmp_path / "b" / "progress.jsonl").read_text().splitlines()]
    assert [e["step"] for e in ev if e["event"] == "step"] == [1, 2]
    assert ev[-1]["event"] == "cancelled"


def test_medfusionnet_meta_text_balanced_curriculum(tmp_path, tmp_models_dir, monkeypatch):
    from hcview.train import trainer as T

    seen = {"meta": 0, "text": 0, "samplers": []}
    orig_inputs = T.model_inputs

    def spy(batch, spec, model):
        kw = orig_inputs(batch, spec, model)
        seen["meta"] += "meta" in kw and kw["meta"].shape[1] > 0
        seen["text"] += "text" in kw
        return kw
    monkeypatch.setattr(T, "model_inputs", spy)
    orig_dl = T.DataLoader

    def dl(ds, **kw):
        if "sampler" in kw:
            seen["samplers"].append(type(kw["sampler"]).__name__)
        return orig_dl(ds, **kw)
    monkeypatch.setattr(T, "DataLoader", dl)
    cfg = resolve_config("medfusionnet", "demo", epochs=2, curriculum=True, curriculum_epochs=1,
                         **{**TINY, "max_train_samples": 8})
    res = train(cfg, tmp_path / "m", show_bar=False)
    assert res["epochs_run"] == 2
    assert seen["meta"] > 0  # age/sex/view metadata reached the model
    # curriculum: balanced (weighted) sampling in epoch 0, natural order in epoch 1
    assert seen["samplers"][1:] == ["WeightedRandomSampler", "RandomSampler"]
    card = json.loads((tmp_path / "m" / "best_metric.json").read_text())
    assert card["loss"]["loss"] == "focal" and card["loss"]["focal_alpha"]


def test_collate_keeps_optional_keys_only_when_all_have_them():
    items = [{"image": torch.zeros(3, 2, 2), "targets": {"a": torch.tensor(1)}, "meta": torch.ones(2), "text": "x", "id": 1},
             {"image": torch.zeros(3, 2, 2), "targets": {"a": torch.tensor(0)}, "text": None, "id": 2}]
    b = collate(items)
    assert b["image"].shape == (2, 3, 2, 2) and b["targets"]["a"].tolist() == [1, 0]
    assert "meta" not in b and b["text"] == ["x", ""] and b["id"] == ["1", "2"]


def test_cosine_warmup_schedule_and_config():
    from hcview.train.trainer import cosine_warmup

    f = cosine_warmup(100, 0.1)                       # 10 warmup steps, then cosine to 0 at step 100
    assert f(0) == pytest.approx(1 / 11) and f(9) == pytest.approx(10 / 11)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(100) == pytest.approx(0.0)
    assert all(f(s) >= f(s + 1) for s in range(10, 100))
    assert cosine_warmup(10, 0)(0) == pytest.approx(1.0) and cosine_warmup(50, 5)(4) == pytest.approx(5 / 6)
    with pytest.raises(InputError):
        resolve_config("resmtnet", "demo", scheduler="bogus")


def test_train_with_cosine_scheduler_decays_lr(tmp_path, tmp_models_dir):
    cfg = resolve_config("resmtnet", "demo", **TINY, max_steps=4, epochs=1, scheduler="cosine", warmup=0.25)
    train(cfg, tmp_path / "run", show_bar=False)
    lrs = [json.loads(l)["lr"] for l in (tmp_path / "run" / "progress.jsonl").read_text().splitlines()
           if json.loads(l).get("event") == "step"]
    # the lr each step used: warmup 1 step (1/2), peak, then cosine 0.75, 0.25 (0 would be the 5th)
    assert lrs == pytest.approx([cfg["lr"] * m for m in (0.5, 1.0, 0.75, 0.25)])


def test_train_hcnet_flat_baseline_card_keeps_model_kwargs(tmp_path):
    from hcview.models.checkpoint import load_checkpoint

    cfg = resolve_config("hcnet", "demo", max_steps=1, loss="hcnet_flat", model_kwargs={"flat": True}, **TINY)
    res = train(cfg, tmp_path / "run", show_bar=False)
    model, card = load_checkpoint(res["checkpoint"])
    assert model.flat and card["model_kwargs"] == {"flat": True} and card["loss"]["loss"] == "hcnet_flat"
    lines = [json.loads(s) for s in (tmp_path / "run" / "progress.jsonl").read_text().splitlines()]
    assert set(next(e for e in lines if e["event"] == "step")["parts"]) == {"disease"}
