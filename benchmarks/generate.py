"""Synthetic benchmark data: a sent modification file and its View Errors export.

About 30% of records carry errors with mixed codes (fixable and terminal), in the proportions a
returns-season file might show. Deterministic for a given size and seed.
"""

from __future__ import annotations

import argparse
import random
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


def generate(n: int, folder: Path, seed: int = 7) -> tuple[Path, Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sent = folder / f"sent_{n}.csv"
    results = folder / f"results_{n}.csv"
    population = [c for c, w, _ in CODES for _ in range(w)]
    looks = {c: how for c, _, how in CODES}
    with (
        sent.open("w", encoding="utf-8", newline="") as fs,
        results.open("w", encoding="utf-8", newline="") as fr,
    ):
        fs.write("ActionId,Oid,ActionTrackerId,Amount,CurrencyCode,CustomerStatus,Reason\n")
        fr.write("Line,Order Id,Action Tracker Id,Error Type,Message\n")
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
            if "," in amount:
                amount = f'"{amount}"'
            if i % 2:
                oid = f"{4051234567890000000 + i}" if i % 3 else f"{i:012d}"
                fs.write(f",{oid},16027,{amount},{currency},{status},{reason}\n")
                ids = (oid, "16027")
            else:
                fs.write(f"1000.4636.{158133 + i},,,{amount},{currency},{status},{reason}\n")
                ids = ("", "")
            if error:
                kind = "Contract Error" if code == "CONTRACT_NOT_FOUND" else "Validation"
                fr.write(f"{line},{ids[0]},{ids[1]},{kind},{code}\n")
    return sent, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("records", type=int)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    sent, results = generate(args.records, args.out)
    print(sent, results)


if __name__ == "__main__":
    main()
