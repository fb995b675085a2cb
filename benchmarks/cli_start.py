"""How fast `onboard` starts: each command run cold in a fresh interpreter, as an operator
runs it, on a small demo database. Wall time (median of the runs) and the child's peak
RSS, beside issue 16's targets. A run counts only if its output is that command's answer
(the help lists every command, `orders show` shows the order, `match` ranks it); the
benchmark fails loudly otherwise.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import SCRATCH, fresh_sqlite, print_table
from provisioning.cli.app import COMMANDS

ONBOARD = str(Path(sys.executable).with_name("onboard"))
RUNS = 5


# The command as the `onboard` script runs it, reporting its own peak RSS (VmHWM: the
# high-water mark of this process image, which a fork of the big benchmark process would
# otherwise inflate) on the last line of stderr.
_LAUNCH = """
import atexit, sys
def peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    sys.stderr.write(f"\\npeak-kib {kib}\\n")
atexit.register(peak)
from provisioning.cli import main
sys.argv = ["onboard", *sys.argv[1:]]
main()
"""


def _measured(args: list[str], env: dict[str, str], shows: list[str]) -> dict[str, Any]:
    seconds, peaks = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCH, *args], env=env, capture_output=True, text=True
        )
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"onboard {' '.join(args)}: {done.stderr.strip()[:300]}")
        peaks.append(int(done.stderr.strip().splitlines()[-1].split()[1]) / 1024)
        missing = [text for text in shows if text not in done.stdout]
        if missing:
            raise RuntimeError(
                f"onboard {' '.join(args)} did not show {missing}: {done.stdout[:300]}"
            )
    return {"seconds": statistics.median(seconds), "peak_mib": max(peaks)}


def run() -> None:
    url = fresh_sqlite("cli-start")
    env = {**os.environ, "ONBOARD_DATABASE_URL": url, "ONBOARD_ACTOR": "bench@example.com"}
    SCRATCH.mkdir(parents=True, exist_ok=True)
    subprocess.run([ONBOARD, "demo", "--orgs", "300"], env=env, check=True, capture_output=True)
    listed = subprocess.run(
        [ONBOARD, "orders", "list", "--format", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    orders = json.loads(listed)
    rows = orders["orders"] if isinstance(orders, dict) else orders
    waiting = [r["order_id"] for r in rows if r.get("state") == "awaiting_org"]
    if not waiting:
        raise RuntimeError("the demo has no order awaiting its org to match")
    order_id = waiting[0]
    cases = [
        (["--help"], list(COMMANDS), 0.3, 60.0),
        (["orders", "show", order_id], [order_id], 0.8, None),
        (["match", "--order", order_id], [order_id], 1.5, None),
    ]
    table = []
    for args, shows, target_s, target_mib in cases:
        measured = _measured(args, env, shows)
        ok = measured["seconds"] <= target_s and (
            target_mib is None or measured["peak_mib"] <= target_mib
        )
        table.append(
            {
                "command": "onboard " + " ".join(args),
                "seconds (median of 5, cold)": measured["seconds"],
                "peak RSS MiB": measured["peak_mib"],
                "target": f"<= {target_s} s" + (f", <= {target_mib:.0f} MiB" if target_mib else ""),
                "result": "PASS" if ok else "FAIL",
            }
        )
    print_table("CLI start-up (issue 16 targets)", table, floatfmt=".2f")
