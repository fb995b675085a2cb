"""`python -m benchmarks` (`make bench`): run the benchmarks and print their tables.

Options: `--orgs N [N ...]` dataset sizes (default 20000 100000), `--backend sqlite|postgresql`
(repeatable; default both), `--quick` for a small smoke run.
"""

from __future__ import annotations

import argparse

from benchmarks import import_dataset


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--orgs", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: does it run?")
    args = parser.parse_args()
    sizes = [500, 2_000] if args.quick else args.orgs
    import_dataset.run(sizes, args.backend or ["sqlite", "postgresql"])


if __name__ == "__main__":
    main()
