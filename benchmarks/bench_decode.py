"""Throughput of decode_batch over the kit's packets, replicated.

Usage: STIX_TESTDATA=/path/to/kit python benchmarks/bench_decode.py [replicas]
"""

import os
import sys
import time
from pathlib import Path

from stix_assets.core.idb import IdbStore
from stix_assets.core.idb.calibration import calibrate
from stix_assets.core.idb.decode import decode_batch
from stix_assets.core.tmtc import PacketBatch, decode_hex_file, decode_tm_file


def kit_batch(root: Path) -> PacketBatch:
    parts = [decode_tm_file(p)[1] for p in sorted((root / "tm").glob("*.xml"))]
    parts += [decode_hex_file(p)[0] for p in sorted((root / "tm" / "hex").glob("*.hex"))]
    parts += [
        decode_tm_file(p)[1] for p in sorted((root / "reference/stixcore/input").glob("*.xml"))
    ]
    return PacketBatch.concat([b for b in parts if len(b)])


def replicate(batch: PacketBatch, n: int) -> PacketBatch:
    return PacketBatch.concat([batch] * n)


def main() -> None:
    root = Path(os.environ.get("STIX_TESTDATA", "../shared/testdata"))
    replicas = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    store = IdbStore(root / "idb")
    base = kit_batch(root)
    decode_batch(base, store)  # warm: open IDBs, compile layouts
    big = replicate(base, replicas)
    t0 = time.perf_counter()
    tables, report = decode_batch(big, store)
    t1 = time.perf_counter()
    for (version, _spid), table in tables.items():
        calibrate(table, store.get(version))
    t2 = time.perf_counter()
    n = len(big)
    values = sum(int(sum(len(v) for v in t.values.values())) for t in tables.values())
    print(f"packets={n} tables={len(tables)} values={values} quarantined={len(report.quarantined)}")
    print(
        f"decode_batch: {t1 - t0:.3f} s  {n / (t1 - t0):,.0f} packets/s  {values / (t1 - t0):,.0f} values/s"
    )
    print(f"calibrate:    {t2 - t1:.3f} s  {n / (t2 - t1):,.0f} packets/s")
    by_spid = {}
    for (_v, spid), t in tables.items():
        by_spid[spid] = by_spid.get(spid, 0) + len(t)
    print("largest groups:", sorted(by_spid.items(), key=lambda kv: -kv[1])[:5])


if __name__ == "__main__":
    main()
