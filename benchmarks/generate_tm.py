"""Generate large, realistic SOC TM files from the real packets of the STIX test kit.

The real packets of the kit (``tm/*.xml``, ``tm/hex/*.hex``, ``reference/stixcore/input/*.xml``)
are replicated onto a new timeline; only header and time bytes are rewritten, the payloads stay
real:

* HK maxi (3/25/2) every 64 s;
* a full quick-look cycle (21/6/30, 31, 32, 33, 34, 43) every ~20 min;
* one spectrogram request (21/6/24) per hour, each with a new request id;
* split into 4 files per day (6 h each), named like real SOC batch responses.

Rewritten bytes per packet: SCET coarse/fine (bytes 10-15, the same bit layout as
``stix_assets.core.tmtc.encode_header``), sequence flag and count (bytes 2-3; the count runs per
APID, mod 16384), for QL 30-34 the integration start time (NIX00445/NIX00446 at bytes 17-22,
IDB 2.26.34 VPD of SPID 54118-54122), shifted by the same amount as the header time, and for BSD
(ssid 20-24) the TC sequence control (bytes 19-20) and request id (bytes 21-24), new per request.
The output is deterministic for a given seed.

Usage::

    python benchmarks/generate_tm.py --days 3 --out /tmp/bench_tm --start 2021-01-16
"""

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stix_assets.core.time import SCET_EPOCH_UTC
from stix_assets.core.tmtc import decode_hex_file, decode_tm_file

SOC_PREFIX = bytes(76)
HK_PERIOD_S = 64
QL_PERIOD_S = 20 * 60
SPEC_PERIOD_S = 3600
FILES_PER_DAY = 4
QL_SSIDS = (30, 31, 32, 33, 34, 43)
QL_TIMED_SSIDS = (30, 31, 32, 33, 34)  # first parameters after SSID: NIX00445/NIX00446
STANDALONE = 3


@dataclass(frozen=True, slots=True)
class Template:
    """One real packet to replicate."""

    kind: tuple[int, int, int]
    data: bytes
    sequence_flag: int


@dataclass(frozen=True, slots=True)
class Planned:
    """One packet to emit: its template and its new SCET (48-bit: coarse << 16 | fine)."""

    btime: int
    template: Template
    request: int  # running request number for BSD, -1 otherwise


def _kit_batches(kit: Path) -> list:
    batches = []
    xmls = sorted((kit / "tm").glob("*PktTmRaw*.xml"))
    xmls += sorted((kit / "reference" / "stixcore" / "input").glob("*PktTmRaw*.xml"))
    for path in xmls:
        _, batch, _ = decode_tm_file(path)
        batches.append(batch)
    for path in sorted((kit / "tm" / "hex").glob("*.hex")):
        batch, _ = decode_hex_file(path)
        batches.append(batch)
    return batches


def load_templates(kit: Path) -> dict[tuple[int, int, int], list[Template]]:
    """Distinct real packets of the kit by (service, subtype, pi1) for the kinds we replicate."""
    seen: set[bytes] = set()
    out: dict[tuple[int, int, int], list[Template]] = {}
    for batch in _kit_batches(kit):
        h = batch.headers
        for i in range(len(batch)):
            data = batch.packet_bytes(i)
            service, subtype = int(h["service_type"][i]), int(h["service_subtype"][i])
            if service not in (3, 21) or len(data) < 17 or data in seen:
                continue
            seen.add(data)
            kind = (service, subtype, data[16])
            out.setdefault(kind, []).append(Template(kind, data, int(h["sequence_flag"][i])))
    for kind, items in out.items():
        # prefer standalone packets: every emitted packet is a complete product on its own
        standalone = [t for t in items if t.sequence_flag == STANDALONE]
        out[kind] = sorted(standalone or items, key=lambda t: t.data)
    return out


def _scet(when: dt.datetime) -> int:
    return int((when - SCET_EPOCH_UTC).total_seconds())


def plan_packets(
    templates: dict[tuple[int, int, int], list[Template]],
    start: dt.datetime,
    days: int,
    rng: np.random.Generator,
) -> list[Planned]:
    """All packets of the run with their new times, sorted by time."""
    t0 = _scet(start)
    t1 = t0 + days * 86400
    planned: list[Planned] = []

    def jitter() -> int:
        return int(rng.integers(0, 65536))

    hk = templates[(3, 25, 2)]
    for n, coarse in enumerate(range(t0 + 3, t1, HK_PERIOD_S)):
        planned.append(Planned((coarse << 16) | jitter(), hk[n % len(hk)], -1))
    for n, coarse in enumerate(range(t0 + 17, t1, QL_PERIOD_S)):
        cycle_start = coarse + int(rng.integers(-20, 21))
        for k, ssid in enumerate(QL_SSIDS):
            items = templates[(21, 6, ssid)]
            planned.append(Planned(((cycle_start + k) << 16) | jitter(), items[n % len(items)], -1))
    spec = templates[(21, 6, 24)]
    for n, coarse in enumerate(range(t0 + 1800, t1, SPEC_PERIOD_S)):
        planned.append(Planned((coarse << 16) | jitter(), spec[n % len(spec)], n))
    planned.sort(key=lambda p: p.btime)
    return planned


class Rewriter:
    """Rewrites header bytes, keeping per-APID sequence counters and request ids."""

    def __init__(self, rng: np.random.Generator, start: dt.datetime) -> None:
        self._counts: dict[int, int] = {}
        self._rng = rng
        self._rid_base = int(start.strftime("%y%m%d")) * 10000
        self._tc_seq = int(rng.integers(0, 16384))

    def _next_count(self, apid: int) -> int:
        count = self._counts.get(apid)
        if count is None:
            count = int(self._rng.integers(0, 16384))
        count = (count + 1) % 16384
        self._counts[apid] = count
        return count

    def rewrite(self, item: Planned) -> bytes:
        """The template's bytes with new time, sequence and (BSD) request fields."""
        data = bytearray(item.template.data)
        apid = int.from_bytes(data[0:2], "big") & 0x7FF
        word1 = (STANDALONE << 14) | self._next_count(apid)
        data[2:4] = word1.to_bytes(2, "big")
        old_coarse = int.from_bytes(data[10:14], "big") & 0x7FFFFFFF
        old_btime = (old_coarse << 16) | int.from_bytes(data[14:16], "big")
        new_coarse, new_fine = item.btime >> 16, item.btime & 0xFFFF
        data[10:14] = (new_coarse & 0x7FFFFFFF).to_bytes(4, "big")  # synchronised: MSB 0
        data[14:16] = new_fine.to_bytes(2, "big")
        service, _, ssid = item.template.kind
        if service == 21 and ssid in QL_TIMED_SSIDS:
            start = (int.from_bytes(data[17:21], "big") << 16) | int.from_bytes(data[21:23], "big")
            shifted = max(0, start + item.btime - old_btime)
            data[17:21] = ((shifted >> 16) & 0xFFFFFFFF).to_bytes(4, "big")
            data[21:23] = (shifted & 0xFFFF).to_bytes(2, "big")
        if service == 21 and 20 <= ssid <= 24 and item.request >= 0:
            self._tc_seq = (self._tc_seq + 1) % 16384
            data[19:21] = ((3 << 14) | self._tc_seq).to_bytes(2, "big")
            data[21:25] = (self._rid_base + item.request + 1).to_bytes(4, "big")
        return bytes(data)


def _file_name(begin: dt.datetime, issued: dt.datetime) -> str:
    def stamp(t: dt.datetime) -> str:
        return t.strftime("%Y.%j.%H.%M.%S") + ".000"

    return f"TM_BatchRequest.PktTmRaw.SOL.0.{stamp(begin)}.bench@{stamp(issued)}.1.xml"


def write_soc_xml(path: Path, packets: list[bytes]) -> int:
    """Write packets as a SOC ``PktRawResponse`` (76-byte zero prefix + hex); returns bytes."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<ns2:ResponsePart xmlns:ns2="http://edds.egos.esa/model">\n'
        "    <Response>\n        <PktRawResponse>\n"
    ]
    for i, data in enumerate(packets, start=1):
        parts.append(
            f'<PktRawResponseElement packetID="{i}">\n'
            f"    <Packet>{(SOC_PREFIX + data).hex()}</Packet>\n"
            "</PktRawResponseElement>\n"
        )
    parts.append("</PktRawResponse>\n</Response>\n</ns2:ResponsePart>\n")
    text = "".join(parts).encode()
    tmp = path.with_suffix(".part")
    tmp.write_bytes(text)
    os.replace(tmp, path)
    return len(text)


def generate(kit: Path, out: Path, *, days: int, start: dt.date, seed: int = 2021) -> list[Path]:
    """Generate ``days`` days of TM into ``out``; returns the files written, sorted."""
    rng = np.random.default_rng(seed)
    begin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    templates = load_templates(kit)
    planned = plan_packets(templates, begin, days, rng)
    rewriter = Rewriter(rng, begin)
    out.mkdir(parents=True, exist_ok=True)
    chunk_s = 86400 // FILES_PER_DAY
    t0 = _scet(begin)
    written: list[Path] = []
    groups: dict[int, list[bytes]] = {}
    for item in planned:
        groups.setdefault(((item.btime >> 16) - t0) // chunk_s, []).append(rewriter.rewrite(item))
    for chunk, packets in sorted(groups.items()):
        chunk_begin = begin + dt.timedelta(seconds=chunk * chunk_s)
        issued = chunk_begin + dt.timedelta(seconds=chunk_s + 3600)
        path = out / _file_name(chunk_begin, issued)
        write_soc_xml(path, packets)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2021, 1, 16))
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument(
        "--kit", type=Path, default=Path(os.environ.get("STIX_TESTDATA", "../shared/testdata"))
    )
    args = parser.parse_args(argv)
    files = generate(args.kit, args.out, days=args.days, start=args.start, seed=args.seed)
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} files, {size / 1e6:.2f} MB to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
