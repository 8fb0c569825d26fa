"""`lang-assess bank import-qti / export-qti` as a new user runs them: every problem named,
no traceback, and an exit status that says whether the import was whole, partial or
nothing."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from support.qti import FOREIGN, UNSUPPORTED, empty_bank

SCRIPT = Path(sys.executable).parent / "lang-assess"
FLAGS = ["--skill", "reading", "--level", "A2", "--topic", "daily_life", "--author", "someone"]


def run(*args):
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_whole_import_exit_0_then_export_zip_valid_and_stable(tmp_path):
    bank = empty_bank(tmp_path / "bank")
    out = run("bank", "import-qti", FOREIGN, bank, *FLAGS)
    assert out.returncode == 0, out.stderr
    assert "11 of 11 item(s) imported" in out.stdout
    assert "imported nb-A2-rea-003 (mc_text, was 'choice-single')" in out.stdout
    assert "Traceback" not in out.stderr
    val = run("bank", "validate", bank, "--skip", "params")
    assert val.returncode == 0, val.stdout
    # content moves without parameters: a bank fresh from an import exports as it is
    first = run("bank", "export-qti", bank, tmp_path / "a.zip")
    assert first.returncode == 0, first.stderr
    assert f"11 items written: {tmp_path / 'a.zip'}" in first.stdout
    assert run("bank", "export-qti", bank, tmp_path / "b.zip").returncode == 0
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        names = z.namelist()
    assert "imsmanifest.xml" in names and len([n for n in names if n.endswith(".xml")]) == 12


def test_partial_import_exit_1_lists_the_refused(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    shutil.copyfile(FOREIGN / "items" / "order.xml", package / "order.xml")
    for f in UNSUPPORTED.glob("*.xml"):
        shutil.copyfile(f, package / f.name)
    bank = empty_bank(tmp_path / "bank")
    out = run("bank", "import-qti", package, bank, *FLAGS)
    assert out.returncode == 1
    assert "1 of 4 item(s) imported" in out.stdout and "3 not imported" in out.stdout
    assert f"{package}/hotspot.xml: item 'hotspot1': qti-hotspot-interaction" in out.stderr
    assert f"{package}/slider.xml: item 'slider1': qti-slider-interaction" in out.stderr
    assert f"{package}/custom-processing.xml: item 'custom_rp': custom response " \
           "processing" in out.stderr
    assert "Traceback" not in out.stderr


def test_nothing_imported_or_no_input_exit_2(tmp_path):
    bank = empty_bank(tmp_path / "bank")
    missing = run("bank", "import-qti", tmp_path / "nope.zip", bank)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"lang-assess: error: {tmp_path / 'nope.zip'}: no such " \
                                     "file or folder"
    nothing = run("bank", "import-qti", UNSUPPORTED, bank, *FLAGS)
    assert nothing.returncode == 2 and "0 of 3 item(s) imported" in nothing.stdout
    no_flags = run("bank", "import-qti", FOREIGN / "items" / "hottext.xml", bank)
    assert no_flags.returncode == 2
    assert "field 'skill' is missing: the package's metadata does not give it; pass --skill" \
        in no_flags.stderr
    no_bank = run("bank", "import-qti", FOREIGN, tmp_path / "empty")
    assert no_bank.returncode == 2 and "no bank.yaml" in no_bank.stderr
    for out in (missing, nothing, no_flags, no_bank):
        assert "Traceback" not in out.stderr
