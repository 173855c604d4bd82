"""A minimal STIX-CONF tree for the demo root: the nominal science energy channels.

L0 and L1 read the energy axis of a product from ``detector/science_echan_index.csv`` and the
channel table it names. The demo writes one period covering all time with the 32 nominal
science channels (edges in keV, the values of STIX-CONF's ``ScienceEnergyChannels_1000.csv``),
in the same CSV layout, so the real readers need no demo branch.
"""

from pathlib import Path

__all__ = ["DEMO_CONF_TAG", "NOMINAL_EDGES_KEV", "write_demo_conf"]

DEMO_CONF_TAG = "demo-1"
NOMINAL_EDGES_KEV = (
    0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 25, 28, 32, 36, 40, 45, 50,
    56, 63, 70, 76, 84, 100, 120, 150,
)  # fmt: skip
"""Lower edges of the 32 science channels; the last channel is open (``maxADC``)."""

_TABLE = "ScienceEnergyChannels_demo.csv"


def _channel_rows() -> list[str]:
    rows = []
    for ch, low in enumerate(NOMINAL_EDGES_KEV):
        high = NOMINAL_EDGES_KEV[ch + 1] if ch + 1 < len(NOMINAL_EDGES_KEV) else "maxADC"
        width = high - low if isinstance(high, int) else "n/a"
        rows.append(f"{ch},{ch},{low},{low},{high},{width},n/a,n/a")
    return rows


def write_demo_conf(root: Path) -> Path:
    """Write the demo STIX-CONF tree under ``root`` (``detector/...`` + ``VERSION.TXT``)."""
    detector = root / "detector"
    detector.mkdir(parents=True, exist_ok=True)
    (detector / "science_echan_index.csv").write_text(
        f"index, start_date, end_date, sci_chan_file\n0, 2000-01-01T00:00:00, none, {_TABLE}\n"
    )
    header = "Channel Number,Channel Edge,Energy Edge ,Elower,Eupper ,BinWidth,dE/E,QL channel"
    (detector / _TABLE).write_text("\n".join([header, *_channel_rows()]) + "\n")
    (root / "VERSION.TXT").write_text(DEMO_CONF_TAG + "\n")
    return root
