"""Which files the package carries; everything else about it is in pyproject.toml.

The Streamlit app keeps its files at the repository root, where ``streamlit run app.py``, the
AppTests and ``make app`` use them: ``app.py``, ``app_pages/``, ``.streamlit/config.toml`` and
``assets/logo.svg``. The package carries them in the folder ``repcam_app/site/`` (``package_dir``
maps the root, ``app_pages/`` and ``assets/`` there), where ``repcam-app`` finds them from any working
directory (``repcam_app.launch.find_app``). pyproject.toml takes ``package-dir`` only beside an
explicit list of packages, not beside the ones ``find`` discovers (as ``repcam_core``'s are, so
that a new subpackage needs no entry here), hence this file.
"""

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

SITE = "repcam_app.site"


class BuildPy(build_py):
    """Of the root's modules the package carries ``app.py`` alone (not this file)."""

    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        found = super().find_package_modules(package, package_dir)
        return [m for m in found if package != SITE or m[1] == "app"]


setup(
    packages=[*find_namespace_packages(include=["repcam_core*", "repcam_app*"], exclude=["*__pycache__*"]),
              SITE, f"{SITE}.app_pages", f"{SITE}.assets"],
    package_dir={SITE: ".", f"{SITE}.app_pages": "app_pages", f"{SITE}.assets": "assets"},
    package_data={
        # the shipped default model, B and clusters (repcam prebuilt build; see repcam_core/running/prebuilt)
        "repcam_core": ["running/prebuilt/embedded-default/*.json", "running/prebuilt/embedded-default/*/*"],
        SITE: [".streamlit/config.toml"],
        f"{SITE}.assets": ["logo.svg"],  # the README's figures stay out
    },
    cmdclass={"build_py": BuildPy},
)
