"""Two-stage risk stratification (hcview.risk) on the project's bundled UCI cervical table and tiny synthetic frames."""
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hcview.errors import CsvError
from hcview.risk import OUTCOMES, assign_risk, bundled_records_path, read_records, stratify

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = bundled_records_path()
needs_bundled = pytest.mark.skipif(not BUNDLED.exists(), reason="bundled cervical table missing")


@pytest.fixture(scope="module")
def cervical():
    return read_records(BUNDLED)


@pytest.fixture(scope="module")
def biopsy(cervical):
    return stratify(cervical, "Biopsy", seed=0)


def _synthetic(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    return pd.DataFrame({
        "noise_a": rng.normal(size=n).round(2),
        "planted": np.where(y == 1, 10 + rng.integers(0, 5, n), rng.integers(0, 5, n)),
        "noise_b": rng.integers(0, 3, n),
        "Schiller": y,  # an outcome column equal to the target: must never be a feature by default
        "Biopsy": y,
    })


@needs_bundled
def test_bundled_table_shape_and_missing(cervical):
    assert cervical.shape == (858, 36)
    assert set(OUTCOMES) <= set(cervical.columns)
    assert cervical["STDs: Time since first diagnosis"].isna().sum() > 700  # '?' -> NaN
    assert int(cervical["Biopsy"].sum()) == 55


@needs_bundled
def test_stage1_thresholds_inside_range_and_on_grid(cervical):
    for tmin, tmax, dt in [(None, None, None), (0.0, 40.0, 2.0)]:
        res = stratify(cervical, "Hinselmann", tmin=tmin, tmax=tmax, dt=dt, seed=1)
        assert res.stage1
        for r in res.stage1:
            assert r["tmin"] - 1e-9 <= r["threshold"] <= r["tmax"] + 1e-9, r
            k = (r["threshold"] - r["tmin"]) / r["dt"]
            assert abs(k - round(k)) < 1e-6, r
            assert r["direction"] in (">", "<=")
            assert 0.5 <= r["auc"] <= 1 and 0 <= r["f1"] <= 1
            if tmin is not None:
                assert (r["tmin"], r["tmax"], r["dt"]) == (0.0, 40.0, 2.0)


def test_planted_feature_selected_first_with_auc_1():
    res = stratify(_synthetic(), "Biopsy", top_n=2, bins=None, min_samples_split=2)
    top = res.stage1[0]
    assert top["feature"] == "planted" and top["auc"] == 1.0 and top["f1"] == 1.0
    assert top["direction"] == ">" and 4 <= top["threshold"] < 10
    assert res.selected[0] == "planted" and len(res.selected) <= 2
    assert res.test_metrics["auroc"] == 1.0 and res.test_metrics["sensitivity"] == 1.0
    assert "Schiller" not in res.features_considered and "Schiller" in res.excluded


@needs_bundled
@pytest.mark.parametrize("n", [1, 3, 7])
def test_top_n_honoured(cervical, n):
    res = stratify(cervical, "Schiller", top_n=n, max_depth=2)
    assert len(res.selected) == n
    assert res.selected == [r["feature"] for r in res.stage1[:n]]
    assert sum(r["selected"] for r in res.stage1) == n
    assert res.tree.n_features_in_ == n  # stage 2 sees exactly the selected features


@needs_bundled
def test_no_outcome_leaks_into_features(cervical):
    for o in OUTCOMES:
        res = stratify(cervical, o, top_n=30)
        feats = set(res.features_considered) | set(res.selected) | {r["feature"] for r in res.stage1}
        assert not feats & set(OUTCOMES), o
    opted = stratify(cervical, "Biopsy", allow_outcome_features=True)
    assert "Biopsy" not in opted.features_considered
    assert {"Schiller", "Hinselmann", "Cytology"} <= set(opted.features_considered)
    assert opted.selected[0] == "Schiller"  # the circular shortcut the guard keeps out


@needs_bundled
def test_test_rows_disjoint_from_training(cervical, biopsy):
    tr, te = set(biopsy.train_index), set(biopsy.test_index)
    assert not tr & te
    assert tr | te == set(cervical.index)
    assert len(te) == math.ceil(0.25 * len(cervical))
    assert biopsy.test_metrics["n"] == len(te)
    assert biopsy.test_metrics["positives"] == int(cervical.loc[sorted(te), "Biopsy"].sum())
    # stratified: prevalence close in both splits
    assert abs(cervical.loc[sorted(te), "Biopsy"].mean() - biopsy.prevalence_train) < 0.02
    # test metrics really come from the test rows: rescoring them reproduces the confusion matrix
    s = assign_risk(biopsy, cervical.loc[biopsy.test_index])
    y = cervical.loc[biopsy.test_index, "Biopsy"].to_numpy()
    tp = int(((s["predicted_positive"] == 1).to_numpy() & (y == 1)).sum())
    assert tp == biopsy.test_metrics["confusion"]["tp"]
    # and a different seed gives a different split
    other = stratify(cervical, "Biopsy", seed=5)
    assert set(other.test_index) != te


@needs_bundled
def test_risk_levels_valid_and_monotone(cervical, biopsy):
    for cuts in ["prevalence", "tertiles", (0.05, 0.1)]:
        res = biopsy if cuts == "prevalence" else stratify(cervical, "Biopsy", cuts=cuts)
        s = assign_risk(res, cervical)
        assert set(s["risk_level"]) <= {"low", "medium", "high"}
        rank = s["risk_level"].map({"low": 0, "medium": 1, "high": 2}).to_numpy()
        p = s["risk_probability"].to_numpy()
        order = np.argsort(p, kind="stable")
        assert np.all(np.diff(rank[order]) >= 0), cuts  # higher probability never gets a lower level
        assert s["rule_path"].str.len().min() > 0
        assert sum(res.risk_counts["test"].values()) == len(res.test_index)


def test_question_mark_handling():
    df = _synthetic(120)
    csv = df.astype(object)
    csv.loc[::7, "noise_a"] = "?"
    csv.loc[::5, "planted"] = "?"
    csv.loc[3, "noise_b"] = ""
    text = csv.to_csv(index=False)
    rec = read_records(text.encode(), name="q.csv")
    assert rec["planted"].isna().sum() == len(range(0, 120, 5))
    assert pd.api.types.is_numeric_dtype(rec["noise_a"])
    res = stratify(rec, "Biopsy", bins=None)
    tr_median = pd.to_numeric(rec.loc[res.train_index, "planted"]).median()
    assert res.preprocessor.medians["planted"] == tr_median  # median of the TRAINING split only
    s = assign_risk(res, io.BytesIO(b"planted,noise_a,noise_b\n?,1,0\n12,?,1\n"))
    assert list(s["imputed"]) == [1, 1]
    assert s.loc[1, "risk_level"] in {"medium", "high"}


def test_temporal_forward_fill():
    df = _synthetic(120)
    df["visit_score"] = np.arange(120, dtype=float)
    df.loc[10:12, "visit_score"] = np.nan
    res = stratify(df, "Biopsy", temporal=["visit_score"], bins=None)
    assert res.preprocessor.temporal == ["visit_score"]
    out = res.preprocessor.transform(df[res.preprocessor.features].astype(float))
    assert list(out.loc[10:12, "visit_score"]) == [9.0, 9.0, 9.0]


@needs_bundled
def test_both_cytology_spellings(cervical):
    a = stratify(cervical, "Cytology", seed=3)
    uci = cervical.rename(columns={"Cytology": "Citology"})
    b = stratify(uci, "Citology", seed=3)
    c = stratify(uci, "cytology", seed=3)
    assert a.outcome == b.outcome == c.outcome == "Cytology"
    assert b.outcome_column == "Citology"
    assert a.selected == b.selected == c.selected
    assert a.test_metrics == b.test_metrics
    assert "Citology" not in b.features_considered and "Cytology" not in b.features_considered
    s = assign_risk(b, uci.head(3))
    assert len(s) == 3


def test_bad_frames_raise_one_line_csv_error():
    df = _synthetic(100)
    with pytest.raises(CsvError, match="not found"):
        stratify(df, "Hinselmann")
    with pytest.raises(CsvError, match="one class"):
        stratify(df.assign(Biopsy=0), "Biopsy")
    with pytest.raises(CsvError, match="no usable feature"):
        stratify(df[["Biopsy", "Schiller"]].assign(const=1), "Biopsy")
    with pytest.raises(CsvError, match="empty"):
        read_records(b"")
    with pytest.raises(CsvError, match="binary"):
        read_records(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    res = stratify(df, "Biopsy", bins=None)
    with pytest.raises(CsvError, match="lack column"):
        assign_risk(res, pd.DataFrame({"x": [1]}))
    for err in [e for e in [CsvError("a\nb")]]:
        assert "\n" not in str(err)


def test_to_json_round_trips():
    res = stratify(_synthetic(), "Biopsy")
    d = json.loads(json.dumps(res.to_json()))
    assert d["outcome"] == "Biopsy" and d["selected"][0]["feature"] == "planted"
    assert set(d["test_metrics"]) >= {"auroc", "f1", "accuracy", "gmean", "sensitivity", "specificity"}
    assert len(d["split"]["test_index"]) == d["split"]["n_test"]


# ----------------------------------------------------------------------------------------------------------- CLI
def _cli(argv, capsys):
    from hcview.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@needs_bundled
def test_cli_json_shape(capsys, tmp_path):
    rc, out, err = _cli(["risk", "--records", str(BUNDLED), "--outcome", "all", "--top-n", "3", "--json",
                         "--score", str(BUNDLED), "--out", str(tmp_path)], capsys)
    assert rc == 0, err
    d = json.loads(out)
    assert set(d["outcomes"]) == set(OUTCOMES)
    for o, block in d["outcomes"].items():
        assert len(block["selected"]) == 3
        assert {"feature", "threshold", "auc", "f1", "direction"} <= set(block["selected"][0])
        assert {"auroc", "f1", "accuracy", "gmean", "sensitivity", "specificity"} <= set(block["test_metrics"])
        assert set(block["risk_counts"]["test"]) == {"low", "medium", "high"}
        assert "|---" in block["tree_rules"]
        assert not {s["feature"] for s in block["selected"]} & set(OUTCOMES)
    assert d["score"]["n"] == 858 and len(d["score"]["rows"]) == 858
    assert (tmp_path / "risk_Biopsy.json").exists() and (tmp_path / "scores.csv").exists()


@needs_bundled
def test_cli_text_summary(capsys):
    rc, out, _ = _cli(["risk", "--records", str(BUNDLED), "--outcome", "Citology", "--max-depth", "2"], capsys)
    assert rc == 0
    assert "held-out TEST" in out and "leakage guard: on" in out


@pytest.mark.parametrize("content, msg", [
    ("a,b\n1,2\n3,4\n", "no outcome column"),
    ("", "empty"),
    (b"\x00\x01\x02binary\x00", "binary"),
    ("x,Biopsy\na,0\nb,1\nc,0\nd,1\ne,0\nf,1\ng,0\nh,1\n", "no usable feature"),
])
def test_cli_bad_csv_exit_2(capsys, tmp_path, content, msg):
    p = tmp_path / "bad.csv"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    rc, out, err = _cli(["risk", "--records", str(p), "--outcome", "Biopsy" if "usable" in msg else "all"], capsys)
    assert rc == 2
    assert err.startswith("error: ") and msg in err and err.count("\n") == 1


def test_cli_missing_outcome_column(capsys, tmp_path):
    p = tmp_path / "r.csv"
    _synthetic(60).to_csv(p, index=False)
    rc, _, err = _cli(["risk", "--records", str(p), "--outcome", "Hinselmann"], capsys)
    assert rc == 2 and "'Hinselmann' not found" in err


# ---------------------------------------------------------------------------------------------------------- page
@needs_bundled
def test_risk_page_renders():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages/5_Risk.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert not at.error
    assert any(m.label == "AUROC" for m in at.metric)
    assert len(at.dataframe) >= 2
    assert "|---" in at.code[0].value
