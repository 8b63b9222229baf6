"""AppTest of the Models page: it renders real registry data and each paper's card extras."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from hcview.models import list_models

ROOT = Path(__file__).resolve().parents[2]


def test_models_page_shows_registry(tmp_models_dir):
    at = AppTest.from_file(str(ROOT / "pages/1_Models.py"), default_timeout=60)
    at.run()
    assert not at.exception
    df = at.dataframe[0].value
    assert list(dict.fromkeys(df["model"])) == list_models()
    assert len(df) == 2 * len(list_models())
    # the card of the selected model shows its Grad-CAM layer from the spec
    assert any(m.value == "layer4" for m in at.metric)
    at.selectbox[0].select("cihmlc").run()
    assert not at.exception
    assert any(m.value == "head_conv" for m in at.metric)
