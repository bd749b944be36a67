"""The path ``make app`` takes, end to end in headless Chromium: ``python -m repcam_app.launch`` (its
warm-up and its two worker lanes) on a fresh cache and the tiny configuration, the CAM explorer
opened at once, until it shows the fused S-1+A+F map over every S-1 class; then one "+A" toggle
(a fragment rerun in a real browser) and Home's Baseline under the three protocols (the warm-up
evaluates it after the first maps). ``bench demo`` times the same path on the default
configuration; this test checks that it works, on every run of the suite."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apptest_kit import CHROMIUM, CHROMIUM_ARGS, free_port
from repcam_app.serving import wait_until_serving
from repcam_testing import missing, tiny_config

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FUSED = re.compile(r"^S-1\+A\+F · fused over (\d+) class\(es\)")
DEADLINE_S = 300


def _workers(server_pid: int) -> list[str]:
    """Command lines of the server's child processes that are RepCAM workers."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == server_pid and "repcam_core.running.worker" in cmd:
            found.append(cmd)
    return found


@pytest.fixture
def launched(tmp_path):
    if not os.path.exists(CHROMIUM):
        missing(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    pytest.importorskip("playwright")
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(tiny_config().to_dict()))
    env = {k: v for k, v in os.environ.items() if k not in ("REPCAM_WARMUP", "REPCAM_WORKER", "REPCAM_READ_ONLY",
                                                            "REPCAM_APP_TOKEN")}
    env.update({"REPCAM_APP_CONFIG": str(cfg), "REPCAM_CACHE": str(tmp_path / "cache")})
    port = free_port()
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "test-artifacts" / "launch.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "repcam_app.launch", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_serving(url, timeout=60, poll=0.3):
            pytest.fail("repcam-app did not start within 60 s (see test-artifacts/launch.log)")
        yield url, proc, tmp_path / "cache"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("repcam-app did not stop within 20 s of SIGTERM")
        log.close()


def _fused(page) -> tuple[int, str] | None:
    for text in page.eval_on_selector_all("figcaption, [data-testid=stImageCaption]",
                                          "els => els.map(e => e.innerText.trim())"):
        m = FUSED.match(text)
        if m:
            return int(m.group(1)), text
    return None


def test_make_apps_path_shows_a_fused_map_on_a_fresh_cache(launched):
    from playwright.sync_api import sync_playwright

    from repcam_core.running.experiment import Experiment
    from repcam_core.method.modes import parse_mode
    from repcam_core.running.pipeline import Pipeline

    url, proc, cache = launched
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/explorer")  # the first visit, while the warm-up trains
        deadline, want, shown = time.monotonic() + DEADLINE_S, None, None
        while time.monotonic() < deadline:
            shown = _fused(page)
            if want is None and (Path(cache) / "clustering").is_dir():
                s1 = Experiment(Pipeline(tiny_config(), cache=cache)).comparisons(parse_mode("S-1+A+F"))[0]
                want = len(s1)  # every S-1 class of the default target (class 0)
            body = page.inner_text("body")
            if want and shown and shown[0] == want and "on demand" not in body:
                break
            page.wait_for_timeout(250)
        page.screenshot(path=str(ROOT / "test-artifacts" / "launch-explorer.png"), full_page=True)
        assert want and shown and shown[0] == want, f"no fused map over the {want} S-1 classes: {shown}"
        assert page.locator("[data-testid=stException]").count() == 0
        errors = page.locator("[data-testid=stAlertContentError]")
        assert errors.count() == 0, errors.all_inner_texts()
        workers = _workers(proc.pid)
        assert len(workers) == 2, f"one worker per lane under repcam-app, found {workers}"

        page.locator('input[aria-label="+A"]').evaluate("el => el.click()")  # what-if: a fragment rerun
        page.get_by_text(re.compile(r"^S-1\+F · fused over")).first.wait_for(timeout=30_000)

        page.goto(url + "/")  # Home: the Baseline under the three protocols, evaluated by the warm-up
        page.locator("[data-testid=stTable]").filter(has_text="AUC (threshold-free)").wait_for(timeout=120_000)
        assert page.locator("[data-testid=stAlertContentError]").count() == 0
        browser.close()
