"""The input limits, in one place, for the UI and the CLI alike.

``max_input_bytes()`` is THE size limit: it applies to the bytes of an uploaded or named file (image,
DICOM, records CSV, predictions CSV) and to the *declared* decoded pixel data of an image (checked from
the header, before anything is decoded or inflated). It is ``MAX_INPUT_MB`` (200) mebibytes unless the
environment variable ``HCVIEW_MAX_INPUT_MB`` says otherwise. Streamlit's upload cap
(``server.maxUploadSize`` in ``.streamlit/config.toml``) is set to the same number; a test keeps them equal.

``MAX_PIXELS`` bounds the pixel count of one decoded frame (a decompression-bomb guard that also holds
for images whose file is small).

``check_data_root(path)`` says whether a server-side path may be read by the UI: only inside the folders
listed in ``HCVIEW_DATA_ROOTS`` (``os.pathsep``-separated; default: the project's ``data/`` folder).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from hcview.errors import InputError

MAX_INPUT_MB = 200            # default of the one size limit (MiB); Streamlit's maxUploadSize matches it
MAX_PIXELS = 64_000_000       # pixels of one decoded frame (8000 x 8000)
MIN_SIZE = 16                 # smallest accepted image side in pixels


class TooLargeError(InputError):
    """A file, or the pixel data its header declares, is over the size limit."""


def max_input_mb() -> int:
    """The size limit in MiB (``HCVIEW_MAX_INPUT_MB`` overrides the default; invalid values are ignored)."""
    raw = os.environ.get("HCVIEW_MAX_INPUT_MB", "").strip()
    if raw:
        try:
            v = int(float(raw))
            if v > 0:
                return v
        except ValueError:
            pass
    return MAX_INPUT_MB


def max_input_bytes() -> int:
    return max_input_mb() * 1024 * 1024


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def check_size(n_bytes: int, name: str, what: str = "file") -> None:
    """Raise :class:`TooLargeError` when ``n_bytes`` is over the limit. ``what`` words the message
    ('file', 'declared pixel data', ...)."""
    limit = max_input_bytes()
    if n_bytes > limit:
        raise TooLargeError(f"{name}: {what} is {_mb(n_bytes)}, over the {max_input_mb()} MB input limit")


def check_file_size(path, name: str | None = None, what: str = "file") -> int:
    """Size of ``path`` in bytes, after checking it against the limit (from ``stat``: nothing is read).
    Only regular files: a FIFO or a device (``/dev/zero``) would block or never end."""
    p = Path(path)
    st = p.stat()
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name or p.name}: not a regular file")
    check_size(st.st_size, name or p.name, what)
    return st.st_size


def read_limited(path, name: str | None = None, what: str = "file") -> bytes:
    """Read a whole file, refusing one over the limit before reading it (and one that grows past it)."""
    p = Path(path)
    name = name or p.name
    check_file_size(p, name, what)
    limit = max_input_bytes()
    with open(p, "rb") as f:
        data = f.read(limit + 1)
    check_size(len(data), name, what)
    return data


def data_roots() -> list[Path]:
    """Folders the UI may read server-side paths from (``HCVIEW_DATA_ROOTS``, else the project's ``data/``)."""
    raw = os.environ.get("HCVIEW_DATA_ROOTS")
    if raw is None or not raw.strip():
        from hcview.paths import ROOT

        return [(ROOT / "data").resolve()]
    return [Path(r).expanduser().resolve() for r in raw.split(os.pathsep) if r.strip()]


def check_data_root(path) -> Path:
    """The resolved ``path`` when it lies inside one of :func:`data_roots` (symlinks and ``..`` resolved
    first), else a one-line :class:`InputError`. Used for server-side paths typed into the UI."""
    try:
        p = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        raise InputError(f"{path}: not a usable path") from None
    roots = data_roots()
    for r in roots:
        if p == r or p.is_relative_to(r):
            return p
    where = ", ".join(str(r) for r in roots) or "(none)"
    raise InputError(f"{path}: outside the allowed data folders ({where}); set HCVIEW_DATA_ROOTS to allow more")
