"""Repeated stratified k-fold evaluation of the two-stage model and its baselines, in the same folds.

Every fold refits EVERYTHING on its training rows (imputation, bins, threshold search, top-N selection, the inner
CV that tunes the tree, calibration, level cut points) and scores only its test rows. The baselines (logistic
regression, random forest, a plain depth-3 tree; median imputation inside a pipeline) see the same features and the
same folds.

Per fold: AUROC (from the predicted probability), accuracy, F1, G-mean, sensitivity and specificity (from the
predicted class: the class-weighted decision of each model), and for the levels: ``high_recall`` (share of the
fold's positives placed in the high level) and ``high_ppv`` (positive rate within the high level). Baseline levels
use tertiles of the baseline's probabilities on its training rows.

95% CI across the J = folds x repeats fold values: the corrected resampled t interval of Nadeau & Bengio (2003),
mean +- t(J-1) * sd * sqrt(1/J + n_test/n_train). The plain t interval (1/J only) would pretend the J overlapping
folds are independent and come out far too narrow.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from hcview.risk.model import LEVELS, levels_of

METRICS: tuple[str, ...] = ("auroc", "accuracy", "f1", "gmean", "sensitivity", "specificity", "high_recall",
                            "high_ppv")
METRIC_LABELS = {"auroc": "AUROC", "accuracy": "accuracy", "f1": "F1", "gmean": "G-mean", "sensitivity": "sensitivity",
                 "specificity": "specificity", "high_recall": "high-level recall", "high_ppv": "high-level PPV"}
BASELINES: tuple[str, ...] = ("logistic", "random_forest", "tree")
MODEL_LABELS = {"two_stage": "two-stage (MedFusionNet)", "logistic": "logistic regression",
                "random_forest": "random forest", "tree": "decision tree (depth 3)"}
BASELINE_DESCRIPTIONS = {
    "logistic": "median imputation, standardisation, L2 logistic regression (C tuned in {0.01, 0.1, 1} by inner "
                "3-fold CV on AUROC), balanced class weights",
    "random_forest": "median imputation, 100 trees, min 5 rows per leaf, balanced class weights per bootstrap",
    "tree": "median imputation, one decision tree, max depth 3, balanced class weights (not tuned)",
}
ROC_GRID = np.linspace(0.0, 1.0, 51)


# ---------------------------------------------------------------------------------------------------------------
# metrics
def binary_metrics(y, pred, prob, level=None) -> dict:
    """Metrics of one set of scored rows. ``level`` (low/medium/high per row) adds ``high_recall``/``high_ppv``."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    pred = np.asarray(pred).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    sens = tp / (tp + fn) if tp + fn else None
    spec = tn / (tn + fp) if tn + fp else None
    prec = tp / (tp + fp) if tp + fp else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    auroc = float(roc_auc_score(y, prob)) if len(np.unique(y)) == 2 else None
    out = {
        "n": int(len(y)), "positives": int((y == 1).sum()),
        "auroc": auroc, "f1": float(f1), "accuracy": float((tp + tn) / len(y)) if len(y) else None,
        "gmean": float(math.sqrt(sens * spec)) if sens is not None and spec is not None else None,
        "sensitivity": sens, "specificity": spec, "precision": float(prec),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }
    if level is not None:
        level = np.asarray(level, dtype=object)
        hi = level == "high"
        npos = int((y == 1).sum())
        out["high_recall"] = float((hi & (y == 1)).sum() / npos) if npos else None
        out["high_ppv"] = float(y[hi].mean()) if hi.any() else None
        out["level_counts"] = {k: int((level == k).sum()) for k in LEVELS}
    return out


def corrected_ci(values, n_train: float, n_test: float, conf: float = 0.95) -> dict:
    """Mean and the Nadeau-Bengio corrected resampled t interval of fold values (None values skipped)."""
    from scipy import stats

    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "sd": None, "n_folds": 0}
    mean = float(v.mean())
    if v.size < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "sd": None, "n_folds": int(v.size)}
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + conf / 2, v.size - 1)) * sd * math.sqrt(1 / v.size + n_test / n_train)
    return {"mean": mean, "ci_low": max(0.0, mean - half), "ci_high": min(1.0, mean + half), "sd": sd,
            "n_folds": int(v.size)}


def summarise(folds: list[dict], n_train: float, n_test: float) -> dict:
    return {m: corrected_ci([f.get(m) for f in folds], n_train, n_test) for m in METRICS}


def _roc_row(y, prob) -> np.ndarray | None:
    from sklearn.metrics import roc_curve

    if np.unique(y).size < 2:
        return None
    fpr, tpr, _ = roc_curve(y, prob)
    row = np.interp(ROC_GRID, fpr, tpr)
    row[0] = 0.0
    return row


# ---------------------------------------------------------------------------------------------------------------
# baselines
def baseline_models(seed: int = 0) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    lr = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                       LogisticRegression(class_weight="balanced", solver="liblinear", max_iter=1000))
    return {
        "logistic": GridSearchCV(lr, {"logisticregression__C": [0.01, 0.1, 1.0]}, scoring="roc_auc",
                                 cv=StratifiedKFold(3, shuffle=True, random_state=seed)),
        "random_forest": make_pipeline(SimpleImputer(strategy="median"), RandomForestClassifier(
            n_estimators=100, min_samples_leaf=5, class_weight="balanced_subsample", random_state=seed, n_jobs=1)),
        "tree": make_pipeline(SimpleImputer(strategy="median"),
                              DecisionTreeClassifier(max_depth=3, class_weight="balanced", random_state=seed)),
    }


def _tertiles(p_train: np.ndarray) -> tuple[float, float]:
    c1, c2 = (float(v) for v in np.quantile(p_train, [1 / 3, 2 / 3]))
    if c2 <= c1:
        c2 = float(np.nextafter(c1, np.inf))
    return c1, c2


# ---------------------------------------------------------------------------------------------------------------
# the CV loop
@dataclass
class CvOutput:
    folds: int
    repeats: int
    seed: int
    n: int
    per_fold: dict[str, list[dict]]            # model -> one metrics dict per (repeat, fold)
    summary: dict[str, dict]                   # model -> metric -> {mean, ci_low, ci_high, sd, n_folds}
    roc: dict[str, dict]                       # model -> {"fpr", "tpr_mean", "tpr_low", "tpr_high"}
    oof: pd.DataFrame                          # repeat-1 out-of-fold rows of the two-stage model
    level_stats: dict                          # levels of the two-stage model across all test folds
    selection_counts: dict[str, int]           # feature -> folds in which it was selected
    tuned: dict[str, dict]                     # "max_depth"/"top_n"/"min_samples_split" -> {value: folds}
    fold_empty_levels: int                     # folds whose training rows left a level empty
    seconds: float = 0.0
    baselines: list[str] = field(default_factory=list)


def cross_validate(num: pd.DataFrame, y: np.ndarray, make_model: Callable, folds: int = 5, repeats: int = 5,
                   seed: int = 0, baselines: bool = True, progress: Callable | None = None) -> CvOutput:
    """Repeated stratified k-fold CV (folds stratified on ``y``) of ``make_model()`` (a fresh, unfitted
    :class:`~hcview.risk.model.TwoStageModel`) and, with ``baselines``, of :func:`baseline_models`."""
    from sklearn.base import clone
    from sklearn.model_selection import RepeatedStratifiedKFold

    t0 = time.perf_counter()
    y = np.asarray(y, dtype=int)
    splitter = RepeatedStratifiedKFold(n_splits=int(folds), n_repeats=int(repeats), random_state=int(seed))
    names = ["two_stage"] + (list(BASELINES) if baselines else [])
    base = baseline_models(seed) if baselines else {}
    per_fold = {m: [] for m in names}
    rocs = {m: [] for m in names}
    oof = pd.DataFrame(index=num.index, columns=["fold", "risk_level", "risk_probability", "predicted_positive",
                                                "rule_path"], dtype=object)
    pooled = {k: [0, 0] for k in LEVELS}  # level -> [rows, positives] over every test fold of every repeat
    sel_counts: dict[str, int] = {}
    tuned = {"max_depth": {}, "top_n": {}, "min_samples_split": {}}
    empty_folds = 0
    Xb = num.to_numpy(dtype=float)
    total = int(folds) * int(repeats)
    for i, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y)):
        rep, fold = divmod(i, int(folds))
        tr, te = np.sort(tr), np.sort(te)  # keep record order (forward fill needs it)
        model = make_model().fit(num.iloc[tr], y[tr], describe=False)
        s = model.score(num.iloc[te])
        lv = s["risk_level"].to_numpy()
        m = binary_metrics(y[te], s["predicted_positive"].to_numpy(), s["risk_probability"].to_numpy(), lv)
        m.update(repeat=rep, fold=fold, max_depth=model.tuning_["max_depth"], top_n=model.tuning_["top_n"],
                 min_samples_split=model.tuning_["min_samples_split"], selected=list(model.selected_))
        per_fold["two_stage"].append(m)
        rocs["two_stage"].append(_roc_row(y[te], s["risk_probability"].to_numpy()))
        for k in LEVELS:
            pooled[k][0] += int((lv == k).sum())
            pooled[k][1] += int(y[te][lv == k].sum())
        for f in model.selected_:
            sel_counts[f] = sel_counts.get(f, 0) + 1
        for key in tuned:
            v = model.tuning_[key]
            tuned[key][v] = tuned[key].get(v, 0) + 1
        empty_folds += bool(model.empty_levels_)
        if rep == 0:
            idx = num.index[te]
            oof.loc[idx, "fold"] = fold
            for c in ("risk_level", "risk_probability", "predicted_positive", "rule_path"):
                oof.loc[idx, c] = s[c].to_numpy()
        for name in base:
            est = clone(base[name]).fit(Xb[tr], y[tr])
            p_te = est.predict_proba(Xb[te])[:, 1]
            c1, c2 = _tertiles(est.predict_proba(Xb[tr])[:, 1])
            mb = binary_metrics(y[te], est.predict(Xb[te]), p_te, levels_of(p_te, c1, c2))
            mb.update(repeat=rep, fold=fold)
            per_fold[name].append(mb)
            rocs[name].append(_roc_row(y[te], p_te))
        if progress is not None:
            progress(i + 1, total)

    n = len(y)
    n_test = n / int(folds)
    summary = {mname: summarise(per_fold[mname], n - n_test, n_test) for mname in names}
    roc = {}
    for mname in names:
        rows = np.array([r for r in rocs[mname] if r is not None])
        roc[mname] = {"fpr": ROC_GRID.tolist(), "tpr_mean": rows.mean(0).tolist(),
                      "tpr_low": np.quantile(rows, 0.025, axis=0).tolist(),
                      "tpr_high": np.quantile(rows, 0.975, axis=0).tolist()}
    oof["risk_probability"] = oof["risk_probability"].astype(float)
    oof["predicted_positive"] = oof["predicted_positive"].astype(int)
    oof["fold"] = oof["fold"].astype(int)
    rep1 = oof["risk_level"].value_counts()
    level_stats = {
        "oof_counts": {k: int(rep1.get(k, 0)) for k in LEVELS},
        "pooled": {k: {"rows": pooled[k][0], "positives": pooled[k][1],
                       "positive_rate": (pooled[k][1] / pooled[k][0]) if pooled[k][0] else None} for k in LEVELS},
    }
    return CvOutput(folds=int(folds), repeats=int(repeats), seed=int(seed), n=n, per_fold=per_fold, summary=summary,
                    roc=roc, oof=oof, level_stats=level_stats,
                    selection_counts=dict(sorted(sel_counts.items(), key=lambda kv: -kv[1])),
                    tuned={k: dict(sorted(v.items())) for k, v in tuned.items()}, fold_empty_levels=empty_folds,
                    seconds=time.perf_counter() - t0, baselines=[b for b in names if b != "two_stage"])
