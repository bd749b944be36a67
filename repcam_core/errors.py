"""Exceptions raised at RepCAM's public boundary.

Every error a user can cause derives from :class:`RepCAMError`; the CLI prints its message
on one line and exits non-zero, the app shows it in the page. Tests match on the messages.
"""

from __future__ import annotations


class RepCAMError(Exception):
    """Base class of every error RepCAM raises on purpose."""


class DatasetError(RepCAMError):
    """A dataset directory is missing, not in the expected layout, or unusable."""


class UnknownNameError(RepCAMError, KeyError):
    """A name (backbone, CAM method, mode, selection rule) is not in its registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigError(RepCAMError, ValueError):
    """A configuration value is out of range (k, N, minimum cluster size, threshold...)."""


class ModeRefused(ConfigError):
    """A mode that cannot run on this dataset (too few classes, no calibration split); the message
    names the mode and why, in one line (:mod:`repcam_core.method.feasibility`)."""


class WeightsNotFoundError(RepCAMError):
    """Pretrained weights were asked for but are not in the local torch cache."""


class WeightsFileError(WeightsNotFoundError):
    """A pretrained weights file is there but unusable: truncated, not a state dict, or another
    model's weights (keys or shapes that do not match). The message names the file."""


class CacheVersionError(RepCAMError):
    """An artifact in the cache was written by an incompatible RepCAM version."""


class ImageError(RepCAMError):
    """An image (upload or dataset file) cannot be decoded or is too large."""


class CacheWriteError(RepCAMError):
    """The cache directory cannot be written (read-only, full disk, no permission); what it
    already holds is left intact and a later run resumes."""


class IntegrityWarning(UserWarning):
    """A damaged artifact was found, moved aside and is being recomputed."""
