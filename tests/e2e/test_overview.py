"""Overview: the four model cards line up, show no trivial figure, and retraining every demo model asks first."""


def test_cards_aligned_no_trivial_metrics_retrain_confirms(page):
    page.open("")
    cards = page.locator("[data-testid='stColumn'] > [data-testid='stVerticalBlockBorderWrapper']")
    if cards.count() < 4:  # layout wrappers differ between Streamlit versions
        cards = page.locator("[data-testid='stColumn']").filter(has_text="held-out test split")
    boxes = [cards.nth(i).bounding_box() for i in range(4)]
    assert len({round(b["y"]) for b in boxes}) == 1 and len({round(b["height"]) for b in boxes}) == 1, boxes
    values = page.locator("[data-testid='stMetricValue']")
    tops = {round(values.nth(i).bounding_box()["y"]) for i in range(values.count())}
    assert values.count() == 4 and len(tops) == 1, tops  # the headline figures on one line
    text = page.locator("[data-testid='stMain']").inner_text()
    assert "anatomy acc" not in text and "anatomy accuracy" not in text  # one anatomy in the sample: always right

    page.get_by_text("Demo models: train on the bundled sample pack").click()
    page.get_by_role("button", name="Retrain all demo models").click()
    confirm = page.get_by_role("button", name="Yes, queue the retraining jobs")
    confirm.wait_for()
    assert page.get_by_text("only if it beats the active one").count() >= 1
    page.shot("confirm")
    page.keyboard.press("Escape")  # not confirmed: nothing is queued
