"""DICOM reading: de-identify, decode, modality LUT, VOI LUT / window, MONOCHROME1 inversion.

Order (PS3.3 C.11 / C.7.6.3): stored values -> Modality LUT (Rescale slope/intercept or LUT sequence)
-> VOI (a user window, a named preset, the header's WindowCenter/Width or VOI LUT sequence, or the
image's 0.5-99.5 percentile range when the header has none) -> [0, 1] display grey -> invert when
PhotometricInterpretation is MONOCHROME1 (so 'white = dense' always holds on display and for the model).
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from hcview.errors import DicomError

# (center, width) presets in Hounsfield units (CT); applied to whatever the modality LUT gives.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}

# transfer syntax UID -> (name, packages able to decode it)
_DECODERS = {
    "1.2.840.10008.1.2.4.50": ("JPEG Baseline", "pillow, or pylibjpeg with pylibjpeg-libjpeg"),
    "1.2.840.10008.1.2.4.51": ("JPEG Extended", "pylibjpeg with pylibjpeg-libjpeg, or python-gdcm"),
    "1.2.840.10008.1.2.4.57": ("JPEG Lossless", "pylibjpeg with pylibjpeg-libjpeg, or python-gdcm"),
    "1.2.840.10008.1.2.4.70": ("JPEG Lossless SV1", "pylibjpeg with pylibjpeg-libjpeg, or python-gdcm"),
    "1.2.840.10008.1.2.4.80": ("JPEG-LS Lossless", "pylibjpeg with pylibjpeg-libjpeg, or python-gdcm"),
    "1.2.840.10008.1.2.4.81": ("JPEG-LS Near-lossless", "pylibjpeg with pylibjpeg-libjpeg, or python-gdcm"),
    "1.2.840.10008.1.2.4.90": ("JPEG 2000 Lossless", "pylibjpeg with pylibjpeg-openjpeg, or python-gdcm"),
    "1.2.840.10008.1.2.4.91": ("JPEG 2000", "pylibjpeg with pylibjpeg-openjpeg, or python-gdcm"),
    "1.2.840.10008.1.2.5": ("RLE Lossless", "pydicom (built in) or pylibjpeg-rle"),
}


def parse_window(window) -> tuple[str, tuple[float, float] | None]:
    """``None``/'header' -> header; a preset name; ``(center, width)`` or 'C,W' -> user window."""
    if window is None or window == "header" or window == "":
        return "header", None
    if isinstance(window, str):
        w = window.strip().lower()
        if w in WINDOW_PRESETS:
            return w, WINDOW_PRESETS[w]
        parts = w.replace(";", ",").split(",")
        if len(parts) == 2:
            try:
                window = (float(parts[0]), float(parts[1]))
            except ValueError:
                pass
        if isinstance(window, str):
            raise DicomError(f"unknown window {window!r}: use header, {', '.join(WINDOW_PRESETS)} or CENTER,WIDTH")
    c, w = (float(v) for v in window)
    if not w > 0:
        raise DicomError(f"window width must be > 0, got {w:g}")
    return "user", (c, w)


def _linear_window(x: np.ndarray, c: float, w: float) -> np.ndarray:
    # PS3.3 C.11.2.1.2.1 linear function, output scaled to [0, 1]
    if w <= 1:
        return (x > c - 0.5).astype(np.float32)
    y = (x - (c - 0.5)) / (w - 1) + 0.5
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def _first(v):
    try:
        return float(v[0]) if hasattr(v, "__len__") and not isinstance(v, str) else float(v)
    except (TypeError, ValueError, IndexError):
        return None


def read_dicom(src, name: str, frame: int = 0, window=None, max_pixels: int = 0, min_size: int = 0) -> dict:
    """Read, de-identify and convert one frame of a DICOM. Returns a dict for ``LoadedImage``."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    from .deid import deidentify

    fileobj = io.BytesIO(src) if isinstance(src, (bytes, bytearray)) else open(src, "rb")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ds = pydicom.dcmread(fileobj, force=False)
                preamble = True
            except InvalidDicomError:
                fileobj.seek(0)
                ds = pydicom.dcmread(fileobj, force=True)
                preamble = False
                if len(ds) == 0 or "SOPClassUID" not in ds and "PixelData" not in ds and "Modality" not in ds:
                    raise DicomError(f"{name}: not a DICOM file (no DICM header and no readable DICOM elements)")
        eof = any("end of file" in str(w.message).lower() or "truncat" in str(w.message).lower() for w in caught)
        if eof or (preamble and len(ds) == 0):
            raise DicomError(f"{name}: DICOM file is truncated (it ends before its data does)")
    except DicomError:
        raise
    except Exception as e:  # pydicom raises many types on garbage / truncated headers
        raise DicomError(f"{name}: cannot read the DICOM header (truncated or corrupt file: {type(e).__name__})") from None
    finally:
        fileobj.close()

    ds, removed = deidentify(ds)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise DicomError(f"{name}: DICOM has no pixel data (modality {ds.get('Modality', '?')}, "
                         f"SOP class {getattr(ds.get('SOPClassUID', None), 'name', '?')}); nothing to display")
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        raise DicomError(f"{name}: DICOM pixel module is incomplete (Rows/Columns missing)") from None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if max_pixels and rows * cols * frames > max_pixels:
        raise DicomError(f"{name}: DICOM is {cols}x{rows}x{frames} pixels, over the limit of "
                         f"{max_pixels / 1e6:.0f} megapixels")
    if min_size and min(rows, cols) < min_size:
        raise DicomError(f"{name}: DICOM image is {cols}x{rows} pixels; the minimum is {min_size}x{min_size}")
    if not 0 <= frame < frames:
        raise DicomError(f"{name}: frame {frame} requested but the DICOM has {frames} frame(s) (0..{frames - 1})")

    tsuid = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if "PixelData" in ds and tsuid not in _DECODERS:  # native (uncompressed): check the length up front
        spp = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.get("BitsAllocated", 8) or 8)
        expected = (rows * cols * frames * spp * bits + 7) // 8
        have = len(ds.PixelData or b"")
        if have < expected:
            raise DicomError(f"{name}: DICOM file is truncated (pixel data has {have} of {expected} bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except Exception as e:
        msg = " ".join(str(e).split())
        if tsuid in _DECODERS and ("plugin" in msg.lower() or "decod" in msg.lower() or "missing" in msg.lower()
                                   or "not supported" in msg.lower() or "unable" in msg.lower()):
            tname, pkgs = _DECODERS[tsuid]
            if "missing" in msg.lower() or "plugins" in msg.lower() or "no pixel data handlers" in msg.lower():
                raise DicomError(f"{name}: compressed transfer syntax {tname} ({tsuid}) needs a decoder that is not "
                                 f"installed: install {pkgs}") from None
        raise DicomError(f"{name}: cannot decode the DICOM pixel data (truncated or corrupt: {msg[:120]})") from None
    if frames > 1 and arr.ndim >= 3 and arr.shape[0] == frames:
        arr = arr[frame]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    window_kind, win = parse_window(window)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):  # colour DICOM (RGB after pydicom's YBR conversion)
        rgb = arr[..., :3].astype(np.float32)
        top = float(2 ** int(ds.get("BitsStored", 8)) - 1)
        grey = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / max(top, 1.0)
        raw = grey.astype(np.float32)
        display = np.clip(raw, 0, 1)
        window_used = "none (colour image)"
    else:
        if arr.ndim != 2:
            raise DicomError(f"{name}: unsupported DICOM pixel array shape {tuple(arr.shape)}")
        raw = np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
        if win is not None:
            display = _linear_window(raw, *win)
            window_used = f"{window_kind} (C={win[0]:g}, W={win[1]:g})"
        elif "WindowCenter" in ds and "WindowWidth" in ds and _first(ds.WindowWidth):
            c, w = _first(ds.WindowCenter), _first(ds.WindowWidth)
            if str(ds.get("VOILUTFunction", "LINEAR")).upper() == "SIGMOID":
                display = (1.0 / (1.0 + np.exp(-4.0 * (raw - c) / w))).astype(np.float32)
            else:
                display = _linear_window(raw, c, w)
            window_used = f"header (C={c:g}, W={w:g})"
        elif "VOILUTSequence" in ds:
            v = np.asarray(apply_voi_lut(arr, ds, index=0), dtype=np.float32)
            lo, hi = float(v.min()), float(v.max())
            display = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
            window_used = "header VOI LUT sequence"
        else:
            lo, hi = np.percentile(raw, [0.5, 99.5]) if raw.size else (0.0, 1.0)
            if hi <= lo:
                lo, hi = float(raw.min()), float(raw.max())
            display = np.clip((raw - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(raw)
            window_used = f"auto 0.5-99.5 percentile (C={(lo + hi) / 2:g}, W={hi - lo:g})"
        if photometric == "MONOCHROME1":
            display = 1.0 - display
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    meta = {
        "modality": str(ds.get("Modality", "")),
        "size": [cols, rows],
        "pixel_spacing_mm": [float(s) for s in spacing] if spacing else None,
        "photometric": photometric,
        "inverted": photometric == "MONOCHROME1",
        "bits_stored": int(ds.get("BitsStored", 0) or 0),
        "bits_allocated": int(ds.get("BitsAllocated", 0) or 0),
        "frames": frames,
        "frame": frame,
        "window": window_used,
        "transfer_syntax": getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None) and
        pydicom.uid.UID(tsuid).name,
        "rescale": [float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)],
        "view": str(ds.get("ViewPosition", "")),
        "sex": str(ds.get("PatientSex", "")),
        "age": str(ds.get("PatientAge", "")),
        "deid": True,
    }
    return {"array": np.ascontiguousarray(display, dtype=np.float32), "raw": raw, "meta": meta,
            "deid_removed": removed, "dataset": ds}


def is_dicom_name(name: str | None) -> bool:
    return bool(name) and Path(name).suffix.lower() in (".dcm", ".dicom", ".dic")
