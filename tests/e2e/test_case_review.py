"""Case review, kept minimal while the page is redesigned: a DICOM and a PNG go in through the file input (as from
a file dialog), the scan renders, and the model's heat map renders next to it."""
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
IMAGES = "[data-testid='stImage'] img, [data-testid='stImage'] canvas"


def test_upload_dicom_then_png_and_see_a_heat_map(page):
    page.open("review")
    page.upload("Scan", SAMPLES / "dicom" / "siim_pneumothorax_sample.dcm")
    page.locator(IMAGES).first.wait_for(timeout=120_000)
    page.shot("dicom")
    page.upload("Scan", SAMPLES / "nih-cxr-512" / "00000001_000.png")
    page.locator(IMAGES).first.wait_for(timeout=120_000)
    # the scan and, for the model's top prediction, its heat map
    page.locator(IMAGES).nth(1).wait_for(state="attached", timeout=60_000)
