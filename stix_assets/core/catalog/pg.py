"""A PostgreSQL connection that runs the catalog's SQL as the stores write it for DuckDB.

The stores write one SQL text for both backends (the subset the two share: ``= ANY(array)``,
``ON CONFLICT (key) DO UPDATE``, ``array_agg``, casts like ``?::TIMESTAMP``). What differs is
handled here, once:

* parameters: the stores write ``?``; psycopg's raw cursor takes PostgreSQL's own ``$1, $2, ...``
  (`numbered_parameters` rewrites them outside quoted text and comments; no ``%`` escaping is
  needed with the raw cursor);
* results: ``json`` columns are returned as text, as DuckDB returns them, so a reader decodes
  them the same way on both;
* transactions are explicit (``BEGIN ...``/``COMMIT`` on an autocommit connection), like the
  DuckDB code path.

psycopg is imported only here, and only when a PostgreSQL catalog is opened.
"""

from typing import Any

__all__ = ["PgConnection", "connect", "numbered_parameters"]

_CONNECT_TIMEOUT_S = 10


def numbered_parameters(sql: str) -> str:
    """Rewrite ``?`` placeholders as ``$1, $2, ...``, leaving quoted text and comments alone.

    >>> numbered_parameters("SELECT '?', x FROM t WHERE a = ? AND b = ? -- why?")
    "SELECT '?', x FROM t WHERE a = $1 AND b = $2 -- why?"
    """
    out: list[str] = []
    n = 0
    i = 0
    quote: str | None = None
    while i < len(sql):
        ch = sql[i]
        if quote is not None:
            out.append(ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            out.append(sql[i:end])
            i = end
            continue
        elif ch == "?":
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


class PgConnection:
    """One psycopg connection that speaks the DuckDB connection's ``execute`` (``?`` parameters).

    Use it as a context manager; `close` ends the connection.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Any = None) -> Any:
        """Execute one statement (or, without parameters, several); return the cursor."""
        cur = self.raw.cursor()
        if params:
            cur.execute(numbered_parameters(sql), list(params))
        else:
            cur.execute(sql)
        return cur

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by the server)."""
        self.raw.close()

    def __enter__(self) -> "PgConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str) -> PgConnection:
    """Open an autocommit connection to the catalog database at ``url``.

    Raises
    ------
    psycopg.OperationalError
        If the server cannot be reached or refuses the login.
    """
    import psycopg
    from psycopg.types.string import TextLoader

    raw = psycopg.connect(
        url,
        autocommit=True,
        cursor_factory=psycopg.RawCursor,
        connect_timeout=_CONNECT_TIMEOUT_S,
        application_name="stix-assets",
        options="-c client_min_messages=warning -c TimeZone=UTC",
    )
    for name in ("json", "jsonb"):  # as text, as DuckDB returns its JSON columns
        raw.adapters.register_loader(name, TextLoader)
    return PgConnection(raw)
