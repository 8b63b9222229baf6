"""A records CSV for models with clinical inputs (MedFusionNet): one row per case, matched to the image by its
file name or an ID column, never by typing a row number. The columns the model reads (age, sex, view; free text
from a report/text column) are checked, and a record with none of them is refused with a warning."""
from __future__ import annotations

import math
from pathlib import PurePath

ID_COLUMN_NAMES = ("image", "imageindex", "image_index", "file", "filename", "file_name", "path", "id", "imageid",
                   "image_id", "case", "caseid", "case_id", "name")


def model_columns() -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """(feature -> accepted column names, free-text column names) of the clinical-input model."""
    from hcview.papers.medfusionnet import RECORD_COLUMNS, TEXT_COLUMNS

    return RECORD_COLUMNS, TEXT_COLUMNS


def columns_doc() -> str:
    feats, text = model_columns()
    parts = [f"**{f}**: " + " / ".join(f"`{c}`" for c in cands) for f, cands in feats.items()]
    return ("One row per case. Columns read (any capitalisation): " + "; ".join(parts) + "; free text from "
            + " / ".join(f"`{c}`" for c in text) + ". The row is matched to the scan by its file name (with or "
            "without the extension, or a path ending in it) in an ID column such as `Image Index`, `file` or `id`. "
            "Missing values are masked, not guessed.")


def _norm(s) -> str:
    return "".join(ch for ch in str(s).strip().lower() if ch.isalnum() or ch == "_")


def check_columns(columns) -> tuple[list[str], list[str], bool]:
    """(features found, features missing, has a free-text column)."""
    feats, text = model_columns()
    low = {str(c).strip().lower() for c in columns}
    found = [f for f, cands in feats.items() if any(c in low for c in cands)]
    return found, [f for f in feats if f not in found], any(c in low for c in text)


def id_columns(df) -> list[str]:
    """Columns that can identify a case: named like an ID first, then the other text columns."""
    named = [c for c in df.columns if _norm(c) in {_norm(n) for n in ID_COLUMN_NAMES}]
    rest = [c for c in df.columns if c not in named and df[c].dtype == object]
    return named + rest


def _keys(name: str) -> set[str]:
    p = PurePath(str(name).replace("\\", "/"))
    return {p.name.lower(), p.stem.lower()}


def match_record(df, name: str, id_column: str | None = None) -> tuple[dict | None, str | None]:
    """The row of ``df`` for the image called ``name``: a cell of ``id_column`` (default: every candidate
    column, :func:`id_columns`) equal to the file name or its stem, or a path ending in it. Returns
    ``(record, column)`` or ``(None, None)``; a record's missing values are None."""
    want = _keys(name)
    for col in ([id_column] if id_column else id_columns(df)):
        if col not in df.columns:
            continue
        vals = df[col].astype(str).str.strip()
        hits = [i for i, v in enumerate(vals) if v and (_keys(v) & want)]
        if hits:
            row = df.iloc[hits[0]].to_dict()
            return {k: (None if isinstance(v, float) and math.isnan(v) else (v.item() if hasattr(v, "item") else v))
                    for k, v in row.items()}, col
    return None, None
