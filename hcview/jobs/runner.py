"""Background jobs: start, reconcile, cancel, inspect.

A job is ``python -m hcview <argv> --job-id ID --out DIR --progress-file FILE`` in its own session,
stdout+stderr to the job's log file. There is no daemon: :func:`reconcile` (called by every
``jobs`` CLI command, by the app, and by a job's own process when it ends) marks dead ``running``
jobs ``interrupted`` (or ``cancelled`` if a cancel was asked for) and starts ``queued`` jobs while
fewer than :func:`max_concurrent` run. Starting happens inside one ``BEGIN IMMEDIATE`` transaction,
so two reconcilers never start the same job.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hcview import paths
from hcview.errors import InputError, JobError

from .proc import pid_alive, proc_start_time
from .store import FINAL, JobStore

DEFAULT_MAX_JOBS = 1


def max_concurrent() -> int:
    try:
        return max(1, int(os.environ.get("HCVIEW_MAX_JOBS", DEFAULT_MAX_JOBS)))
    except ValueError:
        return DEFAULT_MAX_JOBS


# ---- process identity ------------------------------------------------------------------------
def _spawn(store: JobStore, job: dict, conn) -> None:
    out_dir = Path(job["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "hcview", *job["argv"], "--job-id", job["id"], "--out", str(out_dir),
           "--progress-file", job["progress_path"]]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(paths.ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    env.setdefault("PYTHONUNBUFFERED", "1")
    Path(job["log_path"]).parent.mkdir(parents=True, exist_ok=True)
    with open(job["log_path"], "ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(paths.ROOT), env=env, start_new_session=True)
    store.update(job["id"], conn, status="running", pid=proc.pid, pid_start=proc_start_time(proc.pid),
                 started=time.time())


def reconcile(store: JobStore | None = None, start_queued: bool = True) -> list[tuple[str, str]]:
    """Bring the store in line with reality; returns ``[(job id, new status)]`` for what changed."""
    store = store or JobStore()
    changed = []
    with store.connect(immediate=True) as c:
        for r in c.execute("SELECT * FROM jobs WHERE status = 'running'").fetchall():
            if pid_alive(r["pid"], r["pid_start"]):
                continue
            status = "cancelled" if r["cancel_requested"] else "interrupted"
            reason = None if status == "cancelled" else \
                f"the job's process (pid {r['pid']}) ended without reporting a result (killed or crashed); " \
                "checkpoints written before that point are intact"
            c.execute("UPDATE jobs SET status = ?, error = COALESCE(error, ?), finished = ? WHERE id = ?",
                      (status, reason, time.time(), r["id"]))
            changed.append((r["id"], status))
        if start_queued:
            running = c.execute("SELECT COUNT(*) FROM jobs WHERE status = 'running'").fetchone()[0]
            free = max_concurrent() - running
            if free > 0:
                for r in c.execute("SELECT * FROM jobs WHERE status = 'queued' ORDER BY created LIMIT ?", (free,)).fetchall():
                    job = JobStore._row(r)
                    try:
                        _spawn(store, job, c)
                        changed.append((job["id"], "running"))
                    except OSError as e:
                        c.execute("UPDATE jobs SET status = 'failed', error = ?, finished = ? WHERE id = ?",
                                  (f"could not start the job: {e}", time.time(), job["id"]))
                        changed.append((job["id"], "failed"))
    return changed


def submit(argv: list[str], *, model: str | None = None, variant: str | None = None, config: dict | None = None,
           store: JobStore | None = None, start: bool = True) -> dict:
    """Queue ``python -m hcview <argv>`` as a job and start it if a slot is free."""
    store = store or JobStore()
    job = store.create(argv, model=model, variant=variant, config=config)
    if start:
        reconcile(store)
    return store.get(job["id"])


def submit_train(args_argv: list[str], model: str, variant: str, config: dict | None = None,
                 store: JobStore | None = None) -> dict:
    """A training job; when it succeeds its best checkpoint becomes a new model version (never the active one,
    unless ``--promote-if-better`` says so and it wins)."""
    argv = ["train", *args_argv]
    if "--register" not in argv:
        argv.append("--register")
    return submit(argv, model=model, variant=variant, config=config, store=store)


def cancel(job_id: str, store: JobStore | None = None, wait_s: float = 0.0) -> dict:
    """Queued -> cancelled at once. Running -> SIGTERM; the trainer stops at the next step and the job
    records ``cancelled`` itself (reconcile does it if the process is gone)."""
    store = store or JobStore()
    job = store.get(job_id)
    if job["status"] in FINAL:
        raise JobError(f"job {job['id']} already ended ({job['status']})")
    if job["status"] == "queued":
        store.finish(job["id"], "cancelled", error="cancelled before it started")
        return store.get(job["id"])
    store.request_cancel(job["id"])
    if pid_alive(job["pid"], job["pid_start"]):
        try:
            os.kill(int(job["pid"]), signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + wait_s
    while time.time() < deadline:
        reconcile(store)
        if store.get(job["id"])["status"] in FINAL:
            break
        time.sleep(0.2)
    return store.get(job["id"])


def wait(job_id: str, timeout_s: float = 600, store: JobStore | None = None, poll_s: float = 0.3) -> dict:
    store = store or JobStore()
    deadline = time.time() + timeout_s
    while True:
        reconcile(store)
        job = store.get(job_id)
        if job["status"] in FINAL or time.time() > deadline:
            return job
        time.sleep(poll_s)


# ---- inspection ------------------------------------------------------------------------------
def _tail_bytes(path: str | Path, n_bytes: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n_bytes))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def read_progress(job: dict, last_only: bool = False) -> list[dict]:
    """The progress JSON lines of a job (all, or just the last)."""
    p = job.get("progress_path")
    if not p:
        return []
    text = _tail_bytes(p, 16384) if last_only else (Path(p).read_text() if Path(p).exists() else "")
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a partial first/last line
    return out[-1:] if last_only else out


def log_tail(job: dict, n_lines: int = 50) -> str:
    text = _tail_bytes(job.get("log_path") or "", 64 * 1024).replace("\r", "\n")
    return "\n".join([ln for ln in text.splitlines() if ln.strip()][-n_lines:])


def last_progress(job: dict) -> dict | None:
    """The job's latest progress: the last line, over the last known value of every field before it (a cancelled
    or failed job ends with a line that has no loss or total: it still reports its last step's loss and total)."""
    p = job.get("progress_path")
    if not p:
        return None
    out: dict = {}
    for line in _tail_bytes(p, 65536).splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a partial first/last line
        if isinstance(e, dict):
            out.update({k: v for k, v in e.items() if v is not None})
    return out or None


def job_view(job: dict) -> dict:
    """What ``jobs show`` and the Training page display."""
    return {
        "id": job["id"], "status": job["status"], "model": job.get("model"), "variant": job.get("variant"),
        "pid": job.get("pid"), "created": job.get("created"), "started": job.get("started"),
        "finished": job.get("finished"), "error": job.get("error"), "progress": last_progress(job),
        "log": job.get("log_path"), "progress_file": job.get("progress_path"), "out_dir": job.get("out_dir"),
        "checkpoint": job.get("checkpoint"), "result": job.get("result"), "argv": job.get("argv"),
        "cancel_requested": job.get("cancel_requested"),
    }


def submit_training(model: str, variant: str = "demo", *, data: str | None = None, epochs: int | None = None,
                    max_steps: int | None = None, batch_size: int | None = None, lr: float | None = None,
                    hbce_mode: str | None = None, hbce_indicator: str | None = None, hbce_lambda: float | None = None,
                    curriculum: bool | None = None, store: JobStore | None = None) -> dict:
    """Validate the options (one-line error on a bad one) and queue a training job; what the
    Training page calls. The job adds its best checkpoint as a new version when it succeeds."""
    from hcview.train.config import resolve_config

    opts = {"data": data or None, "epochs": epochs or None, "max_steps": max_steps or None,
            "batch_size": batch_size or None, "lr": lr or None, "hbce_mode": hbce_mode or None,
            "hbce_indicator": hbce_indicator or None, "hbce_lambda": None if hbce_lambda is None else float(hbce_lambda)}
    if hbce_lambda is not None and not 0 <= float(hbce_lambda) < float("inf"):
        raise InputError(f"--hbce-lambda must be a finite number >= 0 (got {hbce_lambda})")
    cfg = resolve_config(model, variant, **opts, curriculum=True if curriculum else None)
    argv = ["--model", model, "--variant", variant]
    for k, v in opts.items():
        if v is not None:
            argv += [f"--{k.replace('_', '-')}", str(v)]
    if curriculum:
        argv.append("--curriculum")
    return submit_train(argv, model, variant, config=cfg, store=store)


def progress_series(job: dict) -> dict:
    """Progress lines split for charts: ``steps`` (step, epoch, loss, lr, eta_s) and ``epochs``
    (step, epoch, val_loss, train_loss, val_* metrics)."""
    steps, epochs = [], []
    for e in read_progress(job):
        if e.get("event") == "step":
            steps.append({k: e.get(k) for k in ("step", "epoch", "loss", "lr", "eta_s")})
        elif e.get("event") == "epoch":
            epochs.append({k: v for k, v in e.items() if k not in ("event", "total_steps")})
    return {"steps": steps, "epochs": epochs}
