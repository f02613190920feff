"""``python -m sanic_jwt_extended``: the command line (see ``cli.py``)."""

from __future__ import annotations

from .cli import main

__all__ = ("main",)

if __name__ == "__main__":
    raise SystemExit(main())
