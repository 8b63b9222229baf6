"""Uncertainty and significance tests: bootstrap CI, McNemar, Friedman, Pearson r."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats


def bootstrap_cis(statistic: Callable[..., dict], *arrays, n_boot: int = 1000, alpha: float = 0.05,
                  seed: int = 0) -> dict:
    """Percentile bootstrap CIs of every value of ``statistic(*arrays)`` (a dict of floats), resampling
    rows (cases) jointly in one loop.

    A resample where the statistic raises ValueError counts as failed for every value; NaN values are
    dropped per value. Returns ``{name: {estimate, low, high, alpha, n_boot, n_valid, n_failed}}``.
    """
    arrs = [np.asarray(a) for a in arrays]
    if not arrs:
        raise ValueError("bootstrap needs at least one array")
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise ValueError("all arrays must have the same number of rows")
    est = {k: float(v) for k, v in statistic(*arrs).items()}
    rng = np.random.default_rng(seed)
    vals: dict[str, list[float]] = {k: [] for k in est}
    for _ in range(int(n_boot)):
        idx = rng.integers(0, n, n)
        try:
            got = statistic(*[a[idx] for a in arrs])
        except ValueError:
            continue
        for k in est:
            v = float(got[k])
            if np.isfinite(v):
                vals[k].append(v)
    out = {}
    for k, v in vals.items():
        low, high = np.percentile(v, [100 * alpha / 2, 100 * (1 - alpha / 2)]) if v else (np.nan, np.nan)
        out[k] = {"estimate": est[k], "low": float(low), "high": float(high), "alpha": alpha,
                  "n_boot": int(n_boot), "n_valid": len(v), "n_failed": int(n_boot) - len(v)}
    return out


def _as_dict(metric: Callable[..., float]) -> Callable[..., dict]:
    def statistic(*arrays) -> dict:
        return {"value": metric(*arrays)}
    return statistic


def bootstrap_ci(metric: Callable[..., float], *arrays, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> dict:
    """Percentile bootstrap CI of ``metric(*arrays)`` (one float), resampling rows (cases) jointly.

    Resamples where the metric is undefined (NaN, or it raises ValueError) are dropped and
    counted in ``n_failed``. Returns ``{estimate, low, high, alpha, n_boot, n_valid, n_failed}``.
    """
    return bootstrap_cis(_as_dict(metric), *arrays, n_boot=n_boot, alpha=alpha, seed=seed)["value"]


def mcnemar(correct_a, correct_b, exact_threshold: int = 25) -> dict:
    """McNemar test on paired correctness (e.g. hierarchical vs flat on the same cases).

    ``b`` = A right & B wrong, ``c`` = A wrong & B right. With ``b + c < exact_threshold``
    the exact two-sided binomial test is used, otherwise chi2 with continuity correction.
    """
    a = np.asarray(correct_a, dtype=bool)
    b_ = np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError("correct_a and correct_b differ in length")
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    n = b + c
    if n == 0:
        return {"b": b, "c": c, "statistic": 0.0, "p_value": 1.0, "method": "exact", "n": int(a.size)}
    if n < exact_threshold:
        p = min(1.0, 2.0 * stats.binom.cdf(min(b, c), n, 0.5))
        return {"b": b, "c": c, "statistic": float(min(b, c)), "p_value": float(p), "method": "exact",
                "n": int(a.size)}
    chi2 = (abs(b - c) - 1.0) ** 2 / n
    return {"b": b, "c": c, "statistic": float(chi2), "p_value": float(stats.chi2.sf(chi2, 1)),
            "method": "chi2-cc", "n": int(a.size)}


def mcnemar_predictions(y_true, pred_a, pred_b, **kw) -> dict:
    y = np.asarray(y_true)
    return mcnemar(np.asarray(pred_a) == y, np.asarray(pred_b) == y, **kw)


def friedman(scores, treatments: Sequence[str] | None = None, higher_is_better: bool = True) -> dict:
    """Friedman rank test: ``scores`` is (n_blocks, k_treatments), e.g. labels x models AUROC.

    Blocks with any NaN are dropped. Rank 1 = best. Uses ``scipy.stats.friedmanchisquare``
    for k >= 3; for k == 2 (which scipy refuses) the same tie-corrected statistic is computed
    directly (chi2, 1 df). Returns statistic, p_value, mean_ranks, rank_sums, n_blocks, k.
    """
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2:
        raise ValueError("scores must be 2-D (blocks x treatments)")
    names = list(treatments) if treatments is not None else [str(i) for i in range(x.shape[1])]
    x = x[np.all(np.isfinite(x), axis=1)]
    n, k = x.shape
    out = {"treatments": names, "n_blocks": int(n), "k": int(k), "statistic": float("nan"),
           "p_value": float("nan"), "mean_ranks": {}, "rank_sums": {}, "reason": None}
    if k < 2:
        out["reason"] = "need at least two treatments"
        return out
    if n < 2:
        out["reason"] = "need at least two blocks with a score for every treatment"
        return out
    ranks = np.apply_along_axis(stats.rankdata, 1, -x if higher_is_better else x)
    rs = ranks.sum(axis=0)
    out["rank_sums"] = {nm: float(v) for nm, v in zip(names, rs)}
    out["mean_ranks"] = {nm: float(v) for nm, v in zip(names, rs / n)}
    if k >= 3:
        try:
            stat, p = stats.friedmanchisquare(*[x[:, j] for j in range(k)])
        except ValueError as e:  # e.g. all ties
            out["reason"] = str(e)
            return out
    else:
        ties = 0.0
        for row in ranks:
            _, cnt = np.unique(row, return_counts=True)
            ties += float(np.sum(cnt ** 3 - cnt))
        denom = 1.0 - ties / (n * k * (k * k - 1))
        if denom <= 0:
            out["reason"] = "all blocks tied"
            return out
        stat = (12.0 / (n * k * (k + 1)) * np.sum(rs ** 2) - 3.0 * n * (k + 1)) / denom
        p = stats.chi2.sf(stat, k - 1)
    out["statistic"], out["p_value"] = float(stat), float(p)
    out["method"] = "scipy.friedmanchisquare" if k >= 3 else "friedman (k=2, tie-corrected)"
    return out


def pearson(x, y) -> dict:
    """Pearson r with two-sided p-value; NaN with a reason when undefined."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    out = {"r": float("nan"), "p_value": float("nan"), "n": int(a.size), "reason": None}
    if a.size < 3:
        out["reason"] = "need at least three classes"
    elif np.ptp(a) == 0 or np.ptp(b) == 0:
        out["reason"] = "constant input"
    else:
        r, p = stats.pearsonr(a, b)
        out["r"], out["p_value"] = float(r), float(p)
    return out


def support_accuracy_correlation(support, accuracy) -> dict:
    """Pearson r between class support and per-class accuracy (HC-Net reports r = 0.52)."""
    return pearson(support, accuracy)
