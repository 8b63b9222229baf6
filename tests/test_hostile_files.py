"""Valid-but-odd files that must be read (semicolon / tab CSVs, Latin-1 / UTF-16 text, DICOM without a
preamble), crafted model cards and hub-cache files, and training folders with crafted files."""
from __future__ import annotations

import io
import json

import numpy as np
import pydicom
import pytest
import torch
from pydicom.data import get_testdata_file

from hcview.cli import main
from hcview.data.tabular import decode_text, read_csv_text, sniff_delimiter
from hcview.errors import CheckpointError, CsvError

CT = get_testdata_file("CT_small.dcm")


def _run(capsys, argv):
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _records_text(sep=",", decimal=".", n=120) -> str:
    rng = np.random.default_rng(0)
    rows = [sep.join(["Age", "Weight", "Smokes", "Biopsy"])]
    for _ in range(n):
        age = int(rng.integers(18, 70))
        w = f"{rng.uniform(45, 110):.1f}".replace(".", decimal)
        rows.append(sep.join([str(age), w, str(int(rng.random() < .3)), str(int(rng.random() < .2 + .4 * (age > 45)))]))
    return "\n".join(rows) + "\n"


# ---- CSV dialects and encodings ---------------------------------------------------------------------------
@pytest.mark.parametrize("sep,decimal,enc", [(";", ",", "utf-8"), ("\t", ".", "utf-8"), (",", ".", "latin-1"),
                                             (";", ".", "utf-16"), (",", ".", "utf-16-le"), ("|", ".", "cp1252"),
                                             (",", ".", "utf-8-sig")])
def test_records_csv_dialects_and_encodings(tmp_path, sep, decimal, enc):
    text = _records_text(sep, decimal).replace("Weight", "Poids (kg) é€" if enc in ("cp1252", "utf-16") else
                                              "Poids é" if enc == "latin-1" else "Weight")
    p = tmp_path / "r.csv"
    p.write_bytes(text.encode(enc))
    df, _ = read_csv_text(p)
    assert df.shape == (120, 4), df.columns
    assert df.iloc[:, 1].dtype.kind == "f"  # decimal commas understood in ; files
    assert "Poids" in df.columns[1] or df.columns[1] == "Weight"


def test_semicolon_records_through_risk(tmp_path, capsys):
    p = tmp_path / "semi.csv"
    p.write_text(_records_text(";", ","))
    rc, out, err = _run(capsys, ["risk", "--records", p, "--outcome", "Biopsy", "--json"])
    assert rc == 0, err
    assert json.loads(out)["outcomes"]["Biopsy"]["n_rows"] == 120


@pytest.mark.parametrize("enc", ["latin-1", "utf-16", "utf-16-le", "utf-16-be", "cp1252"])
def test_predictions_csv_encodings_through_evaluate(tmp_path, capsys, enc):
    text = "Épanchement_GT,Épanchement_Pred,B_GT,B_Pred\n1,0.9,0,0.2\n0,0.1,1,0.8\n1,0.7,0,0.4\n0,0.3,1,0.6\n"
    p = tmp_path / "pred.csv"
    p.write_bytes(text.encode(enc))
    rc, out, err = _run(capsys, ["evaluate", "--predictions", p, "--json"])
    assert rc == 0, err
    assert set(json.loads(out)["labels"]) == {"Épanchement", "B"}


def test_semicolon_predictions_through_evaluate(tmp_path, capsys):
    p = tmp_path / "pred.csv"
    p.write_text("A_GT;A_Pred\n1;0.9\n0;0.1\n1;0.7\n0;0.3\n")
    rc, out, err = _run(capsys, ["evaluate", "--predictions", p, "--json"])
    assert rc == 0, err


def test_decode_and_sniff_helpers():
    assert decode_text("a,é\n".encode("latin-1"), "x") == "a,é\n"
    assert decode_text("\ufeffa,b\n".encode("utf-8"), "x") == "a,b\n"
    assert decode_text("a;b\n".encode("utf-16"), "x") == "a;b\n"
    assert sniff_delimiter("a;b;c\n1;2;3") == ";" and sniff_delimiter("a\tb\n") == "\t"
    assert sniff_delimiter("single\n1\n") == ","
    with pytest.raises(CsvError, match="binary"):
        decode_text(bytes(range(256)) * 4, "x")


def test_data_check_reads_odd_csvs(tmp_path, capsys):
    p = tmp_path / "semi.csv"
    p.write_bytes(_records_text(";", ",").encode("utf-16"))
    rc, out, err = _run(capsys, ["data", "check", p, "--json"])
    assert rc == 0, err
    info = json.loads(out)
    assert info["kind"] == "csv" and info["rows"] == 120 and info["columns"] == 4


def test_dicom_without_preamble_through_data_check_and_predict(tmp_path, capsys):
    ds = pydicom.dcmread(CT)
    del ds.file_meta
    ds.preamble = None
    p = tmp_path / "raw"  # no extension at all
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False, implicit_vr=True, little_endian=True)
    p.write_bytes(buf.getvalue())
    rc, out, err = _run(capsys, ["data", "check", p, "--json"])
    assert rc == 0, err
    assert json.loads(out)["modality"] == "CT"
    rc, out, err = _run(capsys, ["predict", "--model", "hcnet", "--input", p, "--mc", "0", "--device", "cpu"])
    assert rc == 0, err


# ---- model cards and cached weights -------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    from hcview.models import create_model
    from hcview.models.checkpoint import save_checkpoint

    torch.manual_seed(0)
    m = create_model("hcnet", "demo").eval()
    return save_checkpoint(m, tmp_path / "c.pt", {"train": {"epochs": 1}})


@pytest.mark.parametrize("kwargs", [{"bogus": 1}, {"backbone": "nosuchnet"}, {"dropout": "high"}, [1, 2]])
def test_bogus_model_kwargs_in_a_card(saved, kwargs):
    from hcview.models.checkpoint import card_path, load_checkpoint

    cp = card_path(saved)
    card = json.loads(cp.read_text())
    card["model_kwargs"] = kwargs
    cp.write_text(json.dumps(card))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(saved)
    assert "\n" not in str(e.value)


def test_card_that_is_not_an_object(saved):
    from hcview.models.checkpoint import card_path, load_checkpoint

    card_path(saved).write_text("[1, 2, 3]")
    with pytest.raises(CheckpointError, match="not a JSON object"):
        load_checkpoint(saved)


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, "torch"])
def test_corrupt_hub_cache_gives_random_init_with_notice(tmp_path, content):
    from torchvision import models as tvm

    from hcview.models.backbones import _cached_file, load_imagenet

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        f = _cached_file(tvm.ResNet18_Weights.DEFAULT)
        f.parent.mkdir(parents=True)
        if content == "torch":  # a loadable state dict, but not the published one
            torch.save(tvm.resnet18(weights=None).state_dict(), f)
        else:
            f.write_bytes(content)
        m = tvm.resnet18(weights=None)
        before = {k: v.clone() for k, v in m.state_dict().items()}
        res = load_imagenet(m, tvm.ResNet18_Weights, allow_download=False)
    finally:
        torch.hub.set_dir(old)
    assert res.used_pretrained is False and "sha256" in res.notice and "random initialisation" in res.notice
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())
