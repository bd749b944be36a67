"""``repcam-app``: local by default, an explicit host for a demo with a one-line warning, and a
real launch that listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from repcam_app import launch, settings
from repcam_app.serving import stop


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_default_launch_binds_loopback():
    app = launch.find_app()
    argv = launch.streamlit_argv([], app, environ={})
    assert argv[:3] == ["streamlit", "run", str(app)]
    assert option(argv, "--server.address") == "127.0.0.1" and option(argv, "--server.port") == "8501"
    assert argv.count("--server.address") == 1 and argv.count("--server.port") == 1  # not again from config.toml


def test_host_port_and_streamlit_options():
    argv = launch.streamlit_argv(["--host", "0.0.0.0", "--port", "9000", "--server.headless", "true"],
                                 launch.find_app(), environ={})
    assert option(argv, "--server.address") == "0.0.0.0" and option(argv, "--server.port") == "9000"
    assert argv[-2:] == ["--server.headless", "true"] and argv.count("--server.headless") == 1


def test_streamlit_address_option_is_refused(capsys):
    with pytest.raises(SystemExit):
        launch.streamlit_argv(["--server.address=0.0.0.0"], launch.find_app())
    assert "use --host" in capsys.readouterr().err


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True),
                                            ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.5", False), ("", False), (None, False)])
def test_only_explicit_loopback_counts_as_local(host, loopback):
    assert settings.is_loopback(host) is loopback


def test_warning_names_address_exposure_and_token(monkeypatch):
    monkeypatch.delenv(settings.TOKEN_ENV, raising=False)
    monkeypatch.delenv(settings.READ_ONLY_ENV, raising=False)
    assert launch.exposure_warning("127.0.0.1", 8501) is None
    line = launch.exposure_warning("0.0.0.0", 8502)
    assert "\n" not in line and "0.0.0.0:8502" in line
    assert "start training" in line and "upload" in line and "no access token" in line
    monkeypatch.setenv(settings.TOKEN_ENV, "s3cret")
    monkeypatch.setenv(settings.READ_ONLY_ENV, "1")
    line = launch.exposure_warning("0.0.0.0", 8502)
    assert "access token is required" in line and "read-only" in line and "s3cret" not in line


def test_main_warns_only_beyond_localhost(monkeypatch, capsys):
    from streamlit.web import cli as stcli

    seen = []
    monkeypatch.setenv(settings.WARMUP_ENV, "0")  # no warm-up thread; and the launcher's default stays out
    monkeypatch.setenv(settings.WORKER_ENV, "0")  # likewise
    monkeypatch.setattr(stcli, "main", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert launch.main([]) == 0
    assert capsys.readouterr().err == "" and option(seen[-1], "--server.address") == "127.0.0.1"
    assert launch.main(["--host", "0.0.0.0"]) == 0
    assert "warning: listening on 0.0.0.0:8501" in capsys.readouterr().err
    monkeypatch.setenv(settings.MAX_JOBS_ENV, "zero")
    assert launch.main([]) == 2 and "REPCAM_MAX_JOBS" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listeners(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6, hex little-endian)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                found.append(addr)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_real_launch_listens_on_loopback_only(tmp_path):
    port = _free_port()
    # from another directory, so the repo's .streamlit/config.toml cannot be what binds it
    env = {**os.environ, "REPCAM_WARMUP": "0", "REPCAM_CACHE": str(tmp_path / "cache")}  # no training here
    proc = subprocess.Popen([sys.executable, "-m", "repcam_app.launch", "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not _listeners(port):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the app did not listen within 60 s"
            time.sleep(0.2)
        assert _listeners(port) == ["0100007F"]  # 127.0.0.1, nothing on 0.0.0.0 or ::
    finally:
        stop(proc, 15)


def test_the_launcher_warms_up_from_the_servers_start_unless_told_not_to(monkeypatch):
    from streamlit.web import cli as stcli

    from repcam_app import warmup

    started = []
    monkeypatch.setattr(stcli, "main", lambda: 0)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(warmup, "start_when_serving", lambda url: started.append(url))
    for name in (settings.WARMUP_ENV, settings.WORKER_ENV):
        monkeypatch.setenv(name, "x")  # recorded, so the teardown removes what main() sets
        monkeypatch.delenv(name)
    assert launch.main(["--port", "8765"]) == 0
    assert started == ["http://127.0.0.1:8765"] and os.environ[settings.WARMUP_ENV] == "1"
    assert os.environ[settings.WORKER_ENV] == "1"  # and its jobs train in worker processes
    monkeypatch.setenv(settings.WARMUP_ENV, "0")
    assert launch.main(["--port", "8765"]) == 0 and len(started) == 1


# ---------------------------------------------------------------- from any folder, installed or not
ROOT = Path(__file__).resolve().parents[2]


def _app_folder(root: Path, config: str = "") -> Path:
    (root / ".streamlit").mkdir(parents=True)
    (root / ".streamlit" / "config.toml").write_text(config)
    (root / "app.py").write_text("")
    return root


def test_the_installed_copy_comes_first_then_the_checkout(tmp_path):
    installed, checkout = tmp_path / "site", _app_folder(tmp_path / "checkout")
    assert launch.find_app([installed, checkout]) == checkout / "app.py"
    _app_folder(installed)
    assert launch.find_app([installed, checkout]) == installed / "app.py"
    assert launch.find_app([tmp_path / "none"]) is None
    assert launch.find_app() == ROOT / "app.py"  # this checkout (no repcam_app/site/ in a checkout)


def test_without_the_app_the_launcher_names_where_it_looked(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(launch, "PACKAGED", tmp_path / "site")
    monkeypatch.setattr(launch, "CHECKOUT", tmp_path)
    assert launch.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("repcam-app: error: app.py is in neither")
    assert f"{tmp_path / 'site'} (an installed package)" in err and f"{tmp_path} (a source checkout)" in err


def test_the_apps_config_is_passed_unless_the_user_or_the_environment_set_it(tmp_path):
    app = _app_folder(tmp_path, '[server]\naddress = "0.0.0.0"\nheadless = true\nmaxUploadSize = 20\n'
                                '[theme]\nbase = "light"\nprimaryColor = "#d1495b"\n[theme.sidebar]\nbase = "dark"\n'
                                '[runner]\nmagicEnabled = false\n') / "app.py"
    argv = launch.streamlit_argv([], app, environ={})
    assert option(argv, "--server.headless") == "true" and option(argv, "--server.maxUploadSize") == "20"
    assert option(argv, "--theme.primaryColor") == "#d1495b" and option(argv, "--runner.magicEnabled") == "false"
    assert option(argv, "--theme.sidebar.base") == "dark"
    assert option(argv, "--server.address") == "127.0.0.1" and argv.count("--server.address") == 1  # --host's
    argv = launch.streamlit_argv(["--theme.base=dark", "--server.headless", "false"], app,
                                 environ={"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "50"})
    assert "--theme.base" not in argv and argv[-3:] == ["--theme.base=dark", "--server.headless", "false"]
    assert argv.count("--server.headless") == 1 and "--server.maxUploadSize" not in argv
    assert option(argv, "--theme.primaryColor") == "#d1495b"  # the rest still applies


def test_a_config_value_that_is_no_flag_is_refused(tmp_path):
    app = _app_folder(tmp_path, '[server]\ncorsAllowedOrigins = ["https://example.org"]\n') / "app.py"
    with pytest.raises(TypeError, match="server.corsAllowedOrigins: a list cannot be passed"):
        launch.streamlit_argv([], app, environ={})


def test_the_shipped_config_names_real_options_under_streamlits_own_variables():
    from streamlit import config

    known = config.get_config_options()
    options = launch.config_options(ROOT / launch.CONFIG)
    assert "server.headless" in options  # else the first launch outside a checkout asks for an e-mail
    for key in options:
        assert key in known, f"{key} is no Streamlit option"
        assert launch.env_var(key) == known[key].env_var


def test_nothing_in_the_app_imports_the_launcher():
    """The launcher is the top: it starts the warm-up, never the reverse (the warm-up's health
    check lives in repcam_app.serving), so there is no cycle even through function-local imports."""
    from import_graph import import_graph, modules

    graph = import_graph(modules())
    assert [m for m, targets in graph.items() if "repcam_app.launch" in targets and m != "repcam_app.launch"] == []
