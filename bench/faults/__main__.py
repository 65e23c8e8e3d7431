"""Run every fault scenario and print the matrix; exit 1 when a row misses the bar.

    .venv/bin/python -m bench.faults [--quick] [--only NAME[,NAME]]
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bench.faults as package


def scenario_modules(only: set[str]):
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or (only and info.name not in only):
            continue
        module = importlib.import_module(f"bench.faults.{info.name}")
        if hasattr(module, "run"):
            yield info.name, module


def _cell(value, fmt="{}"):
    return "" if value is None else fmt.format(value)


def print_matrix(rows) -> None:
    header = ("fault", "tries", "placed", "charged", "lost", "double", "refused", "refusal max s",
              "deadline s", "healthz max ms", "verdict")
    table = [header]
    for row in rows:
        missed = row.failures()
        table.append((row.fault, str(row.tries), str(row.calls_placed), str(row.calls_charged), str(row.lost_charges),
                      str(row.double_charges), str(row.refusals), _cell(row.refusal_max_s, "{:.2f}"),
                      _cell(row.deadline_s, "{:.1f}"), _cell(row.healthz_max_ms, "{:.1f}"),
                      "ok" if not missed else "MISSED: " + "; ".join(missed)))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for number, line in enumerate(table):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths)))
        if number == 0:
            print("-+-".join("-" * width for width in widths))
    for row in rows:
        for note in row.notes:
            print(f"  {row.fault}: {note}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tries and shorter faults (the test suite's run)")
    parser.add_argument("--only", default="", help="comma-separated scenario modules to run")
    options = parser.parse_args(argv)
    only = {name.strip() for name in options.only.split(",") if name.strip()}
    rows = []
    for name, module in scenario_modules(only):
        print(f"# {name}", file=sys.stderr, flush=True)
        rows.extend(module.run(options))
    if not rows:
        print("no fault scenario ran", file=sys.stderr)
        return 2
    print_matrix(rows)
    return 1 if any(row.failures() for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
