"""Case reports (HTML, PDF, JSON) and reader feedback.

- :mod:`hcview.report.case`: :func:`~hcview.report.case.build_report` collects one case (de-identified image,
  findings tree, MC bands, flags, heat maps with their validity note, model version and card summary, reader
  feedback, software version) into a JSON-safe dict plus PNGs;
- :mod:`hcview.report.html` / :mod:`hcview.report.pdf`: the two renderers (every string escaped / placed as text);
- :mod:`hcview.report.feedback`: the reader-feedback store (SQLite beside the job store) and agreement per label;
- :func:`make_case_report`: path or bytes -> report, the one path the CLI (``python -m hcview report``) and the
  Case review page share.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

FORMATS = ("html", "pdf", "json")


def case_hash(data: bytes, frame: int = 0, frames: int = 1) -> str:
    """The key of a case: sha256 of the file's bytes, plus ``#frame`` for a frame of a multi-frame DICOM."""
    h = hashlib.sha256(data).hexdigest()
    return f"{h}#{frame}" if frames > 1 else h


def render(report, fmt: str) -> bytes:
    """One format of a :class:`~hcview.report.case.CaseReport` as bytes."""
    if fmt == "html":
        from .html import render_html

        return render_html(report).encode("utf-8")
    if fmt == "pdf":
        from .pdf import render_pdf

        return render_pdf(report)
    if fmt == "json":
        return (report.to_json() + "\n").encode("utf-8")
    raise ValueError(f"unknown report format {fmt!r}; use {', '.join(FORMATS)}")


def write_reports(report, out_dir, formats=FORMATS) -> dict[str, Path]:
    """Write ``<out_dir>/<case>.<fmt>`` atomically for each format; returns fmt -> path."""
    from hcview.io_utils import atomic_write_bytes

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {fmt: atomic_write_bytes(out_dir / f"{report.slug}.{fmt}", render(report, fmt)) for fmt in formats}


def make_case_report(pred, source, *, name: str | None = None, frame: int = 0, window=None, mc: int = 10,
                     methods=("gradcam", "lrp"), target: str = "default", record: dict | None = None,
                     threshold: float = 0.5, alpha: float = 0.5, cmap: str = "viridis", truth: str | None = None,
                     seed: int = 0):
    """Load ``source`` (a path or bytes), predict with ``pred`` (MC dropout ``mc`` passes), explain ``target`` by
    each of ``methods`` and build the report, with the reader feedback stored for this case and model version."""
    from hcview.data.io import load_image, read_limited

    from . import feedback
    from .case import build_report

    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = name or "upload"
        loaded = load_image(data, name=name, frame=frame, window=window)
    else:
        p = Path(source)
        name = name or p.name
        loaded = load_image(p, name=name, frame=frame, window=window)  # typed one-line errors for bad files
        data = read_limited(p, name)
    frames = int(loaded.meta.get("frames") or 1)
    key = case_hash(data, frame, frames)
    res = pred.predict(loaded, record=record, mc=mc, seed=seed)
    maps = pred.explain(res, tuple(methods), target) if methods else []
    fb = feedback.for_case(key, res.sha256)
    return build_report(pred, loaded, res, case_hash=key, maps=maps, feedback=fb, threshold=threshold, alpha=alpha,
                        cmap=cmap, truth=truth)
