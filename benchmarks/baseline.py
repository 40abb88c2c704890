"""The script an analyst would write: read both files as text, merge on the line number, count
codes, write the merged CSV. Run as its own process by ``run.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(sent_path: str, results_path: str, out_path: str) -> None:
    try:
        import pyarrow  # noqa: F401

        engine = "pyarrow"
    except ImportError:
        engine = "c"
    sent = pd.read_csv(sent_path, dtype=str, keep_default_na=False, engine=engine)
    results = pd.read_csv(results_path, dtype=str, keep_default_na=False, engine=engine)
    sent["Line"] = (sent.index + 2).astype(str)
    merged = sent.merge(results, on="Line", how="left")
    counts = merged["Message"].value_counts()
    print(counts.to_string())
    merged.to_csv(Path(out_path), index=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
