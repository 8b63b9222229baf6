"""Metrics for prediction CSVs produced elsewhere (CheXpert-challenge style ``{label}_GT`` /
``{label}_Pred`` columns by default).

``load_predictions`` reads and validates one file (every problem is a one-line ``CsvError``);
``load_joined`` takes the scores from one file and the truths from another, joined by an ID column
(duplicated IDs or columns are errors; rows without a match are counted and left out);
``compare_predictions`` (on loaded files) and ``evaluate_files`` (on paths) compute per-label
AUROC/AUPRC for one or several files, in one return shape, and for several a Friedman test with
labels as blocks and files as treatments on per-label AUROC.

Truth cells: 1 = positive, 0 = negative; empty, NaN or -1 (uncertain) = unknown (skipped for
that label).
"""
from __future__ import annotations

import io
import re
from collections import Counter
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


def _read_csv(path: Path, what: str = "predictions file") -> pd.DataFrame:
    name = path.name
    if not path.exists():
        raise CsvError(f"{what} not found: {path}")
    if path.is_dir():
        raise CsvError(f"{what} path is a folder, not a CSV file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CsvError(f"{what} {name} is empty")
    from hcview.textio import decode_text, gunzip_bounded, sniff_delimiter
    from hcview.limits import max_input_bytes, read_limited

    try:  # the one size limit, on the file and (for .csv.gz) on what it inflates to
        text = decode_text(gunzip_bounded(read_limited(path, name, what), name, max_input_bytes()), name)
    except OSError as e:
        raise CsvError(f"cannot read {what} {name}: {e.strerror or e}") from None
    except CsvError as e:
        raise CsvError(f"{what} {name} is binary, not a text CSV" if "binary" in str(e) else str(e)) from None
    sep = sniff_delimiter(text)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise CsvError(f"{what} {name} has no header row") from None
    except Exception as e:  # ParserError, csv.Error, ValueError, ... on crafted files
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise CsvError(f"{what} {name} is not a readable CSV: {msg}") from None
    raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, header=None, nrows=1, keep_default_na=False,
                      skipinitialspace=True).iloc[0]  # the header as written (read_csv renames a second 'A' 'A.1')
    counts = Counter(str(c).strip() for c in raw)
    dups = [c for c, k in counts.items() if k > 1]
    if dups:
        raise CsvError(f"{name} has duplicated column(s): {', '.join(dups[:5])}; every column name must be unique")
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


def _check_patterns(truth_pattern: str, score_pattern: str) -> None:
    _pattern_regex(truth_pattern), _pattern_regex(score_pattern)
    if truth_pattern.strip() == score_pattern.strip():
        raise CsvError(f"the truth and score column patterns are the same ({truth_pattern!r}): each label needs "
                       "a truth column and a different score column")


def _missing(df: pd.DataFrame, pattern: str, labels: Sequence[str]) -> list[str]:
    return [pattern.replace("{label}", lab) for lab in labels if pattern.replace("{label}", lab) not in df.columns]


def _arrays(truth: pd.DataFrame, scores: pd.DataFrame, truth_name: str, score_name: str, labels: Sequence[str],
            truth_pattern: str, score_pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_score) of ``labels`` from row-aligned truth and score tables (one file: the same table)."""
    y_true = np.empty((len(truth), len(labels)))
    y_score = np.empty((len(scores), len(labels)))
    for j, lab in enumerate(labels):
        tcol, scol = truth_pattern.replace("{label}", lab), score_pattern.replace("{label}", lab)
        t = _to_numeric(truth, tcol, truth_name, "truth")
        t[t == -1] = np.nan  # uncertain label -> unknown
        odd = np.isfinite(t) & ~np.isin(t, (0.0, 1.0))
        if odd.any():
            i = int(np.flatnonzero(odd)[0])
            raise CsvError(f"{truth_name}: truth column {tcol!r} must hold 0 or 1 "
                           f"(data row {truth.index[i] + 1} has {t[i]:g})")
        s = _to_numeric(scores, scol, score_name, "score")
        if np.isinf(s).any():
            raise CsvError(f"{score_name}: score column {scol!r} has an infinite value")
        y_true[:, j], y_score[:, j] = t, s
    return y_true, y_score


def load_predictions(path, truth_pattern: str = DEFAULT_TRUTH_PATTERN,
                     score_pattern: str = DEFAULT_SCORE_PATTERN,
                     labels: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read one predictions CSV (truth and score columns side by side) -> ``(labels, y_true (N, L),
    y_score (N, L))``.

    Unknown truths (empty, NaN, -1) become NaN. Raises ``CsvError`` with a one-line message.
    """
    _check_patterns(truth_pattern, score_pattern)
    path = Path(path)
    name = path.name
    df = _read_csv(path)
    if len(df) == 0:
        raise CsvError(f"predictions file {name} has a header but no data rows")
    if labels:
        labels = [str(x).strip() for x in labels if str(x).strip()]
        miss = [c for lab in labels for c in _missing(df, truth_pattern, [lab]) + _missing(df, score_pattern, [lab])]
        if miss:
            raise CsvError(f"predictions file {name} lacks column(s): {', '.join(miss[:6])}"
                           + (f" and {len(miss) - 6} more" if len(miss) > 6 else ""))
    else:
        labels = find_labels(df.columns, truth_pattern, score_pattern)
        if not labels:
            shown = ", ".join(df.columns[:6]) + (", ..." if len(df.columns) > 6 else "")
            raise CsvError(f"predictions file {name} has no label with both a {truth_pattern!r} and a "
                           f"{score_pattern!r} column (columns: {shown})")
    y_true, y_score = _arrays(df, df, name, name, labels, truth_pattern, score_pattern)
    return list(labels), y_true, y_score


def _ids(df: pd.DataFrame, id_column: str, name: str) -> pd.Series:
    """The stripped ID of every row; a missing ID column or an ID used twice -> ``CsvError``."""
    if id_column not in df.columns:
        shown = ", ".join(df.columns[:6]) + (", ..." if len(df.columns) > 6 else "")
        raise CsvError(f"{name} has no ID column {id_column!r} (columns: {shown})")
    ids = df[id_column].astype(str).str.strip()
    dup = ids[(ids != "") & ids.duplicated(keep=False)]
    if len(dup):
        rows = [str(i + 1) for i in np.flatnonzero((ids == dup.iloc[0]).to_numpy())[:3]]
        raise CsvError(f"{name}: ID {dup.iloc[0][:40]!r} appears more than once (data rows {', '.join(rows)}); "
                       f"the {id_column!r} column must be unique")
    return ids


def load_joined(predictions, truth, id_column: str, truth_pattern: str = DEFAULT_TRUTH_PATTERN,
                score_pattern: str = DEFAULT_SCORE_PATTERN, labels: Sequence[str] | None = None
                ) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """Scores from a predictions CSV and truths from a separate truth CSV, joined on ``id_column``.

    Returns ``(labels, y_true, y_score, join)`` over the matched rows (predictions order); ``join`` counts
    them: ``{id_column, matched, predictions_without_truth, truth_without_predictions}``. Rows with an
    empty ID match nothing. Missing ID column, duplicated IDs or columns, equal patterns or no match ->
    one-line ``CsvError``.
    """
    _check_patterns(truth_pattern, score_pattern)
    ppath, tpath = Path(predictions), Path(truth)
    preds, tru = _read_csv(ppath), _read_csv(tpath, "truth file")
    for df, name in ((preds, ppath.name), (tru, tpath.name)):
        if len(df) == 0:
            raise CsvError(f"{name} has a header but no data rows")
    pid, tid = _ids(preds, id_column, ppath.name), _ids(tru, id_column, tpath.name)
    if labels:
        labels = [str(x).strip() for x in labels if str(x).strip()]
        for df, name, pat in ((tru, tpath.name, truth_pattern), (preds, ppath.name, score_pattern)):
            miss = _missing(df, pat, labels)
            if miss:
                raise CsvError(f"{name} lacks column(s): {', '.join(miss[:6])}"
                               + (f" and {len(miss) - 6} more" if len(miss) > 6 else ""))
    else:
        rt, rs = _pattern_regex(truth_pattern), _pattern_regex(score_pattern)
        score_labels = {m.group("label") for c in preds.columns if c != id_column and (m := rs.match(c))}
        labels = [m.group("label") for c in tru.columns if c != id_column and (m := rt.match(c))]
        labels = [lab for lab in dict.fromkeys(labels) if lab in score_labels]
        if not labels:
            raise CsvError(f"no label has both a {truth_pattern!r} column in {tpath.name} and a {score_pattern!r} "
                           f"column in {ppath.name}")
    row_of = {k: i for i, k in enumerate(tid) if k}
    mp = np.array([i for i, k in enumerate(pid) if k in row_of], dtype=int)
    mt = np.array([row_of[pid.iloc[i]] for i in mp], dtype=int)
    join = {"id_column": id_column, "matched": int(len(mp)), "predictions_without_truth": int(len(preds) - len(mp)),
            "truth_without_predictions": int(len(tru) - len(mt))}
    if not len(mp):
        raise CsvError(f"no {id_column!r} of {ppath.name} matches one in {tpath.name}")
    y_true, y_score = _arrays(tru.iloc[mt], preds.iloc[mp], tpath.name, ppath.name, labels, truth_pattern,
                              score_pattern)
    return list(labels), y_true, y_score, join


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


def unique_names(names: Sequence) -> list[str]:
    """Display names of files: their stems, made unique with a suffix (``a``, ``a_2``)."""
    out, seen = [], {}
    for n in names:
        base = Path(str(n))
        base = base.with_suffix("") if base.suffix.lower() == ".gz" else base  # predictions.csv.gz -> predictions
        stem = base.stem or str(n)
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return out


def compare_predictions(loaded: dict, files: dict | None = None, n_boot: int = 0, seed: int = 0,
                        joins: dict | None = None) -> dict:
    """Score one or several loaded predictions files; one return shape whatever their number.

    ``loaded``: ``{name: (labels, y_true, y_score)}`` as :func:`load_predictions` returns them, in display
    order; ``files``: ``{name: path}`` recorded as each model's ``file``; ``joins``: ``{name: join counts}``
    of files joined to a truth file by ID (:func:`load_joined`), recorded as each model's ``join``. Returns ``{models: {name: {file,
    labels: {label: {...}}, summary}}, model_order, common_labels, labels: {label: {name: {auroc, auprc,
    support}}}, summary: {name: {...}}, friedman}``; ``friedman`` (labels as blocks, files as treatments,
    on per-label AUROC over the common labels) is None for one file. JSON-safe (NaN -> None).
    """
    if not loaded:
        raise CsvError("no predictions file given")
    names = list(loaded)
    models = {n: {"file": str((files or {}).get(n, n)), **evaluate_arrays(*loaded[n], n_boot=n_boot, seed=seed)}
              for n in names}
    for n, join in (joins or {}).items():
        models[n]["join"] = join
    common = [lab for lab in models[names[0]]["labels"] if all(lab in models[n]["labels"] for n in names[1:])]
    if not common:
        raise CsvError("the predictions files share no label, so they cannot be compared")
    fr = None
    if len(names) > 1:
        table = np.array([[models[n]["labels"][lab]["auroc"] for n in names] for lab in common], dtype=float)
        fr = friedman(table, names, higher_is_better=True)
        fr["blocks"] = "labels"
        fr["metric"] = "auroc"
    out = {
        "models": models,
        "model_order": names,
        "common_labels": common,
        "labels": {lab: {n: {k: models[n]["labels"][lab][k] for k in ("auroc", "auprc", "support")} for n in names}
                   for lab in common},
        "summary": {n: models[n]["summary"] for n in names},
        "friedman": fr,
    }
    return nan_to_none(out)


def evaluate_files(paths: Sequence, truth_pattern: str = DEFAULT_TRUTH_PATTERN,
                   score_pattern: str = DEFAULT_SCORE_PATTERN, labels: Sequence[str] | None = None,
                   n_boot: int = 0, seed: int = 0, names: Sequence[str] | None = None, truth=None,
                   id_column: str | None = None) -> dict:
    """Load and score predictions files (see :func:`compare_predictions` for the one return shape).
    ``names`` (default: the file stems, made unique) name the files in the result. With ``truth`` (a
    truth CSV) and ``id_column`` every predictions file takes its truths from it, joined by ID."""
    paths = [Path(p) for p in paths]
    names, loaded, joins = load_files(paths, truth_pattern, score_pattern, labels, names, truth, id_column)
    return compare_predictions(loaded, dict(zip(names, paths)), n_boot=n_boot, seed=seed, joins=joins)


def load_files(paths: Sequence, truth_pattern: str, score_pattern: str, labels: Sequence[str] | None = None,
               names: Sequence[str] | None = None, truth=None, id_column: str | None = None):
    """Load several predictions files: ``(names, {name: (labels, y_true, y_score)}, {name: join counts})``; the
    truths come from each file, or with ``truth`` and ``id_column`` from that file joined by ID."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise CsvError("no predictions file given")
    id_column = str(id_column or "").strip() or None
    if (truth is None) != (id_column is None):
        raise CsvError("a truth file and an ID column go together: give both or neither")
    names = list(names) if names else unique_names(paths)
    loaded, joins = {}, {}
    for n, p in zip(names, paths):
        if truth is None:
            loaded[n] = load_predictions(p, truth_pattern, score_pattern, labels)
        else:
            labs, y_true, y_score, joins[n] = load_joined(p, truth, id_column, truth_pattern, score_pattern, labels)
            loaded[n] = (labs, y_true, y_score)
    return names, loaded, joins


def load_published(path) -> dict[str, float]:
    """A peer's published per-label AUROCs: a CSV with one label column (``label``, ``finding`` or ``pathology``)
    and one AUROC column (``auc``, ``auroc`` or ``auc_roc``), case-insensitive. -> ``{label: auroc}``; a missing
    or ambiguous column, a row with more fields than the header, an empty or duplicated label or a value outside
    [0, 1] is a one-line ``CsvError``."""
    path = Path(path)
    df = _read_csv(path, "published AUROC file")
    lower = [str(c).lower().strip() for c in df.columns]

    def one(names: tuple, what: str):
        hits = [df.columns[k] for k, c in enumerate(lower) if c in names]
        if len(hits) > 1:
            raise CsvError(f"published AUROC file {path.name} has {len(hits)} {what} columns "
                           f"({', '.join(map(str, hits))}); keep one")
        return hits[0] if hits else None

    lab_col, auc_col = one(("label", "finding", "pathology"), "label"), one(("auroc", "auc", "auc_roc"), "AUROC")
    if lab_col is None or auc_col is None:
        raise CsvError(f"published AUROC file {path.name} needs a 'label' and an 'auc' (or 'auroc') column "
                       f"(columns: {', '.join(map(str, df.columns[:6]))})")
    if any(str(c).startswith("Unnamed:") for c in df.columns) or df.index.dtype != "int64":
        raise CsvError(f"published AUROC file {path.name}: a row has more fields than the header")
    out: dict[str, float] = {}
    for i, (lab, raw) in enumerate(zip(df[lab_col].astype(str).str.strip(), df[auc_col].astype(str).str.strip())):
        if not lab:
            raise CsvError(f"{path.name}: data row {i + 1} has no label")
        try:
            v = float(raw)
        except ValueError:
            raise CsvError(f"{path.name}: AUROC {raw[:40]!r} of {lab[:40]!r} is not a number (data row {i + 1})") from None
        if not 0.0 <= v <= 1.0:
            raise CsvError(f"{path.name}: AUROC {v:g} of {lab[:40]!r} is outside [0, 1] (data row {i + 1})")
        if lab in out:
            raise CsvError(f"{path.name}: label {lab[:40]!r} appears more than once")
        out[lab] = v + 0.0  # -0 -> 0
    if not out:
        raise CsvError(f"published AUROC file {path.name} has no rows")
    return out


def compare_to_published(labels: dict, published: dict[str, float]) -> dict:
    """Reproduced per-label AUROC (``labels``: a result's ``{label: {auroc, ...}}``) next to a peer's published
    figure: ``{per_label: {label: {published, reproduced, difference}}, max_abs_difference, median_abs_difference,
    labels_compared, published_only, reproduced_only, undefined_here}``; ``undefined_here``: labels in both whose AUROC
    is undefined on these files (one class only), so they cannot be compared."""
    common = [lab for lab in labels if lab in published and labels[lab].get("auroc") is not None]
    per = {lab: {"published": published[lab], "reproduced": float(labels[lab]["auroc"]),
                 "difference": float(labels[lab]["auroc"]) - published[lab]} for lab in common}
    diffs = np.abs([r["difference"] for r in per.values()]) if per else np.array([])
    return {"per_label": per,
            "labels_compared": len(per),
            "max_abs_difference": float(diffs.max()) if per else None,
            "median_abs_difference": float(np.median(diffs)) if per else None,
            "published_only": [lab for lab in published if lab not in labels],
            "reproduced_only": [lab for lab in labels if lab not in published],
            "undefined_here": [lab for lab in labels if lab in published and labels[lab].get("auroc") is None]}
