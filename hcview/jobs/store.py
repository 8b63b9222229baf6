"""The job store: one SQLite file (``var_dir()/jobs.db``, WAL, busy timeout) with one row per job.

Statuses: ``queued`` -> ``running`` -> ``succeeded`` | ``failed`` | ``cancelled`` | ``interrupted``.
A job's process records its own end (succeeded / failed with a one-line reason / cancelled); a process
that dies without doing so (SIGKILL, power loss) is found by :func:`hcview.jobs.runner.reconcile`
(pid gone, or the pid now belongs to another process: the start time recorded at launch differs) and
marked ``interrupted``.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from hcview import paths
from hcview.errors import JobError

from .proc import proc_start_time

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
FINAL = ("succeeded", "failed", "cancelled", "interrupted")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'train',
    model TEXT, variant TEXT,
    argv TEXT NOT NULL,            -- JSON list: the hcview command line (without --job-id)
    config TEXT,                   -- JSON: the flags as given
    status TEXT NOT NULL,
    pid INTEGER, pid_start TEXT,   -- pid + its /proc start time (guards against pid reuse)
    created REAL NOT NULL, started REAL, finished REAL,
    error TEXT,
    log_path TEXT, progress_path TEXT, out_dir TEXT, checkpoint TEXT,
    result TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
"""


def db_path() -> Path:
    return paths.var_dir() / "jobs.db"


def jobs_dir() -> Path:
    p = paths.var_dir() / "jobs"
    p.mkdir(parents=True, exist_ok=True)
    return p


def new_job_id(model: str | None = None) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{(model or 'job')}-{uuid.uuid4().hex[:6]}"


class JobStore:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as c:
            c.executescript(SCHEMA)

    @contextmanager
    def connect(self, immediate: bool = False):
        """A connection in autocommit mode; ``immediate=True`` wraps the block in BEGIN IMMEDIATE
        (one writer at a time: used to start queued jobs without two callers starting the same one)."""
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        c.row_factory = sqlite3.Row
        try:
            c.execute("PRAGMA busy_timeout=30000")
            c.execute("PRAGMA journal_mode=WAL")
            if immediate:
                c.execute("BEGIN IMMEDIATE")
                try:
                    yield c
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
            else:
                yield c
        finally:
            c.close()

    # -- rows -------------------------------------------------------------------------------
    @staticmethod
    def _row(r: sqlite3.Row | None) -> dict | None:
        if r is None:
            return None
        d = dict(r)
        for k in ("argv", "config", "result"):
            if d.get(k):
                try:
                    d[k] = json.loads(d[k])
                except ValueError:
                    pass
        d["cancel_requested"] = bool(d.get("cancel_requested"))
        return d

    def create(self, argv: list[str], *, model: str | None = None, variant: str | None = None,
               config: dict | None = None, kind: str = "train", job_id: str | None = None) -> dict:
        jid = job_id or new_job_id(model)
        d = jobs_dir() / jid
        d.mkdir(parents=True, exist_ok=True)
        out_dir = paths.var_dir() / "runs" / jid
        with self.connect() as c:
            c.execute("INSERT INTO jobs (id, kind, model, variant, argv, config, status, created, log_path, progress_path, out_dir) "
                      "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                      (jid, kind, model, variant, json.dumps(argv), json.dumps(config or {}), time.time(),
                       str(d / "log.txt"), str(out_dir / "progress.jsonl"), str(out_dir)))
        return self.get(jid)

    def get(self, job_id: str) -> dict:
        with self.connect() as c:
            r = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if r is None:  # allow a unique prefix
                rows = c.execute("SELECT * FROM jobs WHERE id LIKE ?", (job_id + "%",)).fetchall()
                if len(rows) == 1:
                    r = rows[0]
        if r is None:
            raise JobError(f"no job {job_id!r} (see: python -m hcview jobs list)")
        return self._row(r)

    def list(self, status: str | None = None, limit: int = 200) -> list[dict]:
        with self.connect() as c:
            if status:
                rows = c.execute("SELECT * FROM jobs WHERE status = ? ORDER BY created DESC LIMIT ?", (status, limit)).fetchall()
            else:
                rows = c.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [self._row(r) for r in rows]

    def update(self, job_id: str, conn: sqlite3.Connection | None = None, **fields) -> None:
        if not fields:
            return
        for k in ("argv", "config", "result"):
            if k in fields and not isinstance(fields[k], (str, type(None))):
                fields[k] = json.dumps(fields[k], default=str)
        cols = ", ".join(f"{k} = ?" for k in fields)
        args = [str(v) if isinstance(v, Path) else v for v in fields.values()] + [job_id]
        if conn is not None:
            conn.execute(f"UPDATE jobs SET {cols} WHERE id = ?", args)
            return
        with self.connect() as c:
            c.execute(f"UPDATE jobs SET {cols} WHERE id = ?", args)

    # -- transitions called by the job's own process ---------------------------------------------
    def mark_running(self, job_id: str) -> None:
        pid = os.getpid()
        with self.connect() as c:
            c.execute("UPDATE jobs SET status = 'running', pid = ?, pid_start = ?, started = COALESCE(started, ?) "
                      "WHERE id = ? AND status IN ('queued', 'running')", (pid, proc_start_time(pid), time.time(), job_id))

    def finish(self, job_id: str, status: str, *, error: str | None = None, checkpoint: str | None = None,
               result: dict | None = None) -> None:
        if status not in FINAL:
            raise JobError(f"not a final status: {status}")
        fields = {"status": status, "finished": time.time()}
        if error is not None:
            fields["error"] = " ".join(str(error).split())[:500]
        if checkpoint is not None:
            fields["checkpoint"] = str(checkpoint)
        if result is not None:
            fields["result"] = json.dumps(result, default=str)
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.connect() as c:
            # never overwrite a final status (e.g. reconcile already said 'interrupted')
            c.execute(f"UPDATE jobs SET {cols} WHERE id = ? AND status NOT IN ('succeeded', 'failed', 'cancelled', 'interrupted')",
                      [*fields.values(), job_id])

    def request_cancel(self, job_id: str) -> None:
        self.update(job_id, cancel_requested=1)

    def delete(self, job_id: str) -> None:
        with self.connect() as c:
            c.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
