"""The self-contained demo mission: IDB, SPICE kernels and simulated telemetry, made locally.

`build_demo_root` writes a complete data root (nothing downloaded, no user data needed) that the
real pipeline can process; the pieces (`write_demo_idb`, `write_kernels`, `simulate`,
`encode_packet`) are usable on their own. Pure Python: no Dagster imports.
"""

from stix_assets.demo.encoder import PacketLayout, encode_packet, expected_parameters, read_layouts
from stix_assets.demo.idb_writer import DEMO_IDB_VERSION, write_demo_history, write_demo_idb
from stix_assets.demo.kernels import KernelSet, scet_from_utc, utc_from_scet, write_kernels
from stix_assets.demo.root import DemoRoot, DemoRootError, build_demo_root, is_demo_root
from stix_assets.demo.simulator import SimConfig, Simulation, simulate

__all__ = [
    "DEMO_IDB_VERSION",
    "DemoRoot",
    "DemoRootError",
    "KernelSet",
    "PacketLayout",
    "SimConfig",
    "Simulation",
    "build_demo_root",
    "encode_packet",
    "expected_parameters",
    "is_demo_root",
    "read_layouts",
    "scet_from_utc",
    "simulate",
    "utc_from_scet",
    "write_demo_history",
    "write_demo_idb",
    "write_kernels",
]
