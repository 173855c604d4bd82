"""SOAR publishing: STIXCore's ``publish.py`` with lineage-tracked versions (domain reference 10).

Modules: `names` (SOAR file names), `candidates` (which files are due), `ridlut` (BSD request
LUT), `fitsedit` (data version, header edits of the delivered copy), `transfer` (local / SSH
targets, atomic), `history` (publish history in the DuckDB catalog, crash reconciliation),
`rules` (the per-file decision), `verify` (checksum verification of archive files and
delivered copies), `deliver` (the run), `report` (what a run did).


Names are exported lazily (PEP 562): importing one module of the package, such as `names` from
the manifest code of the LB route, does not load the others (`deliver` loads astropy).
"""

import importlib

__all__ = [
    "DEFAULT_RID_LUT_URL",
    "FUTURE_LIMIT",
    "RESULT_CODES",
    "Candidate",
    "ChecksumError",
    "Decision",
    "FileOutcome",
    "LocalTarget",
    "PublishConfig",
    "PublishFilters",
    "PublishHistory",
    "PublishReport",
    "RidLut",
    "Selection",
    "SoarName",
    "SshTarget",
    "TransferHooks",
    "check_checksums",
    "data_version",
    "decide",
    "import_published_sqlite",
    "make_target",
    "parse_levels",
    "parse_name",
    "parse_period",
    "parse_versions",
    "publish_archive",
    "read_rid_lut",
    "select_candidates",
    "update_rid_lut",
    "verify_checksums",
]

_EXPORTS = {
    "Candidate": "candidates",
    "ChecksumError": "verify",
    "DEFAULT_RID_LUT_URL": "ridlut",
    "Decision": "rules",
    "FUTURE_LIMIT": "deliver",
    "FileOutcome": "report",
    "LocalTarget": "transfer",
    "PublishConfig": "deliver",
    "PublishFilters": "candidates",
    "PublishHistory": "history",
    "PublishReport": "report",
    "RESULT_CODES": "history",
    "RidLut": "ridlut",
    "Selection": "candidates",
    "SoarName": "names",
    "SshTarget": "transfer",
    "TransferHooks": "transfer",
    "check_checksums": "verify",
    "data_version": "fitsedit",
    "decide": "rules",
    "import_published_sqlite": "history",
    "make_target": "transfer",
    "parse_levels": "candidates",
    "parse_name": "names",
    "parse_period": "candidates",
    "parse_versions": "candidates",
    "publish_archive": "deliver",
    "read_rid_lut": "ridlut",
    "select_candidates": "candidates",
    "update_rid_lut": "ridlut",
    "verify_checksums": "verify",
}
"""Exported name -> the module of this package that defines it."""


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
