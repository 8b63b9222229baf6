"""Tabular records (the UCI cervical-cancer risk-factor layout) for MedFusionNet's metadata and the risk tool."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from hcview.errors import CsvError

CERVICAL_TARGETS = ("Hinselmann", "Schiller", "Cytology", "Biopsy")
COLUMN_ALIASES = {"Citology": "Cytology"}  # the UCI original spelling
REQUIRED_FEATURES = ("Age",)
MISSING = ("?", "", " ", "NA", "N/A", "nan", "NaN")


MAX_CSV_BYTES = 50 * 1024 * 1024


def read_csv_text(path_or_bytes, name: str | None = None, **kw) -> tuple[pd.DataFrame, str]:
    """The one CSV reader: a path, bytes or a file-like object (e.g. a browser upload) -> DataFrame.

    One-line :class:`CsvError` for a missing file, a folder, an oversized, empty, binary or unparsable file.
    ``?`` and blank cells are missing (NaN).
    """
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data, name = bytes(path_or_bytes), name or "upload.csv"
    elif hasattr(path_or_bytes, "read"):
        data = path_or_bytes.read()
        data = data.encode("utf-8") if isinstance(data, str) else data
        name = name or getattr(path_or_bytes, "name", None) or "upload.csv"
    else:
        p = Path(path_or_bytes)
        name = name or p.name
        if p.is_dir():
            raise CsvError(f"{name}: is a folder, not a CSV file")
        if not p.is_file():
            raise CsvError(f"{name}: file not found")
        if p.stat().st_size > MAX_CSV_BYTES:
            raise CsvError(f"{name}: larger than {MAX_CSV_BYTES // (1024 * 1024)} MB")
        data = p.read_bytes()
    if not data.strip():
        raise CsvError(f"{name}: CSV file is empty")
    head = data[:8192]
    if b"\x00" in head:
        raise CsvError(f"{name}: not a text CSV file (binary content)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("latin-1")
            if sum(ch < " " and ch not in "\r\n\t" for ch in text[:8192]) > 8:
                raise UnicodeDecodeError("latin-1", b"", 0, 1, "control chars")
        except UnicodeDecodeError:
            raise CsvError(f"{name}: not a text CSV file (binary content)") from None
    try:
        df = pd.read_csv(io.StringIO(text), na_values=list(MISSING), keep_default_na=True, **kw)
    except pd.errors.EmptyDataError:
        raise CsvError(f"{name}: CSV file is empty") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise CsvError(f"{name}: cannot parse CSV ({' '.join(str(e).split())[:100]})") from None
    df.columns = [str(c).strip() for c in df.columns]
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
