"""Parameter versions of a bank: publish a new one, roll back, read the history.

A version is two files, never rewritten once published:

- ``params/<version>.csv`` — every item's parameters (``item,model,a,b,c,steps,source,n``);
- ``params/<version>.yaml`` — its provenance: data window, model, backend, linking method,
  who approved it, when, and the version it replaced.

``bank.yaml``'s ``params_version`` names the current version; ``params/published.yaml``
logs every publish and rollback in order.  Tests record the version on each answer and
keep the version they started with; the service starts new tests on the current one
(:meth:`lang_assess.programme.service.Service.params_for`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lang_assess.bank.loader import load_bank
from lang_assess.bank.params_csv import write_bank_params_csv
from lang_assess.engine.irt.params import ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.errors import BankError

VERSION = re.compile(r"^[A-Za-z0-9._-]+$")
LOG = "published.yaml"
REQUIRED_PROVENANCE = ("data_window", "model", "backend", "linking", "approved_by")
_CURRENT = re.compile(r"^params_version:.*$", re.M)


def current_cuts(root: str | Path) -> CutScores:
    """The bank's current CEFR cut scores as ``bank.yaml`` has them now."""
    raw = yaml.safe_load((Path(root) / "bank.yaml").read_text(encoding="utf-8"))["cuts"]
    return CutScores(tuple(raw["values"]), tuple(raw.get("labels") or CutScores(
        tuple(raw["values"])).labels))


def current_version(root: str | Path) -> str:
    """The bank's current parameter version (``bank.yaml``'s ``params_version``)."""
    text = (Path(root) / "bank.yaml").read_text(encoding="utf-8")
    return str(yaml.safe_load(text)["params_version"])


def next_version(root: str | Path, prefix: str = "v") -> str:
    """The next free version name: ``v1``, ``v2``, … (``c1``, … with ``prefix="c"`` for cut
    versions)."""
    root = Path(root)
    if prefix == "c":
        raw = yaml.safe_load((root / "bank.yaml").read_text(encoding="utf-8"))
        names = [str(c.get("version", "c0")) for c in [raw["cuts"],
                                                       *raw.get("cuts_history", [])]]
    else:
        names = [p.stem for p in (root / "params").glob("*.csv")]
    numbers = [int(n[len(prefix):]) for n in names
               if n.startswith(prefix) and n[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def history(root: str | Path) -> list[dict[str, Any]]:
    """Every publish and rollback, oldest first (empty before the first publish)."""
    path = Path(root) / "params" / LOG
    if not path.exists():
        return []
    return list(yaml.safe_load(path.read_text(encoding="utf-8")) or [])


def provenance(root: str | Path, version: str) -> dict[str, Any]:
    """The provenance recorded with ``version`` ({} for a version without a file, like
    the hand-made v0 whose source is in each row)."""
    path = Path(root) / "params" / f"{version}.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8"))) if path.exists() else {}


def merge_params(current: ItemParameters, new: ItemParameters) -> tuple[ItemParameters,
                                                                         np.ndarray]:
    """The current parameters with the items of ``new`` replaced (or added).

    A recalibration rarely covers every item (some were given too seldom); the items it
    does not cover keep their current parameters.  Returns the merged set in the current
    order (new items appended) and a (n,) bool mask of the rows taken from ``new``.
    """
    ids = current.ids.tolist()
    extra = [i for i in new.ids.tolist() if i not in set(ids)]
    width = max(current.steps.shape[1], new.steps.shape[1])
    n = len(ids) + len(extra)
    a = np.concatenate([current.a, np.ones(len(extra))])
    c = np.concatenate([current.c, np.zeros(len(extra))])
    steps = np.full((n, width), np.nan)
    steps[: current.n_items, : current.steps.shape[1]] = current.steps
    skill = np.concatenate([current.skill, np.full(len(extra), "")]).astype(str)
    all_ids = np.array(ids + extra)
    rows = {i: r for r, i in enumerate(all_ids.tolist())}
    take = np.array([rows[i] for i in new.ids.tolist()], dtype=int)
    a[take], c[take] = new.a, new.c
    steps[take] = np.nan
    steps[take, : new.steps.shape[1]] = new.steps
    replaced = np.zeros(n, dtype=bool)
    replaced[take] = True
    merged = ItemParameters(ids=all_ids, a=a, steps=steps, c=c, skill=skill)
    return merged, replaced


def publish(
    root: str | Path,
    params: ItemParameters,
    version: str,
    provenance: Mapping[str, Any],
    *,
    n_responses: Mapping[str, int] | None = None,
    model: str = "2pl",
    today: dt.date | None = None,
) -> Path:
    """Write ``params/<version>.csv`` and its provenance, check the bank loads with it,
    and make it current.

    ``params`` may cover only some items (see :func:`merge_params`).  ``provenance`` must
    name at least :data:`REQUIRED_PROVENANCE`.  Nothing changes when a check fails: the
    files are removed again and :class:`BankError` names every problem.
    """
    root = Path(root)
    problems = []
    if not VERSION.match(version):
        problems.append(f"version {version!r}: use letters, digits, '.', '_' or '-'")
    missing = [k for k in REQUIRED_PROVENANCE if not str(provenance.get(k, "")).strip()]
    problems.extend(f"provenance: field '{k}' is required" for k in missing)
    target = root / "params" / f"{version}.csv"
    if target.exists():
        problems.append(f"{target}: exists; published versions are never overwritten")
    if problems:
        raise BankError(problems)
    previous = current_version(root)
    bank = load_bank(root)
    merged, replaced = merge_params(bank.params, params)
    counts = n_responses or {}
    label = f"{provenance['backend']} {model} calibration {version}"
    old = bank.provenance
    write_bank_params_csv(
        target, merged,
        model=[(model if k == 1 else "gpcm") if new else old[i][0]
               for i, k, new in zip(merged.ids, merged.n_steps, replaced, strict=True)],
        source=[label if new else old[i][1] for i, new in zip(merged.ids, replaced,
                                                               strict=True)],
        n=[counts.get(i, 0) if new else old[i][2] for i, new in zip(merged.ids, replaced,
                                                                      strict=True)])
    record = {"version": version, "previous": previous,
              "published": (today or dt.date.today()).isoformat(),
              "items_recalibrated": int(replaced.sum()), **dict(provenance)}
    meta = root / "params" / f"{version}.yaml"
    meta.write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    try:
        load_bank(root, version=version)
    except BankError:
        target.unlink()
        meta.unlink()
        raise
    _make_current(root, version)
    _log(root, {"action": "publish", "version": version, "previous": previous,
                "date": record["published"], "by": str(provenance["approved_by"])})
    return target


def rollback(root: str | Path, *, by: str, reason: str,
             today: dt.date | None = None) -> str:
    """Make the version before the current one current again; returns its name.

    The rolled-back files stay (answers given under them name them); the log says who
    rolled back and why.
    """
    root = Path(root)
    if not reason.strip() or not by.strip():
        raise BankError("a rollback needs who ('by') and why ('reason')")
    now = current_version(root)
    published = [h for h in history(root) if h["action"] == "publish"
                 and h["version"] == now]
    if not published:
        raise BankError(f"version {now} was not published here: nothing to roll back to")
    previous = str(published[-1]["previous"])
    load_bank(root, version=previous)  # still loads with today's items
    _make_current(root, previous)
    _log(root, {"action": "rollback", "version": previous, "previous": now,
                "date": (today or dt.date.today()).isoformat(), "by": by, "reason": reason})
    return previous


def _make_current(root: Path, version: str) -> None:
    """Point ``bank.yaml`` at ``version``, keeping its comments and layout."""
    path = root / "bank.yaml"
    text = path.read_text(encoding="utf-8")
    if not _CURRENT.search(text):
        raise BankError(f"{path}: no 'params_version:' line to update")
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(_CURRENT.sub(f"params_version: {version}", text, count=1), encoding="utf-8")
    tmp.replace(path)  # atomic: a kernel reading bank.yaml sees the old or the new file


def _log(root: Path, entry: dict[str, Any]) -> None:
    entries = [*history(root), entry]
    path = root / "params" / LOG
    path.write_text("# Parameter versions published and rolled back (lang-assess bank "
                    "publish / rollback).\n" + yaml.safe_dump(entries, sort_keys=False,
                                                              allow_unicode=True),
                    encoding="utf-8")


# ---- cut scores ---------------------------------------------------------------------------

_TOP_KEY = re.compile(r"^(?=\S)", re.M)  # a top-level key or a comment before one


def set_cuts(root: str | Path, cuts: CutScores, version: str, source: str,
             provenance: Mapping[str, Any]) -> None:
    """Make ``cuts`` the bank's CEFR cut scores as version ``version``; the cuts they
    replace move to ``cuts_history`` in ``bank.yaml``.  ``provenance``: see
    :func:`lang_assess.psychometrics.standard_setting.cut_provenance`.  The bank must still load."""
    root = Path(root)
    path = root / "bank.yaml"
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    old = dict(raw["cuts"])
    old.setdefault("version", "c0")
    earlier = [*raw.get("cuts_history", []), old]
    if version in {str(c["version"]) for c in earlier}:
        raise BankError(f"{path}: cut version {version!r} exists; choose a new name")
    new = {"version": version, "values": [round(float(v), 4) for v in cuts.cuts],
           "labels": list(cuts.labels), "source": source, "provenance": dict(provenance)}
    text = _replace_block(text, "cuts", {"cuts": new})
    text = _replace_block(text, "cuts_history", {"cuts_history": earlier})
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    original = path.read_text(encoding="utf-8")
    tmp.replace(path)
    try:
        load_bank(root)
    except BankError:
        path.write_text(original, encoding="utf-8")
        raise


def _replace_block(text: str, key: str, value: dict[str, Any]) -> str:
    """``text`` with the top-level ``key:`` block replaced by ``value`` dumped as YAML
    (appended when absent); the rest of the file, comments included, is kept."""
    dumped = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=88)
    start = re.search(rf"^{re.escape(key)}:", text, re.M)
    if start is None:
        return text.rstrip("\n") + "\n" + dumped
    following = [m.start() for m in _TOP_KEY.finditer(text) if m.start() > start.start()]
    end = following[0] if following else len(text)
    return text[:start.start()] + dumped + text[end:]
