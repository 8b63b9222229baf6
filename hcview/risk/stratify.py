"""MedFusionNet's two-stage risk stratification (paper, "Initial risk classification", Steps 1-5), done honestly.

Stage 1 (univariate), fit on the TRAINING split only:
  1. numeric features; ``?``/blank = missing. Columns declared ``temporal`` are forward-filled (in row order,
     within each split so no value crosses from test to train), every remaining gap gets the training median.
  2. discretisation (``bins``): an int k puts every feature with more than k distinct training values into k
     quantile bins (edges from the observed training values); each value is replaced by its bin's LOWER EDGE, so the
     feature keeps its units. A dict ``{feature: [lower edges]}`` gives explicit (e.g. clinical age) bins.
     ``bins=None`` or 0 switches discretisation off.
  3. per feature: a depth-1 classification tree (stump, class-balanced) gives the preliminary threshold (reported as
     ``stump_threshold``); then a grid search over T = Tmin, Tmin+dT, ..., <= Tmax. Each T defines the rule
     "positive when x > T" (direction ``>``) or "positive when x <= T" (direction ``<=``; whichever has the higher
     AUC). The AUC of a thresholded rule is (sensitivity + specificity) / 2. The best T maximises AUC, ties broken
     by F1 (positive class), then by the smaller T. Defaults per feature: Tmin/Tmax = training min/max, dT = the
     span / ``grid_steps`` (at least 1 and a whole number for integer-valued features).
  4. features ranked by (AUC, F1); the top-N with AUC > 0.5 are kept.

Stage 2 (multivariate): a decision tree (``max_depth``, ``min_samples_split``, class_weight ``balanced`` by default)
over the selected features. A patient's risk probability is the TRAINING positive rate of the leaf they fall in
(unweighted, so it is a real rate, not the class-weighted one). Levels, with cut points (c1, c2):
low if p <= c1, high if p >= c2 (and p > c1), medium otherwise. ``cuts``:
  - ``"prevalence"`` (default): c1 = training prevalence, c2 = max(0.5, c1). With balanced class weights a leaf
    is predicted positive exactly when its rate exceeds the prevalence, so low == "tree says negative".
  - ``"tertiles"``: tertiles of the training rows' probabilities (few distinct leaf values: a level may be empty).
  - ``(c1, c2)``: fixed cut points, e.g. ``(0.2, 0.5)``.

Evaluation: a seeded, stratified hold-out split (``test_size``); every metric in ``test_metrics`` is computed on
test rows only (disjoint from the rows used for imputation, binning, thresholds and the tree). ``train_metrics``
are reported beside them to show the optimism of training-set evaluation, which is what the authors' notebook did.

Leakage guard: the four outcome columns (Hinselmann, Schiller, Cytology/Citology, Biopsy) are never features for
an outcome by default. Colposcopy (Hinselmann), Schiller's test and cytology are the screening tests whose results
biopsy confirms; using them to "predict risk" is circular, and the paper's text does not say they were excluded.
``allow_outcome_features=True`` opts in to the OTHER outcomes as features (never the target itself).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from hcview.errors import CsvError, InputError
from hcview.risk.records import OUTCOMES, canonical_outcome, normalise_columns, read_records, to_numeric_frame

LEVELS: tuple[str, ...] = ("low", "medium", "high")
MAX_GRID = 20000


# ---------------------------------------------------------------------------------------------------------------
# preprocessing
@dataclass
class Preprocessor:
    """Imputation + discretisation learnt from the training split; applied unchanged to any later records."""

    features: list[str]
    medians: dict[str, float]
    temporal: list[str] = field(default_factory=list)
    bin_edges: dict[str, list[float]] = field(default_factory=dict)  # lower edges, ascending

    def transform(self, num: pd.DataFrame) -> pd.DataFrame:
        """``num``: numeric frame holding ``self.features`` (NaN = missing). Returns imputed, binned copy."""
        out = num[self.features].copy()
        for c in self.temporal:
            if c in out:
                out[c] = out[c].ffill()
        for c in self.features:
            out[c] = out[c].fillna(self.medians[c])
            edges = self.bin_edges.get(c)
            if edges:
                e = np.asarray(edges, dtype=float)
                idx = np.searchsorted(e, out[c].to_numpy(), side="right") - 1
                out[c] = e[np.clip(idx, 0, len(e) - 1)]
        return out

    def to_json(self) -> dict:
        return {"medians": self.medians, "temporal": list(self.temporal), "bin_lower_edges": self.bin_edges}


def _fit_bins(train_obs: pd.Series, bins) -> list[float] | None:
    v = train_obs.dropna().to_numpy(dtype=float)
    if v.size == 0:
        return None
    if isinstance(bins, Mapping):
        return None  # handled by caller
    k = int(bins)
    if k <= 0 or np.unique(v).size <= k:
        return None
    edges = np.unique(np.quantile(v, np.linspace(0, 1, k + 1)[:-1], method="lower"))
    return [float(x) for x in edges] if edges.size >= 2 else None


# ---------------------------------------------------------------------------------------------------------------
# stage 1
def _grid_for(x: np.ndarray, name: str, tmin, tmax, dt, grid_steps: int) -> tuple[float, float, float, np.ndarray]:
    def pick(v, default):
        if v is None:
            return default
        if isinstance(v, Mapping):
            return float(v[name]) if name in v else default
        return float(v)

    lo, hi = float(np.min(x)), float(np.max(x))
    integer = bool(np.all(np.isclose(x, np.round(x))))
    t0 = pick(tmin, lo)
    t1 = pick(tmax, hi)
    span = t1 - t0
    if dt is None or (isinstance(dt, Mapping) and name not in dt):
        if span <= 0:
            step = 1.0
        elif integer and float(t0).is_integer():
            step = float(max(1, math.ceil(span / grid_steps)))
        else:
            step = span / grid_steps
    else:
        step = pick(dt, 1.0)
    if not (math.isfinite(t0) and math.isfinite(t1) and math.isfinite(step)) or step <= 0:
        raise InputError(f"threshold grid for {name!r}: need finite Tmin <= Tmax and dT > 0 (got {t0}, {t1}, {step})")
    if t1 < t0:
        raise InputError(f"threshold grid for {name!r}: Tmin {t0:g} is above Tmax {t1:g}")
    n = int(math.floor(span / step + 1e-9)) + 1
    if n > MAX_GRID:
        raise InputError(f"threshold grid for {name!r} has {n} points (limit {MAX_GRID}): raise dT")
    grid = np.round(t0 + step * np.arange(n), 10)
    return t0, t1, step, grid


def _score_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> dict[str, np.ndarray]:
    """For each threshold: sensitivity, specificity, AUC and F1 of both rule directions."""
    pos = y == 1
    npos, nneg = int(pos.sum()), int((~pos).sum())
    above = x[None, :] > grid[:, None]  # (m, n): rule ">" says positive
    tp = (above & pos[None, :]).sum(1).astype(float)
    fp = (above & ~pos[None, :]).sum(1).astype(float)
    fn, tn = npos - tp, nneg - fp
    res = {}
    for d, (TP, FP, FN, TN) in {">": (tp, fp, fn, tn), "<=": (fn, tn, tp, fp)}.items():
        sens = TP / npos
        spec = TN / nneg
        denom = 2 * TP + FP + FN
        f1 = np.divide(2 * TP, denom, out=np.zeros_like(TP), where=denom > 0)
        res[d] = {"auc": (sens + spec) / 2, "f1": f1, "sens": sens, "spec": spec}
    return res


def _stump(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[float | None, str | None]:
    from sklearn.tree import DecisionTreeClassifier

    t = DecisionTreeClassifier(max_depth=1, class_weight="balanced", random_state=seed).fit(x[:, None], y)
    if t.tree_.node_count < 3:
        return None, None
    thr = float(t.tree_.threshold[0])
    left, right = t.tree_.children_left[0], t.tree_.children_right[0]
    vl, vr = t.tree_.value[left][0], t.tree_.value[right][0]
    rate_l = vl[1] / vl.sum() if vl.sum() else 0.0
    rate_r = vr[1] / vr.sum() if vr.sum() else 0.0
    return thr, (">" if rate_r >= rate_l else "<=")


def univariate_table(X: pd.DataFrame, y: np.ndarray, tmin=None, tmax=None, dt=None, grid_steps: int = 50,
                     seed: int = 0) -> list[dict]:
    """Stage 1 on already-imputed training features. One row per feature, ranked best first."""
    rows = []
    for c in X.columns:
        x = X[c].to_numpy(dtype=float)
        t0, t1, step, grid = _grid_for(x, c, tmin, tmax, dt, grid_steps)
        s = _score_grid(x, y, grid)
        # per threshold, the better direction (ties -> ">")
        use_le = s["<="]["auc"] > s[">"]["auc"] + 1e-12
        auc = np.where(use_le, s["<="]["auc"], s[">"]["auc"])
        f1 = np.where(use_le, s["<="]["f1"], s[">"]["f1"])
        order = np.lexsort((np.arange(len(grid)), -np.round(f1, 12), -np.round(auc, 12)))
        b = int(order[0])
        d = "<=" if use_le[b] else ">"
        stump_t, stump_d = _stump(x, y, seed)
        rows.append({
            "feature": c, "threshold": float(grid[b]), "direction": d,
            "auc": float(auc[b]), "f1": float(f1[b]),
            "sensitivity": float(s[d]["sens"][b]), "specificity": float(s[d]["spec"][b]),
            "stump_threshold": stump_t, "stump_direction": stump_d,
            "tmin": t0, "tmax": t1, "dt": step, "n_grid": int(len(grid)),
        })
    rows.sort(key=lambda r: (-round(r["auc"], 12), -round(r["f1"], 12), r["feature"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows


# ---------------------------------------------------------------------------------------------------------------
# metrics
def binary_metrics(y: np.ndarray, pred: np.ndarray, prob: np.ndarray) -> dict:
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
    return {
        "n": int(len(y)), "positives": int((y == 1).sum()),
        "auroc": auroc, "f1": float(f1), "accuracy": float((tp + tn) / len(y)) if len(y) else None,
        "gmean": float(math.sqrt(sens * spec)) if sens is not None and spec is not None else None,
        "sensitivity": sens, "specificity": spec, "precision": float(prec),
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


# ---------------------------------------------------------------------------------------------------------------
# result
@dataclass
class RiskResult:
    outcome: str
    outcome_column: str  # as spelled in the input (e.g. "Citology")
    params: dict
    n_rows: int
    n_dropped: int  # rows without a usable outcome value
    prevalence_train: float
    features_considered: list[str]
    excluded: dict[str, str]
    stage1: list[dict]
    selected: list[str]
    tree_rules: str
    leaves: list[dict]
    cuts: dict
    test_metrics: dict
    train_metrics: dict
    risk_counts: dict  # {"train": {level: n}, "test": {level: n}}
    train_index: list
    test_index: list
    notes: list[str]
    preprocessor: Preprocessor = field(repr=False, default=None)
    tree: Any = field(repr=False, default=None)
    leaf_rate: dict = field(repr=False, default_factory=dict)
    leaf_path: dict = field(repr=False, default_factory=dict)

    def level_of(self, p: float) -> str:
        return risk_level(p, self.cuts["c1"], self.cuts["c2"])

    def to_json(self, indices: bool = True) -> dict:
        d = {
            "outcome": self.outcome, "outcome_column": self.outcome_column, "params": self.params,
            "n_rows": self.n_rows, "n_dropped_missing_outcome": self.n_dropped,
            "prevalence_train": self.prevalence_train,
            "features_considered": self.features_considered, "excluded": self.excluded,
            "stage1": self.stage1,
            "selected": [dict(next(r for r in self.stage1 if r["feature"] == f)) for f in self.selected],
            "tree_rules": self.tree_rules, "leaves": self.leaves, "cuts": self.cuts,
            "test_metrics": self.test_metrics, "train_metrics": self.train_metrics,
            "risk_counts": self.risk_counts,
            "split": {"n_train": len(self.train_index), "n_test": len(self.test_index)},
            "preprocessing": self.preprocessor.to_json() if self.preprocessor else None,
            "notes": self.notes,
        }
        if indices:
            d["split"]["test_index"] = [_jsonable(i) for i in self.test_index]
        return d


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def risk_level(p: float, c1: float, c2: float) -> str:
    if p <= c1:
        return "low"
    if p >= c2:
        return "high"
    return "medium"


def _leaf_paths(tree, names: list[str]) -> dict[int, str]:
    t = tree.tree_
    paths: dict[int, str] = {}

    def walk(node: int, conds: list[str]):
        if t.children_left[node] == -1:
            paths[node] = " AND ".join(conds) if conds else "(all)"
            return
        f, thr = names[t.feature[node]], t.threshold[node]
        walk(t.children_left[node], conds + [f"{f} <= {thr:.4g}"])
        walk(t.children_right[node], conds + [f"{f} > {thr:.4g}"])

    walk(0, [])
    return paths


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


def stratify(df, outcome: str, top_n: int = 5, tmin=None, tmax=None, dt=None, max_depth: int = 3,
             min_samples_split: int = 20, seed: int = 0, test_size: float = 0.25, *,
             bins: int | Mapping[str, Sequence[float]] | None = 10, temporal: Sequence[str] = (),
             allow_outcome_features: bool = False, cuts: str | tuple[float, float] = "prevalence",
             class_weight: str | None = "balanced", features: Sequence[str] | None = None,
             exclude: Sequence[str] = (), grid_steps: int = 50) -> RiskResult:
    """Two-stage risk stratification of one outcome; see the module docstring for every choice."""
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier, export_text

    if not isinstance(df, pd.DataFrame):
        df = read_records(df)
    if len(df) == 0 or df.shape[1] == 0:
        raise CsvError("the records table is empty")
    original_cols = [str(c).strip() for c in df.columns]
    df, renamed = normalise_columns(df)
    if int(top_n) < 1:
        raise InputError("top-N must be at least 1")
    if int(max_depth) < 1:
        raise InputError("max depth must be at least 1")
    if int(min_samples_split) < 2:
        raise InputError("min samples per split must be at least 2")
    if not 0 < float(test_size) < 1:
        raise InputError("test size must be a fraction between 0 and 1")

    target = _resolve_outcome(df, outcome)
    outcome_column = renamed.get(target, target)
    y_all = _binary_target(df[target], outcome_column)
    keep = y_all.notna()
    n_dropped = int((~keep).sum())
    df = df.loc[keep]
    y_all = y_all.loc[keep].astype(int)
    if len(df) == 0:
        raise CsvError(f"outcome column {outcome_column!r} has no values")

    # candidate features + leakage guard
    excluded: dict[str, str] = {}
    outcome_cols = {c for c in df.columns if canonical_outcome(c) in OUTCOMES}
    cand = list(features) if features is not None else [c for c in df.columns if c != target]
    missing_req = [c for c in cand if c not in df.columns]
    if missing_req:
        raise CsvError(f"feature column(s) not found: {', '.join(missing_req[:5])}")
    feats = []
    for c in cand:
        if c == target:
            excluded[c] = "target"
        elif c in exclude:
            excluded[c] = "excluded by user"
        elif c in outcome_cols and not allow_outcome_features:
            excluded[c] = "outcome column (leakage guard; opt in with allow_outcome_features)"
        else:
            feats.append(c)
    num, nonnum = to_numeric_frame(df, feats)
    for c in nonnum:
        excluded[c] = "not numeric"
    feats = [c for c in feats if c not in nonnum]
    bad_temporal = [c for c in temporal if c not in df.columns]
    if bad_temporal:
        raise CsvError(f"temporal column(s) not found: {', '.join(bad_temporal[:5])}")

    # seeded stratified hold-out split
    counts = y_all.value_counts()
    if len(counts) < 2:
        raise CsvError(f"outcome column {outcome_column!r} has only one class ({int(counts.index[0])}); "
                       "need both 0 and 1")
    if counts.min() < 4:
        raise CsvError(f"outcome column {outcome_column!r} has only {int(counts.min())} row(s) of its rarer class; "
                       "need at least 4 for a train/test split")
    try:
        tr_idx, te_idx = train_test_split(np.asarray(df.index), test_size=float(test_size), random_state=int(seed),
                                          stratify=y_all.to_numpy())
    except ValueError as e:
        raise CsvError(f"cannot split the records for {outcome_column!r}: {' '.join(str(e).split())}") from None
    # keep the records' own row order (forward fill needs it) and align X and y by the same mask
    tr_set = set(tr_idx.tolist())
    tr_mask = np.array([i in tr_set for i in df.index])
    tr_idx = [_jsonable(i) for i in df.index[tr_mask]]
    te_idx = [_jsonable(i) for i in df.index[~tr_mask]]
    y_tr, y_te = y_all.to_numpy()[tr_mask], y_all.to_numpy()[~tr_mask]
    if len(np.unique(y_tr)) < 2:
        raise CsvError(f"the training split of {outcome_column!r} lacks one class")

    # fit preprocessing on training rows only (row order kept for forward fill)
    num_tr, num_te = num.loc[tr_mask], num.loc[~tr_mask]
    medians, edges_all, usable = {}, {}, []
    temporal_used = [c for c in temporal if c in feats]
    for c in feats:
        obs = num_tr[c].ffill() if c in temporal_used else num_tr[c]
        if obs.notna().sum() == 0:
            excluded[c] = "no values in the training split"
            continue
        medians[c] = float(obs.median())
        if isinstance(bins, Mapping):
            if c in bins:
                e = sorted(float(v) for v in bins[c])
                edges_all[c] = e
        elif bins:
            e = _fit_bins(num_tr[c], bins)
            if e:
                edges_all[c] = e
        usable.append(c)
    pre = Preprocessor(features=usable, medians=medians, temporal=temporal_used, bin_edges=edges_all)
    X_tr = pre.transform(num_tr)
    X_te = pre.transform(num_te)
    const = [c for c in usable if X_tr[c].nunique() < 2]
    for c in const:
        excluded[c] = "constant in the training split"
    usable = [c for c in usable if c not in const]
    if not usable:
        raise CsvError(f"no usable feature columns for {outcome_column!r} (need numeric columns that vary)")

    # stage 1
    table = univariate_table(X_tr[usable], y_tr, tmin=tmin, tmax=tmax, dt=dt, grid_steps=grid_steps, seed=seed)
    informative = [r for r in table if r["auc"] > 0.5 + 1e-12]
    if not informative:
        raise CsvError(f"no feature separates {outcome_column!r} at all in the training split (every AUC is 0.5)")
    selected = [r["feature"] for r in informative[: int(top_n)]]
    for r in table:
        r["selected"] = r["feature"] in selected
        e = edges_all.get(r["feature"])
        r["binned"] = bool(e)
        r["rule"] = _rule_text(r["feature"], r["threshold"], r["direction"], e)

    # stage 2
    tree = DecisionTreeClassifier(max_depth=int(max_depth), min_samples_split=int(min_samples_split),
                                  class_weight=class_weight, random_state=int(seed))
    tree.fit(X_tr[selected].to_numpy(), y_tr)
    leaf_tr = tree.apply(X_tr[selected].to_numpy())
    leaf_rate = {int(l): float(y_tr[leaf_tr == l].mean()) for l in np.unique(leaf_tr)}
    paths = _leaf_paths(tree, selected)
    prev = float(y_tr.mean())
    p_tr = np.array([leaf_rate[int(l)] for l in leaf_tr])
    if isinstance(cuts, str) and cuts == "prevalence":
        c1, c2, mode = prev, max(0.5, prev), "prevalence"
    elif isinstance(cuts, str) and cuts == "tertiles":
        c1, c2 = (float(v) for v in np.quantile(p_tr, [1 / 3, 2 / 3]))
        mode = "tertiles"
    elif isinstance(cuts, str):
        raise InputError(f"unknown cuts {cuts!r}: use 'prevalence', 'tertiles' or two numbers")
    else:
        c1, c2 = (float(v) for v in cuts)
        mode = "fixed"
        if not 0 <= c1 <= c2 <= 1:
            raise InputError(f"cut points must satisfy 0 <= c1 <= c2 <= 1 (got {c1:g}, {c2:g})")

    leaf_te = tree.apply(X_te[selected].to_numpy())
    p_te = np.array([leaf_rate[int(l)] for l in leaf_te])
    pred_tr = tree.predict(X_tr[selected].to_numpy())
    pred_te = tree.predict(X_te[selected].to_numpy())
    lv_tr = [risk_level(p, c1, c2) for p in p_tr]
    lv_te = [risk_level(p, c1, c2) for p in p_te]
    leaves = []
    for l in sorted(leaf_rate, key=lambda k: leaf_rate[k]):
        m = leaf_tr == l
        leaves.append({"leaf": l, "rule": paths[l], "n_train": int(m.sum()), "positives_train": int(y_tr[m].sum()),
                       "probability": leaf_rate[l], "level": risk_level(leaf_rate[l], c1, c2),
                       "predicted_positive": bool(tree.predict(X_tr[selected].to_numpy()[m][:1])[0])})

    notes = [
        f"Metrics in test_metrics use only the {len(te_idx)} held-out rows (seed {seed}, stratified, "
        f"test_size {test_size}); imputation, bins, thresholds and the tree saw only the {len(tr_idx)} training rows.",
        "The authors' notebook evaluated on its training set and typed in its comparison numbers; "
        "train_metrics show how optimistic training-set evaluation is.",
        "AUROC is computed from leaf probabilities (a step function with one value per leaf).",
    ]
    if allow_outcome_features:
        notes.append("Other outcome columns were allowed as features (allow_outcome_features): "
                     "results are circular for screening-test outcomes.")
    else:
        notes.append("Leakage guard on: Hinselmann, Schiller, Cytology/Citology and Biopsy are never features.")

    params = {"top_n": int(top_n), "tmin": _jparam(tmin), "tmax": _jparam(tmax), "dt": _jparam(dt),
              "max_depth": int(max_depth), "min_samples_split": int(min_samples_split), "seed": int(seed),
              "test_size": float(test_size), "bins": _jparam(bins), "temporal": list(temporal),
              "allow_outcome_features": bool(allow_outcome_features), "cuts": mode,
              "class_weight": class_weight, "grid_steps": int(grid_steps)}
    return RiskResult(
        outcome=target, outcome_column=outcome_column, params=params, n_rows=int(len(df) + n_dropped),
        n_dropped=n_dropped, prevalence_train=prev, features_considered=usable, excluded=excluded,
        stage1=table, selected=selected, tree_rules=export_text(tree, feature_names=selected, show_weights=False),
        leaves=leaves, cuts={"mode": mode, "c1": c1, "c2": c2,
                             "rule": "low if p <= c1; high if p >= c2; medium otherwise (p = training leaf rate)"},
        test_metrics=binary_metrics(y_te, pred_te, p_te), train_metrics=binary_metrics(y_tr, pred_tr, p_tr),
        risk_counts={"train": {k: lv_tr.count(k) for k in LEVELS}, "test": {k: lv_te.count(k) for k in LEVELS}},
        train_index=tr_idx, test_index=te_idx, notes=notes, preprocessor=pre, tree=tree,
        leaf_rate=leaf_rate, leaf_path=paths,
    )


def _jparam(v):
    if isinstance(v, Mapping):
        return {str(k): (list(x) if isinstance(x, (list, tuple)) else x) for k, x in v.items()}
    return v


def _rule_text(name: str, thr: float, direction: str, edges: list[float] | None) -> str:
    """Stage-1 rule in the feature's units. With bins, values are bin lower edges, so "x > T" means x >= next edge."""
    if edges:
        e = np.asarray(edges)
        above = e[e > thr]
        if direction == ">":
            return f"{name} >= {above[0]:g}" if above.size else f"{name} > {thr:g}"
        return f"{name} < {above[0]:g}" if above.size else f"{name} <= {thr:g}"
    return f"{name} {direction} {thr:g}"


def stratify_all(df, outcomes: Sequence[str] | None = None, **kw) -> dict[str, RiskResult]:
    """``stratify`` for each outcome present (default: the four UCI outcomes found in ``df``)."""
    if not isinstance(df, pd.DataFrame):
        df = read_records(df)
    df, _ = normalise_columns(df)
    if outcomes is None:
        outcomes = [o for o in OUTCOMES if o in df.columns]
        if not outcomes:
            raise CsvError(f"no outcome column found (expected any of {', '.join(OUTCOMES)}; Citology also accepted)")
    return {canonical_outcome(o): stratify(df, o, **kw) for o in outcomes}


def assign_risk(result: RiskResult, records_df) -> pd.DataFrame:
    """Score new records with a fitted result: one row per record with ``risk_level``, ``risk_probability``,
    ``predicted_positive``, ``rule_path`` and ``leaf``. Missing values are imputed with the TRAINING medians."""
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
    pre = result.preprocessor
    sub = Preprocessor(features=need, medians={c: pre.medians[c] for c in need},
                       temporal=[c for c in pre.temporal if c in need],
                       bin_edges={c: pre.bin_edges[c] for c in need if c in pre.bin_edges})
    X = sub.transform(num)
    leaf = result.tree.apply(X.to_numpy())
    pred = result.tree.predict(X.to_numpy())
    prob = np.array([result.leaf_rate[int(l)] for l in leaf])
    out = pd.DataFrame({
        "risk_level": [result.level_of(p) for p in prob],
        "risk_probability": prob,
        "predicted_positive": pred.astype(int),
        "rule_path": [result.leaf_path[int(l)] for l in leaf],
        "leaf": leaf.astype(int),
        "imputed": num.isna().sum(axis=1).astype(int).to_numpy(),
    }, index=df.index)
    return out
