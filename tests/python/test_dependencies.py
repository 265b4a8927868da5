"""Every third-party module the tests, examples and benches import is declared in
requirements-dev.txt, so a fresh `make test` installs it."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The repository's own modules, importable from python/ and tests/.
LOCAL = {"costline", "costline_fixtures", "budget_support", "mock_helpers", "mock_provider", "conftest", "bench_python"}
LOCAL |= {"routing_support"}  # the routed client's test material
LOCAL |= {"fallback_support"}  # the fallback tests' material
LOCAL |= {"fallback_targets"}  # the fallback bench's in-process fakes (benches/fallback_targets.py)
# Optional: imported inside a try, only to compare against (benches/bench_python.py).
OPTIONAL = {"litellm"}
# Import names that differ from the distribution's name.
DISTRIBUTION = {"google": "google_genai"}


def is_stdlib(name: str) -> bool:
    if hasattr(sys, "stdlib_module_names"):  # Python 3.10+
        return name in sys.stdlib_module_names
    spec = importlib.util.find_spec(name)
    origin = (spec and spec.origin) or ""
    stdlib = sysconfig.get_paths()["stdlib"]
    return origin in ("built-in", "frozen") or (origin.startswith(stdlib) and "site-packages" not in origin)


def declared() -> set[str]:
    names = set()
    for line in (REPO / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("-", "_"))
    return names


def imported() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for folder in ("tests", "examples", "benches"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    found.setdefault(module.split(".")[0], set()).add(str(path.relative_to(REPO)))
    return found


def test_every_imported_third_party_module_is_declared():
    third_party = {
        name: where for name, where in imported().items() if not is_stdlib(name) and name not in LOCAL | OPTIONAL
    }
    assert third_party, "the scan found no imports at all"
    missing = {
        name: sorted(where)
        for name, where in third_party.items()
        if DISTRIBUTION.get(name, name).lower() not in declared()
    }
    assert not missing, f"imported but not in requirements-dev.txt: {missing}"
