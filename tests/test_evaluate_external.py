"""``python -m hcview evaluate --predictions ...`` on CheXpert-challenge style CSVs."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from hcview.cli import main

LABELS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]


def _make_csv(path, seed, n=120, labels=LABELS, noise=0.7):
    rng = np.random.default_rng(seed)
    d = {"Study": [f"patient{i:05d}/study1" for i in range(n)]}
    for lab in labels:
        y = rng.integers(0, 2, n)
        d[f"{lab}_GT"] = y
        d[f"{lab}_Pred"] = np.round(np.clip(y * (1 - noise) + rng.random(n) * noise, 0, 1), 4)
    df = pd.DataFrame(d)
    df.to_csv(path, index=False)
    return df


def _run(capsys, *argv):
    rc = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_single_file_json_matches_sklearn(tmp_path, capsys):
    f = tmp_path / "preds.csv"
    df = _make_csv(f, 0)
    rc, out, err = _run(capsys, "--predictions", str(f), "--json", "--out", str(tmp_path / "o"))
    assert rc == 0, err
    res = json.loads(out)
    assert list(res["labels"]) == LABELS
    for lab in LABELS:
        assert res["labels"][lab]["auroc"] == pytest.approx(roc_auc_score(df[f"{lab}_GT"], df[f"{lab}_Pred"]))
        assert res["labels"][lab]["auprc"] == pytest.approx(
            average_precision_score(df[f"{lab}_GT"], df[f"{lab}_Pred"]))
        assert res["labels"][lab]["support"] == int(df[f"{lab}_GT"].sum())
    mean = np.mean([roc_auc_score(df[f"{lab}_GT"], df[f"{lab}_Pred"]) for lab in LABELS])
    assert res["summary"]["mean_auroc"] == pytest.approx(mean)
    assert res["summary"]["n_cases"] == 120 and "weighted_auroc" in res["summary"]
    saved = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert saved == res


def test_patterns_labels_uncertain_and_single_class(tmp_path, capsys):
    f = tmp_path / "custom.csv"
    df = pd.DataFrame({"true:A": [1, 0, 1, 0, -1, ""], "score:A": [0.9, 0.2, 0.6, 0.7, 0.5, 0.1],
                       "true:B": [0, 0, 0, 0, 0, 0], "score:B": [0.1] * 6, "true:C": [1, 0, 1, 0, 1, 0]})
    df.to_csv(f, index=False)
    rc, out, err = _run(capsys, "--predictions", str(f), "--truth-pattern", "true:{label}",
                        "--score-pattern", "score:{label}", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert list(res["labels"]) == ["A", "B"]  # C has no score column
    assert res["labels"]["A"]["n"] == 4
    assert res["labels"]["A"]["auroc"] == pytest.approx(roc_auc_score([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.7]))
    assert res["labels"]["B"]["auroc"] is None and "negative" in res["labels"]["B"]["reason"]
    rc, out, err = _run(capsys, "--predictions", str(f), "--truth-pattern", "true:{label}",
                        "--score-pattern", "score:{label}", "--labels", "A", "--json")
    assert rc == 0 and list(json.loads(out)["labels"]) == ["A"]
    rc, out, err = _run(capsys, "--predictions", str(f), "--truth-pattern", "true:{label}",
                        "--score-pattern", "score:{label}", "--labels", "A,C")
    assert rc == 2 and "score:C" in err


def test_two_files_friedman(tmp_path, capsys):
    f1, f2 = tmp_path / "hier.csv", tmp_path / "flat.csv"
    _make_csv(f1, 1, noise=0.5)
    _make_csv(f2, 2, noise=0.9)
    rc, out, err = _run(capsys, "--predictions", str(f1), "--predictions", str(f2), "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["model_order"] == ["hier", "flat"]
    assert set(res["models"]) == {"hier", "flat"}
    fr = res["friedman"]
    assert fr["n_blocks"] == len(LABELS) and fr["k"] == 2 and fr["p_value"] is not None
    assert fr["mean_ranks"]["hier"] < fr["mean_ranks"]["flat"]
    assert res["labels"]["Edema"]["hier"]["auroc"] == res["models"]["hier"]["labels"]["Edema"]["auroc"]
    rc, out, err = _run(capsys, "--predictions", str(f1), "--predictions", str(f2))
    assert rc == 0 and "Friedman" in out


def test_three_files_friedman_scipy(tmp_path, capsys):
    from scipy.stats import friedmanchisquare
    files = []
    for i in range(3):
        f = tmp_path / f"m{i}.csv"
        _make_csv(f, 10 + i, noise=0.5 + 0.15 * i)
        files += ["--predictions", str(f)]
    rc, out, err = _run(capsys, *files, "--json")
    assert rc == 0, err
    res = json.loads(out)
    table = np.array([[res["labels"][lab][m]["auroc"] for m in res["model_order"]] for lab in LABELS])
    assert res["friedman"]["statistic"] == pytest.approx(friedmanchisquare(*table.T).statistic)


def _bad(tmp_path, kind):
    f = tmp_path / f"{kind}.csv"
    if kind == "missing":
        return f
    if kind == "empty":
        f.write_bytes(b"")
    elif kind == "binary":
        f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    elif kind == "nocols":
        f.write_text("a,b,c\n1,2,3\n")
    elif kind == "nonnumeric":
        f.write_text("A_GT,A_Pred\n1,0.9\n0,high\n")
    elif kind == "headeronly":
        f.write_text("A_GT,A_Pred\n")
    elif kind == "badtruth":
        f.write_text("A_GT,A_Pred\n1,0.9\n2,0.1\n")
    return f


@pytest.mark.parametrize("kind,needle", [("missing", "not found"), ("empty", "empty"), ("binary", "binary"),
                                         ("nocols", "no label"), ("nonnumeric", "non-numeric"),
                                         ("headeronly", "no data rows"), ("badtruth", "0 or 1")])
def test_bad_files_exit_2_one_line(tmp_path, capsys, kind, needle):
    f = _bad(tmp_path, kind)
    rc, out, err = _run(capsys, "--predictions", str(f), "--json")
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert needle in err
    assert out == ""


def test_mode_selection_errors(tmp_path, capsys):
    rc, out, err = _run(capsys)
    assert rc == 2 and "exactly one" in err
    f = tmp_path / "p.csv"
    _make_csv(f, 0, n=20)
    rc, out, err = _run(capsys, "--predictions", str(f), "--model", "hcnet", "--data", "x")
    assert rc == 2 and "exactly one" in err
    rc, out, err = _run(capsys, "--model", "hcnet")
    assert rc == 2 and "--data" in err


def test_model_mode_calls_evaluator(tmp_path, capsys, monkeypatch):
    import sys
    import types

    """The CLI's --model branch hands its flags to hcview.infer.evaluate.evaluate_model (replaced by a fake here)."""
    calls = {}
    fake = types.ModuleType("hcview.infer.evaluate")

    def evaluate_model(model_id, variant, data_spec, split, out_dir):
        calls.update(model_id=model_id, variant=variant, data=data_spec, split=split, out=out_dir)
        return {"summary": {"accuracy": 0.5}, "n": float("nan")}

    fake.evaluate_model = evaluate_model
    monkeypatch.setitem(sys.modules, "hcview.infer.evaluate", fake)
    rc, out, err = _run(capsys, "--model", "hcnet", "--data", "folder:x", "--split", "val", "--json")
    assert rc == 0, err
    assert calls == {"model_id": "hcnet", "variant": "demo", "data": "folder:x", "split": "val", "out": None}
    assert json.loads(out) == {"summary": {"accuracy": 0.5}, "n": None}


# ------------------------------------------------------------------------ truths in a file of their own
def _split_files(tmp_path, seed=0, n=60, extra_pred=3, extra_truth=2, name="P.csv"):
    """A predictions file (ID + scores) and a truth file (ID + truths, another row order), each with rows
    the other lacks."""
    rng = np.random.default_rng(seed)
    ids = [f"{i:08d}_000.png" for i in range(n)]
    y = rng.integers(0, 2, (n, 2))
    s = np.round(np.clip(0.5 * y + 0.5 * rng.random((n, 2)), 0, 1), 4)
    p = pd.DataFrame({"Image Index": ids + [f"only_pred_{i}" for i in range(extra_pred)],
                      "Edema_Pred": list(s[:, 0]) + [0.5] * extra_pred, "Mass_Pred": list(s[:, 1]) + [0.5] * extra_pred})
    t = pd.DataFrame({"Image Index": ids[::-1] + [f"only_truth_{i}" for i in range(extra_truth)],
                      "Edema_GT": list(y[::-1, 0]) + [1] * extra_truth, "Mass_GT": list(y[::-1, 1]) + [0] * extra_truth})
    p.to_csv(tmp_path / name, index=False)
    t.to_csv(tmp_path / "T.csv", index=False)
    return tmp_path / name, tmp_path / "T.csv", y, s


def test_truth_file_joined_by_id(tmp_path, capsys):
    p, t, y, s = _split_files(tmp_path)
    rc, out, err = _run(capsys, "--predictions", str(p), "--truth", str(t), "--id-column", "Image Index", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["labels"]["Edema"]["auroc"] == pytest.approx(roc_auc_score(y[:, 0], s[:, 0]))
    assert res["labels"]["Mass"]["auroc"] == pytest.approx(roc_auc_score(y[:, 1], s[:, 1]))
    assert res["summary"]["n_cases"] == 60
    assert res["join"] == {"id_column": "Image Index", "matched": 60, "predictions_without_truth": 3,
                           "truth_without_predictions": 2}
    rc, out, err = _run(capsys, "--predictions", str(p), "--truth", str(t), "--id-column", "Image Index")
    assert rc == 0 and "60 rows matched; 3 prediction rows without truth, 2 truth rows without predictions" in out


def test_truth_file_for_two_prediction_files(tmp_path, capsys):
    p1, t, _, _ = _split_files(tmp_path, name="a.csv")
    p2, _, _, _ = _split_files(tmp_path, name="b.csv", extra_pred=0)
    rc, out, err = _run(capsys, "--predictions", str(p1), "--predictions", str(p2), "--truth", str(t),
                        "--id-column", "Image Index", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["model_order"] == ["a", "b"] and res["friedman"]["k"] == 2
    assert res["models"]["a"]["join"]["predictions_without_truth"] == 3
    assert res["models"]["b"]["join"]["predictions_without_truth"] == 0


@pytest.mark.parametrize("case,needle", [
    ("dup_id_pred", "appears more than once"), ("dup_id_truth", "appears more than once"),
    ("dup_column", "duplicated column"), ("same_patterns", "patterns are the same"),
    ("no_id_column", "no ID column"), ("no_match", "matches one"), ("truth_without_id", "go together"),
    ("id_without_truth", "go together"),
])
def test_join_errors_exit_2_one_line(tmp_path, capsys, case, needle):
    p, t, _, _ = _split_files(tmp_path)
    args = ["--predictions", str(p), "--truth", str(t), "--id-column", "Image Index"]
    if case == "dup_id_pred":
        pd.concat([pd.read_csv(p), pd.read_csv(p).head(1)]).to_csv(p, index=False)
    elif case == "dup_id_truth":
        pd.concat([pd.read_csv(t).head(2), pd.read_csv(t)]).to_csv(t, index=False)
    elif case == "dup_column":
        p.write_text(p.read_text().replace("Mass_Pred", "Edema_Pred", 1))
    elif case == "same_patterns":
        args += ["--truth-pattern", "{label}_X", "--score-pattern", "{label}_X"]
    elif case == "no_id_column":
        args[-1] = "Study"
    elif case == "no_match":
        df = pd.read_csv(t)
        df["Image Index"] = "other_" + df["Image Index"]
        df.to_csv(t, index=False)
    elif case == "truth_without_id":
        args = args[:4]
    elif case == "id_without_truth":
        args = args[:2] + args[4:]
    rc, out, err = _run(capsys, *args, "--json")
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert needle in err


def test_same_patterns_and_duplicated_columns_in_one_file(tmp_path, capsys):
    f = tmp_path / "p.csv"
    _make_csv(f, 0, n=20)
    rc, _, err = _run(capsys, "--predictions", str(f), "--truth-pattern", "{label}", "--score-pattern", "{label}")
    assert rc == 2 and "patterns are the same" in err
    f.write_text("A_GT,A_Pred,A_Pred\n1,0.9,0.8\n0,0.1,0.2\n")
    rc, _, err = _run(capsys, "--predictions", str(f))
    assert rc == 2 and "duplicated column(s): A_Pred" in err
