"""End to end in a real headless browser: ``streamlit run app.py`` on a free port, every page
opened in Debian's chromium through Playwright, its main figure awaited, no error element,
one screenshot per page in test-artifacts/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apptest_kit import CHROMIUM, CHROMIUM_ARGS as ARGS, free_port as _free_port
from repcam_app.launch import wait_until_serving
from repcam_testing import missing

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# url path -> selector of the page's main figure
PAGES = {"": "[data-testid=stTable]", "similarity": ".js-plotly-plot", "clustering": ".js-plotly-plot",
         "explorer": "[data-testid=stMetric]", "results": ".js-plotly-plot"}


@pytest.fixture(scope="module")
def server(app_env):
    if not os.path.exists(CHROMIUM):  # `make test` installs it; under CI=true its absence fails
        missing(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    port = _free_port()
    log = open(ROOT / "test-artifacts" / "streamlit.log", "w") if (ROOT / "test-artifacts").mkdir(
        exist_ok=True) is None else None
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, env={**os.environ, **app_env}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not wait_until_serving(url, timeout=60, poll=0.3):
        proc.kill()
        pytest.fail("streamlit did not start within 60 s (see test-artifacts/streamlit.log)")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def test_every_page_in_chromium(server):
    from playwright.sync_api import sync_playwright

    out = ROOT / "test-artifacts"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, selector in PAGES.items():
            page.goto(f"{server}/{path}")
            page.wait_for_selector(selector, timeout=90_000)
            page.wait_for_timeout(1500)  # let plotly and images settle
            page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=60_000)
            page.screenshot(path=str(out / f"page-{path or 'home'}.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0, path
            assert "Page not found" not in page.content(), path
            errors = page.locator("[data-testid=stAlertContentError]")
            assert errors.count() == 0, f"{path}: {errors.all_inner_texts()}"
        browser.close()
