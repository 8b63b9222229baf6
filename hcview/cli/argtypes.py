"""Reusable argparse ``type=`` validators: a bad value is refused by the parser, in one line.

Numbers are parsed strictly: ints must be whole numbers, floats must be finite (no ``nan`` / ``inf``),
and each validator states its range in the message, e.g. ``--bins: must be 0 (off) or an integer >= 2, got -1``.
"""
from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

_INT_RE = re.compile(r"^[+-]?\d+$")


def _int(text: str) -> int:
    t = str(text).strip()
    if not _INT_RE.match(t):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(t)


def _float(text: str) -> float:
    try:
        v = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def _named(fn, name: str):
    fn.__name__ = name  # argparse quotes the type's name in some messages
    return fn


def int_range(lo: int | None = None, hi: int | None = None, what: str | None = None):
    """An int in ``[lo, hi]`` (either bound may be None)."""
    def parse(text: str) -> int:
        v = _int(text)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = what or (f"an integer >= {lo}" if hi is None else f"an integer <= {hi}" if lo is None
                           else f"an integer in {lo}..{hi}")
            raise argparse.ArgumentTypeError(f"must be {rng}, got {text!r}")
        return v
    return _named(parse, "int")


def float_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
                what: str | None = None):
    """A finite float in the interval given (open or closed at each end; either bound may be None)."""
    def parse(text: str) -> float:
        v = _float(text)
        bad = (lo is not None and (v <= lo if lo_open else v < lo)) or \
              (hi is not None and (v >= hi if hi_open else v > hi))
        if bad:
            if what:
                rng = what
            else:
                left = "" if lo is None else ("(" if lo_open else "[") + f"{lo:g}"
                right = "" if hi is None else f"{hi:g}" + (")" if hi_open else "]")
                rng = (f"a number in {left}, {right}" if lo is not None and hi is not None else
                       f"a number {'>' if lo_open else '>='} {lo:g}" if lo is not None else
                       f"a number {'<' if hi_open else '<='} {hi:g}")
            raise argparse.ArgumentTypeError(f"must be {rng}, got {text!r}")
        return v
    return _named(parse, "float")


positive_int = int_range(1)
non_negative_int = int_range(0)
finite_float = float_range()
positive_float = float_range(0, lo_open=True, what="a finite number > 0")
non_negative_float = float_range(0, what="a finite number >= 0")
probability = float_range(0, 1)
fraction_open = float_range(0, 1, lo_open=True, hi_open=True, what="a fraction strictly between 0 and 1")


def zero_or_at_least(k: int, zero_means: str = "off"):
    """0 (meaning ``zero_means``) or an int >= k."""
    def parse(text: str) -> int:
        v = _int(text)
        if v != 0 and v < k:
            raise argparse.ArgumentTypeError(f"must be 0 ({zero_means}) or an integer >= {k}, got {text!r}")
        return v
    return _named(parse, "int")


def auto_or_positive_int(text: str) -> str:
    """'auto' or an int >= 1 (returned as the string the config expects)."""
    t = str(text).strip().lower()
    if t == "auto":
        return "auto"
    return str(positive_int(t))


auto_or_positive_int = _named(auto_or_positive_int, "threads")


def top_spec(text: str) -> str:
    """Explanation targets: 'all', 'topN' (N >= 1) or a comma list of labels / head:label."""
    t = str(text).strip()
    if not t:
        raise argparse.ArgumentTypeError("must not be empty: use all, topN (N >= 1) or LABEL[,LABEL...]")
    m = re.fullmatch(r"(?i)top\s*([+-]?\d*)", t)
    if m:
        n = m.group(1)
        if not n or not _INT_RE.match(n) or int(n) < 1:
            raise argparse.ArgumentTypeError(f"topN needs N >= 1, got {text!r}")
        return f"top{int(n)}"
    if not [x for x in t.split(",") if x.strip()]:
        raise argparse.ArgumentTypeError(f"no label in {text!r}")
    return t


top_spec = _named(top_spec, "target")


def output_dir(text: str) -> str:
    """A folder to write into: it may exist (as a folder) or be created; a file in the way is refused."""
    t = str(text)
    if not t.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    if "\x00" in t:
        raise argparse.ArgumentTypeError("contains a NUL character")
    p = Path(t).expanduser()
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"{t} is an existing file, not a folder")
    _creatable(p, t)
    return t


def _creatable(p: Path, t: str) -> None:
    """The nearest existing ancestor of ``p`` must be a folder."""
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{parent} is a file, so {t} cannot be created")
            break


output_dir = _named(output_dir, "folder")


def output_file(text: str) -> str:
    """A file to write: not an existing folder, and its folder is not a file."""
    t = str(text)
    if not t.strip() or "\x00" in t:
        raise argparse.ArgumentTypeError("must be a file name")
    p = Path(t).expanduser()
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{t} is a folder; give a file name")
    _creatable(p, t)
    return t


output_file = _named(output_file, "file")


def window_spec(text: str) -> str:
    """A DICOM window: header, a preset name, or CENTER,WIDTH with WIDTH > 0 (checked here, not at decode)."""
    from hcview.data.dicom import parse_window
    from hcview.errors import HcviewError

    try:
        parse_window(text)
    except HcviewError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


window_spec = _named(window_spec, "window")
