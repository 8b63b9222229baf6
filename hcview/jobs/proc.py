"""Process helpers shared by the job store and runner: is a pid alive, and is it still the same process."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    # the command name (field 2) may contain spaces: split after the closing parenthesis
    return raw[raw.rfind(")") + 2:].split()


def proc_start_time(pid: int) -> str | None:
    """The process start time in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    st = _stat(pid)
    return st[19] if st and len(st) > 19 else None


def pid_alive(pid: int | None, start: str | None = None) -> bool:
    """True if ``pid`` runs, is not a zombie, and (when given) started at ``start`` (no pid reuse)."""
    if not pid:
        return False
    st = _stat(pid)
    if st is None:
        if sys.platform.startswith("linux"):
            return False
        try:  # non-Linux fallback: signal 0
            os.kill(int(pid), 0)
            return True
        except OSError:
            return False
    if st[0] in ("Z", "X"):
        try:  # reap our own child if it is one
            os.waitpid(int(pid), os.WNOHANG)
        except (ChildProcessError, OSError):
            pass
        return False
    return start is None or st[19] == str(start)


# ---- launching -------------------------------------------------------------------------------
