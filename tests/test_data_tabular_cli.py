"""Tabular records (cervical-style CSV uploads) and ``python -m hcview data check``."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hcview.cli import main
from hcview.data.tabular import load_records
from hcview.errors import CsvError
from hcview.paths import ROOT, samples_dir

CERVICAL = samples_dir() / "cervical" / "risk_factors_cervical_cancer.csv"


def test_load_records_real_cervical():
    df, info = load_records(CERVICAL, require_targets=True)
    assert df.shape == (858, 36)
    assert info["targets"] == ["Hinselmann", "Schiller", "Cytology", "Biopsy"]
    assert {t: v["positive"] for t, v in info["label_counts"].items()} == {
        "Hinselmann": 35, "Schiller": 74, "Cytology": 44, "Biopsy": 55}
    assert info["missing"]["STDs: Time since first diagnosis"] == 787  # '?' -> NaN
    assert np.isnan(df.loc[0, "STDs: Time since first diagnosis"])


def test_load_records_citology_and_blank_missing(tmp_path):
    p = tmp_path / "uci.csv"
    p.write_text("Age,Smokes,Hinselmann,Schiller,Citology,Biopsy\n30,,0,1,0,0\n41,1,?,0,1,1\n")
    df, info = load_records(p)
    assert "Cytology" in df.columns and "Citology" not in df.columns
    assert np.isnan(df.loc[0, "Smokes"]) and np.isnan(df.loc[1, "Hinselmann"])
    assert info["label_counts"]["Cytology"]["positive"] == 1


def test_missing_required_columns(tmp_path):
    p = tmp_path / "nocols.csv"
    p.write_text("Smokes,IUD\n1,0\n")
    with pytest.raises(CsvError) as e:
        load_records(p)
    assert str(e.value) == "nocols.csv: missing required column(s) Age; found: Smokes, IUD"
    p2 = tmp_path / "notargets.csv"
    p2.write_text("Age,IUD\n31,0\n")
    with pytest.raises(CsvError, match=r"^notargets\.csv: missing required column\(s\) Hinselmann, Schiller, Cytology, Biopsy; found: Age, IUD$"):
        load_records(p2, require_targets=True)


def test_empty_csv(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    with pytest.raises(CsvError) as e:
        load_records(p)
    assert str(e.value) == "empty.csv: CSV file is empty"
    p2 = tmp_path / "header_only.csv"
    p2.write_text("Age,IUD\n")
    with pytest.raises(CsvError) as e:
        load_records(p2)
    assert str(e.value) == "header_only.csv: CSV has a header but no rows"


def test_binary_named_csv(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(CsvError) as e:
        load_records(p)
    assert str(e.value) == "data.csv: not a text CSV file (binary content)"


def test_non_numeric_value(tmp_path):
    p = tmp_path / "words.csv"
    p.write_text("Age,Smokes\n30,yes\n")
    with pytest.raises(CsvError, match=r"^words\.csv: column 'Smokes' has a non-numeric value 'yes' \(row 2\)"):
        load_records(p)


# ---- CLI -----------------------------------------------------------------------------------------------------
def test_cli_check_dicom(capsys):
    rc = main(["data", "check", str(samples_dir() / "dicom" / "siim_pneumothorax_sample.dcm")])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.startswith("OK dicom:")
    assert "size: 1024, 1024" in out and "modality: CR" in out and "pixel_spacing_mm: 0.168, 0.168" in out
    assert "PatientName (0010,0010)" in out


def test_cli_check_image_csv_and_folder(capsys, tmp_path):
    png = next((samples_dir() / "nih-cxr-1000" / "test").glob("*/*.png"))
    assert main(["data", "check", str(png)]) == 0
    assert "OK png:" in capsys.readouterr().out
    assert main(["data", "check", str(CERVICAL), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "csv" and d["rows"] == 858 and d["label_counts"]["Biopsy"]["positive"] == 55
    assert main(["data", "check", str(samples_dir() / "brain-mri"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "dataset" and d["n"] == 1281
    assert d["label_counts"] == {"glioma": 299, "meningioma": 301, "notumor": 381, "pituitary": 300}


def test_cli_check_bad_inputs(capsys, tmp_path):
    p = tmp_path / "fake.png"
    p.write_text("hello")
    assert main(["data", "check", str(p)]) == 2
    err = capsys.readouterr().err
    assert err == "error: fake.png: not a PNG, JPEG or DICOM image (the content does not match its .png extension)\n"
    q = tmp_path / "x.csv"
    q.write_bytes(b"\x00\x01\x02" * 100)
    assert main(["data", "check", str(q)]) == 2
    assert capsys.readouterr().err == "error: x.csv: not a text CSV file (binary content)\n"
    assert main(["data", "check", str(tmp_path / "nope.dcm")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_cli_subprocess_one_line_error(tmp_path):
    p = tmp_path / "r.dcm"
    p.write_bytes(os.urandom(2048))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "hcview", "data", "check", str(p)], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 2
    assert r.stderr == "error: r.dcm: not a DICOM file (no DICM header and no readable DICOM elements)\n"
    assert r.stdout == ""
