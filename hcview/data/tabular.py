"""Tabular records (the UCI cervical-cancer risk-factor layout) for MedFusionNet's metadata and the risk tool."""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from hcview.errors import CsvError
from hcview.limits import check_size, max_input_bytes, read_limited
from hcview.textio import DELIMITERS, decode_text, sniff_delimiter  # noqa: F401 (re-exported)

CERVICAL_TARGETS = ("Hinselmann", "Schiller", "Cytology", "Biopsy")
COLUMN_ALIASES = {"Citology": "Cytology"}  # the UCI original spelling
REQUIRED_FEATURES = ("Age",)
MISSING = ("?", "", " ", "NA", "N/A", "nan", "NaN")


def __getattr__(name):  # MAX_CSV_BYTES: the one input limit (hcview.limits), read when asked
    if name == "MAX_CSV_BYTES":
        return max_input_bytes()
    raise AttributeError(name)


def read_csv_text(path_or_bytes, name: str | None = None, **kw) -> tuple[pd.DataFrame, str]:
    """The one CSV reader: a path, bytes or a file-like object (e.g. a browser upload) -> DataFrame.

    Delimiter sniffed (comma, semicolon, tab, pipe; decimal commas in ; / TAB files), encoding detected
    (UTF-8, UTF-16/32, Windows-1252 / Latin-1). One-line :class:`CsvError` for a missing file, a folder, an
    empty, binary or unparsable file; :class:`hcview.limits.TooLargeError` over the input limit.
    ``?`` and blank cells are missing (NaN).
    """
    limit = max_input_bytes()
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, name = bytes(path_or_bytes), name or "upload.csv"
        check_size(len(data), name)
    elif hasattr(path_or_bytes, "read"):
        name = name or getattr(path_or_bytes, "name", None) or "upload.csv"
        size = getattr(path_or_bytes, "size", None)
        if isinstance(size, int):
            check_size(size, name)
        data = path_or_bytes.read(limit + 1)
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        check_size(len(data), name)
    else:
        p = Path(path_or_bytes)
        name = name or p.name
        if p.is_dir():
            raise CsvError(f"{name}: is a folder, not a CSV file")
        if not p.exists():
            raise CsvError(f"{name}: file not found")
        try:
            data = read_limited(p, name)
        except OSError as e:
            raise CsvError(f"{name}: cannot read file ({e.strerror or type(e).__name__})") from None
    if not data.strip():
        raise CsvError(f"{name}: CSV file is empty")
    text = decode_text(data, name)
    if not text.strip():
        raise CsvError(f"{name}: CSV file is empty")
    if "sep" not in kw and "delimiter" not in kw:
        kw["sep"] = sniff_delimiter(text)
        if kw["sep"] in (";", "\t") and "decimal" not in kw:
            body = text[:65536]
            if re.search(r"\d,\d", body) and not re.search(r"\d\.\d", body):
                kw["decimal"] = ","
    try:
        df = pd.read_csv(io.StringIO(text), na_values=list(MISSING), keep_default_na=True, **kw)
    except pd.errors.EmptyDataError:
        raise CsvError(f"{name}: CSV file is empty") from None
    except MemoryError:
        raise CsvError(f"{name}: not enough memory to read this CSV") from None
    except Exception as e:  # ParserError, ValueError, csv.Error, OverflowError ... on crafted files
        raise CsvError(f"{name}: cannot parse CSV ({' '.join(str(e).split())[:100]})") from None
    df.columns = [" ".join(str(c).split()) for c in df.columns]
    return df, name


def load_records(path, require_targets: bool = False, name: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Load a cervical-style CSV: numeric feature columns, optional outcome columns, ``?``/blank = missing.

    Returns ``(df, info)``: ``df`` has numeric float columns (NaN = missing; ``Citology`` renamed ``Cytology``);
    ``info`` lists ``features``, ``targets`` (those present), ``missing`` counts, ``label_counts``.
    """
    df, name = read_csv_text(path, name)
    df = df.rename(columns=COLUMN_ALIASES)
    if len(df) == 0:
        raise CsvError(f"{name}: CSV has a header but no rows")
    required = list(REQUIRED_FEATURES) + (list(CERVICAL_TARGETS) if require_targets else [])
    missing_cols = [c for c in required if c not in df.columns]
    if missing_cols:
        found = ", ".join(list(df.columns)[:8]) + (" ..." if len(df.columns) > 8 else "")
        raise CsvError(f"{name}: missing required column(s) {', '.join(missing_cols)}; found: {found}")
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            conv = pd.to_numeric(df[c], errors="coerce")
            bad = df[c][conv.isna() & df[c].notna()]
            if len(bad):
                raise CsvError(f"{name}: column {c!r} has a non-numeric value {str(bad.iloc[0])[:30]!r} "
                               f"(row {int(bad.index[0]) + 2}); use numbers, with ? or blank for missing")
            df[c] = conv
    df = df.astype(float)
    targets = [c for c in CERVICAL_TARGETS if c in df.columns]
    features = [c for c in df.columns if c not in targets]
    info = {
        "name": name, "n": int(len(df)), "features": features, "targets": targets,
        "missing": {c: int(v) for c, v in df.isna().sum().items() if v},
        "label_counts": {t: {"positive": int((df[t] > 0).sum()), "negative": int((df[t] == 0).sum()),
                             "missing": int(df[t].isna().sum())} for t in targets},
    }
    return df, info


def features_and_mask(df: pd.DataFrame, features, stats: dict | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Standardised features (train-split median / std) with missing values set to 0 and a presence mask."""
    x = df[list(features)].to_numpy(dtype=np.float64)
    mask = ~np.isnan(x)
    if stats is None:
        med = np.nanmedian(np.where(mask, x, np.nan), axis=0)
        sd = np.nanstd(np.where(mask, x, np.nan), axis=0)
        med = np.nan_to_num(med)
        sd = np.where(np.nan_to_num(sd) > 0, np.nan_to_num(sd), 1.0)
        stats = {"center": med.tolist(), "scale": sd.tolist()}
    z = (x - np.asarray(stats["center"])) / np.asarray(stats["scale"])
    z = np.where(mask, z, 0.0).astype(np.float32)
    return z, mask, stats
