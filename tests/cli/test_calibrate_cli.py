"""`lang-assess calibrate`: responses CSV (wide or long) in, PARAMS.csv out."""

import numpy as np
import pandas as pd

from lang_assess.bank.params_csv import read_params_csv, write_params_csv
from lang_assess.cli import main
from lang_assess.engine.irt.params import ItemParameters


def simulated(tmp_path, n=2000, items=12, seed=5, missing=0.3):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.8, 2.0, items), rng.normal(0, 1, items)
    theta = rng.normal(0, 1, n)
    x = (rng.random((n, items)) < 1 / (1 + np.exp(-a * (theta[:, None] - b)))).astype(float)
    x[rng.random(x.shape) < missing] = np.nan  # blank = not administered
    ids = [f"it{k:02d}" for k in range(items)]
    frame = pd.DataFrame(x, columns=ids).astype("Int64")
    frame.insert(0, "person", [f"p{k}" for k in range(n)])
    path = tmp_path / "responses.csv"
    frame.to_csv(path, index=False)
    return path, ItemParameters.dichotomous(ids, a, b)


def test_2pl_and_1pl_files_read_back_near_the_truth(tmp_path, capsys):
    path, truth = simulated(tmp_path)
    out = tmp_path / "params.csv"
    assert main(["calibrate", str(path), "--model", "2pl", "--out", str(out), "--quiet"]) == 0
    est = read_params_csv(out)
    assert list(est.ids) == list(truth.ids)
    assert np.corrcoef(est.b, truth.b)[0, 1] > 0.98
    assert np.abs(est.b - truth.b).max() < 0.3 and np.corrcoef(est.a, truth.a)[0, 1] > 0.9
    table = pd.read_csv(out)
    assert {"item", "a", "b", "c", "se_a", "se_b", "n"} <= set(table.columns)
    assert (table["n"] < 2000).all() and (table["se_b"] > 0).all()
    assert "converged" in capsys.readouterr().out
    assert main(["calibrate", str(path), "--model", "1pl", "--out", str(out), "--quiet"]) == 0
    assert np.all(read_params_csv(out).a == 1.0)


def test_a_long_csv_is_recognised_by_its_header_and_fits_as_the_wide_one(tmp_path):
    path, truth = simulated(tmp_path, n=1500, seed=4)
    wide = pd.read_csv(path)
    long = wide.melt(id_vars="person", var_name="item", value_name="score").dropna()
    long = long.sample(frac=1.0, random_state=1)  # any row order
    long_path = tmp_path / "long.csv"
    long.astype({"score": int}).to_csv(long_path, index=False)
    assert long_path.read_text().startswith("person,item,score\n")
    out_w, out_l = tmp_path / "w.csv", tmp_path / "l.csv"
    assert main(["calibrate", str(path), "--out", str(out_w), "--quiet"]) == 0
    assert main(["calibrate", str(long_path), "--out", str(out_l), "--quiet"]) == 0
    est_w, est_l = read_params_csv(out_w), read_params_csv(out_l)
    order = est_l.index_of(est_w.ids)
    np.testing.assert_allclose(est_l.b[order], est_w.b, atol=1e-6)
    np.testing.assert_allclose(est_l.a[order], est_w.a, atol=1e-6)
    assert np.corrcoef(est_w.b, truth.subset(truth.index_of(est_w.ids)).b)[0, 1] > 0.98
    bad = tmp_path / "bad_long.csv"
    bad.write_text("person,item,score\np1,q1,1\np1,q1,0\n")
    assert main(["calibrate", str(bad), "--out", str(tmp_path / "o.csv"), "--quiet"]) == 2


def test_fixed_anchors_keep_their_values_and_set_the_scale(tmp_path):
    path, truth = simulated(tmp_path, seed=8)
    anchors = tmp_path / "anchors.csv"
    write_params_csv(anchors, truth.subset(np.arange(6)))
    out = tmp_path / "params.csv"
    assert main(["calibrate", str(path), "--model", "2pl", "--fixed", str(anchors),
                 "--out", str(out), "--quiet"]) == 0
    est = read_params_csv(out)
    assert np.allclose(est.b[:6], truth.b[:6], atol=1e-4)
    assert np.abs(est.b[6:] - truth.b[6:]).mean() < 0.15


def test_a_malformed_file_names_the_file_the_row_and_the_item(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("person,q1,q2\np1,1,0\np2,2,1\np3,x,\n")
    assert main(["calibrate", str(bad), "--model", "2pl", "--out",
                 str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "q1" in err and ("p2" in err or "row" in err)
    assert not (tmp_path / "o.csv").exists()


def test_the_pyirt_backend_through_the_command(tmp_path, capsys):
    path, truth = simulated(tmp_path, n=1500, items=10, seed=2, missing=0.0)
    out = tmp_path / "params.csv"
    assert main(["calibrate", str(path), "--model", "2pl", "--backend", "pyirt",
                 "--seed", "3", "--out", str(out), "--quiet"]) == 0
    est = read_params_csv(out)
    assert np.abs(est.b - truth.b).max() < 0.3
    assert "pyirt 2pl" in capsys.readouterr().out
    anchors = tmp_path / "anchors.csv"
    write_params_csv(anchors, truth.subset(np.arange(3)))
    assert main(["calibrate", str(path), "--backend", "pyirt", "--fixed", str(anchors),
                 "--out", str(out), "--quiet"]) == 2
    assert "no anchors" in capsys.readouterr().err


def test_3pl_writes_c_and_its_standard_error(tmp_path):
    rng = np.random.default_rng(9)
    n, items = 4000, 15
    a, b = rng.uniform(0.8, 2.0, items), rng.normal(0.3, 1, items)
    theta = rng.normal(0, 1, n)
    p = 0.25 + 0.75 / (1 + np.exp(-a * (theta[:, None] - b)))
    ids = [f"mc{k:02d}" for k in range(items)]
    frame = pd.DataFrame((rng.random(p.shape) < p).astype(int), columns=ids)
    frame.insert(0, "person", [f"p{k}" for k in range(n)])
    path, out = tmp_path / "responses.csv", tmp_path / "params.csv"
    frame.to_csv(path, index=False)
    assert main(["calibrate", str(path), "--model", "3pl", "--chance", "0.25", "--out",
                 str(out), "--quiet"]) == 0
    table = pd.read_csv(out)
    assert (table["model"] == "3pl").all() and table["se_c"].notna().all()
    est = read_params_csv(out)
    assert abs(est.c.mean() - 0.25) < 0.04 and np.corrcoef(est.b, b)[0, 1] > 0.95
    assert main(["calibrate", str(path), "--model", "3pl", "--fix-c", "--out", str(out),
                 "--quiet"]) == 0
    assert np.allclose(read_params_csv(out).c, 0.25)
