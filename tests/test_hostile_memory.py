"""Bounded memory before decoding: the deflate bomb, oversized images and declared pixel sizes.

The bomb is a ~1 MB Deflated Explicit VR Little Endian DICOM whose pixel data inflates to 1 GiB (32 frames of
4096 x 4096 x 16 bit: each frame is under the megapixel limit, so only the byte limit can stop it). It is
refused from its header; the peak memory of the whole CLI process stays under 1 GB (measured in a child
process through ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import dcmwrite, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, generate_uid

from hcview.data.io import load_image
from hcview.errors import HcviewError
from hcview.limits import TooLargeError, max_input_bytes

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30


def _header(rows: int, cols: int, frames: int, bits: int = 16) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.PatientName = "Bomb^Test"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    return ds


def _meta(ds: Dataset, ts) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=True)
    return b"\0" * 128 + b"DICM" + fp.getvalue()


def _dataset_bytes(ds: Dataset) -> bytes:
    b = io.BytesIO()
    dcmwrite(b, ds, implicit_vr=False, little_endian=True)
    return b.getvalue()


def write_deflate_bomb(path: Path, rows=4096, cols=4096, frames=32, bits=16) -> int:
    """Stream-write the bomb (never holding the inflated data): returns the declared pixel bytes."""
    ds = _header(rows, cols, frames, bits)
    n = rows * cols * frames * bits // 8
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = bytes(16 << 20)
    with open(path, "wb") as f:
        f.write(_meta(ds, DeflatedExplicitVRLittleEndian))
        f.write(comp.compress(_dataset_bytes(ds) + b"\xe0\x7f\x10\x00OW\x00\x00" + n.to_bytes(4, "little")))
        left = n
        while left:
            k = min(left, len(chunk))
            f.write(comp.compress(chunk[:k]))
            left -= k
        f.write(comp.flush())
    return n


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("bomb") / "bomb.dcm"
    assert write_deflate_bomb(p) == GIB
    assert p.stat().st_size < 2 << 20  # about 1 MB on disk
    return p


def _peak_rss_mb(argv: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Run ``python -m hcview ARGV`` as the child of a small watcher process; return (peak MB, rc, stderr)."""
    watcher = ("import json, resource, subprocess, sys; "
               "r = subprocess.run([sys.executable, '-m', 'hcview'] + sys.argv[1:], capture_output=True, text=True); "
               "print(json.dumps({'rc': r.returncode, 'err': r.stderr, "
               "'kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))")
    r = subprocess.run([sys.executable, "-c", watcher, *argv], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "HCVIEW_ALLOW_DOWNLOAD": "0", **(env or {})}, timeout=600)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out["kb"] / 1024, out["rc"], out["err"]


def test_deflate_bomb_refused_in_process(bomb):
    with pytest.raises(TooLargeError) as e:
        load_image(bomb)
    assert "declared pixel data" in str(e.value) and "over the" in str(e.value)


def test_deflate_bomb_peak_memory_under_1gb(bomb):
    peak, rc, err = _peak_rss_mb(["data", "check", str(bomb)])
    print(f"deflate bomb: data check peak RSS {peak:.0f} MB")
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert peak < 1024, f"peak RSS {peak:.0f} MB"


def test_deflate_bomb_predict_peak_memory_under_1gb(bomb):
    """predict refuses the input before it imports torch or loads a model."""
    peak, rc, err = _peak_rss_mb(["predict", "--model", "hcnet", "--input", str(bomb), "--mc", "0",
                                  "--device", "cpu"])
    print(f"deflate bomb: predict peak RSS {peak:.0f} MB")
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert peak < 1024, f"peak RSS {peak:.0f} MB"


def test_deflate_bomb_costs_little_on_top_of_torch(bomb):
    """In a process that already holds torch (a training worker, the UI), reading the bomb adds under 64 MB
    to the peak: it is refused from its header, nothing is inflated."""
    warm = ROOT / "data" / "samples" / "dicom" / "siim_pneumothorax_sample.dcm"  # the reader's imports, paid first
    code = ("import resource, sys, torch; from hcview.data.io import load_image; "
            f"load_image({str(warm)!r})\n"
            "a = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    load_image(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__)\n"
            "print(a, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    name, nums = r.stdout.strip().splitlines()[-2:]
    before, after = (int(x) / 1024 for x in nums.split())
    print(f"deflate bomb: peak RSS with torch {before:.0f} MB before, {after:.0f} MB after")
    assert name == "TooLargeError"
    assert after - before < 64, (before, after)
    assert after < 2048


def test_deflated_stream_that_lies_about_its_size_is_bounded(tmp_path, monkeypatch):
    """A small declared image whose deflated stream carries far more data: inflation stops at the limit."""
    monkeypatch.setenv("HCVIEW_MAX_INPUT_MB", "4")
    ds = _header(64, 64, 1)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = comp.compress(_dataset_bytes(ds) + b"\xe0\x7f\x10\x00OW\x00\x00" + (8192).to_bytes(4, "little"))
    body += comp.compress(bytes(8192)) + comp.compress(b"\x08\x00\x99\x99UN\x00\x00" + (64 << 20).to_bytes(4, "little"))
    for _ in range(4):
        body += comp.compress(bytes(16 << 20))
    body += comp.flush()
    p = tmp_path / "liar.dcm"
    p.write_bytes(_meta(ds, DeflatedExplicitVRLittleEndian) + body)
    with pytest.raises(HcviewError, match="inflates to more than the 4 MB input limit"):
        load_image(p)


def test_native_dicom_declaring_huge_pixels_refused_from_header(tmp_path):
    ds = _header(65535, 65535, 1)
    p = tmp_path / "huge.dcm"
    p.write_bytes(_meta(ds, ExplicitVRLittleEndian) + _dataset_bytes(ds)
                  + b"\xe0\x7f\x10\x00OW\x00\x00" + (16).to_bytes(4, "little") + bytes(16))
    with pytest.raises(HcviewError, match="over the"):
        load_image(p)


def test_image_file_over_the_limit_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setenv("HCVIEW_MAX_INPUT_MB", "1")
    noise = np.random.default_rng(0).integers(0, 255, (1200, 1200), dtype=np.uint8)
    p = tmp_path / "big.png"
    Image.fromarray(noise).save(p)
    assert p.stat().st_size > 1 << 20
    with pytest.raises(TooLargeError, match=r"^big\.png: file is \d+ MB, over the 1 MB input limit$"):
        load_image(p)


def test_png_whose_decoded_size_is_over_the_limit_refused_from_header(tmp_path, monkeypatch):
    monkeypatch.setenv("HCVIEW_MAX_INPUT_MB", "8")
    # 4000 x 4000 RGB: 16 megapixels (under the pixel limit) but 48 MB decoded
    p = tmp_path / "wide.png"
    Image.new("RGB", (4000, 4000)).save(p)
    assert p.stat().st_size < 1 << 20
    with pytest.raises(TooLargeError, match="decoded image"):
        load_image(p)


def test_one_limit_for_records_and_predictions(tmp_path, monkeypatch):
    from hcview.data.tabular import read_csv_text
    from hcview.metrics.external import load_predictions

    monkeypatch.setenv("HCVIEW_MAX_INPUT_MB", "1")
    assert max_input_bytes() == 1 << 20
    p = tmp_path / "big.csv"
    p.write_text("Age,Biopsy\n" + "30,0\n" * 300_000)
    with pytest.raises(TooLargeError):
        read_csv_text(p)
    with pytest.raises(TooLargeError):
        load_predictions(p)


def test_streamlit_upload_cap_matches_the_limit():
    import tomllib

    from hcview.limits import MAX_INPUT_MB

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == MAX_INPUT_MB
    assert cfg["client"]["showErrorDetails"] == "none"
