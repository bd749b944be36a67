"""The app's configuration file (``$REPCAM_APP_CONFIG``) is read again once it is edited."""

from __future__ import annotations

import json
import os

from repcam_app import resources


def test_an_edited_app_configuration_file_is_read_again(tmp_path, monkeypatch):
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"preset": "embedded", "seed": 3}))
    monkeypatch.setenv(resources.CONFIG_ENV, str(path))
    resources._read_app_file.clear()
    assert resources.base_config().seed == 3
    path.write_text(json.dumps({"preset": "embedded", "seed": 4}))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a later edit, whatever the clock
    assert resources.base_config().seed == 4
    resources._read_app_file.clear()
