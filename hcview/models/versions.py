"""Model versions: a training job never replaces a model silently.

Every ``(model, variant)`` has immutable versions and one *active* pointer:

- version 1 is the shipped checkpoint in the repository (``models/<id>-<variant>.pt`` + ``.json``), when there is
  one; it is never overwritten by a job, so it can always be restored;
- every successful training job adds version N >= 2 under ``var/models/<id>-<variant>/vN/`` (``model.pt`` +
  ``model.json``: the job id, data spec, validation metrics on its validation split, sha256, created_at);
- ``var/models/<id>-<variant>/ACTIVE.json`` names the active version and the promotion history; without it the
  shipped version is active (or none: an untrained model).

Writes are atomic and serialised. A version is written into a temporary folder (files fsynced), then renamed into
place in one step; the pointer is a temp file, fsync, rename. Both happen under an exclusive file lock
(``.lock``). A process killed at any instant therefore leaves the previous active version loadable: either the new
folder or pointer is complete and in place, or it is not there at all. Leftover temporary folders are removed the
next time the lock is taken.

Only promotion (:func:`promote`, explicit or ``--promote-if-better``) and :func:`rollback` move the pointer.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from hcview import paths
from hcview.errors import CheckpointError, InputError
from hcview.io_utils import atomic_write_bytes, atomic_write_json, sha256_file

SHIPPED = 1
POINTER = "ACTIVE.json"


def shipped_path(model_id: str, variant: str) -> Path:
    return paths.models_dir() / f"{model_id}-{variant}.pt"


def store_dir(model_id: str, variant: str) -> Path:
    return paths.var_dir() / "models" / f"{model_id}-{variant}"


def _card_of(weights: Path) -> Path:
    return weights.with_suffix(".json")


def version_path(model_id: str, variant: str, version: int) -> Path:
    """The weights file of ``version`` (it may not exist)."""
    if version == SHIPPED:
        return shipped_path(model_id, variant)
    return store_dir(model_id, variant) / f"v{int(version)}" / "model.pt"


def _exists(weights: Path) -> bool:
    return weights.exists() and _card_of(weights).exists()


def _numbers(model_id: str, variant: str) -> list[int]:
    out = [SHIPPED] if _exists(shipped_path(model_id, variant)) else []
    d = store_dir(model_id, variant)
    if d.is_dir():
        for p in d.iterdir():
            if p.is_dir() and p.name[:1] == "v" and p.name[1:].isdigit() and _exists(p / "model.pt"):
                out.append(int(p.name[1:]))
    return sorted(out)


def _read_pointer(model_id: str, variant: str) -> dict | None:
    p = store_dir(model_id, variant) / POINTER
    try:
        d = json.loads(p.read_text())
        return d if isinstance(d, dict) and isinstance(d.get("version"), int) else None
    except (OSError, ValueError):
        return None


def active_version(model_id: str, variant: str) -> int | None:
    ptr = _read_pointer(model_id, variant)
    if ptr is not None and _exists(version_path(model_id, variant, ptr["version"])):
        return ptr["version"]
    return SHIPPED if _exists(shipped_path(model_id, variant)) else None


def active_checkpoint(model_id: str, variant: str) -> Path | None:
    """The weights file every page and command loads for ``(model, variant)``."""
    v = active_version(model_id, variant)
    return None if v is None else version_path(model_id, variant, v)


def read_version_card(model_id: str, variant: str, version: int) -> dict:
    w = version_path(model_id, variant, version)
    if not _exists(w):
        raise InputError(f"{model_id}/{variant} has no version {version} (versions: "
                         f"{', '.join(map(str, _numbers(model_id, variant))) or 'none'})")
    try:
        return json.loads(_card_of(w).read_text())
    except ValueError:
        raise CheckpointError(f"the card of {model_id}/{variant} version {version} is not valid JSON") from None


def list_versions(model_id: str, variant: str) -> list[dict]:
    """Every version with its metrics, sha256, created_at, job id, data spec and whether it is active."""
    active = active_version(model_id, variant)
    rows = []
    for n in _numbers(model_id, variant):
        card = read_version_card(model_id, variant, n)
        m = card.get("metrics") or {}
        rows.append({"version": n, "active": n == active, "shipped": n == SHIPPED, "sha256": card.get("sha256"),
                     "created_at": card.get("saved_at"), "job_id": card.get("job_id"),
                     "data": (card.get("data") or {}).get("spec"), "val_metrics": m.get("val") or {},
                     "test_metrics": m.get("test") or {}, "comparison": card.get("promotion_check"),
                     "path": paths.portable(version_path(model_id, variant, n))})
    return rows


@contextmanager
def locked(model_id: str, variant: str):
    """Exclusive lock for every change to this (model, variant)'s versions; cleans up interrupted writes."""
    d = store_dir(model_id, variant)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            for p in d.iterdir():  # only a killed writer leaves these, and no writer runs while we hold the lock
                if p.name.startswith(".tmp-"):
                    shutil.rmtree(p, ignore_errors=True)
            yield d
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_synced(src: Path, dst: Path) -> None:
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        shutil.copyfileobj(fi, fo, 1 << 20)
        fo.flush()
        os.fsync(fo.fileno())


def add_version(model_id: str, variant: str, weights: str | Path, extra: dict | None = None) -> int:
    """Add the checkpoint ``weights`` (with its card beside it) as a new immutable version; returns its number.
    The active pointer does not move."""
    src = Path(weights)
    card = json.loads(_card_of(src).read_text())
    card.update(extra or {})
    with locked(model_id, variant) as d:
        n = max([SHIPPED, *_numbers(model_id, variant)]) + 1
        tmp = d / f".tmp-{os.getpid()}-v{n}"
        tmp.mkdir()
        _copy_synced(src, tmp / "model.pt")
        card.update({"version": n, "weights_file": "model.pt",
                     "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        atomic_write_json(tmp / "model.json", card)
        _fsync_dir(tmp)
        os.rename(tmp, d / f"v{n}")  # one step: the version is there whole, or not at all
        _fsync_dir(d)
    return n


def _label_space_name(card: dict) -> str | None:
    return (card.get("label_space") or {}).get("name")


def promote(model_id: str, variant: str, version: int, comparison: dict | None = None) -> dict:
    """Make ``version`` active. Refuses (one line) a version of another label space or one whose weights fail
    their sha256."""
    with locked(model_id, variant) as d:
        card = read_version_card(model_id, variant, version)
        cur = active_version(model_id, variant)
        if cur is not None:
            cur_card = read_version_card(model_id, variant, cur)
            if _label_space_name(cur_card) != _label_space_name(card):
                raise InputError(f"version {version} of {model_id}/{variant} predicts label space "
                                 f"{_label_space_name(card)!r}, the active version {cur} {_label_space_name(cur_card)!r}: "
                                 "not promoted")
        if sha256_file(version_path(model_id, variant, version)) != card.get("sha256"):
            raise CheckpointError(f"version {version} of {model_id}/{variant} failed its sha256 check: not promoted")
        ptr = _read_pointer(model_id, variant) or {"history": [cur] if cur is not None else []}
        history = [v for v in ptr.get("history", []) if isinstance(v, int)] + [int(version)]
        new = {"version": int(version), "sha256": card.get("sha256"), "history": history,
               "changed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "comparison": comparison}
        atomic_write_json(d / POINTER, new)
        _fsync_dir(d)
        return new


def rollback(model_id: str, variant: str) -> dict:
    """Return to the version that was active before the last promotion."""
    with locked(model_id, variant) as d:
        ptr = _read_pointer(model_id, variant)
        history = [v for v in (ptr or {}).get("history", []) if isinstance(v, int)]
        cur = active_version(model_id, variant)
        if len(history) < 2:
            raise InputError(f"{model_id}/{variant}: nothing to roll back to (version {cur} is the first active one)")
        history = history[:-1]
        target = history[-1]
        card = read_version_card(model_id, variant, target)
        new = {"version": target, "sha256": card.get("sha256"), "history": history,
               "changed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "comparison": None}
        atomic_write_json(d / POINTER, new)
        _fsync_dir(d)
        return new


def restore_shipped(model_id: str, variant: str) -> dict:
    """Make the shipped version active again (it is always restorable)."""
    if not _exists(shipped_path(model_id, variant)):
        raise InputError(f"{model_id}/{variant} has no shipped version")
    return promote(model_id, variant, SHIPPED)


def write_shipped(src: str | Path, dst: str | Path, trained_run: str | None = None) -> Path:
    """(Re)write the shipped version from a run's checkpoint (``python -m hcview demo`` reproduces it).

    Under the lock, the old weights stay reachable as ``<name>.pt.prev`` (a hard link) until the new card is in
    place; a process killed between the weights and the card leaves a card whose sha256 matches ``.prev``, and
    the loader uses that (:func:`hcview.models.checkpoint.load_state`)."""
    src, dst = Path(src), Path(dst)
    card = json.loads(_card_of(src).read_text())
    card.update({"weights_file": dst.name, "trained_run": trained_run, "version": SHIPPED})
    data = src.read_bytes()
    with locked(card["id"], card["variant"]):
        prev = dst.with_name(dst.name + ".prev")
        if _exists(dst):
            tmp = prev.with_name(prev.name + ".tmp")
            tmp.unlink(missing_ok=True)
            os.link(dst, tmp)
            os.replace(tmp, prev)
        atomic_write_bytes(dst, data)
        atomic_write_json(_card_of(dst), card)
        prev.unlink(missing_ok=True)
    return dst
