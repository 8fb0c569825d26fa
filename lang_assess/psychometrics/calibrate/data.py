"""Response data for calibration: who answered which item, and the score.

A :class:`Responses` holds one entry per answer (person, item, score), sorted by person:
the sparse form.  Adaptive tests leave most of the persons × items matrix empty, and a
year of national data (200,000 persons × 1,000 items, 15 million answers) would need
1.6 GB as a dense float matrix but 135 MB as answers, so the answers are the form kept;
the dense (P, I) matrix with NaN where an item was not administered is a view made on
demand (:attr:`Responses.matrix`) for small data and the checks that want it.  Scores are
whole numbers: 0/1 for right/wrong items, 0..k for rated items.

Ways in (every problem is reported at once in one :class:`DataError`):

- :meth:`Responses.from_columns`: three equal-length columns person, item, score (arrays,
  or the columns of a DataFrame such as ``Service.calibration_responses``); vectorised;
- :meth:`Responses.from_long`: (person, item, score) rows, e.g. a database cursor;
- :meth:`Responses.from_matrix`: a (P, I) score matrix, NaN = not administered;
- :func:`lang_assess.psychometrics.calibrate.readers.read_responses_csv`: a wide or a long
  CSV file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lang_assess.errors import BankError

_SHOW = 50  # problems of one kind listed one by one; the rest are counted


class DataError(BankError):
    """Response data are malformed; ``problems`` lists every problem found."""


@dataclass(frozen=True, eq=False)
class Responses:
    """Scores of P persons on I items, one entry per answer (N answers).

    Attributes
    ----------
    persons : (P,) array of str
        Person (or test occasion) identifiers, unique.
    items : (I,) array of str
        Item identifiers, unique.
    person_index : (N,) int32
        Row of each answer in ``persons``; answers are sorted by person, then item.
    item_index : (N,) int32
        Column of each answer in ``items``.
    scores : (N,) int32
        Whole scores ≥ 0.

    All arrays are read-only.  A (person, item) pair occurs at most once.  Build one
    with a ``from_*`` constructor; the plain constructor checks and sorts its arrays.
    """

    persons: np.ndarray
    items: np.ndarray
    person_index: np.ndarray
    item_index: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        persons = np.asarray(self.persons, dtype=str)
        items = np.asarray(self.items, dtype=str)
        problems = _id_problems(persons, items)
        if problems:
            raise DataError(problems)
        built = _answers(persons, items, self.person_index, self.item_index, self.scores,
                         lambda k: "")
        for name, arr in (("persons", persons), ("items", items), *built.items()):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    # ---- constructors -------------------------------------------------------------
    @classmethod
    def from_matrix(
        cls,
        matrix: np.ndarray,
        items: Sequence[str] | np.ndarray | None = None,
        persons: Sequence[str] | np.ndarray | None = None,
    ) -> Responses:
        """From a (P, I) score matrix (NaN = not administered); ids default to ``i1..``/``p1..``."""
        m = np.asarray(matrix, dtype=float)
        if m.ndim != 2:
            raise DataError(f"the score matrix must be 2-D (persons × items), got shape {m.shape}")
        persons = np.asarray([f"p{k + 1}" for k in range(m.shape[0])] if persons is None
                             else persons, dtype=str)
        items = np.asarray([f"i{k + 1}" for k in range(m.shape[1])] if items is None
                           else items, dtype=str)
        if persons.shape != (m.shape[0],) or items.shape != (m.shape[1],):
            raise DataError(f"the score matrix has shape {m.shape} but there are "
                            f"{persons.size} persons and {items.size} items")
        rows, cols = np.nonzero(~np.isnan(m))
        return cls(persons, items, rows, cols, m[rows, cols])

    @classmethod
    def from_columns(
        cls,
        person: Sequence[object] | np.ndarray,
        item: Sequence[object] | np.ndarray,
        score: Sequence[object] | np.ndarray,
        *,
        items: Sequence[str] | None = None,
    ) -> Responses:
        """From three equal-length columns, one entry per answer (vectorised).

        Parameters
        ----------
        person, item : (N,) array-likes of ids (str or int; compared as text)
            E.g. ``export["occasion"]`` and ``export["item"]`` of
            :meth:`lang_assess.programme.service.Service.calibration_responses`.
        score : (N,) array-like of whole numbers ≥ 0
        items : optional sequence of str
            Item order (and items to include even if nobody answered them); by default
            the items in order of first appearance.  Persons keep first-appearance order.

        Raises
        ------
        DataError
            Listing every bad score, duplicate (person, item) pair and unlisted item,
            each with its row number (1 = the first answer).
        """
        return _from_columns(person, item, score, items, lambda k: f"row {k + 1}")

    @classmethod
    def from_long(
        cls,
        rows: Iterable[tuple[object, object, object]],
        *,
        items: Sequence[str] | None = None,
    ) -> Responses:
        """From (person, item, score) rows, e.g. a database cursor.

        A (person, item) pair may occur once only (when a person met an item twice, key
        the rows by test occasion instead).  ``items`` as in :meth:`from_columns`.

        Raises
        ------
        DataError
            Listing every malformed row, bad score, duplicate pair and unlisted item.
        """
        person: list[object] = []
        item: list[object] = []
        score: list[object] = []
        where: list[int] = []
        problems = []
        for n, row in enumerate(rows, start=1):
            if len(row) != 3:
                problems.append(f"row {n}: expected (person, item, score), got {len(row)} fields")
                continue
            person.append(row[0])
            item.append(row[1])
            score.append(row[2])
            where.append(n)
        try:
            out = _from_columns(person, item, score, items, lambda k: f"row {where[k]}")
        except DataError as exc:
            raise DataError(problems + exc.problems) from None
        if problems:
            raise DataError(problems)
        return out

    # ---- derived views ------------------------------------------------------------
    @property
    def n_persons(self) -> int:
        """Number of persons P."""
        return int(self.persons.size)

    @property
    def n_items(self) -> int:
        """Number of items I."""
        return int(self.items.size)

    @property
    def n_answers(self) -> int:
        """Number of answers N."""
        return int(self.scores.size)

    @cached_property
    def n_responses(self) -> np.ndarray:
        """(I,) int: number of persons who answered each item."""
        out = np.bincount(self.item_index, minlength=self.n_items)
        out.setflags(write=False)
        return out

    @cached_property
    def max_score(self) -> np.ndarray:
        """(I,) int: highest score observed on each item (-1 where nobody answered)."""
        top = int(self.scores.max(initial=0))
        if top < 64:  # the usual case: a count per (item, score), O(N)
            seen = np.bincount(self.item_index.astype(np.int64) * (top + 1) + self.scores,
                               minlength=self.n_items * (top + 1)).reshape(-1, top + 1) > 0
            out = np.where(seen.any(axis=1), top - np.argmax(seen[:, ::-1], axis=1), -1)
        else:
            out = np.full(self.n_items, -1, dtype=np.int64)
            np.maximum.at(out, self.item_index, self.scores)
        out.setflags(write=False)
        return out

    @property
    def density(self) -> float:
        """Share of the persons × items matrix that was administered, in [0, 1]."""
        cells = self.n_persons * self.n_items
        return self.n_answers / cells if cells else 0.0

    @cached_property
    def matrix(self) -> np.ndarray:
        """(P, I) float scores, NaN = not administered: a dense view made on first use
        (P · I · 8 bytes: for small data and the checks that want it; the MML backend
        works on the answers)."""
        m = np.full((self.n_persons, self.n_items), np.nan)
        m[self.person_index, self.item_index] = self.scores
        m.setflags(write=False)
        return m

    @property
    def administered(self) -> np.ndarray:
        """(P, I) bool: True where the item was administered (dense, as :attr:`matrix`)."""
        m = np.zeros((self.n_persons, self.n_items), dtype=bool)
        m[self.person_index, self.item_index] = True
        return m

    def answered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The answers with persons renumbered over those who answered anything:
        ``(rows, cols, scores, P')``, (N,) int32 arrays sorted by row (persons without an
        answer carry no information, so the backends drop them)."""
        has = np.zeros(self.n_persons, dtype=bool)
        has[self.person_index] = True
        if has.all():
            return self.person_index, self.item_index, self.scores, self.n_persons
        new = (np.cumsum(has) - 1).astype(np.int32)
        return new[self.person_index], self.item_index, self.scores, int(has.sum())

    def select(self, items: Sequence[str] | np.ndarray) -> Responses:
        """The answers to the given item ids, columns in that order (unknown ids raise
        DataError); every person is kept."""
        pos = {it: k for k, it in enumerate(self.items.tolist())}
        missing = [it for it in items if it not in pos]
        if missing:
            raise DataError([f"item '{m}': not in the responses" for m in missing])
        new_col = np.full(self.n_items, -1)
        new_col[[pos[it] for it in items]] = np.arange(len(items))
        col = new_col[self.item_index]
        keep = col >= 0
        return Responses(self.persons.copy(), np.asarray(list(items), dtype=str),
                         self.person_index[keep], col[keep], self.scores[keep])


# ---- building and checking ----------------------------------------------------------------
def _answers(persons: np.ndarray, items: np.ndarray, person_index: object, item_index: object,
             scores: object, where: Callable[[int], str]) -> dict[str, np.ndarray]:
    """Check the answer arrays and return them sorted by (person, item), as int32.

    ``where(k)`` names input answer k in a problem ("row 7", "line 8"; "" for none).
    """
    p = np.asarray(person_index)
    i = np.asarray(item_index)
    s = np.asarray(scores)
    if not (p.ndim == i.ndim == s.ndim == 1 and p.size == i.size == s.size):
        raise DataError("person_index, item_index and scores must be 1-D and of one length")
    if p.size and (p.min() < 0 or p.max() >= persons.size or i.min() < 0
                   or i.max() >= items.size):
        raise DataError("an answer's person or item index is outside the ids given")

    def name(k: int) -> str:
        head = where(int(k))
        return (f"{head}, " if head else "") + f"person '{persons[p[k]]}', item '{items[i[k]]}'"

    problems: list[str] = []
    value = _whole_scores(s)
    bad = np.flatnonzero(value < 0)
    problems += _listed([f"{name(k)}: score {_text(s[k])} is not a whole number ≥ 0"
                         for k in bad[:_SHOW]], bad.size, "bad scores")
    key = p.astype(np.int64) * max(items.size, 1) + i
    if key.size > 1 and not np.all(key[1:] > key[:-1]):  # not yet sorted and unique
        order = np.argsort(key, kind="stable")  # stable: the first occurrence stays first
        key = key[order]
        again = np.flatnonzero(key[1:] == key[:-1]) + 1
        if again.size:
            first = np.searchsorted(key, key[again])  # first of each run
            for k, f in zip(order[again[:_SHOW]], order[first[:_SHOW]], strict=True):
                problems.append(f"{name(k)}: answered twice"
                                + (f" (first at {where(int(f))})" if where(int(f)) else "")
                                + "; key repeated tests by occasion")
            problems += _listed([], again.size - min(again.size, _SHOW), "repeated answers")
    else:
        order = None
    if problems:
        raise DataError(problems)
    out = {"person_index": p, "item_index": i, "scores": value}
    if order is not None:
        out = {k: v[order] for k, v in out.items()}
    return {k: np.ascontiguousarray(v, dtype=np.int32) for k, v in out.items()}


def _whole_scores(s: np.ndarray) -> np.ndarray:
    """(N,) int64 scores; -1 where the value is not a whole number ≥ 0."""
    if s.dtype.kind in "iub":
        return np.where(s >= 0, s, -1).astype(np.int64)
    if s.dtype.kind != "f":
        import pandas as pd  # text or objects: parse (vectorised)

        s = pd.to_numeric(pd.Series(s, copy=False), errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(s) & (s >= 0) & (s == np.round(s)) & (s < 2**31)
    return np.where(ok, np.where(ok, s, 0).astype(np.int64), -1)


def _text(value: object) -> str:
    """A score as a problem shows it: 0.5, 'x', -1."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _id_problems(persons: np.ndarray, items: np.ndarray) -> list[str]:
    """Duplicate and empty person and item ids."""
    if persons.ndim != 1 or items.ndim != 1:
        return ["'persons' and 'items' must be one-dimensional"]
    problems: list[str] = []
    for kind, ids in (("person", persons), ("item", items)):
        values, counts = np.unique(ids, return_counts=True)
        problems += [f"{kind} '{v}' occurs {n} times"
                     for v, n in zip(values, counts, strict=True) if n > 1]
        empty = np.flatnonzero(np.char.str_len(np.char.strip(ids)) == 0)
        problems += [f"{kind} #{k + 1}: empty id" for k in empty[:_SHOW]]
    return problems


def _from_columns(person: object, item: object, score: object,
                  items: Sequence[str] | None, where: Callable[[int], str]) -> Responses:
    """:meth:`Responses.from_columns` with input answer k named by ``where(k)``."""
    import pandas as pd  # hash-based factorising: 15 M ids in seconds

    p_col, i_col = (pd.Series(c if hasattr(c, "dtype") else np.asarray(c, dtype=object),
                              copy=False) for c in (person, item))
    s_arr = np.asarray(score)
    if not (p_col.size == i_col.size == s_arr.size) or s_arr.ndim != 1:
        raise DataError("person, item and score must be columns of one length")
    if p_col.size == 0:
        raise DataError("no responses")
    p_codes, persons = _codes(p_col)
    i_codes, found = _codes(i_col)
    problems: list[str] = []
    placed = np.ones(p_codes.size, dtype=bool)  # answers with a usable person and item
    for kind, codes, ids in (("person", p_codes, persons), ("item", i_codes, found)):
        blank = (np.char.str_len(ids) == 0)[codes]
        placed &= ~blank
        problems += _listed([f"{where(int(k))}: empty {kind} id"
                             for k in np.flatnonzero(blank)[:_SHOW]], blank.sum(),
                            f"empty {kind} ids")
    if items is None:
        item_ids, cols = found, i_codes
    else:
        item_ids = np.asarray(list(items), dtype=str)
        if np.unique(item_ids).size != item_ids.size:
            raise DataError("the 'items' argument has duplicate ids")
        pos = {it: k for k, it in enumerate(item_ids.tolist())}
        cols = np.asarray([pos.get(it, -1) for it in found.tolist()], dtype=np.int64)[i_codes]
        unlisted = placed & (cols < 0)
        placed &= ~unlisted
        problems += _listed([f"{where(int(k))}, person '{persons[p_codes[k]]}': item "
                             f"'{found[i_codes[k]]}' is not listed in 'items'"
                             for k in np.flatnonzero(unlisted)[:_SHOW]], unlisted.sum(),
                            "answers to unlisted items")
    at = np.flatnonzero(placed)
    try:
        built = _answers(persons, item_ids, p_codes[at], cols[at], s_arr[at],
                         lambda k: where(int(at[k])))
    except DataError as exc:
        problems += exc.problems
    if problems:
        raise DataError(problems)
    return Responses(persons, item_ids, built["person_index"], built["item_index"],
                     built["scores"])


def _listed(shown: list[str], total: int, what: str) -> list[str]:
    """The problems shown, and a count of the rest."""
    return shown + ([f"... {int(total) - len(shown)} more {what}"]
                    if total > len(shown) else [])

def _codes(column: object) -> tuple[np.ndarray, np.ndarray]:
    """(N,) codes and the ids as stripped text, in order of first appearance: 7, "7" and
    " 7" are one id; None/NaN is the empty id."""
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    text = np.asarray(["" if pd.isna(v) else str(v).strip() for v in uniques], dtype=object)
    remap, ids = pd.factorize(text)
    return remap[codes], np.asarray(ids, dtype=str)
