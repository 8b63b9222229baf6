"""Device choice: CUDA when present, CPU otherwise (or what the user asks for). torch is imported on first use, so
the app's first page can say what it will compute on without paying for the torch import."""
from __future__ import annotations

import glob
import os
import sys
from typing import TYPE_CHECKING

from hcview.errors import InputError

if TYPE_CHECKING:
    import torch


def pick_device(preference: str | None = None) -> "torch.device":
    import torch

    if preference in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda was requested but no CUDA GPU is available; use --device cpu")
    if preference not in ("cpu",) and not preference.startswith("cuda"):
        raise InputError(f"unknown device {preference!r}; use cpu or cuda")
    return torch.device(preference)


def _probe_gpu_name() -> str | None:
    """The first NVIDIA GPU's model name from the driver's /proc files, when the installed torch is a CUDA build;
    None otherwise. No torch import, no CUDA context."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return None  # every GPU hidden from CUDA
    try:
        from importlib.metadata import version

        if "+cpu" in version("torch"):
            return None
    except Exception:
        return None
    for info in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        try:
            with open(info) as f:
                for line in f:
                    if line.startswith("Model:"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            continue
    return None


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def describe() -> str:
    """"GPU: <name>" or "CPU (N cores)": from torch when it is already imported, else from the driver's files."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)}"
    else:
        name = _probe_gpu_name()
        if name:
            return f"GPU: {name}"
    return f"CPU ({available_cores()} cores)"
