"""A display window never changes the prediction: DICOM model input follows one fixed rule."""
import json

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from hcview.data.io import load_image, rewindow
from hcview.paths import samples_dir

CR = samples_dir() / "dicom" / "siim_pneumothorax_sample.dcm"
CT = get_testdata_file("CT_small.dcm")


@pytest.mark.parametrize("src", [CR, CT], ids=["CR", "CT"])
def test_windows_change_the_display_only(src):
    base = load_image(src)
    for w in ("lung", "mediastinum", "bone", "brain", "40,400"):
        other = load_image(src, window=w)
        assert not np.array_equal(other.array, base.array)          # the display changed
        assert np.array_equal(other.model_input, base.model_input)  # the model input did not
        again = rewindow(base, w)
        assert np.array_equal(again.array, other.array) and np.array_equal(again.model_input, base.model_input)
    assert np.array_equal(rewindow(load_image(src, window="lung"), "header").array, base.array)


@pytest.mark.parametrize("model,src", [("medfusionnet", CT), ("cihmlc", CR)], ids=["CT", "CR"])
def test_predict_outputs_are_bit_identical_across_windows(model, src, capsys):
    from hcview.cli import main

    outs = []
    for w in ("header", "lung", "bone", "brain"):
        assert main(["predict", "--model", model, "--input", str(src), "--window", w, "--mc", "3", "--json"]) == 0
        j = json.loads(capsys.readouterr().out)
        outs.append([(o["prob"], o["mc_mean"], o["mc_std"]) for o in j["outputs"]] + [j["ood_score"]])
    assert all(o == outs[0] for o in outs[1:])
