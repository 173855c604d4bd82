"""Where the catalog lives (a DuckDB file or a PostgreSQL database) and which archive it serves.

A catalog location is either a path (the embedded DuckDB file, by default
``<archive>/stix_catalog.duckdb``) or a ``postgresql://user:password@host:port/dbname`` URL
(``[catalog] url`` in the settings, ``STIX_CATALOG_URL``, ``stix-assets process --catalog URL``).

With DuckDB the archive is the folder of the file, so one file never serves two archives by
accident. A database server has no such folder: every archive carries an identity file
``<archive>/.stix_archive_id`` (a random id, made once, atomically) and the database records the
id of the archive it serves in ``catalog_meta``. A host that mounts the shared archive at another
path reads the same id; a second archive has another id and is refused
(`stix_assets.core.errors.CatalogArchiveMismatchError`).
"""

import logging
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ARCHIVE_ID_FILE",
    "SERVER_SCHEMES",
    "archive_identity",
    "catalog_location",
    "is_server_url",
    "redact_url",
]

logger = logging.getLogger(__name__)

SERVER_SCHEMES = ("postgresql", "postgres")
"""URL schemes of a catalog on a PostgreSQL server."""

ARCHIVE_ID_FILE = ".stix_archive_id"
"""Name of the archive's identity file, in the archive root."""


def is_server_url(location: object) -> bool:
    """Tell whether a catalog location is a database server URL (not a DuckDB file path).

    >>> is_server_url("postgresql://stix@db/stix"), is_server_url("/data/stix_catalog.duckdb")
    (True, False)
    """
    if not isinstance(location, str):
        return False
    return urlsplit(location).scheme.lower() in SERVER_SCHEMES


def redact_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (for messages and logs).

    >>> redact_url("postgresql://stix:secret@db:5432/stix")
    'postgresql://stix:***@db:5432/stix'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def catalog_location(settings: Any) -> str | Path:
    """The catalog of the settings: ``catalog_url`` if set, else the DuckDB file ``catalog_path``.

    ``settings`` is a `stix_assets.core.config.Settings` (any object with the two attributes).
    """
    url = getattr(settings, "catalog_url", None)
    return url if url else settings.catalog_path


def archive_identity(root: Path | str) -> str:
    """Return the id of the archive at ``root``, making ``root/.stix_archive_id`` if it is missing.

    Two processes making it at once agree: each writes a temporary file and links it into place,
    and the one whose link fails reads the winner's id.
    """
    root = Path(root)
    target = root / ARCHIVE_ID_FILE
    if target.is_file():
        return target.read_text("ascii").strip()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{ARCHIVE_ID_FILE}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(uuid.uuid4().hex + "\n", "ascii")
    try:
        os.link(tmp, target)
    except FileExistsError:
        logger.debug("archive id made by another process root=%s", root)
    finally:
        tmp.unlink(missing_ok=True)
    return target.read_text("ascii").strip()
