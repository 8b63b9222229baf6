"""Two-stage risk stratification (hcview.risk) on the bundled UCI cervical table, a variant layout of it (blank
cells, ``Citology``) and tiny synthetic frames. CV is kept small here (5x1 or 3x2); the CLI default is 5x5."""
import io
import json

import numpy as np
import pandas as pd
import pytest

from hcview.errors import CsvError, InputError
from hcview.io_utils import csv_safe_cell, csv_safe_frame, safe_csv_text
from hcview.risk import LEVELS, METRICS, OUTCOMES, assign_risk, bundled_records_path, read_records, stratify
from hcview.risk.evaluation import corrected_ci, cross_validate
from hcview.risk.model import TwoStageModel, tertile_cuts

BUNDLED = bundled_records_path()
needs_bundled = pytest.mark.skipif(not BUNDLED.exists(), reason="bundled cervical table missing")
FAST = dict(folds=2, repeats=1, baselines=False, test_size=0)


def _variant_text() -> str:
    """The UCI original's layout: blank cells where the bundled copy has '?', and the column spelled Citology."""
    lines = BUNDLED.read_text().replace("?", "").splitlines()
    lines[0] = lines[0].replace("Cytology", "Citology")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def cervical():
    return read_records(BUNDLED)


@pytest.fixture(scope="module")
def variant():
    return read_records(_variant_text().encode(), name="variant.csv")


@pytest.fixture(scope="module")
def biopsy(variant):
    """Biopsy on the variant layout: 5 folds x 1 repeat (the first repeat of the CLI's default 5x5), baselines on."""
    return stratify(variant, "Biopsy", folds=5, repeats=1, seed=0)


def _synthetic(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    return pd.DataFrame({
        "noise_a": rng.normal(size=n).round(2),
        # separates the classes perfectly (AUC 1) without being a near-copy of the outcome (|r| ~ 0.8 < 0.95)
        "planted": np.where(y == 1, 10 + rng.integers(0, 80, n), rng.integers(0, 5, n)),
        "noise_b": rng.integers(0, 3, n),
        "Schiller": y,  # an outcome column equal to the target: never a feature by default
        "Biopsy": y,
    })


# ------------------------------------------------------------------------------------------------ reading, guard
@needs_bundled
def test_variant_layout_reads_like_the_bundled_table(cervical, variant):
    assert cervical.shape == variant.shape == (858, 36)
    assert set(OUTCOMES) <= set(variant.columns)  # Citology -> Cytology
    assert int(variant["Biopsy"].sum()) == 55
    pd.testing.assert_frame_equal(cervical, variant, check_dtype=False)


@pytest.mark.parametrize("header, dup", [
    ("Age,Biopsy,Biopsy", "'Biopsy' = 'Biopsy.1'"),  # pandas renames the second one Biopsy.1
    ("Age,age ,Biopsy", "'Age' = 'age'"),
    ("Age,Citology,cytology,Biopsy", "'Citology' = 'cytology'"),
])
def test_duplicate_columns_refused_in_one_line(header, dup):
    n = header.count(",") + 1
    body = "\n".join(",".join(str((i + j) % 2) for j in range(n)) for i in range(10))
    with pytest.raises(CsvError, match="duplicate column names") as e:
        read_records(f"{header}\n{body}\n".encode(), name="d.csv")
    assert dup in str(e.value) and "\n" not in str(e.value)
    # a frame built in code is checked too
    with pytest.raises(CsvError, match="duplicate"):
        stratify(pd.DataFrame({"Biopsy": [0, 1] * 10, "Biopsy.1": [0, 1] * 10, "x": range(20)}), "Biopsy", **FAST)


def test_near_copies_of_the_outcome_excluded_never_selected():
    df = _synthetic(300)
    df["biopsy_result"] = df["Biopsy"]
    df["negated"] = 1 - df["Biopsy"]
    df["mostly_same"] = np.where(np.arange(300) % 100 == 0, 1 - df["Biopsy"], df["Biopsy"])  # |r| ~ 0.96
    res = stratify(df, "Biopsy", **FAST)
    for c in ("biopsy_result", "negated", "mostly_same"):
        assert res.excluded[c].startswith("copy of the outcome: |r| = "), c
        assert c not in res.selected and c not in res.features_considered
    assert "Schiller" in res.excluded and "screening" in res.excluded["Schiller"]
    assert res.selected[0] == "planted"
    assert any(line.startswith("biopsy_result, negated, mostly_same: copy") or "biopsy_result" in line
               for line in res.guard_lines())


@needs_bundled
def test_screening_columns_excluded_unless_opted_in(variant):
    res = stratify(variant, "Biopsy", top_n=30, **FAST)
    assert not (set(res.features_considered) | set(res.selected)) & set(OUTCOMES)
    assert {"Hinselmann", "Schiller", "Cytology"} <= set(res.excluded)
    opted = stratify(variant, "Biopsy", allow_outcome_features=True, **FAST)
    assert "Biopsy" not in opted.features_considered
    assert opted.selected[0] == "Schiller"  # the circular shortcut the guard keeps out


# ------------------------------------------------------------------------------------------- CV on the real table
@needs_bundled
def test_biopsy_cv_metrics_with_ci_and_baselines(biopsy):
    cv = biopsy.cv
    assert (cv.folds, cv.repeats) == (5, 1)
    for model in ["two_stage", "logistic", "random_forest", "tree"]:
        s = cv.summary[model]
        assert set(s) == set(METRICS)
        for m in ("auroc", "accuracy", "f1", "gmean", "sensitivity", "specificity", "high_recall"):
            assert s[m]["n_folds"] == 5 and s[m]["ci_low"] <= s[m]["mean"] <= s[m]["ci_high"], (model, m)
    # the same folds for every model: same test sizes and positives, fold by fold
    for model in ["logistic", "random_forest", "tree"]:
        assert [(f["n"], f["positives"]) for f in cv.per_fold[model]] == \
               [(f["n"], f["positives"]) for f in cv.per_fold["two_stage"]]
    assert sum(f["positives"] for f in cv.per_fold["two_stage"]) == 55
    # measured: 0.608 here (0.601 [0.49, 0.71] with the CLI's 5x5); the single hold-out split gives 0.50
    assert biopsy.cv_metrics["auroc"]["mean"] >= 0.60
    assert cv.summary["logistic"]["auroc"]["mean"] > 0.6 and cv.summary["random_forest"]["auroc"]["mean"] > 0.6
    h = biopsy.holdout
    assert h["n"] == 215 and h["positives"] == 14 and "14 positives" in h["note"]
    frame = biopsy.comparison_frame()
    assert list(frame["model"])[0] == "two-stage (MedFusionNet)" and len(frame) == 4


@needs_bundled
def test_biopsy_three_levels_used_with_rows(biopsy, variant):
    lv = biopsy.levels()
    assert lv["mode"] == "tertiles" and 0 <= lv["c1"] < lv["c2"] <= 1
    assert all(lv["counts"][k] > 0 for k in LEVELS), lv["counts"]
    assert sum(lv["counts"].values()) == 858
    assert all(biopsy.model.train_level_counts_[k] > 0 for k in LEVELS)
    assert lv["positive_rate"]["high"] > lv["positive_rate"]["low"]
    assert not any("do not separate" in line for line in biopsy.warnings())
    rows = biopsy.rows()
    assert len(rows) == 858 and set(rows["risk_level"]) == set(LEVELS)
    assert rows["risk_probability"].between(0, 1).all() and rows["rule_path"].str.len().min() > 0
    assert (rows["Biopsy"] == variant["Biopsy"]).all()
    # the model in use: higher calibrated probability never gets a lower level; every path is words
    s = assign_risk(biopsy, variant)
    rank = s["risk_level"].map({"low": 0, "medium": 1, "high": 2}).to_numpy()
    order = np.argsort(s["risk_probability"].to_numpy(), kind="stable")
    assert np.all(np.diff(rank[order]) >= 0)
    assert s["rule_path"].str.contains(r" (?:<=|>|<|>=) ").all()
    # selection happened in each fold: frequencies reported beside the thresholds
    sel = biopsy.selected_table()
    assert sel and all(r["selected_in_folds"].endswith("/5") for r in sel)
    assert all(r["tmin"] <= r["threshold"] <= r["tmax"] for r in sel)


@needs_bundled
def test_shuffled_outcome_gives_chance(variant):
    rng = np.random.default_rng(0)
    shuffled = variant.assign(Biopsy=rng.permutation(variant["Biopsy"].to_numpy()))
    res = stratify(shuffled, "Biopsy", folds=3, repeats=2, baselines=False, test_size=0)
    a = res.cv_metrics["auroc"]
    assert abs(a["mean"] - 0.5) < 0.1 and a["ci_low"] < 0.5 < a["ci_high"], a
    assert res.cv_metrics["gmean"]["ci_low"] < 0.5
    assert any("includes 0.5: no evidence" in line for line in res.warnings())


def test_nothing_fitted_on_the_rows_it_scores():
    df = _synthetic(150)
    seen = {"fit": [], "score": []}

    class Spy(TwoStageModel):
        def fit(self, num, y, describe=True):
            seen["fit"].append(set(num.index))
            return super().fit(num, y, describe)

        def score(self, num):
            seen["score"].append(set(num.index))
            return super().score(num)

    num = df[["noise_a", "planted", "noise_b"]].astype(float)
    cv = cross_validate(num, df["Biopsy"].to_numpy(), lambda: Spy(bins=None), folds=3, repeats=2, baselines=False)
    assert len(seen["fit"]) == len(seen["score"]) == 6
    for fit_rows, score_rows in zip(seen["fit"], seen["score"]):
        assert not fit_rows & score_rows
    assert seen["score"][0] | seen["score"][1] | seen["score"][2] == set(df.index)
    assert cv.summary["two_stage"]["auroc"]["mean"] > 0.95  # the planted feature is found inside every fold


# ------------------------------------------------------------------------------------------------ method details
def test_planted_feature_selected_first_and_tree_tuned():
    res = stratify(_synthetic(), "Biopsy", top_n=2, folds=3, repeats=1, baselines=False, test_size=0,
                   depth_grid=(1, 2), min_split_grid=(10, 40))
    top = res.stage1[0]
    assert top["feature"] == "planted" and top["auc"] == 1.0 and top["direction"] == ">"
    assert 4 <= top["threshold"] < 10 and res.selected[0] == "planted"
    t = res.model.tuning_
    assert t["max_depth"] in (1, 2) and t["min_samples_split"] in (10, 40) and len(t["grid"]) == 4
    assert sum(res.cv.tuned["max_depth"].values()) == 3
    fixed = stratify(_synthetic(), "Biopsy", max_depth=1, min_samples_split=30, **FAST)
    assert (fixed.model.tuning_["max_depth"], fixed.model.tuning_["min_samples_split"]) == (1, 30)
    assert fixed.model.tree_.get_depth() == 1


def test_tertile_cuts_use_every_level_when_possible():
    v, w = np.array([0.01, 0.03, 0.08, 0.2]), np.array([500, 200, 100, 58])
    c1, c2 = tertile_cuts(v, w)
    levels = {("low" if p <= c1 else "high" if p >= c2 else "medium") for p in v}
    assert levels == set(LEVELS)
    c1, c2 = tertile_cuts(np.array([0.02, 0.3]), np.array([800, 58]))
    assert c1 < 0.3 <= c2 and c1 >= 0.02  # two leaves: low and high, medium empty


def test_empty_level_said_in_one_line():
    res = stratify(_synthetic(), "Biopsy", cuts=(0.999, 1.0), **FAST)
    lines = res.levels()["empty"]
    assert any(line.startswith("level 'high' is empty") for line in lines)
    assert all("\n" not in line for line in lines)


def test_calibration_options_give_probabilities():
    for method in ("sigmoid", "isotonic"):
        res = stratify(_synthetic(), "Biopsy", calibration=method, **FAST)
        p = res.rows()["risk_probability"]
        assert p.between(0, 1).all()
    with pytest.raises(InputError, match="calibration"):
        stratify(_synthetic(), "Biopsy", calibration="magic", **FAST)


def test_corrected_ci_is_wider_than_naive():
    from scipy import stats

    v = [0.55, 0.6, 0.65, 0.7, 0.5, 0.62]
    s = corrected_ci(v, n_train=400, n_test=200)
    half = stats.t.ppf(0.975, 5) * np.std(v, ddof=1) * np.sqrt(1 / 6 + 0.5)
    assert s["mean"] == pytest.approx(np.mean(v)) and s["ci_high"] - s["mean"] == pytest.approx(half)
    assert corrected_ci([None, 0.5], 1, 1)["n_folds"] == 1


def test_question_marks_and_temporal_forward_fill():
    df = _synthetic(120)
    csv = df.astype(object)
    csv.loc[::5, "planted"] = "?"
    csv.loc[3, "noise_b"] = ""
    rec = read_records(csv.to_csv(index=False).encode(), name="q.csv")
    assert rec["planted"].isna().sum() == 24
    res = stratify(rec, "Biopsy", **FAST)
    assert res.model.preprocessor_.medians["planted"] == pd.to_numeric(rec["planted"]).median()
    s = assign_risk(res, io.BytesIO(b"planted,noise_a,noise_b\n?,1,0\n12,?,1\n"))
    assert list(s["imputed"]) == [1, 0] or list(s["imputed"]) == [1, 1]
    df["visit_score"] = np.arange(120, dtype=float)
    df.loc[10:12, "visit_score"] = np.nan
    res = stratify(df, "Biopsy", temporal=["visit_score"], **FAST)
    pre = res.model.preprocessor_
    out = pre.transform(df[pre.features].astype(float))
    assert list(out.loc[10:12, "visit_score"]) == [9.0, 9.0, 9.0]


@needs_bundled
def test_both_cytology_spellings(variant):
    a = stratify(variant, "Cytology", **FAST)
    b = stratify(variant, "citology", **FAST)
    assert a.outcome == b.outcome == "Cytology" and a.selected == b.selected
    assert a.cv_metrics == b.cv_metrics


def test_bad_frames_raise_one_line_errors():
    df = _synthetic(100)
    with pytest.raises(CsvError, match="not found"):
        stratify(df, "Hinselmann", **FAST)
    with pytest.raises(CsvError, match="one class"):
        stratify(df.assign(Biopsy=0), "Biopsy", **FAST)
    with pytest.raises(CsvError, match="no usable feature"):
        stratify(df[["Biopsy", "Schiller"]], "Biopsy", **FAST)
    with pytest.raises(CsvError, match="needs at least 5"):
        stratify(df.assign(Biopsy=[1, 1, 1] + [0] * 97), "Biopsy", folds=5)
    with pytest.raises(CsvError, match="empty"):
        read_records(b"")
    res = stratify(df, "Biopsy", **FAST)
    with pytest.raises(CsvError, match="lack column"):
        assign_risk(res, pd.DataFrame({"x": [1]}))


def test_to_json_shape():
    res = stratify(_synthetic(), "Biopsy", folds=3, repeats=1, test_size=0)
    d = json.loads(json.dumps(res.to_json()))
    for block in [d["cv_metrics"]] + list(d["baselines"].values()):
        assert set(block) == set(METRICS)
        assert {"mean", "ci_low", "ci_high"} <= set(block["auroc"])
    assert set(d["baselines"]) == {"logistic", "random_forest", "tree"}
    assert d["selected"][0]["feature"] == "planted" and "threshold" in d["selected"][0]
    assert {"c1", "c2", "counts", "empty"} <= set(d["levels"])
    assert len(d["rows"]) == 200 and {"level", "probability", "rule_path"} <= set(d["rows"][0])


# ------------------------------------------------------------------------------------------------ safe CSV export
def test_csv_safe_cells():
    assert csv_safe_cell("=1+1") == "'=1+1" and csv_safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe_cell("+cmd|' /C calc'!A0") .startswith("'+") and csv_safe_cell("-2+3") == "'-2+3"
    assert csv_safe_cell(" =x") == "' =x" and csv_safe_cell("\t=x") == "'\t=x"
    assert csv_safe_cell("-1.5") == "-1.5" and csv_safe_cell(-1.5) == -1.5 and csv_safe_cell("Age > 3") == "Age > 3"
    df = pd.DataFrame({"=bad": [-1.0, 2.0], "txt": ["=HYPERLINK(\"x\")", "ok"]}, index=["@i", "j"])
    safe = csv_safe_frame(df)
    assert list(safe.columns) == ["'=bad", "txt"] and list(safe.index) == ["'@i", "j"]
    assert safe["'=bad"].tolist() == [-1.0, 2.0] and safe["txt"].iloc[0].startswith("'=")
    text = safe_csv_text(df)
    assert "\n'@i,-1.0,\"'=HYPERLINK" in text and ",=" not in text


# ------------------------------------------------------------------------------------------------------------ CLI
def _cli(argv, capsys):
    from hcview.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@needs_bundled
def test_cli_json_shape_score_and_safe_out(capsys, tmp_path):
    rec = tmp_path / "variant.csv"
    rec.write_text(_variant_text())
    rc, out, err = _cli(["risk", "--records", str(rec), "--outcome", "Biopsy", "--folds", "3", "--repeats", "1",
                         "--json", "--score", str(rec), "--out", str(tmp_path / "o")], capsys)
    assert rc == 0, err
    d = json.loads(out)
    b = d["outcomes"]["Biopsy"]
    for block in [b["cv_metrics"]] + list(b["baselines"].values()):
        for m in METRICS:
            assert {"mean", "ci_low", "ci_high"} <= set(block[m])
    assert {"feature", "threshold", "direction", "rule"} <= set(b["selected"][0])
    assert not {s["feature"] for s in b["selected"]} & set(OUTCOMES)
    assert {"c1", "c2", "counts"} <= set(b["levels"]) and sum(b["levels"]["counts"].values()) == 858
    assert len(b["rows"]) == 858 and {"level", "probability", "rule_path"} <= set(b["rows"][0])
    assert b["holdout"]["positives"] == 14
    assert d["score"]["n"] == 858
    assert {"Biopsy_risk_level", "Biopsy_risk_probability", "Biopsy_predicted_positive", "Biopsy_rule_path",
            "Biopsy_imputed"} <= set(d["score"]["rows"][0])
    for f in ("risk_biopsy.json", "cv_biopsy.csv", "rows_biopsy.csv", "stage1_biopsy.csv", "scores.csv"):
        assert (tmp_path / "o" / f).exists(), f


def test_cli_exports_neutralise_formulas(capsys, tmp_path):
    df = _synthetic(120).rename(columns={"planted": "=HYPERLINK(\"http://x\")"})
    p = tmp_path / "evil.csv"
    df.to_csv(p, index=False)
    rc, _, err = _cli(["risk", "--records", str(p), "--outcome", "Biopsy", "--folds", "2", "--repeats", "1",
                       "--no-baselines", "--test-size", "0", "--score", str(p), "--out", str(tmp_path / "o")], capsys)
    assert rc == 0, err
    seen = 0
    for f in (tmp_path / "o").glob("*.csv"):
        for cell in pd.read_csv(f, dtype=str, keep_default_na=False).to_numpy().ravel().tolist() + \
                list(pd.read_csv(f, nrows=0).columns):
            assert not str(cell).lstrip(" ").startswith(("=", "+", "@")), (f.name, cell)
            seen += "HYPERLINK" in str(cell)
    assert seen > 0  # the formula-like name did reach the exports, neutralised


@needs_bundled
def test_cli_text_summary(capsys, tmp_path):
    rec = tmp_path / "variant.csv"
    rec.write_text(_variant_text())
    rc, out, _ = _cli(["risk", "--records", str(rec), "--outcome", "Citology", "--folds", "2", "--repeats", "1",
                       "--no-baselines"], capsys)
    assert rc == 0
    assert "leakage guard: on; excluded: Hinselmann, Schiller, Biopsy" in out
    assert "1 repeats x 2 folds stratified CV" in out and "AUROC" in out
    assert "single hold-out split (215 rows," in out


@pytest.mark.parametrize("content, args, msg", [
    ("a,b\n1,2\n3,4\n", [], "no outcome column"),
    ("", [], "empty"),
    (b"\x00\x01\x02binary\x00", [], "binary"),
    ("x,Biopsy\n" + "".join(f"{c},{i % 2}\n" for i, c in enumerate("abcdefghij")), ["--outcome", "Biopsy"],
     "no usable feature"),
    ("x,Biopsy,Biopsy\n" + "".join(f"{i},{i % 2},{i % 2}\n" for i in range(10)), ["--outcome", "Biopsy"],
     "duplicate column names"),
    ("x,Biopsy\n" + "".join(f"{i},{int(i < 3)}\n" for i in range(30)), ["--outcome", "Biopsy"], "needs at least 5"),
    ("x,Biopsy\n" + "".join(f"{i},{i % 2}\n" for i in range(30)), ["--outcome", "Biopsy", "--cuts", "high"],
     "--cuts"),
    ("x,Biopsy\n" + "".join(f"{i},{i % 2}\n" for i in range(30)), ["--outcome", "Biopsy", "--depth-grid", "a"],
     "--depth-grid"),
])
def test_cli_bad_input_exit_2(capsys, tmp_path, content, args, msg):
    p = tmp_path / "bad.csv"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    rc, out, err = _cli(["risk", "--records", str(p)] + args, capsys)
    assert rc == 2, err
    assert err.startswith("error: ") and msg in err and err.count("\n") == 1


def test_cli_missing_outcome_column(capsys, tmp_path):
    p = tmp_path / "r.csv"
    _synthetic(60).to_csv(p, index=False)
    rc, _, err = _cli(["risk", "--records", str(p), "--outcome", "Hinselmann"], capsys)
    assert rc == 2 and "'Hinselmann' not found" in err
