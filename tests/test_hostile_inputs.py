"""Hostile and broken input through every command, in process (``hcview.cli.main``).

Every crafted bad input -- DICOM and image files made here with pydicom / PIL / raw bytes, CSV files,
flag values and data specs -- must give exactly one ``error:`` line on stderr (``warning:`` lines may
precede it), exit status 2 (a user error, not an internal one) and no traceback, through ``data check``,
``predict``, ``risk``, ``evaluate`` and ``train``. A second list of valid-but-odd inputs must be read
(exit 0, no traceback). Nothing here needs a network or a trained checkpoint.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom import config as pdconfig
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_file_meta_info
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         JPEG2000Lossless, JPEGBaseline8Bit, RLELossless, generate_uid)

from hcview.cli import main
from hcview.paths import samples_dir

CT = get_testdata_file("CT_small.dcm")
MR = get_testdata_file("MR_small.dcm")
SIIM = samples_dir() / "dicom" / "siim_pneumothorax_sample.dcm"
BRAIN = samples_dir() / "brain-mri"


# ---------------------------------------------------------------------------------------------------------
# builders: each writes one crafted file into a folder and returns its path
# ---------------------------------------------------------------------------------------------------------
def _write_ds(ds: Dataset, path: Path, **kw) -> Path:
    with pdconfig.disable_value_validation():
        buf = io.BytesIO()
        dcmwrite(buf, ds, enforce_file_format=kw.pop("enforce", True), **kw)
    path.write_bytes(buf.getvalue())
    return path


def _mut(base=CT, delete=(), raw=None, patch=None, **attrs):
    """A DICOM from ``base`` with attributes set (validation off, so invalid values are written as given);
    ``patch=(find, replace)`` then edits the written bytes (values pydicom refuses to write)."""
    def build(d: Path, name: str) -> Path:
        ds = pydicom.dcmread(base)
        with pdconfig.disable_value_validation():
            for k in delete:
                if k in ds:
                    del ds[k]
            for k, v in attrs.items():
                setattr(ds, k, v)
            if raw:
                raw(ds)
        p = _write_ds(ds, d / f"{name}.dcm")
        if patch:
            b = p.read_bytes()
            assert patch[0] in b, patch[0]
            p.write_bytes(b.replace(patch[0], patch[1], 1))
        return p
    return build


def _bytes(data: bytes | callable, ext=".dcm"):
    def build(d: Path, name: str) -> Path:
        p = d / f"{name}{ext}"
        p.write_bytes(data() if callable(data) else data)
        return p
    return build


def _cut(base, n, ext=".dcm"):
    return _bytes(lambda: Path(base).read_bytes()[:n] if n >= 0 else Path(base).read_bytes()[:n], ext)


def _header_ds(rows, cols, frames=1, bits=16, spp=1, photometric="MONOCHROME2") -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = spp, photometric
    if frames != 1:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    return ds


def _meta_bytes(ds, ts) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, meta.TransferSyntaxUID = \
        ds.SOPClassUID, ds.SOPInstanceUID, ts
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=True)
    return b"\0" * 128 + b"DICM" + fp.getvalue()


def _body(ds) -> bytes:
    b = io.BytesIO()
    with pdconfig.disable_value_validation():
        dcmwrite(b, ds, implicit_vr=False, little_endian=True)
    return b.getvalue()


def _deflate_bomb():
    ds = _header_ds(4096, 4096, frames=8)  # 256 MiB declared, about 250 KB on disk
    n = 4096 * 4096 * 8 * 2
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [_meta_bytes(ds, DeflatedExplicitVRLittleEndian),
           comp.compress(_body(ds) + b"\xe0\x7f\x10\x00OW\x00\x00" + n.to_bytes(4, "little"))]
    chunk = bytes(16 << 20)
    for _ in range(n // len(chunk)):
        out.append(comp.compress(chunk))
    out.append(comp.flush())
    return b"".join(out)


def _native(rows, cols, frames=1, bits=16, pixel_bytes=16, ts=ExplicitVRLittleEndian, **extra):
    def data():
        ds = _header_ds(rows, cols, frames, bits)
        with pdconfig.disable_value_validation():
            for k, v in extra.items():
                setattr(ds, k, v)
        return _meta_bytes(ds, ts) + _body(ds) + b"\xe0\x7f\x10\x00OW\x00\x00" + \
            pixel_bytes.to_bytes(4, "little") + bytes(pixel_bytes)
    return _bytes(data)


def _deflated(payload: bytes):
    def data():
        ds = _header_ds(64, 64)
        return _meta_bytes(ds, DeflatedExplicitVRLittleEndian) + payload
    return _bytes(data)


def _deflated_cut():
    ds = pydicom.dcmread(CT)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    b = io.BytesIO()
    ds.save_as(b, enforce_file_format=True)
    return b.getvalue()[: len(b.getvalue()) - 2000]


def _nested_sequences(depth):
    """Sequences nested ``depth`` deep (undefined lengths), written as raw bytes."""
    def data():
        ds = _header_ds(64, 64, bits=8)
        sq, item = b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff", b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
        close = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00" + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
        return (_meta_bytes(ds, ExplicitVRLittleEndian) + _body(ds) + (sq + item) * depth + close * depth
                + b"\xe0\x7f\x10\x00OB\x00\x00" + (4096).to_bytes(4, "little") + bytes(4096))
    return _bytes(data)


def _patch(base, find: bytes, repl: bytes):
    def data():
        b = Path(base).read_bytes()
        assert find in b, find
        return b.replace(find, repl, 1)
    return _bytes(data)


def _ts(base, uid):
    """``base``'s data set, as written, under file meta that names another transfer syntax."""
    def data():
        ds = pydicom.dcmread(base)
        del ds.file_meta
        ds.preamble = None
        return _meta_bytes(ds, uid) + _body(ds)
    return _bytes(data)


def _compressed_garbage(uid, frag=b"\xff\xd8\xff\xc0" + os.urandom(200)):
    def raw(ds):
        from pydicom.encaps import encapsulate

        ds.file_meta.TransferSyntaxUID = uid
        ds.PixelData = encapsulate([frag])
    return _mut(CT, raw=raw)


def _siim(**attrs):
    return _mut(SIIM, **attrs)


def _palette(with_lut: bool, bad_lut: bool = False):
    def raw(ds):
        ds.PhotometricInterpretation = "PALETTE COLOR"
        ds.PixelRepresentation = 0
        ds.PixelData = (ds.pixel_array.astype(np.int32) % 256).astype(np.uint16).tobytes()
        if with_lut:
            for c in ("Red", "Green", "Blue"):
                ds.add_new(f"{c}PaletteColorLookupTableDescriptor", "US", [256, 0, 16])
                ds.add_new(f"{c}PaletteColorLookupTableData", "OW",
                           b"\x01\x02\x03\x04" if bad_lut else (np.arange(256, dtype=np.uint16) * 257).tobytes())
    return _mut(CT, raw=raw)


def _png_claiming(w, h, bit_depth=1, colour=0):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def _png(im: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, "PNG", **kw)
    return b.getvalue()


def _jpeg(im: Image.Image) -> bytes:
    b = io.BytesIO()
    im.save(b, "JPEG")
    return b.getvalue()


def _jpeg_claiming(w, h):
    def data():
        b = bytearray(_jpeg(Image.new("L", (64, 64), 128)))
        i = b.find(b"\xff\xc0")
        b[i + 5:i + 9] = struct.pack(">HH", h, w)
        return bytes(b)
    return _bytes(data, ".jpg")


def _tiff_claiming():
    b = io.BytesIO()
    Image.new("L", (32, 32)).save(b, "TIFF")
    data = bytearray(b.getvalue())
    # patch ImageWidth / ImageLength (tags 256 / 257, SHORT or LONG) in the first IFD
    off = struct.unpack("<I", data[4:8])[0]
    n = struct.unpack("<H", data[off:off + 2])[0]
    for k in range(n):
        e = off + 2 + 12 * k
        tag, typ = struct.unpack("<HH", data[e:e + 4])
        if tag in (256, 257):
            struct.pack_into("<HHII", data, e, tag, 4, 1, 60000)
    return bytes(data)


def _bmp_claiming():
    b = bytearray(io.BytesIO().getvalue())
    buf = io.BytesIO()
    Image.new("L", (32, 32)).save(buf, "BMP")
    b = bytearray(buf.getvalue())
    struct.pack_into("<ii", b, 18, 60000, 60000)
    return bytes(b)


def _no_file(d: Path, name: str) -> Path:
    return d / f"{name}-missing.dcm"


def _a_folder(d: Path, name: str) -> Path:
    p = d / f"{name}.png"
    p.mkdir(exist_ok=True)
    return p


def _fifo(d: Path, name: str) -> Path:
    p = d / f"{name}.png"
    if not p.exists():
        os.mkfifo(p)
    return p


def _symlink_loop(d: Path, name: str) -> Path:
    p = d / f"{name}.dcm"
    if not p.is_symlink():
        os.symlink(p, p)
    return p


def _dev_zero(d: Path, name: str) -> Path:
    return Path("/dev/zero")


RANDOM = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()

BAD_IMAGES: dict[str, callable] = {
    # --- DICOM header values -------------------------------------------------------------------------
    "frames_text": _mut(NumberOfFrames="999", patch=(b"IS\x04\x00999 ", b"IS\x04\x00abc ")),
    "frames_zero": _mut(NumberOfFrames="0"),
    "frames_negative": _mut(NumberOfFrames="-3"),
    "frames_fraction": _mut(NumberOfFrames="2.5"),
    "frames_huge": _mut(NumberOfFrames="999999999"),
    "frames_more_than_data": _mut(NumberOfFrames="3"),
    "rows_zero": _mut(Rows=0),
    "columns_zero": _mut(Columns=0),
    "rows_missing": _mut(delete=["Rows"]),
    "columns_missing": _mut(delete=["Columns"]),
    "bits_allocated_12": _mut(BitsAllocated=12),
    "bits_allocated_0": _mut(BitsAllocated=0),
    "bits_allocated_missing": _mut(delete=["BitsAllocated"]),
    "bits_stored_over_allocated": _mut(BitsStored=20),
    "high_bit_out_of_range": _mut(HighBit=40),
    "samples_per_pixel_2": _mut(SamplesPerPixel=2),
    "samples_per_pixel_4": _mut(SamplesPerPixel=4),
    "pixel_representation_2": _mut(PixelRepresentation=2),
    "photometric_unknown": _mut(PhotometricInterpretation="HSV"),
    "photometric_markdown": _mut(PhotometricInterpretation="[click me](https://evil.example)"),
    "photometric_rgb_one_sample": _mut(PhotometricInterpretation="RGB"),
    "palette_without_lut": _palette(False),
    "palette_broken_lut": _palette(True, bad_lut=True),
    "rescale_slope_text": _mut(RescaleSlope="1234", patch=(b"DS\x04\x001234", b"DS\x04\x00abc ")),
    "rescale_slope_zero": _mut(RescaleSlope="0"),
    "rescale_slope_nan": _mut(RescaleSlope="nan"),
    "rescale_slope_inf": _mut(RescaleSlope="inf"),
    "rescale_intercept_text": _mut(RescaleIntercept="4321", patch=(b"DS\x04\x004321", b"DS\x04\x00x1y2")),
    "too_small_8x8": _native(8, 8, pixel_bytes=128),
    "too_many_pixels_declared": _native(65535, 65535),
    "declared_over_byte_limit": _native(8000, 8000, frames=2),
    # --- pixel data ---------------------------------------------------------------------------------
    "no_pixel_data": _mut(delete=["PixelData"]),
    "pixel_data_empty": _mut(PixelData=b""),
    "pixel_data_short": _mut(raw=lambda ds: setattr(ds, "PixelData", ds.PixelData[:1000])),
    "native_claims_jpeg": _ts(CT, JPEGBaseline8Bit),
    "jpeg_garbage_codestream": _compressed_garbage(JPEGBaseline8Bit),
    "jpeg2000_garbage": _compressed_garbage(JPEG2000Lossless, os.urandom(300)),
    "rle_garbage": _compressed_garbage(RLELossless, os.urandom(300)),
    "jpeg_header_says_bigger": _siim(Rows=2048, Columns=2048),
    "jpeg_header_says_smaller": _siim(Rows=512, Columns=512),
    "jpeg_truncated_half": _cut(SIIM, 60_000),
    "unknown_transfer_syntax": _ts(CT, "1.2.3.4.5.6"),
    "mpeg2_transfer_syntax": _ts(CT, "1.2.840.10008.1.2.4.100"),
    "transfer_syntax_markdown": _ts(CT, "![beacon](https://evil.example/b.png)"),
    "deflate_bomb_256mb": _bytes(_deflate_bomb),
    "deflate_corrupt_stream": _deflated(b"\x78\x9c" + os.urandom(500)),
    "deflate_truncated": _bytes(_deflated_cut),
    "deflate_empty_stream": _deflated(b""),
    # --- structure ----------------------------------------------------------------------------------
    "truncated_after_magic": _bytes(b"\0" * 128 + b"DICM"),
    "truncated_in_meta": _cut(CT, 200),
    "truncated_in_header": _cut(CT, 700),
    "truncated_at_half": _cut(CT, 20_000),
    "garbage_after_magic": _bytes(b"\0" * 128 + b"DICM" + RANDOM),
    "random_bytes_dcm": _bytes(RANDOM),
    "zero_bytes_dcm": _bytes(b""),
    "text_named_dcm": _bytes(b"hello, I am not a DICOM file\n" * 20),
    "bad_value_length": _patch(CT, b"\x28\x00\x10\x00US\x02\x00", b"\x28\x00\x10\x00US\xff\xff"),
    "undefined_length_sequence_unterminated": _bytes(
        lambda: _meta_bytes(_header_ds(64, 64), ExplicitVRLittleEndian)
        + b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff" + RANDOM[:64]),
    "nested_sequences_depth_400": _nested_sequences(400),
    "nested_sequences_depth_20000": _nested_sequences(20000),
    "meta_only": _bytes(lambda: _meta_bytes(_header_ds(64, 64), ExplicitVRLittleEndian)),
    "implicit_garbage_no_preamble": _bytes(b"\x08\x00\x16\x00" + b"\xff\xff\x00\x00" + RANDOM[:200]),
    # --- PNG / JPEG / TIFF / BMP ---------------------------------------------------------------------
    "png_zero_bytes": _bytes(b"", ".png"),
    "png_text": _bytes(b"not a png\n" * 10, ".png"),
    "png_truncated": _bytes(lambda: _png(Image.fromarray(np.random.default_rng(1).integers(
        0, 255, (64, 64), dtype=np.uint8)))[:70], ".png"),
    "png_claims_40000": _bytes(_png_claiming(40000, 40000), ".png"),
    "png_claims_decoded_over_limit": _bytes(_png_claiming(7900, 7900, 16, 6), ".png"),
    "png_1x1": _bytes(lambda: _png(Image.new("L", (1, 1))), ".png"),
    "png_header_only": _bytes(_png_claiming(64, 64)[:33], ".png"),
    "png_bad_idat": _bytes(lambda: _png_claiming(64, 64).replace(zlib.compress(b"\x00" * 16), b"\x00" * 10), ".png"),
    "jpeg_claims_65000": _jpeg_claiming(65000, 65000),
    "jpeg_truncated": _bytes(lambda: _jpeg(Image.new("L", (64, 64), 7))[:200], ".jpg"),
    "jpeg_soi_only": _bytes(b"\xff\xd8\xff", ".jpg"),
    "tiff_claims_60000": _bytes(_tiff_claiming, ".tif"),
    "bmp_claims_60000": _bytes(_bmp_claiming, ".bmp"),
    "gif_named_png": _bytes(b"GIF89a" + RANDOM[:100], ".png"),
    "webp_named_jpg": _bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 " + RANDOM[:100], ".jpg"),
    "png_named_dcm_truncated": _bytes(_png_claiming(64, 64)[:20], ".dcm"),
    # --- the file system ------------------------------------------------------------------------------
    "missing_file": _no_file,
    "a_folder": _a_folder,
    "fifo": _fifo,
    "symlink_loop": _symlink_loop,
    "dev_zero": _dev_zero,
}

# valid but odd: must be read (exit 0), with a note where something was ignored
ODD_IMAGES: dict[str, callable] = {
    "window_width_negative": _mut(WindowCenter="40", WindowWidth="-400"),
    "window_center_text": _mut(WindowCenter="1234", WindowWidth="400", patch=(b"DS\x04\x001234", b"DS\x04\x00abc ")),
    "pixel_spacing_zero": _mut(PixelSpacing=["0", "0"]),
    "pixel_spacing_text": _mut(PixelSpacing=["1", "2"], patch=(b"DS\x04\x001\\2 ", b"DS\x04\x00a\\b ")),
    "pixel_spacing_one_value": _mut(PixelSpacing=["0.5"]),
    "modality_markdown": _mut(Modality="[click me](https://evil.example)"),
    "patient_name_html": _mut(PatientName="<img src=x onerror=alert(1)>"),
    "burned_in_annotation": _mut(BurnedInAnnotation="YES", PatientIdentityRemoved="YES"),
    "palette_with_lut": _palette(True),
    "no_preamble_no_meta_implicit": lambda d, n: _write_ds(_strip_meta(pydicom.dcmread(CT)), d / f"{n}.dcm",
                                                          enforce=False, implicit_vr=True, little_endian=True),
    "no_preamble_explicit": lambda d, n: _write_ds(_strip_meta(pydicom.dcmread(MR)), d / f"{n}.bin",
                                                   enforce=False, implicit_vr=False, little_endian=True),
    "deflated_ok": _mut(raw=lambda ds: setattr(ds.file_meta, "TransferSyntaxUID", DeflatedExplicitVRLittleEndian)),
    "rle_ok": lambda d, n: _recompress(d, n, RLELossless),
    "jpeg2000_ok": lambda d, n: _recompress(d, n, JPEG2000Lossless),
}


def _strip_meta(ds):
    del ds.file_meta
    ds.preamble = None
    return ds


def _recompress(d: Path, name: str, uid) -> Path:
    ds = pydicom.dcmread(CT)
    ds.compress(uid)
    return _write_ds(ds, d / f"{name}.dcm")


# ---- CSVs ---------------------------------------------------------------------------------------------
def _text(s: str, enc="utf-8"):
    return _bytes(s.encode(enc), ".csv")


BAD_RECORDS: dict[str, callable] = {
    "csv_empty": _text(""),
    "csv_whitespace": _text("   \n\n  \n"),
    "csv_header_only": _text("Age,Biopsy\n"),
    "csv_binary": _bytes(b"\x00\x01\x02binary\x00" * 50, ".csv"),
    "csv_png_named_csv": _bytes(_png_claiming(64, 64), ".csv"),
    "csv_one_column": _text("Age\n30\n40\n"),
    "csv_unbalanced_quote": _text('Age,Biopsy\n"30,0\n40,1\n'),
    "csv_too_many_fields": _text("Age,Biopsy\n30,0\n40,1,7,8,9\n"),
    "csv_no_outcome_column": _text("Age,Weight\n30,60\n40,70\n"),
    "csv_non_numeric_age": _text("Age,Biopsy\n" + "thirty,0\n" * 30),
    "csv_markdown_header": _text("[x](https://evil.example),Biopsy\n1,0\n2,1\n"),
    "csv_utf16_garbage": _bytes(b"\xff\xfe" + os.urandom(301), ".csv"),
    "csv_nul_late": _text("Age,Biopsy\n" + "30,0\n" * 2000 + "\x00\x00\x00,1\n"),
    "csv_missing": _no_file,
    "csv_folder": _a_folder,
}

BAD_PREDICTIONS: dict[str, callable] = {
    "pred_empty": _text(""),
    "pred_header_only": _text("A_GT,A_Pred\n"),
    "pred_binary": _bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), ".csv"),
    "pred_no_label_columns": _text("a,b,c\n1,2,3\n"),
    "pred_non_numeric_score": _text("A_GT,A_Pred\n1,0.9\n0,high\n"),
    "pred_truth_not_binary": _text("A_GT,A_Pred\n1,0.9\n2,0.1\n"),
    "pred_unbalanced_quote": _text('A_GT,A_Pred\n"1,0.9\n0,0.1\n'),
    "pred_score_inf": _text("A_GT,A_Pred\n1,inf\n0,0.1\n1,0.7\n0,0.2\n"),
    "pred_markdown_header": _text("![b](https://evil.example/x.png)_GT,![b](https://evil.example/x.png)_Pred\n1,2\n"),
    "pred_missing": _no_file,
    "pred_folder": _a_folder,
}


# ---------------------------------------------------------------------------------------------------------
# running a command in process
# ---------------------------------------------------------------------------------------------------------
def run_cli(capsys, argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, out, err, what):
    assert "Traceback" not in err and "Traceback" not in out, f"{what}: traceback\n{err[-2000:]}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], f"{what}: stderr is not one error line: {err[-1500:]!r}"
    others = [ln for ln in lines if not ln.startswith(("error: ", "warning: "))]
    # only training prints progress before it fails; nothing else but warnings precedes the error line
    assert not others or what.startswith("train"), f"{what}: {others[:3]!r}"
    assert not any(ln.startswith("  File ") for ln in lines), what
    assert "internal error" not in errors[0], f"{what}: {errors[0]}"
    assert rc == 2, f"{what}: exit {rc}: {err[-500:]}"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    return d


def _make(files, table, key) -> Path:
    d = files / key
    d.mkdir(exist_ok=True)
    return table[key](d, key)


@pytest.fixture(scope="module")
def good_image(tmp_path_factory) -> Path:
    return SIIM


@pytest.fixture(scope="module")
def good_records(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    n = 120
    age = rng.integers(18, 70, n)
    y = (rng.random(n) < 0.2 + 0.4 * (age > 45)).astype(int)
    p = tmp_path_factory.mktemp("rec") / "records.csv"
    p.write_text("Age,Smokes,Biopsy\n" + "".join(f"{a},{int(rng.random() < 0.3)},{b}\n" for a, b in zip(age, y)))
    return p


@pytest.fixture(scope="module")
def good_predictions(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("pred") / "pred.csv"
    p.write_text("A_GT,A_Pred,B_GT,B_Pred\n1,0.9,0,0.2\n0,0.1,1,0.8\n1,0.7,0,0.4\n0,0.3,1,0.6\n")
    return p


@pytest.fixture(scope="module")
def a_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("file") / "in_the_way"
    p.write_text("x")
    return p


# ---- images: data check and predict -----------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(BAD_IMAGES))
def test_bad_image_data_check(capsys, files, key):
    p = _make(files, BAD_IMAGES, key)
    rc, out, err = run_cli(capsys, ["data", "check", p])
    assert_one_line_error(rc, out, err, f"data check {key}")
    assert out == ""


@pytest.mark.parametrize("key", sorted(BAD_IMAGES))
def test_bad_image_predict(capsys, files, key):
    p = _make(files, BAD_IMAGES, key)
    rc, out, err = run_cli(capsys, ["predict", "--model", "hcnet", "--input", p, "--mc", "0", "--device", "cpu"])
    assert_one_line_error(rc, out, err, f"predict {key}")


@pytest.mark.parametrize("key", sorted(ODD_IMAGES))
def test_odd_image_is_read(capsys, files, key):
    p = _make(files, ODD_IMAGES, key)
    rc, out, err = run_cli(capsys, ["data", "check", p, "--json"])
    assert rc == 0, f"{key}: {err}"
    assert "Traceback" not in err
    info = json.loads(out)
    assert info["kind"] == "dicom"
    if key.startswith("window_"):
        assert info["window"].startswith("auto")  # the broken header window is not used (no binary image)
    if key.startswith("pixel_spacing"):
        assert info["pixel_spacing_mm"] is None and any("ignored" in n for n in info["notes"])
    if key == "burned_in_annotation":
        assert "pixels may contain identifying text" in err


def test_negative_window_width_gives_a_grey_image_not_a_binary_one(files):
    from hcview.data.io import load_image

    im = load_image(_make(files, ODD_IMAGES, "window_width_negative"))
    assert len(np.unique(im.array)) > 16
    assert any("WindowWidth" in n for n in im.meta["notes"])


def test_palette_colour_uses_its_palette(files):
    from hcview.data.io import load_image

    im = load_image(_make(files, ODD_IMAGES, "palette_with_lut"))
    assert im.meta["window"].startswith("none (palette")


def test_resmtnet_with_zero_pixel_spacing(capsys, files):
    p = _make(files, ODD_IMAGES, "pixel_spacing_zero")
    rc, out, err = run_cli(capsys, ["predict", "--model", "resmtnet", "--input", p, "--mc", "0", "--device", "cpu",
                                    "--json"])
    assert rc == 0, err
    reg = json.loads(out)["regression"]
    assert reg["spacing_source"] != "image" and np.isfinite(reg["size_px"])


# ---- CSVs: data check, risk, evaluate, predict --records, train ---------------------------------------------
@pytest.mark.parametrize("key", sorted(BAD_RECORDS))
def test_bad_records_risk(capsys, files, key):
    p = _make(files, BAD_RECORDS, key)
    rc, out, err = run_cli(capsys, ["risk", "--records", p])
    assert_one_line_error(rc, out, err, f"risk {key}")


@pytest.mark.parametrize("key", sorted(BAD_RECORDS))
def test_bad_records_score(capsys, files, key, good_records):
    p = _make(files, BAD_RECORDS, key)
    rc, out, err = run_cli(capsys, ["risk", "--records", good_records, "--outcome", "Biopsy", "--score", p])
    assert_one_line_error(rc, out, err, f"risk --score {key}")


@pytest.mark.parametrize("key", sorted(BAD_RECORDS))
def test_bad_records_predict(capsys, files, key, good_image):
    p = _make(files, BAD_RECORDS, key)
    rc, out, err = run_cli(capsys, ["predict", "--model", "medfusionnet", "--input", good_image, "--records", p,
                                    "--mc", "0", "--device", "cpu"])
    if key in ("csv_one_column", "csv_no_outcome_column", "csv_non_numeric_age", "csv_markdown_header",
               "csv_too_many_fields"):
        pytest.skip("a readable CSV row: predict takes what it can from it")
    assert_one_line_error(rc, out, err, f"predict --records {key}")


@pytest.mark.parametrize("key", sorted(BAD_PREDICTIONS))
def test_bad_predictions_evaluate(capsys, files, key):
    p = _make(files, BAD_PREDICTIONS, key)
    rc, out, err = run_cli(capsys, ["evaluate", "--predictions", p])
    if key in ("pred_score_inf", "pred_markdown_header"):  # odd but computable: either way, one line at most
        assert rc in (0, 2) and "Traceback" not in err and "internal error" not in err
        return
    assert_one_line_error(rc, out, err, f"evaluate {key}")


@pytest.mark.parametrize("key", sorted(set(BAD_RECORDS) - {"csv_one_column", "csv_no_outcome_column"}))
def test_bad_records_data_check(capsys, files, key):
    p = _make(files, BAD_RECORDS, key)
    rc, out, err = run_cli(capsys, ["data", "check", p])
    if key in ("csv_markdown_header", "csv_too_many_fields", "csv_non_numeric_age"):
        assert "Traceback" not in err and rc in (0, 2)
        return
    assert_one_line_error(rc, out, err, f"data check {key}")


# ---- flags ------------------------------------------------------------------------------------------------
def _flags(good_image, good_records, good_predictions, a_file):
    img, rec, pred, f = str(good_image), str(good_records), str(good_predictions), str(a_file)
    P = ["predict", "--model", "hcnet", "--input", img, "--device", "cpu"]
    R = ["risk", "--records", rec, "--outcome", "Biopsy"]
    E = ["evaluate", "--predictions", pred]
    T = ["train", "--model", "hcnet", "--device", "cpu", "--max-steps", "1"]
    return {
        "predict_mc_negative": P + ["--mc", "-1"], "predict_mc_text": P + ["--mc", "abc"],
        "predict_mc_huge": P + ["--mc", "100000000"],
        "predict_threshold_1.5": P + ["--threshold", "1.5"], "predict_threshold_nan": P + ["--threshold", "nan"],
        "predict_alpha_negative": P + ["--alpha", "-0.1"], "predict_target_top0": P + ["--target", "top0"],
        "predict_target_top_negative": P + ["--target", "top-1"], "predict_target_empty": P + ["--target", ""],
        "predict_target_unknown_label": P + ["--explain", "gradcam", "--target", "NoSuchLabel"],
        "predict_row_negative": P + ["--row", "-1"], "predict_seed_negative": P + ["--seed", "-5"],
        "predict_out_is_a_file": P + ["--explain", "gradcam", "--out", f],
        "predict_model_unknown": ["predict", "--model", "nosuch", "--input", img],
        "predict_variant_bogus": P + ["--variant", "bogus"], "predict_explain_bogus": P + ["--explain", "magic"],
        "predict_window_in_records_row": P + ["--records", rec, "--row", "999999"],
        "risk_top_n_zero": R + ["--top-n", "0"], "risk_bins_negative": R + ["--bins", "-1"],
        "risk_bins_one": R + ["--bins", "1"], "risk_test_size_one": R + ["--test-size", "1"], "risk_test_size_negative": R + ["--test-size", "-0.1"],
        "risk_test_size_1.5": R + ["--test-size", "1.5"], "risk_dt_zero": R + ["--dt", "0"],
        "risk_dt_nan": R + ["--dt", "nan"], "risk_tmin_inf": R + ["--tmin", "inf"],
        "risk_max_depth_zero": R + ["--max-depth", "0"], "risk_min_split_one": R + ["--min-samples-split", "1"],
        "risk_cuts_text": R + ["--cuts", "a,b"], "risk_cuts_one_value": R + ["--cuts", "0.5"],
        "risk_outcome_unknown": ["risk", "--records", rec, "--outcome", "NoSuchColumn"],
        "risk_out_is_a_file": R + ["--out", f], "risk_out_under_a_file": R + ["--out", f + "/sub"],
        "risk_seed_text": R + ["--seed", "x"],
        "evaluate_bootstrap_negative": E + ["--bootstrap", "-1"], "evaluate_bootstrap_text": E + ["--bootstrap", "abc"],
        "evaluate_no_mode": ["evaluate"], "evaluate_both_modes": E + ["--model", "hcnet"],
        "evaluate_model_without_data": ["evaluate", "--model", "hcnet"],
        "evaluate_labels_empty": E + ["--labels", ","], "evaluate_pattern_without_label": E + ["--truth-pattern", "GT"],
        "evaluate_out_is_a_file": E + ["--out", f], "evaluate_unknown_label": E + ["--labels", "Z"],
        "evaluate_model_bad_data_spec": ["evaluate", "--model", "hcnet", "--data", "nosuch:/x"],
        "train_lr_nan": T + ["--lr", "nan"], "train_lr_negative": T + ["--lr", "-1"], "train_lr_zero": T + ["--lr", "0"],
        "train_epochs_zero": T + ["--epochs", "0"], "train_batch_zero": T + ["--batch-size", "0"],
        "train_threads_text": T + ["--threads", "abc"], "train_threads_zero": T + ["--threads", "0"],
        "train_max_train_samples_zero": T + ["--max-train-samples", "0"],
        "train_max_eval_samples_negative": T + ["--max-eval-samples", "-1"], "train_nproc_zero": T + ["--nproc", "0"],
        "train_hbce_lambda_inf": T + ["--hbce-lambda", "inf"], "train_seed_negative": T + ["--seed", "-1"],
        "train_model_unknown": ["train", "--model", "nosuch"], "train_out_is_a_file": T + ["--out", f],
        "train_data_unknown_adapter": T + ["--data", "nosuch:/x"], "train_data_missing_folder": T + ["--data", "folder:/nonexistent/x"],
        "train_data_no_colon": T + ["--data", "justtext"], "train_data_unknown_sample": T + ["--data", "sample:nope"],
        "check_window_zero_width": ["data", "check", img, "--window", "40,0"],
        "check_window_nan": ["data", "check", img, "--window", "nan,5"],
        "check_window_unknown": ["data", "check", img, "--window", "sunset"],
        "check_adapter_bogus": ["data", "check", img, "--adapter", "bogus"],
        "check_unknown_sample": ["data", "check", "sample:nope"],
        "deid_missing_input": ["data", "deid", "/nonexistent/x.dcm", f + "2"],
        "deid_not_dicom": ["data", "deid", rec, str(Path(f).parent / "o.dcm")],
        "unknown_command": ["frobnicate"], "unknown_flag": ["data", "check", img, "--frobnicate"],
    }


FLAG_KEYS = sorted(_flags("i", "r", "p", "f"))


@pytest.mark.parametrize("key", FLAG_KEYS)
def test_bad_flags(capsys, key, good_image, good_records, good_predictions, a_file, tmp_path, monkeypatch):
    monkeypatch.setenv("HCVIEW_MODELS_DIR", str(tmp_path / "models"))  # no trained checkpoints: untrained models
    monkeypatch.setenv("HCVIEW_VAR_DIR", str(tmp_path / "var"))
    argv = _flags(good_image, good_records, good_predictions, a_file)[key]
    rc, out, err = run_cli(capsys, argv)
    assert_one_line_error(rc, out, err, key)


# ---- train on folders with crafted files --------------------------------------------------------------------
def _class_folder(root: Path, bad: list[Path], good_per_class: int) -> Path:
    for cls in ("glioma", "notumor"):
        (root / cls).mkdir(parents=True)
        for src in sorted((BRAIN / cls).glob("*.jpg"))[:good_per_class]:
            shutil.copy(src, root / cls / src.name)
    for i, p in enumerate(bad):
        if p.is_file():
            shutil.copy(p, root / ("glioma", "notumor")[i % 2] / f"bad{i}_{p.stem}.dcm")
    return root


def test_train_skips_crafted_dicoms_in_a_folder(capsys, files, tmp_path, monkeypatch):
    monkeypatch.setenv("HCVIEW_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HCVIEW_VAR_DIR", str(tmp_path / "var"))
    bad = [_make(files, BAD_IMAGES, k) for k in ("frames_text", "rescale_slope_text", "truncated_at_half",
                                                 "deflate_corrupt_stream", "nested_sequences_depth_400",
                                                 "palette_without_lut", "jpeg_header_says_bigger", "random_bytes_dcm")]
    root = _class_folder(tmp_path / "data", bad, good_per_class=8)
    rc, out, err = run_cli(capsys, ["train", "--model", "hcnet", "--data", f"folder:{root}", "--device", "cpu",
                                    "--max-steps", "2", "--epochs", "1", "--batch-size", "4", "--threads", "1",
                                    "--out", tmp_path / "run", "--json"])
    assert rc == 0, err[-2000:]
    assert "Traceback" not in err
    assert "skipped an unreadable image" in err


def test_train_folder_with_only_crafted_files_fails_in_one_line(capsys, files, tmp_path, monkeypatch):
    monkeypatch.setenv("HCVIEW_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HCVIEW_VAR_DIR", str(tmp_path / "var"))
    bad = [_make(files, BAD_IMAGES, k) for k in sorted(BAD_IMAGES)[:24]]
    root = _class_folder(tmp_path / "data", bad, good_per_class=0)
    rc, out, err = run_cli(capsys, ["train", "--model", "hcnet", "--data", f"folder:{root}", "--device", "cpu",
                                    "--max-steps", "1", "--epochs", "1", "--batch-size", "2", "--threads", "1",
                                    "--out", tmp_path / "run"])
    assert_one_line_error(rc, out, err, "train on a folder of crafted files")


# ---- the count the issue asks for ---------------------------------------------------------------------------
def test_at_least_100_crafted_inputs():
    n_files = len(BAD_IMAGES) + len(BAD_RECORDS) + len(BAD_PREDICTIONS)
    n = n_files + len(FLAG_KEYS)
    print(f"crafted bad inputs: {len(BAD_IMAGES)} images, {len(BAD_RECORDS)} records CSVs, "
          f"{len(BAD_PREDICTIONS)} prediction CSVs, {len(FLAG_KEYS)} flag / spec values = {n}; "
          f"{len(ODD_IMAGES)} valid-but-odd inputs")
    assert n_files >= 100 and n >= 150
