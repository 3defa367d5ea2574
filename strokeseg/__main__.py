"""Allow ``python -m strokeseg``."""

from __future__ import annotations

from strokeseg.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
