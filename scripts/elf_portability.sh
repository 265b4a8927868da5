#!/usr/bin/env bash
# elf_portability.sh FILE [MAX_GLIBC]: fail unless the shared object FILE needs no GLIBC_
# symbol version newer than MAX_GLIBC (default 2.17, manylinux2014's floor) and carries no
# symbol table or debug info; print its size and newest GLIBC_ version. Used on the wheel's
# native module (check_wheel.sh) and the npm tarball's addon (check_npm_pack.sh).
set -euo pipefail
file=$1 max=${2:-2.17}
command -v objdump >/dev/null && command -v readelf >/dev/null || { echo "objdump/readelf missing: install binutils" >&2; exit 1; }
newest=$(objdump -T "$file" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -1)
if [ "$(printf '%s\n' "$newest" "$max" | sort -V | tail -1)" != "$max" ]; then
  echo "$(basename "$file") needs GLIBC_$newest, newer than $max:" >&2
  objdump -T "$file" | grep -E "GLIBC_$newest" | head -5 >&2
  exit 1
fi
if readelf -S -W "$file" | grep -qE '\.debug_|\.symtab'; then
  echo "$(basename "$file") is not stripped (symbol table or debug info left in)" >&2
  exit 1
fi
echo "$(basename "$file"): $(du -h "$file" | cut -f1), newest GLIBC_${newest:-none} (<= $max), stripped"
