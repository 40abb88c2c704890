"""The script an analyst would write: read both files as text, merge on the line number, count
codes, write the merged CSV. Run as its own process by ``run.py``.

    python benchmarks/baseline.py SENT RESULTS OUT
    python benchmarks/baseline.py SENT RESULTS OUT --updates UPDATES SUBMITTED
    python benchmarks/baseline.py SENT RESULTS OUT --earlier EARLIER_SENT EARLIER_RESULTS

With ``--updates`` or ``--earlier`` it is the script an analyst would write for the same job as
a capability of reconciler, for a comparison with a script doing that job too (``run.py``'s
"same job" lines, ``pairs.py --same-job``): the merge, then

- ``--updates``: the platform's latest change of each record's action after the submission
  (the record's ActionId, else its Oid), and whether it shows the amount asked for
  (``Confirmed``: ``confirmed``, ``differs`` or ``not_in_updates``);
- ``--earlier``: the batch sent before, merged with its results the same way, and each
  record's outcome there (its ActionId, else its Oid and ActionTrackerId): ``Attempt`` and
  ``PreviousOutcome``.

Both are what a careful analyst writes in an afternoon, not what reconciler does: no
``changed_since``, no ambiguous Oid, no spoiled IDs (README, Performance)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

import pandas as pd

Engine = Literal["c", "pyarrow"]


def _engine() -> Engine:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return "c"
    return "pyarrow"


def _read(path: str, engine: Engine) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, engine=engine)


def _merged(sent_path: str, results_path: str, engine: Engine) -> pd.DataFrame:
    sent = _read(sent_path, engine)
    results = _read(results_path, engine)
    sent["Line"] = (sent.index + 2).astype(str)
    return sent.merge(results, on="Line", how="left")


def main(sent_path: str, results_path: str, out_path: str) -> None:
    merged = _merged(sent_path, results_path, _engine())
    counts = merged["Message"].value_counts()
    print(counts.to_string())
    merged.to_csv(Path(out_path), index=False)


def _key(frame: pd.DataFrame) -> pd.Series:
    """Each row's action: its ActionId, else its Oid (with its ActionTrackerId when given)."""
    order = "oid:" + frame["Oid"]
    if "ActionTrackerId" in frame.columns:
        order = order + "|" + frame["ActionTrackerId"]
    return frame["ActionId"].where(frame["ActionId"] != "", order)


def with_updates(
    sent_path: str, results_path: str, out_path: str, updates_path: str, submitted: str
) -> None:
    engine = _engine()
    merged = _merged(sent_path, results_path, engine)
    updates = _read(updates_path, engine)
    updates["UpdateDate"] = pd.to_datetime(updates["UpdateDate"], utc=True, errors="coerce")
    after = updates[updates["UpdateDate"] >= pd.Timestamp(submitted)]
    latest = after.sort_values("UpdateDate", kind="stable")
    shown = ["State", "Amount"]
    by_action = latest.drop_duplicates("ActionId", keep="last").set_index("ActionId")[shown]
    orders = latest[latest["Oid"] != ""].drop_duplicates("Oid", keep="last")
    by_order = orders.set_index("oid:" + orders["Oid"])[shown]
    platform = pd.concat([by_action, by_order]).add_prefix("Platform")
    merged["Key"] = merged["ActionId"].where(merged["ActionId"] != "", "oid:" + merged["Oid"])
    merged = merged.join(platform, on="Key").drop(columns="Key")
    asked = pd.to_numeric(merged["Amount"], errors="coerce")
    now = pd.to_numeric(merged["PlatformAmount"], errors="coerce")
    merged["Confirmed"] = "differs"
    merged.loc[(asked - now).abs() < 0.005, "Confirmed"] = "confirmed"
    merged.loc[merged["PlatformState"].isna(), "Confirmed"] = "not_in_updates"
    print(merged["Message"].value_counts().to_string())
    print(merged["Confirmed"].value_counts().to_string())
    merged.to_csv(Path(out_path), index=False)


def with_earlier(
    sent_path: str, results_path: str, out_path: str, earlier_sent: str, earlier_results: str
) -> None:
    engine = _engine()
    merged = _merged(sent_path, results_path, engine)
    before = _merged(earlier_sent, earlier_results, engine)
    outcome = before["Message"].where(before["Message"] != "", "accepted").fillna("accepted")
    earlier = pd.DataFrame({"Key": _key(before), "PreviousOutcome": outcome})
    earlier = earlier.drop_duplicates("Key", keep="last")
    merged["Key"] = _key(merged)
    merged = merged.merge(earlier, on="Key", how="left")
    merged["Attempt"] = merged["PreviousOutcome"].notna().astype(int) + 1
    print(merged["Message"].value_counts().to_string())
    print(merged["PreviousOutcome"].value_counts().to_string())
    merged.drop(columns="Key").to_csv(Path(out_path), index=False)


if __name__ == "__main__":
    given = sys.argv[1:]
    if len(given) == 6 and given[3] == "--updates":
        with_updates(given[0], given[1], given[2], given[4], given[5])
    elif len(given) == 6 and given[3] == "--earlier":
        with_earlier(given[0], given[1], given[2], given[4], given[5])
    elif len(given) == 3:
        main(given[0], given[1], given[2])
    else:
        sys.exit(__doc__.split("\n\n")[1])
