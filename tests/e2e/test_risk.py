"""Risk stratification: switching from the bundled table to an uploaded CSV never shows one outcome's results under
another outcome's name; the uploaded records are stratified and the rows download as a CSV."""
import csv
import io
import re
from pathlib import Path

RECORDS = Path(__file__).resolve().parents[2] / "data" / "samples" / "cervical" / "risk_factors_cervical_cancer.csv"


def _shown(page) -> tuple[str, str]:
    """(the outcome selector's value, the outcome the results are for)."""
    sel = page.widget("stSelectbox", "Outcome").locator("input").input_value().strip()
    head = page.locator("h2, h3").filter(has_text="cross-validated performance").first.inner_text()
    return sel, head.split(":")[0].strip()


def test_bundled_then_upload_keeps_outcome_and_results_together(page):
    page.open("risk")
    assert _shown(page) == ("Biopsy", "Biopsy")
    page.select("Outcome", "Schiller")
    assert _shown(page) == ("Schiller", "Schiller")
    page.get_by_text("Upload a CSV").click()
    page.settle()
    page.upload("Records CSV", RECORDS)
    # a new data source starts on its own default outcome, and the results are for that outcome
    assert _shown(page) == ("Biopsy", "Biopsy")
    page.shot("uploaded")

    # the next change (a quicker CV) keeps the two together
    for label, value in (("CV folds", "2"), ("CV repeats", "1")):
        box = page.widget("stNumberInput", label).locator("input")
        box.fill(value)
        box.press("Tab")
    page.get_by_role("button", name="Run cross-validation").click()
    page.settle()
    assert _shown(page) == ("Biopsy", "Biopsy")
    assert re.search(r"1 repeats x 2 folds", page.get_by_text(re.compile(r"repeats x \d+ folds")).first.inner_text())

    with page.expect_download() as dl:
        page.get_by_role("button", name="Download rows (CSV)").click()
    data = Path(dl.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) > 800 and "Biopsy" in rows[0], list(rows[0])[:8]
