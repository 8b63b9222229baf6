"""AppTest of the case-review page: bundled sample through an (untrained, flagged) model, explanations render,
a bad upload gives a one-line error."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def _page():
    return AppTest.from_file(str(ROOT / "pages/2_Case_review.py"), default_timeout=120)


@pytest.mark.parametrize("model_label,sample_glob", [("CIHMLC", "nih-cxr-512/"), ("HC-Net", ".jpg")])
def test_case_review_sample(tmp_models_dir, model_label, sample_glob):
    at = _page()
    at.run()
    assert not at.exception
    sample = next(o for o in at.selectbox[0].options if sample_glob.strip("/") in o)
    model = next(o for o in at.selectbox[1].options if o.startswith(model_label))
    assert "UNTRAINED" in model
    at.selectbox[0].select(sample)
    at.selectbox[1].select(model)
    at.slider[0].set_value(3)
    at.run()
    assert not at.exception, at.exception
    assert any("UNTRAINED" in e.value for e in at.error)
    assert any("explanation-validity" in i.value or "Measured on" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) >= 2
    assert len(at.get("image")) >= 2  # scan + heat-map panel


def test_case_review_lrp_shows_conservation(tmp_models_dir):
    at = _page()
    at.run()
    at.selectbox[0].select(next(o for o in at.selectbox[0].options if o.startswith("nih")))
    at.selectbox[1].select(next(o for o in at.selectbox[1].options if o.startswith("CIHMLC")))
    at.slider[0].set_value(2)
    at.run()
    method = next(s for s in at.selectbox if s.label == "Method")
    method.select("lrp")
    at.run()
    assert not at.exception
    # CIHMLC's DenseNet gets the conserving chain rules: the figure is shown, without the APPROXIMATE mark
    assert any("conservation" in c.value for c in at.caption)
    assert not any("APPROXIMATE" in c.value for c in at.caption if "conservation" in c.value)
