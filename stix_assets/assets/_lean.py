"""Lean materialization events: every event's metadata stays under `EVENT_METADATA_LIMIT_BYTES`.

Dagster keeps every event forever (1.13 has no event-log retention) and the UI loads the metadata
of each partition it shows, so a list that grows with the days, or an inlined plot, costs on every
page and in every backup. The full lists live in the catalog and the manifest; an event keeps the
first entries and the count (docs/decisions.md, "Lean events").
"""

import json
from collections.abc import Collection, Mapping, Sequence

import dagster as dg

__all__ = ["EVENT_METADATA_LIMIT_BYTES", "LIST_HEAD", "head", "lean_metadata", "metadata_bytes"]

EVENT_METADATA_LIMIT_BYTES = 8192
"""Largest serialized metadata of one event."""
_BUDGET_BYTES = 7168
"""What `lean_metadata` aims for: leaves room for the keys a range run adds to each day."""
LIST_HEAD = 10
"""Entries a list keeps in metadata when it is cut."""


def head(items: Sequence[object], n: int = LIST_HEAD) -> list[object]:
    """The first ``n`` entries of a list (pair it with a count key)."""
    return list(items[:n])


def metadata_bytes(metadata: Mapping[str, object]) -> int:
    """Size of the metadata as Dagster stores it (serialized normalized values)."""
    normalized = dg.AssetMaterialization("size_probe", metadata=dict(metadata)).metadata
    return len(dg.serialize_value(dict(normalized)))


def _collection(value: object) -> list | dict | None:
    raw = getattr(value, "value", value) if isinstance(value, dg.JsonMetadataValue) else value
    return raw if isinstance(raw, list | dict) else None


def _first_half(items: list | dict) -> list | dict:
    n = max(1, len(items) // 2)
    return items[:n] if isinstance(items, list) else dict(list(items.items())[:n])


def lean_metadata(
    metadata: Mapping[str, object], *, keep: Collection[str] = ()
) -> dict[str, object]:
    """Cut the longest lists in ``metadata`` until it fits the budget; ``keep`` is never cut.

    A cut list (or JSON object) keeps its first entries and gets ``<key>_total`` (its full
    length). If that cannot make it fit, inlined markdown (an image) gives way; its path entry
    stays. Metadata that already fits is returned unchanged.
    """
    out = dict(metadata)
    while metadata_bytes(out) > _BUDGET_BYTES:
        cuttable = {
            k: c
            for k, c in ((k, _collection(v)) for k, v in out.items())
            if c is not None and len(c) > 1 and k not in keep
        }
        if cuttable:
            longest = max(cuttable, key=lambda k: len(json.dumps(cuttable[k], default=str)))
            out.setdefault(f"{longest}_total", len(cuttable[longest]))
            out[longest] = dg.MetadataValue.json(_first_half(cuttable[longest]))
            continue
        markdown = [k for k, v in out.items() if isinstance(v, dg.MarkdownMetadataValue)]
        if not markdown:
            break  # nothing left to cut: the caller's own fields are too big
        out.pop(markdown[0])
    return out
