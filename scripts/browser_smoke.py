"""Click through every page of a running hcview in headless Chromium and save screenshots.

    streamlit run app.py --server.port 8599 &
    python scripts/browser_smoke.py --url http://localhost:8599 --out /tmp/shots

Needs `pip install playwright` and a Chromium binary (Debian: apt-get install chromium).
Exits non-zero if a page shows a Python exception box.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://localhost:8599")
    ap.add_argument("--out", default="shots")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--wait", type=float, default=6.0, help="seconds to let each page settle")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(args.url)
        page.wait_for_selector("[data-testid='stSidebarNav']", timeout=60000)
        page.wait_for_timeout(2000)
        links = page.locator("[data-testid='stSidebarNav'] a")
        targets = list(dict.fromkeys((links.nth(i).get_attribute("href"), links.nth(i).inner_text().split("\n")[-1].strip())
                                     for i in range(links.count())))
        for i, (href, name) in enumerate(targets):
            page.goto(href)
            page.wait_for_selector("[data-testid='stSidebarNav']", timeout=60000)
            page.wait_for_timeout(args.wait * 1000)
            try:
                page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120000)
            except Exception:
                pass
            shot = out / f"{i}_{''.join(c for c in name if c.isalnum())}.png"
            page.screenshot(path=str(shot), full_page=True)
            n_exc = page.locator("[data-testid='stException']").count()
            print(f"{name}: {'EXCEPTION' if n_exc else 'ok'} -> {shot}")
            if n_exc:
                failures.append(name)
        browser.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
