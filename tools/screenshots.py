"""Screenshots of the main pages at desktop and phone width, for a person to look at.

python tools/screenshots.py http://127.0.0.1:8000 alex revops-demo out/ /automations/ /automations/KEY/ ...
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def main(base, username, password, out, paths):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for size_name, viewport in SIZES.items():
            page = browser.new_page(viewport=viewport)
            page.goto(f"{base}/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            for path in paths:
                page.goto(f"{base}{path}")
                name = path.strip("/").replace("/", "_") or "home"
                page.screenshot(path=str(out / f"{name}-{size_name}.png"), full_page=True)
            page.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
