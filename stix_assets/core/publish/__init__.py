"""SOAR publishing: STIXCore's ``publish.py`` with lineage-tracked versions (domain reference 10).

Modules: `names` (SOAR file names), `candidates` (which files are due), `ridlut` (BSD request
LUT), `fitsedit` (data version, header edits of the delivered copy), `transfer` (local / SSH
targets, atomic), `history` (publish history in the DuckDB catalog, crash reconciliation),
`rules` (the per-file decision), `deliver` (the run).
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
from stix_assets.core.publish.deliver import (
    FUTURE_LIMIT,
    FileOutcome,
    PublishConfig,
    PublishReport,
    publish_archive,
)
from stix_assets.core.publish.fitsedit import data_version
from stix_assets.core.publish.history import (
    RESULT_CODES,
    PublishHistory,
    import_published_sqlite,
)
from stix_assets.core.publish.names import SoarName, parse_name
from stix_assets.core.publish.ridlut import (
    DEFAULT_RID_LUT_URL,
    RidLut,
    read_rid_lut,
    update_rid_lut,
)
from stix_assets.core.publish.rules import Decision, decide
from stix_assets.core.publish.transfer import LocalTarget, SshTarget, TransferHooks, make_target

__all__ = [
    "DEFAULT_RID_LUT_URL",
    "FUTURE_LIMIT",
    "RESULT_CODES",
    "Candidate",
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
]
