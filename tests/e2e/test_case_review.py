"""Case review as a radiologist uses it, in a real browser at 1280x800: upload three scans, run two models on one,
Grad-CAM and LRP side by side, a cached alpha change (server time measured by the page), reader feedback, the PDF
and HTML reports, and the worklist surviving a visit to another page."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("HCVIEW_E2E_SHOTS", ROOT / "var" / "e2e-shots"))
FILES = [ROOT / "data/samples/nih-cxr-512/00000001_000.png", ROOT / "data/samples/brain-mri/glioma/Te-glTr_0007.jpg",
         ROOT / "data/samples/dicom/siim_pneumothorax_sample.dcm"]
CACHED_RERUN_LIMIT_MS = 1000  # generous for a loaded 2-core machine; the goal is < 150 ms


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"case_review_{name}.png"))


def _run(page) -> tuple[str | None, float | None]:
    """The page's own record of its last run: (run counter, server milliseconds)."""
    el = page.locator(".hc-timing")
    if el.count() == 0:
        return None, None
    ms = el.first.get_attribute("data-ms")
    return el.first.get_attribute("data-run"), (float(ms) if ms else None)


def _after(page, action, timeout_ms: int = 120_000) -> float:
    """Do ``action`` and wait until the page has finished the run it starts; returns that run's server time."""
    before = _run(page)[0]
    action()
    page.wait_for_function("(b) => { const e = document.querySelector('.hc-timing'); return e && e.dataset.run !== b }",
                           arg=before or "", timeout=timeout_ms)
    page.settle()
    return _run(page)[1]


def _tab(page, name: str) -> None:
    _after(page, lambda: page.get_by_role("tab", name=name).click())


def _select(page, label: str, option: str) -> None:
    box = page.locator("[data-testid='stSelectbox']").filter(has_text=label).first
    _after(page, lambda: (box.click(), page.get_by_role("option").filter(has_text=option).first.click()))


def test_case_review_worklist_compare_explain_feedback_reports(page):
    # open the app at its root and follow the link: a direct sub-page URL makes the browser log two 404s
    page.open("")
    _after(page, lambda: page.get_by_role("link", name="Case review").click())

    # worklist: three files at once (PNG, JPEG, DICOM)
    uploader = page.locator("[data-testid='stFileUploaderDropzoneInput']").first
    _after(page, lambda: uploader.set_input_files([str(f) for f in FILES]))
    page.get_by_text("Case (3 in the worklist)").wait_for(timeout=120_000)
    page.settle()
    _shot(page, "1_uploaded")

    # one case through CIHMLC: the findings tree at full width
    _select(page, "Model", "CIHMLC")
    page.get_by_text("CIHMLC (HBCE) says").wait_for(timeout=120_000)
    assert page.get_by_text("00000001_000.png").count() >= 1
    _shot(page, "2_findings")

    # two models on the same case, each with its flags
    _tab(page, "Compare models")
    box = page.locator("[data-testid='stMultiSelect']").first
    _after(page, lambda: (box.click(), page.get_by_role("option").filter(has_text="HC-Net").first.click()))
    page.locator("h1").first.click()  # close the drop-down
    page.get_by_role("heading", name="HC-Net").wait_for(timeout=120_000)
    page.wait_for_timeout(300)
    assert page.get_by_role("heading", name="CIHMLC (HBCE)").count() == 1
    assert page.get_by_text("out of distribution").count() >= 1  # a chest X-ray through the brain-MRI model
    _shot(page, "3_compare")

    # Grad-CAM and LRP side by side with the original
    _tab(page, "Explanations")
    page.get_by_text("LRP ·").first.wait_for(timeout=180_000)
    page.settle()
    captions = page.locator("[data-testid='stImageCaption']").all_inner_texts()
    assert any(c.startswith("Original") for c in captions)
    assert any(c.startswith("Grad-CAM ·") for c in captions) and any(c.startswith("LRP ·") for c in captions)
    _shot(page, "4_explanations")

    # alpha changes re-blend cached maps: no model runs; the page reports its own server time
    slider = page.locator("[data-testid='stSlider']").filter(has_text="Opacity").get_by_role("slider")
    times = []
    for _ in range(3):
        times.append(_after(page, lambda: (slider.focus(), page.keyboard.press("ArrowRight"))))
    print(f"\ncached alpha rerun, server time (ms): {', '.join(f'{t:.0f}' for t in times)}")
    assert min(times) < CACHED_RERUN_LIMIT_MS, times

    # reader feedback, stored and shown
    _tab(page, "Feedback & report")
    name = page.get_by_role("textbox", name="Your name")
    _after(page, lambda: (name.fill("Dr Test"), name.press("Enter")))
    page.locator("[data-testid='stButtonGroup']").first.get_by_text("agree", exact=True).click()
    _after(page, lambda: page.get_by_role("button", name="Save feedback").click())
    page.get_by_text("Saved 1 verdict").wait_for(timeout=60_000)
    _shot(page, "5_feedback")

    # the reports: PDF and HTML, with the feedback in them
    with page.expect_download(timeout=180_000) as dl:
        page.get_by_role("button", name="PDF").click()
    assert Path(dl.value.path()).read_bytes().startswith(b"%PDF")
    with page.expect_download(timeout=180_000) as dl:
        page.get_by_role("button", name="HTML").click()
    html = Path(dl.value.path()).read_text()
    assert "Case report: 00000001_000.png" in html and "Dr Test" in html and "agree" in html
    assert dl.value.suggested_filename == "00000001_000.html"

    # the worklist survives another page
    page.get_by_role("link", name="Models").click()
    page.get_by_role("heading", name="Models").first.wait_for(timeout=60_000)
    page.settle()
    _after(page, lambda: page.get_by_role("link", name="Case review").click())
    page.get_by_text("Case (3 in the worklist)").wait_for(timeout=60_000)
