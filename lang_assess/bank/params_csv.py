"""Parameter and ability files in CSV.

``PARAMS.csv`` has a header with at least ``item,a,b`` and optionally ``c`` and ``skill``
(one row per right/wrong item, logistic metric).  A bank's versioned parameter file
(``params/<version>.csv``) adds ``model`` (1pl, 2pl, 3pl or gpcm), ``steps`` (the GPCM
step difficulties, separated by spaces, with ``b`` left empty), ``source`` and ``n``.
``THETAS.csv`` has a ``theta`` column and optionally ``track`` (1, 2 or 3).
Every error names the file and, where there is one, the line, the item and the field.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from lang_assess.engine.irt.params import ItemParameters
from lang_assess.errors import BankError

REQUIRED = ("item", "a", "b")


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise BankError("file not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BankError(f"cannot read the file ({exc})", source=str(path)) from None
    return header, rows


def _number(text: str | None, line: int, item: str, name: str, problems: list[str]) -> float:
    value = (text or "").strip()
    try:
        number = float(value)
    except ValueError:
        problems.append(f"line {line}, item '{item}': field '{name}' is not a number ({value!r})")
        return math.nan
    if math.isnan(number):
        problems.append(f"line {line}, item '{item}': field '{name}' is NaN")
    return number


def read_params_csv(path: str | Path) -> ItemParameters:
    """Item parameters from a ``item,a,b[,c][,skill]`` CSV file.

    Raises :class:`BankError` listing every problem (file, line, item, field).
    """
    path = Path(path)
    header, rows = _rows(path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BankError(
            f"missing column(s) {', '.join(repr(m) for m in missing)} "
            f"(the header must have item,a,b and may have c,skill; found {','.join(header)})",
            source=str(path),
        )
    if not rows:
        raise BankError("no items in the file", source=str(path))
    problems: list[str] = []
    ids, a, steps, c, skill = [], [], [], [], []
    for line, row in rows:
        item = (row.get("item") or "").strip()
        ids.append(item)
        a.append(_number(row.get("a"), line, item, "a", problems))
        model = (row.get("model") or "").strip().lower()
        if model not in ("", "1pl", "rasch", "2pl", "3pl", "gpcm"):
            problems.append(f"line {line}, item '{item}': field 'model' is {model!r} "
                            "(use 1pl, 2pl, 3pl or gpcm)")
        if model == "gpcm":
            parts = (row.get("steps") or "").split()
            if not parts:
                problems.append(f"line {line}, item '{item}': field 'steps' is empty "
                                "(a gpcm item needs its step difficulties)")
            steps.append([_number(v, line, item, "steps", problems) for v in parts] or [math.nan])
            c.append(0.0)
        else:
            steps.append([_number(row.get("b"), line, item, "b", problems)])
            has_c = "c" in header and (row.get("c") or "").strip() != ""
            c.append(_number(row.get("c"), line, item, "c", problems) if has_c else 0.0)
        skill.append((row.get("skill") or "").strip())
    if problems:
        raise BankError(problems, source=str(path))
    width = max(len(s) for s in steps)
    step_matrix = np.full((len(steps), width), np.nan)
    for r, values in enumerate(steps):
        step_matrix[r, : len(values)] = values
    try:
        return ItemParameters(
            ids=np.asarray(ids, dtype=str), a=np.asarray(a, dtype=float), steps=step_matrix,
            c=np.asarray(c, dtype=float), skill=np.asarray(skill, dtype=str),
        )
    except BankError as exc:
        raise BankError(exc.problems, source=str(path)) from None


def write_params_csv(target: str | Path | TextIO, params: ItemParameters) -> None:
    """Write right/wrong items as ``item,a,b,c,skill`` (what ``lang-assess simulate`` reads)
    to a path or an open text file.

    Rated (multi-step) items have no place in that format and are left out.
    """
    if isinstance(target, str | Path):
        with Path(target).open("w", newline="", encoding="utf-8") as fh:
            write_params_csv(fh, params)
        return
    w = csv.writer(target, lineterminator="\n")
    w.writerow(["item", "a", "b", "c", "skill"])
    for i in np.flatnonzero(params.n_steps == 1):
        w.writerow([params.ids[i], f"{params.a[i]:.6g}", f"{params.steps[i, 0]:.6g}",
                    f"{params.c[i]:.6g}", params.skill[i]])


def write_bank_params_csv(
    path: str | Path,
    params: ItemParameters,
    *,
    model: Sequence[str],
    source: Sequence[str],
    n: Sequence[int],
) -> None:
    """Write a bank's versioned parameter file (``params/<version>.csv``): one row per
    item with ``item,model,a,b,c,steps,source,n``; ``model``, ``source`` and ``n``
    (responses behind the estimate) are (n_items,) sequences in parameter order."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["item", "model", "a", "b", "c", "steps", "source", "n"])
        for r in range(params.n_items):
            k = int(params.n_steps[r])
            steps = " ".join(f"{v:.4f}" for v in params.steps[r, :k]) if k > 1 else ""
            b = "" if k > 1 else f"{params.steps[r, 0]:.4f}"
            w.writerow([params.ids[r], model[r], f"{params.a[r]:.4f}", b,
                        f"{params.c[r]:.4f}", steps, source[r], int(n[r])])


def read_thetas_csv(path: str | Path) -> np.ndarray:
    """(N,) abilities (logits) from the ``theta`` column of a CSV file."""
    return read_simulees_csv(path)[0]


def read_simulees_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(N,) abilities (logits) from the ``theta`` column of a CSV file and, when it has a
    ``track`` column, (N,) int tracks 1-3 (else None)."""
    path = Path(path)
    header, rows = _rows(path)
    if "theta" not in header:
        raise BankError(f"missing column 'theta' (found {','.join(header)})", source=str(path))
    if not rows:
        raise BankError("no rows in the file", source=str(path))
    problems: list[str] = []
    values = []
    for line, row in rows:
        text = (row.get("theta") or "").strip()
        try:
            v = float(text)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            problems.append(f"line {line}: field 'theta' is not a finite number ({text!r})")
        values.append(v)
    tracks = None
    if "track" in header:
        tracks = []
        for line, row in rows:
            text = (row.get("track") or "").strip()
            if text not in ("1", "2", "3"):
                problems.append(f"line {line}: field 'track' is {text!r} (use 1, 2 or 3)")
            tracks.append(int(text) if text in ("1", "2", "3") else 0)
    if problems:
        raise BankError(problems, source=str(path))
    return np.asarray(values), None if tracks is None else np.asarray(tracks, dtype=int)
