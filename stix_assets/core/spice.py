"""SPICE kernel store, meta-kernel loading, the SCLK model and kernel coverage.

SPICE keeps its kernel pool in process-global state that is not thread-safe (sunpy's
``coordinates/spice.py`` says the same). This module is the only one that changes that state:
`loaded_kernels` clears the pool, furnishes the meta-kernels and clears the pool again on exit, and
only one kernel set may be active per process. Run parallel work in processes, not threads.

Kernel tree (SOC layout): ``<root>/{ck,fk,ik,lsk,mk,pck,sclk,spk}``. Only meta-kernels are loaded:
the latest ``mk/solo_ANC_soc-pred-mk_*.tm`` first, then the latest ``mk/solo_ANC_soc-flown-mk_*.tm``
(later kernels win where both cover a time); "latest" is the alphabetically greatest name,
case-insensitive, as in STIXCore. SOC meta-kernels hold a relative ``PATH_VALUES = ( '..' )``;
`absolute_meta_kernel` writes a twin with the absolute kernel root in a scratch folder, so the
kernel tree itself is never written to (STIXCore writes ``<mk>.abs`` next to the original).

What is read from the pool at load time is kept as plain data in `LoadedKernels`: the type-1
SCLK coefficients (`SclkModel`, used by `stix_assets.core.time` with numpy, no SPICE call per
time) and the SPK/CK coverage windows (used by `coverage`). Both stay valid after unloading.
"""

import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import spiceypy

from stix_assets.core.errors import SpiceKernelError
from stix_assets.core.time import SclkModel

__all__ = [
    "KERNEL_SUBDIRS",
    "SOLO_NAIF_ID",
    "SOLO_SRF_FRAME_ID",
    "KernelStore",
    "LoadedKernels",
    "MetaKernel",
    "SpiceKernelError",
    "Window",
    "absolute_meta_kernel",
    "active_kernels",
    "kernel_set_name",
    "latest_meta_kernels",
    "loaded_kernels",
    "meta_kernel_date",
    "read_meta_kernel",
    "unzip_kernel_zips",
]

logger = logging.getLogger(__name__)

SOLO_NAIF_ID = -144
SOLO_SRF_FRAME_ID = -144000  # spacecraft reference frame; attitude CKs give its orientation
KERNEL_SUBDIRS = ("ck", "fk", "ik", "lsk", "mk", "pck", "sclk", "spk")

_FLOWN_MK = re.compile(r"^solo_anc_soc-flown-mk_.*\.tm$")
_PRED_MK = re.compile(r"^solo_anc_soc-pred-mk_.*\.tm$")
_MK_DATE = re.compile(r"solo_ANC_soc.*_(\d{4})(\d{2})(\d{2})_.*\.tm", re.IGNORECASE)
_PATH_VALUES = re.compile(r"PATH_VALUES\s*=\s*\(\s*'[^']*'\s*\)")
_MK_PIECE = 78  # SPICE string values are limited to 80 characters; 78 + '+' continuation
_SPICE_MAX_PATH = 255  # longest PATH_VALUES entry furnsh accepts
_ZIP_LEDGER = ".extracted_zips"
_BODIES_NEEDED = (SOLO_NAIF_ID, 399, 10)  # SOLO, Earth, Sun: what the ephemeris keywords use

Window = tuple[float, float]  # [start, end] in ephemeris seconds past J2000 (TDB)


@dataclass(frozen=True, slots=True)
class MetaKernel:
    """One SOC meta-kernel file.

    Attributes
    ----------
    path : the original file in the kernel tree
    kind : ``"flown"`` or ``"predicted"``
    mk_date : the ``_YYYYMMDD_`` date in the name; ``None`` when the name has none (STIXCore
        substitutes 2019-01-01, which we treat the same way: older than any real date)
    """

    path: Path
    kind: str
    mk_date: date | None

    @property
    def name(self) -> str:
        """File name, as written to ``SPICE_MK``."""
        return self.path.name


def meta_kernel_date(name: str) -> date | None:
    """Date of a SOC meta-kernel from the ``_YYYYMMDD_`` in its name.

    >>> meta_kernel_date("solo_ANC_soc-flown-mk_V105_20200515_001.tm")
    datetime.date(2020, 5, 15)
    """
    found = _MK_DATE.search(name)
    if not found:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def read_meta_kernel(path: Path) -> MetaKernel:
    """Describe a meta-kernel file (kind from ``-flown-``/``-pred-`` in the name, date)."""
    path = Path(path)
    kind = "flown" if "-flown-" in path.name.lower() else "predicted"
    return MetaKernel(path=path, kind=kind, mk_date=meta_kernel_date(path.name))


def latest_meta_kernels(root: Path) -> tuple[MetaKernel | None, MetaKernel | None]:
    """Return the latest flown and predicted meta-kernel under ``root/mk`` (or ``None``).

    "Latest" is the alphabetically greatest file name, compared case-insensitively.
    """
    mk_dir = Path(root) / "mk"
    names = sorted((p for p in mk_dir.glob("*") if p.is_file()), key=lambda p: p.name.lower())
    flown = [p for p in names if _FLOWN_MK.match(p.name.lower())]
    pred = [p for p in names if _PRED_MK.match(p.name.lower())]
    return (
        read_meta_kernel(flown[-1]) if flown else None,
        read_meta_kernel(pred[-1]) if pred else None,
    )


def _wrap_path_value(value: str) -> str:
    """``PATH_VALUES`` literal for ``value``, cut in pieces of <= 78 characters with ``+``."""
    quoted = value.replace("'", "''")
    pieces = [quoted[i : i + _MK_PIECE] for i in range(0, len(quoted), _MK_PIECE)] or [""]
    # a doubled quote must not be split across pieces
    for i in range(len(pieces) - 1):
        if pieces[i].endswith("'") and not pieces[i].endswith("''"):
            pieces[i], pieces[i + 1] = pieces[i][:-1], "'" + pieces[i + 1]
    literals = [f"'{p}+'" for p in pieces[:-1]] + [f"'{pieces[-1]}'"]
    return "\n                        ".join(literals)


def absolute_meta_kernel(mk: Path, out_dir: Path) -> Path:
    """Write a twin of ``mk`` whose ``PATH_VALUES`` is the absolute kernel root.

    The kernel root is the parent of the meta-kernel's folder. The value is split into pieces of
    at most 78 characters joined by SPICE's ``+`` continuation (string values are limited to 80
    characters). The twin keeps the original file name and is written to ``out_dir``.

    Raises
    ------
    SpiceKernelError
        If the meta-kernel has no single-valued ``PATH_VALUES`` assignment, or the kernel root is
        longer than the 255 characters SPICE accepts.
    """
    mk = Path(mk)
    text = mk.read_text(encoding="ascii", errors="strict")
    if not _PATH_VALUES.search(text):
        raise SpiceKernelError("meta-kernel has no PATH_VALUES = ( '...' )", path=str(mk))
    root = os.path.dirname(os.path.dirname(os.path.abspath(mk)))  # symlinks kept as given
    if len(root) > _SPICE_MAX_PATH:
        raise SpiceKernelError(
            f"kernel root longer than SPICE's {_SPICE_MAX_PATH} characters", path=root
        )
    new = _PATH_VALUES.sub(
        lambda _: f"PATH_VALUES       = ( {_wrap_path_value(root)} )", text, count=1
    )
    out = Path(out_dir) / mk.name
    out.write_text(new, encoding="ascii")
    return out


def _read_ledger(root: Path) -> set[str]:
    ledger = root / _ZIP_LEDGER
    return set(ledger.read_text().split()) if ledger.is_file() else set()


def _member_target(name: str) -> Path | None:
    """Relative path of a zip member inside the kernel root (``kernels/`` prefix dropped)."""
    parts = [p for p in Path(name).parts if p not in ("", ".")]
    if parts and parts[0] == "kernels":
        parts = parts[1:]
    if not parts or name.endswith("/"):
        return None
    if Path(name).is_absolute() or ".." in parts:
        raise SpiceKernelError("zip member escapes the kernel root", path=name)
    return Path(*parts)


def _extract_one(zip_path: Path, root: Path) -> list[Path]:
    """Extract one zip into a scratch folder under ``root``, then move the files into place."""
    with tempfile.TemporaryDirectory(prefix=".unzip-", dir=root) as scratch:
        moves: list[tuple[Path, Path]] = []
        try:
            with zipfile.ZipFile(zip_path) as archive:
                bad = archive.testzip()
                if bad is not None:
                    raise SpiceKernelError(
                        f"corrupt member {bad} in kernel zip", path=str(zip_path)
                    )
                for info in archive.infolist():
                    rel = _member_target(info.filename)
                    if rel is None:
                        continue
                    tmp = Path(scratch) / rel
                    tmp.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as src, tmp.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                    moves.append((tmp, root / rel))
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise SpiceKernelError(f"cannot read kernel zip: {err}", path=str(zip_path)) from err
        for tmp, final in moves:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
    return [final for _, final in moves]


def unzip_kernel_zips(zips: Iterable[Path], root: Path) -> list[Path]:
    """Extract SOC kernel zips (``solo_ANC*20*zip``) into the kernel tree, each exactly once.

    A zip's members are written to a scratch folder first and moved into place only after the
    whole archive was read and its CRCs checked, so a corrupt zip leaves nothing behind. A leading
    ``kernels/`` folder in member names (SOC layout) is dropped. Extracted zip names are recorded
    in ``root/.extracted_zips``; zips listed there are skipped.

    Parameters
    ----------
    zips : paths of zip files (names not matching ``solo_ANC*20*zip`` are ignored)
    root : the kernel root (``ck fk ik ...`` below it)

    Returns
    -------
    list of Path : the kernel files written, in extraction order.

    Raises
    ------
    SpiceKernelError
        Naming the zip, if it is not a readable zip archive or a member fails its CRC check.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    done = _read_ledger(root)
    written: list[Path] = []
    for zip_path in sorted(Path(z) for z in zips):
        if not re.fullmatch(r"solo_ANC.*20.*zip", zip_path.name) or zip_path.name in done:
            continue
        files = _extract_one(zip_path, root)
        with (root / _ZIP_LEDGER).open("a") as ledger:
            ledger.write(zip_path.name + "\n")
        done.add(zip_path.name)
        logger.info("kernel zip extracted zip=%s files=%d", zip_path.name, len(files))
        written.extend(files)
    return written


@dataclass(frozen=True, slots=True)
class KernelStore:
    """A SOC kernel tree on disk (``ck fk ik lsk mk pck sclk spk`` under ``root``)."""

    root: Path

    def latest_meta_kernels(self) -> tuple[MetaKernel | None, MetaKernel | None]:
        """Latest (flown, predicted) meta-kernels; see `latest_meta_kernels`."""
        return latest_meta_kernels(self.root)

    def unzip(self, zips: Iterable[Path]) -> list[Path]:
        """Extract new SOC kernel zips into this tree; see `unzip_kernel_zips`."""
        return unzip_kernel_zips(zips, self.root)


def kernel_set_name(store: KernelStore, *, flown_only: bool = False) -> str | None:
    """``SPICE_MK`` value that `loaded_kernels` would give for the store now, without loading.

    Lists ``mk/`` only, so a sensor can tell whether the kernel set changed in milliseconds. The
    meta-kernel names are the set's identity: SOC never rewrites a meta-kernel in place, a new
    set gets a new name. ``None`` when the store holds no meta-kernel.
    """
    flown, pred = store.latest_meta_kernels()
    chosen = [mk for mk in ((None if flown_only else pred), flown) if mk is not None]
    return ", ".join(mk.name for mk in chosen) or None


def _read_sclk_model(naif_id: int) -> SclkModel:
    """Read the loaded type-1 SCLK kernel of ``naif_id`` from the kernel pool."""
    sc = -naif_id
    try:
        kind = int(spiceypy.gipool(f"SCLK_DATA_TYPE_{sc}", 0, 1)[0])
        moduli = spiceypy.gdpool(f"SCLK01_MODULI_{sc}", 0, 10)
        coeffs = spiceypy.gdpool(f"SCLK01_COEFFICIENTS_{sc}", 0, 300_000)
        system = int(spiceypy.gipool(f"SCLK01_TIME_SYSTEM_{sc}", 0, 1)[0])
        starts = spiceypy.gdpool(f"SCLK_PARTITION_START_{sc}", 0, 1000)
        ends = spiceypy.gdpool(f"SCLK_PARTITION_END_{sc}", 0, 1000)
    except spiceypy.utils.exceptions.SpiceyError as err:
        raise SpiceKernelError(f"no usable SCLK kernel for NAIF id {naif_id}: {err}") from err
    if kind != 1 or len(starts) != 1 or starts[0] != 0.0:
        raise SpiceKernelError(
            f"SCLK for NAIF id {naif_id} must be type 1 with one partition starting at 0"
        )
    table = np.asarray(coeffs, dtype=np.float64).reshape(-1, 3)
    return SclkModel(
        naif_id=naif_id,
        ticks=table[:, 0].copy(),
        parallel=table[:, 1].copy(),
        rate=table[:, 2].copy(),
        ticks_per_count=int(np.prod(moduli[1:])),
        time_scale="tt" if system == 2 else "tdb",
        partition_end=float(ends[0]),
    )


@dataclass(frozen=True, slots=True)
class LoadedKernels:
    """What one `loaded_kernels` context loaded, as plain data.

    Attributes
    ----------
    meta_kernels : in load order (predicted first, then flown)
    sclk : the SOLO SCLK model read from the pool
    spk_windows : ``{body: ((start, end, kind), ...)}`` for SOLO, Earth and Sun, where ``kind`` is
        the kind of the meta-kernel that loaded the SPK (later entries have priority)
    ck_windows : attitude coverage of the spacecraft frame (SOLO_SRF), merged
    token : identifies the load; `active_kernels` compares it
    """

    meta_kernels: tuple[MetaKernel, ...]
    sclk: SclkModel
    spk_windows: dict[int, tuple[tuple[float, float, str], ...]]
    ck_windows: tuple[Window, ...]
    token: int

    @property
    def spice_mk(self) -> str:
        """Value of the ``SPICE_MK`` header keyword: meta-kernel names in load order."""
        return ", ".join(mk.name for mk in self.meta_kernels)

    @property
    def data_version(self) -> str:
        """A data-version string for the kernel set (the meta-kernel names)."""
        return self.spice_mk

    @property
    def flown_mk_date(self) -> date | None:
        """Date of the loaded flown meta-kernel (``None`` when none or undated)."""
        dates = [mk.mk_date for mk in self.meta_kernels if mk.kind == "flown" and mk.mk_date]
        return max(dates) if dates else None

    def is_active(self) -> bool:
        """Whether these kernels are the ones in the SPICE pool right now."""
        return _ACTIVE.get("token") == self.token

    def as_metadata(self) -> dict[str, object]:
        """Plain values for asset metadata."""
        return {
            "spice_mk": self.spice_mk,
            "flown_mk_date": str(self.flown_mk_date) if self.flown_mk_date else None,
            "sclk_last_correlation_ticks": self.sclk.last_correlation_ticks,
        }


_ACTIVE: dict[str, int] = {}  # the single piece of module state: token of the loaded set
_COUNTER = [0]


def active_kernels(kernels: LoadedKernels) -> LoadedKernels:
    """Return ``kernels`` if they are loaded in the SPICE pool, else raise `SpiceKernelError`."""
    if not kernels.is_active():
        raise SpiceKernelError("kernel set is not loaded (use it inside loaded_kernels)")
    return kernels


def _windows_of(cover: object) -> list[Window]:
    return [tuple(spiceypy.wnfetd(cover, i)) for i in range(spiceypy.wncard(cover))]


def _spk_windows(source_kind: dict[str, str]) -> dict[int, tuple[tuple[float, float, str], ...]]:
    out: dict[int, list[tuple[float, float, str]]] = {b: [] for b in _BODIES_NEEDED}
    for i in range(spiceypy.ktotal("SPK")):
        file, _, source, _ = spiceypy.kdata(i, "SPK")
        kind = source_kind.get(source, "explicit")
        for body in set(spiceypy.spkobj(file)) & set(_BODIES_NEEDED):
            out[body].extend((a, b, kind) for a, b in _windows_of(spiceypy.spkcov(file, body)))
    return {b: tuple(w) for b, w in out.items()}


def _ck_windows() -> tuple[Window, ...]:
    merged = spiceypy.cell_double(200_000)
    for i in range(spiceypy.ktotal("CK")):
        file = spiceypy.kdata(i, "CK")[0]
        if SOLO_SRF_FRAME_ID in set(spiceypy.ckobj(file)):
            cover = spiceypy.ckcov(file, SOLO_SRF_FRAME_ID, False, "INTERVAL", 0.0, "TDB")
            merged = spiceypy.wnunid(merged, cover)
    return tuple(_windows_of(merged))


def _select(
    store: KernelStore, meta_kernels: Sequence[Path] | None, flown_only: bool
) -> list[MetaKernel]:
    if meta_kernels is not None:
        return [read_meta_kernel(Path(p)) for p in meta_kernels]
    flown, pred = store.latest_meta_kernels()
    chosen = [mk for mk in ((None if flown_only else pred), flown) if mk is not None]
    if not chosen:
        raise SpiceKernelError("no meta-kernel found", path=str(Path(store.root) / "mk"))
    return chosen


@contextmanager
def loaded_kernels(
    store: KernelStore,
    *,
    meta_kernels: Sequence[Path] | None = None,
    flown_only: bool = False,
) -> Iterator[LoadedKernels]:
    """Load the store's latest meta-kernels into SPICE for the duration of the block.

    The pool is cleared (``kclear``) before loading and again on exit. By default the latest
    predicted meta-kernel is loaded first and then the latest flown one, so flown data wins where
    both cover a time; ``flown_only`` loads only the flown one (publishing), and ``meta_kernels``
    loads the given files in the given order instead (an explicit choice, like STIXCore's ``-S``).

    Raises
    ------
    SpiceKernelError
        If another kernel set is already loaded in this process, no meta-kernel is found, a
        meta-kernel cannot be loaded, or the SOLO SCLK kernel is missing or not type 1.
    """
    if _ACTIVE:
        raise SpiceKernelError("a kernel set is already loaded in this process")
    chosen = _select(store, meta_kernels, flown_only)
    _COUNTER[0] += 1
    token = _COUNTER[0]
    spiceypy.kclear()
    _ACTIVE["token"] = token
    try:
        with tempfile.TemporaryDirectory(prefix="stix-mk-") as scratch:
            source_kind: dict[str, str] = {}
            for mk in chosen:
                twin = absolute_meta_kernel(mk.path, Path(scratch))
                try:
                    spiceypy.furnsh(str(twin))
                except spiceypy.utils.exceptions.SpiceyError as err:
                    raise SpiceKernelError(f"cannot load: {err}", path=str(mk.path)) from err
                source_kind[str(twin)] = mk.kind
                logger.info("meta-kernel loaded name=%s kind=%s", mk.name, mk.kind)
            kernels = LoadedKernels(
                meta_kernels=tuple(chosen),
                sclk=_read_sclk_model(SOLO_NAIF_ID),
                spk_windows=_spk_windows(source_kind),
                ck_windows=_ck_windows(),
                token=token,
            )
            yield kernels
    finally:
        spiceypy.kclear()
        _ACTIVE.clear()
