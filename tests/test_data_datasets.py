"""The dataset contract (build_dataset) on every bundled sample spec, and the committed splits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from hcview.data.datasets import build_dataset
from hcview.data.mappings import NIH14
from hcview.data.splits import nih_patient_split, stratified_split
from hcview.errors import DatasetError
from hcview.models.labels import load_label_space
from hcview.paths import samples_dir

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _check_common(ds, item, size, n_meta):
    assert item["image"].shape == (3, size, size) and item["image"].dtype == torch.float32
    assert item["meta"].shape == (n_meta,) and item["meta"].dtype == torch.float32
    assert item["meta_mask"].shape == (n_meta,) and item["meta_mask"].dtype == torch.bool
    assert isinstance(item["text"], str) and isinstance(item["id"], str) and isinstance(item["path"], str)
    assert isinstance(item["synthetic"], bool)
    for k in ("name", "split", "n", "label_counts", "mapping", "synthetic", "meta_features", "source", "licence"):
        assert k in ds.info, k
    assert ds.info["n"] == len(ds)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_nih_cihmlc(split):
    ds = build_dataset("sample:nih", load_label_space("cihmlc"), split, 64, MEAN, STD)
    it = ds[0]
    _check_common(ds, it, 64, 0)
    assert it["targets"]["labels"].shape == (21,) and it["targets"]["labels"].dtype == torch.float32
    assert "mask" not in it and it["synthetic"] is False
    arr = ds.targets_array("labels")
    assert arr.shape == (len(ds), 21)
    np.testing.assert_array_equal(arr[0], it["targets"]["labels"].numpy())
    assert "Effusion->Pleural Effusion" in ds.info["mapping"]
    assert ds.info["label_counts"]["labels"]["No Finding"] == int(arr[:, 8].sum())


def test_nih_nih14_with_metadata():
    ds = build_dataset("sample:nih", load_label_space("nih14"), "train", 64, MEAN, STD)
    it = ds[3]
    _check_common(ds, it, 64, 3)
    assert it["targets"]["labels"].shape == (14,)
    assert ds.info["meta_features"] == ["age/100", "sex (M=1, F=0)", "view (PA=1, AP=0)"]
    df = pd.read_csv(samples_dir() / "nih-cxr-1000" / "labels.csv").set_index("image_index")
    row = df.loc[it["id"]]
    assert it["meta"][0].item() == pytest.approx(row["age"] / 100)
    assert it["meta"][1].item() == float(row["sex"] == "M") and it["meta"][2].item() == float(row["view"] == "PA")
    np.testing.assert_array_equal(it["targets"]["labels"].numpy(), row[list(NIH14)].to_numpy(np.float32))


def test_brain_mri():
    ls = load_label_space("hcnet_brain_mri")
    ds = build_dataset("sample:brain-mri", ls, "val", 64, MEAN, STD, augment=["hflip", "rotate15"])
    it = ds[0]
    _check_common(ds, it, 64, 0)
    for h in ("anatomy", "category", "disease"):
        assert it["targets"][h].dtype == torch.int64 and it["targets"][h].shape == ()
    d = ds.targets_array("disease")
    c = ds.targets_array("category")
    normal = ls.head("category").labels.index("normal")
    assert ((d == ls.head("disease").labels.index("notumor")) == (c == normal)).all()
    assert set(ds.info["label_counts"]["disease"]) == {"notumor", "glioma", "meningioma", "pituitary"}
    assert ds.info["augment"] == ["hflip", "rotate15"]


def test_phantoms_hcnet_paper():
    ls = load_label_space("hcnet_paper")
    ds = build_dataset("sample:phantoms", ls, "val", 64, MEAN, STD)
    assert len(ds) == 40 * 5 and ds.info["synthetic"] is True
    it = ds[7]
    _check_common(ds, it, 64, 0)
    assert it["synthetic"] is True
    assert it["mask"].shape == (64, 64) and it["mask"].dtype == torch.uint8 and it["mask"].sum() > 0
    assert sorted(np.unique(ds.targets_array("disease"))) == list(range(40))
    assert set(np.unique(ds.targets_array("anatomy"))) == {0, 1, 2, 3}


def test_nodules_resmtnet():
    ls = load_label_space("resmtnet_jsrt")
    ds = build_dataset("sample:nodules", ls, "test", 96, MEAN, STD)
    items = [ds[i] for i in range(30)]
    _check_common(ds, items[0], 96, 0)
    for it in items:
        t = it["targets"]
        assert t["regression"].shape == (3,) and t["regression"].dtype == torch.float32
        assert it["reg_mask"].shape == (3,) and it["reg_mask"].dtype == torch.float32
        for h in ("subtlety", "state", "position", "diagnosis"):
            assert t[h].dtype == torch.int64
        if ls.head("state").labels[int(t["state"])] == "non-nodule":
            assert it["reg_mask"].sum() == 0 and int(t["subtlety"]) == -100 and it["mask"].sum() == 0
        else:
            assert it["reg_mask"].sum() == 3 and 0 <= t["regression"].min() and t["regression"].max() <= 1
    assert ds.targets_array("reg_mask").shape == (len(ds), 3)
    batch = next(iter(DataLoader(ds, batch_size=8)))
    assert batch["image"].shape == (8, 3, 96, 96) and batch["targets"]["regression"].shape == (8, 3)


def test_cervical_tabular():
    ds = build_dataset("sample:cervical", load_label_space("cervical4"), "train", 32, MEAN, STD)
    it = ds[0]
    F = len(ds.info["meta_features"])
    assert F == 32 and ds.info["tabular"] is True
    _check_common(ds, it, 32, F)
    assert torch.count_nonzero(it["image"]) == 0
    assert it["targets"]["labels"].shape == (4,)
    m = np.stack([ds[i]["meta_mask"].numpy() for i in range(len(ds))])
    assert (~m).sum() > 0  # '?' values are masked
    assert ds.targets_array("labels").sum(0).min() > 0


def test_all_split_is_union_and_patient_disjoint():
    ls = load_label_space("nih14")
    n = {s: len(build_dataset("sample:nih", ls, s, 32, MEAN, STD)) for s in ("train", "val", "test", "all")}
    assert n["train"] + n["val"] + n["test"] == n["all"] == 1000


def test_nih_splits_file_is_patient_disjoint_and_reproducible():
    root = samples_dir() / "nih-cxr-1000"
    sp = pd.read_csv(root / "splits.csv")
    df = pd.read_csv(root / "labels.csv")
    assert (sp["path"] == df["path"]).all()
    assert (sp.groupby("patient_id")["split"].nunique() == 1).all()
    counts = pd.DataFrame({s: df.loc[(sp["split"] == s).to_numpy(), list(NIH14)].sum() for s in ("train", "val", "test")})
    # Hernia occurs in only two patients of the sample, so it can reach two splits at most; every other
    # finding is in every split
    assert df.loc[df["Hernia"] == 1, "patient_id"].nunique() == 2
    assert (counts.drop(index="Hernia") > 0).all().all()
    assert (counts.loc["Hernia"] > 0).sum() == 2
    regenerated, _ = nih_patient_split(df, NIH14)
    assert (regenerated == sp["split"].to_numpy()).all()
    # the shipped folders are NOT patient-level; that is why splits.csv exists
    assert (df.groupby("patient_id")["split"].nunique() > 1).any()


def test_brain_splits_test_folder_held_out_whole():
    sp = pd.read_csv(samples_dir() / "brain-mri" / "splits.csv")  # more in test_data_brain_mri.py
    assert len(sp) == 1281 and (sp["split"] == "test").all()


def test_items_are_cached_and_stable():
    ds = build_dataset("sample:nih", load_label_space("cihmlc"), "val", 32, MEAN, STD)
    a = ds[5]["image"]
    assert 5 in ds._cache
    assert torch.equal(a, ds[5]["image"])


@pytest.mark.parametrize("spec,ls,msg", [
    ("sample:nih", "hcnet_brain_mri", "data sample:nih does not fit label space hcnet-brain-mri (taxonomy3); it needs the cihmlc (21 labels) or nih14 label space"),
    ("sample:brain-mri", "cihmlc", "data sample:brain-mri does not fit label space cihmlc-21 (multilabel_tree); it needs the hcnet_brain_mri taxonomy"),
    ("sample:nodules", "hcnet_paper", "data sample:nodules does not fit label space hcnet-paper-4x2x40 (taxonomy3); it needs the resmtnet_jsrt label space"),
    ("sample:cervical", "nih14", "data sample:cervical does not fit label space nih14 (multilabel); it needs the cervical4 label space"),
    ("sample:xray", "nih14", "unknown sample 'xray': one of nih, brain-mri, phantoms, nodules, cervical"),
    ("imagenet:/x", "nih14", "unknown dataset adapter 'imagenet' in 'imagenet:/x': one of sample, chexpert, nih, jsrt, mri, folder, csv, cervical"),
    ("nih:/no/such/dir", "nih14", "NIH ChestX-ray14 root not found: /no/such/dir"),
    ("justapath", "nih14", "bad data spec 'justapath': use sample:NAME (nih, brain-mri, phantoms, nodules, cervical) or ADAPTER:PATH (chexpert, nih, jsrt, mri, folder, csv, cervical)"),
])
def test_bad_specs(spec, ls, msg):
    with pytest.raises(DatasetError) as e:
        build_dataset(spec, load_label_space(ls), "train", 32, MEAN, STD)
    assert str(e.value) == msg


def test_bad_split():
    with pytest.raises(DatasetError, match="unknown split 'dev': one of train, val, test, all"):
        build_dataset("sample:nih", load_label_space("nih14"), "dev", 32, MEAN, STD)
