"""Device choice: CUDA when present, CPU otherwise (or what the user asks for)."""
from __future__ import annotations

import torch

from hcview.errors import InputError


def pick_device(preference: str | None = None) -> torch.device:
    if preference in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda was requested but no CUDA GPU is available; use --device cpu")
    if preference not in ("cpu",) and not preference.startswith("cuda"):
        raise InputError(f"unknown device {preference!r}; use cpu or cuda")
    return torch.device(preference)


def describe() -> str:
    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU ({torch.get_num_threads()} threads)"
