"""Image loading and the ONE preprocessing path shared by training, evaluation and inference.

``load_image`` turns a path or bytes (PNG, JPEG, DICOM; dispatched by content, not by extension) into a
:class:`LoadedImage` whose ``array`` is float32 HxW grey in [0, 1]. ``to_model_input`` turns that into the
normalised (3, S, S) tensor a model takes. Datasets call exactly these two functions; so does the predictor.
torch is imported only by the preprocessing functions: reading and checking a file never loads it.
"""
from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hcview.errors import DicomError, HcviewError, ImageError
from hcview.limits import MAX_PIXELS, MIN_SIZE, check_size, read_limited  # noqa: F401  (re-exported)

# MAX_PIXELS: decompression-bomb guard (8000x8000), checked from the header before decoding;
# the byte limit (hcview.limits.max_input_bytes) applies to the file and to the declared pixel data.

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class LoadedImage:
    array: np.ndarray                   # float32 HxW, display grey in [0, 1] (in the chosen window)
    kind: str                           # 'dicom' | 'png' | 'jpeg' | 'tiff' | 'bmp' | 'array'
    meta: dict = field(default_factory=dict)
    deid_removed: list = field(default_factory=list)  # DICOM only: attributes removed by de-identification
    raw: np.ndarray | None = None       # DICOM only: values after the modality LUT (e.g. HU)
    name: str = ""
    model_array: np.ndarray | None = None  # DICOM only: grey [0, 1] by the fixed input rule (dicom.MODEL_INPUT_RULE)

    @property
    def model_input(self) -> np.ndarray:
        """What the model sees: never the display window (for PNG/JPEG the two are the same)."""
        return self.array if self.model_array is None else self.model_array

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.array.shape)


def sniff(head: bytes, name: str | None = None) -> str | None:
    """Format from magic bytes: 'png', 'jpeg', 'dicom', 'tiff', 'bmp' or None."""
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM" and len(head) > 26:
        return "bmp"
    # DICOM without the 128-byte preamble (explicit or implicit VR): a plausible first element
    from .dicom import looks_like_dicom

    if looks_like_dicom(head):
        return "dicom"
    return None


def _png_header_size(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 24 and data.startswith(PNG_MAGIC) and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _check_size(w: int, h: int, name: str, max_pixels: int, min_size: int, bands: int = 1, bits: int = 8) -> None:
    if max_pixels and w * h > max_pixels:
        raise ImageError(f"{name}: image is {w}x{h} pixels ({w * h / 1e6:.0f} megapixels), over the limit of "
                         f"{max_pixels / 1e6:.0f} megapixels; refusing to decode it")
    check_size(w * h * max(1, bands) * max(1, bits) // 8, name, f"decoded image ({w}x{h})")
    if min(w, h) < min_size:
        raise ImageError(f"{name}: image is {w}x{h} pixels; the minimum is {min_size}x{min_size}")


def _pil_to_grey(im) -> tuple[np.ndarray, dict]:
    """Any PIL mode -> float32 grey in [0, 1]. Keeps 16-bit depth; composites alpha onto black."""
    mode = im.mode
    info = {"mode": mode}
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im).astype(np.float32)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        info["bits"] = 16 if top > 255 else 8
        return np.clip(a / top, 0, 1), info
    if mode == "F":
        a = np.asarray(im).astype(np.float32)
        lo, hi = float(a.min()), float(a.max())
        info["bits"] = 32
        return ((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)), info
    if mode in ("1", "L"):
        info["bits"] = 1 if mode == "1" else 8
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0, info
    if mode in ("LA", "RGBA", "PA"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3:4]
        rgb = rgba[..., :3] * alpha  # transparent -> black (X-ray background)
        info["bits"] = 8
        info["alpha"] = True
    else:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        info["bits"] = 8
    grey = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]  # ITU-R BT.601 luma
    return grey.astype(np.float32), info


def _read_pil(data: bytes, name: str, kind: str, max_pixels: int, min_size: int) -> LoadedImage:
    from PIL import Image, ImageOps, UnidentifiedImageError

    hdr = _png_header_size(data)
    if hdr is not None:
        _check_size(hdr[0], hdr[1], name, max_pixels, min_size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            bands = len(im.getbands()) if im.mode != "P" else 3
            bits = 16 if im.mode.startswith("I;16") else 32 if im.mode in ("I", "F") else 8
            _check_size(w, h, name, max_pixels, min_size, bands, bits)  # header only: nothing decoded yet
            im = ImageOps.exif_transpose(im) if kind == "jpeg" else im
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: image is too large to decode safely (over the limit of "
                         f"{max_pixels / 1e6:.0f} megapixels)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable {kind.upper()} image") from None
    except HcviewError:
        raise
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode this image") from None
    except Exception as e:  # PIL raises many types on crafted files (OSError, SyntaxError, ValueError, ...)
        raise ImageError(f"{name}: {kind.upper()} image is truncated or corrupt ({' '.join(str(e).split())[:80]})") from None
    grey, info = _pil_to_grey(im)
    meta = {"modality": "", "size": [int(grey.shape[1]), int(grey.shape[0])], "pixel_spacing_mm": None,
            "photometric": "MONOCHROME2", "bits_stored": info.get("bits", 8), "frames": 1, "frame": 0,
            "window": "none", "mode": info["mode"], "format": kind}
    if kind == "jpeg":
        try:
            meta["exif_orientation"] = int(Image.open(io.BytesIO(data)).getexif().get(0x0112, 1))
        except Exception:  # pragma: no cover - broken EXIF is not fatal
            meta["exif_orientation"] = 1
    dpi = im.info.get("dpi")
    if dpi and dpi[0]:
        try:
            meta["pixel_spacing_mm"] = [25.4 / float(dpi[1]), 25.4 / float(dpi[0])]
            meta["pixel_spacing_source"] = "dpi"
        except (TypeError, ZeroDivisionError):
            pass
    return LoadedImage(np.ascontiguousarray(grey, dtype=np.float32), kind, meta, [], None, name)


def load_image(path_or_bytes, name: str | None = None, frame: int = 0, window=None,
               max_pixels: int = MAX_PIXELS, min_size: int = MIN_SIZE) -> LoadedImage:
    """Load a PNG / JPEG / DICOM (also TIFF / BMP) from a path or bytes. Bad input -> one-line typed error."""
    if isinstance(path_or_bytes, np.ndarray):
        a = np.asarray(path_or_bytes, dtype=np.float32)
        if a.ndim == 3:
            a = a[..., :3].mean(-1) if a.shape[-1] in (3, 4) else a[0]
        return LoadedImage(a, "array", {"size": [a.shape[1], a.shape[0]]}, [], None, name or "array")
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        name = name or "upload"
        check_size(len(data), name)
    else:
        p = Path(path_or_bytes)
        name = name or p.name
        if not p.exists():
            raise ImageError(f"{name}: file not found")
        if p.is_dir():
            raise ImageError(f"{name}: is a folder, not an image")
        try:
            data = read_limited(p, name)  # the size is checked from stat before reading
        except OSError as e:
            raise ImageError(f"{name}: cannot read file ({e.strerror})") from None
    if len(data) == 0:
        raise ImageError(f"{name}: file is empty (0 bytes)")
    kind = sniff(data[:256], name)
    if kind is None:
        from .dicom import is_dicom_name

        if is_dicom_name(name):
            # maybe a DICOM without preamble that the sniffer missed; read_dicom decides
            kind = "dicom"
        else:
            ext = Path(name).suffix.lower()
            hint = f" (the content does not match its {ext} extension)" if ext else ""
            raise ImageError(f"{name}: not a PNG, JPEG or DICOM image{hint}")
    if kind == "dicom":
        from .dicom import read_dicom

        d = read_dicom(data, name, frame=frame, window=window, max_pixels=max_pixels, min_size=min_size)
        return LoadedImage(d["array"], "dicom", d["meta"], d["deid_removed"], d["raw"], name, d["model_array"])
    return _read_pil(data, name, kind, max_pixels, min_size)


# --------------------------------------------------------------------------------------------
# preprocessing shared by training and inference
# --------------------------------------------------------------------------------------------

def rewindow(loaded: LoadedImage, window) -> LoadedImage:
    """The same DICOM shown through another window, from its cached modality-LUT values (no decoding); the model
    input is unchanged. Other images are returned as they are."""
    import dataclasses

    from .dicom import parse_window, user_window

    if loaded.kind != "dicom" or loaded.raw is None or loaded.raw.ndim != 2 or loaded.model_array is None:
        return loaded
    kind, win = parse_window(window)
    if win is None:
        return dataclasses.replace(loaded, array=loaded.model_array, meta={**loaded.meta, "window": loaded.meta.get("model_window")})
    return dataclasses.replace(loaded, array=user_window(loaded.raw, win, bool(loaded.meta.get("inverted"))),
                               meta={**loaded.meta, "window": f"{kind} (C={win[0]:g}, W={win[1]:g})"})


def resize_grey(a: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """HxW grey -> (size, size) float32 tensor, bilinear with antialiasing. Square output: the image is
    resized without keeping the aspect ratio (chest X-rays and MRI slices are near-square)."""
    import torch

    t = torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32) if isinstance(a, np.ndarray) else a.float()
    if t.ndim == 2:
        t = t[None]
    if tuple(t.shape[-2:]) == (size, size):
        return t[0] if t.shape[0] == 1 else t
    out = torch.nn.functional.interpolate(t[None], size=(size, size), mode="bilinear", align_corners=False,
                                          antialias=True)[0]
    return out.clamp_(0, 1)[0] if out.shape[0] == 1 else out.clamp_(0, 1)


_AUG_RE = re.compile(r"^(hflip|vflip|rotate|rotation|translate|brightness|contrast)([0-9.]*)$")


def build_augment(names: list[str] | None, seed: int | None = None):
    """Seeded torchvision.transforms.v2 pipeline from names like 'hflip', 'vflip', 'rotate15',
    'translate0.1', 'brightness0.1', 'contrast0.1'. Returns a callable on a (C,H,W) tensor, or None."""
    if not names:
        return None
    from torchvision.transforms import v2

    ops = []
    for n in names:
        m = _AUG_RE.match(str(n).strip().lower())
        if not m:
            raise ImageError(f"unknown augmentation {n!r}: use hflip, vflip, rotateDEG, translateFRAC, brightnessF, contrastF")
        op, arg = m.group(1), m.group(2)
        val = float(arg) if arg else None
        if op == "hflip":
            ops.append(v2.RandomHorizontalFlip(0.5))
        elif op == "vflip":
            ops.append(v2.RandomVerticalFlip(0.5))
        elif op in ("rotate", "rotation"):
            ops.append(v2.RandomRotation(val if val is not None else 15.0))
        elif op == "translate":
            t = val if val is not None else 0.1
            ops.append(v2.RandomAffine(degrees=0, translate=(t, t)))
        elif op == "brightness":
            ops.append(AdditiveBrightness(val if val is not None else 0.1))
        elif op == "contrast":
            ops.append(v2.ColorJitter(contrast=val if val is not None else 0.1))
    return Augment(v2.Compose(ops), list(names), seed)


class AdditiveBrightness:
    """x + U(-delta, delta), as the CIHMLC reference's brightness augmentation (``tf.image.random_brightness``
    adds a delta; torchvision's ColorJitter would multiply). Draws from torch's RNG, which :class:`Augment` seeds."""

    def __init__(self, delta: float):
        self.delta = float(delta)

    def __call__(self, x):
        import torch

        return x + (torch.rand(()) * 2 - 1) * self.delta

    def __repr__(self) -> str:
        return f"AdditiveBrightness({self.delta})"


class Augment:
    """A picklable augmentation callable on (C,H,W) tensors. With a seed it draws from its own generator
    (reproducible whatever else uses the global RNG); without one it uses torch's global RNG."""

    def __init__(self, pipe, names: list[str], seed: int | None = None):
        import torch

        self.pipe, self.names, self.seed = pipe, names, seed
        self.gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None

    def __getstate__(self):
        d = dict(self.__dict__)
        d["gen_state"] = self.gen.get_state() if self.gen is not None else None
        d["gen"] = None
        return d

    def __setstate__(self, d):
        state = d.pop("gen_state", None)
        self.__dict__.update(d)
        if state is not None:
            import torch

            self.gen = torch.Generator()
            self.gen.set_state(state)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        if self.gen is None:
            return self.pipe(x)
        # torchvision v2 draws from the global RNG: fork it so a seeded pipeline is reproducible
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=self.gen)))
            return self.pipe(x)


def to_model_input(loaded_or_array, image_size: int, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                   augment=None) -> torch.Tensor:
    """Grey [0,1] -> resized (S,S) -> optional augmentation -> 3 channels -> (x - mean) / std.

    ``augment`` is a callable from :func:`build_augment` or a list of names (unseeded)."""
    import torch

    a = loaded_or_array.model_input if isinstance(loaded_or_array, LoadedImage) else loaded_or_array
    if isinstance(a, np.ndarray) and a.ndim == 3:
        a = a[..., :3].mean(-1) if a.shape[-1] in (3, 4) else a[0]
    x = resize_grey(a, int(image_size))[None]  # (1,S,S)
    if augment is not None:
        if isinstance(augment, (list, tuple)):
            augment = build_augment(list(augment))
        if augment is not None:
            x = augment(x).clamp(0, 1)
    # normalise in numpy: tiny per-item tensors are slower through torch's thread pool on busy CPUs
    g = x[0].numpy()
    m = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    out = (g[None] - m) / s
    if out.shape[0] == 1:
        out = np.repeat(out, 3, axis=0)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))
