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
