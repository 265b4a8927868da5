"""Build core/data/quality.json from scripts/quality_sources.csv.

Each row of the CSV is one model's score on one public benchmark, copied by hand from the
source it names (a URL that was read) with that source's date. This script only checks the
rows and writes the JSON the core embeds; it never fetches anything. See docs/routing.md.

    python scripts/build_quality.py            # rewrite core/data/quality.json
    python scripts/build_quality.py --check    # fail if the JSON is not what the CSV gives
"""

import csv
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "quality_sources.csv"
TARGET = ROOT / "core" / "data" / "quality.json"

BENCHMARK = "MMLU-Pro overall accuracy (5-shot chain of thought), in percent, as published by its authors (TIGER-Lab)"
RETRIEVED = "2026-12-01"


def build() -> str:
    models = []
    with SOURCES.open(newline="") as f:
        for row in csv.DictReader(f):
            score = float(row["score"])
            if not 0 <= score <= 100:
                raise SystemExit(f"{row['model']}: score {score} is not a percentage")
            if not row["source"].startswith("https://"):
                raise SystemExit(f"{row['model']}: every score needs its source URL")
            if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", row["source_date"]):
                raise SystemExit(f"{row['model']}: source_date must be YYYY-MM or YYYY-MM-DD")
            models.append(
                {
                    "model": row["model"],
                    "provider": row["provider"],
                    "score": score,
                    "benchmark_label": row["benchmark_label"],
                    "source": row["source"],
                    "source_date": row["source_date"],
                }
            )
    table = {"benchmark": BENCHMARK, "retrieved": RETRIEVED, "models": models}
    return json.dumps(table, indent=2) + "\n"


def main() -> None:
    text = build()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            raise SystemExit(f"{TARGET} is stale: run python scripts/build_quality.py")
        return
    TARGET.write_text(text)


if __name__ == "__main__":
    main()
