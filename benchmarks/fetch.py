"""Benchmark: ``reconciler fetch`` of a batch whose errors span many pages, against a local
HTTP server that serves the Brand API's response shapes (nothing leaves the machine).

    python benchmarks/fetch.py                # 10 pages of 1,000 errors, 5 runs
    python benchmarks/fetch.py --pages 50 --rows 200 --latency 0.05

Each run is a fresh ``python -m reconciler fetch`` process. Prints the requests the server
answered per run and the median wall time; ``--latency`` adds a delay to every answer, as a
real API's round trip would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SID = "IRbenchAccount0000000000000000001"
BATCH = "F-00000000-0000-4000-8000-000000000010"
BASE = f"/Advertisers/{SID}/FTPFileSubmissions/{BATCH}"


def _pages(pages: int, rows: int) -> list[bytes]:
    out = []
    for page in range(1, pages + 1):
        errors = [
            {
                "Line": str((page - 1) * rows + i + 2),
                "CampaignId": "1000",
                "ActionTrackerId": "16027",
                "OrderId": f"ORD-{(page - 1) * rows + i:07d}",
                "Sku": "",
                "Status": "Validation",
                "Reason": "ALREADY_LOCKED",
                "Uri": f"{BASE}/ErrorDetails/{(page - 1) * rows + i}",
            }
            for i in range(rows)
        ]
        following = f"{BASE}/ErrorDetails?PageSize={rows}&Page={page + 1}" if page < pages else ""
        body = {
            "@page": str(page),
            "@numpages": str(pages),
            "@pagesize": str(rows),
            "@total": str(pages * rows),
            "@nextpageuri": following,
            "ErrorDetail": errors,
        }
        out.append(json.dumps(body).encode())
    return out


def serve(pages: int, rows: int, latency: float) -> tuple[ThreadingHTTPServer, list[int]]:
    bodies = _pages(pages, rows)
    head = json.dumps(
        {
            "BatchId": BATCH,
            "FileName": "bench.csv",
            "Type": "Modification",
            "Status": "Complete",
            "TotalRecords": str(pages * rows * 2),
            "TotalErrors": str(pages * rows),
        }
    ).encode()
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            count[0] += 1
            if latency:
                time.sleep(latency)
            parts = urlsplit(self.path)
            if parts.path == BASE:
                body = head
            elif parts.path == f"{BASE}/ErrorDetails":
                page = int(parse_qs(parts.query).get("Page", ["1"])[0])
                body = bodies[page - 1]
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server, count = serve(args.pages, args.rows, args.latency)
    env = dict(os.environ)
    env.update(
        RECONCILER_IMPACT_API=f"http://127.0.0.1:{server.server_address[1]}",
        IMPACT_ACCOUNT_SID=SID,
        IMPACT_AUTH_TOKEN="bench-token",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    times: list[float] = []
    requests: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            before = count[0]
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "reconciler", "fetch", BATCH, "--out",
                 str(Path(tmp) / f"run{run}"), "--quiet"],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            times.append(time.perf_counter() - started)
            requests.append(count[0] - before)
            if done.returncode != 0:
                sys.exit(f"fetch failed: {done.stderr.strip()}")
    server.shutdown()
    print(
        f"fetch of {args.pages} pages x {args.rows:,} errors (latency {args.latency:g} s): "
        f"{requests[0]} requests a run, median {statistics.median(times):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f}) over {args.repeat} runs"
    )


if __name__ == "__main__":
    main()
