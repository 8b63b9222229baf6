"""Evaluation page helpers: loaders of stored evaluation outputs (``st.cache_data``), scoring of
uploaded prediction CSVs, and the widgets the page composes.

The page itself (``pages/4_Evaluation.py``) only reads widgets and calls these. Nothing here runs a
model unless the user presses "Run evaluation" (``run_evaluation`` -> ``hcview.infer.evaluate``).
"""
from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from hcview.errors import CsvError, InputError

# ---------------------------------------------------------------------------------------------------
# External prediction CSVs (pure functions on bytes / paths; the page and the tests call these)
# ---------------------------------------------------------------------------------------------------
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_name(name: str, i: int) -> str:
    stem = _SAFE.sub("_", Path(str(name or f"file{i}")).name).strip("._") or f"file{i}"
    return stem if stem.lower().endswith((".csv", ".tsv", ".txt")) else stem + ".csv"


def parse_label_list(text: str | None) -> list[str] | None:
    """'A, B,C' -> ['A', 'B', 'C']; empty -> None (every label with both columns)."""
    if not text or not str(text).strip():
        return None
    labels = [x.strip() for x in re.split(r"[,\n;]", str(text)) if x.strip()]
    return labels or None


def _uniform(result: dict, names: list[str]) -> dict:
    """evaluate_files gives a different shape for one file; make it the several-files shape."""
    if "models" in result:
        return result
    name = names[0]
    return {"models": {name: result}, "model_order": [name], "common_labels": list(result["labels"]),
            "labels": {lab: {name: {k: r.get(k) for k in ("auroc", "auprc", "support")}}
                       for lab, r in result["labels"].items()},
            "summary": {name: result["summary"]}, "friedman": None}


def score_prediction_files(paths: Sequence, truth_pattern: str = "{label}_GT", score_pattern: str = "{label}_Pred",
                           labels: Sequence[str] | None = None, names: Sequence[str] | None = None,
                           n_boot: int = 0) -> dict:
    """Score one or more prediction CSVs on disk.

    Returns ``{"result": <several-files shaped evaluate_files output>, "names": [...],
    "curves": {name: (labels, y_true, y_score)}}``. Every bad input raises a one-line ``CsvError``.
    """
    from hcview.metrics.external import evaluate_files, load_predictions, unique_names

    paths = [Path(p) for p in paths]
    if not paths:
        raise CsvError("no predictions file given")
    if not str(truth_pattern).strip() or not str(score_pattern).strip():
        raise CsvError("the truth and score column patterns must not be empty")
    result = evaluate_files(paths, truth_pattern, score_pattern, labels, n_boot=n_boot)
    names = list(names) if names else unique_names(paths)
    res = _uniform(result, names)
    if len(paths) > 1 and list(res["model_order"]) != names:  # display names from the uploads
        res = _rename(res, dict(zip(res["model_order"], names)))
    curves = {}
    for name, p in zip(names, paths):
        labs, yt, ys = load_predictions(p, truth_pattern, score_pattern, labels)
        curves[name] = (labs, yt, ys)
    return {"result": res, "names": names, "curves": curves}


def _rename(res: dict, m: dict) -> dict:
    out = dict(res)
    out["models"] = {m[k]: v for k, v in res["models"].items()}
    out["model_order"] = [m[k] for k in res["model_order"]]
    out["labels"] = {lab: {m[k]: v for k, v in per.items()} for lab, per in res["labels"].items()}
    out["summary"] = {m[k]: v for k, v in res["summary"].items()}
    if res.get("friedman"):
        fr = dict(res["friedman"])
        fr["treatments"] = [m.get(t, t) for t in fr.get("treatments", [])]
        fr["mean_ranks"] = {m.get(k, k): v for k, v in (fr.get("mean_ranks") or {}).items()}
        fr["rank_sums"] = {m.get(k, k): v for k, v in (fr.get("rank_sums") or {}).items()}
        out["friedman"] = fr
    return out


def _unique_names(names: Sequence[str]) -> list[str]:
    out, seen = [], {}
    for n in names:
        stem = Path(str(n)).stem or str(n)
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return out


def score_uploaded_predictions(files: Sequence[tuple[str, bytes]], truth_pattern: str = "{label}_GT",
                               score_pattern: str = "{label}_Pred", labels: Sequence[str] | None = None,
                               n_boot: int = 0) -> dict:
    """Like :func:`score_prediction_files` for uploads given as ``(file name, bytes)`` pairs."""
    if not files:
        raise CsvError("no predictions file given")
    with tempfile.TemporaryDirectory(prefix="hcview-preds-") as tmp:
        paths = []
        for i, (name, data) in enumerate(files):
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise CsvError(f"{name}: not file content")
            p = Path(tmp) / f"{i:02d}" / _safe_name(name, i)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(bytes(data))
            paths.append(p)
        return score_prediction_files(paths, truth_pattern, score_pattern, labels,
                                      names=_unique_names([n for n, _ in files]), n_boot=n_boot)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_score_uploaded(files: tuple[tuple[str, bytes], ...], truth_pattern: str, score_pattern: str,
                          labels: tuple[str, ...] | None, n_boot: int = 0) -> dict:
    return score_uploaded_predictions(list(files), truth_pattern, score_pattern, list(labels) if labels else None,
                                      n_boot)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_score_paths(paths: tuple[str, ...], mtimes: tuple[float, ...], truth_pattern: str, score_pattern: str,
                       labels: tuple[str, ...] | None, n_boot: int = 0) -> dict:
    del mtimes  # part of the cache key only: a rewritten file is scored again
    return score_prediction_files(list(paths), truth_pattern, score_pattern, list(labels) if labels else None,
                                  n_boot=n_boot)


def parse_path_list(text: str | None) -> list[Path]:
    """Server-side CSV paths typed one per line (or comma separated); missing ones -> CsvError."""
    if not text or not text.strip():
        return []
    out = []
    for part in re.split(r"[\n,]", text):
        part = part.strip().strip('"').strip("'")
        if not part:
            continue
        p = Path(part).expanduser()
        if not p.exists():
            raise CsvError(f"predictions file not found: {part}")
        out.append(p)
    return out


def comparison_tables(scored: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-label table: label, then AUROC/AUPRC per file and positives; summary: one row per file)."""
    res = scored["result"]
    names = res["model_order"]
    rows = []
    for lab in res["common_labels"]:
        per = res["labels"][lab]
        row = {"label": lab}
        for n in names:
            row[f"AUROC · {n}"] = _num(per[n].get("auroc"))
        for n in names:
            row[f"AUPRC · {n}"] = _num(per[n].get("auprc"))
        sup = [per[n].get("support") for n in names]
        if len(set(sup)) == 1:
            row["positives"] = sup[0]
        else:  # files scored on different cases
            for n, v in zip(names, sup):
                row[f"positives · {n}"] = v
        rows.append(row)
    per_label = pd.DataFrame(rows)
    srows = []
    for n in names:
        s = res["summary"][n]
        r = {"file": n, "mean AUROC": _num(s.get("mean_auroc")), "weighted AUROC": _num(s.get("weighted_auroc")),
             "mean AUPRC": _num(s.get("mean_auprc")), "weighted AUPRC": _num(s.get("weighted_auprc")),
             "labels scored": s.get("n_labels_defined"), "cases": s.get("n_cases")}
        if "mean_ece" in s:
            r["mean ECE"] = _num(s.get("mean_ece"))
            r["mean Brier"] = _num(s.get("mean_brier"))
        ci = s.get("mean_auroc_ci")
        if ci:
            r["mean AUROC 95% CI"] = f"[{_fmt(ci.get('low'))}, {_fmt(ci.get('high'))}]"
        fr = res.get("friedman") or {}
        if fr.get("mean_ranks"):
            r["mean rank (1 = best)"] = _num(fr["mean_ranks"].get(n))
        srows.append(r)
    return per_label, pd.DataFrame(srows)


def friedman_text(fr: dict | None) -> str | None:
    """One line describing the Friedman test result (None when there is no test: one file)."""
    if not fr:
        return None
    if fr.get("statistic") is None or (isinstance(fr.get("statistic"), float) and math.isnan(fr["statistic"])):
        return f"Friedman test not computed: {fr.get('reason') or 'undefined'}."
    best = min(fr["mean_ranks"], key=fr["mean_ranks"].get) if fr.get("mean_ranks") else None
    verdict = "the files differ" if fr["p_value"] < 0.05 else "no significant difference"
    return (f"Friedman test on per-label AUROC over {fr['n_blocks']} labels (blocks), {fr['k']} files: "
            f"χ² = {fr['statistic']:.3f}, p = {fr['p_value']:.4g} → {verdict} at α = 0.05"
            + (f"; best mean rank: {best}." if best else "."))


def external_roc_figure(scored: dict, name: str):
    from hcview.viz.curves import roc_curves

    labs, yt, ys = scored["curves"][name]
    return roc_curves(yt, ys, labs, title=f"ROC curves · {name}")


def _num(v):
    return float("nan") if v is None else float(v)


def _fmt(v, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{nd}f}"


# ---------------------------------------------------------------------------------------------------
# Stored model evaluations (written by hcview.infer.evaluate.evaluate_model)
# ---------------------------------------------------------------------------------------------------
SPLITS = ("test", "val", "train", "all")
DATA_SPECS = ("sample:brain-mri", "sample:nih", "sample:nodules", "sample:phantoms")
LEVELS = ("disease", "category", "anatomy")
HEAD_KIND_TEXT = {"softmax": "single-label", "sigmoid": "multi-label", "regression": "regression"}


def model_options() -> list[dict]:
    """Registry rows (id, variant, name, trained, default data) from the cached catalogue."""
    from hcview.ui.common import cached_catalog

    return [{"id": r["id"], "variant": r["variant"], "name": r["name"], "trained": bool(r["trained"]),
             "default_data": r["default_data"]} for r in cached_catalog()]


def default_sample_spec(model_id: str, variant: str, default: str) -> str:
    """The variant's data spec, or for a real-data placeholder (``mri:PATH``) the bundled sample that fits."""
    if default and "PATH" not in default:
        return default
    from hcview.models import get_spec

    kind = get_spec(model_id).label_space(variant).kind
    return {"taxonomy3": "sample:phantoms", "multitask": "sample:nodules"}.get(kind, "sample:nih")


def default_eval_dir(model_id: str, variant: str, split: str) -> Path:
    """Where evaluate_model stores its outputs by default: ``var/eval/<id>-<variant>-<split>/``."""
    try:
        from hcview.infer.evaluate import default_out_dir
    except ImportError:  # evaluation not in this build: same layout, read-only use
        from hcview.paths import var_dir

        return var_dir() / "eval" / f"{model_id}-{variant}-{split}"
    return Path(default_out_dir(model_id, variant, split))


def fmt(v, nd: int = 3) -> str:
    return _fmt(v, nd)


def _ci_text(ci: dict | None) -> str | None:
    if not ci or ci.get("low") is None or not np.isfinite(ci.get("low", np.nan)):
        return None
    return f"95% CI {ci['low']:.3f}–{ci['high']:.3f}"


def summary_items(head_name: str, head: dict, cis: dict | None = None) -> list[tuple[str, str, str | None]]:
    """(label, value, CI/help text) triples for one head of a compute_report result."""
    cis = dict(cis or {})
    kind = head.get("kind")
    items: list[tuple[str, str, str | None]] = []
    if kind == "softmax":
        if head.get("accuracy_ci") and "accuracy" not in cis:
            cis["accuracy"] = head["accuracy_ci"]
        for key, label in (("accuracy", "Accuracy"), ("balanced_accuracy", "Balanced accuracy"),
                           ("f1_macro", "Macro F1"), ("f1_weighted", "Weighted F1"), ("g_mean", "G-mean")):
            items.append((label, _fmt(head.get(key)), _ci_text(cis.get(key))))
        cal = head.get("calibration") or {}
        items.append(("ECE", _fmt(cal.get("ece")), "expected calibration error (10 bins, top label)"))
        items.append(("Brier", _fmt(cal.get("brier")), "multi-class Brier score (0 = perfect, max 2)"))
    elif kind == "sigmoid":
        if head.get("mean_auroc_ci") and "mean_auroc" not in cis:
            cis["mean_auroc"] = head["mean_auroc_ci"]
        for key, label in (("mean_auroc", "Mean AUROC"), ("weighted_auroc", "Weighted AUROC"),
                           ("mean_auprc", "Mean AUPRC"), ("weighted_auprc", "Weighted AUPRC")):
            items.append((label, _fmt(head.get(key)), _ci_text(cis.get(key))))
        cal = head.get("calibration") or {}
        items.append(("Mean ECE", _fmt(cal.get("mean_ece")), "per-label ECE averaged over labels"))
        items.append(("Mean Brier", _fmt(cal.get("mean_brier")), "per-label Brier averaged over labels"))
        items.append(("Exact match", _fmt(head.get("exact_match")),
                      f"all labels right at p ≥ {head.get('threshold', 0.5)}"))
    elif kind == "regression":
        ov = head.get("overall") or {}
        items.append(("MSE", _fmt(ov.get("mse"), 4), f"over all targets, {ov.get('n', 0)} values (normalised units)"))
        items.append(("MAE", _fmt(ov.get("mae"), 4), "mean absolute error, normalised units"))
    return items


def render_metric_row(items: list[tuple[str, str, str | None]], per_row: int = 4) -> None:
    for start in range(0, len(items), per_row):
        cols = st.columns(per_row)
        for col, (label, value, help_) in zip(cols, items[start:start + per_row]):
            col.metric(label, value, help=help_)
            if help_ and help_.startswith("95% CI"):
                col.caption(help_)


def regression_tables(head: dict) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(per-target MSE/MAE, per size bin MSE/MAE or None)."""
    per = pd.DataFrame([{"target": t, "MSE": _num(v.get("mse")), "MAE": _num(v.get("mae")), "n": v.get("n")}
                        for t, v in (head.get("per_target") or {}).items()])
    bins = head.get("size_bins")
    if not bins:
        return per, None
    rows = []
    for b, v in bins.items():
        r = {"size bin (mm)": b, "cases": v.get("n_cases"), "MSE": _num((v.get("overall") or {}).get("mse")),
             "MAE": _num((v.get("overall") or {}).get("mae"))}
        for t, tv in (v.get("per_target") or {}).items():
            r[f"MAE {t}"] = _num(tv.get("mae"))
        rows.append(r)
    return per, pd.DataFrame(rows)


def confusion_for_level(head: dict, level: str) -> tuple[np.ndarray, list[str]]:
    """The stored CM of a softmax head; for the disease head of a taxonomy its collapses too."""
    if level != "disease" and level in (head.get("confusion_matrix_collapsed") or {}):
        c = head["confusion_matrix_collapsed"][level]
    else:
        c = head["confusion_matrix"]
    return np.asarray(c["matrix"], dtype=np.int64), list(c["labels"])


def per_class_frame(head: dict, label_space, head_name: str) -> pd.DataFrame:
    """Per-class table in taxonomy order (disease head) or head order, from the stored report."""
    from hcview.viz.tables import per_class_table

    order = None
    if head_name == "disease" and getattr(label_space, "kind", "") == "taxonomy3":
        order = label_space.disease_order()
    df = per_class_table(rows=head.get("per_class") or [], label_space=label_space if order else None, order=order)
    return df


def per_label_frame(head: dict) -> pd.DataFrame:
    """Sigmoid head: one row per label (AUROC, AUPRC, positives, prevalence, ECE, Brier)."""
    cal = (head.get("calibration") or {}).get("per_label") or {}
    rows = []
    for lab, r in (head.get("per_label") or {}).items():
        rows.append({"label": lab, "AUROC": _num(r.get("auroc")), "AUPRC": _num(r.get("auprc")),
                     "positives": r.get("support"), "n": r.get("n"), "prevalence": _num(r.get("prevalence")),
                     "ECE": _num((cal.get(lab) or {}).get("ece")), "Brier": _num((cal.get(lab) or {}).get("brier")),
                     "note": r.get("reason") or ""})
    return pd.DataFrame(rows)


def ranked_confusion_frame(cm: np.ndarray, labels: list[str], top: int = 20) -> pd.DataFrame:
    from hcview.metrics.confusion import ranked_confusions

    return ranked_confusions(cm, labels, top=top)


def bootstrap_cis(kind: str, y_true: np.ndarray, score: np.ndarray, labels: list[str], n_boot: int = 200,
                  seed: int = 0) -> dict:
    """95% percentile-bootstrap CIs (cases resampled) of the summary metrics of one head."""
    out = {}
    if kind == "softmax":
        keep = y_true >= 0
        t, p = y_true[keep].astype(int), score[keep].argmax(axis=1)
        if len(t):
            out.update(_bootstrap_softmax(t, p, len(labels), n_boot, seed))
    elif kind == "sigmoid":
        out.update(_bootstrap_multilabel(y_true, score, n_boot, seed))
    return out


def _cm_metrics(cm: np.ndarray) -> dict:
    """accuracy, balanced accuracy, macro/weighted F1 (over classes present), G-mean from a CM."""
    sup = cm.sum(axis=1).astype(float)
    pred = cm.sum(axis=0).astype(float)
    tp = np.diag(cm).astype(float)
    present = sup > 0
    n = sup.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        rec = np.where(present, tp / np.maximum(sup, 1), np.nan)
        prec = np.where(pred > 0, tp / np.maximum(pred, 1), 0.0)
        f1 = np.where(prec + np.nan_to_num(rec) > 0, 2 * prec * np.nan_to_num(rec) / (prec + np.nan_to_num(rec)), 0.0)
    r = rec[present]
    return {"accuracy": float(tp.sum() / n) if n else np.nan,
            "balanced_accuracy": float(r.mean()) if r.size else np.nan,
            "f1_macro": float(f1[present].mean()) if r.size else np.nan,
            "f1_weighted": float(np.average(f1[present], weights=sup[present])) if r.size else np.nan,
            "g_mean": (0.0 if np.any(r == 0) else float(np.exp(np.mean(np.log(r))))) if r.size else np.nan}


def _percentile_cis(est: dict, vals: dict, n_boot: int, alpha: float) -> dict:
    out = {}
    for k, v in vals.items():
        lo, hi = (np.percentile(v, [100 * alpha / 2, 100 * (1 - alpha / 2)]) if v else (np.nan, np.nan))
        out[k] = {"estimate": float(est[k]), "low": float(lo), "high": float(hi), "alpha": alpha,
                  "n_boot": int(n_boot), "n_valid": len(v), "n_failed": int(n_boot) - len(v)}
    return out


def _bootstrap_softmax(t: np.ndarray, p: np.ndarray, k: int, n_boot: int, seed: int, alpha: float = 0.05) -> dict:
    """Cases resampled jointly; every metric of a resample comes from one confusion matrix."""
    def cm_of(a, b):
        return np.bincount(a * k + b, minlength=k * k).reshape(k, k)

    est = _cm_metrics(cm_of(t, p))
    rng = np.random.default_rng(seed)
    vals = {m: [] for m in est}
    n = len(t)
    for _ in range(int(n_boot)):
        idx = rng.integers(0, n, n)
        for m, v in _cm_metrics(cm_of(t[idx], p[idx])).items():
            if np.isfinite(v):
                vals[m].append(v)
    return _percentile_cis(est, vals, n_boot, alpha)


def _fast_auc(t: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """(AUROC, average precision) of one label, equal to sklearn's (ties handled the same way)."""
    from scipy.stats import rankdata

    pos = int(t.sum())
    neg = t.size - pos
    if pos == 0 or neg == 0:
        return np.nan, np.nan
    r = rankdata(s)
    auroc = (r[t].sum() - pos * (pos + 1) / 2.0) / (pos * neg)
    order = np.argsort(-s, kind="mergesort")
    ss, tt = s[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), tt.size - 1]  # last index of each distinct score
    tps = np.cumsum(tt)[last]
    fps = (last + 1) - tps
    prec = tps / (tps + fps)
    rec = tps / pos
    ap = float(np.sum(np.diff(np.r_[0.0, rec]) * prec))
    return float(auroc), ap


def _ml_summary(y: np.ndarray, s: np.ndarray) -> dict:
    au, ap, sup = [], [], []
    for j in range(y.shape[1]):
        ok = np.isfinite(y[:, j]) & (y[:, j] >= 0) & np.isfinite(s[:, j])
        t = y[ok, j] > 0.5
        a, p = _fast_auc(t, s[ok, j])
        au.append(a), ap.append(p), sup.append(int(t.sum()))
    from hcview.metrics._util import safe_mean

    return {"mean_auroc": safe_mean(au), "weighted_auroc": safe_mean(au, sup), "mean_auprc": safe_mean(ap)}


def _bootstrap_multilabel(y_true, score, n_boot: int, seed: int, alpha: float = 0.05) -> dict:
    """One resampling loop for mean/weighted AUROC and mean AUPRC (rank-based AUCs, fast)."""
    y_true = np.asarray(y_true, dtype=float)
    score = np.asarray(score, dtype=float)
    keys = ("mean_auroc", "weighted_auroc", "mean_auprc")
    est = _ml_summary(y_true, score)
    rng = np.random.default_rng(seed)
    vals = {k: [] for k in keys}
    n = len(y_true)
    for _ in range(int(n_boot)):
        idx = rng.integers(0, n, n)
        r = _ml_summary(y_true[idx], score[idx])
        for k in keys:
            if np.isfinite(r[k]):
                vals[k].append(r[k])
    return _percentile_cis({k: est[k] for k in keys}, vals, n_boot, alpha)


# ---------------------------------------------------------------------------------------------------
# Predictions CSV -> arrays
# ---------------------------------------------------------------------------------------------------
def _first_col(columns, candidates) -> str | None:
    cols = set(columns)
    for c in candidates:
        if c in cols:
            return c
    return None


def col_name(s: str) -> str:
    """Column-name form of a head or label, as ``hcview.infer.evaluate`` writes it."""
    return re.sub(r"[^A-Za-z0-9]+", "_", str(s)).strip("_")


def head_arrays(preds: pd.DataFrame, head) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, scores) of one head from a stored ``predictions.csv``.

    Columns (see ``hcview.infer.evaluate``): softmax ``true_<head>`` (class name, empty = unknown) and
    ``score_<head>_<label>``; sigmoid / regression ``true_<head>_<label>`` and ``score_<head>_<label>``.
    softmax -> y_true (N,) class index (-1 unknown), scores (N, K); sigmoid -> (N, K) 0/1 (NaN unknown) and
    (N, K) probabilities; regression -> (N, T) truth and predictions. Missing columns -> ``InputError``.
    """
    h, labels, n = col_name(head.name), list(head.labels), len(preds)
    cols = set(preds.columns)

    def need(c: str) -> str:
        if c not in cols:
            raise InputError(f"stored predictions lack column {c!r} (head {head.name}); re-run the evaluation")
        return c

    def numeric(c: str) -> np.ndarray:
        return pd.to_numeric(preds[need(c)], errors="coerce").to_numpy(float)

    s = np.column_stack([numeric(f"score_{h}_{col_name(lab)}") for lab in labels]) if n else \
        np.zeros((0, len(labels)))
    if head.kind == "softmax":
        pos = {lab: i for i, lab in enumerate(labels)}
        raw = preds[need(f"true_{h}")]
        y = np.array([pos.get(str(v).strip(), -1) if isinstance(v, str) else -1 for v in raw], dtype=np.int64)
        return y, s
    y = np.column_stack([numeric(f"true_{h}_{col_name(lab)}") for lab in labels]) if n else \
        np.zeros((0, len(labels)))
    if head.kind == "sigmoid":
        y[y < 0] = np.nan
    return y, s


# ---------------------------------------------------------------------------------------------------
# Loading stored outputs
# ---------------------------------------------------------------------------------------------------
METRICS_NAMES = ("metrics.json",)
PREDICTIONS_NAMES = ("predictions.csv",)


def _find_file(d: Path, names: Sequence[str], pattern: str) -> Path | None:
    for n in names:
        if (d / n).is_file():
            return d / n
    hits = sorted(d.glob(pattern))
    return hits[0] if hits else None


def stored_files(out_dir: Path) -> tuple[Path | None, Path | None]:
    """(metrics JSON, predictions CSV) in an evaluation folder, or None for what is missing."""
    d = Path(out_dir)
    if not d.is_dir():
        return None, None
    return _find_file(d, METRICS_NAMES, "*metrics*.json"), _find_file(d, PREDICTIONS_NAMES, "*pred*.csv")


def stored_signature(out_dir: Path) -> tuple | None:
    """A cache key that changes when the stored outputs are rewritten (None: nothing stored)."""
    m, p = stored_files(out_dir)
    if m is None:
        return None
    return (str(m), m.stat().st_mtime_ns, str(p) if p else "", p.stat().st_mtime_ns if p else 0)


@st.cache_data(show_spinner=False, max_entries=8)
def load_stored(out_dir: str, signature: tuple) -> dict:
    """Read ``metrics.json`` and the predictions CSV of a stored evaluation (one-line errors)."""
    import json

    del signature  # cache key only
    m, p = stored_files(Path(out_dir))
    if m is None:
        raise InputError(f"no stored evaluation in {out_dir}")
    try:
        metrics = json.loads(m.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"stored metrics {m.name} cannot be read: {type(e).__name__}") from None
    if not isinstance(metrics, dict):
        raise InputError(f"stored metrics {m.name} is not a JSON object")
    preds = None
    if p is not None:
        try:
            header = pd.read_csv(p, nrows=0).columns
            as_text = {c: str for c in header if c in ("id", "path") or c.startswith("true_")}
            preds = pd.read_csv(p, dtype=as_text, keep_default_na=False, na_values={c: [""] for c in header
                                                                                    if c not in as_text})
        except Exception as e:  # pandas raises several types; the user sees one line
            raise InputError(f"stored predictions {p.name} cannot be read: {type(e).__name__}") from None
    return {"metrics": metrics, "predictions": preds, "metrics_path": str(m),
            "predictions_path": str(p) if p else None}


def report_of(metrics: dict) -> dict:
    """The compute_report part of a stored metrics JSON (it may be nested under 'report'/'metrics')."""
    if "heads" in metrics:
        return metrics
    for k in ("report", "metrics"):
        if isinstance(metrics.get(k), dict) and "heads" in metrics[k]:
            return metrics[k]
    raise InputError("stored metrics have no per-head results (not a compute_report output)")


def run_evaluation(model_id: str, variant: str, data_spec: str, split: str, out_dir: Path) -> dict:
    """Run the model over the split and store predictions + metrics (the slow path)."""
    try:
        from hcview.infer.evaluate import evaluate_model
    except ImportError:
        raise InputError("model evaluation is not available in this build (hcview.infer.evaluate missing)") from None
    res = evaluate_model(model_id, variant, data_spec, split, out_dir)
    load_stored.clear()
    return res


# ---------------------------------------------------------------------------------------------------
# Cases: ids, paths, thumbnails
# ---------------------------------------------------------------------------------------------------
def case_table(preds: pd.DataFrame, idx, synthetic: bool = False) -> pd.DataFrame:
    """id / path / synthetic of the cases at row positions ``idx`` (``synthetic``: the whole dataset is)."""
    idx = np.asarray(idx, dtype=int)
    sub = preds.iloc[idx]
    idc = _first_col(preds.columns, ["id", "case_id", "image_id", "image_index", "name"])
    pc = _first_col(preds.columns, ["path", "image_path", "file"])
    sc = _first_col(preds.columns, ["synthetic", "is_synthetic"])
    return pd.DataFrame({
        "row": idx,
        "id": sub[idc].astype(str).to_numpy() if idc else idx.astype(str),
        "path": sub[pc].fillna("").astype(str).to_numpy() if pc else [""] * len(idx),
        "synthetic": sub[sc].astype(str).str.lower().isin(["true", "1", "yes"]).to_numpy() if sc
        else np.full(len(idx), bool(synthetic)),
    })


@st.cache_data(show_spinner=False, max_entries=512)
def thumbnail_from_path(path: str, size: int = 160) -> np.ndarray | None:
    """Grey [0, 1] thumbnail of an image file, or None when it cannot be read."""
    if not path:
        return None
    try:
        from hcview.data.io import load_image

        a = load_image(path).array
    except Exception:
        return None
    from hcview.viz.failures import downsample

    return downsample(a, size)


@st.cache_resource(show_spinner=False, max_entries=4)
def _synthetic_dataset(data_spec: str, model_id: str, variant: str, split: str):
    from hcview.data.datasets import build_dataset
    from hcview.models import get_spec

    spec = get_spec(model_id)
    v = spec.variant(variant)
    return build_dataset(data_spec, spec.label_space(variant), split, v.input_size, spec.mean, spec.std,
                         model_id=model_id)


def thumbnail_of(case: dict, ctx: dict, size: int = 160) -> np.ndarray | None:
    """Thumbnail of one case: from its file, or regenerated from the dataset (synthetic phantoms)."""
    img = thumbnail_from_path(str(case.get("path") or ""), size)
    if img is not None:
        return img
    try:
        ds = _synthetic_dataset(ctx["data_spec"], ctx["model_id"], ctx["variant"], ctx["split"])
        i = ds.ids.index(str(case["id"])) if str(case["id"]) in ds.ids else int(case["row"])
        from hcview.viz.failures import downsample

        return downsample(ds.grey(i).numpy(), size)
    except Exception:
        return None


def render_thumbnails(cases: pd.DataFrame, captions: Sequence[str], ctx: dict, per_row: int = 5,
                      size: int = 160) -> None:
    """A grid of thumbnails with their captions (true / pred / prob; synthetic images marked)."""
    if not len(cases):
        st.info("No cases.")
        return
    rows = cases.to_dict("records")
    for start in range(0, len(rows), per_row):
        cols = st.columns(per_row)
        for col, case, cap in zip(cols, rows[start:start + per_row], captions[start:start + per_row]):
            img = thumbnail_of(case, ctx, size)
            if case.get("synthetic"):
                cap = f"{cap} · synthetic"
            if img is None:
                col.caption(f"(no image) {cap}")
            else:
                col.image(img, caption=cap, clamp=True, width=size)


# ---------------------------------------------------------------------------------------------------
# Failure modes
# ---------------------------------------------------------------------------------------------------
def failure_frames(kind: str, y: np.ndarray, s: np.ndarray, labels: list[str], k: int = 10
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(most confident errors, most uncertain correct): columns row, true, pred, prob, ...

    softmax: per case (top-class probability). sigmoid: per (case, label) decision at 0.5, ranked by
    the distance of the probability from 0.5 (far = confident, near = uncertain).
    """
    from hcview.metrics.failures import most_confident_errors, most_uncertain_correct

    if kind == "softmax":
        keep = np.flatnonzero(y >= 0)
        err = most_confident_errors(y[keep], s[keep], labels, k=k)
        unc = most_uncertain_correct(y[keep], s[keep], labels, k=k)
        for df in (err, unc):
            df["row"] = keep[df["index"].to_numpy(int)] if len(df) else np.array([], int)
            df["prob"] = df["confidence"]
        return err, unc
    rows = []
    for j, lab in enumerate(labels):
        ok = np.isfinite(y[:, j]) & np.isfinite(s[:, j])
        for i in np.flatnonzero(ok):
            t = y[i, j] > 0.5
            p = s[i, j]
            rows.append({"row": int(i), "label": lab, "true": "yes" if t else "no",
                         "pred": "yes" if p >= 0.5 else "no", "prob": float(p),
                         "wrong": bool((p >= 0.5) != t), "distance": abs(float(p) - 0.5)})
    df = pd.DataFrame(rows, columns=["row", "label", "true", "pred", "prob", "wrong", "distance"])
    err = df[df["wrong"]].sort_values("distance", ascending=False, kind="mergesort").head(k)
    unc = df[~df["wrong"]].sort_values("distance", ascending=True, kind="mergesort").head(k)
    return err.reset_index(drop=True), unc.reset_index(drop=True)


def level_names(y_idx: np.ndarray, labels: list[str], label_space, level: str) -> np.ndarray:
    """Class names of disease indices at a taxonomy level ('disease', 'category', 'anatomy')."""
    from hcview.metrics.confusion import group_of

    names = np.array([labels[i] if 0 <= i < len(labels) else "" for i in y_idx], dtype=object)
    if level == "disease" or label_space is None or getattr(label_space, "kind", "") != "taxonomy3":
        return names
    cache = {}
    return np.array([cache.setdefault(n, group_of(label_space, n, level)) if n else "" for n in names], dtype=object)


def cell_rows(y: np.ndarray, s: np.ndarray, labels: list[str], true_name: str, pred_name: str,
              label_space=None, level: str = "disease") -> np.ndarray:
    """Row positions of the cases behind confusion-matrix cell (true, pred) at ``level``."""
    keep = y >= 0
    pred = s.argmax(axis=1) if len(s) else np.zeros(0, int)
    tn = level_names(np.where(keep, y, -1), labels, label_space, level)
    pn = level_names(pred, labels, label_space, level)
    return np.flatnonzero(keep & (tn == true_name) & (pn == pred_name))


def add_cell_picker(fig, cm: np.ndarray, labels: Sequence[str]):
    """Overlay one invisible square marker per CM cell so a click selects (true, pred).

    Streamlit reports plotly selections for scatter points, not for heatmap cells; the markers
    carry the same hover text as the heatmap.
    """
    import plotly.graph_objects as go

    from hcview.metrics.confusion import normalize_rows

    cm = np.asarray(cm)
    n = len(labels)
    pct = 100.0 * normalize_rows(cm)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    fig.add_trace(go.Scatter(
        x=[labels[j] for j in jj], y=[labels[i] for i in ii], mode="markers", showlegend=False, name="cells",
        marker={"symbol": "square", "size": 18 if n <= 20 else (12 if n <= 45 else 7), "opacity": 0.0},
        customdata=np.stack([cm[ii, jj], pct[ii, jj]], axis=1),
        hovertemplate="true: %{y}<br>pred: %{x}<br>count: %{customdata[0]:d}<br>row: %{customdata[1]:.1f}%"
                      "<extra>click to list the cases</extra>"))
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


LABEL_CELLS = ("false positives", "false negatives", "true positives", "true negatives")


def label_cell_frame(y: np.ndarray, s: np.ndarray, labels: list[str], label: str, cell: str,
                     threshold: float = 0.5) -> pd.DataFrame:
    """The cases behind one cell of a label's 2x2 confusion matrix (multi-label heads), most telling first:
    errors by how confident they were, correct cases by how sure. Columns: row, label, true, pred, prob."""
    j = labels.index(label)
    ok = np.isfinite(y[:, j]) & np.isfinite(s[:, j])
    t, p = y[:, j] > 0.5, s[:, j] >= threshold
    want_t, want_p = {"false positives": (False, True), "false negatives": (True, False),
                      "true positives": (True, True), "true negatives": (False, False)}[cell]
    rows = np.flatnonzero(ok & (t == want_t) & (p == want_p))
    order = np.argsort(-s[rows, j] if want_p else s[rows, j], kind="stable")
    rows = rows[order]
    return pd.DataFrame({"row": rows.astype(int), "label": label, "true": np.where(t[rows], "yes", "no"),
                         "pred": np.where(p[rows], "yes", "no"), "prob": s[rows, j].astype(float)})


def label_cell_counts(y: np.ndarray, s: np.ndarray, labels: list[str], label: str, threshold: float = 0.5) -> dict:
    return {c: len(label_cell_frame(y, s, labels, label, c, threshold)) for c in LABEL_CELLS}


def selected_cell(event) -> tuple[str, str] | None:
    """(true, pred) of the first point in a plotly selection event on a CM heatmap."""
    try:
        pts = event["selection"]["points"] if isinstance(event, dict) else event.selection.points
    except (AttributeError, KeyError, TypeError):
        return None
    for p in pts or []:
        x, y = p.get("x"), p.get("y")
        if x is not None and y is not None:
            return str(y), str(x)
    return None


# ---------------------------------------------------------------------------------------------------
# Figures of one head (plotly, from hcview.viz)
# ---------------------------------------------------------------------------------------------------
def curves_inputs(kind: str, y: np.ndarray, s: np.ndarray, labels: list[str], chosen: Sequence[str] | None = None):
    """(y_true (N, L), scores (N, L), labels) for ROC/PR: one-vs-rest for a softmax head."""
    if kind == "softmax":
        keep = y >= 0
        onehot = np.zeros((int(keep.sum()), len(labels)))
        onehot[np.arange(onehot.shape[0]), y[keep]] = 1.0
        yt, ys = onehot, s[keep]
    else:
        yt, ys = y, s
    if chosen:
        idx = [labels.index(c) for c in chosen if c in labels]
        return yt[:, idx], ys[:, idx], [labels[i] for i in idx]
    return yt, ys, list(labels)


def reliability_figure(kind: str, head: dict, y=None, s=None, labels=None, label: str | None = None):
    from hcview.viz.calibration import reliability_diagram

    if kind == "softmax":
        rel = (head.get("calibration") or {}).get("reliability")
        if rel:
            rel = dict(rel, ece=head["calibration"].get("ece"))
            return reliability_diagram(reliability=rel, title="Reliability (top label)")
        return reliability_diagram(y[y >= 0], s[y >= 0], title="Reliability (top label)")
    j = labels.index(label)
    return reliability_diagram(y[:, j], s[:, j], title=f"Reliability · {label}")


def support_scatter(kind: str, head: dict, label_space=None, head_name: str = ""):
    """Support vs accuracy (softmax) or positives vs AUROC (sigmoid), Pearson r in the title."""
    from hcview.viz.scatter import support_accuracy_scatter

    if kind == "softmax":
        df = per_class_frame(head, label_space, head_name)
        groups = df["anatomy"].tolist() if "anatomy" in df and df["anatomy"].nunique() > 1 else None
        return support_accuracy_scatter(df["support"], df["accuracy"], df["class"].tolist(), groups=groups,
                                        title="Support vs accuracy")
    df = per_label_frame(head)
    fig = support_accuracy_scatter(df["positives"], df["AUROC"], df["label"].tolist(), title="Positives vs AUROC")
    fig.update_yaxes(title="AUROC")
    fig.update_xaxes(title="positive cases")
    return fig


# ---------------------------------------------------------------------------------------------------
# Cached per-head arrays and bootstrap CIs of a stored evaluation
# ---------------------------------------------------------------------------------------------------
def _head(model_id: str, variant: str, head_name: str):
    from hcview.models import get_spec

    return get_spec(model_id).label_space(variant).head(head_name)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_head_arrays(out_dir: str, signature: tuple, model_id: str, variant: str, head_name: str):
    stored = load_stored(out_dir, signature)
    if stored["predictions"] is None:
        raise InputError("the stored evaluation has no predictions file")
    return head_arrays(stored["predictions"], _head(model_id, variant, head_name))


@st.cache_data(show_spinner=False, max_entries=32)
def cached_bootstrap(out_dir: str, signature: tuple, model_id: str, variant: str, head_name: str,
                     n_boot: int = 200) -> dict:
    head = _head(model_id, variant, head_name)
    y, s = cached_head_arrays(out_dir, signature, model_id, variant, head_name)
    return bootstrap_cis(head.kind, y, s, list(head.labels), n_boot=n_boot)


# ---------------------------------------------------------------------------------------------------
# Rendering (composed by pages/4_Evaluation.py)
# ---------------------------------------------------------------------------------------------------
def stored_data_spec(metrics: dict) -> str | None:
    for k in ("data_spec", "data", "dataset"):
        v = metrics.get(k)
        if isinstance(v, str):
            return v
        if isinstance(v, dict):
            for kk in ("spec", "name", "data_spec"):
                if isinstance(v.get(kk), str):
                    return v[kk]
    return None


def matches_request(metrics: dict, data_spec: str) -> bool:
    """A stored evaluation is reused only for the data spec it was made on (when it says which)."""
    got = stored_data_spec(metrics)
    return got is None or got == data_spec


def render_external(scored: dict) -> None:
    """Summary, per-label AUROC/AUPRC side by side, Friedman result and ROC curves of scored CSVs."""
    per_label, summary = comparison_tables(scored)
    names = scored["names"]
    res = scored["result"]
    st.subheader("Summary")
    cols = st.columns(min(4, len(names)))
    for i, n in enumerate(names):
        s = res["summary"][n]
        ci = _ci_text(s.get("mean_auroc_ci"))
        cols[i % len(cols)].metric(f"Mean AUROC · {n}", _fmt(s.get("mean_auroc")),
                                   help=f"{s.get('n_labels_defined')} labels with an AUROC, {s.get('n_cases')} cases")
        if ci:
            cols[i % len(cols)].caption(ci)
    st.dataframe(summary, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in summary.columns
                                if summary[c].dtype.kind == "f"})
    st.caption("One row per file: macro / support-weighted means over labels where AUROC is defined.")
    fr = res.get("friedman")
    if fr is not None:
        text = friedman_text(fr)
        (st.success if fr.get("p_value") is not None and fr.get("p_value", 1) < 0.05 else st.info)(text)
    st.subheader("Per label")
    num_cols = [c for c in per_label.columns if c.startswith(("AUROC", "AUPRC"))]
    st.dataframe(per_label, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in num_cols})
    st.caption("AUROC and AUPRC per label and file (labels common to all files); click a header to sort.")
    st.subheader("ROC curves")
    chosen = st.selectbox("File", names, key="ext_roc_file") if len(names) > 1 else names[0]
    st.plotly_chart(external_roc_figure(scored, chosen), width="stretch", key="ext_roc")
    st.caption("One ROC curve per label with a defined AUROC (both classes present); dashed = chance.")


def _head_order(report: dict, label_space) -> list[str]:
    names = [h.name for h in label_space.heads if h.name in report["heads"]]
    return names + [h for h in report["heads"] if h not in names]


def render_evaluation(stored: dict, out_dir: str, sig: tuple, model_id: str, variant: str, data_spec: str,
                      split: str, label_space) -> None:
    report = report_of(stored["metrics"])
    heads = _head_order(report, label_space)
    if not heads:
        st.info("The stored evaluation has no heads to show.")
        return
    ctx = {"model_id": model_id, "variant": variant, "data_spec": data_spec, "split": split,
           "_preds": stored["predictions"], "synthetic": bool(stored["metrics"].get("synthetic"))}
    top = st.columns(4)
    top[0].metric("Cases", f"{report.get('n_cases', '–')}")
    top[1].metric("Label space", str(report.get("label_space", label_space.name)))
    cons = report.get("consistency")
    if cons:
        top[2].metric("Hierarchy consistency", _fmt(cons.get("rate")),
                      help="fraction of cases whose predictions agree with the taxonomy / parent-child edges")
    meta = stored["metrics"]
    top[3].metric("Checkpoint", "untrained" if meta.get("untrained") else ("registered" if meta.get("checkpoint")
                                                                              else "–"),
                  help=meta.get("checkpoint") or None)
    bits = [f"{meta.get('model', model_id)}/{meta.get('variant', variant)} on {meta.get('data', data_spec)} "
            f"({meta.get('split', split)} split)"]
    if meta.get("evaluated_at"):
        bits.append(f"evaluated {meta['evaluated_at']}")
    if meta.get("seconds") is not None:
        bits.append(f"in {meta['seconds']} s")
    if meta.get("synthetic"):
        bits.append("synthetic images")
    st.caption(" · ".join(bits))
    if meta.get("untrained"):
        st.warning("This evaluation scored an UNTRAINED random model: the numbers below are chance level.",
                   icon="⚠️")
    default = "disease" if "disease" in heads else heads[0]
    head_name = st.radio("Head", heads, index=heads.index(default), horizontal=True, key="ev_head",
                         format_func=lambda h: f"{h} ({HEAD_KIND_TEXT.get(report['heads'][h].get('kind'), '')})")
    head = report["heads"][head_name]
    kind = head.get("kind")
    try:
        hobj = label_space.head(head_name)
        labels = list(hobj.labels)
    except Exception:
        hobj, labels = None, []
    arrays = None
    if stored["predictions"] is not None and hobj is not None:
        try:
            arrays = cached_head_arrays(out_dir, sig, model_id, variant, head_name)
        except Exception as e:
            show_error_line(e)

    # ---- summary
    st.subheader(f"Summary · {head_name}")
    cis = None
    if arrays is not None and kind in ("softmax", "sigmoid"):
        if st.toggle("Bootstrap 95% CIs (200 resamples of the stored predictions)", key="ev_boot",
                     value=True):
            with st.spinner("Bootstrapping…"):
                cis = cached_bootstrap(out_dir, sig, model_id, variant, head_name, 200)
    render_metric_row(summary_items(head_name, head, cis))
    if kind == "regression":
        per, bins = regression_tables(head)
        st.dataframe(per, hide_index=True, width="stretch")
        st.caption("MSE / MAE per regression target (normalised units), cases without a target masked.")
        if bins is not None:
            st.dataframe(bins, hide_index=True, width="stretch")
            st.caption("The same errors per true nodule-size bin (mm).")
        return
    if kind == "softmax":
        render_softmax(head, head_name, label_space, labels, arrays, ctx)
    elif kind == "sigmoid":
        render_sigmoid(head, labels, arrays, ctx)


def show_error_line(e: Exception) -> None:
    from hcview.ui.common import show_error

    show_error(e)


def render_softmax(head: dict, head_name: str, label_space, labels: list[str], arrays, ctx: dict) -> None:
    st.subheader("Confusion matrix")
    levels = [lv for lv in LEVELS if lv == "disease" or lv in (head.get("confusion_matrix_collapsed") or {})]
    c1, c2 = st.columns([3, 1])
    level = c1.radio("Level", levels, horizontal=True, key="ev_level") if len(levels) > 1 else "disease"
    norm = c2.toggle("Row-normalise", key="ev_norm", value=False)
    cm, cm_labels = confusion_for_level(head, level)
    from hcview.viz.confusion import confusion_heatmap

    taxo = label_space if (level == "disease" and head_name == "disease") else None
    fig = confusion_heatmap(cm, cm_labels, taxo, normalize=norm,
                            title=f"{head_name if level == 'disease' else level} · rows = true, columns = predicted")
    fig = add_cell_picker(fig, cm, cm_labels)
    event = st.plotly_chart(fig, width="content", key=f"ev_cm_{head_name}_{level}", on_select="rerun",
                            selection_mode="points")
    st.caption("Rows are true classes in taxonomy order, columns predictions; solid lines separate anatomies, "
               "dotted ones categories. Click a cell to list its cases below.")

    st.subheader("Per-class metrics")
    df = per_class_frame(head, label_space, head_name)
    st.dataframe(df, hide_index=True, width="stretch", key="ev_per_class",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f")
                                for c in ("precision", "recall", "f1", "accuracy") if c in df})
    st.caption("One row per class in taxonomy order; click a column header to sort (e.g. by recall to find "
               "the weakest classes).")

    if arrays is not None:
        y, s = arrays
        st.subheader("ROC and precision-recall (one-vs-rest)")
        chosen = _choose_labels(labels, "ev_curve_labels")
        yt, ys, labs = curves_inputs("softmax", y, s, labels, chosen)
        from hcview.viz.curves import pr_curves, roc_curves

        a, b = st.columns(2)
        a.plotly_chart(roc_curves(yt, ys, labs, title="ROC (one class vs the rest)"), width="stretch", key="ev_roc")
        b.plotly_chart(pr_curves(yt, ys, labs, title="Precision-recall (one vs rest)"), width="stretch", key="ev_pr")
        st.caption("Each class scored against all others with its softmax probability; AUC / AP in the legend.")
    a, b = st.columns(2)
    a.plotly_chart(reliability_figure("softmax", head, *(arrays or (None, None))), width="stretch", key="ev_rel")
    a.caption("Observed accuracy per confidence bin against the diagonal; the bars underneath count cases.")
    b.plotly_chart(support_scatter("softmax", head, label_space, head_name), width="stretch", key="ev_sup")
    b.caption("Does a class do better because it has more training-like cases? One point per class.")

    render_failures_softmax(head, head_name, label_space, labels, arrays, ctx, cm, cm_labels, level, event)


def _choose_labels(labels: list[str], key: str, limit: int = 10, what: str = "Classes") -> list[str]:
    if len(labels) <= limit:
        return list(labels)
    return st.multiselect(f"{what} to draw", labels, default=labels[:limit], key=key)


def render_failures_softmax(head, head_name, label_space, labels, arrays, ctx, cm, cm_labels, level, event) -> None:
    st.subheader("Failure modes")
    conf = ranked_confusion_frame(cm, cm_labels, top=20)
    a, b = st.columns([2, 3])
    with a:
        st.markdown("**Most frequent confusions**")
        if len(conf):
            st.dataframe(conf[["text", "count", "row_pct"]].rename(columns={"text": "true -> predicted",
                                                                             "row_pct": "% of true class"}),
                         hide_index=True, width="stretch", key="ev_confusions",
                         column_config={"% of true class": st.column_config.NumberColumn(format="%.1f")})
        else:
            st.success("No off-diagonal cells: every case is on the diagonal.")
        st.caption(f"Off-diagonal cells at the {level} level, ranked by count.")
    if arrays is None:
        b.info("The stored evaluation has no per-case predictions, so cases cannot be listed.")
        return
    y, s = arrays
    with b:
        k = st.slider("Cases per list", 5, 30, 10, 5, key="ev_k")
    err, unc = failure_frames("softmax", y, s, labels, k=k)
    preds = ctx.get("_preds")
    with b:
        st.markdown("**Most confident errors**")
        _render_case_list(err, preds, ctx)
        st.caption("Wrong predictions with the highest top-class probability: label noise or systematic mistakes.")
    st.markdown("**Most uncertain correct cases**")
    _render_case_list(unc, preds, ctx)
    st.caption("Right predictions with the highest entropy: correct, but only just.")

    st.markdown("**Cases behind a confusion-matrix cell**")
    picked = selected_cell(event)
    c1, c2 = st.columns(2)
    default_true, default_pred = (conf["true"].iloc[0], conf["pred"].iloc[0]) if len(conf) else (cm_labels[0],) * 2
    if picked and picked[0] in cm_labels and picked[1] in cm_labels:
        default_true, default_pred = picked
    t = c1.selectbox("True", cm_labels, index=cm_labels.index(default_true), key=f"ev_cell_true_{level}_{picked}")
    p = c2.selectbox("Predicted", cm_labels, index=cm_labels.index(default_pred), key=f"ev_cell_pred_{level}_{picked}")
    rows = cell_rows(y, s, labels, t, p, label_space if head_name == "disease" else None, level)
    st.caption(f"{len(rows)} case(s) with true {t} predicted as {p}"
               + (f"; showing the first {min(len(rows), 30)}, most confident first" if len(rows) else "."))
    if len(rows):
        order = rows[np.argsort(-s[rows].max(axis=1), kind="stable")][:30]
        frame = pd.DataFrame({"row": order, "true": [labels[i] for i in y[order]],
                              "pred": [labels[i] for i in s[order].argmax(axis=1)], "prob": s[order].max(axis=1)})
        _render_case_list(frame, preds, ctx)


def _render_case_list(frame: pd.DataFrame, preds: pd.DataFrame | None, ctx: dict) -> None:
    from hcview.viz.failures import case_caption

    if frame is None or not len(frame):
        st.info("No cases.")
        return
    if preds is None:
        st.dataframe(frame, hide_index=True)
        return
    cases = case_table(preds, frame["row"].to_numpy(int), bool(ctx.get("synthetic")))
    caps = [case_caption(str(t), str(p), float(pr)) for t, p, pr in zip(frame["true"], frame["pred"], frame["prob"])]
    if "label" in frame:  # multi-label decisions: say which label
        caps = [f"{lab}: {c}" for lab, c in zip(frame["label"], caps)]
    render_thumbnails(cases, caps, ctx)
    with st.expander("as a table"):
        st.dataframe(pd.concat([cases[["id", "synthetic"]].reset_index(drop=True),
                                frame.drop(columns=[c for c in ("index",) if c in frame]).reset_index(drop=True)],
                               axis=1), hide_index=True, width="stretch")


def render_sigmoid(head: dict, labels: list[str], arrays, ctx: dict) -> None:
    st.subheader("Per-label metrics")
    df = per_label_frame(head)
    st.dataframe(df, hide_index=True, width="stretch", key="ev_per_label",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f")
                                for c in ("AUROC", "AUPRC", "prevalence", "ECE", "Brier")})
    st.caption("One row per label in label-space order; click a column header to sort (e.g. by AUROC).")
    if arrays is None:
        st.plotly_chart(support_scatter("sigmoid", head), width="stretch", key="ev_sup")
        return
    y, s = arrays
    st.subheader("ROC and precision-recall")
    chosen = _choose_labels(labels, "ev_curve_labels", what="Labels")
    yt, ys, labs = curves_inputs("sigmoid", y, s, labels, chosen)
    from hcview.viz.curves import pr_curves, roc_curves

    a, b = st.columns(2)
    a.plotly_chart(roc_curves(yt, ys, labs), width="stretch", key="ev_roc")
    b.plotly_chart(pr_curves(yt, ys, labs), width="stretch", key="ev_pr")
    st.caption("One curve per label with both classes present; AUC / AP in the legend.")
    a, b = st.columns(2)
    lab = a.selectbox("Reliability of label", labels, key="ev_rel_label")
    a.plotly_chart(reliability_figure("sigmoid", head, y, s, labels, lab), width="stretch", key="ev_rel")
    a.caption("Observed positive rate per predicted-probability bin against the diagonal.")
    b.plotly_chart(support_scatter("sigmoid", head), width="stretch", key="ev_sup")
    b.caption("Do labels with more positives get a better AUROC? One point per label.")
    st.subheader("Failure modes")
    k = st.slider("Cases per list", 5, 30, 10, 5, key="ev_k")
    err, unc = failure_frames("sigmoid", y, s, labels, k=k)
    preds = ctx.get("_preds")
    st.markdown("**Most confident errors** (label decisions at p = 0.5)")
    _render_case_list(err, preds, ctx)
    st.caption("Label decisions furthest from 0.5 on the wrong side.")
    st.markdown("**Most uncertain correct decisions**")
    _render_case_list(unc, preds, ctx)
    st.caption("Right decisions whose probability is closest to 0.5.")

    st.markdown("**Cases behind a label's confusion cell** (decision at p = 0.5)")
    c1, c2 = st.columns(2)
    lab = c1.selectbox("Label", labels, key="ev_cell_label")
    counts = label_cell_counts(y, s, labels, lab)
    cell = c2.radio("Cell", LABEL_CELLS, horizontal=True, key="ev_cell_kind",
                    format_func=lambda c: f"{c} ({counts[c]})")
    _render_case_list(label_cell_frame(y, s, labels, lab, cell).head(k), preds, ctx)
    st.caption("Errors are listed most confident first; correct cases most certain first.")
