"""The psychometrician's notebooks run top to bottom on the demo database (nbclient).

Each runs on its own copy of the bank with publishing switched on, so the test also sees
that a notebook's publish step made a new parameter or cut version.
"""

import datetime as dt
import shutil

import nbclient
import nbformat
import pytest
import yaml
from support import REPO

from lang_assess.bank import versions
from lang_assess.bank.loader import load_bank
from lang_assess.programme.demo import build_demo
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Service
from lang_assess.programme.store.db import make_engine, migrate

pytestmark = pytest.mark.db

PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory, nb_bank):
    """The demo programme as `make demo` builds it (lang-assess demo-data defaults)."""
    data = tmp_path_factory.mktemp("demo")
    engine = make_engine(f"sqlite:///{data / 'lang_assess.sqlite'}")
    migrate(engine)
    build_demo(lambda clock: Service(engine, nb_bank, load_config(), clock=clock, seed=2026),
               today=dt.date(2026, 11, 22))
    engine.dispose()
    return data


def run(name, data, bank_dir, monkeypatch):
    monkeypatch.setenv("LANG_ASSESS_DATA", str(data))
    monkeypatch.setenv("LANG_ASSESS_BANK", str(bank_dir))
    monkeypatch.setenv("LANG_ASSESS_PUBLISH", "1")
    monkeypatch.setenv("LANG_ASSESS_APPROVER", "test suite")
    monkeypatch.setenv("LANG_ASSESS_QUICK", "1")
    book = nbformat.read(REPO / "notebooks" / name, as_version=4)
    assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), \
        "notebooks are committed without outputs"
    nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}}).execute()
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return book, outputs


def figures(outputs):
    return [o for o in outputs if PLOTLY in o.get("data", {})]


def copy_bank(tmp_path):
    target = tmp_path / "nb"
    shutil.copytree(REPO / "item_bank" / "nb", target)
    return target


def test_recalibrate_publishes_the_precise_items_as_a_new_version(demo_data, tmp_path,
                                                                 monkeypatch):
    bank_dir = copy_bank(tmp_path)
    _, outputs = run("recalibrate.ipynb", demo_data, bank_dir, monkeypatch)
    assert len(figures(outputs)) >= 5  # ICC, drift, fit, DIF, information
    assert versions.current_version(bank_dir) == "v1"
    meta = versions.provenance(bank_dir, "v1")
    assert meta["backend"] == "mml" and meta["approved_by"] == "test suite"
    assert meta["items_recalibrated"] >= 1
    assert load_bank(bank_dir).config.params_version == "v1"


def test_standard_setting_records_a_cut_version(demo_data, tmp_path, monkeypatch):
    bank_dir = copy_bank(tmp_path)
    _, outputs = run("standard_setting.ipynb", demo_data, bank_dir, monkeypatch)
    assert figures(outputs)
    raw = yaml.safe_load((bank_dir / "bank.yaml").read_text())
    assert raw["cuts"]["version"] == "c1"
    assert raw["cuts"]["provenance"]["method"] == "bookmark"
    assert raw["cuts_history"][0]["values"] == [-2.0, -1.0, 0.0, 1.0, 2.0]


def test_simulate_cat_compares_designs(demo_data, tmp_path, monkeypatch):
    _, outputs = run("simulate_cat.ipynb", demo_data, copy_bank(tmp_path), monkeypatch)
    assert len(figures(outputs)) >= 3
