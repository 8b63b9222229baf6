"""The browser harness: a real ``streamlit run app.py`` on a free localhost port, driven by Playwright in Debian's
Chromium (as Streamlit's own e2e_playwright does).

- ``app`` (session): the server, started with its own HCVIEW_VAR_DIR, stopped at the end; waits for
  ``/_stcore/health``.
- ``page`` (per test): a 1280x800 page that fails the test on any browser console error or Streamlit exception
  element, and saves a screenshot to ``$HCVIEW_E2E_SHOTS`` (default ``var/e2e-shots``) at the end.
- ``page.settle()`` waits until the script has finished running (``data-test-script-state='notRunning'``);
  ``page.open(path)`` opens a page by its URL path and settles.

Without Chromium or Playwright the browser tests are skipped with the reason, never silently passed: ``.ci/run``
installs both.
"""
from __future__ import annotations

import os
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
IGNORED_CONSOLE = ("favicon", "Failed to load resource: net::ERR_NAME_NOT_RESOLVED")


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
    env = {**os.environ, "HCVIEW_VAR_DIR": str(var), "PYTHONUNBUFFERED": "1"}
    log = open(var / "streamlit.log", "w")
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
        pytest.fail("streamlit did not answer /_stcore/health within 120 s:\n" + (var / "streamlit.log").read_text()[-2000:])
    yield {"url": url, "var": var, "log": var / "streamlit.log"}
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
        yield b
        b.close()


@pytest.fixture
def page(browser, app, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and not any(s in m.text for s in IGNORED_CONSOLE) else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.app_url = app["url"]
    pg.settle = lambda timeout_ms=120_000: settle(pg, timeout_ms)
    pg.open = lambda path="": goto(pg, path)
    yield pg
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    except Exception:
        pass
    exceptions = pg.locator("[data-testid='stException']").count()
    ctx.close()
    assert exceptions == 0, f"a Streamlit exception is shown on the page ({exceptions})"
    assert errors == [], f"browser console errors: {errors[:5]}"


def settle(page, timeout_ms: int = 120_000) -> None:
    """Wait until Streamlit has finished running the script after the last action."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout_ms)
    page.wait_for_timeout(200)


def goto(page, path: str = "") -> None:
    page.goto(f"{page.app_url}/{path}")
    settle(page)
