"""The browser harness: a real ``streamlit run app.py`` on a free localhost port, driven by Playwright in Debian's
Chromium (as Streamlit's own e2e_playwright does).

- ``app`` (session): the server, started with its own HCVIEW_VAR_DIR (jobs, new model versions, evaluations:
  the repository's ``models/`` and ``var/`` are never written), stopped at the end; waits for ``/_stcore/health``.
- ``page`` (per test): a 1280x800 page that fails the test on any browser console error, any Streamlit exception
  element, and any deprecation warning or traceback the server logs while the test runs; it saves a full-page
  screenshot to ``$HCVIEW_E2E_SHOTS`` (default ``var/e2e-shots``) at the end, and ``page.shot(name)`` saves one
  mid-test.
- ``page.select(label, option)`` picks an option of the selectbox labelled ``label``; ``page.widget(kind, label)``
  is the Streamlit element of a kind (``stNumberInput``, ``stSelectbox``...) whose label is ``label``.
- ``page.settle()`` waits until the script has finished running (``data-test-script-state='notRunning'``);
  ``page.open(path)`` opens a page by its URL path and settles; ``page.upload(label, path)`` puts a file into the
  file uploader whose label contains ``label``.

Without Chromium or Playwright the browser tests are skipped with the reason, never silently passed: ``.ci/run``
installs both.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HCVIEW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("HCVIEW_E2E_SHOTS", ROOT / "var" / "e2e-shots"))
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"
# What the server log must not say while a test runs (Streamlit logs its deprecation warnings there).
BAD_LOG = re.compile(r"deprecat|use_container_width|Traceback \(most recent call last\)", re.IGNORECASE)


def known_streamlit_404(text: str, url: str, app_url: str) -> bool:
    """The one console error we do not fail on, and exactly that one.

    Opened at a page's own URL (``/training``), Streamlit's frontend does not know whether ``/training`` is the app's
    base URL path or a page of an app served at ``/``: it asks both ``/training/_stcore/health`` (and
    ``.../host-config``) and ``/_stcore/health``, and uses the one that answers. The first is a 404 by design, which
    Chromium logs as "Failed to load resource". Streamlit bug 7074 (open, confirmed); it cannot be fixed from the app
    (``server.baseUrlPath`` only moves both probes one level down). Any other 404, and these two under any deeper
    path, still fail the test.
    """
    probe = re.escape(app_url) + r"/[A-Za-z0-9_-]+/_stcore/(health|host-config)"
    return "status of 404" in text and re.fullmatch(probe, url or "") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    if not CHROMIUM:
        pytest.skip("no Chromium binary (Debian: apt-get install chromium)")
    port = _free_port()
    var = tmp_path_factory.mktemp("e2e-var")
    env = {**os.environ, "HCVIEW_VAR_DIR": str(var), "PYTHONUNBUFFERED": "1", "HCVIEW_ALLOW_DOWNLOAD": "0"}
    log_path = var / "streamlit.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not answer /_stcore/health within 120 s:\n" + log_path.read_text()[-2000:])
    yield {"url": url, "var": var, "log": log_path}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def browser(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        app["first_visit"] = _first_visit(b, app["url"])
        yield b
        b.close()


def _first_visit(browser, url: str) -> dict:
    """The first page any visitor opens after the server started, opened by its direct URL (a bookmark): what
    it showed. Kept for ``test_pages_smoke``; the tests after it see a server that has run the app once."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error"
          and not known_streamlit_404(m.text, m.location.get("url", ""), url) else None)
    pg.goto(f"{url}/training")
    pg.wait_for_selector(IDLE, timeout=120_000)
    pg.wait_for_timeout(500)
    out = {"h1": pg.locator("h1").first.inner_text(), "dialogs": pg.get_by_role("dialog").all_inner_texts(),
           "errors": errors}
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / "first_visit_training.png"))
    ctx.close()
    return out


@pytest.fixture
def page(browser, app, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []

    def on_console(m):
        if m.type == "error" and not known_streamlit_404(m.text, m.location.get("url", ""), app["url"]):
            errors.append(f"{m.text} ({m.location.get('url', '')})")

    pg.on("console", on_console)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.app_url = app["url"]
    pg.settle = lambda timeout_ms=120_000: settle(pg, timeout_ms)
    pg.open = lambda path="": goto(pg, path)
    pg.shot = lambda name: shot(pg, f"{request.node.name}-{name}")
    pg.upload = lambda label, path: upload(pg, label, path)
    pg.select = lambda label, option, nth=0: select(pg, label, option, nth)
    pg.widget = lambda kind, label, nth=0: widget(pg, kind, label, nth)
    log_start = app["log"].stat().st_size
    yield pg
    try:
        shot(pg, request.node.name)
    except Exception:
        pass
    exceptions = pg.locator("[data-testid='stException']").count()
    ctx.close()
    with open(app["log"], "rb") as f:
        f.seek(log_start)
        logged = [ln for ln in f.read().decode("utf-8", "replace").splitlines() if BAD_LOG.search(ln)]
    assert exceptions == 0, f"a Streamlit exception is shown on the page ({exceptions})"
    assert errors == [], f"browser console errors: {errors[:5]}"
    assert logged == [], f"the server logged while this test ran: {logged[:5]}"


def shot(page, name: str) -> None:
    """A screenshot of the whole page at 1280 px wide. Streamlit scrolls inside its main section, not the document,
    so a full-page screenshot alone would stop at 800 px: the viewport grows to the content for the shot."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector(\"[data-testid='stMain']\");"
                           " return m ? m.scrollHeight : document.body.scrollHeight }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height or 0), 8000))})
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"), full_page=True)
    page.set_viewport_size(size)


def settle(page, timeout_ms: int = 120_000) -> None:
    """Wait until Streamlit has finished running the script after the last action."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    try:  # the rerun an action causes may start a moment later on a busy machine
        page.wait_for_selector(RUNNING, timeout=1_000)
    except Exception:
        pass  # it already ran, or the action caused no rerun
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    # elements whose code is still loading show skeletons for a moment
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stSkeleton']\")", timeout=timeout_ms)
    page.wait_for_timeout(200)


def goto(page, path: str = "") -> None:
    page.goto(f"{page.app_url}/{path}")
    settle(page)


def upload(page, label: str, path) -> None:
    """Put ``path`` into the file uploader labelled ``label`` (through its file input, as a user's file dialog does)."""
    box = page.locator("[data-testid='stFileUploader']").filter(has_text=label).first
    name = Path(path).name
    box.locator("input[type='file']").set_input_files(str(path))
    # uploaded when the uploader lists it (a long name is shortened in the middle: "siim_pn...sample.dcm")
    listed = box.locator("[data-testid='stFileChip'], [data-testid='stFileUploaderFile']")
    listed.filter(has_text=name[:5]).filter(has_text=name[-8:]).first.wait_for(timeout=60_000)
    settle(page)


def widget(page, kind: str, label: str, nth: int = 0):
    """The ``nth`` Streamlit element of ``kind`` (its data-testid) whose label is exactly ``label``."""
    return page.locator(f"[data-testid='{kind}']").filter(
        has=page.locator("[data-testid='stWidgetLabel']", has_text=re.compile(rf"^{re.escape(label)}$"))).nth(nth)


def select(page, label: str, option: str, nth: int = 0) -> None:
    """Pick ``option`` in the ``nth`` selectbox labelled ``label`` and wait for the rerun."""
    box = widget(page, "stSelectbox", label, nth).locator("input")
    box.click()
    box.fill(option)  # filters the list, as typing does: the option is then in view wherever the box sits
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)
