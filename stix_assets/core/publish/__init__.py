"""SOAR publishing: STIXCore's ``publish.py`` with lineage-tracked versions (domain reference 10).

Modules: `names` (SOAR file names), `candidates` (which files are due), `ridlut` (BSD request
LUT), `fitsedit` (data version, header edits of the delivered copy), `transfer` (local / SSH
targets, atomic), `history` (publish history in the DuckDB catalog, crash reconciliation),
`rules` (the per-file decision), `verify` (checksum verification of archive files and
delivered copies), `deliver` (the run), `report` (what a run did).
"""

from stix_assets.core.publish.candidates import (
    Candidate,
    PublishFilters,
    Selection,
    parse_levels,
    parse_period,
    parse_versions,
    select_candidates,
)
from stix_assets.core.publish.deliver import FUTURE_LIMIT, PublishConfig, publish_archive
from stix_assets.core.publish.fitsedit import data_version
from stix_assets.core.publish.history import (
    RESULT_CODES,
    PublishHistory,
    import_published_sqlite,
)
from stix_assets.core.publish.names import SoarName, parse_name
from stix_assets.core.publish.report import FileOutcome, PublishReport
from stix_assets.core.publish.ridlut import (
    DEFAULT_RID_LUT_URL,
    RidLut,
    read_rid_lut,
    update_rid_lut,
)
from stix_assets.core.publish.rules import Decision, decide
from stix_assets.core.publish.transfer import LocalTarget, SshTarget, TransferHooks, make_target
from stix_assets.core.publish.verify import ChecksumError, check_checksums, verify_checksums

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
