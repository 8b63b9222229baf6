"""Every page opens by its direct URL in a real browser and renders without an exception or console error."""
import pytest

PAGES = [("", "hcview"), ("review", "Case review"), ("models", "Models"), ("training", "Training"),
         ("evaluation", "Evaluation"), ("risk", "Risk stratification")]


@pytest.mark.parametrize("path,title", PAGES)
def test_page_opens_by_direct_url(page, path, title):
    page.open(path)
    assert page.locator("h1").first.inner_text().strip().startswith(title)


def test_case_review_runs_a_bundled_sample(page):
    page.open("review")
    page.get_by_text("…or a bundled sample").first.wait_for()
    page.locator("[data-testid='stSelectbox']").filter(has_text="bundled sample").click()
    page.get_by_role("option").filter(has_text="00000001_000.png").first.click()
    page.settle()
    assert page.locator("[data-testid='stImage'] img").count() >= 1
