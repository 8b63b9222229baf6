"""Every page opens by its direct URL in a real browser and renders without an exception or console error."""
import pytest

PAGES = [("", "hcview"), ("review", "Case review"), ("models", "Models"), ("training", "Training"),
         ("evaluation", "Evaluation"), ("risk", "Risk stratification")]


@pytest.mark.parametrize("path,title", PAGES)
def test_page_opens_by_direct_url(page, path, title):
    page.open(path)
    assert page.locator("h1").first.inner_text().strip().startswith(title)
    # toolbarMode = "minimal": no Deploy button, no developer options
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0


def test_first_visit_after_start_by_direct_url(app, browser):
    first = app["first_visit"]
    assert first["h1"].startswith("Training")
    assert first["dialogs"] == [] and first["errors"] == [], first
