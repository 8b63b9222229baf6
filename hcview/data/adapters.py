"""Adapters for users' own copies of the public datasets, and for generic folders / CSVs.

Each adapter scans a root and returns a :class:`Source`: one table row per image with an absolute
``path``, an ``id``, a ``split`` (train/val/test) and the source's own label columns. Turning those into a
label space's targets is done by :mod:`hcview.data.datasets`. Nothing is decoded while scanning.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hcview.errors import CsvError, DatasetError

from .mappings import CHEXPERT14, NIH14
from .splits import group_split, stratified_split
from .tabular import read_csv_text

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".tif", ".tiff", ".bmp")


@dataclass
class Source:
    name: str                   # adapter name: nih, chexpert, jsrt, mri, folder, csv, cervical
    family: str                 # label family: nih14 | chexpert | jsrt | classes | columns | cervical
    table: pd.DataFrame
    root: str
    licence: str = "user's own copy (licence of the original dataset applies)"
    split_rule: str = ""
    notes: dict = field(default_factory=dict)


def _need_dir(root, what: str) -> Path:
    p = Path(root).expanduser()
    if not p.exists():
        raise DatasetError(f"{what} root not found: {root}")
    if not p.is_dir():
        raise DatasetError(f"{what} root is not a folder: {root}")
    return p


def _walk_images(root: Path, top_filter=None) -> list[Path]:
    out = []
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if top_filter and Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if top_filter(d)]
        for f in sorted(files):
            if f.lower().endswith(IMAGE_EXTS) and not f.startswith("."):
                out.append(Path(dirpath) / f)
    return out


# ---------------------------------------------------------------------------------------------------
# NIH ChestX-ray14
# ---------------------------------------------------------------------------------------------------
def _age(v):
    m = re.match(r"\s*(\d+)", str(v))
    return float(m.group(1)) if m else np.nan


def scan_nih(root) -> Source:
    root = _need_dir(root, "NIH ChestX-ray14")
    csvs = sorted(root.glob("Data_Entry_2017*.csv"))
    if not csvs:
        raise DatasetError(f"NIH root {root} has no Data_Entry_2017*.csv")
    csv = csvs[-1]  # Data_Entry_2017_v2020.csv sorts after Data_Entry_2017.csv
    try:
        df, _ = read_csv_text(csv)
    except CsvError as e:
        raise DatasetError(str(e)) from None
    need = ["Image Index", "Finding Labels", "Patient ID"]
    miss = [c for c in need if c not in df.columns]
    if miss:
        raise DatasetError(f"{csv.name}: missing NIH column(s) {', '.join(miss)}")
    files = {p.name: p for p in _walk_images(root, lambda d: d.startswith("images"))}
    df["path"] = df["Image Index"].map(lambda n: str(files[n]) if n in files else "")
    n_missing = int((df["path"] == "").sum())
    df = df[df["path"] != ""].reset_index(drop=True)
    if df.empty:
        raise DatasetError(f"NIH root {root}: none of the {n_missing} images listed in {csv.name} were found under images*/")
    labs = df["Finding Labels"].fillna("").astype(str)
    for lab in NIH14:
        df[lab] = labs.map(lambda s, lab=lab: int(lab in s.split("|")))
    df["finding_labels"] = labs
    df["patient_id"] = df["Patient ID"].astype(str)
    df["age"] = df.get("Patient Age", pd.Series(np.nan, index=df.index)).map(_age)
    df["sex"] = df.get("Patient Gender", pd.Series("", index=df.index))
    df["view"] = df.get("View Position", pd.Series("", index=df.index))
    df["id"] = df["Image Index"]
    tl, tv = root / "test_list.txt", root / "train_val_list.txt"
    if tl.exists():
        test = set(tl.read_text().split())
        is_test = df["Image Index"].isin(test).to_numpy()
        split = np.where(is_test, "test", "").astype(object)
        rest = ~is_test
        if tv.exists():
            rest &= df["Image Index"].isin(set(tv.read_text().split())).to_numpy()
        split[rest] = group_split(df.loc[rest, "patient_id"], (0.875, 0.125, 0.0), seed=0)
        df["split"] = split
        df = df[df["split"] != ""].reset_index(drop=True)
        rule = "official test_list.txt = test; train_val_list.txt split patient-level 87.5/12.5 (seed 0) into train/val"
    else:
        df["split"] = group_split(df["patient_id"], (0.7, 0.1, 0.2), seed=0)
        rule = "no official lists: patient-level 70/10/20 (seed 0)"
    return Source("nih", "nih14", df, str(root), "NIH Clinical Center: no restrictions; cite Wang et al. CVPR 2017",
                  rule, {"csv": csv.name, "images_not_found": n_missing})


# ---------------------------------------------------------------------------------------------------
# CheXpert
# ---------------------------------------------------------------------------------------------------
def _resolve_rel(root: Path, rel: str) -> Path | None:
    rel = rel.replace("\\", "/")
    parts = rel.split("/")
    for cand in (root / rel, root.parent / rel, root / "/".join(parts[1:])):
        if cand.exists():
            return cand
    return None


def scan_chexpert(root, policy: str = "zeros", views: str = "frontal") -> Source:
    root = _need_dir(root, "CheXpert")
    if policy not in ("zeros", "ones"):
        raise DatasetError(f"CheXpert uncertainty policy must be zeros or ones, got {policy!r}")
    if views not in ("frontal", "lateral", "all"):
        raise DatasetError(f"CheXpert views must be frontal, lateral or all, got {views!r}")
    frames = []
    for fname, split in (("train.csv", "train"), ("valid.csv", "test")):
        f = root / fname
        if not f.exists():
            continue
        try:
            df, _ = read_csv_text(f, dtype={"Path": str})
        except CsvError as e:
            raise DatasetError(str(e)) from None
        if "Path" not in df.columns:
            raise DatasetError(f"{fname}: missing CheXpert column Path")
        miss = [c for c in CHEXPERT14 if c not in df.columns]
        if miss:
            raise DatasetError(f"{fname}: missing CheXpert label column(s) {', '.join(miss[:4])}")
        df["source_csv"] = fname
        df["split"] = split
        frames.append(df)
    if not frames:
        raise DatasetError(f"CheXpert root {root} has neither train.csv nor valid.csv")
    df = pd.concat(frames, ignore_index=True)
    if views != "all" and "Frontal/Lateral" in df.columns:
        df = df[df["Frontal/Lateral"].astype(str).str.lower() == views].reset_index(drop=True)
    # resolve the base once (paths are relative to the folder that contains CheXpert-v1.0*/)
    first = _resolve_rel(root, str(df["Path"].iloc[0])) if len(df) else None
    if first is None:
        raise DatasetError(f"CheXpert image {df['Path'].iloc[0] if len(df) else '?'} not found under {root} or its parent")
    rel0 = str(df["Path"].iloc[0]).replace("\\", "/")
    if first == root / rel0:
        base = lambda r: root / r  # noqa: E731
    elif first == root.parent / rel0:
        base = lambda r: root.parent / r  # noqa: E731
    else:
        base = lambda r: root / "/".join(r.split("/")[1:])  # noqa: E731
    df["path"] = df["Path"].map(lambda r: str(base(str(r).replace("\\", "/"))))
    df["patient_id"] = df["Path"].map(lambda r: (re.search(r"(patient\d+)", str(r)) or [None, str(r)])[1])
    df["id"] = df["Path"].map(lambda r: "/".join(str(r).replace("\\", "/").split("/")[-3:]))
    tr = (df["split"] == "train").to_numpy()
    if tr.any():
        df.loc[tr, "split"] = group_split(df.loc[tr, "patient_id"], (0.9, 0.1, 0.0), seed=0)
    return Source("chexpert", "chexpert", df, str(root), "Stanford CheXpert research-use licence (user's own copy)",
                  "train.csv split patient-level 90/10 (seed 0) into train/val; valid.csv = test",
                  {"policy": policy, "views": views})


# ---------------------------------------------------------------------------------------------------
# JSRT
# ---------------------------------------------------------------------------------------------------
JSRT_COLUMNS = ["study_id", "subtlety", "size", "age", "gender", "x", "y", "state", "position", "diagnosis"]


def _num(v):
    try:
        f = float(v)
        return f if f == f else None
    except (TypeError, ValueError):
        return None


# JSRT's own vocabulary -> canonical names (the Res-MTNet heads then use these; hcview/papers/resmtnet.py)
def jsrt_position(text) -> str:
    """JSRT position strings ('l.upper lobe', 'r.lower lobe', 'r.middle', 'left upper lobe') -> head label."""
    t = str(text or "").strip().lower().replace(".", " ").replace("_", " ")
    if not t or t in ("nan", "none", "-", "?"):
        return "none"
    side = "left" if t.startswith("l") else "right" if t.startswith("r") else None
    part = "upper" if "upper" in t or "up" in t.split() else "middle" if "mid" in t else "lower" if "low" in t else None
    if side is None or part is None:
        return "none"
    if side == "left" and part == "middle":  # no left middle lobe (lingula is part of the upper lobe)
        part = "upper"
    return f"{side} {part} lobe"


def jsrt_diagnosis(text, state: str) -> str:
    t = str(text or "").strip().lower()
    if state == "non-nodule" or t in ("", "nan", "non-nodule", "nonnodule"):
        return "non-nodule"
    for key, lab in (("metasta", "metastasis"), ("cancer", "lung cancer"), ("carcinoma", "lung cancer"),
                     ("adeno", "lung cancer"), ("granuloma", "granuloma"), ("tubercul", "granuloma"),
                     ("hamartoma", "hamartoma"), ("inflammat", "inflammatory mass"), ("pneumonia", "inflammatory mass")):
        if key in t:
            return lab
    return "lung cancer" if state == "malignant" else "other benign"


def scan_jsrt(root) -> Source:
    rootp = Path(root)
    if rootp.is_file():
        csv, root = rootp, rootp.parent
    else:
        root = _need_dir(root, "JSRT")
        cands = sorted(root.glob("*.csv")) + sorted(root.glob("*.txt"))
        if not cands:
            raise DatasetError(f"JSRT root {root} has no metadata CSV")
        csv = cands[0]
    text = csv.read_text(errors="replace")
    first = text.splitlines()[0].lower() if text.strip() else ""
    header = "study_id" in first or "subtlety" in first
    sep = "\t" if "\t" in first else ","
    try:
        df, _ = read_csv_text(csv, sep=sep, header=0 if header else None, dtype=str)
    except CsvError as e:
        raise DatasetError(str(e)) from None
    if not header:
        if df.shape[1] < len(JSRT_COLUMNS):
            raise DatasetError(f"{csv.name}: expected {len(JSRT_COLUMNS)} JSRT columns ({', '.join(JSRT_COLUMNS)}), found {df.shape[1]}")
        df = df.iloc[:, : len(JSRT_COLUMNS)]
        df.columns = JSRT_COLUMNS
    else:
        df.columns = [c.strip().lower().replace(" ", "_") for c in df.columns]
        miss = [c for c in JSRT_COLUMNS if c not in df.columns]
        if miss:
            raise DatasetError(f"{csv.name}: missing JSRT column(s) {', '.join(miss)}")
    files = {p.stem.upper(): p for p in _walk_images(root)}
    recs = []
    for _, r in df.iterrows():
        sid = Path(str(r["study_id"]).strip()).stem.upper()
        p = files.get(sid)
        if p is None:
            continue
        state = str(r["state"] or "").strip().lower().replace("nonnodule", "non-nodule").replace(" ", "-")
        if state in ("", "nan", "normal", "non-nodule", "none"):
            state = "non-nodule"
        nod = state != "non-nodule"
        recs.append({"path": str(p), "id": sid, "state": state,
                     "subtlety": int(_num(r["subtlety"])) if nod and _num(r["subtlety"]) else None,
                     "size_mm": _num(r["size"]) if nod else None,
                     "x": _num(r["x"]) if nod else None, "y": _num(r["y"]) if nod else None,
                     "position": jsrt_position(r["position"]) if nod else "none",
                     "diagnosis": jsrt_diagnosis(r["diagnosis"], state),
                     "age": _num(r["age"]), "gender": str(r["gender"] or "")})
    if not recs:
        raise DatasetError(f"JSRT root {root}: no image matches a study_id of {csv.name}")
    t = pd.DataFrame(recs)
    t["split"] = stratified_split(t["state"], (0.7, 0.15, 0.15), seed=0)
    return Source("jsrt", "jsrt", t, str(root), "JSRT: research use only (user's own copy)",
                  "stratified by state 70/15/15 (seed 0)", {"csv": csv.name, "header": header})


# ---------------------------------------------------------------------------------------------------
# class folders: HC-Net MRI layout and generic folders
# ---------------------------------------------------------------------------------------------------
_SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "testing": "test"}


def scan_class_folders(root, adapter: str = "folder") -> Source:
    """``root/[split/]class/img`` or ``root/[split/]anatomy/category/disease/img`` (HC-Net MRI layout).
    An optional ``mapping.csv`` (columns ``folder, disease``) renames folders to label-space diseases."""
    root = _need_dir(root, "image folder")
    files = _walk_images(root)
    if not files:
        raise DatasetError(f"{root}: no images ({', '.join(IMAGE_EXTS)}) found in class folders")
    rows = []
    for p in files:
        parts = list(p.relative_to(root).parts[:-1])
        split = ""
        if parts and parts[0].lower() in _SPLIT_NAMES:
            split = _SPLIT_NAMES[parts[0].lower()]
            parts = parts[1:]
        if not parts:
            raise DatasetError(f"{root}: image {p.name} is not inside a class folder")
        rows.append({"path": str(p), "id": p.relative_to(root).as_posix(), "split": split,
                     "label": parts[-1], "levels": len(parts),
                     "anatomy": parts[-3] if len(parts) >= 3 else None,
                     "category": parts[-2] if len(parts) >= 3 else None})
    t = pd.DataFrame(rows)
    mp = root / "mapping.csv"
    if mp.exists():
        try:
            m, _ = read_csv_text(mp, dtype=str)
        except CsvError as e:
            raise DatasetError(str(e)) from None
        if not {"folder", "disease"} <= set(m.columns):
            raise DatasetError("mapping.csv needs columns folder, disease")
        t["label"] = t["label"].map(dict(zip(m["folder"], m["disease"]))).fillna(t["label"])
    if (t["split"] == "").all():
        t["split"] = stratified_split(t["label"], (0.7, 0.15, 0.15), seed=0)
        rule = "stratified by class 70/15/15 (seed 0)"
    elif (t["split"] == "").any():
        raise DatasetError(f"{root}: some images are inside train/val/test folders and some are not")
    else:
        if not (t["split"] == "val").any() and (t["split"] == "train").any():
            tr = (t["split"] == "train").to_numpy()
            t.loc[tr, "split"] = np.where(stratified_split(t.loc[tr, "label"], (0.85, 0.15, 0.0), seed=0) == "val",
                                          "val", "train")
            rule = "train/test folders; val = 15% of train, stratified (seed 0)"
        else:
            rule = "train/val/test folders"
    return Source(adapter, "classes", t, str(root), split_rule=rule,
                  notes={"levels": int(t["levels"].max()), "mapping_file": mp.exists()})


# ---------------------------------------------------------------------------------------------------
# generic CSV
# ---------------------------------------------------------------------------------------------------
PATH_COLUMNS = ("path", "Path", "image", "Image", "file", "filename", "Image Index", "image_path")


def scan_csv(path) -> Source:
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"CSV not found: {path}")
    try:
        df, _ = read_csv_text(p)
    except CsvError as e:
        raise DatasetError(str(e)) from None
    if df.empty:
        raise DatasetError(f"{p.name}: CSV has a header but no rows")
    col = next((c for c in PATH_COLUMNS if c in df.columns), None)
    if col is None:
        raise DatasetError(f"{p.name}: no image path column (one of {', '.join(PATH_COLUMNS[:6])})")
    base = p.parent
    df["path"] = df[col].map(lambda r: str(Path(r) if Path(str(r)).is_absolute() else base / str(r)))
    missing = [x for x in df["path"].head(50) if not Path(x).exists()]
    if missing:
        raise DatasetError(f"{p.name}: image not found: {missing[0]}")
    df["id"] = df[col].astype(str)
    if "split" in df.columns:
        df["split"] = df["split"].astype(str).str.lower().map(lambda s: _SPLIT_NAMES.get(s, s))
        rule = "split column"
    else:
        grp = df["patient_id"] if "patient_id" in df.columns else df["id"]
        df["split"] = group_split(grp, (0.7, 0.15, 0.15), seed=0)
        rule = "no split column: 70/15/15 by " + ("patient_id" if "patient_id" in df.columns else "row") + " (seed 0)"
    return Source("csv", "columns", df, str(base), split_rule=rule, notes={"path_column": col})


def parse_options(spec_path: str) -> tuple[str, dict]:
    """'/data/CheXpert?policy=ones&views=all' -> ('/data/CheXpert', {'policy': 'ones', 'views': 'all'})."""
    if "?" not in spec_path:
        return spec_path, {}
    path, q = spec_path.split("?", 1)
    opts = {}
    for kv in q.split("&"):
        if kv:
            k, _, v = kv.partition("=")
            opts[k.strip()] = v.strip()
    return path, opts


ADAPTERS = {
    "nih": lambda p, o: scan_nih(p),
    "chexpert": lambda p, o: scan_chexpert(p, o.get("policy", "zeros"), o.get("views", "frontal")),
    "jsrt": lambda p, o: scan_jsrt(p),
    "mri": lambda p, o: scan_class_folders(p, "mri"),
    "folder": lambda p, o: scan_class_folders(p, "folder"),
    "csv": lambda p, o: scan_csv(p),
}
