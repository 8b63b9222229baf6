"""DICOM reading: bounded header-first parsing, de-identification, decode, modality LUT, VOI LUT / window,
MONOCHROME1 inversion.

Memory is bounded before any pixel is touched: the header is read on its own (``stop_before_pixels``; for
the Deflated transfer syntax by inflating only a bounded prefix of the stream), the declared pixel data
(Rows x Columns x frames x samples x bytes) is checked against :func:`hcview.limits.max_input_bytes` and the
frame against ``MAX_PIXELS``, and only then is the rest read (a deflated stream is inflated with a bounded
``zlib.decompressobj``: it can never grow past the limit). Every header value used is validated, so a
crafted file gives one :class:`DicomError` line, never a traceback.

Order (PS3.3 C.11 / C.7.6.3): stored values -> Modality LUT (Rescale slope/intercept or LUT sequence)
-> VOI (a user window, a named preset, the header's WindowCenter/Width or VOI LUT sequence, or the
image's 0.5-99.5 percentile range when the header has none) -> [0, 1] display grey -> invert when
PhotometricInterpretation is MONOCHROME1 (so 'white = dense' always holds on display and for the model).
PALETTE COLOR images go through their palette (a missing palette is refused, never shown as grey).
"""
from __future__ import annotations

import io
import math
import warnings
import zlib
from pathlib import Path

import numpy as np

from hcview.errors import DicomError
from hcview.limits import check_size, max_input_bytes, max_input_mb, read_limited

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
    "1.2.840.10008.1.2.4.201": ("HTJ2K Lossless", "pylibjpeg with pylibjpeg-openjpeg"),
    "1.2.840.10008.1.2.4.202": ("HTJ2K Lossless RPCL", "pylibjpeg with pylibjpeg-openjpeg"),
    "1.2.840.10008.1.2.4.203": ("HTJ2K", "pylibjpeg with pylibjpeg-openjpeg"),
    "1.2.840.10008.1.2.5": ("RLE Lossless", "pydicom (built in) or pylibjpeg-rle"),
}
_JPEG_FAMILY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
                "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
_J2K_FAMILY = {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
               "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"}
DEFLATED = "1.2.840.10008.1.2.1.99"
_NATIVE = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", DEFLATED, ""}

PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_420",
                "YBR_ICT", "YBR_RCT", "PALETTE COLOR")
_HEADER_PREFIX = (64 * 1024, 1024 * 1024, 8 * 1024 * 1024)  # inflated bytes tried for a deflated header
_VRS = frozenset("AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR "
                 "US UT UV".split())

BURNED_IN_WARNING = "BurnedInAnnotation is YES: the pixels may contain identifying text (names, dates, IDs)"


def parse_window(window) -> tuple[str, tuple[float, float] | None]:
    """``None``/'header' -> header; a preset name; ``(center, width)`` or 'C,W' -> user window."""
    if window is None or window == "header" or window == "":
        return "header", None
    if isinstance(window, str):
        w = window.strip().lower()
        if w in ("header", ""):
            return "header", None
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
    try:
        c, w = (float(v) for v in window)
    except (TypeError, ValueError):
        raise DicomError(f"unknown window {window!r}: use header, {', '.join(WINDOW_PRESETS)} or CENTER,WIDTH") from None
    if not (math.isfinite(c) and math.isfinite(w)):
        raise DicomError(f"window center and width must be finite numbers, got {c:g},{w:g}")
    if not w > 0:
        raise DicomError(f"window width must be > 0, got {w:g}")
    return "user", (c, w)


def looks_like_dicom(head: bytes) -> bool:
    """A DICOM data set without the 128-byte preamble / DICM magic: its first element parses as a
    plausible group 0002-0028 element, explicit VR (two valid VR letters) or implicit VR (a small length)."""
    if len(head) < 12:
        return False
    group = int.from_bytes(head[0:2], "little")
    elem = int.from_bytes(head[2:4], "little")
    if group not in (0x0002, 0x0004, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028):
        return False
    vr = head[4:6]
    try:
        if vr.decode("ascii") in _VRS:
            return True
    except UnicodeDecodeError:
        pass
    length = int.from_bytes(head[4:8], "little")
    if length == 0xFFFFFFFF or length > 1 << 16 or elem > 0x9FFF:
        return False
    # implicit VR: the next element must also start with a plausible group
    nxt = 8 + length
    if len(head) >= nxt + 2:
        g2 = int.from_bytes(head[nxt:nxt + 2], "little")
        return g2 >= group and g2 <= 0x7FE0
    return True


def _linear_window(x: np.ndarray, c: float, w: float) -> np.ndarray:
    # PS3.3 C.11.2.1.2.1 linear function, output scaled to [0, 1]
    if w <= 1:
        return (x > c - 0.5).astype(np.float32)
    y = (x - (c - 0.5)) / (w - 1) + 0.5
    return np.clip(y, 0.0, 1.0).astype(np.float32)


def _first(v):
    try:
        x = float(v[0]) if hasattr(v, "__len__") and not isinstance(v, str) else float(v)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------------------------------------
# header values, validated
# ---------------------------------------------------------------------------------------------------
def _raw_value(ds, kw: str, name: str):
    try:
        return ds.get(kw, None)
    except Exception:  # a value pydicom cannot convert (wrong length for its VR, bad characters, ...)
        raise DicomError(f"{name}: DICOM attribute {kw} cannot be read (malformed value)") from None


def _int_attr(ds, kw: str, name: str, default: int | None = None, lo: int | None = None,
              hi: int | None = None, choices: tuple | None = None) -> int:
    v = _raw_value(ds, kw, name)
    if v is None or (isinstance(v, (str, bytes)) and not str(v).strip()):
        if default is None:
            raise DicomError(f"{name}: DICOM pixel module is incomplete ({kw} missing)")
        return default
    if hasattr(v, "__len__") and not isinstance(v, (str, bytes)):
        v = v[0] if len(v) else None
        if v is None:
            raise DicomError(f"{name}: DICOM {kw} is empty")
    try:
        f = float(str(v).strip()) if not isinstance(v, (int, float)) else float(v)
        if not math.isfinite(f) or f != int(f):
            raise ValueError
        i = int(f)
    except (TypeError, ValueError, OverflowError):
        raise DicomError(f"{name}: DICOM {kw} is not a whole number ({str(v)[:20]!r})") from None
    if choices is not None and i not in choices:
        raise DicomError(f"{name}: DICOM {kw} is {i}; supported: {', '.join(map(str, choices))}")
    if (lo is not None and i < lo) or (hi is not None and i > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise DicomError(f"{name}: DICOM {kw} is {i}, outside the valid range {rng}")
    return i


def _float_list(ds, kw: str, name: str) -> list[float] | None:
    """All values of a numeric (DS/FL/FD/IS) attribute as finite floats; None when absent; error when bad."""
    v = _raw_value(ds, kw, name)
    if v is None or (isinstance(v, (str, bytes)) and not str(v).strip()):
        return None
    vals = list(v) if hasattr(v, "__len__") and not isinstance(v, (str, bytes)) else [v]
    out = []
    for x in vals:
        try:
            f = float(x)
        except (TypeError, ValueError, OverflowError):
            raise DicomError(f"{name}: DICOM {kw} is not a number ({str(x)[:20]!r})") from None
        if not math.isfinite(f):
            raise DicomError(f"{name}: DICOM {kw} is not a finite number ({str(x)[:20]!r})")
        out.append(f)
    return out or None


def _spacing(ds, name: str) -> tuple[list[float] | None, str | None]:
    """PixelSpacing (else ImagerPixelSpacing) as [row, col] mm; an invalid one is ignored with a note."""
    for kw in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            v = _float_list(ds, kw, name)
        except DicomError:
            return None, f"{kw} is not numeric: ignored"
        if v is None:
            continue
        if len(v) != 2 or not all(0 < x < 1e4 for x in v):
            return None, f"{kw} {', '.join(f'{x:g}' for x in v)} is not two positive numbers: ignored"
        return v, None
    return None, None


def _declared(ds, name: str) -> dict:
    """Validated pixel-module geometry from the header (nothing decoded)."""
    rows = _int_attr(ds, "Rows", name, lo=1, hi=65535)
    cols = _int_attr(ds, "Columns", name, lo=1, hi=65535)
    frames = _int_attr(ds, "NumberOfFrames", name, default=1, lo=1, hi=1_000_000)
    spp = _int_attr(ds, "SamplesPerPixel", name, default=1, choices=(1, 3))
    float_pixels = "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    if "FloatPixelData" in ds:
        bits = 32
    elif "DoubleFloatPixelData" in ds:
        bits = 64
    else:
        bits = _int_attr(ds, "BitsAllocated", name, choices=(1, 8, 16, 32, 64))
    stored = _int_attr(ds, "BitsStored", name, default=bits, lo=1, hi=bits) if not float_pixels else bits
    _int_attr(ds, "HighBit", name, default=stored - 1, lo=0, hi=bits - 1) if not float_pixels else None
    rep = _int_attr(ds, "PixelRepresentation", name, default=0, choices=(0, 1))
    photometric = str(_raw_value(ds, "PhotometricInterpretation", name) or
                      ("MONOCHROME2" if spp == 1 else "RGB")).strip().upper()
    if photometric not in PHOTOMETRICS:
        raise DicomError(f"{name}: DICOM PhotometricInterpretation {photometric[:20]!r} is not supported "
                         f"(supported: {', '.join(PHOTOMETRICS)})")
    if photometric in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR") and spp != 1:
        raise DicomError(f"{name}: DICOM {photometric} image must have SamplesPerPixel 1, not {spp}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR") and spp != 3:
        raise DicomError(f"{name}: DICOM {photometric} image must have SamplesPerPixel 3, not {spp}")
    if spp == 3:
        _int_attr(ds, "PlanarConfiguration", name, default=0, choices=(0, 1))
    frame_bytes = (rows * cols * spp * bits + 7) // 8
    return {"rows": rows, "cols": cols, "frames": frames, "spp": spp, "bits": bits, "stored": stored,
            "rep": rep, "photometric": photometric, "frame_bytes": frame_bytes,
            "total_bytes": frame_bytes * frames, "float": float_pixels}


def _check_declared(geo: dict, name: str, max_pixels: int, min_size: int) -> None:
    rows, cols, frames = geo["rows"], geo["cols"], geo["frames"]
    check_size(geo["total_bytes"], name, f"declared pixel data ({cols}x{rows}x{frames} frames)")
    if max_pixels and rows * cols > max_pixels:
        raise DicomError(f"{name}: DICOM is {cols}x{rows}x{frames} pixels, over the limit of "
                         f"{max_pixels / 1e6:.0f} megapixels")
    if min_size and min(rows, cols) < min_size:
        raise DicomError(f"{name}: DICOM image is {cols}x{rows} pixels; the minimum is {min_size}x{min_size}")


# ---------------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------------
def _eof_warned(caught) -> bool:
    return any("end of file" in str(w.message).lower() or "truncat" in str(w.message).lower() for w in caught)


def _short_value(ds) -> bool:
    """pydicom keeps a value cut short by the end of the file without a word: find it (only the last element
    of a truncated file can be short; its raw bytes are fewer than its declared length)."""
    for tag, e in ds._dict.items():
        if tag == 0x7FE00010:  # short pixel data is reported with its byte counts further on
            continue
        length = getattr(e, "length", None)
        value = getattr(e, "value", None)
        if isinstance(value, (bytes, bytearray)) and isinstance(length, int) and length != 0xFFFFFFFF \
                and len(value) < length:
            return True
    return False


def _parse(data: bytes, name: str, header_only: bool, preamble: bool):
    """pydicom parse of a non-deflated file (``force`` only when the magic is absent and the caller has
    checked that the content looks like DICOM)."""
    import pydicom

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = pydicom.dcmread(io.BytesIO(data), force=not preamble, stop_before_pixels=header_only)
    return ds, _eof_warned(caught) or _short_value(ds)


def _read_meta(data: bytes, name: str):
    """(file meta, offset of the data set) for a file with the DICM magic."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_preamble

    fp = DicomBytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_preamble(fp, False)
        meta = _read_file_meta_info(fp)
    return meta, fp.tell()


def _read_dataset_bytes(buf: bytes, header_only: bool):
    """Parse an (inflated) explicit VR little endian data set."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _at_pixel_data, read_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = read_dataset(DicomBytesIO(buf), False, True, stop_when=_at_pixel_data if header_only else None)
    return ds, _eof_warned(caught) or _short_value(ds)


def _inflate_header(data: bytes, offset: int, name: str):
    """Parse a deflated data set's header from a bounded inflated prefix. Returns (header ds, complete):
    ``complete`` means the whole stream was inflated within the prefix."""
    for size in _HEADER_PREFIX:
        d = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            prefix = d.decompress(data[offset:], size)
        except zlib.error as e:
            raise DicomError(f"{name}: deflated DICOM data is corrupt ({e})") from None
        complete = d.eof
        try:
            ds, _ = _read_dataset_bytes(prefix, header_only=True)
        except Exception:
            ds = None
        if ds is not None and ("Rows" in ds and "Columns" in ds or complete):
            return ds, complete
        if complete:
            break
    raise DicomError(f"{name}: deflated DICOM header is larger than {_HEADER_PREFIX[-1] // 2**20} MB or unreadable; "
                     "refusing to inflate it")


def _inflate_all(data: bytes, offset: int, name: str) -> bytes:
    """Inflate a deflated data set, never producing more than the size limit (plus one header's worth)."""
    cap = max_input_bytes() + _HEADER_PREFIX[-1]
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = d.decompress(data[offset:], cap + 1)
    except zlib.error as e:
        raise DicomError(f"{name}: deflated DICOM data is corrupt ({e})") from None
    if len(out) > cap or d.unconsumed_tail:
        raise DicomError(f"{name}: deflated DICOM inflates to more than the {max_input_mb()} MB input limit; "
                         "refusing it")
    if not d.eof:
        raise DicomError(f"{name}: DICOM file is truncated (the deflated data ends early)")
    return out


def _tsuid(ds) -> str:
    try:
        return str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "").strip()
    except Exception:
        return ""


def _ts_name(tsuid: str) -> str:
    import pydicom

    if tsuid in _DECODERS:
        return _DECODERS[tsuid][0]
    try:
        return pydicom.uid.UID(tsuid).name
    except Exception:
        return tsuid


def _check_decoder(tsuid: str, name: str) -> None:
    """Refuse, in one line naming the missing decoder, a syntax that nothing installed can decode."""
    if tsuid in _NATIVE:
        return
    from pydicom.pixels import get_decoder

    tname = _ts_name(tsuid)
    try:
        dec = get_decoder(tsuid)
    except NotImplementedError:
        if tname == tsuid:
            raise DicomError(f"{name}: unknown transfer syntax {tsuid[:64]!r}; cannot decode the pixel data") from None
        raise DicomError(f"{name}: transfer syntax {tname} ({tsuid}) is not supported: no DICOM pixel decoder "
                         "exists for it") from None
    except Exception:
        raise DicomError(f"{name}: unknown transfer syntax {tsuid[:64]!r}; cannot decode the pixel data") from None
    if not dec.is_available:
        pkgs = _DECODERS.get(tsuid, (tname, ", ".join(dec.missing_dependencies) or "a decoder plugin"))[1]
        raise DicomError(f"{name}: compressed transfer syntax {tname} ({tsuid}) needs a decoder that is not "
                         f"installed: install {pkgs}")


def _check_compressed_frame(ds, tsuid: str, geo: dict, name: str, frame: int) -> None:
    """The codestream of the wanted frame must declare the header's Rows x Columns (a small header
    with a huge JPEG / JPEG 2000 frame would otherwise be a decompression bomb)."""
    if tsuid not in _JPEG_FAMILY and tsuid not in _J2K_FAMILY:
        return
    from pydicom.encaps import get_frame

    try:
        data = get_frame(ds.PixelData, frame, number_of_frames=geo["frames"])
    except Exception:
        raise DicomError(f"{name}: cannot find frame {frame} in the compressed pixel data (truncated or corrupt)") from None
    h = w = None
    if tsuid in _JPEG_FAMILY:
        from pydicom.pixels.utils import _get_jpg_parameters

        p = _get_jpg_parameters(bytes(data[:65536]))
        h, w = p.get("height"), p.get("width")
    else:
        b = bytes(data[:256])
        off = 0
        if b.startswith(b"\x00\x00\x00\x0cjP  "):
            i = b.find(b"jp2c")
            off = i + 4 if i >= 0 else 0
        if b[off:off + 4] == b"\xff\x4f\xff\x51" and len(b) >= off + 24:
            xs, ys = int.from_bytes(b[off + 8:off + 12], "big"), int.from_bytes(b[off + 12:off + 16], "big")
            xo, yo = int.from_bytes(b[off + 16:off + 20], "big"), int.from_bytes(b[off + 20:off + 24], "big")
            w, h = xs - xo, ys - yo
    if h is None or w is None:
        raise DicomError(f"{name}: compressed frame {frame} is not a valid {_ts_name(tsuid)} codestream")
    if (h, w) != (geo["rows"], geo["cols"]) and not (tsuid in _JPEG_FAMILY and h == 0):
        raise DicomError(f"{name}: compressed frame is {w}x{h} pixels but the header says "
                         f"{geo['cols']}x{geo['rows']}; refusing to decode it")


def read_dataset_bounded(src, name: str, max_pixels: int = 0, min_size: int = 0, pixels: bool = True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid values are handled where used; pydicom's notes quote the file
        return _read_dataset_bounded(src, name, max_pixels, min_size, pixels)


def _read_dataset_bounded(src, name: str, max_pixels: int = 0, min_size: int = 0, pixels: bool = True):
    """Parse a DICOM from a path or bytes with bounded memory. Returns ``(ds, geometry or None)``.

    The header is read and checked first; the pixel data only when ``pixels`` and the declared size
    is within the limits. Raises a one-line :class:`DicomError` for anything unreadable.
    """
    data = bytes(src) if isinstance(src, (bytes, bytearray, memoryview)) else read_limited(src, name)
    check_size(len(data), name)
    preamble = len(data) >= 132 and data[128:132] == b"DICM"
    if not preamble and not looks_like_dicom(data[:256]):
        raise DicomError(f"{name}: not a DICOM file (no DICM header and no readable DICOM elements)")
    meta, offset, deflated = None, 0, False
    try:
        if preamble:
            meta, offset = _read_meta(data, name)
            deflated = str(meta.get("TransferSyntaxUID", "") or "").strip() == DEFLATED
        if deflated:
            header, complete = _inflate_header(data, offset, name)
            eof = False
        else:
            header, eof = _parse(data, name, header_only=True, preamble=preamble)
    except DicomError:
        raise
    except MemoryError:
        raise DicomError(f"{name}: DICOM header is too large to read") from None
    except Exception as e:  # pydicom raises many types on garbage / truncated headers
        if not preamble:
            raise DicomError(f"{name}: not a DICOM file (no DICM header and no readable DICOM elements)") from None
        raise DicomError(f"{name}: cannot read the DICOM header (truncated or corrupt file: {type(e).__name__})") from None
    if not preamble:
        ok = len(header) > 0
        try:
            ok = ok and any(k in header for k in ("SOPClassUID", "PixelData", "Modality", "Rows", "StudyInstanceUID"))
        except Exception:
            ok = False
        if not ok:
            raise DicomError(f"{name}: not a DICOM file (no DICM header and no readable DICOM elements)")
    if eof or len(header) == 0:
        raise DicomError(f"{name}: DICOM file is truncated (it ends before its data does)")
    if not pixels:
        if meta is not None:
            header.file_meta = meta
        return header, None
    geo = None
    if any(k in header for k in ("Rows", "Columns", "PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        geo = _declared(header, name)  # the pixel module, validated and checked against the limits
        _check_declared(geo, name, max_pixels, min_size)
    # the full read: bounded by the file size (native) or by the limit (deflated)
    try:
        if deflated:
            body = _inflate_all(data, offset, name)
            ds, eof = _read_dataset_bytes(body, header_only=False)
            from pydicom.dataset import FileDataset

            ds = FileDataset(name, ds, preamble=data[:128], file_meta=meta, is_implicit_VR=False,
                             is_little_endian=True)
            ds.set_original_encoding(False, True, ds._character_set)
        else:
            ds, eof = _parse(data, name, header_only=False, preamble=preamble)
    except DicomError:
        raise
    except MemoryError:
        raise DicomError(f"{name}: not enough memory to read this DICOM") from None
    except Exception as e:
        raise DicomError(f"{name}: cannot read the DICOM data (truncated or corrupt file: {type(e).__name__})") from None
    if eof:
        raise DicomError(f"{name}: DICOM file is truncated (it ends before its data does)")
    if not preamble:
        _set_transfer_syntax(ds)
    return ds, geo


def _set_transfer_syntax(ds) -> None:
    """A data set read without file meta: name the transfer syntax it was read with (so it can be decoded)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    fm = getattr(ds, "file_meta", None)
    if fm is not None and "TransferSyntaxUID" in fm:
        return
    try:
        implicit, little = ds.original_encoding
    except (AttributeError, TypeError, ValueError):
        implicit, little = True, True
    fm = fm if fm is not None else FileMetaDataset()
    fm.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else (
        ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian)
    ds.file_meta = fm


def dicom_header(src, name: str):
    """The de-identified header only (no pixel data read), for reports and ``data check``."""
    from .deid import deidentify

    ds, _ = read_dataset_bounded(src, name, pixels=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds, removed = deidentify(ds)
    return ds, removed


def read_dicom(src, name: str, frame: int = 0, window=None, max_pixels: int = 0, min_size: int = 0) -> dict:
    """Read, de-identify and convert one frame of a DICOM. Returns a dict for ``LoadedImage``."""
    window_kind, win = parse_window(window)  # a bad window fails before any reading
    ds, geo = read_dataset_bounded(src, name, max_pixels=max_pixels, min_size=min_size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _convert(ds, geo, name, frame, window_kind, win)
    except DicomError:
        raise
    except MemoryError:
        raise DicomError(f"{name}: not enough memory to decode this DICOM") from None
    except Exception as e:  # a value combination no check above anticipated: still one line
        msg = " ".join(str(e).split())[:120]
        raise DicomError(f"{name}: cannot interpret the DICOM ({type(e).__name__}: {msg})") from None


def _convert(ds, geo, name: str, frame: int, window_kind: str, win) -> dict:
    from .deid import burned_in_annotation, deidentify

    burned_in = burned_in_annotation(ds)
    ds, removed = deidentify(ds)
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        sop = _raw_value(ds, "SOPClassUID", name)
        raise DicomError(f"{name}: DICOM has no pixel data (modality {_raw_value(ds, 'Modality', name) or '?'}, "
                         f"SOP class {getattr(sop, 'name', '?')}); nothing to display")
    if geo is None:
        geo = _declared(ds, name)
    rows, cols, frames = geo["rows"], geo["cols"], geo["frames"]
    if not 0 <= frame < frames:
        raise DicomError(f"{name}: frame {frame} requested but the DICOM has {frames} frame(s) (0..{frames - 1})")
    tsuid = _tsuid(ds)
    _check_decoder(tsuid, name)
    if "PixelData" in ds and tsuid in _NATIVE:  # native (uncompressed): check the length up front
        have = len(ds.PixelData or b"")
        if have < geo["total_bytes"]:
            raise DicomError(f"{name}: DICOM file is truncated (pixel data has {have} of {geo['total_bytes']} bytes)")
    elif "PixelData" in ds:
        _check_compressed_frame(ds, tsuid, geo, name, frame)
    photometric = geo["photometric"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.pixel_array_options(index=frame if frames > 1 else None)
            arr = ds.pixel_array
    except MemoryError:
        raise
    except Exception as e:  # the decoder is installed (checked above): the data is bad
        msg = " ".join(str(e).split())
        raise DicomError(f"{name}: cannot decode the DICOM pixel data (truncated or corrupt: {msg[:120]})") from None
    if frames > 1 and arr.ndim >= 3 and arr.shape[0] == frames:
        arr = arr[frame]
    notes = []
    if photometric == "PALETTE COLOR":
        arr = _palette_to_rgb(arr, ds, name)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):  # colour DICOM (RGB after pydicom's YBR conversion)
        rgb = arr[..., :3].astype(np.float32)
        top = float(np.iinfo(arr.dtype).max) if photometric == "PALETTE COLOR" and arr.dtype.kind == "u" else \
            float(2 ** geo["stored"] - 1)
        grey = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / max(top, 1.0)
        raw = grey.astype(np.float32)
        display = np.clip(raw, 0, 1)
        window_used = "none (colour image)" if photometric != "PALETTE COLOR" else "none (palette colour image)"
    else:
        if arr.ndim != 2:
            raise DicomError(f"{name}: unsupported DICOM pixel array shape {tuple(arr.shape)}")
        raw = _modality_lut(arr, ds, name)
        if not np.isfinite(raw).all():
            finite = raw[np.isfinite(raw)]
            raw = np.nan_to_num(raw, nan=float(finite.min()) if finite.size else 0.0,
                                posinf=float(finite.max()) if finite.size else 0.0,
                                neginf=float(finite.min()) if finite.size else 0.0)
            notes.append("non-finite pixel values replaced")
        hc, hw = _header_window(ds, name)
        if hc is not None and hw is not None and hw >= 1:
            if str(_raw_value(ds, "VOILUTFunction", name) or "LINEAR").strip().upper() == "SIGMOID":
                display = (1.0 / (1.0 + np.exp(-4.0 * (raw - hc) / hw))).astype(np.float32)
            else:
                display = _linear_window(raw, hc, hw)
            window_used = f"header (C={hc:g}, W={hw:g})"
        else:
            if hw is not None and hw < 1:
                notes.append(f"header WindowWidth {hw:g} is invalid (must be >= 1): ignored")
            display, window_used = None, None
            if "VOILUTSequence" in ds:
                display = _voi_lut(arr, ds)
                window_used = "header VOI LUT sequence" if display is not None else None
                if display is None:
                    notes.append("header VOI LUT sequence is invalid: ignored")
            if display is None:
                lo, hi = np.percentile(raw, [0.5, 99.5]) if raw.size else (0.0, 1.0)
                if hi <= lo:
                    lo, hi = float(raw.min()), float(raw.max())
                display = np.clip((raw - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(raw)
                window_used = f"auto 0.5-99.5 percentile (C={(lo + hi) / 2:g}, W={hi - lo:g})"
        if photometric == "MONOCHROME1":
            display = 1.0 - display
    # the model always sees the fixed rule above (header VOI window, else the VOI LUT, else the 0.5-99.5
    # percentile range; MONOCHROME1 inverted); a user window changes only what is displayed
    model_array, model_window = display, window_used
    if win is not None and raw.ndim == 2 and not window_used.startswith("none"):
        display = user_window(raw, win, photometric == "MONOCHROME1")
        window_used = f"{window_kind} (C={win[0]:g}, W={win[1]:g})"
    spacing, spacing_note = _spacing(ds, name)
    if spacing_note:
        notes.append(spacing_note)
    slope, intercept = _rescale(ds, name)
    meta = {
        "modality": _text(ds, "Modality", name),
        "size": [cols, rows],
        "pixel_spacing_mm": spacing,
        "photometric": photometric,
        "inverted": photometric == "MONOCHROME1",
        "bits_stored": geo["stored"],
        "bits_allocated": geo["bits"],
        "frames": frames,
        "frame": frame,
        "window": window_used,
        "model_window": model_window,
        "transfer_syntax": _ts_name(tsuid) if tsuid else None,
        "rescale": [slope, intercept],
        "view": _text(ds, "ViewPosition", name),
        "sex": _text(ds, "PatientSex", name),
        "age": _text(ds, "PatientAge", name),
        "deid": True,
        "burned_in_annotation": burned_in,
        "notes": notes,
    }
    if burned_in:
        meta["warning"] = BURNED_IN_WARNING
    return {"array": np.ascontiguousarray(display, dtype=np.float32), "raw": raw, "meta": meta,
            "model_array": np.ascontiguousarray(model_array, dtype=np.float32), "deid_removed": removed, "dataset": ds}


MODEL_INPUT_RULE = ("DICOM: modality LUT, then the header's VOI window (WindowCenter/Width, or its VOI LUT sequence), "
                    "else the 0.5-99.5 percentile range; MONOCHROME1 inverted. A window chosen for display never "
                    "changes the model input. PNG/JPEG: grey levels as stored.")


def user_window(raw: np.ndarray, win: tuple[float, float], invert: bool) -> np.ndarray:
    """A display rendering of modality-LUT values through a user window (center, width)."""
    d = _linear_window(raw, *win)
    return (1.0 - d) if invert else d


def _text(ds, kw: str, name: str) -> str:
    v = _raw_value(ds, kw, name)
    return "" if v is None else " ".join(str(v).split())[:64]


def _rescale(ds, name: str) -> tuple[float, float]:
    slope = _float_list(ds, "RescaleSlope", name)
    intercept = _float_list(ds, "RescaleIntercept", name)
    s = slope[0] if slope else 1.0
    b = intercept[0] if intercept else 0.0
    if s == 0:
        raise DicomError(f"{name}: DICOM RescaleSlope is 0 (every pixel would have the same value)")
    return s, b


def _modality_lut(arr: np.ndarray, ds, name: str) -> np.ndarray:
    if "ModalityLUTSequence" in ds:
        from pydicom.pixels import apply_modality_lut

        try:
            return np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
        except Exception:
            raise DicomError(f"{name}: DICOM ModalityLUTSequence is invalid") from None
    s, b = _rescale(ds, name)
    if s == 1.0 and b == 0.0:
        return arr.astype(np.float32)
    return (arr.astype(np.float64) * s + b).astype(np.float32)


def _header_window(ds, name: str) -> tuple[float | None, float | None]:
    """The header's first WindowCenter / WindowWidth; (None, None) when absent or not numeric."""
    try:
        c = _float_list(ds, "WindowCenter", name)
        w = _float_list(ds, "WindowWidth", name)
    except DicomError:
        return None, None
    if not c or not w:
        return None, None
    return c[0], w[0]


def _voi_lut(arr: np.ndarray, ds) -> np.ndarray | None:
    from pydicom.pixels import apply_voi_lut

    try:
        v = np.asarray(apply_voi_lut(arr, ds, index=0), dtype=np.float32)
    except Exception:
        return None
    lo, hi = float(v.min()), float(v.max())
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


def _palette_to_rgb(arr: np.ndarray, ds, name: str) -> np.ndarray:
    has_lut = all(f"{c}PaletteColorLookupTableDescriptor" in ds and (
        f"{c}PaletteColorLookupTableData" in ds or f"Segmented{c}PaletteColorLookupTableData" in ds)
        for c in ("Red", "Green", "Blue"))
    if not has_lut:
        raise DicomError(f"{name}: PALETTE COLOR image without its palette (the colour lookup tables are missing); "
                         "cannot display it")
    from pydicom.pixels import apply_color_lut

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rgb = apply_color_lut(arr, ds)
    except Exception:
        raise DicomError(f"{name}: PALETTE COLOR lookup tables are invalid; cannot display the image") from None
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise DicomError(f"{name}: PALETTE COLOR lookup tables are invalid; cannot display the image")
    return rgb


def is_dicom_name(name: str | None) -> bool:
    return bool(name) and Path(name).suffix.lower() in (".dcm", ".dicom", ".dic")


def deidentify_file(src, dst, name: str | None = None, seed: str | None = None) -> dict:
    """Read a DICOM (bounded, see :func:`read_dataset_bounded`), de-identify it and write it
    to ``dst`` atomically with the same transfer syntax: the pixel data bytes are unchanged.

    Returns ``{"removed": RemovedList, "burned_in_annotation": bool, "transfer_syntax": str}``.
    """
    from io import BytesIO
    from pathlib import Path

    from pydicom.filewriter import dcmwrite

    from hcview.io_utils import atomic_write_bytes

    from .deid import burned_in_annotation, deidentify

    import warnings

    name = name or Path(str(src)).name
    ds, _ = read_dataset_bounded(src, name)
    burned = burned_in_annotation(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's notes on invalid values quote the file's content
        ds, removed = deidentify(ds, seed)
    buf = BytesIO()
    try:
        fm = getattr(ds, "file_meta", None)
        if fm is None or "TransferSyntaxUID" not in fm:
            from pydicom.dataset import FileMetaDataset
            from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

            fm = fm if fm is not None else FileMetaDataset()
            fm.TransferSyntaxUID = ImplicitVRLittleEndian if getattr(ds, "is_implicit_VR", True) in (True, None) \
                else ExplicitVRLittleEndian
            ds.file_meta = fm
        if "SOPClassUID" in ds:
            ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        if "SOPInstanceUID" in ds:
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        dcmwrite(buf, ds, enforce_file_format=True)
    except Exception as e:
        raise DicomError(f"{name}: cannot write the de-identified DICOM ({' '.join(str(e).split())[:100]})") from None
    atomic_write_bytes(dst, buf.getvalue())
    ts = str(ds.file_meta.get("TransferSyntaxUID", ""))
    return {"removed": removed, "burned_in_annotation": burned, "transfer_syntax": ts}
