"""The `costline` command: `report`, `export`, `prices` (logic in the core)."""

from __future__ import annotations

import sys
from typing import List, Optional

from . import _native


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    code = _native.cli_main(args)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
