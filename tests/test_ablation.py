"""HC-Net's hierarchical-vs-flat ablation on a few real test cases with untrained weights (fast)."""
import json

import pandas as pd

from hcview.infer.ablation import hierarchical_vs_flat, write_ablation
from hcview.models import create_model
from hcview.models.checkpoint import save_checkpoint


def test_hierarchical_vs_flat_block_and_cases(tmp_path):
    data = {"info": {"label_counts": {"disease": {"notumor": 5, "glioma": 9, "meningioma": 7, "pituitary": 8}}}}
    h = save_checkpoint(create_model("hcnet", "demo"), tmp_path / "h.pt", {"id": "hcnet", "variant": "demo", "data": data})
    f = save_checkpoint(create_model("hcnet", "demo", flat=True), tmp_path / "f.pt",
                        {"id": "hcnet", "variant": "demo", "model_kwargs": {"flat": True}})
    res = hierarchical_vs_flat(h, f, split="test", n_boot=20, cases_csv=tmp_path / "cases.csv", limit=24)
    assert res["n_cases"] == 24 and set(res["budget"]) == {"hierarchical", "flat"}
    cases = pd.read_csv(tmp_path / "cases.csv")
    ch, cf = cases["pred_hierarchical"] == cases["true"], cases["pred_flat"] == cases["true"]
    mc = res["mcnemar_disease"]
    assert (mc["b"], mc["c"], mc["both_right"]) == (int((ch & ~cf).sum()), int((~ch & cf).sum()), int((ch & cf).sum()))
    assert 0 <= mc["p_value"] <= 1
    for m in ("hierarchical", "flat"):
        b = res[m]
        assert b["disease_accuracy"] == (ch if m == "hierarchical" else cf).mean()
        assert [r["class"] for r in b["per_class"]] == ["notumor", "glioma", "meningioma", "pituitary"]
        assert sum(r["test_support"] for r in b["per_class"]) == 24
    assert [r["train_support"] for r in res["hierarchical"]["per_class"]] == [5, 9, 7, 8]
    write_ablation(tmp_path / "h.json", res)
    assert json.loads((tmp_path / "h.json").read_text())["ablation"]["n_cases"] == 24
