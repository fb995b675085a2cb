"""`python -m benchmarks` (`make bench`): run the benchmarks and print their tables.

`--only import|quality|speed|pages|load|cli` picks one (default: all). `--orgs N [N ...]` sizes
the import datasets (default 20000 100000), `--backend sqlite|postgresql` (repeatable;
default both), `--quality-families N` / `--quality-orders N` pick the finder's held-out world
families (default 6: families 101..106) and its scored orders per family (default 1500, after
as many history orders), `--speed-orgs N` sizes the speed world, `--pages-orgs N` the
dashboard's (200 orders per 100 orgs: 50,000 orgs give 100k orders), `--operators N` and
`--load-seconds S` the scale-out load test on PostgreSQL (default 8 operator processes for
60 s), `--quick` for a small smoke run.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import (
    cli_start,
    dashboard_pages,
    import_dataset,
    load_test,
    matching_quality,
    matching_speed,
)

BENCHMARKS = ("import", "quality", "speed", "pages", "load", "cli")


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse exits 2 otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", choices=BENCHMARKS, action="append")
    parser.add_argument("--orgs", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--quality-orgs",
        type=int,
        help="no longer used: the quality worlds are sized by --quality-orders",
    )
    parser.add_argument("--quality-families", type=_positive, help="held-out families (default 6)")
    parser.add_argument("--quality-orders", type=_positive, help="scored orders per family (1500)")
    parser.add_argument("--speed-orgs", type=int, default=1_000_000)
    parser.add_argument("--pages-orgs", type=int, default=50_000)
    parser.add_argument("--operators", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: does it run?")
    args = parser.parse_args()
    chosen = args.only or list(BENCHMARKS)
    if "import" in chosen:
        sizes = [500, 2_000] if args.quick else args.orgs
        import_dataset.run(sizes, args.backend or ["sqlite", "postgresql"])
    if "quality" in chosen:
        if args.quality_orgs is not None:
            print("--quality-orgs is no longer used: see --quality-orders", file=sys.stderr)
        matching_quality.run(args.quality_families, args.quality_orders, quick=args.quick)
    if "speed" in chosen:
        backends = args.backend or ["sqlite", "postgresql"]
        matching_speed.run(2_000 if args.quick else args.speed_orgs, backends)
    if "pages" in chosen:
        dashboard_pages.run(500 if args.quick else args.pages_orgs, 200.0)
    if "load" in chosen:
        load_test.run(10.0 if args.quick else args.load_seconds, args.operators)
    if "cli" in chosen:
        cli_start.run()


if __name__ == "__main__":
    main()
