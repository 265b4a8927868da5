#!/usr/bin/env python3
"""Regenerate costline's compact BPE rank tables from tiktoken-rs's vocabularies.

tiktoken-rs embeds OpenAI's vocabularies as base64 text (`<base64 token> <rank>` per line);
turning 200k such lines into a hash map is most of the 300 ms its o200k encoder takes to
build. costline instead embeds the same vocabularies pre-decoded, so building an encoder is
one pass over a byte blob (see core/src/tokens/vocab.rs).

Table format (all integers little-endian):
    u32            number of tokens N; token i has rank i (ranks are dense from 0)
    N x u8         byte length of each token, in rank order (no token is longer than 255)
    bytes          the tokens' bytes concatenated in rank order

The source files are found through `cargo metadata`, so the tables always come from the
tiktoken-rs version in Cargo.lock. `cargo test -p costline-core` checks that the committed
tables equal the stock tiktoken-rs encoders rank for rank; rerun this script after upgrading
tiktoken-rs:

    python3 scripts/gen_token_tables.py
"""

import base64
import json
import pathlib
import struct
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "core" / "src" / "tokens" / "data"
ENCODINGS = ["o200k_base", "cl100k_base"]


def tiktoken_rs_assets() -> pathlib.Path:
    metadata = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            cwd=ROOT,
        )
    )
    for package in metadata["packages"]:
        if package["name"] == "tiktoken-rs":
            return pathlib.Path(package["manifest_path"]).parent / "assets"
    sys.exit("tiktoken-rs is not in the dependency graph")


def read_vocabulary(path: pathlib.Path) -> list:
    tokens = []
    for number, line in enumerate(path.read_bytes().splitlines()):
        encoded, rank = line.split()
        if int(rank) != number:
            sys.exit(f"{path}: line {number} has rank {int(rank)}; expected dense ranks")
        tokens.append(base64.b64decode(encoded))
    return tokens


def write_table(tokens: list, out: pathlib.Path) -> None:
    longest = max(len(t) for t in tokens)
    if longest > 255:
        sys.exit(f"a token of {longest} bytes does not fit the one-byte length field")
    data = struct.pack("<I", len(tokens)) + bytes(len(t) for t in tokens) + b"".join(tokens)
    out.write_bytes(data)
    print(f"{out.relative_to(ROOT)}: {len(tokens)} tokens, {len(data)} bytes")


def main() -> None:
    assets = tiktoken_rs_assets()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in ENCODINGS:
        write_table(read_vocabulary(assets / f"{name}.tiktoken"), OUT_DIR / f"{name}.ranks")


if __name__ == "__main__":
    main()
