"""Reading a tabular records file (the UCI cervical risk-factors layout or anything like it).

``?`` and blank cells are missing. ``Citology`` (the UCI original's spelling) is renamed ``Cytology``.
Every problem with the file is a one-line :class:`hcview.errors.CsvError`, including two columns with the same name
after normalisation (case, whitespace, ``Citology``/``Cytology``, pandas' ``.1`` suffix for a repeated header).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from hcview.data.tabular import MISSING as MISSING_VALUES
from hcview.data.tabular import read_csv_text
from hcview.errors import CsvError

#: the four diagnostic outcomes of the UCI table, in the project's spelling
OUTCOMES: tuple[str, ...] = ("Hinselmann", "Schiller", "Cytology", "Biopsy")
#: other spellings accepted for an outcome column (lower-cased) -> canonical name
ALIASES: dict[str, str] = {"citology": "Cytology", "cytology": "Cytology", "hinselmann": "Hinselmann",
                           "schiller": "Schiller", "biopsy": "Biopsy"}


def bundled_records_path() -> Path:
    """The project's copy of the UCI cervical risk-factors table."""
    from hcview.paths import samples_dir

    return samples_dir() / "cervical" / "risk_factors_cervical_cancer.csv"


BUNDLED_PROVENANCE = ("UCI Machine Learning Repository, 'Cervical cancer (Risk Factors)', 858 patients x 36 columns, "
                      "Hospital Universitario de Caracas; CC BY 4.0; cite Fernandes, Cardoso, Fernandes (2017). "
                      "Missing values written '?'.")


def canonical_outcome(name: str) -> str:
    """``citology`` / ``Citology`` / ``cytology`` -> ``Cytology``; others unchanged apart from case of known ones."""
    return ALIASES.get(str(name).strip().lower(), str(name).strip())


def column_key(name) -> str:
    """The comparison key of a column name: outcome aliases resolved, case and runs of whitespace ignored."""
    s = " ".join(str(name).split())
    return ALIASES.get(s.lower(), s).lower()


_MANGLED = re.compile(r"^(?P<base>.+)\.(?P<n>[1-9][0-9]*)$")


def duplicate_columns(columns) -> list[list[str]]:
    """Groups of column names that are the same column after normalisation: case, whitespace, outcome aliases
    (``Citology``/``Cytology``) and the ``.1``/``.2`` suffixes pandas gives a repeated header (``Biopsy.1``).

    A name ``X.N`` counts as a copy only when ``X`` itself is also present.
    """
    names = [str(c) for c in columns]
    keys = [column_key(c) for c in names]
    present = set(keys)
    groups: dict[str, list[str]] = {}
    for name, key in zip(names, keys):
        m = _MANGLED.match(key)
        if m and column_key(m.group("base")) in present:
            key = column_key(m.group("base"))
        groups.setdefault(key, []).append(name)
    return [g for g in groups.values() if len(g) > 1]


def normalise_columns(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Strip column names and rename outcome aliases to their canonical spelling.

    Refuses (one-line :class:`CsvError`) any two columns that are the same name after normalisation
    (see :func:`duplicate_columns`): a repeated outcome column would otherwise become a perfect "feature".
    Returns the renamed frame and ``{canonical: original}`` for every renamed column.
    """
    dups = duplicate_columns(df.columns)
    if dups:
        shown = "; ".join(" = ".join(repr(c) for c in g) for g in dups[:5])
        raise CsvError(f"duplicate column names (same after ignoring case, spaces and '.1' suffixes): {shown}; "
                       "rename or drop the copies")
    renamed: dict[str, str] = {}
    cols = []
    for c in df.columns:
        s = str(c).strip()
        canon = ALIASES.get(s.lower())
        if canon is not None and canon != s:
            renamed[canon] = s
            s = canon
        cols.append(s)
    out = df.copy()
    out.columns = cols
    return out, renamed


def read_records(src, name: str | None = None) -> pd.DataFrame:
    """Read a records CSV from a path, bytes or a file-like object; ``?``/blank -> NaN, numbers parsed.

    Columns are kept as read (numeric where every non-missing value is a number, object otherwise);
    outcome aliases are renamed (``Citology`` -> ``Cytology``).
    """
    if not isinstance(src, (str, os.PathLike, bytes, bytearray)) and not hasattr(src, "read"):
        raise CsvError(f"cannot read records from a {type(src).__name__}")
    df, name = read_csv_text(src, name, skipinitialspace=True)
    if df.shape[1] < 2:
        raise CsvError(f"{name}: needs at least one feature column and one outcome column, found {df.shape[1]} column(s)")
    if len(df) == 0:
        raise CsvError(f"{name}: has a header but no rows")
    df, _ = normalise_columns(df)
    return df


def to_numeric_frame(df: pd.DataFrame, columns) -> tuple[pd.DataFrame, list[str]]:
    """Numeric copy of ``columns``; a column with any non-numeric, non-missing value is dropped.

    Returns ``(numeric_frame, dropped_columns)``.
    """
    out = {}
    dropped = []
    for c in columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s):
            s = s.astype(float)
        if pd.api.types.is_numeric_dtype(s):
            out[c] = s.astype(float)
            continue
        s2 = s.astype("string").str.strip()
        s2 = s2.mask(s2.isin(MISSING_VALUES))
        num = pd.to_numeric(s2, errors="coerce")
        if (num.isna() & s2.notna()).any():
            dropped.append(c)
            continue
        out[c] = num.astype(float)
    frame = pd.DataFrame(out, index=df.index)
    frame = frame.replace([np.inf, -np.inf], np.nan)
    return frame, dropped


def binary_columns(df: pd.DataFrame) -> list[str]:
    """Columns whose non-missing values are all 0/1 (with both present): candidate outcomes of any records table."""
    num, _ = to_numeric_frame(df, list(df.columns))
    out = []
    for c in num.columns:
        v = num[c].dropna()
        if len(v) and v.isin([0.0, 1.0]).all() and v.nunique() == 2:
            out.append(c)
    return out
