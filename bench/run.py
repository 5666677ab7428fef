"""Run every benchmark and record the figures in docs/benchmarks.md.

    python bench/run.py            # all benchmarks
    python bench/run.py startup    # only modules whose name contains "startup"

    python bench/run.py --record hostile   # run some, replace only their rows in the doc

Each bench/bench_*.py module exposes run() → [{name, seconds, baseline, ratio, note}], where
the baseline is measured in the same run; a row measuring something other than time gives
its `unit` (e.g. "MB" for bench_hostile's memory figures) and `seconds`/`baseline` hold
that quantity. Figures vary by about ±25 % between runs on this kind of machine, so compare
ratios within one run.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB memory"
    except (OSError, StopIteration):
        pass
    cpu = platform.processor() or platform.machine()
    return (f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while being defined
    sys.path.insert(0, str(ROOT))
    spec.loader.exec_module(module)
    return module


def _figure(value: float, unit: str) -> str:
    return f"{value:.3f}" if unit == "s" else f"{value:.1f} {unit}"


def main(argv: list[str]) -> int:
    record = "--record" in argv
    argv = [a for a in argv if a != "--record"]
    wanted = argv[1:] if len(argv) > 1 else None
    results, failures = [], []
    for path in sorted(HERE.glob("bench_*.py")):
        if wanted and not any(w in path.stem for w in wanted):
            continue
        print(f"== {path.stem}", flush=True)
        started = time.perf_counter()
        try:
            rows = load(path).run()
        except Exception:
            failures.append((path.stem, traceback.format_exc()))
            print(failures[-1][1], flush=True)
            continue
        for row in rows:
            row["module"] = path.stem
            results.append(row)
            unit = row.get("unit", "s")
            print(f"   {row['name']}: {_figure(row['seconds'], unit)}{' s' if unit == 's' else ''} | "
                  f"baseline {_figure(row['baseline'], unit)}{' s' if unit == 's' else ''} | "
                  f"ratio {row['ratio']:.2f} | {row.get('note', '')}", flush=True)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    if wanted and record:
        write_doc(results, failures, keep=_kept_rows({r["name"] for r in results}))
    elif wanted:
        print("partial run: docs/benchmarks.md left as it is (run without arguments to update "
              "it, or add --record to replace only these modules' rows)")
    else:
        write_doc(results, failures)
    return 1 if failures else 0


def _kept_rows(names: set[str]) -> list[str]:
    """Table rows of the current doc that a partial run does not replace: a row goes when
    its name, up to the first ":", is that of a row just measured."""
    if not DOC.exists():
        return []
    heads = {n.split(":", 1)[0] for n in names}
    return [line for line in DOC.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith(("| benchmark |", "|---"))
            and line[2:].split(" | ", 1)[0].split(":", 1)[0] not in heads]


def _last_run(partial: bool, modules: set[str]) -> str:
    now = f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {machine()}"
    if not partial or not DOC.exists():
        return f"Last run: {now}"
    before = next((line for line in DOC.read_text(encoding="utf-8").splitlines()
                   if line.startswith("Last run:")), "Last run: -").split(" · rows of")[0]
    return f"{before} · rows of {', '.join(sorted(modules))} updated {now}"


def write_doc(results: list[dict], failures: list, keep: list[str] | None = None) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Produced by `python bench/run.py`. Every figure stands beside a baseline measured in the",
        "same run on the same machine; the ratio is figure ÷ baseline. Between identical runs",
        "figures vary by about ±25 % here, so read the ratios.",
        "",
        _last_run(keep is not None, {r["module"] for r in results}),
        "",
        "| benchmark | seconds | baseline s | ratio | baseline and notes |",
        "|---|---:|---:|---:|---|",
        *(keep or []),
    ]
    for r in results:
        unit = r.get("unit", "s")
        lines.append(f"| {r['name']} | {_figure(r['seconds'], unit)} | "
                     f"{_figure(r['baseline'], unit)} | {r['ratio']:.2f} | {r.get('note', '')} |")
    for name, tb in failures:
        lines.append(f"| {name} | failed | | | {tb.strip().splitlines()[-1]} |")
    DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
