"""Build data/samples/brain-mri-train/ from a copy of the cleaned training split of the Brain Tumor MRI
Dataset (Nickparvar, Kaggle, CC0): class folders of 224x224 JPEG (RGB-encoded grayscale).

    python scripts/pack_brain_mri_train.py SRC_DIR [--size 160] [--quality 90] [--max-corr 0.985]

Images whose 32x32 grey correlation with any image of the held-out ``data/samples/brain-mri/`` is at
least MAX_CORR are dropped (near-duplicates of test images; see ``hcview.data.dedup``), and so are
images whose normalised-pixel sha256 equals a test image's. Each kept image -> grayscale (ITU-R 601 luma; the three channels are equal in this data) -> SIZE x SIZE
(Lanczos) -> baseline JPEG at QUALITY, same folder/file name. Then writes ``splits.csv``
(``path,label,split``: a stratified 85/15 train/val split, seed 0).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--dst", default=str(ROOT / "data" / "samples" / "brain-mri-train"))
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--max-corr", type=float, default=0.985)
    a = ap.parse_args(argv)
    src, dst = Path(a.src), Path(a.dst)
    sys.path.insert(0, str(ROOT))
    from hcview.data.dedup import image_paths, max_correlation, pixel_sha256, zvectors

    test = image_paths(ROOT / "data" / "samples" / "brain-mri")
    cand = [p for p in image_paths(src) if p.parent.name in CLASSES]
    r = max_correlation(zvectors(cand), zvectors(test))
    test_hashes = {pixel_sha256(p) for p in test}
    drop = {p for p, x in zip(cand, r) if x >= a.max_corr} | {p for p in cand if pixel_sha256(p) in test_hashes}
    print(f"{len(cand)} images, {len(drop)} dropped as near-duplicates of test images:",
          {c: sum(p.parent.name == c for p in drop) for c in CLASSES})
    n = 0
    for c in CLASSES:
        (dst / c).mkdir(parents=True, exist_ok=True)
        for p in sorted((src / c).glob("*.jpg")):
            if p in drop:
                continue
            im = Image.open(p).convert("L")
            if im.size != (a.size, a.size):
                im = im.resize((a.size, a.size), Image.LANCZOS)
            im.save(dst / c / p.name, "JPEG", quality=a.quality, optimize=True)
            n += 1
    print(f"{n} images -> {dst}")
    from hcview.data.splits import write_brain_train_splits

    write_brain_train_splits(dst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
