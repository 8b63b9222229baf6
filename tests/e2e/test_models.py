"""Models: the registry table fits a 1280 px window; a model card shows its paper's DOI as a link (or says that the
paper text has none), and CIHMLC's HBCE settings as sentences and its per-edge weights as a table."""


def _fits(locator) -> bool:
    return locator.evaluate("el => { const s = el.querySelector('.dvn-scroller') || el;"
                            " return s.scrollWidth <= s.clientWidth + 1 }")


def test_registry_fits_and_cards_read_well(page):
    page.open("models")
    registry = page.locator("[data-testid='stDataFrame']").first
    assert _fits(registry), "the registry table scrolls sideways at 1280 px"
    assert page.get_by_text("no DOI in the paper text").count() >= 1  # HC-Net's card: honest about it

    page.select("Model card", "CIHMLC (HBCE)")
    assert "(see paper text)" not in page.locator("[data-testid='stMain']").inner_text()
    hbce = page.locator("li").filter(has_text="HBCE:").first.inner_text()
    assert "{" not in hbce and "lambda = 0.5" in hbce, hbce
    # the per-edge weights as a parent / child / weight table
    page.wait_for_function("""() => Array.from(document.querySelectorAll("[data-testid='stDataFrame']")).some(
        el => Array.from(el.querySelectorAll("[role='columnheader']")).map(e => e.textContent).join("|")
              .startsWith("parent|child|weight"))""", timeout=30_000)
    page.shot("cihmlc")

    page.select("Model card", "MedFusionNet")
    link = page.get_by_role("link", name="10.1038/s43856-025-01334-3", exact=True)
    assert link.get_attribute("href") == "https://doi.org/10.1038/s43856-025-01334-3"
