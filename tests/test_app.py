"""AppTest of the app shell: it boots, navigates, and the Models page renders real registry data."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def test_app_shell_runs(tmp_models_dir):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.title[0].value == "hcview"


def test_models_page_shows_registry(tmp_models_dir):
    at = AppTest.from_file(str(ROOT / "pages/1_Models.py"), default_timeout=60)
    at.run()
    assert not at.exception
    df = at.dataframe[0].value
    assert set(df["model"]) == {"hcnet", "cihmlc", "medfusionnet", "resmtnet"}
    assert len(df) == 8
    # the card of the selected model shows its Grad-CAM layer from the spec
    assert any(m.value == "layer4" for m in at.metric)
    at.selectbox[0].select("cihmlc").run()
    assert not at.exception
    assert any(m.value == "head_conv" for m in at.metric)
