"""Where the project keeps its files. Everything is relative to the repository root
unless overridden with environment variables (tests point them at a tmp dir)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """Checkpoints and model cards (``models/`` at the top level)."""
    return Path(os.environ.get("HCVIEW_MODELS_DIR", ROOT / "models"))


def samples_dir() -> Path:
    """The bundled real sample pack."""
    return Path(os.environ.get("HCVIEW_SAMPLES_DIR", ROOT / "data" / "samples"))


def var_dir() -> Path:
    """Runtime state: job database, job logs, evaluation outputs."""
    p = Path(os.environ.get("HCVIEW_VAR_DIR", ROOT / "var"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def data_roots() -> list[Path]:
    """Folders whose files the pages may open by a typed path: the bundled samples, plus the dataset roots
    an administrator lists in ``HCVIEW_DATA_ROOTS`` (``os.pathsep``-separated). Resolved."""
    roots = [samples_dir()] + [Path(p.strip()).expanduser() for p in
                               os.environ.get("HCVIEW_DATA_ROOTS", "").split(os.pathsep) if p.strip()]
    return [r.resolve() for r in roots]


def check_data_root(path) -> Path:
    """``path`` resolved (symlinks followed) when it lies inside one of :func:`data_roots`.

    Anything else raises ``InputError`` with one line that says the same whether or not the path exists.
    """
    from hcview.errors import InputError

    text = str(path or "").strip()
    try:
        p = Path(text).expanduser().resolve() if text else None
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte: refused like any other
        p = None
    if p is not None and any(p == r or p.is_relative_to(r) for r in data_roots()):
        return p
    raise InputError(f"{text or 'an empty path'} is outside the data folders this server allows: upload the "
                     "file, or ask the administrator to add its folder to HCVIEW_DATA_ROOTS")


def portable(path) -> str:
    """A path as it should be recorded in model cards and reports: relative to the project root when
    inside it (so a clone elsewhere reads the same card), absolute otherwise."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)
