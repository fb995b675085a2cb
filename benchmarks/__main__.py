"""`python -m benchmarks` (`make bench`): run the benchmarks and print their tables.

`--only import|quality|speed|pages|load` picks one (default: all). `--orgs N [N ...]` sizes
the import datasets (default 20000 100000), `--backend sqlite|postgresql` (repeatable;
default both), `--quality-orgs N` / `--speed-orgs N` size the finder's worlds, `--pages-orgs N` the
dashboard's (200 orders per 100 orgs: 50,000 orgs give 100k orders), `--operators N` and
`--load-seconds S` the scale-out load test on PostgreSQL (default 8 operator processes for
60 s), `--quick` for a small smoke run.
"""

from __future__ import annotations

import argparse

from benchmarks import (
    dashboard_pages,
    import_dataset,
    load_test,
    matching_quality,
    matching_speed,
)

BENCHMARKS = ("import", "quality", "speed", "pages", "load")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", choices=BENCHMARKS, action="append")
    parser.add_argument("--orgs", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--quality-orgs", type=int, default=3_000)
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
        matching_quality.run(300 if args.quick else args.quality_orgs)
    if "speed" in chosen:
        backends = args.backend or ["sqlite", "postgresql"]
        matching_speed.run(2_000 if args.quick else args.speed_orgs, backends)
    if "pages" in chosen:
        dashboard_pages.run(500 if args.quick else args.pages_orgs, 200.0)
    if "load" in chosen:
        load_test.run(10.0 if args.quick else args.load_seconds, args.operators)


if __name__ == "__main__":
    main()
