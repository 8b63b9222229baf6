"""``compute_report``: every metric for one model's predictions, as a JSON-serialisable dict.

Called by the model evaluator (``hcview.infer.evaluate``) and usable on its own::

    compute_report("taxonomy3", {"anatomy": ya, "category": yc, "disease": yd},
                   {"anatomy": pa, "category": pc, "disease": pd_}, label_space)

``y_true[head]``: softmax -> (N,) class indices (-1 = missing); sigmoid -> (N, L) 0/1 with NaN or
-1 = unknown; regression -> (N, T) targets with NaN = missing (e.g. non-nodule size).
``y_score[head]``: softmax -> (N, K) probabilities; sigmoid -> (N, L) probabilities;
regression -> (N, T) predictions. For single-head label spaces plain arrays are accepted too.
"""
from __future__ import annotations

import numpy as np

from hcview.metrics._util import nan_to_none
from hcview.metrics.calibration import compute_brier, compute_multilabel_calibration, compute_reliability
from hcview.metrics.classification import compute_classification, compute_classification_summary
from hcview.metrics.confusion import collapse_confusion, compute_confusion_matrix, ranked_confusions
from hcview.metrics.hierarchy import compute_edge_consistency, compute_taxonomy_consistency
from hcview.metrics.multilabel import compute_multilabel_auc
from hcview.metrics.regression import compute_regression
from hcview.metrics.stats import bootstrap_ci, bootstrap_cis, support_accuracy_correlation

SOFTMAX_CI_KEYS = ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "g_mean")
SIGMOID_CI_KEYS = ("mean_auroc", "weighted_auroc", "mean_auprc")


def _softmax_head(head, y, prob, label_space, n_bins, top_k, n_boot, seed) -> dict:
    y = np.asarray(y)
    prob = np.asarray(prob, dtype=float)
    if prob.ndim != 2 or prob.shape[1] != head.size:
        raise ValueError(f"head {head.name}: expected scores of shape (N, {head.size}), got {prob.shape}")
    labels = list(head.labels)
    pred = prob.argmax(axis=1)
    keep = y >= 0
    res = compute_classification(y[keep], pred[keep], labels)
    order = labels
    if label_space.kind == "taxonomy3" and head.name == "disease":
        order = label_space.disease_order()
    cm, order = compute_confusion_matrix(y[keep], pred[keep], labels, order=order)
    res["confusion_matrix"] = {"labels": order, "matrix": cm}
    if label_space.kind == "taxonomy3" and head.name == "disease":
        res["confusion_matrix_collapsed"] = {}
        for level in ("category", "anatomy"):
            c, g = collapse_confusion(cm, order, label_space, level)
            res["confusion_matrix_collapsed"][level] = {"labels": g, "matrix": c}
    res["top_confusions"] = ranked_confusions(cm, order, top=top_k).to_dict(orient="records")
    rel = compute_reliability(y[keep], prob[keep], n_bins)
    res["calibration"] = {"ece": rel["ece"], "mce": rel["mce"], "brier": compute_brier(y[keep], prob[keep]),
                          "reliability": {k: rel[k] for k in ("edges", "confidence", "accuracy", "count")}}
    sup = np.array([r["support"] for r in res["per_class"]], dtype=float)
    acc = np.array([np.nan if r["accuracy"] is None else r["accuracy"] for r in res["per_class"]], dtype=float)
    res["support_accuracy_pearson"] = support_accuracy_correlation(sup[sup > 0], acc[sup > 0])
    if n_boot:
        res["accuracy_ci"] = bootstrap_ci(lambda a, b: float(np.mean(a == b)), y[keep], pred[keep],
                                          n_boot=n_boot, seed=seed)
    return res


def _sigmoid_head(head, y, prob, label_space, n_bins, threshold, n_boot, seed) -> dict:
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    labels = list(head.labels)
    if prob.shape != (y.shape[0], head.size) or y.shape != prob.shape:
        raise ValueError(f"head {head.name}: expected (N, {head.size}) targets and scores, "
                         f"got {y.shape} and {prob.shape}")
    res = compute_multilabel_auc(y, prob, labels)
    res["calibration"] = compute_multilabel_calibration(y, prob, labels, n_bins)
    yt = np.where(np.isfinite(y) & (y >= 0), y, np.nan)
    pred = (prob >= threshold).astype(float)
    known = np.isfinite(yt)
    res["threshold"] = threshold
    res["exact_match"] = float(np.mean(np.all((pred == yt) | ~known, axis=1))) if len(y) else float("nan")
    res["hamming_accuracy"] = float(np.mean(pred[known] == yt[known])) if known.any() else float("nan")
    if n_boot:
        from hcview.metrics.multilabel import compute_mean_auroc

        res["mean_auroc_ci"] = bootstrap_ci(compute_mean_auroc, y, prob, n_boot=n_boot, seed=seed)
    return res


def _regression_head(head, y, pred, label_space, size_mm) -> dict:
    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    targets = list(head.labels)
    if size_mm is None and "size" in targets:
        scale = (label_space.extra or {}).get("regression_scale", {}).get("size")
        if scale:
            size_mm = y[:, targets.index("size")] * float(scale)
    return compute_regression(y, pred, targets, size_mm=size_mm)


def compute_head_cis(kind: str, y_true, y_score, labels, n_boot: int = 200, seed: int = 0) -> dict:
    """95% percentile-bootstrap CIs (cases resampled) of one head's summary metrics, with the same
    functions as :func:`compute_report` (so each estimate is the report's number).

    softmax: accuracy, balanced accuracy, macro / weighted F1, G-mean (cases with a known class);
    sigmoid: mean / weighted AUROC and mean AUPRC. Other heads: ``{}``.
    """
    labels = list(labels)
    if kind == "softmax":
        y = np.asarray(y_true)
        keep = y >= 0
        if not keep.any():
            return {}
        pred = np.asarray(y_score, dtype=float)[keep].argmax(axis=1)

        def softmax_stat(t, p):
            r = compute_classification_summary(t, p, labels)
            return {k: r[k] for k in SOFTMAX_CI_KEYS}
        return bootstrap_cis(softmax_stat, y[keep].astype(int), pred, n_boot=n_boot, seed=seed)
    if kind == "sigmoid":
        def sigmoid_stat(t, s):
            r = compute_multilabel_auc(t, s, labels)
            return {k: r[k] for k in SIGMOID_CI_KEYS}
        return bootstrap_cis(sigmoid_stat, np.asarray(y_true, dtype=float), np.asarray(y_score, dtype=float),
                             n_boot=n_boot, seed=seed)
    return {}


def compute_report(task_kind, y_true, y_score, label_space, *, n_bins: int = 10, threshold: float = 0.5,
                   top_k: int = 20, size_mm=None, n_boot: int = 0, seed: int = 0) -> dict:
    """Per-head metrics for a label space's heads, hierarchy consistency, summary; JSON-safe.

    ``task_kind`` is the label-space kind (``taxonomy3``, ``multilabel``, ``multilabel_tree``,
    ``multitask``); ``None`` takes ``label_space.kind``. Heads missing from ``y_true`` are skipped.
    """
    kind = task_kind or label_space.kind
    if not isinstance(y_true, dict):
        y_true = {label_space.heads[0].name: y_true}
    if not isinstance(y_score, dict):
        y_score = {label_space.heads[0].name: y_score}
    heads: dict = {}
    n_cases = 0
    for head in label_space.heads:
        if head.name not in y_true or head.name not in y_score:
            continue
        yt, ys = y_true[head.name], y_score[head.name]
        n_cases = max(n_cases, len(yt))
        if head.kind == "softmax":
            heads[head.name] = _softmax_head(head, yt, ys, label_space, n_bins, top_k, n_boot, seed)
        elif head.kind == "sigmoid":
            heads[head.name] = _sigmoid_head(head, yt, ys, label_space, n_bins, threshold, n_boot, seed)
        elif head.kind == "regression":
            heads[head.name] = _regression_head(head, yt, ys, label_space, size_mm)
        heads[head.name]["kind"] = head.kind
    out: dict = {"task_kind": kind, "label_space": label_space.name, "n_cases": n_cases, "heads": heads}

    if kind == "taxonomy3" and all(h in y_score for h in ("anatomy", "category", "disease")):
        preds = {h: np.asarray(y_score[h]).argmax(axis=1) for h in ("anatomy", "category", "disease")}
        out["consistency"] = compute_taxonomy_consistency(preds["anatomy"], preds["category"],
                                                          preds["disease"], label_space)
    elif kind == "multilabel_tree" and label_space.edges:
        head = label_space.heads[0]
        if head.name in y_score:
            out["consistency"] = compute_edge_consistency(y_score[head.name], label_space.edges,
                                                          list(head.labels), threshold)
    summary: dict = {"n_cases": n_cases}
    for name, h in heads.items():
        if h["kind"] == "softmax":
            for m in ("accuracy", "balanced_accuracy", "f1_macro", "g_mean"):
                summary[f"{name}_{m}"] = h[m]
            summary[f"{name}_ece"] = h["calibration"]["ece"]
        elif h["kind"] == "sigmoid":
            for m in ("mean_auroc", "weighted_auroc", "mean_auprc", "weighted_auprc"):
                summary[m if len(heads) == 1 else f"{name}_{m}"] = h[m]
            summary["mean_ece"] = h["calibration"]["mean_ece"]
        elif h["kind"] == "regression":
            summary[f"{name}_mse"] = h["overall"]["mse"]
            summary[f"{name}_mae"] = h["overall"]["mae"]
    if "consistency" in out:
        summary["consistency_rate"] = out["consistency"]["rate"]
    out["summary"] = summary
    return nan_to_none(out)
