"""Daily products: ANC aspect ephemeris, LL03 quick-look plots (per UTC day), L3 flare list (month).

STIXCore ran these from its 08:00 cron (``pipeline_daily.py``); here ``daily_products_schedule``
requests, at 08:00 UTC, the ``anc/aspect`` and ``plots/ql_lightcurve`` partitions of every day whose
L1 input is newer than its product, under STIXCore's candidate rules
(`stix_assets.core.daily_candidates`), and ``flarelist_schedule`` the current month's
``l3/flarelist``. Inputs are the L1 files of the day, taken from the catalog
(``product_files``) or, when the catalog has none, from the archive folder
``L1/<YYYY>/<MM>/<DD>/<TYPE>/``.
"""

import calendar
import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from stix_assets.assets._lean import head, lean_metadata
from stix_assets.assets._results import SOFTWARE_VERSION, conf_version, level_asset_key
from stix_assets.core.aspect import SasParamsError, load_sas_params
from stix_assets.core.catalog import Catalog, ProductFileRecord
from stix_assets.core.daily_candidates import ANC_RULE, LL03_RULE, daily_candidates
from stix_assets.core.flarelist import LightCurve, detect_flares, read_lightcurve, write_flarelist
from stix_assets.core.plots import markdown_image
from stix_assets.core.products.anc import write_anc_ephemeris
from stix_assets.core.products.ll03 import write_ll03
from stix_assets.core.spice import latest_meta_kernels, loaded_kernels
from stix_assets.partitions import utc_days, utc_months
from stix_assets.resources import StixSettings

__all__ = [
    "ANC_ASPECT_KEY",
    "DAILY_ASSETS",
    "DAILY_JOBS",
    "DAILY_SCHEDULES",
    "FLARELIST_KEY",
    "LL03_KEY",
    "anc_aspect",
    "build_daily_schedule",
    "daily_products_job",
    "daily_products_schedule",
    "flarelist_job",
    "l1_daily_files",
    "l3_flarelist",
    "plots_ql_lightcurve",
]

ANC_ASPECT_KEY = dg.AssetKey(["anc", "aspect"])
LL03_KEY = dg.AssetKey(["plots", "ql_lightcurve"])
FLARELIST_KEY = dg.AssetKey(["l3", "flarelist"])
DAILY_GROUP = "daily_products"
_VERSION = re.compile(r"_V(\d+)U?\.fits$")

"""One partition per UTC month (key = first day): the L3 flare list."""


def _newest(paths: list[Path]) -> Path | None:
    """The file with the highest processing version (``_V<NN>[U].fits``)."""
    versioned = [(int(m[1]), p.name, p) for p in paths if (m := _VERSION.search(p.name))]
    return max(versioned)[2] if versioned else None


def l1_daily_files(
    catalog: Catalog | None, archive: Path, utc_day: dt.date, product: str, name: str
) -> Path | None:
    """The daily L1 file of a product: from the catalog, else by scanning the archive folder.

    Parameters
    ----------
    catalog : the processing catalog (``None``: scan only)
    archive : archive root
    utc_day : the day
    product : registry key (``hk_maxi``)
    name : name part of the file (``hk-maxi``); with the type it gives the folder
    """
    found: list[Path] = []
    if catalog is not None:
        found = [p for p in catalog.partition_files("L1", utc_day, [product]).get(product, [])]
        found = [p for p in found if p.is_file()]
    if not found:
        folder = archive / "L1" / f"{utc_day:%Y}" / f"{utc_day:%m}" / f"{utc_day:%d}"
        folder = folder / name.split("-")[0].upper()
        found = sorted(folder.glob(f"solo_L1_stix-{name}_{utc_day:%Y%m%d}_V*.fits"))
    return _newest(found)


def _catalog(stix: StixSettings) -> Catalog | None:
    return stix.catalog() if stix.has_catalog() else None


def _spec_deps(product: str) -> list[dg.AssetDep]:
    return [dg.AssetDep(level_asset_key("l1", product))]


@dg.asset(
    key=ANC_ASPECT_KEY,
    partitions_def=utc_days,
    group_name=DAILY_GROUP,
    deps=_spec_deps("hk_maxi"),
    kinds={"fits"},
    code_version="anc-3",
)
def anc_aspect(context: dg.AssetExecutionContext, stix: StixSettings) -> dg.MaterializeResult:
    """ANC aspect ephemeris of one UTC day: SAS pointing offsets and SOLO position per HK report.

    The SAS parameter files come from the setting ``sas_param_dir``; without it the file is still
    written (SPICE columns, report checks) with ``NO_SAS_PARAMS`` where a solution was possible.
    """
    utc_day = dt.date.fromisoformat(context.partition_key)
    source = l1_daily_files(_catalog(stix), stix.archive_root(), utc_day, "hk_maxi", "hk-maxi")
    if source is None:
        raise dg.Failure(f"no L1 hk-maxi file for {utc_day}")
    settings = stix.settings()
    params = None
    if settings.sas_param_dir is not None:
        try:
            params = load_sas_params(settings.sas_param_dir, settings.sas_calib_file)
        except SasParamsError as exc:
            raise dg.Failure(f"SAS parameters unusable: {exc}") from exc
    else:
        context.log.warning("sas_param_dir not set: y_srf/z_srf are not computed (NO_SAS_PARAMS)")
    with loaded_kernels(stix.kernel_store()) as kernels:
        result = write_anc_ephemeris(
            source, stix.archive_root(), kernels, created=dt.datetime.now(dt.UTC),
            software_version=SOFTWARE_VERSION, config_version=conf_version(settings.stix_conf_dir),
            sas_params=params,
        )  # fmt: skip
        spice_mk = kernels.spice_mk
    _record(stix, result.path, "ANC", "asp_ephemeris", utc_day, result.n_rows, (result.parent,))
    meta = result.as_metadata()
    meta["sas_errors"] = dg.MetadataValue.json(meta["sas_errors"])
    meta["sas_params"] = dg.MetadataValue.json(dict(params.sources) if params else {})
    return dg.MaterializeResult(metadata=lean_metadata({**meta, "spice_mk": spice_mk}))


@dg.asset(
    key=LL03_KEY,
    partitions_def=utc_days,
    group_name=DAILY_GROUP,
    deps=_spec_deps("ql_lightcurve"),
    kinds={"svg", "png"},
    code_version="ll03-2",
)
def plots_ql_lightcurve(
    context: dg.AssetExecutionContext, stix: StixSettings
) -> dg.MaterializeResult:
    """LL03 quick-look light-curve plot of one UTC day (SVG and PNG); the PNG is shown here."""
    utc_day = dt.date.fromisoformat(context.partition_key)
    source = l1_daily_files(
        _catalog(stix), stix.archive_root(), utc_day, "ql_lightcurve", "ql-lightcurve"
    )
    if source is None:
        raise dg.Failure(f"no L1 ql-lightcurve file for {utc_day}")
    result = write_ll03(source, stix.archive_root(), now=dt.datetime.now(dt.UTC))
    _record(stix, result.svg, "LL03", "ql_lightcurve", utc_day, result.n_rows, (source.name,))
    return dg.MaterializeResult(
        metadata=lean_metadata(
            {
                **result.as_metadata(),
                "plot": dg.MetadataValue.md(markdown_image(result.thumbnail, alt=result.svg.stem)),
                "png": dg.MetadataValue.path(str(result.png)),
            }
        )
    )


def _record(
    stix: StixSettings,
    path: Path,
    level: str,
    product: str,
    day: dt.date,
    n_rows: int,
    inputs: Sequence[str],
) -> None:
    """Catalog row of a daily product file (publishing and `status` find it there)."""
    stix.catalog().record_products(
        [
            ProductFileRecord(
                path=path, level=level, product=product, partition_day=day, version=2,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                written_at=dt.datetime.now(dt.UTC), size=path.stat().st_size, n_rows=n_rows,
                inputs=tuple(inputs),
            )
        ]
    )  # fmt: skip


def _month_days(month: dt.date) -> list[dt.date]:
    last = calendar.monthrange(month.year, month.month)[1]
    return [month.replace(day=d) for d in range(1, last + 1)]


@dg.asset(
    key=FLARELIST_KEY,
    partitions_def=utc_months,
    group_name=DAILY_GROUP,
    deps=_spec_deps("ql_lightcurve"),
    kinds={"fits"},
    code_version="flarelist-2",
)
def l3_flarelist(context: dg.AssetExecutionContext, stix: StixSettings) -> dg.MaterializeResult:
    """L3 flare list of one UTC month, detected on the 4-10 keV QL light curves of its days."""
    month = dt.date.fromisoformat(context.partition_key)
    catalog, archive = _catalog(stix), stix.archive_root()
    files = [
        f
        for day in _month_days(month)
        if (f := l1_daily_files(catalog, archive, day, "ql_lightcurve", "ql-lightcurve"))
    ]
    if not files:
        raise dg.Failure(f"no L1 ql-lightcurve file in {month:%Y-%m}")
    curve = LightCurve.concat([read_lightcurve(f) for f in files])
    flares = [f for f in detect_flares(curve) if f.peak.date().replace(day=1) == month]
    data_end = curve.time[-1].astype("datetime64[s]").astype(dt.datetime).replace(tzinfo=dt.UTC)
    result = write_flarelist(
        flares, month, data_end, archive, inputs=[f.name for f in files],
        created=dt.datetime.now(dt.UTC), software_version=SOFTWARE_VERSION,
    )  # fmt: skip
    _record(stix, result.path, "L3", "flarelist", month, result.n_flares, result.inputs)
    meta = result.as_metadata()
    meta["n_inputs"] = len(meta["inputs"])
    meta["inputs"] = dg.MetadataValue.json(head(meta["inputs"]))
    # the month's flares are in the FITS file; the event shows the first ones
    meta["flares"] = dg.MetadataValue.json(head([f.as_dict() for f in flares]))
    return dg.MaterializeResult(metadata=lean_metadata(meta))


daily_products_job = dg.define_asset_job(
    "daily_products_job",
    selection=dg.AssetSelection.assets(ANC_ASPECT_KEY, LL03_KEY),
)
flarelist_job = dg.define_asset_job(
    "flarelist_job", selection=dg.AssetSelection.assets(FLARELIST_KEY)
)


MAX_DAILY_REQUESTS = 60
"""Runs one tick of the daily schedule requests per product (newest days first); a larger backlog
(the first run on an old archive) continues on the next ticks, or by a backfill."""


def build_daily_schedule(cron: str = "0 8 * * *") -> dg.ScheduleDefinition:
    """The daily products schedule at ``cron`` (UTC; setting ``[schedules] daily``)."""

    @dg.schedule(
        cron_schedule=cron,
        job=daily_products_job,
        execution_timezone="UTC",
        name="daily_products_schedule",
    )
    def daily_products_schedule(
        context: dg.ScheduleEvaluationContext, stix: StixSettings
    ) -> dg.SkipReason | list[dg.RunRequest]:
        """ANC and LL03 for every day whose L1 input is newer than its product.

        STIXCore's daily candidate rules (`stix_assets.core.daily_candidates`): ANC waits until the
        flown meta-kernel is dated a day after the data end, LL03 until the day is complete (or a month
        old). One run per product and day; the run key carries the tick, so a failed day is retried on
        the next tick.
        """
        catalog = _catalog(stix)
        if catalog is None:
            return dg.SkipReason(f"no catalog at {stix.catalog_file()}: nothing processed yet")
        now = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        flown, _ = latest_meta_kernels(stix.settings().kernel_dir)
        flown_date = flown.mk_date if flown else None
        tick = now.astimezone(dt.UTC).date().isoformat()
        requests = []
        for key, rule in ((ANC_ASPECT_KEY, ANC_RULE), (LL03_KEY, LL03_RULE)):
            days = daily_candidates(catalog, rule, flown_mk_date=flown_date, now=now)
            if len(days) > MAX_DAILY_REQUESTS:
                context.log.info(
                    "%s: %d days due, %d requested (newest first)",
                    key.to_user_string(), len(days), MAX_DAILY_REQUESTS,
                )  # fmt: skip
            requests.extend(
                dg.RunRequest(
                    run_key=f"daily:{tick}:{key.to_user_string()}:{day.isoformat()}",
                    partition_key=day.isoformat(),
                    asset_selection=[key],
                )
                for day in sorted(days, reverse=True)[:MAX_DAILY_REQUESTS]
            )
        if not requests:
            return dg.SkipReason(f"no day needs ANC or LL03 (flown meta-kernel {flown_date})")
        return requests

    return daily_products_schedule


daily_products_schedule = build_daily_schedule()


@dg.schedule(
    cron_schedule="30 8 * * *",
    job=flarelist_job,
    execution_timezone="UTC",
    name="flarelist_schedule",
)
def flarelist_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """At 08:30 UTC: the flare list of the month holding yesterday (rewritten daily)."""
    now = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = (now.astimezone(dt.UTC) - dt.timedelta(days=1)).date()
    key = day.replace(day=1).isoformat()
    return dg.RunRequest(run_key=f"flarelist-{day.isoformat()}", partition_key=key)


DAILY_ASSETS = [anc_aspect, plots_ql_lightcurve, l3_flarelist]
DAILY_JOBS = [daily_products_job, flarelist_job]
DAILY_SCHEDULES = [daily_products_schedule, flarelist_schedule]
