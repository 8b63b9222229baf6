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


def portable(path) -> str:
    """A path as it should be recorded in model cards and reports: relative to the project root when
    inside it (so a clone elsewhere reads the same card), absolute otherwise."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)
