"""SOAR delivery in Dagster: asset ``soar/delivery`` per UTC day, its job and the 05:00 schedule.

A partition is the UTC day in the product file names (`SoarName.product_day`; SCET days of
LB/L0 names taken as UTC dates). The schedule ticks at 05:00 UTC (STIXCore's cron) and requests
every day that has files due now (past their waiting period, not yet decided in the history),
one run per day; files without a date in their name (LB BSD) are published by
``stix-assets publish`` only. The metadata counts the files delivered, refused (failed checksum
verification, issue 10), failed and skipped (``n_*``, ``skipped_by_reason``); each refused or
failed file is also a warning in the run's log. The asset uses the pool ``soar_publish`` (limit 1 in
``dagster.yaml``) so two deliveries never run at once.
"""

import contextlib
import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from stix_assets.assets._lean import lean_metadata
from stix_assets.core.catalog import Catalog
from stix_assets.core.manifest import write_manifest
from stix_assets.core.publish import (
    DEFAULT_RID_LUT_URL,
    PublishConfig,
    PublishFilters,
    PublishHistory,
    PublishReport,
    make_target,
    publish_archive,
    read_rid_lut,
    select_candidates,
    update_rid_lut,
)
from stix_assets.core.spice import KernelStore, LoadedKernels, loaded_kernels
from stix_assets.partitions import utc_days
from stix_assets.resources import StixSettings

__all__ = [
    "PUBLISH_ASSETS",
    "PUBLISH_JOBS",
    "PUBLISH_SCHEDULES",
    "PublishSettings",
    "build_publish_schedule",
    "publish_job",
    "soar_delivery",
    "soar_delivery_schedule",
]

SOAR_DELIVERY = dg.AssetKey(["soar", "delivery"])


class PublishSettings(dg.ConfigurableResource):
    """Options of the SOAR delivery (the ``[Publish]`` section of STIXCore's ini)."""

    target_dir: str | None = None
    target_host: str = "localhost"
    same_esa_name_dir: str | None = None
    rid_lut_file: str | None = None
    update_rid_lut: bool = False
    rid_lut_url: str = DEFAULT_RID_LUT_URL
    blacklist_file: str | None = None
    supplement_report: str | None = None
    waiting_period: str = "14d"
    ll_waiting_period: str = "1min"
    include_versions: str = "*"
    include_levels: str = "L0, L1, L2, ANC, LL03, CAL"
    include_products: str = "ql,hk,sci,asp,cal"
    batch_size: int = -1
    sort_files: bool = True
    spice_dir: str | None = None
    lock_timeout_s: float = 30.0

    def filters(self) -> PublishFilters:
        """Candidate selection options."""
        return PublishFilters.from_text(
            include_versions=self.include_versions,
            include_levels=self.include_levels,
            include_products=self.include_products,
            waiting_period=self.waiting_period,
            ll_waiting_period=self.ll_waiting_period,
            batch_size=self.batch_size,
            sort_files=self.sort_files,
        )

    def config(self, archive: Path, product_day: date | None, *, today: date) -> PublishConfig:
        """The core configuration of one run.

        Raises
        ------
        dg.Failure
            If no target folder is configured.
        """
        if not self.target_dir:
            raise dg.Failure("soar: target_dir is not configured")
        lut = None
        if self.rid_lut_file:
            path = Path(self.rid_lut_file)
            update = self.update_rid_lut or not path.exists()
            lut = (
                update_rid_lut(path, self.rid_lut_url, today=today)
                if update
                else read_rid_lut(path)
            )
        blacklist = (
            frozenset(Path(self.blacklist_file).read_text("utf-8").split())
            if self.blacklist_file
            else frozenset()
        )
        target = Path(self.target_dir)
        return PublishConfig(
            fits_dir=archive,
            target=make_target(target, self.target_host),
            same_esa_name_dir=Path(self.same_esa_name_dir or target.parent / "esa_conflicts"),
            filters=self.filters(),
            rid_lut=lut,
            blacklist=blacklist,
            supplement_report=Path(self.supplement_report) if self.supplement_report else None,
            product_day=product_day,
        )

    @contextlib.contextmanager
    def kernels(self) -> Iterator[LoadedKernels | None]:
        """The latest flown meta-kernel loaded for the block (None without ``spice_dir``)."""
        if not self.spice_dir:
            yield None
            return
        with loaded_kernels(KernelStore(Path(self.spice_dir)), flown_only=True) as kernels:
            yield kernels


def _metadata(report: PublishReport, day: date) -> dict[str, object]:
    meta = report.as_metadata()
    totals = report.totals()
    # the publish history (catalog) has every decision; the event keeps the counts and the
    # first files of each list
    return lean_metadata(
        {
            "utc_day": day.isoformat(),
            "summary": meta["summary"],
            **{f"n_{key}": value for key, value in totals.items()},
            "counts": dg.MetadataValue.json(meta["counts"]),
            "skipped_by_reason": dg.MetadataValue.json(meta["skipped_by_reason"]),
            "delivered": dg.MetadataValue.json(meta["delivered"]),
            "refused": dg.MetadataValue.json(meta["refused"]),
            "skipped": dg.MetadataValue.json(meta["skipped"]),
            "conflicted": dg.MetadataValue.json(meta["conflicted"]),
            "reconciled": dg.MetadataValue.json(meta["reconciled"]),
            "not_due": dg.MetadataValue.json(meta["not_due_by_reason"]),
            "waiting_files": dg.MetadataValue.json(meta["waiting_files"]),
        }
    )


@dg.asset(
    key=SOAR_DELIVERY,
    partitions_def=utc_days,
    group_name="publish",
    kinds={"fits"},
    pool="soar_publish",
)
def soar_delivery(
    context: dg.AssetExecutionContext, stix: StixSettings, soar: PublishSettings
) -> dg.MaterializeResult:
    """Files of one UTC day delivered to ESA SOAR (decided, transferred and recorded)."""
    day = date.fromisoformat(context.partition_key)
    now = datetime.now(UTC)
    config = soar.config(stix.archive_root(), day, today=now.date())
    catalog = Catalog(
        stix.catalog_location(),
        archive_root=stix.archive_root(),
        lock_timeout_s=soar.lock_timeout_s,
        read_timeout_s=soar.lock_timeout_s,
    )
    with soar.kernels() as kernels:
        report = publish_archive(
            config, catalog, now=now, kernels=kernels, run_id=context.run.run_id
        )
    if not config.dry_run:
        write_manifest(catalog)  # the manifest's published_as of the files delivered now
    context.log.info("soar delivery utc_day=%s summary=%s", day, report.summary())
    for o in report.of("REFUSED", "ERROR"):
        context.log.warning("soar %s file=%s reason=%s", o.report.lower(), o.source, o.reason)
    delivered = sorted(f"{o.delivered_name}:{o.data_version}" for o in report.outcomes)
    return dg.MaterializeResult(
        metadata=_metadata(report, day),
        data_version=dg.DataVersion(hashlib.sha256("\n".join(delivered).encode()).hexdigest()),
    )


publish_job = dg.define_asset_job(
    "publish_job", selection=dg.AssetSelection.assets(SOAR_DELIVERY), tags={"stix/trigger": "soar"}
)


def plan_publish_days(
    archive: Path, catalog: Catalog, settings: PublishSettings, *, now: datetime
) -> list[date]:
    """UTC days that have files due for a delivery decision now (sorted)."""
    history = PublishHistory(catalog, dry_run=True)
    selection = select_candidates(
        archive,
        settings.filters(),
        now=now.timestamp(),
        decided=history.decided(),
        decided_names=history.imported_names(),
    )
    days = {c.name.product_day() for c in selection.candidates}
    return sorted(d for d in days if d is not None)


def build_publish_schedule(cron: str = "0 5 * * *") -> dg.ScheduleDefinition:
    """The SOAR delivery schedule at ``cron`` (UTC; setting ``[schedules] publish``)."""

    @dg.schedule(
        cron_schedule=cron, job=publish_job, execution_timezone="UTC", name="publish_schedule"
    )
    def soar_delivery_schedule(
        context: dg.ScheduleEvaluationContext, stix: StixSettings, soar: PublishSettings
    ) -> list[dg.RunRequest] | dg.SkipReason:
        """One run per UTC day with files due for SOAR delivery."""
        now = context.scheduled_execution_time or datetime.now(UTC)
        catalog = Catalog(
            stix.catalog_location(), archive_root=stix.archive_root(),
            lock_timeout_s=soar.lock_timeout_s, read_timeout_s=soar.lock_timeout_s,
        )  # fmt: skip
        days = plan_publish_days(stix.archive_root(), catalog, soar, now=now)
        if not days:
            return dg.SkipReason("no files due for SOAR delivery")
        tick = now.strftime("%Y%m%dT%H%M")
        return [
            dg.RunRequest(run_key=f"soar-{d.isoformat()}-{tick}", partition_key=d.isoformat())
            for d in days
        ]

    return soar_delivery_schedule


soar_delivery_schedule = build_publish_schedule()


PUBLISH_ASSETS = [soar_delivery]
PUBLISH_JOBS = [publish_job]
PUBLISH_SCHEDULES = [soar_delivery_schedule]
