"""Image / DICOM loading, limits, bad input and the shared preprocessing path."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.data import get_testdata_file

from hcview.data.io import MIN_SIZE, build_augment, load_image, to_model_input
from hcview.errors import DicomError, HcviewError, ImageError
from hcview.paths import samples_dir

SIIM = samples_dir() / "dicom" / "siim_pneumothorax_sample.dcm"
CT = get_testdata_file("CT_small.dcm")
MR = get_testdata_file("MR_small.dcm")


def _png_bytes(im: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, "PNG", **kw)
    return b.getvalue()


def _ds_bytes(ds, **kw) -> bytes:
    from pydicom.filewriter import dcmwrite

    b = io.BytesIO()
    dcmwrite(b, ds, **kw)
    return b.getvalue()


def png_claiming(w: int, h: int) -> bytes:
    """A valid PNG whose IHDR claims w x h (1-bit grey) with a tiny IDAT: nothing big is ever allocated."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


# ---- real DICOM ---------------------------------------------------------------------------------------
def test_siim_dicom_loads_with_spacing_and_deid():
    im = load_image(SIIM)
    assert im.kind == "dicom"
    assert im.array.shape == (1024, 1024) and im.array.dtype == np.float32
    assert 0.0 <= im.array.min() and im.array.max() <= 1.0 and im.array.std() > 0.05
    assert im.meta["modality"] == "CR"
    assert im.meta["pixel_spacing_mm"] == pytest.approx([0.168, 0.168])
    assert im.meta["photometric"] == "MONOCHROME2" and im.meta["inverted"] is False
    assert "JPEG Baseline" in im.meta["transfer_syntax"]
    removed = {r["keyword"] for r in im.deid_removed}
    assert {"PatientName", "PatientID", "StudyDate", "StudyInstanceUID"} <= removed  # the ones holding a value
    # the display follows the stored values (no inversion for MONOCHROME2): correlation with the raw pixels
    ds = pydicom.dcmread(SIIM)
    r = np.corrcoef(ds.pixel_array.astype(np.float32).ravel(), im.array.ravel())[0, 1]
    assert r > 0.95


def test_monochrome1_is_inverted():
    ds = pydicom.dcmread(SIIM)
    arr = ds.pixel_array
    from pydicom.uid import ExplicitVRLittleEndian

    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PixelData = arr.tobytes()
    ds.PhotometricInterpretation = "MONOCHROME1"
    m1 = load_image(_ds_bytes(ds, enforce_file_format=True), "m1.dcm")
    m2 = load_image(SIIM)
    assert m1.meta["inverted"] is True
    np.testing.assert_allclose(m1.array, 1.0 - m2.array, atol=1e-6)


def test_ct_small_modality_lut_and_windows():
    ds = pydicom.dcmread(CT)
    im = load_image(CT)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(im.raw, hu)  # modality LUT applied
    assert im.meta["pixel_spacing_mm"] == pytest.approx([0.661468, 0.661468])
    lung = load_image(CT, window="lung")
    bone = load_image(CT, window="bone")
    assert lung.meta["window"].startswith("lung") and bone.meta["window"].startswith("bone")
    assert not np.allclose(lung.array, bone.array)
    user = load_image(CT, window=(40, 400))
    c, w = 40.0, 400.0
    expect = np.clip((hu - (c - 0.5)) / (w - 1) + 0.5, 0, 1)
    np.testing.assert_allclose(user.array, expect, atol=1e-5)
    with pytest.raises(DicomError, match="unknown window"):
        load_image(CT, window="sunset")


def test_mr_small_header_window():
    ds = pydicom.dcmread(MR)
    im = load_image(MR)
    assert im.array.shape == (64, 64)
    assert im.meta["window"].startswith(f"header (C={float(ds.WindowCenter):g}")
    assert im.meta["modality"] == "MR"


def test_big_endian_matches_little_endian():
    from pydicom.uid import ExplicitVRBigEndian

    ds = pydicom.dcmread(CT)
    arr = ds.pixel_array
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds.PixelData = arr.astype(">i2").tobytes()
    data = _ds_bytes(ds, little_endian=False, implicit_vr=False, force_encoding=True)
    assert pydicom.dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    be, le = load_image(data, "be.dcm"), load_image(CT)
    np.testing.assert_allclose(be.raw, le.raw)
    np.testing.assert_allclose(be.array, le.array)


def test_multiframe_frame_choice():
    ds = pydicom.dcmread(CT)
    arr = ds.pixel_array.astype(np.int16)
    frames = np.stack([arr, arr[::-1], np.zeros_like(arr) + 100])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    data = _ds_bytes(ds, enforce_file_format=True)
    f0 = load_image(data, "mf.dcm", frame=0, window=(0, 2000))
    f1 = load_image(data, "mf.dcm", frame=1, window=(0, 2000))
    assert f0.meta["frames"] == 3 and f1.meta["frame"] == 1
    np.testing.assert_allclose(f1.array, f0.array[::-1])
    with pytest.raises(DicomError, match="frame 5 requested but the DICOM has 3 frame"):
        load_image(data, "mf.dcm", frame=5)


# ---- bad DICOM ----------------------------------------------------------------------------------------
def test_truncated_dicom_compressed():
    data = SIIM.read_bytes()
    with pytest.raises(DicomError) as e:
        load_image(data[: len(data) // 2], "half.dcm")
    assert str(e.value) == "half.dcm: DICOM file is truncated (it ends before its data does)"


def test_truncated_dicom_native():
    data = open(CT, "rb").read()
    with pytest.raises(DicomError, match=r"^cut\.dcm: DICOM file is truncated \(pixel data has \d+ of 32768 bytes\)$"):
        load_image(data[: len(data) // 2], "cut.dcm")


def test_dicom_without_pixel_data():
    ds = pydicom.dcmread(CT)
    del ds.PixelData
    with pytest.raises(DicomError) as e:
        load_image(_ds_bytes(ds, enforce_file_format=True), "nopix.dcm")
    assert str(e.value) == ("nopix.dcm: DICOM has no pixel data (modality CT, SOP class CT Image Storage); "
                            "nothing to display")


def test_random_bytes_named_dcm(tmp_path):
    p = tmp_path / "random.dcm"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DicomError) as e:
        load_image(p)
    assert str(e.value) == "random.dcm: not a DICOM file (no DICM header and no readable DICOM elements)"


def test_missing_decoder_message(monkeypatch):
    """A compressed syntax whose decoder is absent names the package to install, in one line."""
    import pydicom.pixels

    class Unavailable:
        is_available = False
        missing_dependencies = ["pylibjpeg - requires pylibjpeg>=2.0"]

    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda uid: Unavailable())
    ds = pydicom.dcmread(SIIM)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.80"  # JPEG-LS Lossless
    data = _ds_bytes(ds, enforce_file_format=True)
    with pytest.raises(DicomError) as e:
        load_image(data, "jls.dcm")
    assert str(e.value) == ("jls.dcm: compressed transfer syntax JPEG-LS Lossless (1.2.840.10008.1.2.4.80) needs a "
                            "decoder that is not installed: install pylibjpeg with pylibjpeg-libjpeg, or python-gdcm")


def test_compressed_syntaxes_decode():
    """JPEG 2000 and RLE DICOMs decode with the maintained decoders in requirements.txt (JPEG baseline: the
    SIIM sample; pydicom has no JPEG-LS encoder to make a test file here)."""
    from pydicom.uid import JPEG2000Lossless, RLELossless

    ref = load_image(CT)
    for uid in (RLELossless, JPEG2000Lossless):
        ds = pydicom.dcmread(CT)
        ds.compress(uid)
        im = load_image(_ds_bytes(ds, enforce_file_format=True), "c.dcm")
        np.testing.assert_allclose(im.raw, ref.raw)


def test_dicom_without_preamble_or_file_meta(tmp_path):
    ds = pydicom.dcmread(CT)
    del ds.file_meta
    ds.preamble = None
    p = tmp_path / "raw.bin"  # not even a DICOM extension: the content decides
    ds.save_as(p, enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert p.read_bytes()[:2] == b"\x08\x00"
    im = load_image(p)
    np.testing.assert_allclose(im.raw, load_image(CT).raw)


# ---- PNG / JPEG ---------------------------------------------------------------------------------------
def test_png_16bit_keeps_depth():
    a = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    im = load_image(_png_bytes(Image.fromarray(a)), "x16.png")
    assert im.kind == "png" and im.meta["bits_stored"] == 16
    np.testing.assert_allclose(im.array, a / 65535.0, atol=1e-6)
    assert len(np.unique(im.array)) > 256  # more levels than 8 bits could hold


def test_png_rgba_and_palette_to_grey():
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[:16, :, 3] = 0  # transparent top half -> black
    im = load_image(_png_bytes(Image.fromarray(rgba, "RGBA")), "a.png")
    assert im.array.shape == (32, 32)
    assert im.array[:16].max() == 0.0
    assert im.array[20, 5] == pytest.approx(0.299 * 200 / 255, abs=1e-4)
    pal = Image.fromarray(np.tile(np.arange(32, dtype=np.uint8), (32, 1)) * 8).convert("P")
    im2 = load_image(_png_bytes(pal), "p.png")
    assert im2.meta["mode"] == "P"
    assert im2.array[0, 31] > im2.array[0, 0]


def test_nih_sample_png_rgb_to_grey():
    p = next((samples_dir() / "nih-cxr-1000" / "train").glob("*/*.png"))
    im = load_image(p)
    assert im.array.shape == (64, 64) and im.array.ndim == 2


def test_jpeg_exif_orientation_is_applied():
    a = np.zeros((40, 60), np.uint8)
    a[:, :10] = 255  # bright band on the left, stored landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", exif=exif.tobytes(), quality=95)
    im = load_image(b.getvalue(), "rot.jpg")
    assert im.kind == "jpeg" and im.meta["exif_orientation"] == 6
    assert im.array.shape == (60, 40)  # portrait after transpose
    assert im.array[:10].mean() > 0.8 and im.array[-10:].mean() < 0.2  # band now on top


def test_brain_jpeg_sample():
    p = next((samples_dir() / "brain-mri" / "glioma").glob("*.jpg"))
    im = load_image(p)
    assert im.kind == "jpeg" and im.array.shape == (224, 224)


def test_content_dispatch_not_extension():
    data = open(CT, "rb").read()
    im = load_image(data, "scan.png")  # a DICOM named .png is still read as DICOM
    assert im.kind == "dicom"


# ---- bad images --------------------------------------------------------------------------------------
def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageError) as e:
        load_image(p)
    assert str(e.value) == "empty.png: file is empty (0 bytes)"


def test_text_named_png(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is not an image\n")
    with pytest.raises(ImageError) as e:
        load_image(p)
    assert str(e.value) == "notes.png: not a PNG, JPEG or DICOM image (the content does not match its .png extension)"


def test_tiny_image_refused():
    with pytest.raises(ImageError) as e:
        load_image(_png_bytes(Image.new("L", (1, 1))), "dot.png")
    assert str(e.value) == f"dot.png: image is 1x1 pixels; the minimum is {MIN_SIZE}x{MIN_SIZE}"


def test_decompression_bomb_refused_from_header():
    data = png_claiming(40000, 40000)
    assert len(data) < 200
    with pytest.raises(ImageError) as e:
        load_image(data, "huge.png")
    assert str(e.value) == ("huge.png: image is 40000x40000 pixels (1600 megapixels), over the limit of "
                            "64 megapixels; refusing to decode it")


def test_corrupt_png_body():
    good = _png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)))
    with pytest.raises(ImageError, match=r"^bad\.png: PNG image is truncated or corrupt"):
        load_image(good[:60], "bad.png")


def test_errors_are_one_line():
    for data, name in ((b"", "a.png"), (b"xx\n\nyy", "b.png"), (os.urandom(600), "c.dcm")):
        with pytest.raises(HcviewError) as e:
            load_image(data, name)
        assert "\n" not in str(e.value) and str(e.value).startswith(name)


# ---- preprocessing ---------------------------------------------------------------------------------------
def test_to_model_input_shape_and_normalisation():
    a = np.full((50, 70), 0.5, np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    x = to_model_input(a, 32, mean, std)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    for c in range(3):
        assert x[c].mean().item() == pytest.approx((0.5 - mean[c]) / std[c], abs=1e-4)
    im = load_image(MR)
    assert torch.equal(to_model_input(im, 48, mean, std), to_model_input(im.array, 48, mean, std))


def test_augment_seeded_and_validated():
    a = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    names = ["hflip", "rotate15", "translate0.1", "brightness0.1", "contrast0.1", "vflip"]
    x1 = to_model_input(a, 64, augment=build_augment(names, seed=3))
    x2 = to_model_input(a, 64, augment=build_augment(names, seed=3))
    x3 = to_model_input(a, 64)
    assert torch.equal(x1, x2)
    assert not torch.equal(x1, x3)
    with pytest.raises(ImageError, match="unknown augmentation 'sharpen'"):
        build_augment(["sharpen"])


def test_brightness_augmentation_is_additive_as_the_reference():
    import torch

    from hcview.data.io import build_augment

    aug = build_augment(["brightness0.1"], seed=0)
    x = torch.rand(1, 16, 16) * 0.5 + 0.25
    y = aug(x)
    d = y - x
    assert torch.allclose(d, d.flatten()[0].expand_as(d), atol=1e-6)  # one delta added everywhere, not a scale
    assert 0 < abs(float(d.flatten()[0])) <= 0.1
