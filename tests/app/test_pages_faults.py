"""AppTest on what goes wrong: bad uploads in the explorer, a malformed app configuration, and two
sessions asking for the same binary model (one job, one training)."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from repcam_app import state
from repcam_testing import survived, tiny_config

from apptest_kit import ok, open_page, serve_config  # noqa: E402
from test_uploads import png_16bit, png_header_only

pytestmark = pytest.mark.slow


def _png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


GOOD = Image.fromarray(np.random.default_rng(3).integers(0, 255, (40, 48, 3), dtype=np.uint8))
BAD_UPLOADS = {
    "noise.png": (bytes(np.random.default_rng(1).integers(0, 255, 3000, dtype=np.uint8)), "not a readable image"),
    "cut.jpg": (_png(GOOD, "JPEG")[:400], "not a readable image"),
    "cut.png": (_png(GOOD)[:300], "not a readable image"),
    "dot.png": (_png(Image.new("RGB", (1, 1))), "1x1 pixels"),
    "bomb.png": (png_header_only(9000, 9000), "81.0 megapixels"),
    "page.png": (b"<html><body>hello</body></html>", "HTML or XML"),
    "logo.png": (b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "SVG drawing"),
}
ODD_BUT_FINE = {
    "deep.png": png_16bit(np.arange(40 * 48, dtype=np.uint16).reshape(40, 48) * 30),
    "print.jpg": _png(GOOD.convert("CMYK"), "JPEG"),
    "alpha.png": _png(GOOD.convert("RGBA")),
    "grey.png": _png(GOOD.convert("L")),
}


def test_bad_uploads_get_a_message_and_the_explorer_keeps_working(app_env, monkeypatch):
    monkeypatch.setenv("REPCAM_UPLOADS_PER_MINUTE", "1000")  # more files than the default per-minute limit
    at = open_page("explorer", **{state.EX_CLASS: "car"})
    ok(at)
    def upload(file):  # the widget is looked up again after each run (an old handle clears the file)
        at.file_uploader(key=state.EX_UPLOAD).set_value(file).run()

    for name, (data, message) in BAD_UPLOADS.items():
        upload((name, data, "image/png"))
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error] == [at.error[0].value] and name in at.error[0].value
        assert message in at.error[0].value and "Showing a validation image instead" in at.error[0].value
        assert at.session_state[state.EX_LAST]["baseline_iou"] is not None  # a validation image, with its mask
        survived("uploads survived through the app (explorer shows the message and goes on)")
    for name, data in ODD_BUT_FINE.items():
        upload((name, data, "image/png"))
        ok(at)
        assert at.session_state[state.EX_LAST]["baseline_iou"] is None  # the upload has no ground truth
        survived("uploads survived through the app (explorer shows the message and goes on)")
    upload(None)
    ok(at)
    assert at.session_state[state.EX_LAST]["baseline_iou"] is not None


@pytest.mark.parametrize("text", [
    "{not json", "[1, 2]", '{"image_size": "big"}', '{"colour": 1}', '{"world": {"n_families": "x"}}',
    '{"train": {"epochs": 0}}', "\udcff", None,
])
def test_a_malformed_app_configuration_is_one_message(app_env, tmp_path, monkeypatch, text):
    path = tmp_path / "config.json"
    if text == "\udcff":
        path.write_bytes(b"\xff\xfe\x00{")
    elif text is not None:
        path.write_text(text)
    monkeypatch.setenv("REPCAM_APP_CONFIG", str(path))
    at = open_page("home")
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and str(path) in at.error[0].value and "\n" not in at.error[0].value
    survived("malformed configurations survived (one message naming the file)")


@pytest.fixture
def partial_env(tmp_path, monkeypatch):
    """A configuration of its own (its own jobs in the process-wide registry) whose cache holds
    the multi-class model, B and the clusters, and no binary model."""
    from repcam_core.running.pipeline import Pipeline

    cfg = tiny_config(seed=5)
    Pipeline(cfg, cache=tmp_path / "cache").clustering()
    Pipeline(cfg, cache=tmp_path / "cache").multiclass_model()
    serve_config(cfg, tmp_path, monkeypatch)
    return cfg


def test_two_sessions_asking_for_the_same_binary_models_start_one_job_each(partial_env, monkeypatch):
    import repcam_core.running.pipeline as pipeline_module
    from repcam_app.jobs import registry
    from repcam_app.resources import config_key

    release, trained, ran = threading.Event(), [], []
    real_binary_model, real_fit = pipeline_module.Pipeline.binary_model, pipeline_module.fit

    def held_binary_model(self, a, b):  # jobs wait until both sessions have asked (pages never wait)
        if threading.current_thread().name.startswith("repcam-"):
            ran.append((a, b))
            release.wait(120)
        return real_binary_model(self, a, b)

    def counted_fit(*args, **kwargs):
        trained.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(pipeline_module.Pipeline, "binary_model", held_binary_model)
    monkeypatch.setattr(pipeline_module, "fit", counted_fit)
    sessions = [open_page("explorer", **{state.EX_CLASS: "car"}) for _ in range(2)]
    reps = [at.session_state[state.EX_REPS] for at in sessions]
    assert reps[0] == reps[1] and len(reps[0]) >= 1
    for at in sessions:
        assert not at.exception and "Training" in at.info[0].value
    release.set()
    registry().wait(300)
    jobs = [j for j in registry().jobs(config_key(partial_env)) if j.name.startswith("binary:")]
    assert len(jobs) == len(reps[0]) and all(j.status == "done" for j in jobs)
    assert len(ran) == len(set(ran)) == len(reps[0])  # one job ran per model, not one per session
    assert len(trained) == len(reps[0])
