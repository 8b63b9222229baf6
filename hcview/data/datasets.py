"""The dataset contract used by the trainer, evaluator and predictor.

``build_dataset(data_spec, label_space, split, image_size, mean, std, augment=None, model_id=None)``
returns a ``torch.utils.data.Dataset`` whose items are dicts:

- ``image``: float32 (3, S, S), normalised (``hcview.data.io.to_model_input``; zeros for tabular data);
- ``targets``: head name -> tensor (softmax: int64 scalar, -100 unknown; sigmoid 'labels': float32 (K,);
  regression 'regression': float32 (3,) in [0, 1]); for a label space with a regression head the
  targets dict also carries ``reg_mask`` (and so does the item itself);
- ``reg_mask``: float32 (3,) (only for label spaces with a regression head; 0 where no nodule);
- ``meta`` float32 (F,) and ``meta_mask`` bool (F,) (F may be 0); ``text`` str; ``id`` str; ``path`` str;
  ``synthetic`` bool; ``mask`` uint8 (S, S) ground-truth lesion mask for phantoms only.

``dataset.info`` (dict) and ``dataset.targets_array(head)`` (no image decoding) describe it.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from hcview.errors import DatasetError, HcviewError
from hcview.models.labels import LabelSpace
from hcview.paths import samples_dir

from . import mappings as M
from .io import build_augment, load_image, resize_grey, to_model_input

SPLITS = ("train", "val", "test", "all")
SAMPLE_SPECS = ("nih", "brain-mri", "phantoms", "nodules", "cervical")
ADAPTER_NAMES = ("chexpert", "nih", "jsrt", "mri", "folder", "csv", "cervical")

PHANTOM_COUNTS = {"train": 20, "val": 5, "test": 5}      # per disease class
NODULE_COUNTS = {"train": 2400, "val": 150, "test": 150}  # phantoms are cheap (~1.5 ms each); more train cases, less memorising
CACHE_LIMIT_BYTES = 1_500_000_000

LICENCES = {
    "nih": "NIH Clinical Center: no restrictions on use; cite Wang et al., CVPR 2017 (ChestX-ray8)",
    "brain-mri": "CC0 1.0 (Nickparvar, Brain Tumor MRI Dataset, Kaggle)",
    "cervical": "CC BY 4.0; cite Fernandes, Cardoso, Fernandes (2017), UCI",
    "phantoms": "synthetic (hcview.data.phantoms), no licence restrictions",
    "nodules": "synthetic (hcview.data.phantoms), no licence restrictions",
}


class RecordDataset(Dataset):
    """Items built from precomputed per-record targets and an image getter with an in-memory cache."""

    def __init__(self, *, n: int, get_grey: Callable[[int], np.ndarray] | None, targets: dict[str, np.ndarray],
                 label_space: LabelSpace, image_size: int, mean, std, augment=None, ids=None, paths=None,
                 meta: np.ndarray | None = None, meta_mask: np.ndarray | None = None, texts=None,
                 masks: list | None = None, synthetic: bool = False, info: dict | None = None,
                 reg_mask: np.ndarray | None = None, cache: bool = True):
        self.n = n
        self._get_grey = get_grey
        self._targets = targets
        self.label_space = label_space
        self.image_size = int(image_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.augment_names = list(augment or [])
        self._augment = build_augment(self.augment_names) if self.augment_names else None
        self.ids = list(ids) if ids is not None else [str(i) for i in range(n)]
        self.paths = list(paths) if paths is not None else [""] * n
        self.meta = meta if meta is not None else np.zeros((n, 0), np.float32)
        self.meta_mask = meta_mask if meta_mask is not None else np.zeros(self.meta.shape, bool)
        self.texts = list(texts) if texts is not None else [""] * n
        self.masks = masks
        self.synthetic = bool(synthetic)
        self.reg_mask = reg_mask
        self._cache: dict[int, torch.Tensor] = {}
        self.skipped: dict[int, str] = {}  # unreadable images met so far (index -> reason)
        self._use_cache = cache and n * self.image_size ** 2 * 4 <= CACHE_LIMIT_BYTES
        self.info = dict(info or {})
        self.info.setdefault("n", n)
        self.info["label_counts"] = self._label_counts()
        self.info["synthetic"] = self.synthetic
        self.info.setdefault("meta_features", [])
        self.info["augment"] = self.augment_names

    def __len__(self) -> int:
        return self.n

    def targets_array(self, head: str) -> np.ndarray:
        if head == "reg_mask" and self.reg_mask is not None:
            return self.reg_mask.copy()
        if head not in self._targets:
            raise DatasetError(f"dataset {self.info.get('name')} has no head {head!r} (heads: {', '.join(self._targets)})")
        return self._targets[head].copy()

    def _label_counts(self) -> dict:
        out = {}
        for h in self.label_space.heads:
            arr = self._targets.get(h.name)
            if arr is None:
                continue
            if h.kind == "softmax":
                out[h.name] = {lab: int((arr == i).sum()) for i, lab in enumerate(h.labels)}
                unk = int((arr == -100).sum())
                if unk:
                    out[h.name]["(unknown)"] = unk
            elif h.kind == "sigmoid":
                out[h.name] = {lab: int((arr[:, i] > 0.5).sum()) for i, lab in enumerate(h.labels)} if len(arr) else {}
            else:
                m = self.reg_mask if self.reg_mask is not None else np.ones_like(arr)
                out[h.name] = {"with_target": int((m[:, 0] > 0).sum()), "masked": int((m[:, 0] == 0).sum())}
        return out

    def grey(self, i: int) -> torch.Tensor:
        """The resized grey image (S, S) in [0, 1], cached (before augmentation)."""
        t = self._cache.get(i)
        if t is None:
            t = resize_grey(self._get_grey(i), self.image_size)
            if self._use_cache:
                self._cache[i] = t
        return t

    def _readable_grey(self, i: int) -> tuple[int, torch.Tensor]:
        """Item i's grey image, or the next readable item's when i's file cannot be read: a corrupt or crafted
        file is skipped with a warning and counted in ``skipped`` / ``info['skipped']``, never an abort."""
        import warnings

        for k in range(self.n):
            j = (i + k) % self.n
            if j in self.skipped:
                continue
            try:
                return j, self.grey(j)
            except DatasetError as e:
                self.skipped[j] = str(e)
                self.info["skipped"] = len(self.skipped)
                warnings.warn(f"skipped an unreadable image ({len(self.skipped)} so far): {e}", stacklevel=2)
        raise DatasetError(f"dataset {self.info.get('name', '')}: none of its {self.n} images can be read")

    def __getitem__(self, i: int) -> dict:
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        if self._get_grey is None:
            image = torch.zeros(3, self.image_size, self.image_size)
        else:
            i, grey = self._readable_grey(i)
            image = to_model_input(grey.numpy(), self.image_size, self.mean, self.std, self._augment)
        targets = {}
        for h in self.label_space.heads:
            a = self._targets[h.name][i]
            if h.kind == "softmax":
                targets[h.name] = torch.tensor(int(a), dtype=torch.long)
            else:
                targets[h.name] = torch.as_tensor(np.asarray(a, np.float32))
        item = {"image": image, "targets": targets,
                "meta": torch.as_tensor(self.meta[i], dtype=torch.float32),
                "meta_mask": torch.as_tensor(self.meta_mask[i], dtype=torch.bool),
                "text": self.texts[i], "id": self.ids[i], "path": self.paths[i], "synthetic": self.synthetic}
        if self.reg_mask is not None:
            rm = torch.as_tensor(self.reg_mask[i], dtype=torch.float32)
            item["reg_mask"] = rm
            targets["reg_mask"] = rm
        if self.masks is not None:
            m = torch.as_tensor(self.masks[i])
            if tuple(m.shape) != (self.image_size, self.image_size):
                m = (resize_grey(m.float().numpy(), self.image_size) > 0.5)
            item["mask"] = m.to(torch.uint8)
        return item


# ---------------------------------------------------------------------------------------------------
# label-space compatibility
# ---------------------------------------------------------------------------------------------------
def _labels(ls: LabelSpace) -> tuple[str, ...]:
    return ls.heads[0].labels if ls.heads else ()


def _mapping(ls: LabelSpace, source: str, spec: str, wanted: str) -> Callable:
    """The label space's paper mapping for ``source`` (see hcview.data.mappings.DataMapping), or one line."""
    fn = getattr(M.mapping_for(ls), source)
    if fn is None:
        raise _mismatch(spec, ls, wanted)
    return fn


def _is_cervical(ls: LabelSpace) -> bool:
    return ls.kind == "multilabel" and set(_labels(ls)) <= {"Hinselmann", "Schiller", "Cytology", "Citology", "Biopsy"}


def _mismatch(spec: str, ls: LabelSpace, wanted: str) -> DatasetError:
    return DatasetError(f"data {spec} does not fit label space {ls.name} ({ls.kind}); it needs {wanted}")


def _split_mask(splits: np.ndarray, split: str) -> np.ndarray:
    return np.ones(len(splits), bool) if split == "all" else (np.asarray(splits) == split)


class _PathGetter:
    """Picklable image getter (DataLoader workers may be spawned, not forked)."""

    def __init__(self, paths: list[str]):
        self.paths = paths

    def __call__(self, i: int) -> np.ndarray:
        try:
            return load_image(self.paths[i]).array
        except HcviewError as e:
            raise DatasetError(f"cannot load dataset image: {e}") from None
        except Exception as e:  # anything else a crafted file provokes: still a typed, skippable error
            raise DatasetError(f"cannot load dataset image {Path(self.paths[i]).name}: {type(e).__name__}") from None


class _ArrayGetter:
    def __init__(self, arrays: list[np.ndarray]):
        self.arrays = arrays

    def __call__(self, i: int) -> np.ndarray:
        return self.arrays[i]


def _image_getter(paths: list[str]) -> Callable[[int], np.ndarray]:
    return _PathGetter(list(paths))


# ---------------------------------------------------------------------------------------------------
# NIH family (bundled sample and user copies)
# ---------------------------------------------------------------------------------------------------
def _nih_dataset(df: pd.DataFrame, spec: str, ls: LabelSpace, common: dict, info: dict) -> RecordDataset:
    mapped = _mapping(ls, "nih", spec, "the cihmlc (21 labels) or nih14 label space")(df, ls)
    paths = df["path"].tolist()
    info.update(mapping=mapped.text, meta_features=list(mapped.meta_features))
    return RecordDataset(n=len(df), get_grey=_image_getter(paths), targets=mapped.targets, label_space=ls,
                         ids=df["id"].tolist(), paths=paths, meta=mapped.meta, meta_mask=mapped.meta_mask, info=info,
                         **common)


def _sample_nih(ls, split, common, spec) -> RecordDataset:
    root = samples_dir() / "nih-cxr-1000"
    df = pd.read_csv(root / "labels.csv")
    sp = pd.read_csv(root / "splits.csv")
    df = df.merge(sp[["path", "split"]].rename(columns={"split": "hsplit"}), on="path", how="left")
    df = df[_split_mask(df["hsplit"].to_numpy(), split)].reset_index(drop=True)
    df["id"] = df["image_index"]
    df["path"] = df["path"].map(lambda p: str(root / p))
    info = {"name": "sample:nih", "split": split, "source": "NIH ChestX-ray14 (1000 images, 64x64)",
            "licence": LICENCES["nih"], "split_rule": "patient-level 60/20/20 (data/samples/nih-cxr-1000/splits.csv)"}
    return _nih_dataset(df, spec, ls, common, info)


# ---------------------------------------------------------------------------------------------------
# class folders (brain MRI sample, mri:, folder:)
# ---------------------------------------------------------------------------------------------------
def _classes_dataset(t: pd.DataFrame, spec: str, ls: LabelSpace, common: dict, info: dict) -> RecordDataset:
    paths, n = t["path"].tolist(), len(t)
    if ls.kind == "taxonomy3":
        diseases = ls.head("disease").labels
        unknown = sorted(set(t["label"]) - set(diseases))
        if unknown:
            raise DatasetError(f"data {spec}: class folder(s) {', '.join(unknown[:5])} are not diseases of label space "
                               f"{ls.name}; rename them or add a mapping.csv (folder, disease)")
        tg = {"anatomy": [], "category": [], "disease": []}
        for _, r in t.iterrows():
            d = M.taxonomy3_targets(r["label"], ls)
            if r.get("anatomy") and r.get("category"):
                a, c = ls.parent_of(r["label"])
                if (r["anatomy"], r["category"]) != (a, c):
                    raise DatasetError(f"data {spec}: folder {r['anatomy']}/{r['category']}/{r['label']} disagrees with "
                                       f"label space {ls.name} ({a}/{c}/{r['label']})")
            for k in tg:
                tg[k].append(d[k])
        targets = {k: np.asarray(v, np.int64).reshape(n) for k, v in tg.items()}
        info.setdefault("mapping", f"class folder = disease; anatomy and category from the {ls.name} tree")
    elif ls.kind in ("multilabel", "multilabel_tree"):
        labels = list(_labels(ls))
        unknown = sorted(set(t["label"]) - set(labels))
        if unknown:
            raise DatasetError(f"data {spec}: class folder(s) {', '.join(unknown[:5])} are not labels of {ls.name}")
        tg = np.zeros((n, len(labels)), np.float32)
        for i, lab in enumerate(t["label"]):
            tg[i, labels.index(lab)] = 1
        if ls.kind == "multilabel_tree":
            for i in range(n):
                M.derive_parents(tg[i], ls)
        targets = {"labels": tg}
        info.setdefault("mapping", "class folder = one positive label")
    else:
        raise _mismatch(spec, ls, "a taxonomy3 or multilabel label space for class folders")
    return RecordDataset(n=n, get_grey=_image_getter(paths), targets=targets, label_space=ls,
                         ids=t["id"].tolist(), paths=paths, info=info, **common)


def _sample_brain(ls, split, common, spec) -> RecordDataset:
    if ls.kind != "taxonomy3":
        raise _mismatch(spec, ls, "the hcnet_brain_mri taxonomy")
    if not {"notumor", "glioma", "meningioma", "pituitary"} <= set(ls.head("disease").labels):
        raise _mismatch(spec, ls, "the hcnet_brain_mri taxonomy (notumor, glioma, meningioma, pituitary)")
    parts = []
    for folder in ("brain-mri-train", "brain-mri"):  # train/val from the training split; test = all of brain-mri/
        root = samples_dir() / folder
        t = pd.read_csv(root / "splits.csv")
        t = t[_split_mask(t["split"].to_numpy(), split)].reset_index(drop=True)
        t["id"] = t["path"]
        t["path"] = t["path"].map(lambda p, root=root: str(root / p))
        parts.append(t)
    t = pd.concat(parts, ignore_index=True)
    info = {"name": "sample:brain-mri", "split": split,
            "source": "Brain Tumor MRI Dataset (Nickparvar): train/val from its training split (4213 images left after "
                      "removing near-duplicates of the test images, 160 px grey), test = its test split (1281 images, "
                      "224 px)",
            "licence": LICENCES["brain-mri"], "mapping": M.mapping_for(ls).texts.get("sample:brain-mri", ""),
            "split_rule": "train/val: stratified 90/10 of data/samples/brain-mri-train (splits.csv); "
                          "test: all 1281 images of data/samples/brain-mri"}
    return _classes_dataset(t, spec, ls, common, info)


# ---------------------------------------------------------------------------------------------------
# phantoms
# ---------------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _phantom_records(kind: str, split: str, size: int, ls_source: str, ls_name: str):
    from hcview.models.labels import load_label_space

    from . import phantoms as P

    if kind == "phantoms":
        ls = load_label_space(ls_source) if ls_source else load_label_space("hcnet_paper")
        D = ls.head("disease").size
        return P.generate_mri_phantoms(D * PHANTOM_COUNTS[split], size, seed=0, split=split, label_space=ls)
    return P.generate_nodule_phantoms(NODULE_COUNTS[split], size, seed=0, split=split)


def _gather_phantoms(kind, split, size, ls) -> list[dict]:
    splits = ("train", "val", "test") if split == "all" else (split,)
    out = []
    for s in splits:
        out.extend(_phantom_records(kind, s, size, ls.source if kind == "phantoms" else "", ls.name))
    return out


def _sample_phantoms(ls, split, common, spec) -> RecordDataset:
    if ls.kind != "taxonomy3":
        raise _mismatch(spec, ls, "a taxonomy3 label space such as hcnet_paper")
    recs = _gather_phantoms("phantoms", split, common["image_size"], ls)
    targets = {h: np.array([M.taxonomy3_targets(r["disease"], ls)[h] for r in recs], np.int64)
               for h in ("anatomy", "category", "disease")}
    info = {"name": "sample:phantoms", "split": split, "source": "hcview.data.phantoms MRI-like phantoms (seed 0)",
            "licence": LICENCES["phantoms"],
            "mapping": f"synthetic: anatomy = body outline, category = lesion appearance/texture, disease = lesion "
                       f"position pattern, for the {ls.name} taxonomy ({PHANTOM_COUNTS} per class)"}
    return RecordDataset(n=len(recs), get_grey=_ArrayGetter([r["image"] for r in recs]), targets=targets, label_space=ls,
                         ids=[r["id"] for r in recs], masks=[r["mask"] for r in recs], synthetic=True, info=info,
                         **common)


def _nodule_dataset(recs: list[dict], spec: str, ls, common, info, get_grey, masks=None, synthetic=False, paths=None):
    mapped = _mapping(ls, "nodules", spec, "the resmtnet_jsrt label space")(recs, ls)
    info["mapping"] = (info.get("mapping", "") + " " + mapped.text).strip()
    return RecordDataset(n=len(recs), get_grey=get_grey, targets=mapped.targets, label_space=ls,
                         ids=[r["id"] for r in recs], paths=paths, masks=masks, synthetic=synthetic,
                         reg_mask=mapped.reg_mask, info=info, **common)


def _sample_nodules(ls, split, common, spec) -> RecordDataset:
    _mapping(ls, "nodules", spec, "the resmtnet_jsrt label space")  # refuse before generating phantoms
    recs = _gather_phantoms("nodules", split, common["image_size"], ls)
    info = {"name": "sample:nodules", "split": split, "source": "hcview.data.phantoms nodule phantoms (seed 0)",
            "licence": LICENCES["nodules"], "pixel_spacing_mm_2048": 0.175,
            "mapping": "synthetic chest-X-ray-like images with one nodule of known subtlety (contrast), size (mm at "
                       "0.175 mm/px of the 2048 grid), x, y (2048 grid), state, lobe consistent with x, y, diagnosis "
                       "(shape cue); ~30% non-nodule (regression masked)."}
    return _nodule_dataset(recs, spec, ls, common, info, _ArrayGetter([r["image"] for r in recs]),
                           masks=[r["mask"] for r in recs], synthetic=True)


# ---------------------------------------------------------------------------------------------------
# cervical (tabular)
# ---------------------------------------------------------------------------------------------------
def _cervical(path: Path, ls, split, common, spec, splits_file: Path | None) -> RecordDataset:
    from .splits import stratified_split
    from .tabular import features_and_mask, load_records

    if not _is_cervical(ls):
        raise _mismatch(spec, ls, "the cervical4 label space")
    try:
        df, tinfo = load_records(path, require_targets=True)
    except HcviewError as e:
        raise DatasetError(str(e)) from None
    if splits_file is not None and splits_file.exists():
        s = pd.read_csv(splits_file)["split"].to_numpy()
        if len(s) != len(df):
            raise DatasetError(f"{splits_file.name} has {len(s)} rows but the CSV has {len(df)}")
    else:
        anypos = (df[list(tinfo["targets"])].fillna(0).sum(axis=1) > 0).astype(int)
        s = stratified_split(anypos, (0.7, 0.15, 0.15), seed=0)
    feats = tinfo["features"]
    _, _, stats = features_and_mask(df[s == "train"], feats)  # standardise with train-split statistics
    sel = _split_mask(s, split)
    d = df[sel].reset_index(drop=True)
    x, mask, _ = features_and_mask(d, feats, stats)
    labels = [("Cytology" if lab == "Citology" else lab) for lab in _labels(ls)]
    tg = d[labels].fillna(0).to_numpy(np.float32)
    info = {"name": spec, "split": split, "tabular": True, "meta_features": feats,
            "source": "UCI Cervical cancer (Risk Factors), 858 rows", "licence": LICENCES["cervical"],
            "mapping": "UCI columns -> cervical4 targets (Hinselmann, Schiller, Cytology (UCI 'Citology'), Biopsy); "
                       "features = all other columns, standardised by train-split median/std, '?' = missing "
                       "(masked, value 0)", "feature_stats": stats}
    return RecordDataset(n=len(d), get_grey=None, targets={"labels": tg}, label_space=ls,
                         ids=[f"row-{i}" for i in np.flatnonzero(sel)], meta=x, meta_mask=mask, info=info, **common)


# ---------------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------------
def parse_spec(data_spec: str) -> tuple[str, str]:
    if not isinstance(data_spec, str) or ":" not in data_spec:
        raise DatasetError(f"bad data spec {data_spec!r}: use sample:NAME ({', '.join(SAMPLE_SPECS)}) or "
                           f"ADAPTER:PATH ({', '.join(ADAPTER_NAMES)})")
    kind, rest = data_spec.split(":", 1)
    kind = kind.strip().lower()
    if kind == "sample":
        if rest not in SAMPLE_SPECS:
            raise DatasetError(f"unknown sample {rest!r}: one of {', '.join(SAMPLE_SPECS)}")
    elif kind not in ADAPTER_NAMES:
        raise DatasetError(f"unknown dataset adapter {kind!r} in {data_spec!r}: one of sample, {', '.join(ADAPTER_NAMES)}")
    elif not rest.strip():
        raise DatasetError(f"data spec {data_spec!r} needs a path after '{kind}:'")
    return kind, rest


def build_dataset(data_spec: str, label_space: LabelSpace, split: str, image_size: int, mean, std,
                  augment: list[str] | None = None, model_id: str | None = None) -> Dataset:
    """Resolve ``data_spec`` to a dataset of ``label_space`` targets (see the module docstring)."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}: one of {', '.join(SPLITS)}")
    kind, rest = parse_spec(data_spec)
    common = {"image_size": int(image_size), "mean": mean, "std": std, "augment": augment}
    if kind == "sample":
        if rest == "nih":
            ds = _sample_nih(label_space, split, common, data_spec)
        elif rest == "brain-mri":
            ds = _sample_brain(label_space, split, common, data_spec)
        elif rest == "phantoms":
            ds = _sample_phantoms(label_space, split, common, data_spec)
        elif rest == "nodules":
            ds = _sample_nodules(label_space, split, common, data_spec)
        else:
            root = samples_dir() / "cervical"
            ds = _cervical(root / "risk_factors_cervical_cancer.csv", label_space, split, common, data_spec,
                           root / "splits.csv")
            ds.info["name"] = "sample:cervical"
    else:
        from .adapters import ADAPTERS, parse_options

        path, opts = parse_options(rest)
        if kind == "cervical":
            p = Path(path)
            if p.is_dir():
                cands = sorted(p.glob("*.csv"))
                if not cands:
                    raise DatasetError(f"cervical root {path} has no CSV")
                p = cands[0]
            if not p.exists():
                raise DatasetError(f"cervical CSV not found: {path}")
            ds = _cervical(p, label_space, split, common, data_spec, None)
        else:
            src = ADAPTERS[kind](path, opts)
            t = src.table
            t = t[_split_mask(t["split"].to_numpy(), split)].reset_index(drop=True)
            info = {"name": data_spec, "split": split, "source": f"{src.name} adapter on {src.root}",
                    "licence": src.licence, "split_rule": src.split_rule, **{f"source_{k}": v for k, v in src.notes.items()}}
            if src.family == "nih14":
                ds = _nih_dataset(t, data_spec, label_space, common, info)
            elif src.family == "chexpert":
                fn = _mapping(label_space, "chexpert", data_spec, "the cihmlc label space")
                mapped = fn(t.to_dict("records"), label_space, src.notes["policy"])
                info["mapping"] = mapped.text
                ds = RecordDataset(n=len(t), get_grey=_image_getter(t["path"].tolist()), targets=mapped.targets,
                                   label_space=label_space, ids=t["id"].tolist(), paths=t["path"].tolist(),
                                   info=info, **common)
            elif src.family == "jsrt":
                recs = t.to_dict("records")
                for r in recs:
                    for k in ("x", "y", "size_mm", "subtlety"):
                        if r.get(k) is not None and r[k] != r[k]:
                            r[k] = None
                ds = _nodule_dataset(recs, data_spec, label_space, common, info, _image_getter(t["path"].tolist()),
                                     paths=t["path"].tolist())
            elif src.family == "classes":
                ds = _classes_dataset(t, data_spec, label_space, common, info)
            else:
                ds = _csv_dataset(t, data_spec, label_space, common, info)
    ds.info.update(label_space=label_space.name, image_size=int(image_size), model_id=model_id, spec=data_spec)
    ds.info.setdefault("tabular", False)
    return ds


def _csv_dataset(t: pd.DataFrame, spec, ls: LabelSpace, common, info) -> RecordDataset:
    n = len(t)
    paths = t["path"].tolist()
    if ls.kind in ("multilabel", "multilabel_tree"):
        labels = list(_labels(ls))
        src = [lab for lab in labels if not (ls.kind == "multilabel_tree" and lab in ls.derive_or)
               and lab not in ("Uncertain", "Abnormal")] if ls.kind == "multilabel_tree" else labels
        miss = [lab for lab in src if lab not in t.columns]
        if miss:
            raise DatasetError(f"data {spec}: missing label column(s) {', '.join(miss[:5])} for label space {ls.name}")
        tg = np.zeros((n, len(labels)), np.float32)
        for lab in src:
            tg[:, labels.index(lab)] = (pd.to_numeric(t[lab], errors="coerce").fillna(0).to_numpy() > 0)
        if ls.kind == "multilabel_tree":
            for i in range(n):
                M.derive_parents(tg[i], ls)
        targets = {"labels": tg}
        info["mapping"] = "CSV label columns named as the label space's labels (>0 = positive, blank = 0)"
    elif ls.kind == "taxonomy3":
        col = "disease" if "disease" in t.columns else "label" if "label" in t.columns else None
        if col is None:
            raise DatasetError(f"data {spec}: needs a disease (or label) column for label space {ls.name}")
        t = t.rename(columns={col: "label"})
        t = t.drop(columns=[c for c in ("anatomy", "category") if c in t.columns])
        return _classes_dataset(t, spec, ls, common, info)
    elif ls.kind == "multitask":
        targets = {}
        for h in ls.heads:
            if h.kind == "regression":
                continue
            if h.name not in t.columns:
                raise DatasetError(f"data {spec}: missing column {h.name!r} for head {h.name}")
            targets[h.name] = t[h.name].map(lambda v, h=h: h.labels.index(v) if v in h.labels else -100).to_numpy(np.int64)
        reg = np.zeros((n, 3), np.float32)
        rmask = np.zeros((n, 3), np.float32)
        rh = next((h for h in ls.heads if h.kind == "regression"), None)
        if rh is not None:
            for j, lab in enumerate(rh.labels):
                if lab in t.columns:
                    v = pd.to_numeric(t[lab], errors="coerce").to_numpy(np.float32)
                    reg[:, j] = np.nan_to_num(v)
                    rmask[:, j] = ~np.isnan(v)
            targets[rh.name] = reg
        info["mapping"] = "CSV columns named as heads (class names as values); regression columns already in [0, 1]"
        return RecordDataset(n=n, get_grey=_image_getter(paths), targets=targets, label_space=ls, ids=t["id"].tolist(),
                             paths=paths, reg_mask=rmask if rh is not None else None, info=info, **common)
    else:
        raise _mismatch(spec, ls, "a multilabel, taxonomy3 or multitask label space")
    return RecordDataset(n=n, get_grey=_image_getter(paths), targets=targets, label_space=ls, ids=t["id"].tolist(),
                         paths=paths, info=info, **common)
