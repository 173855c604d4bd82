"""One route for a level-day: every level of every day is built by `build_level_day`.

The CLI (direct and ``--dagster``), the level assets, the sensors' runs, ``reprocess`` and the
demo all call `stix_assets.core.levels.day.build_level_day`; `stix_assets.core.levels.windows`
says, in one table, which upstream days a level-day reads and so which days new inputs affect;
`stix_assets.core.levels.chain` carries a set of days from one level to the next.
"""

from stix_assets.core.levels.chain import ChainResult, run_chain
from stix_assets.core.levels.day import (
    LevelContext,
    LevelDayResult,
    build_level_day,
    run_creation_time,
    stix_conf_tag,
)
from stix_assets.core.levels.windows import (
    INPUT_WINDOWS,
    LEVELS,
    InputWindow,
    affected_days,
    input_days,
    products_at,
)

__all__ = [
    "INPUT_WINDOWS",
    "LEVELS",
    "ChainResult",
    "InputWindow",
    "LevelContext",
    "LevelDayResult",
    "affected_days",
    "build_level_day",
    "input_days",
    "products_at",
    "run_chain",
    "run_creation_time",
    "stix_conf_tag",
]
