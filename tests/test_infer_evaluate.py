"""evaluate_model: predictions CSV + metrics JSON written atomically, reusable without rerunning."""
import json

import pandas as pd


def test_evaluate_model_writes_predictions_and_metrics(tmp_models_dir, tmp_var_dir):
    from hcview.infer.evaluate import default_out_dir, evaluate_model

    r = evaluate_model("cihmlc", "demo", "sample:nih", "test")
    out = default_out_dir("cihmlc", "demo", "test")
    assert out.parent.parent == tmp_var_dir
    df = pd.read_csv(out / "predictions.csv")
    m = json.loads((out / "metrics.json").read_text())
    assert len(df) == r["n_cases"] == m["n_cases"] > 0
    assert {"id", "path", "true_labels_Pneumonia", "score_labels_Pneumonia"} <= set(df.columns)
    assert df["score_labels_Pneumonia"].between(0, 1).all()
    assert m["untrained"] is True and m["model"] == "cihmlc" and "mean_auroc" in m["summary"]
    assert "consistency" in m
    assert not list(out.glob(".*.tmp"))  # no temp files left behind
