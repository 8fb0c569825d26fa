"""Response data for calibration: who answered which item, and the score.

A :class:`Responses` holds a persons × items score matrix with NaN where the item was not
administered.  Adaptive tests leave most of every row empty; that is the normal case and
nothing here fills it in.  Scores are whole numbers: 0/1 for right/wrong items, 0..k for
rated items.

Two ways in:

- :func:`read_responses_csv` reads a *wide* CSV file: a ``person`` column, then one column
  per item; a blank cell (or ``NA``) means "not administered";
- :meth:`Responses.from_long` builds the matrix from (person, item, score) rows, the form
  a database query returns.

Every problem is reported at once in one :class:`DataError`, naming the file, the line,
the person, the item column and the bad value.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lang_assess.errors import BankError

PERSON = "person"
_MISSING_TEXT = ("", "na", "nan")


class DataError(BankError):
    """Response data are malformed; ``problems`` lists every problem found."""


@dataclass(frozen=True, eq=False)
class Responses:
    """Scores of P persons on I items; NaN where an item was not administered.

    Attributes
    ----------
    persons : (P,) array of str
        Person (or test occasion) identifiers, unique.
    items : (I,) array of str
        Item identifiers, unique; column order of ``matrix``.
    matrix : (P, I) float
        Scores 0..k (whole numbers), NaN = not administered.  Read-only.
    """

    persons: np.ndarray
    items: np.ndarray
    matrix: np.ndarray

    def __post_init__(self) -> None:
        persons = np.asarray(self.persons, dtype=str)
        items = np.asarray(self.items, dtype=str)
        matrix = np.array(self.matrix, dtype=float)  # a private copy, then frozen
        problems = _matrix_problems(persons, items, matrix)
        if problems:
            raise DataError(problems)
        for arr in (persons, items, matrix):
            arr.setflags(write=False)
        object.__setattr__(self, "persons", persons)
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "matrix", matrix)

    @classmethod
    def from_matrix(
        cls,
        matrix: np.ndarray,
        items: Sequence[str] | np.ndarray | None = None,
        persons: Sequence[str] | np.ndarray | None = None,
    ) -> Responses:
        """Wrap a (P, I) score matrix (NaN = not administered); ids default to ``i1..``/``p1..``."""
        m = np.asarray(matrix, dtype=float)
        if m.ndim != 2:
            raise DataError(f"the score matrix must be 2-D (persons × items), got shape {m.shape}")
        return cls(
            persons=np.asarray(
                [f"p{k + 1}" for k in range(m.shape[0])] if persons is None else persons,
                dtype=str,
            ),
            items=np.asarray(
                [f"i{k + 1}" for k in range(m.shape[1])] if items is None else items, dtype=str
            ),
            matrix=m,
        )

    @classmethod
    def from_long(
        cls,
        rows: Iterable[tuple[str, str, float]],
        *,
        items: Sequence[str] | None = None,
    ) -> Responses:
        """Build the matrix from (person, item, score) rows, e.g. a database query.

        Parameters
        ----------
        rows : iterable of (person, item, score)
            One row per administered item; a (person, item) pair may occur once only
            (when a person met an item twice, key the rows by test occasion instead).
        items : optional sequence of str
            Column order (and items to include even if nobody answered them); by default
            the items in order of first appearance.

        Raises
        ------
        DataError
            Listing every duplicate pair, unknown item and bad score.
        """
        people: dict[str, int] = {}
        cols: dict[str, int] = {} if items is None else {it: k for k, it in enumerate(items)}
        if items is not None and len(cols) != len(items):
            raise DataError("the 'items' argument has duplicate ids")
        r_idx, c_idx, values = [], [], []
        problems: list[str] = []
        seen: dict[tuple[int, int], int] = {}
        for n, row in enumerate(rows, start=1):
            if len(row) != 3:
                problems.append(f"row {n}: expected (person, item, score), got {len(row)} fields")
                continue
            person, item, score = str(row[0]), str(row[1]), row[2]
            if item not in cols:
                if items is not None:
                    problems.append(f"row {n}, person '{person}': item '{item}' is not listed "
                                    "in 'items'")
                    continue
                cols[item] = len(cols)
            p = people.setdefault(person, len(people))
            i = cols[item]
            value = _score(score)
            if value is None:
                problems.append(f"row {n}, person '{person}', item '{item}': score {score!r} "
                                "is not a whole number ≥ 0")
                continue
            if (p, i) in seen:
                problems.append(f"row {n}, person '{person}', item '{item}': answered twice "
                                f"(first at row {seen[(p, i)]}); key repeated tests by occasion")
                continue
            seen[(p, i)] = n
            r_idx.append(p)
            c_idx.append(i)
            values.append(value)
        if problems:
            raise DataError(problems)
        if not people:
            raise DataError("no responses")
        matrix = np.full((len(people), len(cols)), np.nan)
        matrix[np.asarray(r_idx), np.asarray(c_idx)] = values
        return cls(persons=np.asarray(list(people), dtype=str),
                   items=np.asarray(list(cols), dtype=str), matrix=matrix)

    # ---- derived views ------------------------------------------------------------
    @property
    def n_persons(self) -> int:
        """Number of persons P (rows)."""
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        """Number of items I (columns)."""
        return int(self.matrix.shape[1])

    @property
    def administered(self) -> np.ndarray:
        """(P, I) bool: True where the item was administered."""
        return ~np.isnan(self.matrix)

    @property
    def n_responses(self) -> np.ndarray:
        """(I,) int: number of persons who answered each item."""
        return self.administered.sum(axis=0)

    @property
    def max_score(self) -> np.ndarray:
        """(I,) int: highest score observed on each item (-1 where nobody answered)."""
        m = np.where(self.administered, self.matrix, -1.0)
        return m.max(axis=0, initial=-1.0).astype(int)

    @property
    def density(self) -> float:
        """Share of the matrix that was administered, in [0, 1]."""
        return float(self.administered.mean()) if self.matrix.size else 0.0

    def select(self, items: Sequence[str] | np.ndarray) -> Responses:
        """The columns of the given item ids, in that order (unknown ids raise DataError)."""
        pos = {it: k for k, it in enumerate(self.items.tolist())}
        missing = [it for it in items if it not in pos]
        if missing:
            raise DataError([f"item '{m}': not in the responses" for m in missing])
        idx = np.asarray([pos[it] for it in items], dtype=int)
        return Responses(self.persons.copy(), self.items[idx], self.matrix[:, idx])


def _score(value: object) -> float | None:
    """A whole score ≥ 0 as float, or None when the value is not one."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 0 or number != round(number):
        return None
    return number


def _matrix_problems(persons: np.ndarray, items: np.ndarray, matrix: np.ndarray) -> list[str]:
    """Every problem with the ids and the score matrix (shape, duplicates, bad scores)."""
    if persons.ndim != 1 or items.ndim != 1:
        return ["'persons' and 'items' must be one-dimensional"]
    if matrix.shape != (persons.shape[0], items.shape[0]):
        return [f"the score matrix has shape {matrix.shape} but there are "
                f"{persons.shape[0]} persons and {items.shape[0]} items"]
    problems: list[str] = []
    for kind, ids in (("person", persons), ("item", items)):
        values, counts = np.unique(ids, return_counts=True)
        problems += [f"{kind} '{v}' occurs {n} times" for v, n in zip(values, counts,
                                                                       strict=True) if n > 1]
        empty = np.flatnonzero(np.char.str_len(np.char.strip(ids)) == 0)
        problems += [f"{kind} #{k + 1}: empty id" for k in empty]
    given = ~np.isnan(matrix)
    bad = given & (np.isinf(matrix) | (matrix < 0) | (matrix != np.round(matrix)))
    for p, i in np.argwhere(bad)[:50]:
        problems.append(f"person '{persons[p]}', item '{items[i]}': score {matrix[p, i]:g} "
                        "is not a whole number ≥ 0")
    if bad.sum() > 50:
        problems.append(f"... {int(bad.sum()) - 50} more bad scores")
    return problems


def read_responses_csv(
    path: str | Path, *, max_score: int | Mapping[str, int] | None = None
) -> Responses:
    """Responses from a wide CSV file: ``person``, then one column per item.

    Parameters
    ----------
    path : str or Path
        The file (UTF-8, with or without BOM).  A blank cell or ``NA`` means the item was
        not administered to that person.
    max_score : optional int or mapping item → int
        Highest allowed score: ``1`` for an all right/wrong bank, or per item (items not in
        the mapping are unchecked).  Without it any whole score ≥ 0 is accepted.

    Returns
    -------
    Responses
        Rows in file order, columns in header order.

    Raises
    ------
    DataError
        Listing every problem: file not found or unreadable, no ``person`` column, empty or
        duplicate item columns, empty or duplicate person ids, rows with too many cells,
        and each bad score with its line, person, item and value.
    """
    path = Path(path)
    src = str(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            lines = list(csv.reader(fh))
    except FileNotFoundError:
        raise DataError("file not found", source=src) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the file ({exc})", source=src) from None
    # csv.reader numbers physical lines; rows here are 1 = header, as a spreadsheet shows them
    numbered = [(n, row) for n, row in enumerate(lines, start=1) if any(c.strip() for c in row)]
    if not numbered:
        raise DataError("the file is empty (expected a header 'person,<item>,<item>,...')",
                        source=src)
    header_line, header = numbered[0]
    header = [h.strip() for h in header]
    if not header or header[0] != PERSON:
        raise DataError(f"line {header_line}: the first column must be '{PERSON}' "
                        f"(found {header[0]!r})", source=src)
    items = header[1:]
    problems: list[str] = []
    if not items:
        problems.append(f"line {header_line}: no item columns after '{PERSON}'")
    first_col: dict[str, int] = {}
    for k, item in enumerate(items, start=2):
        if not item:
            problems.append(f"line {header_line}: column {k} has an empty item name")
        elif item in first_col:
            problems.append(f"line {header_line}: item column '{item}' is duplicated "
                            f"(columns {first_col[item]} and {k})")
        else:
            first_col[item] = k
    limit = _limits(items, max_score)
    body = numbered[1:]
    if not body:
        problems.append("no persons in the file (only the header)")
    persons: list[str] = []
    seen: dict[str, int] = {}
    matrix = np.full((len(body), len(items)), np.nan)
    for r, (line, row) in enumerate(body):
        person = row[0].strip() if row else ""
        persons.append(person)
        where = f"line {line}, person '{person}'"
        if not person:
            problems.append(f"line {line}: empty person id")
            where = f"line {line}"
        elif person in seen:
            problems.append(f"{where}: duplicate person (first at line {seen[person]})")
        seen.setdefault(person, line)
        if len(row) > len(header):
            problems.append(f"{where}: {len(row)} cells but the header has {len(header)} "
                            "columns")
        for k, text in enumerate(row[1 : len(header)]):
            cell = text.strip()
            if cell.lower() in _MISSING_TEXT:
                continue
            value = _score(cell)
            if value is None:
                problems.append(f"{where}, item '{items[k]}': value {cell!r} is not a whole "
                                "score ≥ 0 (leave the cell blank if not administered)")
            elif limit[k] >= 0 and value > limit[k]:
                problems.append(f"{where}, item '{items[k]}': score {cell} is above the "
                                f"item's maximum {limit[k]}")
            else:
                matrix[r, k] = value
    if problems:
        raise DataError(problems, source=src)
    try:
        return Responses(np.asarray(persons, dtype=str), np.asarray(items, dtype=str), matrix)
    except DataError as exc:
        raise DataError(exc.problems, source=src) from None


def _limits(items: Sequence[str], max_score: int | Mapping[str, int] | None) -> list[int]:
    """Highest allowed score per column; -1 = unchecked."""
    if max_score is None:
        return [-1] * len(items)
    if isinstance(max_score, int):
        return [max_score] * len(items)
    return [int(max_score.get(item, -1)) for item in items]
