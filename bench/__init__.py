"""RepCAM's benchmark suite: ``python -m bench [NAME ...] [--smoke] [--write-md PATH]``.

Not part of the installed package and not run in CI (only ``--smoke``, via
``tests/bench/test_smoke.py``). Every figure is a ratio against a reference timed in the same run.
"""
