"""AppTest of the app served to others: the access token gates every page, an exposed server
offers only the operator's datasets (by name) and never echoes a path, the Home page shows a
job's place in the queue, a read-only demo starts nothing, and uploads are rate-limited."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest_kit import APP, TIMEOUT, ok, open_page  # noqa: F401
from repcam_app import settings, state

pytestmark = pytest.mark.slow

PAGES = ("home", "similarity", "clustering", "explorer", "results")




def elements(at: AppTest, where=None) -> list[str]:
    """Types of everything drawn (main area and sidebar, or only ``where``), depth first."""
    def walk(node):
        for child in getattr(node, "children", {}).values():
            yield child.type
            yield from walk(child)
    return [t for t in walk(where or at._tree) if t not in ("main", "sidebar", "event")]


def sent(at: AppTest) -> str:
    """Everything the browser receives for this run (the protos of every element)."""
    def walk(node):
        for child in getattr(node, "children", {}).values():
            proto = getattr(child, "proto", None)
            yield "" if proto is None else str(proto)
            yield from walk(child)
    return "\n".join(walk(at._tree))


# ------------------------------------------------------------------------------------ token gate
@pytest.mark.parametrize("page", PAGES)
def test_token_gate_blocks_every_page(app_env, monkeypatch, page):
    monkeypatch.setenv(settings.TOKEN_ENV, "s3cret-token")
    at = open_page(page)
    assert not at.exception and elements(at) == ["text_input"]
    at.text_input(key=state.TOKEN_INPUT).set_value("s3cret-tokeN").run()
    assert elements(at) == ["text_input", "error"] and at.error[0].value == "Wrong access token."
    assert "car" not in sent(at) and "s3cret" not in sent(at).replace('value: "s3cret-tokeN"', "")


def test_right_token_opens_every_page_for_the_session(app_env, monkeypatch):
    monkeypatch.setenv(settings.TOKEN_ENV, "s3cret-token")
    at = open_page("home")
    at.text_input(key=state.TOKEN_INPUT).set_value("s3cret-token").run()
    assert not at.exception and not at.error
    assert at.table and "cached" in at.table[0].value["status"].tolist()
    assert not any(w.key == state.TOKEN_INPUT for w in at.text_input)
    at.switch_page("app_pages/similarity.py").run()  # entered once per session
    assert not at.exception and len(at.get("plotly_chart")) == 2


def test_without_token_no_gate(app_env, monkeypatch):
    monkeypatch.delenv(settings.TOKEN_ENV, raising=False)
    at = open_page("home")
    assert not at.exception and at.table


# ---------------------------------------------------------------------- exposed: dataset list
@pytest.fixture
def exposed(app_env, serve_on, monkeypatch, tmp_path):
    """Listening on every interface with two datasets on the operator's list."""
    serve_on("0.0.0.0")
    roots = [tmp_path / "private" / "lab", tmp_path / "private" / "VOC2012"]
    for root in roots:
        root.mkdir(parents=True)
    monkeypatch.setenv(settings.DATA_ROOTS_ENV, f"Lab set={roots[0]},voc:{roots[1]}")
    return roots


@pytest.mark.parametrize("address", ["0.0.0.0", ""])  # unset (Streamlit's default: every interface) too
def test_exposed_home_offers_the_list_by_name(app_env, exposed, serve_on, address):
    serve_on(address)
    at = open_page("home")
    assert not at.exception and not at.error
    assert not any(w.key == state.DATASET for w in at.text_input)
    assert at.selectbox(key=state.DATASET).options == ["embedded (generated world)", "Lab set", "VOC2012"]
    page = sent(at)
    assert "private" not in page and app_env["REPCAM_CACHE"] not in page  # no server path at all


@pytest.mark.parametrize("page", ["explorer", "similarity"])
@pytest.mark.parametrize("path", ["/etc", "../../", "voc:/etc"])
def test_exposed_refuses_an_injected_path_without_naming_it(exposed, page, path):
    at = open_page(page, **{state.DATASET: path})
    assert not at.exception
    drawn = [t for t in elements(at, at.main) if t not in ("title", "caption")]  # the page's static intro
    assert drawn == ["error"], "nothing but the refusal"
    assert "not on this server's list" in at.error[0].value and "Lab set" in at.error[0].value
    assert path not in sent(at) and "private" not in sent(at)


def test_exposed_home_replaces_an_injected_path(exposed):
    at = open_page("home", **{state.DATASET: "/etc"})
    assert not at.exception
    assert "not on this server's list" in at.error[0].value and "/etc" not in sent(at)
    assert at.session_state[state.DATASET] == "embedded" and at.table  # the default dataset is shown


def test_exposed_listed_dataset_opens_and_local_paths_stay_free(app_env, exposed, serve_on):
    at = open_page("home")
    at.selectbox(key=state.DATASET).set_value("voc:" + str(exposed[1])).run()
    # an empty directory on the list: its own path may be named, nothing outside it
    assert at.error and "missing JPEGImages" in at.error[0].value
    serve_on("127.0.0.1")
    at = open_page("home", **{state.DATASET: "/etc"})
    assert at.text_input(key=state.DATASET).value == "/etc" and "/etc" in at.error[0].value
    assert app_env["REPCAM_CACHE"] in sent(open_page("home"))  # the operator sees where the cache is


def test_exposed_messages_hide_server_paths(app_env, exposed, monkeypatch, tmp_path):
    from repcam_app.jobs import registry
    from repcam_app.resources import config_key
    from repcam_core.errors import DatasetError
    from repcam_testing import tiny_config

    secret = tmp_path / "srv-secret" / "models"

    def fails():
        raise DatasetError(f"cannot write {secret}/x.safetensors")

    job = registry().submit(config_key(tiny_config()), "failing", fails, "a failing job")
    registry().wait(30)
    assert job.status == "failed"
    at = open_page("home")  # the Home page lists this configuration's jobs, the failed one too
    assert any("a failing job: failed — cannot write <server path>" in e.value for e in at.error)
    assert "srv-secret" not in sent(at)
    registry().forget(job.config_key, job.name)
    bad = tmp_path / "srv-secret" / "app.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("{not json")
    monkeypatch.setenv("REPCAM_APP_CONFIG", str(bad))
    at = open_page("home")
    assert "app configuration ($REPCAM_APP_CONFIG) <server path> is not valid JSON" in at.error[0].value
    assert "srv-secret" not in sent(at)


# ------------------------------------------------------------------------------ jobs and limits
def test_home_shows_a_queued_job_position(app_env, monkeypatch):
    from repcam_app.jobs import registry
    from repcam_app.resources import config_key
    from repcam_testing import tiny_config

    monkeypatch.setenv(settings.MAX_JOBS_ENV, "1")
    release = threading.Event()
    key = config_key(tiny_config())
    try:
        for name in ("slow-a", "slow-b", "slow-c"):
            registry().submit(key, name, lambda: release.wait(60), f"fake job {name}")
        at = open_page("home")
        texts = [p.proto.text for p in at.get("progress")]
        assert "fake job slow-b: waiting: 1st in queue" in texts
        assert "fake job slow-c: waiting: 2nd in queue" in texts
    finally:
        release.set()
        registry().wait(30)
    assert all(j.status == "done" for j in registry().jobs(key))


def test_read_only_demo_starts_nothing(app_env, monkeypatch, tmp_path):
    from repcam_app.jobs import registry

    monkeypatch.setenv(settings.READ_ONLY_ENV, "1")
    monkeypatch.setenv("REPCAM_CACHE", str(tmp_path / "empty-cache"))
    at = open_page("home")
    assert not at.exception
    for key in ("home_mc", "home_sim", "home_bin", "home_pairwise", "home_run"):
        assert at.button(key=key).disabled, key
    assert any("Read-only demo" in c.value for c in at.caption)
    for page in ("similarity", "clustering", "explorer"):
        at = open_page(page)
        assert not at.exception and not at.error
        assert "not in the cache (read-only demo)" in at.warning[0].value
    at = open_page("results")
    assert at.button(key="res_run").disabled
    assert registry().jobs() == []


def test_read_only_demo_explores_the_cache(app_env, monkeypatch):
    monkeypatch.setenv(settings.READ_ONLY_ENV, "1")
    at = open_page("explorer", **{state.EX_CLASS: "car"})
    assert not at.exception and not at.error and len(at.get("image")) >= 3
    assert at.session_state[state.EX_LAST]["ready"]  # cached binary models are fused


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_uploads_are_rate_limited_per_session(app_env, monkeypatch):
    monkeypatch.setenv(settings.UPLOADS_ENV, "2")
    at = open_page("explorer")
    for i in range(2):
        at.file_uploader(key=state.EX_UPLOAD).set_value((f"{i}.png", _png((50 * i, 0, 0)), "image/png")).run()
        assert not at.exception and not at.error
        at.slider(key=state.EX_THRESHOLD).set_value(0.1 * (i + 1)).run()  # a rerun is no new upload
        assert not at.error
    at.file_uploader(key=state.EX_UPLOAD).set_value(("2.png", _png((0, 0, 200)), "image/png")).run()
    assert not at.exception
    assert "upload limit reached: at most 2 new images per minute" in at.error[0].value
