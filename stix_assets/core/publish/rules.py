"""The per-file delivery rules: STIXCore's (domain reference 10.3) plus lineage versions.

`decide` follows STIXCore's order: future guard, blacklist, then the ESA-name rules:

* no other decision with the ESA name -> PUBLISHED;
* another decision with the ESA name and the same DATA -> IGNORED (re-requested data);
* different DATA -> supplement ``-sup<n>`` (n = earlier supplements + 1) -> MODIFIED, delivered to
  the target under the supplement name; the third clash (n > 2) is copied to the same-ESA-name
  folder, recorded as IGNORED (as STIXCore) and reported as ERROR ("max supplement error").

Lineage-tracked versions (new). A product is identified by its name without version and status
(`SoarName.identity`). If that identity was delivered before:

* with the same DATA -> IGNORED, nothing is delivered again;
* with different DATA (the file changed after delivery) -> delivered again with version
  ``max(own version, highest delivered version + 1)``: the ``V<NN>`` of the name and the
  ``VERSION`` keyword go up, the row's ``supersedes`` names the earlier delivery. A SOAR file is
  never overwritten.

SVG files clashing on the ESA name are IGNORED (STIXCore did nothing with them).
"""

from dataclasses import dataclass

from stix_assets.core.publish.history import DELIVERED, PublishHistory
from stix_assets.core.publish.names import SoarName

__all__ = ["MAX_SUPPLEMENTS", "Decision", "decide"]

MAX_SUPPLEMENTS = 2


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one candidate (`decide`).

    ``skip`` is the short reason key of a decision not to deliver (IGNORED, BLACKLISTED), the
    same for every file skipped for that reason (``reason`` may name the other file).
    """

    report: str
    result: int
    reason: str
    published: SoarName
    delivered: SoarName | None = None
    supersedes: str | None = None
    base_file: str | None = None
    supplement: int | None = None
    conflict_copy: bool = False
    skip: str | None = None


def _lineage(
    name: SoarName, dv: str, history: PublishHistory
) -> tuple[int, str | None, str | None]:
    """(version to publish, supersedes, name already delivered with the same data)."""
    complete = name.complete()
    rows = [r for r in history.by_identity(complete.identity) if r["result"] in DELIVERED]
    if not rows:
        return complete.version, None, None
    same = [r for r in rows if r.get("data_version") == dv]
    if same:
        return same[-1]["version"], None, same[-1]["delivered_name"]
    latest = max(rows, key=lambda r: (r["version"], r["p_date"]))
    return max(complete.version, latest["version"] + 1), latest["delivered_name"], None


def decide(
    name: SoarName,
    *,
    data_version: str,
    is_future: bool,
    history: PublishHistory,
    blacklist: frozenset[str] = frozenset(),
) -> Decision:
    """Decide one candidate from the history (domain reference 10.3 + lineage versions).

    Parameters
    ----------
    name : the archive file name
    data_version : `data_version` of the file
    is_future : the data start more than `FUTURE_LIMIT` after now
    history : the publish history (read only here)
    blacklist : file names never delivered (archive or delivered name)
    """
    version, supersedes, same_as = _lineage(name, data_version, history)
    published = name.complete().with_version(version)
    if is_future:
        why = "data start more than 7 days in the future"
        return Decision("IGNORED", 11, why, published, skip=why)
    if {name.name, name.complete().name, published.name} & blacklist:
        return Decision("BLACKLISTED", 13, "blacklisted", published, skip="blacklisted")
    if same_as is not None:
        why = f"same data already delivered as {same_as}"
        return Decision("IGNORED", 11, why, published, skip="same data already delivered")
    identity = published.identity
    others = [r for r in history.by_esaname(published.esaname) if r.get("identity") != identity]
    if not others:
        return Decision("PUBLISHED", 10, "", published, published, supersedes)
    if not published.is_fits:
        why = "same ESA name (not FITS)"
        return Decision("IGNORED", 11, why, published, skip=why)
    same = [r for r in others if r.get("data_version") == data_version]
    if same:
        why = f"re-requested data: same DATA as {same[0]['name']}"
        return Decision("IGNORED", 11, why, published, skip="re-requested data")
    n = sum(1 for r in others if r.get("modified_esaname")) + 1
    if n > MAX_SUPPLEMENTS:
        return Decision("ERROR", 11, "max supplement error", published, conflict_copy=True)
    return Decision(
        "MODIFIED",
        12,
        f"supplement {n} of {others[0]['name']}",
        published,
        published.supplement(n),
        supersedes,
        base_file=others[0]["name"],
        supplement=n,
    )
