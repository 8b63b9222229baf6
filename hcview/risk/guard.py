"""Leakage guard: which columns may be features for an outcome.

1. Column names that are the same after normalisation (case, whitespace, ``Citology``/``Cytology``, pandas'
   ``.1`` suffix for a repeated header) are refused when the records are read (:func:`normalise_columns`).
2. The target is never a feature; neither are the other screening/diagnostic outcome columns (Hinselmann,
   Schiller, Cytology/Citology, Biopsy) unless ``allow_outcome_features``: colposcopy, Schiller's test and cytology
   are the tests whose results biopsy confirms, so using them to "predict risk" is circular.
3. Any column that equals or nearly equals the outcome, |Pearson r| > ``corr_limit`` (0.95) on the rows where both
   are present, is excluded, with its r. This catches a renamed copy (``biopsy_result``) or its negation.
Every exclusion is returned with its reason, so a report can say which columns were left out and why.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from hcview.errors import CsvError
from hcview.risk.records import OUTCOMES, canonical_outcome, to_numeric_frame

CORR_LIMIT = 0.95


def outcome_correlations(num: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """|Pearson r| of each column with ``y`` on the rows where both are present (NaN when undefined)."""
    out = {}
    yv = y.to_numpy(dtype=float)
    for c in num.columns:
        x = num[c].to_numpy(dtype=float)
        ok = ~np.isnan(x) & ~np.isnan(yv)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(yv[ok]) == 0:
            out[c] = float("nan")
            continue
        out[c] = float(abs(np.corrcoef(x[ok], yv[ok])[0, 1]))
    return out


def guard_features(df: pd.DataFrame, target: str, y: pd.Series, *, features: Sequence[str] | None = None,
                   exclude: Sequence[str] = (), allow_outcome_features: bool = False,
                   corr_limit: float = CORR_LIMIT) -> tuple[pd.DataFrame, dict[str, str]]:
    """Numeric candidate features for ``target`` (``df`` already normalised, rows with a known outcome).

    Returns ``(numeric_frame, excluded)`` with ``excluded = {column: reason}``.
    """
    excluded: dict[str, str] = {}
    outcome_cols = {c for c in df.columns if canonical_outcome(c) in OUTCOMES}
    cand = list(features) if features is not None else [c for c in df.columns if c != target]
    missing = [c for c in cand if c not in df.columns]
    if missing:
        raise CsvError(f"feature column(s) not found: {', '.join(missing[:5])}")
    unknown = [c for c in exclude if c not in df.columns]
    if unknown:
        raise CsvError(f"column(s) to exclude not found: {', '.join(unknown[:5])}")
    feats = []
    for c in cand:
        if c == target:
            excluded[c] = "the outcome itself"
        elif c in exclude:
            excluded[c] = "excluded by request"
        elif c in outcome_cols and not allow_outcome_features:
            excluded[c] = "screening/diagnostic outcome column: circular as a feature unless opted in"
        else:
            feats.append(c)
    num, nonnum = to_numeric_frame(df, feats)
    for c in nonnum:
        excluded[c] = "not numeric"
    r = outcome_correlations(num, y)
    copies = [c for c in num.columns if np.isfinite(r[c]) and r[c] > corr_limit]
    for c in copies:
        excluded[c] = f"copy of the outcome: |r| = {r[c]:.3f} > {corr_limit:g}"
    num = num.drop(columns=copies)
    return num, excluded
