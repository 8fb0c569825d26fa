"""Content packages: write a bank's items as one, and read items from one (a folder or
a ``.zip`` with ``imsmanifest.xml``, or loose item files) into a bank.

Import reads every item it can and lists every problem of the rest (file, item, the
field or QTI construct); the items it could read are written to the bank, the others
are not, and :class:`ImportReport` says which.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lxml import etree
from pydantic import ValidationError

from lang_assess.bank.interaction_rules import ATTRIBUTES
from lang_assess.bank.qti.interactions import TAG, Refused
from lang_assess.bank.qti.item_export import write_item
from lang_assess.bank.qti.item_import import origin_of, read_item
from lang_assess.bank.qti.manifest import Entry, Resource, read_manifest, write_manifest
from lang_assess.bank.qti.markup import NS, local, parse, q, to_bytes
from lang_assess.bank.qti.upgrade import is_qti2, upgrade
from lang_assess.bank.schema import Item
from lang_assess.errors import BankError

#: fields the item document carries; every other field of an item is manifest metadata
CONTENT = frozenset({
    "stem", "stem_audio", "passage", "transcript", "image", "options", "key", "rubric",
    "body", "text", "targets", "max_choices", "min_choices", "shuffle", "fixed", "mapping",
    "feedback", "qti",
})
DEFAULTED = ("skill", "level", "topic", "author")
EPOCH = (2020, 1, 1, 0, 0, 0)  # zip entries carry this date: the same bank, the same bytes


def item_document(item: Item, language: str = "nb") -> bytes:
    """One item as a QTI 3.0 item document (UTF-8 bytes)."""
    return to_bytes(write_item(item, language))


def metadata(item: Item) -> dict[str, Any]:
    """The item's fields that are not content (what the manifest carries)."""
    return item.model_dump(mode="json", exclude=set(CONTENT), exclude_defaults=False)


def package_files(items: Iterable[Item], bank_root: Path, language: str = "nb"
                  ) -> dict[str, bytes]:
    """Every file of the package, by path: the manifest, the items and their media."""
    files: dict[str, bytes] = {}
    entries = []
    for item in items:
        href = f"items/{item.id}.xml"
        root = write_item(item, language)
        files[href] = to_bytes(root)
        media = sorted({rel for _, rel in item.media()})
        for rel in media:
            files[f"items/{rel}"] = (bank_root / rel).read_bytes()
        interaction = next(el for el in root.iter() if isinstance(el.tag, str)
                           and local(el) == TAG[item.type])
        entries.append(Entry(item.id, href, [f"items/{rel}" for rel in media],
                             metadata(item), local(interaction), item.type == "rated",
                             bool(item.feedback), language))
    files["imsmanifest.xml"] = to_bytes(write_manifest(entries, f"lang_assess-{language}"))
    return files


def export_qti(items: list[Item], bank_root: Path, out: Path, language: str = "nb") -> Path:
    """Write a QTI 3.0 content package: a folder, or a ``.zip`` when ``out`` ends so.

    Returns the manifest's path (the zip's path for a zip).
    """
    files = package_files(items, bank_root, language)
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(files):
                z.writestr(zipfile.ZipInfo(path, EPOCH), files[path], zipfile.ZIP_DEFLATED)
        return out
    for path, data in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(data)
    return out / "imsmanifest.xml"


# ---- reading ----------------------------------------------------------------------------

@dataclass
class ImportReport:
    """What an import did: the items written, and every problem of those it refused."""

    imported: list[Item] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was changed on the way in
    refused: int = 0  # items read but not imported

    @property
    def partial(self) -> bool:
        """Some items imported and some not."""
        return bool(self.imported) and bool(self.problems)


def _read_source(package: Path) -> tuple[dict[str, bytes], str]:
    """The package's files by path (posix, relative) and how to name them in messages."""
    if not package.exists():
        raise BankError(f"{package}: no such file or folder")
    if package.is_file() and package.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(package) as z:
                return {n: z.read(n) for n in z.namelist() if not n.endswith("/")}, \
                    f"{package}!"
        except zipfile.BadZipFile as exc:
            raise BankError(f"{package}: not a zip file ({exc})") from None
    if package.is_file():
        return {package.name: package.read_bytes()}, f"{package.parent}/"
    return {p.relative_to(package).as_posix(): p.read_bytes()
            for p in sorted(package.rglob("*")) if p.is_file()}, f"{package}/"


def _join(base: str, href: str) -> str | None:
    """A reference relative to the file ``base``, as a package path (None if outside)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I) or href.startswith("/"):
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), href))
    return None if path.startswith("..") else path


@dataclass
class _Context:
    files: dict[str, bytes]
    where: str
    bank_root: Path
    defaults: dict[str, str]
    taken: set[str]
    report: ImportReport
    language: str
    before: dict[str, str]  # QTI identifier → bank id of items imported earlier
    media: dict[str, bytes] = field(default_factory=dict)  # bank path → bytes


def import_qti(package: Path, bank_root: Path, *, overwrite: bool = False,
               defaults: dict[str, str] | None = None) -> ImportReport:
    """Read the items of a QTI package (folder, ``.zip`` or loose item files; QTI 2.x is
    upgraded first) into the bank folder ``bank_root``.

    Fields the package's metadata does not give come from ``defaults`` (skill, level,
    topic, author).  Media are copied into the bank's ``media/`` folder.  An item id
    already in the bank is refused unless ``overwrite``.  Raises :class:`BankError` when
    the input does not exist or is not a package at all.
    """
    bank_yaml = Path(bank_root) / "bank.yaml"
    if not bank_yaml.is_file():
        raise BankError(f"{bank_root}: no bank.yaml (is this an item bank folder?)")
    language = yaml.safe_load(bank_yaml.read_text(encoding="utf-8")).get("language", "nb")
    files, where = _read_source(Path(package))
    report = ImportReport()
    if is_qti2(files):
        files = upgrade(files, where)
    ctx = _Context(files, where, Path(bank_root), dict(defaults or {}),
                   {p.stem for p in Path(bank_root).glob("*/*.yaml")}, report, language,
                   _imported_before(Path(bank_root)))
    manifests = sorted((p for p in files if posixpath.basename(p) == "imsmanifest.xml"),
                       key=lambda p: (p.count("/"), p))
    if manifests:
        base = manifests[0]
        try:
            resources, trouble = read_manifest(parse(files[base], where + base))
        except ValueError as exc:
            raise BankError(f"{where}{base}: {exc}") from None
        report.problems.extend(f"{where}{base}: {t}" for t in trouble)
        for r in resources:
            r.href = _join(base, r.href) or r.href
    else:
        resources = [Resource(p, p) for p in sorted(files) if p.lower().endswith(".xml")
                     and b"qti-assessment-item" in files[p][:4000]]
    if not resources and not report.problems:
        raise BankError(f"{Path(package)}: no QTI items found (neither an imsmanifest.xml "
                        "with item resources nor item files)")
    # new ids are given in file order, whatever order a manifest lists them in
    resources.sort(key=lambda r: r.href)
    items = [it for it in (_guarded(ctx, r) for r in resources) if it is not None]
    ids = [it.id for it in items]
    for it in items:
        target = ctx.bank_root / it.skill / f"{it.id}.yaml"
        if ids.count(it.id) > 1:
            report.problems.append(f"{where}: item '{it.id}' comes twice in the package")
        elif target.exists() and not overwrite:
            report.problems.append(f"{target}: item '{it.id}' is already in the bank")
        else:
            report.imported.append(it)
    report.refused = len(resources) - len(report.imported)
    _write(ctx, report.imported)
    return report


def _write(ctx: _Context, items: list[Item]) -> None:
    used = {rel for it in items for _, rel in it.media()}
    for rel, data in ctx.media.items():
        if rel in used:
            (ctx.bank_root / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx.bank_root / rel).write_bytes(data)
    for item in items:
        data = item.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        (ctx.bank_root / item.skill).mkdir(parents=True, exist_ok=True)
        (ctx.bank_root / item.skill / f"{item.id}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _guarded(ctx: _Context, res: Resource) -> Item | None:
    """One item; what no rule foresaw is still one line naming the file, not a crash."""
    try:
        return _import_one(ctx, res)
    except Exception as exc:  # reported with the file, never swallowed
        ctx.report.problems.append(f"{ctx.where}{res.href}: could not be read "
                                   f"({type(exc).__name__}: {exc})")
        return None


def _import_one(ctx: _Context, res: Resource) -> Item | None:
    path = res.href
    name = f"{ctx.where}{path}"
    if path not in ctx.files:
        ctx.report.problems.append(f"{name}: resource '{res.identifier}': the item file "
                                   "is not in the package")
        return None
    try:
        root = parse(ctx.files[path], name)
    except ValueError as exc:
        ctx.report.problems.append(f"{name}: {exc}")
        return None
    qid = root.get("identifier", "?")
    if root.tag != q("qti-assessment-item"):
        ctx.report.problems.append(f"{name}: item '{qid}': root element is "
                                   f"'{etree.QName(root).text}', not a QTI 3.0 "
                                   "qti-assessment-item")
        return None
    problems: list[str] = []
    try:
        _media(ctx, root, path, qid, problems)
        stimuli = _stimuli(ctx, root, path, qid, problems)
        tidied = [n for tree in (root, *stimuli) for n in _tidy(tree)]
        data = read_item(root, stimuli)
        data["_notes"] = tidied + data["_notes"]
    except Refused as exc:
        ctx.report.problems.append(f"{name}: item '{qid}': {exc}")
        return None
    if problems:
        ctx.report.problems.extend(f"{name}: item '{qid}': {p}" for p in problems)
        return None
    meta = dict(res.metadata)
    for key in DEFAULTED:
        if key not in meta and key in ctx.defaults:
            meta[key] = ctx.defaults[key]
    missing = [k for k in DEFAULTED if not meta.get(k)]
    if missing:
        ctx.report.problems.append(
            f"{name}: item '{qid}': field '{missing[0]}' is missing: the package's metadata "
            f"does not give it; pass --{missing[0]}" + (
                f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""))
        return None
    fields = {k: v for k, v in data.items() if not k.startswith("_")}
    fields.update({k: v for k, v in meta.items() if k not in CONTENT})
    fields.setdefault("review", {"status": "draft"})
    if "id" not in meta:  # the same item imported again keeps its id
        fields["id"] = ctx.before.get(qid) or _new_id(ctx, fields)
    fields["qti"] = origin_of(data, fields["id"])
    try:
        item = Item.model_validate(fields)
    except ValidationError as exc:
        from lang_assess.bank.loader import _pydantic_problems

        ctx.report.problems.extend(_pydantic_problems(exc, f"{name}: item '{qid}'"))
        return None
    ctx.taken.add(item.id)
    ctx.report.notes.extend(f"{name}: item '{qid}' ({item.id}): {n}" for n in data["_notes"])
    return item


def _imported_before(bank_root: Path) -> dict[str, str]:
    """QTI identifier → bank id of the bank's items that came from QTI."""
    out = {}
    for path in sorted(bank_root.glob("*/*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue  # `bank validate` names broken files; an import need not
        origin = data.get("qti") if isinstance(data, dict) else None
        if isinstance(origin, dict) and origin.get("identifier"):
            out[str(origin["identifier"])] = path.stem
    return out


def _new_id(ctx: _Context, fields: dict[str, Any]) -> str:
    """The next free id of the bank for the item's level and skill."""
    stem = f"{ctx.language}-{fields.get('level')}-{str(fields.get('skill', 'xxx'))[:3]}-"
    n = 1 + max((int(t[-3:]) for t in ctx.taken if t.startswith(stem) and t[-3:].isdigit()),
                default=0)
    new = f"{stem}{n:03d}"
    ctx.taken.add(new)
    return new


def _media(ctx: _Context, root: etree._Element, path: str, owner: str,
           problems: list[str]) -> None:
    """Point the item's media at bank paths (``media/…``) and keep their bytes to copy."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in ("src", "poster", "data"):
            ref = el.get(attr)
            if not ref:
                continue
            if re.match(r"^(https?|ftp):", ref, re.I):
                problems.append(f"<{local(el)}> uses media from the web ({attr}='{ref}'); "
                                "the bank keeps its media files")
                continue
            target = _join(path, ref)
            if target is None or target not in ctx.files:
                problems.append(f"<{local(el)} {attr}='{ref}'> points to a file that is not "
                                "in the package")
                continue
            if re.fullmatch(r"media/[A-Za-z0-9._/-]+", ref) and ".." not in ref:
                bank = ref
            else:
                # by the item's own identifier: a package, a zip and loose files agree
                bank = f"media/qti/{_safe(owner)}/{_safe(posixpath.basename(ref))}"
            known = ctx.media.get(bank)
            if known is not None and known != ctx.files[target]:
                problems.append(f"<{local(el)} {attr}='{ref}'>: another file of the same "
                                f"name is already taken as {bank}")
                continue
            ctx.media[bank] = ctx.files[target]
            el.set(attr, bank)


def _tidy(tree: etree._Element) -> list[str]:
    """Leave out the attributes of XHTML content that the bank does not keep (styles,
    ``data-*`` hints, event handlers), each with a note; QTI and MathML elements keep
    theirs (the interactions decide about those)."""
    notes = []
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        name = etree.QName(el)
        if name.namespace != NS or name.localname.startswith("qti-") or \
                el.get("class", "").startswith("la-"):  # the bank's own sounds keep theirs
            continue
        for attr in [a for a in el.attrib if a not in ATTRIBUTES]:
            notes.append(f"attribute {attr}='{el.get(attr)}' of <{name.localname}> left out")
            del el.attrib[attr]
    return notes


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "file"


def _stimuli(ctx: _Context, root: etree._Element, path: str, owner: str,
             problems: list[str]) -> list[etree._Element]:
    out = []
    for ref in root.iterfind(q("qti-assessment-stimulus-ref")):
        target = _join(path, ref.get("href", ""))
        if target is None or target not in ctx.files:
            raise Refused(f"qti-assessment-stimulus-ref '{ref.get('href')}' points to a "
                          "file that is not in the package")
        try:
            stim = parse(ctx.files[target], target)
        except ValueError as exc:
            raise Refused(f"stimulus {target}: {exc}") from None
        body = stim.find(q("qti-stimulus-body"))
        if body is None:
            raise Refused(f"stimulus {target} has no qti-stimulus-body")
        _media(ctx, body, target, owner, problems)
        out.append(body)
    return out


def read_zip_bytes(data: bytes) -> dict[str, bytes]:
    """The files of a zip held in memory (for tests and callers with bytes)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
