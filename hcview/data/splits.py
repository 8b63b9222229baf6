"""Deterministic train/val/test splits, written as files beside the sample sets.

- NIH: patient-level (no ``patient_id`` in two splits), 60/20/20 of images, seeded; the first seed
  (from 0) whose splits each contain every one of the 14 findings is used.
- brain MRI: the sample's ``brain-mri/`` (the public set's test split, 1,281 images) is held out whole as the
  test split; ``brain-mri-train/`` (the public training split, cleaned of duplicates and near-duplicates of
  the test images) is split stratified by class into train / val (90/10), seeded.
- cervical: stratified by 'any of the 4 outcomes positive', 70/15/15, seeded.
- user datasets without an official split use the same functions at run time.

``python -m hcview.data.splits`` rewrites the files (they are committed, so this is only needed when the
sample pack changes).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def group_split(groups, fractions=(0.6, 0.2, 0.2), seed: int = 0) -> np.ndarray:
    """Assign every group (e.g. patient) wholly to one split, filling splits to the fractions of rows."""
    groups = pd.Series(list(groups)).astype(str)
    sizes = groups.value_counts(sort=False)
    uniq = np.array(sorted(sizes.index))
    rng = np.random.default_rng(seed)
    rng.shuffle(uniq)
    total = len(groups)
    target = np.array(fractions, float) / sum(fractions) * total
    filled = np.zeros(3)
    assign = {}
    for g in uniq:
        k = int(np.argmax(target - filled))
        assign[g] = SPLITS[k]
        filled[k] += sizes[g]
    return groups.map(assign).to_numpy()


def stratified_split(labels, fractions=(0.7, 0.15, 0.15), seed: int = 0) -> np.ndarray:
    labels = pd.Series(list(labels)).astype(str)
    out = np.empty(len(labels), dtype=object)
    rng = np.random.default_rng(seed)
    for lab in sorted(labels.unique()):
        idx = np.flatnonzero(labels.to_numpy() == lab)
        rng.shuffle(idx)
        n = len(idx)
        n_val = int(round(n * fractions[1] / sum(fractions)))
        n_test = int(round(n * fractions[2] / sum(fractions)))
        n_train = n - n_val - n_test
        out[idx[:n_train]] = "train"
        out[idx[n_train:n_train + n_val]] = "val"
        out[idx[n_train + n_val:]] = "test"
    return out


def nih_patient_split(df: pd.DataFrame, label_cols, fractions=(0.6, 0.2, 0.2), max_seed: int = 200) -> tuple[np.ndarray, int]:
    """Patient-level split; returns (splits, seed used). Among seeds 0..max_seed-1 it keeps the first one with
    the fewest (split, label) pairs without a positive, then the largest smallest positive count."""
    best, best_key = None, None
    for seed in range(max_seed):
        s = group_split(df["patient_id"], fractions, seed)
        counts = np.stack([df.loc[s == sp, list(label_cols)].sum().to_numpy() for sp in SPLITS])
        key = (int((counts == 0).sum()), -int(counts.min()))
        if best_key is None or key < best_key:
            best, best_key = (s, seed), key
        if key[0] == 0 and key[1] <= -2:
            break
    return best


BRAIN_TRAIN_FRACTIONS = (0.9, 0.1, 0.0)  # brain-mri-train -> train / val (the test split is brain-mri/)


def _class_folder_rows(folder) -> list[tuple[str, str]]:
    from pathlib import Path

    folder = Path(folder)
    return sorted((p.parent.name, p.relative_to(folder).as_posix()) for p in folder.glob("*/*.jpg"))


def write_brain_train_splits(folder) -> None:  # pragma: no cover - maintenance entry point
    rows = _class_folder_rows(folder)
    labs = [r[0] for r in rows]
    s = stratified_split(labs, BRAIN_TRAIN_FRACTIONS, seed=0)
    pd.DataFrame({"path": [r[1] for r in rows], "label": labs, "split": s}).to_csv(folder / "splits.csv", index=False)
    print("brain-mri-train", pd.Series(s).value_counts().to_dict())


def write_sample_splits(root=None) -> None:  # pragma: no cover - maintenance entry point
    from hcview.paths import samples_dir

    from .mappings import NIH14

    root = root or samples_dir()
    nih = pd.read_csv(root / "nih-cxr-1000" / "labels.csv")
    s, seed = nih_patient_split(nih, NIH14)
    pd.DataFrame({"path": nih["path"], "patient_id": nih["patient_id"], "split": s}).to_csv(
        root / "nih-cxr-1000" / "splits.csv", index=False)
    print(f"nih: seed {seed}", pd.Series(s).value_counts().to_dict())
    rows = _class_folder_rows(root / "brain-mri")
    pd.DataFrame({"path": [r[1] for r in rows], "label": [r[0] for r in rows], "split": "test"}).to_csv(
        root / "brain-mri" / "splits.csv", index=False)
    print("brain-mri: all test", len(rows))
    write_brain_train_splits(root / "brain-mri-train")
    cer = pd.read_csv(root / "cervical" / "risk_factors_cervical_cancer.csv", na_values=["?"])
    tcols = [c for c in ("Hinselmann", "Schiller", "Cytology", "Citology", "Biopsy") if c in cer.columns]
    anypos = (cer[tcols].fillna(0).sum(axis=1) > 0).astype(int)
    s = stratified_split(anypos, (0.7, 0.15, 0.15), seed=0)
    pd.DataFrame({"row": np.arange(len(cer)), "split": s}).to_csv(root / "cervical" / "splits.csv", index=False)
    print("cervical", pd.Series(s).value_counts().to_dict())


if __name__ == "__main__":  # pragma: no cover
    write_sample_splits()
