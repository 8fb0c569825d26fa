"""Item parameters as the engine sees them: one set of arrays for a whole bank.

Every item is described on the logistic metric (no scaling constant D):

- right/wrong items (1PL/Rasch, 2PL, 3PL), scored 0/1::

      P(X=1 | θ) = c + (1 - c) · logistic(a (θ - b))

- rated items under the generalized partial credit model (GPCM), scored 0..k::

      P(X=x | θ) ∝ exp(Σ_{v≤x} a (θ - b_v)),   x = 0..k

Both share one representation: ``steps[i, :k_i]`` holds the step difficulties b_v of
item i (a right/wrong item has the single step b) and the rest of the row is NaN.
A right/wrong item is a GPCM item with one step, which is why one code path serves
both; the lower asymptote ``c`` applies to one-step items only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lang_assess.errors import BankError

SKILLS: tuple[str, ...] = ("reading", "listening", "vocabulary", "grammar", "literacy",
                           "speaking", "writing")
#: skills whose tasks a teacher rates (issue 16): never chosen by the adaptive loop
RATED_SKILLS: tuple[str, ...] = ("speaking", "writing")


@dataclass(frozen=True, eq=False)
class ItemParameters:
    """Parameters of ``n`` items, validated on construction.

    Attributes
    ----------
    ids : (n,) array of str
        Stable item identifiers, unique.
    a : (n,) float
        Discrimination (slope), > 0, on the logistic metric.
    steps : (n, K) float
        Step difficulties in logits; row i has ``n_steps[i]`` finite values then NaN.
    c : (n,) float
        Lower asymptote in [0, 1); 0 for rated (multi-step) items.
    skill : (n,) array of str
        Content area of each item (``""`` when unknown).
    """

    ids: np.ndarray
    a: np.ndarray
    steps: np.ndarray
    c: np.ndarray
    skill: np.ndarray
    _cache: dict[Any, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        problems = _problems(self.ids, self.a, self.steps, self.c, self.skill)
        if problems:
            raise BankError(problems)
        for arr in (self.ids, self.a, self.steps, self.c, self.skill):
            arr.setflags(write=False)

    # ---- constructors -------------------------------------------------------------
    @classmethod
    def dichotomous(
        cls,
        ids: Sequence[str] | np.ndarray,
        a: Sequence[float] | np.ndarray,
        b: Sequence[float] | np.ndarray,
        c: Sequence[float] | np.ndarray | None = None,
        skill: Sequence[str] | np.ndarray | None = None,
    ) -> ItemParameters:
        """Right/wrong items (1PL with a=1, 2PL, or 3PL with ``c``); all arrays shape (n,)."""
        ids_arr = np.asarray(ids, dtype=str)
        b_arr = np.asarray(b, dtype=float)
        if b_arr.ndim != 1:
            raise BankError(f"field 'b' must be one value per item, got shape {b_arr.shape}")
        n = b_arr.shape[0]
        return cls(
            ids=ids_arr,
            a=np.asarray(a, dtype=float),
            steps=b_arr[:, None].copy(),
            c=np.zeros(n) if c is None else np.asarray(c, dtype=float),
            skill=np.full(n, "", dtype=object).astype(str) if skill is None
            else np.asarray(skill, dtype=str),
        )

    @classmethod
    def rasch(
        cls,
        ids: Sequence[str] | np.ndarray,
        b: Sequence[float] | np.ndarray,
        skill: Sequence[str] | np.ndarray | None = None,
    ) -> ItemParameters:
        """Rasch/1PL items: a = 1, c = 0; ``b`` shape (n,)."""
        b_arr = np.asarray(b, dtype=float)
        return cls.dichotomous(ids, np.ones(b_arr.shape), b_arr, None, skill)

    @classmethod
    def gpcm(
        cls,
        ids: Sequence[str] | np.ndarray,
        a: Sequence[float] | np.ndarray,
        steps: Sequence[Sequence[float]] | np.ndarray,
        skill: Sequence[str] | np.ndarray | None = None,
    ) -> ItemParameters:
        """Rated items under the GPCM; ``steps`` is (n, K), NaN-padded for fewer steps."""
        steps_arr = np.atleast_2d(np.asarray(steps, dtype=float))
        n = steps_arr.shape[0]
        return cls(
            ids=np.asarray(ids, dtype=str),
            a=np.asarray(a, dtype=float),
            steps=steps_arr,
            c=np.zeros(n),
            skill=np.full(n, "").astype(str) if skill is None else np.asarray(skill, dtype=str),
        )

    @classmethod
    def concat(cls, parts: Sequence[ItemParameters]) -> ItemParameters:
        """Join banks (e.g. right/wrong and rated items) into one; ids must stay unique."""
        width = max(p.steps.shape[1] for p in parts)
        steps = np.full((sum(p.n_items for p in parts), width), np.nan)
        row = 0
        for p in parts:
            steps[row : row + p.n_items, : p.steps.shape[1]] = p.steps
            row += p.n_items
        return cls(
            ids=np.concatenate([p.ids for p in parts]),
            a=np.concatenate([p.a for p in parts]),
            steps=steps,
            c=np.concatenate([p.c for p in parts]),
            skill=np.concatenate([p.skill for p in parts]),
        )

    # ---- derived views ------------------------------------------------------------
    @property
    def n_items(self) -> int:
        """Number of items n."""
        return int(self.a.shape[0])

    @property
    def n_steps(self) -> np.ndarray:
        """(n,) int: maximum score of each item (1 for right/wrong items)."""
        return np.sum(np.isfinite(self.steps), axis=1)

    @property
    def b(self) -> np.ndarray:
        """(n,) float: item location in logits (the mean step difficulty)."""
        return np.nanmean(self.steps, axis=1)

    @property
    def is_dichotomous(self) -> bool:
        """True when every item is scored right/wrong (enables closed-form fast paths)."""
        return self.steps.shape[1] == 1

    def subset(self, index: np.ndarray | Sequence[int]) -> ItemParameters:
        """Items at positions ``index`` (int array), in that order."""
        idx = np.asarray(index, dtype=int)
        steps = self.steps[idx]
        keep = max(1, int(np.max(np.sum(np.isfinite(steps), axis=1), initial=1)))
        return ItemParameters(
            ids=self.ids[idx], a=self.a[idx], steps=steps[:, :keep], c=self.c[idx],
            skill=self.skill[idx],
        )

    def index_of(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Positions of the given item ids; raises :class:`BankError` for unknown ids."""
        lookup = self._cache.get("index")
        if lookup is None:
            lookup = {item: i for i, item in enumerate(self.ids.tolist())}
            self._cache["index"] = lookup  # type: ignore[assignment]
        missing = [i for i in ids if i not in lookup]
        if missing:
            raise BankError([f"item '{m}': not in the bank" for m in missing])
        return np.array([lookup[i] for i in ids], dtype=int)

    def skill_codes(self, skills: Sequence[str]) -> np.ndarray:
        """(n,) int: position of each item's skill in ``skills``, -1 when not listed."""
        pos = {s: k for k, s in enumerate(skills)}
        return np.array([pos.get(s, -1) for s in self.skill.tolist()], dtype=int)

    def information_on_grid(self, grid: np.ndarray) -> np.ndarray:
        """(Q, n) Fisher information of every item at each grid point, computed once."""
        key = ("info", grid.tobytes())
        table = self._cache.get(key)
        if table is None:
            from lang_assess.engine.irt.models import item_information

            table = item_information(grid, self)
            table.setflags(write=False)
            self._cache[key] = table
        return table


def _problems(
    ids: np.ndarray, a: np.ndarray, steps: np.ndarray, c: np.ndarray, skill: np.ndarray
) -> list[str]:
    """Every validation problem, each naming the item and the field."""
    arrays = {"ids": ids, "a": a, "c": c, "skill": skill}
    for name, arr in {**arrays, "steps": steps}.items():
        if not isinstance(arr, np.ndarray):
            return [f"field '{name}' must be a numpy array, got {type(arr).__name__}"]
    for name, arr in arrays.items():
        if arr.ndim != 1:
            return [f"field '{name}' must be one value per item, got shape {arr.shape}"]
    if steps.ndim != 2 or steps.shape[1] < 1:
        return [f"field 'steps' must have shape (n_items, n_steps), got {steps.shape}"]
    n = ids.shape[0]
    shapes = {name: arr.shape[0] for name, arr in {**arrays, "steps": steps}.items()}
    wrong = [f"'{k}' has {v}" for k, v in shapes.items() if v != n]
    if wrong:
        return [
            f"field {w} values but 'ids' has {n} items (arrays must have the same length)"
            for w in wrong
        ]

    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(ids.tolist()):
        if not str(item).strip():
            problems.append(f"item #{i + 1}: field 'id' is empty")
        if item in seen:
            problems.append(
                f"item '{item}': field 'id' is duplicated (rows {seen[item] + 1} and {i + 1})"
            )
        seen.setdefault(item, i)

    def name(i: int) -> str:
        return f"item '{ids[i]}'"

    for i in np.flatnonzero(~np.isfinite(a)):
        problems.append(f"{name(i)}: field 'a' is {a[i]} (must be a finite number)")
    for i in np.flatnonzero(np.isfinite(a) & (a <= 0)):
        problems.append(f"{name(i)}: field 'a' is {a[i]:g} (discrimination must be > 0)")
    for i in np.flatnonzero(~np.isfinite(c)):
        problems.append(f"{name(i)}: field 'c' is {c[i]} (must be a finite number)")
    for i in np.flatnonzero(np.isfinite(c) & ((c < 0) | (c >= 1))):
        problems.append(f"{name(i)}: field 'c' is {c[i]:g} (guessing must be in [0, 1))")

    finite = np.isfinite(steps)
    n_steps = finite.sum(axis=1)
    # a valid row is finite steps then NaN padding; anything else is a gap, NaN or inf
    contiguous = np.all(finite == (np.arange(steps.shape[1]) < n_steps[:, None]), axis=1)
    for i in np.flatnonzero((n_steps == 0) | ~contiguous | np.any(np.isinf(steps), axis=1)):
        field_name = "b" if steps.shape[1] == 1 or n_steps[i] <= 1 else "steps"
        problems.append(f"{name(i)}: field '{field_name}' has a missing or non-finite value")
    for i in np.flatnonzero((n_steps > 1) & np.isfinite(c) & (c != 0)):
        problems.append(f"{name(i)}: field 'c' must be 0 for a rated (multi-step) item")
    return problems
