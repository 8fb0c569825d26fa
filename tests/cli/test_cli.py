"""The `lang-assess` command as other tools script it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lang_assess.engine.simulate import synthetic_bank

SCRIPT = Path(sys.executable).parent / "lang-assess"
KEYS = {"n", "bias", "rmse", "mean_length", "max_length", "mean_se", "mean_oracle_length",
        "max_exposure"}


def run(*args, cwd=None):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def bank_csv(tmp_path_factory):
    bank = synthetic_bank(300, seed=2)
    path = tmp_path_factory.mktemp("bank") / "params.csv"
    skills = ["reading", "listening", "vocabulary", "grammar"]
    rows = [f"{i},{a:.4f},{b:.4f},0,{skills[k % 4]}"
            for k, (i, a, b) in enumerate(zip(bank.ids, bank.a, bank.b, strict=True))]
    path.write_text("item,a,b,c,skill\n" + "\n".join(rows) + "\n")
    return path


def test_console_script_is_installed():
    assert SCRIPT.exists(), "install the project (make test does) to get the lang-assess script"


def test_simulate_json_contract(bank_csv, tmp_path):
    thetas = tmp_path / "thetas.csv"
    values = np.random.default_rng(0).normal(size=150)
    thetas.write_text("theta\n" + "\n".join(f"{v:.5f}" for v in values) + "\n")
    out = run("simulate", "--bank", str(bank_csv), "--thetas", str(thetas),
              "--cuts", "-2,-1,0,1,2", "--seed", "3", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert KEYS | {"cefr_accuracy"} <= set(summary)
    assert summary["n"] == 150
    assert 0 < summary["rmse"] < 0.6 and 5 <= summary["mean_length"] <= 30
    again = json.loads(run("simulate", "--bank", str(bank_csv), "--thetas", str(thetas),
                           "--cuts", "-2,-1,0,1,2", "--seed", "3", "--json").stdout)
    assert again == summary


def test_simulate_table_and_progress_design(bank_csv):
    out = run("simulate", "--bank", str(bank_csv), "--n", "100", "--design", "progress")
    assert out.returncode == 0, out.stderr
    assert "progress design, 300 items, 100 simulees" in out.stdout
    assert "RMSE of θ̂" in out.stdout
    without_cuts = run("simulate", "--bank", str(bank_csv), "--n", "50", "--json")
    assert "cefr_accuracy" not in json.loads(without_cuts.stdout)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("item,a,b\nx,1,0\ny,-1,0\n", "item 'y': field 'a' is -1"),
        ("item,a,b\nx,1,0\nx,1,1\n", "item 'x': field 'id' is duplicated"),
        ("item,a,b,c\nx,1,0,1.5\n", "item 'x': field 'c' is 1.5"),
        ("item,a,b\nx,1,nan\n", "item 'x': field 'b' is NaN"),
        ("item,a\nx,1\n", "missing column(s) 'b'"),
        ("", "missing column(s)"),
        ("item,a,b\n", "no items in the file"),
    ],
)
def test_bad_bank_files_end_with_one_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = run("simulate", "--bank", str(path), "--n", "10")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith("lang-assess: error: ") and message in lines[0]
    assert str(path) in lines[0]


def test_bad_arguments_and_missing_files(bank_csv, tmp_path):
    for args, message in [
        (("--bank", str(tmp_path / "none.csv")), "file not found"),
        (("--bank", str(bank_csv), "--cuts", "1,0"), "strictly increasing"),
        (("--bank", str(bank_csv), "--n", "0"), "--n must be at least 1"),
    ]:
        out = run("simulate", *args)
        assert out.returncode == 2 and message in out.stderr
        assert "Traceback" not in out.stderr
    thetas = tmp_path / "t.csv"
    thetas.write_text("ability\n0.1\n")
    out = run("simulate", "--bank", str(bank_csv), "--thetas", str(thetas))
    assert out.returncode == 2 and "missing column 'theta'" in out.stderr


def test_demo_prints_a_walkthrough_and_a_report():
    out = run("demo", "--items", "200", "--n", "200")
    assert out.returncode == 0, out.stderr
    assert "One test, a simulee with true θ" in out.stdout
    assert "→ level" in out.stdout and "CEFR exact-level accuracy" in out.stdout
