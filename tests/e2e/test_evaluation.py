"""Evaluation: run a stored evaluation of a demo model on its test split, then click a confusion-matrix cell and see
the cases behind it."""
import re


def test_run_an_evaluation_and_click_a_confusion_cell(page):
    page.open("evaluation")
    # the defaults are the smallest real evaluation: HC-Net demo on the brain-MRI sample's test split
    page.get_by_role("button", name="Run evaluation").click()
    page.settle(timeout_ms=240_000)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".js-plotly-plot").wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    # the centre of the fullest off-diagonal cell (a confusion with cases behind it), from the figure's own axes
    cell = chart.locator(".js-plotly-plot").evaluate("""gd => {
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const k = gd._fullData.findIndex(t => t.type === 'heatmap');
        const cd = gd.calcdata[k][0];  // the computed matrix: rows y[i], columns x[j]
        let best = [0, 1], top = -1;
        cd.z.forEach((row, i) => Array.from(row).forEach((v, j) => {
            if (i !== j && v > top) { top = v; best = [i, j]; } }));
        const box = gd.getBoundingClientRect();
        const t = gd._fullData[k].y[best[0]], p = gd._fullData[k].x[best[1]];
        return {x: box.left + xa._offset + xa.d2p(p), y: box.top + ya._offset + ya.d2p(t), t: String(t), p: String(p)};
    }""")
    page.mouse.click(cell["x"], cell["y"])
    page.settle()
    cases = page.locator("[data-testid='stVerticalBlock']").filter(has_text="Cases behind a confusion-matrix cell").last
    text = cases.inner_text()
    found = re.search(rf"(\d+) case\(s\) with true {re.escape(cell['t'])} predicted as {re.escape(cell['p'])}", text)
    assert found and int(found.group(1)) > 0, text[:400]
    assert cases.locator("[data-testid='stImage']").count() > 0  # the cases' thumbnails


def test_peer_reproduction_against_its_published_aurocs(page):
    """One click loads a peer's CheXNet predictions with the truth in a separate file (joined on Image Index); the
    published per-label AUROCs show next to the reproduced ones."""
    page.open("evaluation")
    page.get_by_role("tab", name="Compare external predictions").click()
    page.settle()
    page.get_by_role("button", name=re.compile("Load the bundled example")).click()
    page.settle(timeout_ms=180_000)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("22433 rows matched").first.wait_for(timeout=60_000)
    heading = main.get_by_role("heading", name="Against the published figures")
    heading.wait_for(timeout=60_000)
    heading.scroll_into_view_if_needed()
    caption = main.get_by_text(re.compile(r"14 labels compared: largest \|difference\| 0\.00\d\d")).first
    caption.wait_for(timeout=30_000)
    assert "13 of 14 within 0.001" in caption.inner_text()
    page.mouse.move(5, 5)  # no tooltip over the page in the screenshot
    page.shot("evaluation_peer_reproduction")
