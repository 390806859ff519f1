#!/usr/bin/env python3
"""`bench/run.py [flags]`: the same as `python -m bench [flags]`, from any working directory."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.__main__ import main

    sys.exit(main())
