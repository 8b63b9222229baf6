"""AppTest of the app shell: it boots and navigates."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def test_app_shell_runs(tmp_models_dir):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.title[0].value == "hcview"


def test_a_broken_catalog_snapshot_is_one_line(tmp_path, tmp_var_dir, monkeypatch):
    """A missing or stale snapshot: one error line with the fix (said by the shared sidebar before any page runs), no
    exception."""
    from hcview.models import cards

    for text in (None, "[]", '{"rows": null}', '{"rows": [{"id": "hcnet"}]}'):
        snap = tmp_path / "snap.json"
        snap.unlink(missing_ok=True)
        if text is not None:
            snap.write_text(text)
        monkeypatch.setattr(cards, "SNAPSHOT", snap)
        import streamlit as st

        st.cache_data.clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()
        assert not at.exception, (text, [e.value for e in at.exception])
        errors = [e.value for e in at.error] + [e.value for e in at.sidebar.error]
        assert len(errors) == 1 and "models --snapshot" in errors[0], (text, errors)
