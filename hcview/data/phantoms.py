"""Seeded synthetic phantoms for what no shippable real data gives. Every sample has ``synthetic=True``.

1. MRI-like phantoms for any ``taxonomy3`` label space (by default the HC-Net paper's 4 x 2 x 40):
   - anatomy  -> body outline shape (index mod 4: ellipse 'head', tall rounded bar 'spine',
                 circle with an inner ring 'cranial', two joined long bones 'musculoskeletal');
   - category -> lesion appearance (index 0: bright smooth lesions; 1: dark lesions with a bright rim,
                 and a striped background texture);
   - disease  -> lesion *position pattern* within its (anatomy, category) block: the j-th of n diseases
                 puts its lesion at angle 2*pi*j/n on a ring around the body centre, with (j mod 3)+1 lesions
                 (1-3) along that direction.
   Each image also has a ground-truth lesion mask (union of lesions).
2. Chest-X-ray-like nodule phantoms following the ``resmtnet_jsrt`` heads: two dark lung fields in a
   brighter thorax, a nodule of known subtlety (contrast), size (mm at ``PIXEL_SPACING_MM`` of the 2048 grid),
   x, y on the 2048 grid, state, position (lobe consistent with x, y: the patient's right lung is on the
   image's left, radiological convention), diagnosis (shape cue: cancer spiculated, metastasis with a
   satellite, granuloma calcified core, hamartoma lobulated 'popcorn', inflammatory mass elongated,
   other benign smooth). About 30% are non-nodule cases with no x, y, size. Ground-truth mask per image.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from hcview.models.labels import LabelSpace, load_label_space

GRID = 2048
PIXEL_SPACING_MM = 0.175  # JSRT: 2048 px * 0.175 mm = 358 mm field
SIZE_SCALE_MM = 60.0
SUBTLETY_CONTRAST = (0.06, 0.10, 0.15, 0.22, 0.32)  # 1 extremely subtle .. 5 obvious (added intensity)


@lru_cache(maxsize=8)
def _grid(size: int):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return (yy + 0.5) / size, (xx + 0.5) / size  # normalised [0,1] coordinates


def _rng(seed: int, split: str, i: int) -> np.random.Generator:
    sid = {"train": 0, "val": 1, "test": 2}.get(split, 3)
    return np.random.default_rng([int(seed), sid, int(i)])


def _body_mask(anatomy: int, size: int, rng) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    yy, xx = _grid(size)
    cx, cy = 0.5 + rng.uniform(-0.03, 0.03), 0.5 + rng.uniform(-0.03, 0.03)
    kind = anatomy % 4
    if kind == 0:  # head: wide ellipse
        rx, ry = 0.40, 0.33
        m = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    elif kind == 1:  # spine: tall rounded bar
        rx, ry = 0.17, 0.44
        dx = np.maximum(np.abs(xx - cx) - (rx - 0.08), 0)
        dy = np.maximum(np.abs(yy - cy) - (ry - 0.08), 0)
        m = dx ** 2 + dy ** 2 <= 0.08 ** 2
    elif kind == 2:  # cranial: circle with a dark inner ring
        rx = ry = 0.40
        r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        m = (r <= 0.40) & ~((r > 0.30) & (r < 0.34))
    else:  # musculoskeletal: two long bones joined at an angle (an 'L')
        rx, ry = 0.38, 0.38
        a = (np.abs(xx - (cx - 0.22)) < 0.11) & (np.abs(yy - cy) < 0.40)
        b = (np.abs(yy - (cy + 0.28)) < 0.11) & (np.abs(xx - cx) < 0.33)
        m = a | b
    return m, (cx, cy, rx, ry)


def mri_phantom(disease_idx: int, label_space: LabelSpace, size: int = 128, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """One MRI-like phantom of ``disease_idx`` (index into the disease head). Returns (image [0,1], mask uint8)."""
    rng = rng or np.random.default_rng(0)
    dis = label_space.head("disease").labels[disease_idx]
    an, cat = label_space.parent_of(dis)
    a = label_space.head("anatomy").labels.index(an)
    c = label_space.head("category").labels.index(cat)
    block = [d for d, aa, cc in label_space.tree if aa == an and cc == cat]
    j, n = block.index(dis), len(block)
    yy, xx = _grid(size)
    body, (cx, cy, rx, ry) = _body_mask(a, size, rng)
    img = np.zeros((size, size), np.float32)
    img[body] = 0.35 + 0.05 * rng.standard_normal()
    if c % 2 == 1:  # striped background texture for the second category
        img += body * 0.06 * np.sin(2 * math.pi * 9 * (xx + yy))
    ang = 2 * math.pi * j / max(n, 1) + rng.uniform(-0.12, 0.12)
    k = (j % 3) + 1
    mask = np.zeros((size, size), bool)
    for t in range(k):
        rad = 0.14 + 0.09 * t
        lx = cx + rad * math.cos(ang) * (rx / 0.40)
        ly = cy + rad * math.sin(ang) * (ry / 0.40)
        r = rng.uniform(0.045, 0.065)
        d2 = (xx - lx) ** 2 + (yy - ly) ** 2
        les = d2 <= r * r
        mask |= les
        if c % 2 == 0:
            img = np.where(les, 0.85 + 0.05 * rng.standard_normal(), img)
        else:
            rim = les & (d2 >= (0.7 * r) ** 2)
            img = np.where(les, 0.08, img)
            img = np.where(rim, 0.9, img)
    img += rng.standard_normal((size, size)).astype(np.float32) * 0.03
    return np.clip(img, 0, 1).astype(np.float32), mask.astype(np.uint8)


def generate_mri_phantoms(n: int, size: int = 128, seed: int = 0, split: str = "train",
                          label_space: LabelSpace | None = None) -> list[dict]:
    """``n`` phantoms, classes balanced (sample i has disease i mod D), deterministic from (seed, split, i)."""
    ls = label_space or load_label_space("hcnet_paper")
    D = ls.head("disease").size
    out = []
    for i in range(n):
        d = i % D
        img, mask = mri_phantom(d, ls, size, _rng(seed, split, i))
        dis = ls.head("disease").labels[d]
        a, c = ls.parent_of(dis)
        out.append({"image": img, "mask": mask, "disease": dis, "anatomy": a, "category": c,
                    "id": f"phantom-{split}-{i:05d}", "synthetic": True})
    return out


# ---------------------------------------------------------------------------------------------------
# nodule phantoms (Res-MTNet / JSRT heads)
# ---------------------------------------------------------------------------------------------------
STATE_DIAGNOSES = {
    "malignant": ("lung cancer", "metastasis"),
    "benign": ("granuloma", "hamartoma", "inflammatory mass", "other benign"),
}

# lung fields on the normalised grid (image left = patient right)
_LUNGS = {"right": (0.31, 0.47, 0.15, 0.31), "left": (0.69, 0.47, 0.15, 0.31)}  # cx, cy, rx, ry


def lobe_of(x: float, y: float) -> str:
    """Lobe from normalised x, y on the image (0..1): the consistency rule the generator follows."""
    lcx, lcy, lrx, lry = _LUNGS["right" if x < 0.5 else "left"]
    rel = (y - (lcy - lry)) / (2 * lry)  # 0 at lung apex, 1 at the base
    if x < 0.5:
        return "right upper lobe" if rel < 0.38 else "right middle lobe" if rel < 0.62 else "right lower lobe"
    return "left upper lobe" if rel < 0.5 else "left lower lobe"


def _sample_in_lobe(lobe: str, rng) -> tuple[float, float]:
    side = "left" if lobe.startswith("left") else "right"
    cx, cy, rx, ry = _LUNGS[side]
    for _ in range(200):
        x = cx + rx * rng.uniform(-0.75, 0.75)
        y = cy + ry * rng.uniform(-0.8, 0.8)
        if ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 0.7 and lobe_of(x, y) == lobe:
            return x, y
    raise RuntimeError(f"could not place a nodule in {lobe}")  # pragma: no cover


def nodule_phantom(size: int = 128, rng=None, state: str | None = None) -> dict:
    rng = rng or np.random.default_rng(0)
    yy, xx = _grid(size)
    img = np.full((size, size), 0.62, np.float32)
    lungs = np.zeros((size, size), bool)
    for cx, cy, rx, ry in _LUNGS.values():
        lungs |= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    img = np.where(lungs, 0.22, img)
    img += 0.05 * np.exp(-((xx - 0.5) / 0.06) ** 2)  # mediastinum / spine
    for k in range(6):  # ribs: faint horizontal bands inside the lungs
        img += lungs * 0.05 * np.exp(-((yy - (0.22 + 0.09 * k + 0.05 * np.abs(xx - 0.5))) / 0.012) ** 2)
    mask = np.zeros((size, size), bool)
    state = state or rng.choice(["malignant", "benign", "non-nodule"], p=[0.35, 0.35, 0.30])
    rec = {"state": state, "synthetic": True, "pixel_spacing_mm": PIXEL_SPACING_MM * GRID / size}
    if state == "non-nodule":
        rec.update(subtlety=None, position="none", diagnosis="non-nodule", x=None, y=None, size_mm=None)
    else:
        diagnosis = str(rng.choice(STATE_DIAGNOSES[state]))
        subtlety = int(rng.integers(1, 6))
        lobe = str(rng.choice(["left upper lobe", "left lower lobe", "right upper lobe", "right middle lobe",
                               "right lower lobe"]))
        x, y = _sample_in_lobe(lobe, rng)
        size_mm = float(rng.uniform(12, 50))
        r = size_mm / PIXEL_SPACING_MM / GRID / 2  # radius on the normalised grid
        contrast = SUBTLETY_CONTRAST[subtlety - 1]
        dx, dy = xx - x, yy - y
        ang = np.arctan2(dy, dx)
        if diagnosis == "lung cancer":
            rr = r * (1 + 0.35 * np.maximum(np.cos(7 * ang + rng.uniform(0, 6.28)), 0) ** 4)
            shape = np.sqrt(dx ** 2 + dy ** 2) <= rr
        elif diagnosis == "inflammatory mass":
            th = rng.uniform(0, math.pi)
            u, v = dx * math.cos(th) + dy * math.sin(th), -dx * math.sin(th) + dy * math.cos(th)
            shape = (u / (1.5 * r)) ** 2 + (v / (0.65 * r)) ** 2 <= 1
        elif diagnosis == "hamartoma":
            shape = np.zeros_like(lungs)
            for t in range(3):
                a = 2 * math.pi * t / 3
                shape |= (dx - 0.45 * r * math.cos(a)) ** 2 + (dy - 0.45 * r * math.sin(a)) ** 2 <= (0.62 * r) ** 2
        else:
            shape = dx ** 2 + dy ** 2 <= r * r
        img = img + contrast * shape
        mask |= shape
        if diagnosis == "granuloma":
            core = dx ** 2 + dy ** 2 <= (0.35 * r) ** 2
            img = img + core * max(contrast, 0.12)
        if diagnosis == "metastasis":
            sx, sy = x + rng.choice([-1, 1]) * 2.6 * r, y + rng.uniform(-1.5, 1.5) * r
            sat = (xx - sx) ** 2 + (yy - sy) ** 2 <= (0.5 * r) ** 2
            img = img + contrast * sat * lungs
            mask |= sat & lungs
        rec.update(subtlety=subtlety, position=lobe, diagnosis=diagnosis, x=x * GRID, y=y * GRID, size_mm=size_mm)
    img = img + rng.standard_normal((size, size)).astype(np.float32) * 0.025
    rec["image"] = np.clip(img, 0, 1).astype(np.float32)
    rec["mask"] = mask.astype(np.uint8)
    return rec


def generate_nodule_phantoms(n: int, size: int = 128, seed: int = 0, split: str = "train") -> list[dict]:
    out = []
    for i in range(n):
        rec = nodule_phantom(size, _rng(seed, split, i))
        rec["id"] = f"nodule-{split}-{i:05d}"
        out.append(rec)
    return out


def nodule_targets(rec: dict, label_space: LabelSpace) -> tuple[dict, np.ndarray]:
    """Targets dict (class indices / -100) and regression mask for one nodule record (phantom or JSRT)."""
    scale = label_space.extra.get("regression_scale", {"x": GRID, "y": GRID, "size": SIZE_SCALE_MM})
    t = {}
    sub = rec.get("subtlety")
    t["subtlety"] = int(sub) - 1 if sub is not None and 1 <= int(sub) <= 5 else -100
    for head in ("state", "position", "diagnosis"):
        labels = label_space.head(head).labels
        t[head] = labels.index(rec[head]) if rec.get(head) in labels else -100
    has = rec.get("x") is not None and rec.get("size_mm") is not None and rec.get("state") != "non-nodule"
    reg = np.zeros(3, np.float32)
    if has:
        reg[:] = (float(rec["x"]) / scale["x"], float(rec["y"]) / scale["y"], float(rec["size_mm"]) / scale["size"])
        reg = np.clip(reg, 0, 1)
    t["regression"] = reg
    return t, np.full(3, 1.0 if has else 0.0, np.float32)
