"""``python -m hcview demo``: HC-Net's full demo adds the flat baseline + ablation; --quick trains small versions."""
import pytest

from hcview.cli import main


@pytest.fixture
def calls(monkeypatch):
    import hcview.cli.demo_cmd as demo
    import hcview.train.postfit as postfit
    import hcview.train.trainer as trainer

    seen = {"train": [], "ablation": 0}

    def fake_train(cfg, out_dir, **kw):
        seen["train"].append(cfg)
        return {"steps": 1, "checkpoint": "runs/x.pt", "test": {}}

    def fake_post(path, data_spec):  # the OOD gate and operating points are fitted before shipping
        seen.setdefault("post", []).append(path)
        return {"ood": {}}

    def fake_ablation(path, args, threads):
        seen["ablation"] += 1
        return {"mcnemar_p": 1.0}

    monkeypatch.setattr(trainer, "train", fake_train)
    monkeypatch.setattr(postfit, "apply_post", fake_post)
    monkeypatch.setattr(trainer, "register_checkpoint", lambda src, dst: dst)
    monkeypatch.setattr(demo, "_hcnet_ablation", fake_ablation)
    return seen


def test_demo_quick_trains_one_hcnet_epoch_without_ablation(calls):
    assert main(["demo", "--models", "hcnet", "--quick", "--json"]) == 0
    assert [c["epochs"] for c in calls["train"]] == [1] and calls["ablation"] == 0


def test_demo_full_hcnet_uses_the_variant_schedule_and_runs_the_ablation(calls):
    assert main(["demo", "--models", "hcnet", "--json"]) == 0
    cfg = calls["train"][0]
    assert (cfg["epochs"], cfg["lr"], cfg["scheduler"], cfg["loss"]) == (4, 1e-3, "cosine", "hcnet")
    assert calls["ablation"] == 1
