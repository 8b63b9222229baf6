"""AppTest of the Risk page on the bundled UCI table: CV metrics, baselines table and ROC, levels, and widget state
keyed by data source and outcome. CV is kept small (3 folds x 1 repeat) by seeding the form's state."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hcview.risk import bundled_records_path

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not bundled_records_path().exists(), reason="bundled cervical table missing")


def _app(outcomes=("Biopsy",)) -> AppTest:
    at = AppTest.from_file(str(ROOT / "views/5_Risk.py"), default_timeout=120)
    for o in outcomes:  # small CV for speed; the page's own default is 5x5
        at.session_state[f"risk_bundled_{o}_folds"] = 3
        at.session_state[f"risk_bundled_{o}_repeats"] = 1
    return at


def test_risk_page_shows_cv_baselines_and_levels():
    at = _app(("Biopsy", "Schiller"))
    at.run()
    assert not at.exception
    assert not at.error
    assert at.selectbox(key="risk_outcome_bundled").value == "Biopsy"
    assert at.subheader[0].value.startswith("Biopsy:")
    auroc = next(m for m in at.metric if m.label == "AUROC")
    assert 0.0 < float(auroc.value) <= 1.0 and "95% CI" in auroc.help
    table = at.dataframe[0].value  # one column per model, one row per metric
    assert list(table.columns[1:]) == ["two-stage (MedFusionNet)", "logistic regression", "random forest",
                                       "decision tree (depth 3)"]
    assert table.set_index("metric").loc["AUROC"].str.match(r"^0\.\d{3} \[0\.\d\d, [01]\.\d\d\]$").all()
    assert "|---" in at.code[0].value
    assert not any("use_container_width" in w.value for w in at.warning)
    # the outcome selector and the results always agree, also after switching outcome
    at.selectbox(key="risk_outcome_bundled").select("Schiller").run()
    assert not at.exception and not at.error
    assert at.subheader[0].value.startswith("Schiller:")
    assert any("Schiller" in c.value for c in at.caption)


def test_risk_page_no_use_container_width():
    text = (ROOT / "views/5_Risk.py").read_text()
    assert "use_container_width" not in text
