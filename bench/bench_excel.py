"""Writing and reading a 10,000 × 40 workbook through the Excel kit, next to plain openpyxl.

Each measurement runs in a forked child so its peak memory (growth of the resident set over
the child's start) is its own; seconds are wall time inside the child. Baselines:
- kit write (normal)     vs openpyxl Workbook().append, no styles or formats
- kit write (write_only) vs openpyxl Workbook(write_only=True).append
- kit read_table         vs openpyxl load_workbook(read_only=True) iter_rows(values_only=True)
  (read_table = container and bomb checks + python-calamine + header check + typed values)

    python bench/bench_excel.py
"""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROWS, COLS = 10_000, 40
KINDS = ["text"] * 10 + ["int"] * 10 + ["float"] * 10 + ["percent"] * 5 + ["date"] * 5
_FILE: bytes = b""


def _value(kind: str, r: int, c: int):
    if kind == "text":
        return f"南明区单位{r}-{c}"
    if kind == "int":
        return r * 40 + c
    if kind == "float":
        return (r * 40 + c) / 7
    if kind == "percent":
        return (r % 1000) / 1000
    return dt.date(2014, 1, 1) + dt.timedelta(days=(r + c) % 365)


def make_rows() -> tuple[list[str], list[list]]:
    keys = [f"c{i}" for i in range(COLS)]
    return keys, [[_value(KINDS[c], r, c) for c in range(COLS)] for r in range(ROWS)]


def kit_columns():
    from core.xlsx import Column

    return [Column(f"c{i}", f"第{i}列", kind=KINDS[i]) for i in range(COLS)]


def kit_specs():
    from core.uploads import ColumnSpec

    read_kind = {"text": "text", "int": "int", "float": "float", "percent": "float",
                 "date": "date"}
    return [ColumnSpec(f"c{i}", f"第{i}列", kind=read_kind[KINDS[i]]) for i in range(COLS)]


# -- the measured bodies (each returns a small check value) ----------------------------------
def w_plain(write_only: bool):
    from openpyxl import Workbook

    _, rows = make_rows()
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet() if write_only else wb.active
    ws.append([f"第{i}列" for i in range(COLS)])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return len(buf.getvalue())


def w_kit(write_only: bool):
    from core.xlsx import WorkbookBuilder

    keys, rows = make_rows()
    wb = WorkbookBuilder(write_only=write_only)
    wb.add_table(sheet="数据", title="基准", subtitle="bench", columns=kit_columns(),
                 rows=(dict(zip(keys, row, strict=True)) for row in rows))
    return len(wb.to_bytes())


def r_openpyxl():
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(_FILE), read_only=True)
    n = sum(1 for _ in wb.active.iter_rows(values_only=True))
    wb.close()
    return n


def r_calamine():
    from python_calamine import CalamineWorkbook

    return len(CalamineWorkbook.from_filelike(io.BytesIO(_FILE)).get_sheet_by_index(0).to_python())


def r_kit():
    from core.uploads import read_table

    table = read_table(_FILE, "bench.xlsx", kit_specs(), max_rows=ROWS, max_bytes=200 * 2**20)
    assert not table.errors, table.errors[:3]
    return len(table.rows)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _child(conn, body, args):
    start_rss = _rss_mb()
    started = time.perf_counter()
    check = body(*args)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    conn.send((seconds, max(0.0, peak - start_rss), check))
    conn.close()


def measure(body, *args) -> tuple[float, float, object]:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, body, args))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def run() -> list[dict]:
    global _FILE
    # Warm imports once so neither side pays for them inside its measurement.
    import openpyxl  # noqa: F401
    import python_calamine  # noqa: F401

    import core.uploads  # noqa: F401
    import core.xlsx  # noqa: F401

    plain_n = measure(w_plain, False)
    kit_n = measure(w_kit, False)
    plain_w = measure(w_plain, True)
    kit_w = measure(w_kit, True)
    # The file people would upload: the kit's own sheet (title, subtitle, header, formats).
    from core.xlsx import WorkbookBuilder

    keys, rows = make_rows()
    wb = WorkbookBuilder(write_only=True)
    wb.add_table(sheet="数据", title="基准", subtitle="bench", columns=kit_columns(),
                 rows=(dict(zip(keys, row, strict=True)) for row in rows))
    _FILE = wb.to_bytes()
    del rows
    read_base = measure(r_openpyxl)
    read_cal = measure(r_calamine)
    read_kit = measure(r_kit)
    assert read_kit[2] == ROWS and read_base[2] == ROWS + 3

    def row(name, got, base, note):
        return {"name": name, "seconds": got[0], "baseline": base[0],
                "ratio": got[0] / base[0], "peak_mb": got[1], "baseline_peak_mb": base[1],
                "note": f"{note}; peak memory {got[1]:.0f} MB vs {base[1]:.0f} MB"}

    size = f"{ROWS:,} × {COLS}"
    return [
        row(f"Excel write {size}: kit normal", kit_n, plain_n,
            "baseline: plain openpyxl normal append, no styles/formats/widths"),
        row(f"Excel write {size}: kit write_only", kit_w, plain_w,
            "baseline: plain openpyxl write_only append"),
        row(f"Excel read {size}: kit read_table (calamine + checks + typing)", read_kit, read_base,
            f"baseline: openpyxl read_only values_only, rows iterated and dropped (read_table "
            f"keeps every typed row); bare calamine to_python "
            f"{read_cal[0]:.2f} s, {read_cal[1]:.0f} MB"),
    ]


if __name__ == "__main__":
    started = time.perf_counter()
    for r in run():
        print(f"{r['name']}: {r['seconds']:.2f} s (baseline {r['baseline']:.2f} s, "
              f"ratio {r['ratio']:.2f}) | peak {r['peak_mb']:.0f} MB "
              f"(baseline {r['baseline_peak_mb']:.0f} MB) | {r['note']}")
    print(f"total {time.perf_counter() - started:.0f} s")
