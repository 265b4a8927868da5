#!/usr/bin/env bash
# Prove the release wheel that `make wheel` left in dist/ installs where users run:
# - it is abi3 and tagged manylinux2014 (manylinux_2_17_x86_64), auditwheel agrees, and its
#   native module needs no GLIBC symbol newer than 2.17 (Amazon Linux 2, Lambda, RHEL 8...);
# - it carries no symbol table and no debug info;
# - it installs and works in a clean venv on every Python from 3.9 to 3.13, and so does the
#   sdist, built from source;
# - `costline[openai]` / `costline[anthropic]` at the floor of each range (one venv each, on
#   the oldest Python that SDK supports) meter real SDK calls against the mock provider, and
#   all the extras resolve together.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=${PY:-.venv/bin/python}
MAX_GLIBC=2.17
# The Pythons requires-python promises; WHEEL_PYTHONS narrows the list on a machine that lacks one.
pythons=${WHEEL_PYTHONS:-"3.9 3.10 3.11 3.12 3.13"}
# The floors of pyproject.toml's extras, each on the oldest Python its SDK supports (anthropic
# 1.0 and later need 3.10); the newest versions are what the main suite runs.
floors=${WHEEL_FLOORS:-"3.9:openai==2.0.0 3.10:anthropic==2.0.0"}

out=$(mktemp -d)
mock_pid=
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$out"' EXIT
fail() { echo "check_wheel: $*" >&2; exit 1; }

shopt -s nullglob
wheels=(dist/costline-*.whl)
[ ${#wheels[@]} = 1 ] || fail "expected one wheel in dist/ (run make wheel), found ${#wheels[@]}"
wheel=${wheels[0]}
case "$wheel" in
  *-abi3-*) ;;
  *) fail "not an abi3 wheel: $wheel" ;;
esac
case "$wheel" in
  *manylinux2014_x86_64.manylinux_2_17_x86_64.whl | *manylinux_2_17_x86_64.manylinux2014_x86_64.whl) ;;
  *) fail "not tagged manylinux2014 (manylinux_2_17_x86_64): $(basename "$wheel")" ;;
esac

# auditwheel reads the ELF itself: the tag it derives must be the one on the file name.
audit=$(.venv/bin/auditwheel show "$wheel" | tr -s '[:space:]' ' ')
grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' <<<"$audit" \
  || fail "auditwheel does not place $(basename "$wheel") at manylinux_2_17: $audit"

mkdir "$out/unpacked"
"$PY" -m zipfile -e "$wheel" "$out/unpacked"
so=$(echo "$out"/unpacked/costline/_native*.so)
[ -f "$so" ] || fail "no costline/_native*.so in $(basename "$wheel")"
bash scripts/elf_portability.sh "$so" "$MAX_GLIBC"
echo "wheel: $(basename "$wheel") $(du -h "$wheel" | cut -f1)"

# Every Python the package declares, each in a clean venv holding only the wheel.
find_python() {
  local v=$1 p
  for p in "python$v" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
    if "$p" -c 'import sys; assert sys.version_info[:2] == tuple(map(int, sys.argv[1].split(".")))' "$v" 2>/dev/null; then
      command -v "$p"
      return
    fi
  done
  return 1
}
# A Python this machine lacks is named, not hidden; the machine's own python3 is required.
own=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
found=""
for v in $pythons; do
  if find_python "$v" >/dev/null; then
    found="$found $v"
  elif [ "$v" = "$own" ]; then
    fail "python$v (this machine's python3) not found"
  else
    echo "check_wheel: NOT TESTED on Python $v: no python$v on this machine (PATH or ~/.pyenv)" >&2
  fi
done
pythons=${found# }
[ -n "$pythons" ] || fail "none of the Pythons to test was found"
for v in $pythons; do
  interp=$(find_python "$v")
  "$interp" -m venv "$out/py$v"
  "$out/py$v/bin/pip" install -q --disable-pip-version-check --no-index "$wheel"
  (cd "$out" && COSTLINE_LEDGER="$out/py$v.db" "$out/py$v/bin/python" "$root/scripts/wheel_smoke.py" core)
done
COSTLINE_LEDGER="$out/py${pythons%% *}.db" "$out/py${pythons%% *}/bin/costline" report --by model

# The extras at their floors, against the mock provider.
"$PY" tests/mock_provider/server.py --port 0 >"$out/mock.txt" &
mock_pid=$!
for _ in $(seq 300); do grep -q MOCK_URL "$out/mock.txt" && break; sleep 0.1; done
export MOCK_URL=$(sed -n 's/^MOCK_URL=//p' "$out/mock.txt")
[ -n "$MOCK_URL" ] || fail "the mock provider did not start"
for floor in $floors; do
  v=${floor%%:*} pin=${floor#*:}
  sdk=${pin%%[=<>]*}
  env="$out/floor-$sdk"
  # On the oldest Python the SDK supports, or the oldest newer one this machine has.
  interp=$(find_python "$v") || interp=$(for w in $pythons; do [ "${w#3.}" -ge "${v#3.}" ] && find_python "$w" && break; done) \
    || fail "no Python >= $v for the $pin floor"
  "$interp" -m venv "$env"
  "$env/bin/pip" install -q --disable-pip-version-check "${wheel}[$sdk]" "$pin"
  (cd "$out" && COSTLINE_LEDGER="$env.db" "$env/bin/python" "$root/scripts/wheel_smoke.py" "$sdk")
done
# Every extra at once resolves to versions inside the declared ranges (google-genai 3.6
# needs Python 3.11, so this runs on the newest Python).
newest=${pythons##* }
all="openai,anthropic,google,mistral,bedrock"
"$out/py$newest/bin/pip" install -q --disable-pip-version-check --dry-run "${wheel}[$all]"
# The sdist still builds from source where a Rust toolchain exists (pip's isolated build takes
# maturin from PyPI). A dev-profile build in the repository's target/ (the one `make build`
# fills) keeps this cheap: it proves the sdist is complete; the optimised build is the wheel.
(cd python && ../.venv/bin/maturin sdist -o "$out/sdist" >"$out/sdist.log" 2>&1) || { cat "$out/sdist.log" >&2; fail "maturin sdist failed"; }
"$out/py$newest/bin/python" -m venv "$out/from-sdist"
CARGO_TARGET_DIR="$root/target" MATURIN_PEP517_ARGS="--profile dev" \
  "$out/from-sdist/bin/pip" install -q --disable-pip-version-check "$out"/sdist/costline-*.tar.gz
(cd "$out" && COSTLINE_LEDGER="$out/from-sdist.db" "$out/from-sdist/bin/python" "$root/scripts/wheel_smoke.py" core)
echo "wheel ok: $(basename "$wheel") on Python $pythons; extras at $floors; [$all] resolves"
