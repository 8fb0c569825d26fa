"""Load and validate an item bank folder (``item_bank/<language>/``).

Every problem in the bank is collected and reported in one :class:`BankError`; each
message names the file, the item id and the field.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from lang_assess.bank.params_csv import read_params_csv
from lang_assess.bank.schema import BankConfig, Item, RetiredItem
from lang_assess.engine.cat.design import TestDesign, placement_design, progress_design
from lang_assess.engine.irt.params import SKILLS, ItemParameters
from lang_assess.engine.levels import CutScores
from lang_assess.errors import BankError

CHECKS = ("media", "params")


@dataclass(frozen=True, eq=False)
class Bank:
    """A validated bank: its configuration, items and current parameters.

    ``params`` rows follow ``item_ids``; ``provenance`` maps item id → (model, source, n).
    ``pretest_ids``: items marked ``status: pretest`` that have no parameters yet; tests
    give them unscored so they can be calibrated (``items`` holds them too).
    ``retired``: retired item id → its entry in ``retired.yaml`` (reason, date,
    replacements); such ids are never reused.
    """

    root: Path
    config: BankConfig
    items: dict[str, Item]
    params: ItemParameters
    provenance: dict[str, tuple[str, str, int]]
    pretest_ids: tuple[str, ...] = ()
    retired: dict[str, RetiredItem] = dataclasses.field(default_factory=dict)

    @property
    def enemies(self) -> list[tuple[str, str]]:
        """Pairs (a, b), a < b, of items never given to the same person (``enemies:``)."""
        return sorted({(min(i, e), max(i, e)) for i, it in self.items.items()
                       for e in it.enemies})

    @property
    def item_ids(self) -> list[str]:
        """Item ids in parameter order."""
        return self.params.ids.tolist()

    @property
    def cuts(self) -> CutScores:
        """The bank's CEFR cut scores (logits)."""
        c = self.config.cuts
        return CutScores(tuple(c.values), tuple(c.labels))

    def design(self, name: str, *, routing: bool = False, **overrides: Any) -> TestDesign:
        """The ``placement`` or ``progress`` test design configured in bank.yaml.

        ``routing`` adds the routing stage bank.yaml configures for the design (for
        participants who may not read: :mod:`lang_assess.bank.literacy`); literacy tasks
        then join the content mix with their configured share."""
        d = self.config.designs[name]  # type: ignore[index]
        maker = placement_design if name == "placement" else progress_design
        kwargs: dict[str, Any] = {
            "skill_targets": dict(d.skills),
            "randomesque": d.randomesque,
            "se_target": d.se_target,
            "min_items": d.min_items,
            "max_items": d.max_items,
            "cuts": self.cuts,
            "pretest_items": d.pretest_items,
        }
        if d.confidence is not None:
            kwargs["confidence"] = d.confidence
        if routing:
            if d.routing is None or name != "placement":
                raise ValueError(f"bank.yaml configures no routing for the {name} design")
            from lang_assess.bank.literacy import routing_stage

            stage = routing_stage([self.items[i] for i in self.item_ids], d.routing,
                                  self.cuts)
            kwargs["skill_targets"] = {**kwargs["skill_targets"],
                                       "literacy": d.routing.literacy_share}
            kwargs["routing"] = stage
        kwargs.update(overrides)
        return dataclasses.replace(maker(**kwargs), prior_sd=d.prior_sd,
                                   population_weight=d.population_weight)

def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _pydantic_problems(exc: ValidationError, where: str) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"] if x != "__root__")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is missing"
        elif err["type"] == "extra_forbidden":
            msg = "is not a known field"
        elif err["type"] == "literal_error":
            msg = f"is {err.get('input')!r}; {msg[0].lower()}{msg[1:]}"
        field = f"field '{loc}' " if loc else ""
        out.append(f"{where}: {field}{msg}".rstrip())
    return out


def read_item_file(path: Path, root: Path) -> tuple[Item | None, list[str]]:
    """One item file: the item (None if unusable) and every problem, named by file/field."""
    rel = _rel(path, root)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return None, [f"{rel}: bad YAML{where} ({getattr(exc, 'problem', exc)})"]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{rel}: cannot read the file ({exc})"]
    if not isinstance(data, dict):
        return None, [f"{rel}: must hold one item (a mapping of fields)"]
    where = f"{rel}: item '{data.get('id', '?')}'"
    try:
        item = Item.model_validate(data)
    except ValidationError as exc:
        return None, _pydantic_problems(exc, where)
    problems = []
    if path.stem != item.id:
        problems.append(f"{where}: field 'id' must equal the file name '{path.stem}'")
    if path.parent.name != item.skill:
        problems.append(
            f"{where}: field 'skill' is {item.skill!r} but the file is in '{path.parent.name}/'"
        )
    return item, problems


def load_items(root: Path) -> tuple[dict[str, Item], list[str]]:
    """All items under the skill folders of ``root``, and the problems found."""
    items: dict[str, Item] = {}
    seen_in: dict[str, str] = {}
    problems: list[str] = []
    files = sorted(p for s in SKILLS for p in (root / s).glob("*.yaml"))
    stray = sorted(p for p in root.glob("*/*.yaml") if p.parent.name not in (*SKILLS, "params"))
    problems.extend(
        f"{_rel(p, root)}: folder '{p.parent.name}' is not a skill ({', '.join(SKILLS)})"
        for p in stray
    )
    for path in files:
        item, found = read_item_file(path, root)
        problems.extend(found)
        if item is None:
            continue
        rel = _rel(path, root)
        if item.id in seen_in:
            problems.append(
                f"{rel}: item '{item.id}': field 'id' is duplicated (also in {seen_in[item.id]})"
            )
            continue
        seen_in[item.id] = rel
        items[item.id] = item
    return items, problems


def check_item_files(paths: Iterable[str | Path], *, media: bool = True) -> list[str]:
    """Problems in single item files (while writing them); their bank is two folders up."""
    problems: list[str] = []
    for p in map(Path, paths):
        root = p.resolve().parent.parent
        item, found = read_item_file(p.resolve(), root)
        problems.extend(found)
        if item is not None and media:
            problems.extend(_media_problems(root, [item], {item.id: _rel(p.resolve(), root)}))
    return problems


def _media_problems(root: Path, items: Iterable[Item], files: dict[str, str]) -> list[str]:
    problems = []
    for item in items:
        for field, rel in item.media():
            path = (root / rel).resolve()
            inside = root.resolve() in path.parents
            if not inside or not path.is_file():
                problems.append(
                    f"{files[item.id]}: item '{item.id}': field '{field}' points to a missing "
                    f"file '{rel}'"
                )
    return problems


def read_provenance(path: Path) -> dict[str, tuple[str, str, int]]:
    """item id → (model, source, n) from a bank parameter file."""
    with path.open(newline="", encoding="utf-8") as fh:
        out = {}
        for row in csv.DictReader(fh):
            n_text = (row.get("n") or "0").strip() or "0"
            out[row["item"].strip()] = (
                (row.get("model") or "").strip(),
                (row.get("source") or "").strip(),
                int(float(n_text)),
            )
        return out


def _enemy_problems(items: dict[str, Item], files: dict[str, str]) -> list[str]:
    """Every enemy named must be an item of the bank and name this item back."""
    problems = []
    for i, it in items.items():
        for e in it.enemies:
            if e not in items:
                problems.append(f"{files[i]}: item '{i}': field 'enemies' names '{e}', which "
                                "is not in the bank")
            elif i not in items[e].enemies:
                problems.append(f"{files[i]}: item '{i}': field 'enemies' names '{e}', but "
                                f"'{e}' does not name '{i}' back (enemies are symmetric)")
    return problems


def read_retired(root: Path) -> tuple[dict[str, RetiredItem], list[str]]:
    """``retired.yaml`` of a bank (absent: nothing retired) and the problems found."""
    path = root / "retired.yaml"
    if not path.is_file():
        return {}, []
    rel = _rel(path, root)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        return {}, [f"{rel}: bad YAML ({getattr(exc, 'problem', exc)})"]
    if not isinstance(raw, list):
        return {}, [f"{rel}: must be a list of retired items"]
    out: dict[str, RetiredItem] = {}
    problems: list[str] = []
    for k, entry in enumerate(raw):
        where = f"{rel}: entry {k + 1} (item '{(entry or {}).get('id', '?')}')" \
            if isinstance(entry, dict) else f"{rel}: entry {k + 1}"
        try:
            r = RetiredItem.model_validate(entry)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, where))
            continue
        if r.id in out:
            problems.append(f"{where}: field 'id' is retired twice")
        out[r.id] = r
    return out, problems


def _retired_problems(retired: dict[str, RetiredItem], items: dict[str, Item],
                      files: dict[str, str], root: Path) -> list[str]:
    rel = _rel(root / "retired.yaml", root)
    problems = [f"{files[i]}: item '{i}': field 'id' was retired ({rel}); ids are never "
                "reused" for i in items if i in retired]
    for r in retired.values():
        problems.extend(f"{rel}: item '{r.id}': field 'replaced_by' names '{n}', which is "
                        "not in the bank" for n in r.replaced_by if n not in items)
    return problems


def load_bank(
    path: str | Path, *, skip: Iterable[str] = (), version: str | None = None
) -> Bank:
    """Load and validate a bank folder; raise :class:`BankError` listing every problem.

    ``skip`` may name checks to leave out while authoring: ``"media"`` (files exist) and
    ``"params"`` (every item has parameters).  ``version`` picks a parameter version
    other than the current one.
    """
    root = Path(path)
    unknown = set(skip) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks to skip: {sorted(unknown)} (known: {list(CHECKS)})")
    if not (root / "bank.yaml").is_file():
        raise BankError(f"{root}: no bank.yaml (is this an item bank folder?)")
    problems: list[str] = []
    try:
        raw = yaml.safe_load((root / "bank.yaml").read_text(encoding="utf-8"))
        config = BankConfig.model_validate(raw)
    except yaml.YAMLError as exc:
        raise BankError(f"{_rel(root / 'bank.yaml', root)}: bad YAML ({exc})") from None
    except ValidationError as exc:
        raise BankError(_pydantic_problems(exc, _rel(root / "bank.yaml", root))) from None
    try:
        CutScores(tuple(config.cuts.values), tuple(config.cuts.labels))
    except ValueError as exc:
        problems.append(f"{_rel(root / 'bank.yaml', root)}: field 'cuts' {exc}")

    items, item_problems = load_items(root)
    problems.extend(item_problems)
    files = {i: f"{_rel(root / it.skill / (i + '.yaml'), root)}" for i, it in items.items()}
    if "media" not in skip:
        problems.extend(_media_problems(root, items.values(), files))
    problems.extend(_enemy_problems(items, files))
    retired, retired_problems = read_retired(root)
    problems.extend(retired_problems)
    problems.extend(_retired_problems(retired, items, files, root))

    version = version or config.params_version
    params_path = root / "params" / f"{version}.csv"
    params: ItemParameters | None = None
    provenance: dict[str, tuple[str, str, int]] = {}
    if "params" not in skip:
        try:
            params = read_params_csv(params_path)
            provenance = read_provenance(params_path)
        except BankError as exc:
            problems.extend(exc.problems if exc.source is None else
                            [f"{exc.source}: {p}" for p in exc.problems])
        if params is not None:
            rel = _rel(params_path, root)
            known = set(params.ids.tolist())
            problems.extend(f"{files[i]}: item '{i}': has no parameters in {rel}"
                            for i, it in items.items()
                            if i not in known and it.status != "pretest")
            problems.extend(f"{rel}: item '{i}': has parameters but no item file"
                            for i in params.ids.tolist() if i not in items)
            for i, it in items.items():
                if i in known:
                    k = int(params.n_steps[params.index_of([i])[0]])
                    if k != it.max_score:
                        problems.append(f"{rel}: item '{i}': field 'model' gives {k} score "
                                        f"steps but the item scores 0..{it.max_score}")
    if problems:
        raise BankError(problems)
    if params is None:
        params = _placeholder_params(items, CutScores(tuple(config.cuts.values),
                                                      tuple(config.cuts.labels)))
    ordered = params.ids.tolist()
    pretest = tuple(i for i, it in items.items()
                    if it.status == "pretest" and i not in set(ordered))
    skill = np.array([items[i].skill for i in ordered])
    params = ItemParameters(ids=params.ids.copy(), a=params.a.copy(), steps=params.steps.copy(),
                            c=params.c.copy(), skill=skill)
    return Bank(root=root, config=config,
                items={i: items[i] for i in (*ordered, *pretest)},
                params=params, provenance=provenance, pretest_ids=pretest, retired=retired)


def _placeholder_params(items: dict[str, Item], cuts: CutScores) -> ItemParameters:
    """Expert-rule parameters when the parameter check is skipped (authoring only)."""
    from lang_assess.bank.expert import expert_parameters

    return expert_parameters(list(items.values()), cuts)


def bank_fingerprint(root: str | Path) -> str:
    """A digest of every file of a bank folder (path, size, modification time): it
    changes whenever an item, a picture, a sound or a parameter file does."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                      .encode())
    return digest.hexdigest()[:32]


def load_bank_cached(path: str | Path, cache_dir: str | Path) -> Bank:
    """:func:`load_bank`, kept in ``cache_dir`` as a pickle keyed by
    :func:`bank_fingerprint`: a page kernel then loads the validated bank in ~60 ms
    instead of parsing and validating every item file (~3 s for 900 items).  The cache is
    written by this process (atomically) into the service's own data folder, never read
    from anywhere else; a bank that changed on disk gets a new key."""
    root = Path(path).resolve()
    cache = Path(cache_dir) / f"bank-{bank_fingerprint(root)}.pickle"
    if cache.is_file():
        with contextlib.suppress(Exception):  # a broken cache is rebuilt, never fatal
            bank = pickle.loads(cache.read_bytes())
            if isinstance(bank, Bank) and bank.root == root:
                return bank
    bank = load_bank(root)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(bank, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, cache)
    return bank
