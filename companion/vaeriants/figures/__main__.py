"""Regenerate every figure: `python -m vaeriants.figures [--only NAME ...] [--quick]`."""
import argparse
import pathlib
import time

import matplotlib

matplotlib.use("Agg")

from vaeriants.figures import figure_modules  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="module names to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny settings, for a smoke test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for module in figure_modules():
        name = module.__name__.rsplit(".", 1)[-1]
        if args.only and name not in args.only:
            continue
        path = REPO_ROOT / module.OUTPUT
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        module.make(path, seed=args.seed, quick=args.quick)
        print(f"{name}: wrote {module.OUTPUT} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
