"""Reader feedback: per finding, does the reader agree with the model's call (agree / disagree / unsure), with a
free-text note and the reader's name.

Stored in one SQLite file beside the job store (``var_dir()/feedback.db``, WAL, busy timeout), keyed by the case
(the sha256 of the file's bytes, plus the frame of a multi-frame DICOM) and the model version (its checkpoint
sha256): a reader's latest verdict on a finding replaces their earlier one. Exported as CSV with formula-like
text neutralised (``hcview.io_utils.safe_csv_text``); :func:`agreement` sums verdicts per label.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from hcview import paths
from hcview.errors import InputError

VERDICTS = ("agree", "disagree", "unsure")
MAX_NOTE = 2000
MAX_READER = 120

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_hash TEXT NOT NULL,        -- sha256 of the file (+ '#frame' for a frame of a multi-frame DICOM)
    case_name TEXT,
    model TEXT NOT NULL, variant TEXT, model_sha256 TEXT NOT NULL, model_version INTEGER,
    level TEXT NOT NULL, label TEXT NOT NULL,
    model_call TEXT, prob REAL,     -- what the model said when the reader judged it
    verdict TEXT NOT NULL, note TEXT, reader TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    UNIQUE (case_hash, model_sha256, level, label, reader)
);
CREATE INDEX IF NOT EXISTS feedback_case ON feedback(case_hash, model_sha256);
CREATE INDEX IF NOT EXISTS feedback_model ON feedback(model, label);
"""
COLUMNS = ("case_hash", "case_name", "model", "variant", "model_sha256", "model_version", "level", "label",
           "model_call", "prob", "verdict", "note", "reader", "created")


def db_path() -> Path:
    return paths.var_dir() / "feedback.db"


@contextmanager
def connect(path: Path | None = None):
    con = sqlite3.connect(str(path or db_path()), timeout=30)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        con.executescript(SCHEMA)
        con.row_factory = sqlite3.Row
        yield con
        con.commit()
    finally:
        con.close()


def _clean(text, limit: int) -> str:
    s = "" if text is None else str(text)
    s = "".join(ch for ch in s if ch in "\n\t" or ch.isprintable())
    return s.strip()[:limit]


def record(case_hash: str, model: str, model_sha256: str | None, entries: list[dict], *, reader: str = "",
           case_name: str = "", variant: str = "", model_version: int | None = None, path: Path | None = None) -> int:
    """Store the verdicts in ``entries`` (dicts: ``level``, ``label``, ``verdict`` in :data:`VERDICTS`, optional
    ``note``, ``model_call``, ``prob``); entries without a verdict are skipped. Returns how many were stored."""
    if not case_hash:
        raise InputError("feedback needs the case's hash")
    sha = model_sha256 or "untrained"
    reader = _clean(reader, MAX_READER)
    now = time.time()
    rows = []
    for e in entries:
        verdict = str(e.get("verdict") or "").strip().lower()
        if not verdict:
            continue
        if verdict not in VERDICTS:
            raise InputError(f"feedback verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        prob = e.get("prob")
        rows.append((case_hash, _clean(case_name, 300), model, variant, sha, model_version, str(e["level"]),
                     str(e["label"]), _clean(e.get("model_call"), 80), None if prob is None else float(prob),
                     verdict, _clean(e.get("note"), MAX_NOTE), reader, now))
    if not rows:
        return 0
    with connect(path) as con:
        con.executemany(
            f"INSERT INTO feedback ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
            "ON CONFLICT (case_hash, model_sha256, level, label, reader) DO UPDATE SET verdict=excluded.verdict, "
            "note=excluded.note, model_call=excluded.model_call, prob=excluded.prob, created=excluded.created, "
            "case_name=excluded.case_name", rows)
    return len(rows)


def for_case(case_hash: str, model_sha256: str | None, path: Path | None = None) -> list[dict]:
    """Every reader's verdicts on one case under one model version, oldest first."""
    with connect(path) as con:
        cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback WHERE case_hash=? AND model_sha256=? "
                          "ORDER BY created, id", (case_hash, model_sha256 or "untrained"))
        return [dict(r) for r in cur.fetchall()]


def all_rows(model: str | None = None, path: Path | None = None) -> list[dict]:
    with connect(path) as con:
        q = f"SELECT {', '.join(COLUMNS)} FROM feedback"
        args: tuple = ()
        if model:
            q += " WHERE model=?"
            args = (model,)
        return [dict(r) for r in con.execute(q + " ORDER BY created, id", args).fetchall()]


def frame(rows: list[dict]):
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if len(df):
        df["created"] = pd.to_datetime(df["created"], unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    return df


def to_csv_text(rows: list[dict]) -> str:
    """The rows as CSV text that a spreadsheet cannot run (formula-like cells neutralised)."""
    from hcview.io_utils import safe_csv_text

    return safe_csv_text(frame(rows), index=False)


def export_csv(out, model: str | None = None, path: Path | None = None) -> Path:
    from hcview.io_utils import atomic_write_safe_csv

    return atomic_write_safe_csv(out, frame(all_rows(model, path)), index=False)


def agreement(rows: list[dict]):
    """Per (model, level, label): verdict counts, readers, cases, and the agreement rate agree / (agree + disagree)
    (unsure left out; empty when there is no agree or disagree)."""
    import pandas as pd

    cols = ["model", "level", "label", "verdicts", "agree", "disagree", "unsure", "agreement", "readers", "cases"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    out = []
    for (m, lev, lab), g in df.groupby(["model", "level", "label"], sort=True):
        a, d, u = (int((g["verdict"] == v).sum()) for v in VERDICTS)
        out.append({"model": m, "level": lev, "label": lab, "verdicts": len(g), "agree": a, "disagree": d,
                    "unsure": u, "agreement": (a / (a + d)) if a + d else None,
                    "readers": int(g["reader"].nunique()), "cases": int(g["case_hash"].nunique())})
    return pd.DataFrame(out, columns=cols)
