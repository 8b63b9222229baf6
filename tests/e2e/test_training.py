"""Training: submit a 3-step job with loss options, watch it finish in the live panel, promote its version from the
job's own row (side-by-side comparison first), roll back; then start another job and cancel it from its row: the
cancelled job keeps its last step and loss."""
import re
import time

SHORT_ID = re.compile(r"\d\d:\d\d:\d\d · [0-9a-f]{6}")


def _row(page, job_ref: str):
    """The job row (a horizontal block) that names ``job_ref`` (its short id)."""
    return page.locator("[data-testid='stHorizontalBlock']").filter(has_text=job_ref).first


def _wait_text(locator, pattern: str, timeout_s: float = 180) -> str:
    deadline = time.time() + timeout_s
    text = ""
    while time.time() < deadline:
        try:
            text = locator.inner_text(timeout=5_000)
        except Exception:
            text = ""
        if re.search(pattern, text):
            return text
        time.sleep(0.5)
    raise AssertionError(f"{pattern!r} did not appear within {timeout_s:.0f} s; last seen: {text[:300]!r}")


def _submit(page, max_steps: int) -> str:
    steps = page.widget("stNumberInput", "Max steps (0 = no limit)").locator("input")
    steps.fill(str(max_steps))
    steps.press("Tab")
    page.get_by_role("button", name="Start training job").click()
    page.settle()
    note = page.locator("[data-testid='stAlertContentSuccess']").filter(has_text="its progress is shown under Jobs")
    return SHORT_ID.search(note.inner_text()).group(0)


def test_submit_watch_promote_and_cancel(page):
    from playwright.sync_api import expect

    page.open("training")
    page.select("Model", "CIHMLC (HBCE)")
    # the loss options of this model: HBCE edge weights, indicator, lambda
    page.select("HBCE indicator", "surrogate (differentiable)")
    lam = page.widget("stNumberInput", "HBCE lambda (penalty weight)").locator("input")
    lam.fill("0.25")
    lam.press("Tab")
    first = _submit(page, 3)
    detail = page.locator("h4").filter(has_text=first)
    assert detail.count() == 1, "the detail panel follows the job just submitted"
    row = _row(page, first)
    _wait_text(row, r"succeeded", 240)
    page.settle()
    text = _wait_text(row, r"3/3")
    assert re.search(r"loss\s+\d+\.\d{4}", text), text
    command = page.locator("[data-testid='stCode']").filter(has_text="python -m hcview train").first.inner_text()
    assert "--hbce-indicator surrogate" in command and "--hbce-lambda 0.25" in command, command
    page.shot("finished")

    # promote the new version from the job's own row: comparison, confirmation, then active; roll back after
    row.get_by_role("button", name=re.compile(r"Promote v\d+$")).click()
    page.settle()
    page.get_by_text("Compare with the active version").last.click()
    page.settle(timeout_ms=240_000)
    page.locator("[data-testid='stCheckbox']").filter(has_text="I have compared them").last.click()
    page.settle()
    page.get_by_role("button", name=re.compile(r"^Promote version \d+$")).click()
    page.settle()
    page.open("training")
    page.select("Model", "CIHMLC (HBCE)", nth=1)  # the Model versions panel's
    versions = page.locator("[data-testid='stVerticalBlock']").filter(has_text="Roll back to the previous active").last
    page.shot("promoted")
    assert re.search(r"Active:\s*version [2-9]", versions.inner_text()), versions.inner_text()[:300]
    page.get_by_role("button", name="Roll back to the previous active version").click()
    page.settle()
    expect(page.get_by_text(re.compile(r"Active: version")).last).to_have_text("Active: version 1")

    # another job, cancelled from its row once it has made progress
    second = _submit(page, 0)
    row2 = _row(page, second)
    _wait_text(row2, r"step\s+[1-9]\d*/\d+", 240)
    page.shot("running")
    row2.get_by_role("button", name="Cancel").click()
    page.settle()
    text = _wait_text(row2, r"cancelled", 120)
    page.settle()
    text = _wait_text(row2, r"step\s+[1-9]\d*/\d+")
    assert "?" not in text and "None" not in text, text
    assert re.search(r"loss\s+\d+\.\d{4}", text), text
    info = page.locator("[data-testid='stAlertContentInfo']").filter(has_text="Cancelled at step")
    assert re.search(r"Cancelled at step \d+/\d+ \(loss \d+\.\d{4}\)", info.inner_text())
