"""Metrics for prediction CSVs produced elsewhere (CheXpert-challenge style ``{label}_GT`` /
``{label}_Pred`` columns by default).

``load_predictions`` reads and validates one file (every problem is a one-line ``CsvError``);
``evaluate_files`` computes per-label AUROC/AUPRC for one or several files and, for several,
a Friedman test with labels as blocks and files as treatments on per-label AUROC.

Truth cells: 1 = positive, 0 = negative; empty, NaN or -1 (uncertain) = unknown (skipped for
that label).
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from hcview.errors import CsvError
from hcview.metrics._util import nan_to_none
from hcview.metrics.calibration import compute_multilabel_calibration
from hcview.metrics.multilabel import compute_multilabel_auc
from hcview.metrics.stats import bootstrap_ci, friedman

DEFAULT_TRUTH_PATTERN = "{label}_GT"
DEFAULT_SCORE_PATTERN = "{label}_Pred"


def _pattern_regex(pattern: str) -> re.Pattern:
    if pattern.count("{label}") != 1:
        raise CsvError(f"column pattern {pattern!r} must contain {{label}} exactly once")
    pre, post = pattern.split("{label}")
    return re.compile("^" + re.escape(pre) + "(?P<label>.+?)" + re.escape(post) + "$")


def find_labels(columns: Sequence[str], truth_pattern: str = DEFAULT_TRUTH_PATTERN,
                score_pattern: str = DEFAULT_SCORE_PATTERN) -> list[str]:
    """Labels for which both a truth and a score column exist, in column order."""
    rt, rs = _pattern_regex(truth_pattern), _pattern_regex(score_pattern)
    truth = [m.group("label") for c in columns if (m := rt.match(str(c)))]
    score = {m.group("label") for c in columns if (m := rs.match(str(c)))}
    return [lab for lab in dict.fromkeys(truth) if lab in score]


def _read_csv(path: Path) -> pd.DataFrame:
    name = path.name
    if not path.exists():
        raise CsvError(f"predictions file not found: {path}")
    if path.is_dir():
        raise CsvError(f"predictions path is a folder, not a CSV file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CsvError(f"predictions file {name} is empty")
    from hcview.data.tabular import decode_text, sniff_delimiter
    from hcview.limits import read_limited

    try:
        text = decode_text(read_limited(path, name, "predictions file"), name)  # the one size limit
    except OSError as e:
        raise CsvError(f"cannot read predictions file {name}: {e.strerror or e}") from None
    except CsvError as e:
        raise CsvError(f"predictions file {name} is binary, not a text CSV" if "binary" in str(e) else str(e)) from None
    try:
        df = pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text), dtype=str,
                         keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise CsvError(f"predictions file {name} has no header row") from None
    except Exception as e:  # ParserError, csv.Error, ValueError, ... on crafted files
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CsvError(f"predictions file {name} is not a readable CSV: {msg}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _to_numeric(df: pd.DataFrame, col: str, name: str, what: str) -> np.ndarray:
    raw = df[col].astype(str).str.strip()
    missing = raw.str.lower().isin(["", "nan", "na", "n/a", "null", "none"])
    num = pd.to_numeric(raw.where(~missing), errors="coerce")
    bad = num.isna() & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CsvError(f"{name}: {what} column {col!r} has a non-numeric value {raw.iloc[i][:40]!r} "
                       f"(data row {i + 1})")
    return np.array(num.to_numpy(dtype=float), dtype=float, copy=True)


def load_predictions(path, truth_pattern: str = DEFAULT_TRUTH_PATTERN,
                     score_pattern: str = DEFAULT_SCORE_PATTERN,
                     labels: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read one predictions CSV -> ``(labels, y_true (N, L), y_score (N, L))``.

    Unknown truths (empty, NaN, -1) become NaN. Raises ``CsvError`` with a one-line message.
    """
    _pattern_regex(truth_pattern), _pattern_regex(score_pattern)
    path = Path(path)
    name = path.name
    df = _read_csv(path)
    if len(df) == 0:
        raise CsvError(f"predictions file {name} has a header but no data rows")
    if labels:
        labels = [str(x).strip() for x in labels if str(x).strip()]
        miss = []
        for lab in labels:
            for pat in (truth_pattern, score_pattern):
                col = pat.replace("{label}", lab)
                if col not in df.columns:
                    miss.append(col)
        if miss:
            raise CsvError(f"predictions file {name} lacks column(s): {', '.join(miss[:6])}"
                           + (f" and {len(miss) - 6} more" if len(miss) > 6 else ""))
    else:
        labels = find_labels(df.columns, truth_pattern, score_pattern)
        if not labels:
            shown = ", ".join(df.columns[:6]) + (", ..." if len(df.columns) > 6 else "")
            raise CsvError(f"predictions file {name} has no label with both a {truth_pattern!r} and a "
                           f"{score_pattern!r} column (columns: {shown})")
    y_true = np.empty((len(df), len(labels)))
    y_score = np.empty((len(df), len(labels)))
    for j, lab in enumerate(labels):
        tcol, scol = truth_pattern.replace("{label}", lab), score_pattern.replace("{label}", lab)
        t = _to_numeric(df, tcol, name, "truth")
        t[t == -1] = np.nan  # uncertain label -> unknown
        odd = np.isfinite(t) & ~np.isin(t, (0.0, 1.0))
        if odd.any():
            i = int(np.flatnonzero(odd)[0])
            raise CsvError(f"{name}: truth column {tcol!r} must hold 0 or 1 (data row {i + 1} has {t[i]:g})")
        s = _to_numeric(df, scol, name, "score")
        if np.isinf(s).any():
            raise CsvError(f"{name}: score column {scol!r} has an infinite value")
        y_true[:, j], y_score[:, j] = t, s
    return list(labels), y_true, y_score


def evaluate_arrays(labels, y_true, y_score, n_boot: int = 0, seed: int = 0) -> dict:
    """Per-label AUROC/AUPRC (+ calibration when scores are probabilities) and a summary."""
    auc = compute_multilabel_auc(y_true, y_score, labels)
    finite = y_score[np.isfinite(y_score)]
    probs = finite.size > 0 and finite.min() >= 0.0 and finite.max() <= 1.0
    cal = compute_multilabel_calibration(y_true, y_score, labels) if probs else None
    per = {}
    for lab in labels:
        row = dict(auc["per_label"][lab])
        if cal is not None:
            row.update(cal["per_label"][lab])
        per[lab] = row
    summary = {k: auc[k] for k in ("mean_auroc", "weighted_auroc", "mean_auprc", "weighted_auprc",
                                   "n_labels", "n_labels_defined", "n_cases")}
    summary["n_scored_cases"] = int(np.sum(np.any(np.isfinite(y_score), axis=1)))
    if cal is not None:
        summary["mean_ece"], summary["mean_brier"] = cal["mean_ece"], cal["mean_brier"]
    if n_boot:
        from hcview.metrics.multilabel import compute_mean_auroc

        summary["mean_auroc_ci"] = bootstrap_ci(compute_mean_auroc, y_true, y_score, n_boot=n_boot, seed=seed)
    return {"labels": per, "summary": summary}


def _model_names(paths: Sequence[Path]) -> list[str]:
    names, seen = [], {}
    for p in paths:
        stem = p.stem or p.name
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return names


def evaluate_files(paths: Sequence, truth_pattern: str = DEFAULT_TRUTH_PATTERN,
                   score_pattern: str = DEFAULT_SCORE_PATTERN, labels: Sequence[str] | None = None,
                   n_boot: int = 0, seed: int = 0) -> dict:
    """One file: ``{file, labels: {label: {...}}, summary: {...}}``.

    Several files: ``{models: {name: {file, labels, summary}}, model_order, labels: {label: {name:
    auroc}}, common_labels, friedman}`` with the Friedman test over labels common to all files.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise CsvError("no predictions file given")
    results = []
    for p in paths:
        labs, yt, ys = load_predictions(p, truth_pattern, score_pattern, labels)
        res = evaluate_arrays(labs, yt, ys, n_boot=n_boot, seed=seed)
        res = {"file": str(p), **res}
        results.append(res)
    if len(results) == 1:
        return nan_to_none(results[0])
    names = _model_names(paths)
    common = [lab for lab in results[0]["labels"] if all(lab in r["labels"] for r in results[1:])]
    if not common:
        raise CsvError("the predictions files share no label, so they cannot be compared")
    table = np.array([[r["labels"][lab]["auroc"] for r in results] for lab in common], dtype=float)
    fr = friedman(table, names, higher_is_better=True)
    fr["blocks"] = "labels"
    fr["metric"] = "auroc"
    out = {
        "models": {n: r for n, r in zip(names, results)},
        "model_order": names,
        "common_labels": common,
        "labels": {lab: {n: {"auroc": r["labels"][lab]["auroc"], "auprc": r["labels"][lab]["auprc"],
                             "support": r["labels"][lab]["support"]} for n, r in zip(names, results)}
                   for lab in common},
        "summary": {n: r["summary"] for n, r in zip(names, results)},
        "friedman": fr,
    }
    return nan_to_none(out)
