"""MedFusionNet's two-stage risk model (paper, "Initial risk classification", Steps 1-5), fitted on ONE training set.

:class:`TwoStageModel` learns everything from the rows given to :meth:`TwoStageModel.fit` and nothing else, so
cross-validation (:mod:`hcview.risk.evaluation`) can refit it inside every training fold.

Step 1, preprocessing: numeric features, ``?``/blank = missing. Columns declared ``temporal`` are forward-filled in
row order, every remaining gap gets the training median. ``bins``: an int k puts every feature with more than k
distinct training values into k quantile bins and replaces each value by its bin's LOWER EDGE (units kept); a dict
``{feature: [lower edges]}`` gives explicit (e.g. clinical age) bins; ``None``/0 = off. Default off: the paper asks
for clinically meaningful bins, which deciles are not, and on the UCI table decile bins lowered Biopsy's CV AUROC
(about 0.57 against 0.60 without).

Steps 2-3, univariate: per feature a class-balanced depth-1 tree gives the preliminary threshold
(``stump_threshold``), then a grid search over T = Tmin, Tmin+dT, ..., <= Tmax scores the rules "positive when
x > T" and "positive when x <= T" by AUC = (sensitivity + specificity) / 2, ties broken by F1 then the smaller T.
Defaults: Tmin/Tmax = training min/max, dT = span / ``grid_steps`` (whole for integer-valued features). Features
are ranked by (AUC, F1) and the top-N (default 8) with AUC > 0.5 are kept; a feature nearly equal to a
better-ranked one (|r| > ``redundancy``, 0.9; e.g. ``STDs`` and ``STDs (number)``) is skipped so the N are
distinct.

Step 4, multivariate: a decision tree (class weights ``balanced``) over the selected features. Its depth
(``depth_grid``, default 2-5) and minimum samples per split (``min_split_grid``, default 20-160) are TUNED by an
inner stratified k-fold CV on the training rows (steps 1-4 refitted in each inner fold) on mean inner AUROC, with
CART's one-standard-error rule: the simplest tree (shallower, then larger min split) within one SE of the best.
The tree's raw score is its class-weighted leaf probability.

Calibration: the inner CV's out-of-fold raw scores of the chosen tree are mapped to outcome probabilities by
Platt scaling (``sigmoid``, default: strictly monotone, so it keeps every leaf distinct and the ranking intact;
recommended by scikit-learn for calibration sets under ~1000 rows) or ``isotonic`` regression (may pool
neighbouring leaves). If the out-of-fold scores carry no positive ranking at all, every row gets the training
prevalence (said in :meth:`Calibrator.describe`). The final tree is fitted on all training rows; its leaves get
calibrated probabilities.

Step 5, levels low / medium / high from cut points (c1, c2) on the calibrated leaf probability p: low if p <= c1,
high if p >= c2, medium otherwise. ``cuts``:
  - ``"tertiles"`` (default): cut points between the tree's leaves that split the TRAINING rows as close to
    thirds as leaf sizes allow, with at least one leaf per level whenever the tree has three or more distinct leaf
    probabilities (so all three levels are used). Cut points depend on the training rows' leaves only.
  - ``(c1, c2)``: fixed probabilities, e.g. ``(0.05, 0.15)``.
An empty level is reported in ``empty_levels_`` as one line, never dropped silently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from hcview.errors import CsvError, InputError

LEVELS: tuple[str, ...] = ("low", "medium", "high")
MAX_GRID = 20000
DEPTH_GRID: tuple[int, ...] = (2, 3, 4, 5)
MIN_SPLIT_GRID: tuple[int, ...] = (20, 40, 80, 160)
CALIBRATIONS = ("sigmoid", "isotonic")


# ---------------------------------------------------------------------------------------------------------------
# step 1: preprocessing
@dataclass
class Preprocessor:
    """Imputation + discretisation learnt from the training rows; applied unchanged to any later records."""

    features: list[str]
    medians: dict[str, float]
    temporal: list[str] = field(default_factory=list)
    bin_edges: dict[str, list[float]] = field(default_factory=dict)  # lower edges, ascending

    def transform(self, num: pd.DataFrame) -> pd.DataFrame:
        """``num``: numeric frame holding ``self.features`` (NaN = missing). Returns imputed, binned copy."""
        A = self.transform_array(num[self.features].to_numpy(dtype=float), self.features)
        return pd.DataFrame(A, index=num.index, columns=self.features)

    def transform_array(self, A: np.ndarray, columns: Sequence[str]) -> np.ndarray:
        """Same on a float array whose columns are ``columns`` (a superset of ``self.features``, any order);
        returns an array of ``self.features``."""
        pos = {c: i for i, c in enumerate(columns)}
        out = A[:, [pos[c] for c in self.features]].astype(float, copy=True)
        for j, c in enumerate(self.features):
            col = out[:, j]
            if c in self.temporal:
                col = pd.Series(col).ffill().to_numpy()
            col = np.where(np.isnan(col), self.medians[c], col)
            edges = self.bin_edges.get(c)
            if edges:
                e = np.asarray(edges, dtype=float)
                col = e[np.clip(np.searchsorted(e, col, side="right") - 1, 0, len(e) - 1)]
            out[:, j] = col
        return out

    def subset(self, features: Sequence[str]) -> "Preprocessor":
        return Preprocessor(features=list(features), medians={c: self.medians[c] for c in features},
                            temporal=[c for c in self.temporal if c in features],
                            bin_edges={c: self.bin_edges[c] for c in features if c in self.bin_edges})

    def to_json(self) -> dict:
        return {"medians": self.medians, "temporal": list(self.temporal), "bin_lower_edges": self.bin_edges}


def _fit_bins(v: np.ndarray, k: int) -> list[float] | None:
    v = v[~np.isnan(v)]
    if v.size == 0 or k <= 0 or np.unique(v).size <= k:
        return None
    edges = np.unique(np.quantile(v, np.linspace(0, 1, k + 1)[:-1], method="lower"))
    return [float(x) for x in edges] if edges.size >= 2 else None


def fit_preprocessor(num, bins=10, temporal: Sequence[str] = (), columns: Sequence[str] | None = None
                     ) -> tuple[Preprocessor, dict]:
    """Medians and bin edges from the training rows (record order): a numeric DataFrame, or a float array with
    its ``columns``. Returns ``(preprocessor, dropped)``, ``dropped`` = ``{column: reason}`` for columns with
    no values."""
    if isinstance(num, pd.DataFrame):
        columns, A = list(num.columns), num.to_numpy(dtype=float)
    else:
        A = np.asarray(num, dtype=float)
    temporal_used = [c for c in temporal if c in columns]
    medians, edges, usable, dropped = {}, {}, [], {}
    for j, c in enumerate(columns):
        raw = A[:, j]
        obs = pd.Series(raw).ffill().to_numpy() if c in temporal_used else raw
        ok = ~np.isnan(obs)
        if not ok.any():
            dropped[c] = "no values in the training rows"
            continue
        medians[c] = float(np.median(obs[ok]))
        if isinstance(bins, Mapping):
            if c in bins:
                edges[c] = sorted(float(v) for v in bins[c])
        elif bins:
            e = _fit_bins(raw, int(bins))
            if e:
                edges[c] = e
        usable.append(c)
    return Preprocessor(features=usable, medians=medians, temporal=temporal_used, bin_edges=edges), dropped


# ---------------------------------------------------------------------------------------------------------------
# steps 2-3: univariate thresholds
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


def _score_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
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


def univariate_table(X, y: np.ndarray, tmin=None, tmax=None, dt=None, grid_steps: int = 50,
                     seed: int = 0, stumps: bool = True, names: Sequence[str] | None = None) -> list[dict]:
    """Steps 2-3 on already-imputed training features (a DataFrame, or an array with ``names``).
    One row per feature, ranked best first.

    ``stumps=False`` skips the preliminary depth-1 trees (reported only; the grid search does not depend on them).
    """
    if isinstance(X, pd.DataFrame):
        names, X = list(X.columns), X.to_numpy(dtype=float)
    rows = []
    for j, c in enumerate(names):
        x = X[:, j]
        t0, t1, step, grid = _grid_for(x, c, tmin, tmax, dt, grid_steps)
        s = _score_grid(x, y, grid)
        use_le = s["<="]["auc"] > s[">"]["auc"] + 1e-12  # per threshold the better direction (ties -> ">")
        auc = np.where(use_le, s["<="]["auc"], s[">"]["auc"])
        f1 = np.where(use_le, s["<="]["f1"], s[">"]["f1"])
        order = np.lexsort((np.arange(len(grid)), -np.round(f1, 12), -np.round(auc, 12)))
        b = int(order[0])
        d = "<=" if use_le[b] else ">"
        stump_t, stump_d = _stump(x, y, seed) if stumps else (None, None)
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


def rule_text(name: str, thr: float, direction: str, edges: Sequence[float] | None) -> str:
    """A threshold rule in the feature's units. With bins, values are bin lower edges, so "x > T" means
    x >= the next edge above T."""
    if edges:
        e = np.asarray(edges)
        above = e[e > thr]
        if direction == ">":
            return f"{name} >= {above[0]:g}" if above.size else f"{name} > {thr:g}"
        return f"{name} < {above[0]:g}" if above.size else f"{name} <= {thr:g}"
    return f"{name} {direction} {thr:.4g}"


# ---------------------------------------------------------------------------------------------------------------
# step 5: levels
def risk_level(p: float, c1: float, c2: float) -> str:
    if p <= c1:
        return "low"
    if p >= c2:
        return "high"
    return "medium"


def levels_of(p: np.ndarray, c1: float, c2: float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.where(p <= c1, "low", np.where(p >= c2, "high", "medium")).astype(object)


def tertile_cuts(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Cut points on a few distinct risk values (one per leaf) that split ``weights`` (training rows per value)
    as close to thirds as possible, with at least one value per level when there are three or more values.

    Two values: low and high (medium empty). One value: everything medium.
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v)
    v, w = v[order], w[order]
    k = len(v)
    if k == 0:
        return 0.0, 1.0
    if k == 1:
        return float(np.nextafter(v[0], -np.inf)), float(np.nextafter(v[0], np.inf))
    if k == 2:
        return float(v[0]), float(v[1])
    F = np.cumsum(w) / w.sum()
    best, ab = None, (1, 2)
    for a in range(1, k - 1):          # values v[0..a-1] are low
        for b in range(a + 1, k):      # values v[a..b-1] are medium, v[b..] high
            cost = abs(F[a - 1] - 1 / 3) + abs(F[b - 1] - 2 / 3)
            if best is None or cost < best - 1e-12:
                best, ab = cost, (a, b)
    a, b = ab
    return float(v[a - 1]), float(v[b])


# ---------------------------------------------------------------------------------------------------------------
# calibration
class Calibrator:
    """Maps the tree's raw (class-weighted leaf) score to a probability; fitted on out-of-fold scores."""

    def __init__(self, method: str = "sigmoid"):
        if method not in CALIBRATIONS:
            raise InputError(f"unknown calibration {method!r}: use {' or '.join(CALIBRATIONS)}")
        self.method = method
        self.model = None
        self.constant: float | None = None

    def fit(self, raw: np.ndarray, y: np.ndarray) -> "Calibrator":
        raw = np.asarray(raw, dtype=float)
        y = np.asarray(y, dtype=int)
        if np.unique(y).size < 2 or np.unique(raw).size < 2:
            self.constant = float(y.mean()) if y.size else 0.0
            return self
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            self.model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        else:
            from sklearn.linear_model import LogisticRegression

            m = LogisticRegression(C=1e4, solver="newton-cholesky", max_iter=100).fit(raw[:, None], y)
            if m.coef_[0, 0] <= 0:  # no positive association out of fold: the score carries no usable ranking
                self.constant = float(y.mean())
                return self
            self.model = m
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.constant is not None:
            return np.full(raw.shape, self.constant)
        if self.method == "isotonic":
            return np.asarray(self.model.predict(raw), dtype=float)
        return self.model.predict_proba(raw[:, None])[:, 1]

    def describe(self) -> str:
        if self.constant is not None:
            return f"{self.method}: constant {self.constant:.3f} (the inner CV scores carried no ranking)"
        if self.method == "isotonic":
            return "isotonic regression on out-of-fold tree scores"
        return (f"Platt: p = 1 / (1 + exp(-({self.model.coef_[0, 0]:.3f} * score + {self.model.intercept_[0]:.3f})))"
                " on out-of-fold tree scores")


# ---------------------------------------------------------------------------------------------------------------
# the model
def _leaf_paths(tree, names: list[str], edges: Mapping[str, Sequence[float]]) -> dict[int, str]:
    t = tree.tree_
    paths: dict[int, str] = {}

    def walk(node: int, conds: list[str]):
        if t.children_left[node] == -1:
            paths[node] = " AND ".join(conds) if conds else "(everyone: the tree made no split)"
            return
        f, thr = names[t.feature[node]], float(t.threshold[node])
        walk(t.children_left[node], conds + [rule_text(f, thr, "<=", edges.get(f))])
        walk(t.children_right[node], conds + [rule_text(f, thr, ">", edges.get(f))])

    walk(0, [])
    return paths


def _auroc(y, s) -> float:
    """AUROC as the Mann-Whitney statistic (ties count half); NaN with one class. Same value as
    sklearn's roc_auc_score, without its per-call validation cost (called ~50 times per fit)."""
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=int)
    npos = int(y.sum())
    nneg = len(y) - npos
    if npos == 0 or nneg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def _distinct(ranked: list[str], X: np.ndarray, names: list[str], limit: float) -> list[str]:
    """``ranked`` without any feature whose |Pearson r| with a better-ranked kept feature exceeds ``limit``."""
    idx = [names.index(f) for f in ranked]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(np.corrcoef(X[:, idx], rowvar=False))
    keep: list[int] = []
    for i in range(len(idx)):
        if all(not (r[i, j] > limit) for j in keep):
            keep.append(i)
    return [ranked[i] for i in keep]


@dataclass
class TwoStageModel:
    """Steps 1-5 fitted on one training set; see the module docstring. Construct, then :meth:`fit`."""

    top_n: int | Sequence[int] = 8
    tmin: object = None
    tmax: object = None
    dt: object = None
    grid_steps: int = 50
    bins: object = None
    temporal: Sequence[str] = ()
    class_weight: str | None = "balanced"
    depth_grid: Sequence[int] = DEPTH_GRID
    min_split_grid: Sequence[int] = MIN_SPLIT_GRID
    inner_folds: int = 3
    calibration: str = "sigmoid"
    cuts: object = "tertiles"
    seed: int = 0
    one_se: bool = True
    redundancy: float | None = 0.9

    def __post_init__(self):
        if any(n < 1 for n in self._top_ns()):
            raise InputError("top-N must be at least 1")
        if not self.depth_grid or any(int(d) < 1 for d in self.depth_grid):
            raise InputError("tree depths must be at least 1")
        if not self.min_split_grid or any(int(m) < 2 for m in self.min_split_grid):
            raise InputError("min samples per split must be at least 2")
        if int(self.inner_folds) < 2:
            raise InputError("inner CV folds must be at least 2")
        if self.calibration not in CALIBRATIONS:
            raise InputError(f"unknown calibration {self.calibration!r}: use {' or '.join(CALIBRATIONS)}")
        if isinstance(self.cuts, str):
            if self.cuts != "tertiles":
                raise InputError(f"unknown cuts {self.cuts!r}: use 'tertiles' or two numbers C1,C2")
        else:
            c1, c2 = (float(v) for v in self.cuts)
            if not 0 <= c1 < c2 <= 1:
                raise InputError(f"cut points must satisfy 0 <= c1 < c2 <= 1 (got {c1:g}, {c2:g})")

    # -- stages 1-2 on one set of rows
    def _top_ns(self) -> list[int]:
        return sorted({int(n) for n in (self.top_n if isinstance(self.top_n, (list, tuple)) else [self.top_n])})

    def _stage1(self, A: np.ndarray, cols: list[str], y: np.ndarray, stumps: bool):
        """Preprocessing + univariate table on these rows (float array ``A`` with columns ``cols``).
        Returns ``(preprocessor, X, usable, dropped, table, ranked)``: ``X`` holds the preprocessed ``usable``
        columns; ``ranked`` = features with AUC > 0.5, best first."""
        pre, dropped = fit_preprocessor(A, self.bins, self.temporal, columns=cols)
        X = pre.transform_array(A, cols)
        keep = [j for j in range(X.shape[1]) if np.ptp(X[:, j]) > 0]
        for j in range(X.shape[1]):
            if j not in keep:
                dropped[pre.features[j]] = "constant in the training rows"
        usable = [pre.features[j] for j in keep]
        X = X[:, keep]
        table = univariate_table(X, y, self.tmin, self.tmax, self.dt, self.grid_steps, self.seed,
                                 stumps=stumps, names=usable) if usable else []
        ranked = [r["feature"] for r in table if r["auc"] > 0.5 + 1e-12]
        if self.redundancy is not None and len(ranked) > 1:
            ranked = _distinct(ranked, X, usable, float(self.redundancy))
        return pre, X, usable, dropped, table, ranked

    def _tree(self, depth: int, min_split: int):
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(max_depth=int(depth), min_samples_split=int(min_split),
                                      class_weight=self.class_weight, random_state=int(self.seed))

    def fit(self, num: pd.DataFrame, y, describe: bool = True) -> "TwoStageModel":
        """Fit on ``num`` (numeric features, NaN = missing, record order) and 0/1 ``y``.

        ``describe=False`` skips what only the report needs (preliminary stumps), to keep CV fast.
        """
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(y, dtype=int)
        if np.unique(y).size < 2:
            raise CsvError("the training rows hold only one outcome class")
        cols = [str(c) for c in num.columns]
        A = num.to_numpy(dtype=float)
        self.prevalence_ = float(y.mean())
        # (depth, top-N, min split), simplest first: shallower, then fewer features, then larger min split
        combos = [(int(d), n, int(m)) for d in sorted(set(self.depth_grid)) for n in self._top_ns()
                  for m in sorted(set(self.min_split_grid), reverse=True)]
        # inner CV: tune the tree (and top-N when a grid is given); collect out-of-fold scores for calibration
        k = min(int(self.inner_folds), int(np.bincount(y).min()))
        scores = {c: [] for c in combos}
        oof = {c: np.full(len(y), np.nan) for c in combos}
        if k >= 2:
            skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=int(self.seed))
            for tr, va in skf.split(np.zeros(len(y)), y):
                tr = np.sort(tr)
                pre, X_tr, usable, _, _, ranked = self._stage1(A[tr], cols, y[tr], stumps=False)
                if not ranked:
                    for c in combos:
                        oof[c][va] = y[tr].mean()
                        scores[c].append(0.5)
                    continue
                X_va = pre.transform_array(A[va], cols)
                at = {f: pre.features.index(f) for f in ranked}
                at_tr = {f: usable.index(f) for f in ranked}
                for c in combos:
                    sel = ranked[: c[1]]
                    t = self._tree(c[0], c[2]).fit(X_tr[:, [at_tr[f] for f in sel]], y[tr])
                    sc = t.predict_proba(X_va[:, [at[f] for f in sel]])[:, 1]
                    oof[c][va] = sc
                    scores[c].append(_auroc(y[va], sc))
            mean = {c: float(np.nanmean(v)) if np.isfinite(v).any() else 0.5 for c, v in scores.items()}
            se = {c: float(np.nanstd(v, ddof=1) / math.sqrt(np.isfinite(v).sum())) if np.isfinite(v).sum() > 1
                  else 0.0 for c, v in scores.items()}
            top = max(combos, key=lambda c: (round(mean[c], 10), -combos.index(c)))
            # CART's one-standard-error rule: the simplest combination whose mean inner AUROC is within one SE
            # of the best one
            best = top if not self.one_se else next(c for c in combos if mean[c] >= mean[top] - se[top] - 1e-12)
        else:
            mean = {}
            best = combos[0]
        self.tuning_ = {"inner_folds": k, "max_depth": best[0], "top_n": best[1], "min_samples_split": best[2],
                        "inner_auroc": mean.get(best), "rule": "one-SE" if self.one_se else "best",
                        "grid": [{"max_depth": c[0], "top_n": c[1], "min_samples_split": c[2],
                                  "inner_auroc": mean.get(c)} for c in combos]}

        pre, X, usable, dropped, table, ranked = self._stage1(A, cols, y, stumps=describe)
        selected = ranked[: best[1]]
        Xs = X[:, [usable.index(f) for f in selected]] if selected else X[:, :0]
        if not usable:
            raise CsvError("no usable feature columns (need numeric columns that vary in the training rows)")
        if not selected:
            raise CsvError("no feature separates the outcome at all in the training rows (every AUC is 0.5)")
        self.preprocessor_ = pre
        self.dropped_ = dropped
        self.features_considered_ = usable
        self.stage1_ = table
        self.selected_ = selected
        for r in table:
            r["selected"] = r["feature"] in selected
            e = pre.bin_edges.get(r["feature"])
            r["binned"] = bool(e)
            r["rule"] = rule_text(r["feature"], r["threshold"], r["direction"], e)
        tree = self._tree(best[0], best[2]).fit(Xs, y)
        self.tree_ = tree

        self.calibrator_ = Calibrator(self.calibration)
        if k >= 2:
            self.calibrator_.fit(oof[best], y)
        else:
            self.calibrator_.constant = self.prevalence_

        leaf_tr = tree.apply(Xs)
        raw_leaf = {int(l): float(tree.tree_.value[l][0][1] / tree.tree_.value[l][0].sum())
                    for l in np.unique(leaf_tr)}
        leaves = sorted(raw_leaf)
        prob = dict(zip(leaves, self.calibrator_.transform(np.array([raw_leaf[l] for l in leaves]))))
        self.leaf_prob_ = {int(l): float(p) for l, p in prob.items()}
        self.leaf_path_ = _leaf_paths(tree, selected, pre.bin_edges)
        counts = {l: int((leaf_tr == l).sum()) for l in leaves}

        if isinstance(self.cuts, str):
            distinct = sorted(set(self.leaf_prob_.values()))
            w = [sum(counts[l] for l in leaves if self.leaf_prob_[l] == v) for v in distinct]
            c1, c2 = tertile_cuts(np.array(distinct), np.array(w))
            mode = "tertiles"
        else:
            c1, c2 = (float(v) for v in self.cuts)
            mode = "fixed"
        self.cuts_ = {"mode": mode, "c1": c1, "c2": c2,
                      "rule": "low if p <= c1; high if p >= c2; medium otherwise (p = calibrated leaf probability)"}
        lv_tr = levels_of(np.array([self.leaf_prob_[int(l)] for l in leaf_tr]), c1, c2)
        self.train_level_counts_ = {k_: int((lv_tr == k_).sum()) for k_ in LEVELS}
        n_distinct = len(set(self.leaf_prob_.values()))
        self.empty_levels_ = [
            f"level '{k_}' is empty on the training rows: " + (
                f"the tree has only {n_distinct} distinct leaf probabilit{'y' if n_distinct == 1 else 'ies'}"
                if mode == "tertiles" else f"no leaf probability falls in it with cut points {c1:g} / {c2:g}")
            for k_ in LEVELS if self.train_level_counts_[k_] == 0]
        self.leaves_ = []
        for l in sorted(leaves, key=lambda l_: (self.leaf_prob_[l_], l_)):
            m = leaf_tr == l
            self.leaves_.append({
                "leaf": int(l), "rule": self.leaf_path_[int(l)], "n_train": int(m.sum()),
                "positives_train": int(y[m].sum()), "rate_train": float(y[m].mean()),
                "tree_score": raw_leaf[l], "probability": self.leaf_prob_[int(l)],
                "level": risk_level(self.leaf_prob_[int(l)], c1, c2),
                "predicted_positive": bool(raw_leaf[l] > 0.5)})
        return self

    # -- applying the fitted model
    def _leaves(self, num: pd.DataFrame) -> np.ndarray:
        sub = self.preprocessor_.subset(self.selected_)
        return self.tree_.apply(sub.transform_array(num[self.selected_].to_numpy(dtype=float), self.selected_))

    def score(self, num: pd.DataFrame) -> pd.DataFrame:
        """Per row: ``risk_level``, ``risk_probability`` (calibrated), ``predicted_positive``, ``rule_path``,
        ``leaf``, ``imputed`` (how many of the selected features were missing)."""
        leaf = self._leaves(num)
        prob = np.array([self.leaf_prob_[int(l)] for l in leaf])
        raw = self.tree_.tree_.value[leaf][:, 0, :]
        pred = (raw[:, 1] / raw.sum(1) > 0.5).astype(int)
        return pd.DataFrame({
            "risk_level": levels_of(prob, self.cuts_["c1"], self.cuts_["c2"]),
            "risk_probability": prob,
            "predicted_positive": pred,
            "rule_path": [self.leaf_path_[int(l)] for l in leaf],
            "leaf": leaf.astype(int),
            "imputed": num[self.selected_].isna().sum(axis=1).astype(int).to_numpy(),
        }, index=num.index)

    def level_of(self, p: float) -> str:
        return risk_level(p, self.cuts_["c1"], self.cuts_["c2"])

    def tree_rules(self) -> str:
        from sklearn.tree import export_text

        return export_text(self.tree_, feature_names=list(self.selected_), show_weights=False)
