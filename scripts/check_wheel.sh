#!/usr/bin/env bash
# Build the abi3 wheel and prove it installs and works in a clean venv with
# nothing else in it (no provider SDKs, no build tools).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd python && ../.venv/bin/maturin build -q -o "$out/dist" ${WHEEL_PROFILE:-})
wheel=$(ls "$out"/dist/costline-*.whl)
case "$wheel" in *abi3*) ;; *) echo "not an abi3 wheel: $wheel" >&2; exit 1 ;; esac
python3 -m venv "$out/venv"
"$out/venv/bin/pip" install -q --no-index "$wheel"
COSTLINE_LEDGER="$out/ledger.db" "$out/venv/bin/python" - <<'PY'
from decimal import Decimal
import costline
assert costline.cost("gpt-4o", input_tokens=1000, output_tokens=500, cached_input_tokens=200) == Decimal("0.00725")
assert costline.count_tokens("hello world", "gpt-4o") == 2
costline.track(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=5)
assert costline.flush(10)
PY
COSTLINE_LEDGER="$out/ledger.db" "$out/venv/bin/costline" report --by model
echo "wheel ok: $(basename "$wheel")"
