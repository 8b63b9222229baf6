"""Atomic file writes: nothing half-written is ever left where a reader looks."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data), "wb")


def atomic_write_json(path, obj) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=False, default=_json_default)
    return atomic_write(path, lambda f: f.write(text + "\n"), "w")


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# CSV exports that a spreadsheet cannot run (OWASP "CSV Injection")
#: a text cell starting with one of these is read as a formula by spreadsheet programs
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = None


def csv_safe_cell(value):
    """``value`` unchanged unless it is TEXT whose first non-blank character starts a formula (``= + - @``,
    tab, carriage return); such text gets a leading ``'`` so spreadsheets show it instead of evaluating it.

    Numbers (int, float, numpy scalars) are never touched, so ``-1.5`` stays a number; text that is only a plain
    number (``"-1.5"``, ``"+3"``, ``"-2e-3"``) cannot run anything and is kept as well.
    """
    global _PLAIN_NUMBER
    if not isinstance(value, str) or not value:
        return value
    head = value.lstrip(" ")
    if not head or head[0] not in CSV_FORMULA_START:
        return value
    if _PLAIN_NUMBER is None:
        import re

        _PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
    if _PLAIN_NUMBER.fullmatch(head):
        return value
    return "'" + value


def csv_safe_frame(df):
    """Copy of a pandas DataFrame with every text cell, column name and index label passed through
    :func:`csv_safe_cell`; numeric columns are left exactly as they are."""
    import pandas as pd

    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
                or pd.api.types.is_datetime64_any_dtype(col)):
            out.isetitem(i, col.map(csv_safe_cell))
    out.columns = out.columns.map(lambda c: csv_safe_cell(c) if isinstance(c, str) else c)
    if not pd.api.types.is_numeric_dtype(out.index):
        out.index = out.index.map(lambda c: csv_safe_cell(c) if isinstance(c, str) else c)
    out.index.names = [csv_safe_cell(n) if isinstance(n, str) else n for n in out.index.names]
    return out


def safe_csv_text(df, **to_csv_kw) -> str:
    """``df.to_csv(**to_csv_kw)`` as text, with formula-like text cells neutralised (:func:`csv_safe_frame`).
    Use it for downloads; use :func:`atomic_write_safe_csv` for files."""
    return csv_safe_frame(df).to_csv(**to_csv_kw)


def atomic_write_safe_csv(path, df, **to_csv_kw) -> Path:
    """Write a DataFrame as CSV atomically, formula-like text cells neutralised (:func:`csv_safe_frame`)."""
    text = safe_csv_text(df, **to_csv_kw)
    return atomic_write(path, lambda f: f.write(text), "w")
