"""The preset chosen on the Home page -> the configuration every page uses.

The app starts from its base configuration (``$REPCAM_APP_CONFIG``, else the embedded default),
whose ``preset`` is the Home page's default choice. Keeping that preset keeps every setting of the
base; choosing another one starts from :func:`repcam_core.running.config.preset_config` of it (``photos``:
EfficientNet-Lite0 with its ImageNet weights, 224 px crops, the paper's binary stopping rule; see
docs/real-data.md, "EfficientNet-Lite0 and the photos preset"). The dataset, backbone, device and
clustering algorithm chosen on the pages are set on top either way. No Streamlit here: the pages
and :mod:`repcam_app.resources` call these with session values.
"""

from __future__ import annotations

from repcam_core.running.config import PRESETS, RunConfig, preset_config
from repcam_core.data.sources import default_eval_split

__all__ = ["PRESETS", "app_config", "preset_start", "summary"]


def preset_start(base: RunConfig, preset: str) -> RunConfig:
    """The configuration a choice of ``preset`` starts from: ``base`` itself when it is ``base``'s
    own preset, else the preset's (ConfigError for an unknown name)."""
    return base if preset == base.preset else preset_config(preset)


def app_config(base: RunConfig, preset: str, dataset: str, backbone: str, device: str,
               clustering: str | None = None) -> RunConfig:
    """The pages' configuration: ``preset``'s start (:func:`preset_start`) on ``dataset`` with
    ``backbone``, ``device`` and ``clustering`` (None: the start's).

    An evaluation split that was the start dataset's default (``val``, which the Pet layout names
    ``test``) is the new dataset's default, so a base on ``pets:`` can open a VOC directory."""
    start = preset_start(base, preset)
    eval_split = "val" if start.eval_split == default_eval_split(start.dataset, "val") else start.eval_split
    return start.with_(dataset=dataset, eval_split=eval_split, backbone=backbone, device=device,
                       clustering=clustering or start.clustering)


def summary(config: RunConfig) -> str:
    """One line on what ``config`` trains: backbone, initialisation, crop size, epochs."""
    t = config.train
    init = {"imagenet": "from ImageNet", "scratch": "from scratch"}.get(t.multiclass_init, t.multiclass_init)
    binary = {"imagenet": "from ImageNet", "multiclass": "from the multi-class model",
              "scratch": "from scratch"}.get(t.binary_init, t.binary_init)
    sim = f", B from {config.similarity_backbone}" if config.similarity_backbone else ""
    return (f"{config.backbone} {init}, {config.image_size} px crops, multi-class model {t.epochs} epoch(s) at lr "
            f"{t.lr:g}, binary models {binary} (at most {t.binary_max_epochs} epoch(s)){sim}")
