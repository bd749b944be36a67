"""End to end in a real headless browser: ``streamlit run app.py`` on a free port, every page
opened in Debian's chromium through Playwright, its main figure awaited, no error element,
one screenshot per page in test-artifacts/; and the explorer on real MSRC-v2 photos with the
photos preset (no screenshot kept: it would show the photos)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from apptest_kit import CHROMIUM, CHROMIUM_ARGS as ARGS, free_port as _free_port
from repcam_app.serving import stop, wait_until_serving
from repcam_testing import missing

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# url path -> selector of the page's main figure
PAGES = {"": "[data-testid=stTable]", "similarity": ".js-plotly-plot", "clustering": ".js-plotly-plot",
         "explorer": "[data-testid=stMetric]", "results": ".js-plotly-plot"}


@contextlib.contextmanager
def serving(env: dict[str, str], log_name: str = "streamlit.log") -> Iterator[str]:
    """``streamlit run app.py`` with ``env`` on a free local port (its log in test-artifacts/); the URL."""
    if not os.path.exists(CHROMIUM):  # `make test` installs it; under CI=true its absence fails
        missing(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    port = _free_port()
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with open(ROOT / "test-artifacts" / log_name, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
                                 "true", "--server.port", str(port), "--server.address", "127.0.0.1"],
                                cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_until_serving(url, timeout=60, poll=0.3):
                pytest.fail(f"streamlit did not start within 60 s (see test-artifacts/{log_name})")
            yield url
        finally:
            stop(proc)


@pytest.fixture(scope="module")
def server(app_env):
    with serving(app_env) as url:
        yield url


def _assert_no_error(page, path: str) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, path
    assert "Page not found" not in page.content(), path
    errors = page.locator("[data-testid=stAlertContentError]")
    assert errors.count() == 0, f"{path}: {errors.all_inner_texts()}"


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
            _assert_no_error(page, path)
        browser.close()


def test_explorer_on_msrc_photos_in_chromium(msrc_photos_run):
    """The explorer of the real-photo run (MSRC-v2, the photos preset's EfficientNet-Lite0, every
    map cached by the run): a photo's Baseline, fused map and IoU metrics, no exception, no error."""
    from playwright.sync_api import sync_playwright

    assert msrc_photos_run.returncode == 0, msrc_photos_run.stderr
    env = {"REPCAM_APP_CONFIG": str(msrc_photos_run.config_file), "REPCAM_CACHE": str(msrc_photos_run.cache)}
    with serving(env, "streamlit-msrc.log") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/explorer")
        page.wait_for_selector(PAGES["explorer"], timeout=90_000)
        page.wait_for_selector("[data-testid=stStatusWidget]", state="detached", timeout=60_000)
        _assert_no_error(page, "explorer (MSRC-v2, photos preset)")
        metrics = page.locator("[data-testid=stMetric]").all_inner_texts()
        assert any(m.startswith("IoU fused") and "%" in m for m in metrics), metrics  # a fused map was scored
        text = page.inner_text("body")  # the captions of the Baseline, the fused map and the per-layer maps
        assert "Grad-CAM baseline · IoU" in text and "S-1+A+F · fused over 2 class(es)" in text, text[-3000:]
        assert "net.bn2" in text and "sum × last layer" in text
        browser.close()
