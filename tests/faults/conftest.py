"""Fixtures of the fault-injection tests; the helpers live in ``faultkit.py`` (a unique module name:
two ``conftest`` modules on ``sys.path`` made ``from conftest import ...`` pick the wrong one)."""

from faultkit import fault_config, reference  # noqa: F401  (fixtures)
