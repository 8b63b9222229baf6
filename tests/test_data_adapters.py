"""Dataset adapters on small fixture trees laid out like the real datasets (headers and value formats
copied from the real files)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hcview.data.datasets import build_dataset
from hcview.errors import DatasetError
from hcview.models.labels import load_label_space

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _img(path, value=128, size=32, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((size, size), value, np.uint8)
    a[: size // 2] = 255 - value
    im = Image.fromarray(a)
    if mode != "L":
        im = im.convert(mode)
    im.save(path)
    return path


# ---- NIH ChestX-ray14 ------------------------------------------------------------------------------------
NIH_HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Sex,View Position,"
              "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]")


@pytest.fixture
def nih_root(tmp_path):
    root = tmp_path / "NIH"
    rows = []
    labels = ["Cardiomegaly", "Cardiomegaly|Emphysema", "No Finding", "Effusion|Mass", "Hernia", "No Finding",
              "Infiltration", "Nodule", "Atelectasis|Effusion", "No Finding", "Pneumothorax", "Edema"]
    for i, lab in enumerate(labels):
        pid = i // 2 + 1
        name = f"{pid:08d}_{i % 2:03d}.png"
        folder = "images_001" if i < 6 else "images_002"
        _img(root / folder / "images" / name, 40 + 10 * i, mode="RGBA" if i == 0 else "L")
        rows.append(f"{name},{lab},{i % 2},{pid},{50 + i},{'M' if i % 3 else 'F'},{'PA' if i % 2 else 'AP'},2500,2048,0.143,0.143")
    rows.append("99999999_000.png,No Finding,0,999,40,M,PA,2500,2048,0.143,0.143")  # listed, image absent
    (root / "Data_Entry_2017_v2020.csv").write_text(NIH_HEADER + "\n" + "\n".join(rows) + "\n")
    names = [r.split(",")[0] for r in rows]
    (root / "test_list.txt").write_text("\n".join(names[8:12]) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(names[:8]) + "\n")
    return root


def test_nih_adapter_cihmlc_and_nih14(nih_root):
    ls = load_label_space("cihmlc")
    tr = build_dataset(f"nih:{nih_root}", ls, "train", 32, MEAN, STD)
    va = build_dataset(f"nih:{nih_root}", ls, "val", 32, MEAN, STD)
    te = build_dataset(f"nih:{nih_root}", ls, "test", 32, MEAN, STD)
    assert len(tr) + len(va) == 8 and len(te) == 4
    assert set(te.ids) == {f"{p:08d}_{k:03d}.png" for p, k in ((5, 0), (5, 1), (6, 0), (6, 1))}
    pid = lambda ids: {i.split("_")[0] for i in ids}  # noqa: E731
    assert not pid(tr.ids) & pid(va.ids)  # patient-level
    assert tr.info["source_images_not_found"] == 1
    allds = build_dataset(f"nih:{nih_root}", ls, "all", 32, MEAN, STD)
    labels = list(ls.heads[0].labels)
    k = allds.ids.index("00000001_001.png")  # Cardiomegaly|Emphysema
    v = allds[k]["targets"]["labels"].numpy()
    assert {labels[i] for i in np.flatnonzero(v)} == {"Cardiomegaly", "Cardiac", "Missing Lung Tissue", "Opacity", "Abnormal"}
    assert allds[0]["image"].shape == (3, 32, 32)
    n14 = build_dataset(f"nih:{nih_root}", load_label_space("nih14"), "all", 32, MEAN, STD)
    it = n14[n14.ids.index("00000002_001.png")]  # row 3: age 53, sex M (3 % 3 == 0 -> F), view PA
    assert it["meta"].tolist() == pytest.approx([0.53, 0.0, 1.0])
    assert it["targets"]["labels"].sum() == 2


def test_nih_adapter_old_csv_age_format(tmp_path):
    root = tmp_path / "nih_old"
    _img(root / "images" / "00000001_000.png")
    (root / "Data_Entry_2017.csv").write_text(
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
        "00000001_000.png,Cardiomegaly,0,1,058Y,M,PA,2682,2749,0.143,0.143,\n")
    ds = build_dataset(f"nih:{root}", load_label_space("nih14"), "all", 32, MEAN, STD)
    assert ds[0]["meta"][0].item() == pytest.approx(0.58) and ds[0]["meta"][1].item() == 1.0


def test_nih_adapter_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"has no Data_Entry_2017\*\.csv$"):
        build_dataset(f"nih:{tmp_path / 'empty'}", load_label_space("nih14"), "all", 32, MEAN, STD)


# ---- CheXpert ---------------------------------------------------------------------------------------------
CHEX_HEADER = ("Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,"
               "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,"
               "Fracture,Support Devices")


@pytest.fixture
def chexpert_root(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    train = [CHEX_HEADER]
    for p in range(1, 11):
        rel = f"CheXpert-v1.0-small/train/patient{p:05d}/study1/view1_frontal.jpg"
        _img(tmp_path / rel)
        edema = "-1.0" if p == 1 else ("1.0" if p % 2 else "")
        train.append(f"{rel},Female,68,Frontal,AP,,,1.0,,,{edema},0.0,,,0.0,,,,1.0")
        rel2 = f"CheXpert-v1.0-small/train/patient{p:05d}/study1/view2_lateral.jpg"
        _img(tmp_path / rel2)
        train.append(f"{rel2},Female,68,Lateral,,,,1.0,,,,,,,,,,,")
    valid = [CHEX_HEADER]
    for p in range(64541, 64543):
        rel = f"CheXpert-v1.0-small/valid/patient{p:05d}/study1/view1_frontal.jpg"
        _img(tmp_path / rel)
        valid.append(f"{rel},Male,73,Frontal,AP,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0")
    (root / "train.csv").write_text("\n".join(train) + "\n")
    (root / "valid.csv").write_text("\n".join(valid) + "\n")
    return root


def test_chexpert_adapter_policies_views_splits(chexpert_root):
    ls = load_label_space("cihmlc")
    labels = list(ls.heads[0].labels)
    tr = build_dataset(f"chexpert:{chexpert_root}", ls, "train", 32, MEAN, STD)
    va = build_dataset(f"chexpert:{chexpert_root}", ls, "val", 32, MEAN, STD)
    te = build_dataset(f"chexpert:{chexpert_root}", ls, "test", 32, MEAN, STD)
    assert len(tr) + len(va) == 10 and len(te) == 2  # frontal only; valid.csv is the test split
    assert all("frontal" in p for p in tr.paths)
    assert te[0]["targets"]["labels"][labels.index("No Finding")] == 1
    z = build_dataset(f"chexpert:{chexpert_root}", ls, "all", 32, MEAN, STD)
    o = build_dataset(f"chexpert:{chexpert_root}?policy=ones", ls, "all", 32, MEAN, STD)
    k = z.ids.index("patient00001/study1/view1_frontal.jpg")
    e = labels.index("Edema")
    assert z.targets_array("labels")[k, e] == 0 and o.targets_array("labels")[k, e] == 1
    assert o.targets_array("labels")[k, labels.index("Fluid Accumulation")] == 1
    assert "U-ones" in o.info["mapping"] and "U-zeros" in z.info["mapping"]
    both = build_dataset(f"chexpert:{chexpert_root}?views=all", ls, "all", 32, MEAN, STD)
    assert len(both) == 22
    assert z[0]["image"].shape == (3, 32, 32)


def test_chexpert_needs_cihmlc(chexpert_root):
    with pytest.raises(DatasetError, match="it needs the cihmlc label space"):
        build_dataset(f"chexpert:{chexpert_root}", load_label_space("nih14"), "all", 32, MEAN, STD)


# ---- JSRT ---------------------------------------------------------------------------------------------------
JSRT_ROWS = [
    "JPCLN001.IMG,5,15,53,male,1634,692,malignant,l.upper lobe,lung cancer",
    "JPCLN002.IMG,5,30,44,female,1114,1593,malignant,r.lower lobe,lung cancer",
    "JPCLN003.IMG,2,20,68,male,1303,1213,benign,l.lower lobe,granuloma",
    "JPCLN004.IMG,3,12,41,female,594,1020,malignant,r.middle lobe,metastasis",
    "JPCNN001.IMG,,,57,male,,,non-nodule,,",
    "JPCNN002.IMG,,,60,female,,,non-nodule,,",
]


@pytest.mark.parametrize("header", [False, True])
def test_jsrt_adapter_with_and_without_header(tmp_path, header):
    root = tmp_path / "JSRT"
    for r in JSRT_ROWS:
        _img(root / "images" / (r.split(",")[0].replace(".IMG", ".png")))
    text = ("study_id,subtlety,size,age,gender,x,y,state,position,diagnosis\n" if header else "") + "\n".join(JSRT_ROWS) + "\n"
    (root / "jsrt_metadata.csv").write_text(text)
    ls = load_label_space("resmtnet_jsrt")
    ds = build_dataset(f"jsrt:{root}", ls, "all", 32, MEAN, STD)
    assert len(ds) == 6
    it = ds[ds.ids.index("JPCLN001")]
    t = it["targets"]
    assert ls.head("subtlety").labels[int(t["subtlety"])].startswith("5")
    assert ls.head("state").labels[int(t["state"])] == "malignant"
    assert ls.head("position").labels[int(t["position"])] == "left upper lobe"
    assert t["regression"].tolist() == pytest.approx([1634 / 2048, 692 / 2048, 15 / 60])
    assert it["reg_mask"].tolist() == [1, 1, 1]
    nn = ds[ds.ids.index("JPCNN001")]
    assert nn["reg_mask"].tolist() == [0, 0, 0] and int(nn["targets"]["subtlety"]) == -100
    assert ls.head("diagnosis").labels[int(nn["targets"]["diagnosis"])] == "non-nodule"
    assert ls.head("diagnosis").labels[int(ds[ds.ids.index("JPCLN004")]["targets"]["diagnosis"])] == "metastasis"
    assert ds.info["source_header"] is header


# ---- HC-Net MRI and generic folders --------------------------------------------------------------------
def test_mri_adapter_three_level_folders(tmp_path):
    ls = load_label_space("hcnet_brain_mri")
    root = tmp_path / "mri"
    for cat, dis in (("normal", "notumor"), ("tumour", "glioma"), ("tumour", "pituitary")):
        for i in range(7):
            _img(root / "Brain" / cat / dis / f"{dis}_{i}.jpg", 20 * i)
    ds = build_dataset(f"mri:{root}", ls, "all", 32, MEAN, STD)
    assert len(ds) == 21
    d = ds.targets_array("disease")
    c = ds.targets_array("category")
    assert (c[d == ls.head("disease").labels.index("glioma")] == ls.head("category").labels.index("tumour")).all()
    tr = build_dataset(f"mri:{root}", ls, "train", 32, MEAN, STD)
    assert sorted(np.unique(tr.targets_array("disease")).tolist()) == sorted(np.unique(d).tolist())
    # a folder placed under the wrong category is refused
    _img(root / "Brain" / "normal" / "glioma" / "x.jpg")
    with pytest.raises(DatasetError, match="folder Brain/normal/glioma disagrees with label space hcnet-brain-mri"):
        build_dataset(f"mri:{root}", ls, "all", 32, MEAN, STD)


def test_mri_adapter_mapping_file_and_split_folders(tmp_path):
    ls = load_label_space("hcnet_brain_mri")
    root = tmp_path / "mri2"
    for split in ("Training", "Testing"):
        for folder in ("no_tumor", "glioma_tumor"):
            for i in range(4):
                _img(root / split / folder / f"{i}.png")
    with pytest.raises(DatasetError, match="class folder\\(s\\) glioma_tumor, no_tumor are not diseases"):
        build_dataset(f"mri:{root}", ls, "all", 32, MEAN, STD)
    (root / "mapping.csv").write_text("folder,disease\nno_tumor,notumor\nglioma_tumor,glioma\n")
    te = build_dataset(f"mri:{root}", ls, "test", 32, MEAN, STD)
    assert len(te) == 8 and all("Testing" in p for p in te.paths)
    tr = build_dataset(f"mri:{root}", ls, "train", 32, MEAN, STD)
    va = build_dataset(f"mri:{root}", ls, "val", 32, MEAN, STD)
    assert len(tr) + len(va) == 8 and len(va) >= 1


def test_folder_adapter_multilabel(tmp_path):
    ls = load_label_space("nih14")
    root = tmp_path / "f"
    for lab in ("Cardiomegaly", "Effusion"):
        for i in range(5):
            _img(root / lab / f"{i}.png")
    ds = build_dataset(f"folder:{root}", ls, "all", 32, MEAN, STD)
    arr = ds.targets_array("labels")
    assert arr.shape == (10, 14) and (arr.sum(1) == 1).all()
    assert arr[:, list(ls.heads[0].labels).index("Effusion")].sum() == 5


# ---- generic CSV --------------------------------------------------------------------------------------------
def test_csv_adapter(tmp_path):
    ls = load_label_space("nih14")
    rows = ["path,patient_id," + ",".join(ls.heads[0].labels)]
    for i in range(6):
        _img(tmp_path / "imgs" / f"{i}.png")
        vals = ["1" if j == i else "0" for j in range(14)]
        rows.append(f"imgs/{i}.png,{i // 2}," + ",".join(vals))
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    ds = build_dataset(f"csv:{tmp_path / 'labels.csv'}", ls, "all", 32, MEAN, STD)
    assert len(ds) == 6 and ds.targets_array("labels")[2, 2] == 1
    (tmp_path / "bad.csv").write_text("path,Atelectasis\nimgs/0.png,1\n")
    with pytest.raises(DatasetError, match="missing label column\\(s\\) Cardiomegaly"):
        build_dataset(f"csv:{tmp_path / 'bad.csv'}", ls, "all", 32, MEAN, STD)
    (tmp_path / "nopath.csv").write_text("file_name,Atelectasis\nimgs/0.png,1\n")
    with pytest.raises(DatasetError, match="no image path column"):
        build_dataset(f"csv:{tmp_path / 'nopath.csv'}", ls, "all", 32, MEAN, STD)


def test_csv_adapter_taxonomy(tmp_path):
    ls = load_label_space("hcnet_brain_mri")
    rows = ["image,disease,split"]
    for i, d in enumerate(["glioma", "notumor", "pituitary", "meningioma"]):
        _img(tmp_path / f"{i}.png")
        rows.append(f"{i}.png,{d},{'train' if i < 3 else 'test'}")
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    ds = build_dataset(f"csv:{tmp_path / 't.csv'}", ls, "train", 32, MEAN, STD)
    assert len(ds) == 3 and ds[0]["targets"]["disease"].item() == ls.head("disease").labels.index("glioma")


# ---- UCI cervical -------------------------------------------------------------------------------------------
def test_cervical_adapter_citology_spelling(tmp_path):
    from hcview.paths import samples_dir

    df = pd.read_csv(samples_dir() / "cervical" / "risk_factors_cervical_cancer.csv", dtype=str)
    df = df.rename(columns={"Cytology": "Citology"})
    p = tmp_path / "uci.csv"
    df.to_csv(p, index=False)
    ds = build_dataset(f"cervical:{p}", load_label_space("cervical4"), "all", 16, MEAN, STD)
    assert len(ds) == 858 and ds.info["tabular"] is True
    assert ds.targets_array("labels").sum(0).tolist() == [35, 74, 44, 55]
