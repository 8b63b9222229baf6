"""MedFusionNet's two-stage risk stratification of one outcome, evaluated by repeated stratified k-fold CV.

:func:`stratify` does three things with the records:

1. **Leakage guard** (:mod:`hcview.risk.guard`): duplicate column names are refused; the outcome columns and any
   near-copy of the outcome (|r| > 0.95) are excluded, each with its reason.
2. **Evaluation** (:mod:`hcview.risk.evaluation`): ``repeats`` x ``folds`` stratified CV (default 5x5). In every
   training fold the whole method is refitted (imputation, bins, threshold search, top-N, inner-CV tuning of the
   tree's depth and min samples per split, calibration, level cut points) and scored on the fold's test rows only.
   Baselines (logistic regression, random forest, plain depth-3 tree) run in the same folds. Every metric is a
   mean with a 95% CI across folds and repeats. A single stratified hold-out split (``test_size``) is kept as a
   secondary, noisier figure, reported with its positives count.
3. **The model to use** (:mod:`hcview.risk.model`): the same method fitted once on all rows; its selected
   features, thresholds, tree, leaves and cut points are what :func:`assign_risk` applies to new records. Its
   in-sample numbers are never reported as performance.

Each row of the records gets an out-of-fold level, calibrated probability and rule path (CV repeat 1: every row is
scored by a model that did not see it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from hcview.errors import CsvError, InputError
from hcview.text import mean_ci_text
from hcview.risk.evaluation import (BASELINE_DESCRIPTIONS, METRIC_LABELS, METRICS, MODEL_LABELS, CvOutput,
                                    binary_metrics, cross_validate)
from hcview.risk.guard import CORR_LIMIT, guard_features
from hcview.risk.model import DEPTH_GRID, LEVELS, MIN_SPLIT_GRID, TwoStageModel
from hcview.risk.records import OUTCOMES, canonical_outcome, normalise_columns, read_records, to_numeric_frame

CI_METHOD = ("95% CI across folds and repeats: corrected resampled t interval (Nadeau & Bengio 2003), "
             "mean +- t(J-1) * sd * sqrt(1/J + n_test/n_train) over the J fold values")


@dataclass
class RiskResult:
    outcome: str
    outcome_column: str  # as spelled in the input (e.g. "Citology")
    params: dict
    n_rows: int
    n_dropped: int  # rows without a usable outcome value
    positives: int
    prevalence: float
    excluded: dict[str, str]
    model: TwoStageModel = field(repr=False)
    cv: CvOutput = field(repr=False)
    holdout: dict | None
    notes: list[str]
    row_outcome: pd.Series = field(repr=False, default=None)

    # -- shortcuts
    @property
    def selected(self) -> list[str]:
        return list(self.model.selected_)

    @property
    def stage1(self) -> list[dict]:
        return self.model.stage1_

    @property
    def features_considered(self) -> list[str]:
        return list(self.model.features_considered_)

    @property
    def cv_metrics(self) -> dict:
        return self.cv.summary["two_stage"]

    @property
    def baselines(self) -> dict:
        return {b: self.cv.summary[b] for b in self.cv.baselines}

    @property
    def cuts(self) -> dict:
        return self.model.cuts_

    @property
    def leaves(self) -> list[dict]:
        return self.model.leaves_

    @property
    def tree_rules(self) -> str:
        return self.model.tree_rules()

    def level_of(self, p: float) -> str:
        return self.model.level_of(p)

    def selected_table(self) -> list[dict]:
        """The selected features with their thresholds, and in how many CV training folds each was selected."""
        total = self.cv.folds * self.cv.repeats
        out = []
        for f in self.selected:
            r = next(r for r in self.stage1 if r["feature"] == f)
            out.append({k: r[k] for k in ("feature", "rule", "threshold", "direction", "auc", "f1", "sensitivity",
                                          "specificity", "stump_threshold", "tmin", "tmax", "dt", "binned")}
                       | {"selected_in_folds": f"{self.cv.selection_counts.get(f, 0)}/{total}"})
        return out

    def levels(self) -> dict:
        """Cut points of the model in use and level counts / positive rates from the CV test folds."""
        ls = self.cv.level_stats
        empty = list(self.model.empty_levels_)
        for k in LEVELS:
            if ls["oof_counts"][k] == 0:
                empty.append(f"level '{k}' is empty in the out-of-fold results (CV repeat 1)")
        if self.cv.fold_empty_levels:
            empty.append(f"{self.cv.fold_empty_levels} of {self.cv.folds * self.cv.repeats} CV training folds "
                         "left a level empty")
        return {
            "mode": self.cuts["mode"], "c1": self.cuts["c1"], "c2": self.cuts["c2"], "rule": self.cuts["rule"],
            "counts": ls["oof_counts"],
            "counts_note": "out-of-fold, CV repeat 1 (each row once, by a model that did not see it)",
            "positive_rate": {k: ls["pooled"][k]["positive_rate"] for k in LEVELS},
            "positive_rate_note": "observed outcome rate per level over every test fold of every repeat",
            "model_train_counts": self.model.train_level_counts_,
            "empty": empty,
        }

    def warnings(self) -> list[str]:
        """One line each: empty levels, levels whose observed rates do not rise from low to high, and a CV AUROC
        whose CI includes 0.5 (no evidence of ranking better than chance)."""
        lv = self.levels()
        out = list(lv["empty"])
        r = lv["positive_rate"]
        if r["low"] is not None and r["high"] is not None and r["high"] <= r["low"]:
            out.append(f"the levels do not separate risk here: observed rate in 'high' ({r['high']:.3f}) is not above "
                       f"'low' ({r['low']:.3f})")
        a = self.cv_metrics["auroc"]
        if a["ci_low"] is not None and a["ci_low"] <= 0.5:
            out.append(f"the two-stage CV AUROC's 95% CI ({a['ci_low']:.2f}-{a['ci_high']:.2f}) includes 0.5: no "
                       "evidence that it ranks patients better than chance")
        return out

    def rows(self) -> pd.DataFrame:
        """Per row of the records: the outcome, its CV fold (repeat 1) and the out-of-fold level, calibrated
        probability, predicted class and rule path."""
        df = self.cv.oof.copy()
        df.insert(0, self.outcome, self.row_outcome.reindex(df.index).astype(int))
        df.index.name = "row"
        return df

    def comparison_frame(self) -> pd.DataFrame:
        """One row per model (two-stage first, then the baselines, all in the same CV folds), one column per
        metric as ``mean [ci_low, ci_high]``."""
        out = []
        for name in ["two_stage"] + list(self.cv.baselines):
            row = {"model": MODEL_LABELS[name]}
            for met in METRICS:
                row[METRIC_LABELS[met]] = mean_ci_text(self.cv.summary[name][met])
            out.append(row)
        return pd.DataFrame(out)

    def guard_lines(self) -> list[str]:
        """The leakage guard's exclusions, one line per reason."""
        by: dict[str, list[str]] = {}
        for c, why in self.excluded.items():
            by.setdefault(why, []).append(c)
        return [f"{', '.join(cs)}: {why}" for why, cs in by.items()]

    def to_json(self, rows: bool = True, folds: bool = False) -> dict:
        m = self.model
        d = {
            "outcome": self.outcome, "outcome_column": self.outcome_column, "n_rows": self.n_rows,
            "n_used": self.n_rows - self.n_dropped, "n_dropped_missing_outcome": self.n_dropped,
            "positives": self.positives, "prevalence": self.prevalence, "params": self.params,
            "evaluation": {"scheme": f"{self.cv.repeats} repeats x {self.cv.folds} folds, stratified k-fold CV "
                                     f"(folds stratified on {self.outcome})",
                           "folds": self.cv.folds, "repeats": self.cv.repeats, "seed": self.cv.seed,
                           "ci_method": CI_METHOD, "seconds": round(self.cv.seconds, 2)},
            "cv_metrics": self.cv_metrics,
            "baselines": self.baselines,
            "baseline_descriptions": {b: BASELINE_DESCRIPTIONS[b] for b in self.cv.baselines},
            "selected": self.selected_table(),
            "levels": self.levels(),
            "warnings": self.warnings(),
            "tuning": {"model": {k: m.tuning_[k] for k in ("inner_folds", "rule", "max_depth", "top_n",
                                                          "min_samples_split", "inner_auroc")},
                       "grid": m.tuning_["grid"],
                       "chosen_in_cv_folds": self.cv.tuned},
            "calibration": m.calibrator_.describe(),
            "tree_rules": self.tree_rules, "leaves": self.leaves,
            "features_considered": self.features_considered, "excluded": self.excluded,
            "holdout": self.holdout,
            "notes": self.notes,
            "stage1": self.stage1,
            "preprocessing": m.preprocessor_.to_json(),
        }
        if folds:
            d["cv_folds"] = {k: [{kk: vv for kk, vv in f.items()} for f in v] for k, v in self.cv.per_fold.items()}
        if rows:
            r = self.rows().reset_index()
            d["rows"] = [
                {"row": _jsonable(a), self.outcome: int(b), "fold": int(c), "level": e, "probability": float(p),
                 "predicted_positive": int(q), "rule_path": s}
                for a, b, c, e, p, q, s in zip(r["row"], r[self.outcome], r["fold"], r["risk_level"],
                                               r["risk_probability"], r["predicted_positive"], r["rule_path"])]
        return d


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _resolve_outcome(df: pd.DataFrame, outcome: str) -> str:
    want = canonical_outcome(outcome)
    if want in df.columns:
        return want
    low = {c.lower(): c for c in df.columns}
    if want.lower() in low:
        return low[want.lower()]
    raise CsvError(f"outcome column {outcome!r} not found (columns present: {len(df.columns)}; "
                   f"expected one of {', '.join(OUTCOMES)} or a named 0/1 column)")


def _binary_target(s: pd.Series, name: str) -> pd.Series:
    num, dropped = to_numeric_frame(s.to_frame(), [s.name])
    if dropped:
        raise CsvError(f"outcome column {name!r} is not numeric 0/1")
    v = num[s.name]
    bad = v.dropna()[~v.dropna().isin([0.0, 1.0])]
    if len(bad):
        raise CsvError(f"outcome column {name!r} must hold 0/1 values (found {bad.iloc[0]:g})")
    return v


def _jparam(v):
    if isinstance(v, Mapping):
        return {str(k): (list(x) if isinstance(x, (list, tuple)) else x) for k, x in v.items()}
    if isinstance(v, tuple):
        return list(v)
    return v


def stratify(df, outcome: str, *, top_n: int = 8, folds: int = 5, repeats: int = 5, seed: int = 0,
             test_size: float | None = 0.25, tmin=None, tmax=None, dt=None, grid_steps: int = 50,
             bins: int | Mapping[str, Sequence[float]] | None = None, temporal: Sequence[str] = (),
             allow_outcome_features: bool = False, features: Sequence[str] | None = None,
             exclude: Sequence[str] = (), cuts: str | tuple[float, float] = "tertiles", calibration: str = "sigmoid",
             max_depth: int | None = None, min_samples_split: int | None = None,
             depth_grid: Sequence[int] = DEPTH_GRID, min_split_grid: Sequence[int] = MIN_SPLIT_GRID,
             inner_folds: int = 3, class_weight: str | None = "balanced", baselines: bool = True,
             corr_limit: float = CORR_LIMIT, progress: Callable | None = None) -> RiskResult:
    """Two-stage risk stratification of one outcome; see the module docstrings for every choice.

    ``max_depth`` / ``min_samples_split`` fix that tree parameter instead of tuning it over ``depth_grid`` /
    ``min_split_grid``. ``test_size`` 0 or None skips the secondary hold-out split.
    """
    if not isinstance(df, pd.DataFrame):
        df = read_records(df)
    if len(df) == 0 or df.shape[1] == 0:
        raise CsvError("the records table is empty")
    df, renamed = normalise_columns(df)
    if int(folds) < 2:
        raise InputError("CV needs at least 2 folds")
    if int(repeats) < 1:
        raise InputError("CV needs at least 1 repeat")
    if test_size and not 0 < float(test_size) < 1:
        raise InputError("test size must be a fraction between 0 and 1 (or 0 for no hold-out split)")
    if not 0 < float(corr_limit) <= 1:
        raise InputError("the correlation limit must be in (0, 1]")

    target = _resolve_outcome(df, outcome)
    outcome_column = renamed.get(target, target)
    y_all = _binary_target(df[target], outcome_column)
    keep = y_all.notna()
    n_dropped = int((~keep).sum())
    df = df.loc[keep]
    y = y_all.loc[keep].astype(int)
    if len(df) == 0:
        raise CsvError(f"outcome column {outcome_column!r} has no values")
    counts = y.value_counts()
    if len(counts) < 2:
        raise CsvError(f"outcome column {outcome_column!r} has only one class ({int(counts.index[0])}); "
                       "need both 0 and 1")
    if counts.min() < int(folds):
        raise CsvError(f"outcome column {outcome_column!r} has only {int(counts.min())} row(s) of its rarer class; "
                       f"{int(folds)}-fold CV needs at least {int(folds)}")
    bad_temporal = [c for c in temporal if c not in df.columns]
    if bad_temporal:
        raise CsvError(f"temporal column(s) not found: {', '.join(bad_temporal[:5])}")

    num, excluded = guard_features(df, target, y, features=features, exclude=exclude,
                                   allow_outcome_features=allow_outcome_features, corr_limit=corr_limit)
    if num.shape[1] == 0:
        raise CsvError(f"no usable feature columns for {outcome_column!r} (need numeric columns that vary)")

    model_kw = dict(top_n=int(top_n), tmin=tmin, tmax=tmax, dt=dt, grid_steps=int(grid_steps), bins=bins,
                    temporal=tuple(temporal), class_weight=class_weight,
                    depth_grid=(int(max_depth),) if max_depth is not None else tuple(depth_grid),
                    min_split_grid=((int(min_samples_split),) if min_samples_split is not None
                                    else tuple(min_split_grid)),
                    inner_folds=int(inner_folds), calibration=calibration,
                    cuts=cuts if isinstance(cuts, str) else tuple(float(c) for c in cuts), seed=int(seed))
    make_model = lambda: TwoStageModel(**model_kw)  # noqa: E731
    make_model()  # validate the parameters before any fitting

    # the model in use: every step fitted on all rows
    try:
        model = make_model().fit(num, y.to_numpy(), describe=True)
    except CsvError as e:
        raise CsvError(f"{outcome_column}: {e}") from None
    for c, why in model.dropped_.items():
        excluded[c] = why

    cv = cross_validate(num, y.to_numpy(), make_model, folds=int(folds), repeats=int(repeats), seed=int(seed),
                        baselines=baselines, progress=progress)

    holdout = None
    if test_size:
        holdout = _holdout(num, y, make_model, float(test_size), int(seed))

    guard = [c for c, why in excluded.items() if "outcome" in why]
    notes = [
        f"Every figure is a {cv.repeats} repeats x {cv.folds} folds stratified CV mean with a 95% CI; each training "
        "fold refits imputation, bins, thresholds, top-N, tree tuning, calibration and cut points, and is scored on "
        "its test rows only.",
        f"Leakage guard on: {', '.join(guard) if guard else 'no column'} excluded as outcome or copy of it"
        + ("; other outcome columns allowed as features (circular for screening tests)."
           if allow_outcome_features else "."),
        "The model in use (thresholds, tree, cut points shown) is the same method fitted on all rows; its "
        "in-sample figures are not performance estimates.",
    ]
    if holdout:
        notes.append(f"The single hold-out split is secondary: {holdout['n']} test rows with only "
                     f"{holdout['positives']} positives, so its AUROC is noisy.")
    params = {"top_n": int(top_n), "folds": int(folds), "repeats": int(repeats), "seed": int(seed),
              "test_size": float(test_size or 0), "tmin": _jparam(tmin), "tmax": _jparam(tmax), "dt": _jparam(dt),
              "grid_steps": int(grid_steps), "bins": _jparam(bins), "temporal": list(temporal),
              "allow_outcome_features": bool(allow_outcome_features), "cuts": _jparam(model_kw["cuts"]),
              "calibration": calibration, "depth_grid": list(model_kw["depth_grid"]),
              "min_split_grid": list(model_kw["min_split_grid"]), "inner_folds": int(inner_folds),
              "class_weight": class_weight, "corr_limit": float(corr_limit), "baselines": bool(baselines)}
    return RiskResult(outcome=target, outcome_column=outcome_column, params=params, n_rows=int(len(df) + n_dropped),
                      n_dropped=n_dropped, positives=int(y.sum()), prevalence=float(y.mean()), excluded=excluded,
                      model=model, cv=cv, holdout=holdout, notes=notes, row_outcome=y)


def _holdout(num: pd.DataFrame, y: pd.Series, make_model, test_size: float, seed: int) -> dict | None:
    from sklearn.model_selection import train_test_split

    try:
        tr, te = train_test_split(np.arange(len(y)), test_size=test_size, random_state=seed, stratify=y.to_numpy())
    except ValueError:
        return None
    tr, te = np.sort(tr), np.sort(te)
    yv = y.to_numpy()
    try:
        m = make_model().fit(num.iloc[tr], yv[tr], describe=False)
    except CsvError:
        return None
    s = m.score(num.iloc[te])
    out = binary_metrics(yv[te], s["predicted_positive"], s["risk_probability"], s["risk_level"].to_numpy())
    out["test_size"] = test_size
    out["note"] = (f"one stratified split (seed {seed}), {out['n']} test rows with {out['positives']} positives: "
                   "noisy, prefer the CV figures")
    if m.calibrator_.constant is not None:
        out["note"] += ("; on this split the inner CV found no out-of-fold ranking, so every test row got the same "
                        "probability (AUROC 0.5)")
    return out


def assign_risk(result: RiskResult, records_df) -> pd.DataFrame:
    """Score new records with the model in use: one row per record with ``risk_level``, ``risk_probability``
    (calibrated), ``predicted_positive``, ``rule_path``, ``leaf`` and ``imputed``. Missing values get the
    medians of the rows the model was fitted on."""
    if not isinstance(records_df, pd.DataFrame):
        records_df = read_records(records_df)
    if len(records_df) == 0:
        raise CsvError("the records to score are empty")
    df, _ = normalise_columns(records_df)
    need = result.selected
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise CsvError(f"records to score lack column(s) used by the {result.outcome} tree: {', '.join(missing)}")
    num, nonnum = to_numeric_frame(df, need)
    if nonnum:
        raise CsvError(f"records to score have non-numeric values in: {', '.join(nonnum)}")
    return result.model.score(num)
