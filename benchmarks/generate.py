"""Synthetic benchmark data: a sent modification file and its View Errors export.

About 30% of records carry errors with mixed codes (fixable and terminal), in the proportions a
returns-season file might show. Deterministic for a given size and seed.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

REVERSAL_REASONS = ["ITEM_RETURNED", "CONS_FRAUD", "ORDER_ERROR", "CONS_ERROR", "TEST_ACTION"]
CHANGE_REASONS = ["ORDER_UPDATE", "ORDER_UPDATE", "ORDER_UPDATE", "ITEM_RETURNED"]
# code, weight, how the sent row looks for it
CODES = [
    ("ALREADY_LOCKED", 30, None),
    ("NO_CHANGE", 20, None),
    ("BAD_DISPOSITION", 15, "reason"),
    ("ACTION_NOT_FOUND", 10, None),
    ("ALREADY_REVERSED", 10, None),
    ("MALFORMED", 8, "amount"),
    ("ALREADY_APPROVED", 5, None),
    ("CONTRACT_NOT_FOUND", 2, None),
]


def _rows(n: int, seed: int) -> Iterator[tuple[int, str, str, str, str, bool]]:
    """Per record: its line, its sent row, its results row ("" when no error), the action it
    names, its amount as sent and whether it is a reversal."""
    rng = random.Random(seed)
    population = [c for c, w, _ in CODES for _ in range(w)]
    looks = {c: how for c, _, how in CODES}
    for i in range(n):
        line = i + 2
        error = rng.random() < 0.30
        code = rng.choice(population) if error else ""
        reversal = rng.random() < 0.3
        amount = "0" if reversal else f"{rng.randint(100, 50000) / 100:.2f}"
        # Reversals carry a return/fraud reason and no CustomerStatus; changes mostly
        # ORDER_UPDATE, sometimes a partial return.
        reason = rng.choice(REVERSAL_REASONS) if reversal else rng.choice(CHANGE_REASONS)
        if looks.get(code) == "reason":
            reason = rng.choice(["item returned", "Returned", "ITEM-RETURNED", "cons fraud"])
        if looks.get(code) == "amount":
            amount = rng.choice(["$1,299.00", "19,99", "1.234", "EUR 45,00"])
        status = "" if reversal else rng.choice(["", "", "", "NEW", "EXISTING"])
        currency = "USD" if amount != "0" else ""
        shown = f'"{amount}"' if "," in amount else amount
        if i % 2:
            oid = f"{4051234567890000000 + i}" if i % 3 else f"{i:012d}"
            row = f",{oid},16027,{shown},{currency},{status},{reason}\n"
            ids = (oid, "16027")
            action = f"1000.4637.{158133 + i}"
        else:
            action = f"1000.4636.{158133 + i}"
            row = f"{action},,,{shown},{currency},{status},{reason}\n"
            ids = ("", "")
        result = ""
        if error:
            kind = "Contract Error" if code == "CONTRACT_NOT_FOUND" else "Validation"
            result = f"{line},{ids[0]},{ids[1]},{kind},{code}\n"
        oid_of = ids[0]
        yield line, row, result, f"{action}|{oid_of}", amount, reversal


def generate(n: int, folder: Path, seed: int = 7) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sent = folder / f"sent_{n}.csv"
    results = folder / f"results_{n}.csv"
    with (
        sent.open("w", encoding="utf-8", newline="") as fs,
        results.open("w", encoding="utf-8", newline="") as fr,
    ):
        fs.write("ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n")
        fr.write("Line,Order Id,Action Tracker Id,Error Type,Message\n")
        for _line, row, result, _action, _amount, _reversal in _rows(n, seed):
            fs.write(row)
            if result:
                fr.write(result)
    return sent, results


def split_results(results: Path, parts: int) -> list[Path]:
    """``results`` as ``parts`` files of consecutive rows, each with the header: the pages of
    one export (several results files of one submission)."""
    with results.open(encoding="utf-8", newline="") as handle:
        header, *rows = handle.readlines()
    size = -(-len(rows) // parts) if rows else 0
    paths = []
    for k in range(parts):
        path = results.with_name(f"{results.stem}_part{k + 1}of{parts}.csv")
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write(header)
            out.writelines(rows[k * size : (k + 1) * size])
        paths.append(path)
    return paths


SUBMITTED = "2026-11-01T12:00:00Z"  # when the generated batch was submitted (--submitted)


def generate_updates(n: int, folder: Path, seed: int = 7) -> Path:
    """An ActionUpdates CSV export with a change per record of ``generate``'s file: mostly
    the change asked for after the submission; some another amount, some only a change from
    before it; each action's ``Amount`` after the change given. A feed lists every change of
    an action, so a third of the orders changed as asked were approved after (a second
    change: state APPROVED, no amount moved)."""
    rng = random.Random(seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"updates_{n}.csv"
    with path.open("w", encoding="utf-8", newline="") as fu:
        fu.write("Id,ActionId,Oid,CampaignId,State,Disposition,DeltaAmount,Amount,UpdateDate\n")
        for _line, _row, _result, action, amount, reversal in _rows(n, seed):
            action_id, oid = action.split("|")
            roll = rng.random()
            when = "2026-11-02T09:00:00Z" if roll < 0.9 else "2026-10-20T09:00:00Z"
            try:
                total = 0.0 if reversal else float(amount)
            except ValueError:
                total = 10.0
            if 0.85 <= roll < 0.9:
                total += 5.0  # another amount than asked
            state = "REVERSED" if reversal and roll < 0.85 else "PENDING"
            fu.write(
                f"{action_id}.2,{action_id},{oid},1000,{state},ORDER_UPDATE,-5.00,"
                f"{total:.2f},{when}\n"
            )
            if not reversal and roll < 0.85 and rng.random() < 1 / 3:
                fu.write(
                    f"{action_id}.3,{action_id},{oid},1000,APPROVED,ORDER_UPDATE,0.00,"
                    f"{total:.2f},2026-11-20T09:00:00Z\n"
                )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("records", type=int)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    sent, results = generate(args.records, args.out)
    print(sent, results)


if __name__ == "__main__":
    main()
