"""Responses read from CSV files (wide or long) and from column blocks (a database
cursor, Parquet row groups, any chunked reader) into :class:`Responses`.

- **wide**: a ``person`` column, then one column per item; a blank cell (or ``NA``) = not
  administered.  For test-sized files (it is read cell by cell).
- **long**: the header ``person,item,score`` and one row per answer, the form a database
  export has.  Read in blocks of a million rows by pandas' C parser, with the checks
  vectorised, so a year of national data (15 million answers) reads in seconds and never
  becomes a persons × items matrix.  A file with any problem (a ragged row, a bad score,
  an empty id, a repeated answer) is re-read by Python's csv module to name every problem
  by its line.

:func:`read_answer_blocks` takes (person, item, score) column blocks, e.g.
``Service.calibration_answer_blocks`` streamed from PostgreSQL: each block's ids are
factorised and mapped onto those met so far, so no frame of every row is ever built.

Every problem is reported at once in one :class:`DataError` naming the file,
the line, the person, the item and the bad value.  Lines are counted as records, 1 = the
first line, as a spreadsheet shows them (a quoted cell with a line break in it shifts the
count).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from lang_assess.psychometrics.calibrate.data import (
    DataError,
    Responses,
    _answers,
    _codes,
    _listed,
    _whole_scores,
)

PERSON = "person"
LONG_HEADER = ("person", "item", "score")
_MISSING_TEXT = ("", "na", "nan")
_SHOW = 50  # problems of one kind listed one by one
_BLOCK = 1_000_000  # rows per block of a long file


def read_responses_csv(
    path: str | Path, *, max_score: int | Mapping[str, int] | None = None
) -> Responses:
    """Responses from a CSV file, wide or long (recognised by the header).

    Parameters
    ----------
    path : str or Path
        The file (UTF-8, with or without BOM).  Long form: the header
        ``person,item,score``, one row per answer, a (person, item) pair at most once.
        Wide form: ``person``, then one column per item; a blank cell or ``NA`` means the
        item was not administered to that person.
    max_score : optional int or mapping item → int
        Highest allowed score: ``1`` for an all right/wrong bank, or per item (items not in
        the mapping are unchecked).  Without it any whole score ≥ 0 is accepted.

    Returns
    -------
    Responses
        Persons in order of first appearance; items in header order (wide) or order of
        first appearance (long).

    Raises
    ------
    DataError
        Listing every problem: file not found or unreadable, a header that is neither
        form, empty or duplicate ids, rows with too many cells, and each bad score (not a
        whole number ≥ 0, above ``max_score``, missing in a long row) or repeated answer
        with its line, person, item and value.
    """
    path = Path(path)
    src = str(path)
    try:
        line, header = _first_row(path)
    except FileNotFoundError:
        raise DataError("file not found", source=src) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the file ({exc})", source=src) from None
    if header is None:
        raise DataError("the file is empty (expected a header 'person,item,score' or "
                        "'person,<item>,<item>,...')", source=src)
    try:
        if tuple(h.strip() for h in header) == LONG_HEADER:
            return _read_long(path, line, max_score)
        return _read_wide(path, max_score)
    except DataError as exc:
        raise DataError(exc.problems, source=src) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the file ({exc})", source=src) from None


def _first_row(path: Path) -> tuple[int, list[str] | None]:
    """(line, cells) of the first non-blank record; (0, None) for an empty file."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.reader(fh), start=1):
            if any(c.strip() for c in row):
                return n, row
    return 0, None


# ---- long form -------------------------------------------------------------------------
class _Redo(Exception):
    """The fast reader met something to report: re-read the file with the careful one."""


def _read_long(path: Path, header_line: int,
               max_score: int | Mapping[str, int] | None) -> Responses:
    """A long file: pandas' C parser for clean files; on any problem the csv module
    re-reads it so that every problem is named by its line."""
    try:
        return _collect(_pandas_blocks(path, header_line), max_score, careful=False)
    except _Redo:
        return _collect(_csv_blocks(path, header_line), max_score, careful=True)


def _collect(blocks: Iterator[tuple[np.ndarray, ...]],
             max_score: int | Mapping[str, int] | None, *, careful: bool,
             unit: str = "line") -> Responses:
    """Check the blocks and build the Responses; ``careful=False`` raises _Redo at the
    first problem instead of describing it.  Problems name answers by ``unit`` and the
    block's ``lines``."""
    persons: dict[str, int] = {}
    items: dict[str, int] = {}
    parts: list[tuple[np.ndarray, ...]] = []
    shown: dict[str, list[str]] = {}
    counts: dict[str, int] = {}

    def note(kind: str, mask: np.ndarray, describe: Callable[[int], str]) -> None:
        total = int(np.count_nonzero(mask))
        if total and not careful:
            raise _Redo
        kept = shown.setdefault(kind, [])
        kept += [describe(int(k)) for k in np.flatnonzero(mask)[: max(0, _SHOW - len(kept))]]
        counts[kind] = counts.get(kind, 0) + total

    for block in blocks:
        parts.append(_check_block(block, persons, items, max_score, note, unit))
    n = sum(part[0].size for part in parts)
    if n == 0:
        note("empty", np.ones(1, bool), lambda k: "no answers in the file (only the header)"
             if unit == "line" else "no answers")
    p, i, s = (np.concatenate([part[k] for part in parts]) if parts
               else np.zeros(0, np.int32) for k in range(3))
    lines = np.concatenate([part[3] for part in parts]) if careful and parts else None
    problems = [q for kind, kept in shown.items() for q in _listed(kept, counts[kind], kind)]
    person_ids = np.asarray(list(persons), dtype=str)
    item_ids = np.asarray(list(items), dtype=str)
    try:
        built = _answers(person_ids, item_ids, p, i, s,
                         (lambda k: f"{unit} {lines[k]}") if careful else (lambda k: ""))
    except DataError as exc:  # repeated (person, item) pairs
        if not careful:
            raise _Redo from None
        problems += exc.problems
    if problems:
        raise DataError(problems)
    return Responses(person_ids, item_ids, built["person_index"], built["item_index"],
                     built["scores"])


def _pandas_blocks(path: Path, header_line: int) -> Iterator[tuple[np.ndarray, ...]]:
    """(person, item, score, text, lines) blocks after the header from pandas' C parser:
    scores parsed as numbers, ``text`` and ``lines`` None (blank lines are skipped, so line
    numbers are unknown here).  A ragged row or a score that is not a number: _Redo."""
    import pandas as pd

    try:
        for chunk in pd.read_csv(path, header=None, skiprows=header_line,
                                 dtype={0: str, 1: str, 2: np.float64}, na_filter=False,
                                 chunksize=_BLOCK, encoding="utf-8-sig", engine="c"):
            if chunk.shape[1] != 3:
                raise _Redo
            yield chunk[0].to_numpy(), chunk[1].to_numpy(), chunk[2].to_numpy(), None, None
    except (ValueError, pd.errors.ParserError):  # ragged rows, text in a score
        raise _Redo from None
    except pd.errors.EmptyDataError:
        return


def _csv_blocks(path: Path, header_line: int) -> Iterator[tuple[np.ndarray, ...]]:
    """The same blocks from Python's csv module, with each cell's text and line; a row with
    more than three cells comes as person, "", "" and the text ``"<n> cells"``."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = enumerate(csv.reader(fh), start=1)
        for _ in range(header_line):
            next(rows)
        while True:
            cells: list[list[str]] = [[], [], [], []]
            lines: list[int] = []
            for n, row in rows:
                if not any(c.strip() for c in row):
                    continue  # a blank line is no answer
                row = row + [""] * (3 - len(row)) if len(row) <= 3 else [
                    row[0], row[1], "", f"{len(row)} cells"]
                cells[0].append(row[0])
                cells[1].append(row[1])
                cells[3].append(row[2].strip() if len(row) == 3 else row[3])
                cells[2].append(_number(row[2]) if len(row) == 3 else np.nan)
                lines.append(n)
                if len(lines) == _BLOCK:
                    break
            if not lines:
                return
            yield (np.asarray(cells[0], dtype=object), np.asarray(cells[1], dtype=object),
                   np.asarray(cells[2], dtype=float), np.asarray(cells[3], dtype=object),
                   np.asarray(lines, dtype=np.int64))


def read_answer_blocks(
    blocks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *, max_score: int | Mapping[str, int] | None = None,
) -> Responses:
    """Responses from (person, item, score) column blocks, e.g.
    ``Service.calibration_answer_blocks`` (the database) or the chunks of a Parquet or CSV
    reader.

    Each block's ids are factorised on their own and mapped onto the ids met so far, so
    memory is the answers as int32 plus one block, never a persons × items matrix or a
    frame of every row.

    Parameters
    ----------
    blocks : iterable of ((n,) person ids, (n,) item ids, (n,) scores)
        Ids as str or int (compared as text); scores whole numbers ≥ 0 (numbers or text).
    max_score : optional int or mapping item → int
        As in :func:`read_responses_csv`.

    Raises
    ------
    DataError
        Listing every problem with its row (1 = the first answer of the first block),
        person, item and value: empty ids, bad scores, scores above ``max_score``,
        repeated (person, item) pairs.
    """
    def numbered() -> Iterator[tuple[np.ndarray, ...]]:
        start = 1
        for person, item, score in blocks:
            n = len(score)
            if not len(person) == len(item) == n:
                raise DataError(f"rows {start}..: a block's person, item and score columns "
                                "differ in length")
            score = np.asarray(score)
            value = (score if score.dtype.kind in "iubf"
                     else np.asarray([_number(str(v)) for v in score.tolist()], dtype=float))
            text = None if score.dtype.kind in "iubf" else np.asarray(
                ["" if v is None else str(v).strip() for v in score.tolist()], dtype=object)
            yield (np.asarray(person), np.asarray(item), value, text,
                   np.arange(start, start + n, dtype=np.int64))
            start += n

    return _collect(numbered(), max_score, careful=True, unit="row")


def _shown(value: float) -> str:
    """A number as a problem shows it: 1, 0.5, nan."""
    return f"{value:g}"


def _number(text: str) -> float:
    """A cell as a float; NaN when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return np.nan


def _check_block(block: tuple[np.ndarray, ...], persons: dict[str, int],
                 items: dict[str, int], max_score: int | Mapping[str, int] | None,
                 note: Callable[..., None], unit: str = "line") -> tuple[np.ndarray, ...]:
    """Check one block; return its good answers as int32 (person, item, score) with the
    file's person and item numbers (``persons``/``items`` grow as ids appear), and their
    lines.  Problems go to ``note(kind, mask, describe)``."""
    person, item, value, text, lines = block
    p_local, p_ids = _codes(person)
    i_local, i_ids = _codes(item)
    p = np.asarray([persons.setdefault(v, len(persons)) for v in p_ids.tolist()],
                   dtype=np.int32)[p_local]
    i = np.asarray([items.setdefault(v, len(items)) for v in i_ids.tolist()],
                   dtype=np.int32)[i_local]

    def where(k: int) -> str:
        return f"{unit} {lines[k]}, person '{p_ids[p_local[k]]}', item '{i_ids[i_local[k]]}'"

    good = np.ones(p.size, dtype=bool)
    if text is not None and unit == "line":  # the csv module's blocks mark ragged rows
        ragged = np.char.endswith(text.astype(str), " cells")
        note("rows with too many cells", ragged, lambda k: f"line {lines[k]}, person "
             f"'{p_ids[p_local[k]]}': {text[k]} but the header has 3")
        good &= ~ragged
    for kind, local, ids in (("person", p_local, p_ids), ("item", i_local, i_ids)):
        empty = good & (np.char.str_len(ids) == 0)[local]
        note(f"rows without a {kind} id", empty,
             lambda k, kind=kind: f"{unit} {lines[k]}: empty {kind} id")
        good &= ~empty

    def shown(k: int) -> str:  # the cell as written; from a database, the value
        return str(text[k]) if text is not None else _shown(float(value[k]))

    score = _whole_scores(value)
    bad = good & (score < 0)
    note("bad scores", bad, lambda k: f"{where(k)}: value {shown(k)!r} is not a whole score "
         "≥ 0" + ("" if shown(k) not in ("", "nan") else " (a row is an answer: leave out "
                  "the items not answered)"))
    good &= ~bad
    if max_score is not None:
        limit = _limits(i_ids, max_score)[i_local]
        over = good & (limit >= 0) & (score > limit)
        note("scores above the maximum", over, lambda k: f"{where(k)}: score {shown(k)} is "
             f"above the item's maximum {limit[k]}")
        good &= ~over
    if good.all():
        return p, i, score.astype(np.int32), lines
    return p[good], i[good], score[good].astype(np.int32), None if lines is None else lines[good]


# ---- wide form ---------------------------------------------------------------------------
def _read_wide(path: Path, max_score: int | Mapping[str, int] | None) -> Responses:
    """A wide file, cell by cell (test-sized files)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))
    # csv.reader numbers physical lines; rows here are 1 = header, as a spreadsheet shows them
    numbered = [(n, row) for n, row in enumerate(lines, start=1) if any(c.strip() for c in row)]
    header_line, header = numbered[0]
    header = [h.strip() for h in header]
    if not header or header[0] != PERSON:
        raise DataError(f"line {header_line}: the first column must be '{PERSON}' "
                        f"(found {header[0]!r}), or the header must be "
                        f"'{','.join(LONG_HEADER)}'")
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
    r_idx: list[int] = []
    c_idx: list[int] = []
    values: list[int] = []
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
            value = int(_whole_scores(np.asarray([cell], dtype=object))[0])
            if value < 0:
                problems.append(f"{where}, item '{items[k]}': value {cell!r} is not a whole "
                                "score ≥ 0 (leave the cell blank if not administered)")
            elif limit[k] >= 0 and value > limit[k]:
                problems.append(f"{where}, item '{items[k]}': score {cell} is above the "
                                f"item's maximum {limit[k]}")
            else:
                r_idx.append(r)
                c_idx.append(k)
                values.append(value)
    if problems:
        raise DataError(problems)
    return Responses(np.asarray(persons, dtype=str), np.asarray(items, dtype=str),
                     np.asarray(r_idx, dtype=np.int64), np.asarray(c_idx, dtype=np.int64),
                     np.asarray(values, dtype=np.int64))


def _limits(items: Sequence[str] | np.ndarray,
            max_score: int | Mapping[str, int] | None) -> np.ndarray:
    """(n,) highest allowed score per item; -1 = unchecked."""
    if max_score is None:
        return np.full(len(items), -1)
    if isinstance(max_score, int):
        return np.full(len(items), max_score)
    return np.asarray([int(max_score.get(item, -1)) for item in items], dtype=np.int64)
