"""``repcam-app``: start the Streamlit app (same as ``streamlit run app.py`` from the repo root)."""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    app = Path(__file__).resolve().parents[1] / "app.py"
    if not app.is_file():
        print(f"repcam-app: error: {app} not found (run from a source checkout)", file=sys.stderr)
        return 2
    from streamlit.web import cli as stcli

    sys.argv = ["streamlit", "run", str(app), *sys.argv[1:]]
    return int(stcli.main() or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
