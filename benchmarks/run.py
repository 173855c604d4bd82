"""Benchmark TM -> LB (whole ``stix-assets process`` run) and full parameter decoding.

For each number of days: generate realistic TM files (``generate_tm.py``) into a temporary
folder, then

1. run ``stix-assets process --tm-dir ... --archive ... --idb-dir ... --end-level LB`` as a
   subprocess (start-up included) into a fresh archive, ``--repeat`` times; wall time and the
   child's peak RSS (``os.wait4``);
2. in a separate child process, read and index all files, then decode every parameter of every
   packet with ``stix_assets.core.idb.decode_batch``; time of the decoding step alone and of the
   whole read + index + decode, and the child's peak RSS.

The package is byte-compiled first (``compileall``), as ``pip install`` does: with
``PYTHONDONTWRITEBYTECODE`` set (as on the development machines) an editable checkout would
otherwise compile its ~90 modules in every run, about 0.2 s that no installed pipeline pays.

Usage::

    python benchmarks/run.py --days 1 3
"""

import argparse
import compileall
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_tm import generate  # noqa: E402

_DEFAULT_KIT = Path(os.environ.get("STIX_TESTDATA", HERE.parent.parent / "shared" / "testdata"))


def _console_script() -> str:
    candidate = Path(sys.executable).with_name("stix-assets")
    return str(candidate) if candidate.exists() else "stix-assets"


def _run_child(cmd: list[str]) -> tuple[float, float, int, str]:
    """Run ``cmd``; returns (wall s, peak RSS MB of that child, exit status, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, out


def bench_process(
    tm_dir: Path, kit: Path, idb_dir: Path, work: Path, repeat: int, end_level: str = "LB"
) -> dict[str, object]:
    """Time whole ``stix-assets process ... --end-level <level>`` runs, each into a fresh archive.

    Besides the wall time of the whole process, the per-level times and the per-step times
    (start-up, imports, index, read, decode, build, write, catalog, manifest; summed over worker
    processes) come from the ``level_seconds`` and ``step_seconds`` of the ``--json`` summary
    (best run).
    """
    walls, rss, laps, steps = [], [], [], []
    for i in range(repeat):
        archive = work / f"archive{i}"
        cmd = [
            _console_script(), "process", "--tm-dir", str(tm_dir), "--archive", str(archive),
            "--idb-dir", str(idb_dir), "--end-level", end_level, "--json",
        ]  # fmt: skip
        if end_level != "LB":
            cmd += ["--conf-dir", str(kit / "conf"), "--spice-dir", str(kit / "spice" / "kernels")]
        wall, peak, status, out = _run_child(cmd)
        if status != 0:
            raise SystemExit(f"stix-assets process failed with status {status}: {cmd}")
        walls.append(wall)
        rss.append(peak)
        summary = json.loads(out)
        laps.append(summary.get("level_seconds", {}))
        steps.append(summary.get("step_seconds", {}))
        shutil.rmtree(archive)
    best = walls.index(min(walls))
    return {
        "end_level": end_level,
        "wall_s_min": min(walls),
        "wall_s_median": statistics.median(walls),
        "rss_mb": max(rss),
        "level_seconds": laps[best],
        "step_seconds": steps[best],
    }


def decode_child(tm_dir: Path, idb_dir: Path) -> None:
    """Child mode: index all files, decode all parameters, print timings as JSON."""
    from stix_assets.core.idb import IdbStore, decode_batch
    from stix_assets.core.ingest import index_tm_file
    from stix_assets.core.tmtc import PacketBatch

    t0 = time.perf_counter()
    store = IdbStore(idb_dir)
    files = sorted(tm_dir.glob("*PktTmRaw*.xml"))
    batch = PacketBatch.concat([index_tm_file(f, store).batch for f in files])
    t1 = time.perf_counter()
    tables, report = decode_batch(batch, store)
    t2 = time.perf_counter()
    rows = sum(len(t) for t in tables.values())
    print(
        json.dumps(
            {
                "packets": len(batch),
                "read_index_s": t1 - t0,
                "decode_s": t2 - t1,
                "tables": len(tables),
                "rows": rows,
                "quarantined": len(report.quarantined),
            }
        )
    )


def bench_decode(tm_dir: Path, idb_dir: Path, repeat: int) -> dict[str, float]:
    """Run `decode_child` in fresh interpreters; best decode time, max peak RSS."""
    results, rss = [], []
    for _ in range(repeat):
        cmd = [sys.executable, __file__, "--decode-child", str(tm_dir), "--idb-dir", str(idb_dir)]
        _, peak, status, out = _run_child(cmd)
        if status != 0:
            raise SystemExit(f"decode child failed with status {status}")
        results.append(json.loads(out.strip().splitlines()[-1]))
        rss.append(peak)
    best = min(results, key=lambda r: r["decode_s"])
    return {**best, "rss_mb": max(rss)}


def _process_line(n_packets: int, mb: float, proc: dict) -> str:
    wall = proc["wall_s_min"]
    laps = ", ".join(f"{lvl} {t:.2f} s" for lvl, t in proc["level_seconds"].items())
    return (
        f"  TM->{proc['end_level']} process: wall {wall:.2f} s (median "
        f"{proc['wall_s_median']:.2f} s), {n_packets / wall:,.0f} packets/s, {mb / wall:.2f} MB/s, "
        f"peak RSS {proc['rss_mb']:.0f} MB; levels: {laps}\n"
        f"    steps (s, summed over processes): {_steps(proc.get('step_seconds', {}))}"
    )


def _steps(seconds: dict[str, float]) -> str:
    return ", ".join(f"{name} {t:.2f}" for name, t in sorted(seconds.items(), key=lambda i: -i[1]))


def _report(days: int, n_packets: int, mb: float, procs: list, dec: dict) -> list[str]:
    return [
        f"days={days} files={days * 4} packets={n_packets} xml_mb={mb:.2f}",
        *(_process_line(n_packets, mb, proc) for proc in procs),
        f"  full decode: {dec['decode_s']:.3f} s, {dec['packets'] / dec['decode_s']:,.0f} packets/s, "
        f"{mb / dec['decode_s']:.1f} MB/s ({dec['rows']} rows in {dec['tables']} tables, "
        f"quarantined {dec['quarantined']}); read+index {dec['read_index_s']:.2f} s; "
        f"peak RSS {dec['rss_mb']:.0f} MB",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--kit", type=Path, default=_DEFAULT_KIT)
    parser.add_argument("--idb-dir", type=Path, help="default: <kit>/idb")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--levels", nargs="+", default=["LB", "L1"], help="end levels to time (default LB L1)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--decode-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    idb_dir = args.idb_dir or args.kit / "idb"
    if args.decode_child:
        decode_child(args.decode_child, idb_dir)
        return 0
    compileall.compile_dir(HERE.parent / "stix_assets", quiet=1)
    results = []
    with tempfile.TemporaryDirectory(prefix="stix-bench-") as tmp:
        for days in args.days:
            tm_dir = Path(tmp) / f"tm{days}"
            files = generate(args.kit, tm_dir, days=days, start=dt.date(2021, 1, 16))
            mb = sum(f.stat().st_size for f in files) / 1e6
            procs = [
                bench_process(tm_dir, args.kit, idb_dir, Path(tmp), args.repeat, level)
                for level in args.levels
            ]
            dec = bench_decode(tm_dir, idb_dir, args.repeat)
            results.append({"days": days, "xml_mb": mb, "process": procs, "decode": dec})
            if not args.json:
                print("\n".join(_report(days, dec["packets"], mb, procs, dec)), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
