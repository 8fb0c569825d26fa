"""The teachers' dashboard in real headless Chromium against a real Voila server.

The numbers each view must show are computed here from the raw database tables with the
programme's rules written out again (scipy's normal, numpy's least squares), not through
the service or :mod:`lang_assess.ui.cohort_views`: a mistake in either shows up as a
mismatch.  Screenshots of every view land in ``artifacts/`` (docs/screenshots/ holds a
copy for the README).
"""

import datetime as dt
import os
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sqlalchemy import text
from support import needs
from support.browser import ARTIFACTS, CHROMIUM, PAGES, VoilaServer, chromium

from lang_assess.programme.demo import build_demo
from lang_assess.programme.rules import load_config
from lang_assess.programme.service import Service
from lang_assess.programme.store.db import make_engine, migrate
from lang_assess.ui.serve import TEACHER_PAGE

pytestmark = pytest.mark.browser

WEEKS = 13  # the oldest cohort is in programme week 12 today


@pytest.fixture(scope="module")
def site(tmp_path_factory, nb_bank):
    needs("Chromium", os.path.exists(CHROMIUM))
    data = tmp_path_factory.mktemp("teacher")
    engine = make_engine(f"sqlite:///{data / 'lang_assess.sqlite'}")
    migrate(engine)
    build_demo(lambda clock: Service(engine, nb_bank, load_config(), clock=clock, seed=3),
               today=dt.date.today(), n_participants=24, weeks=WEEKS, intakes=4, seed=17)
    svc = Service(engine, nb_bank, load_config())
    teacher = svc.login_teacher("kari", "demo-kari-2026")
    someone_behind_every_count(engine, int(svc.cohorts(teacher)["id"].iloc[0]),
                               nb_bank.cuts, svc.config)
    server = VoilaServer(data, notebook=PAGES / TEACHER_PAGE).start()
    test_page = VoilaServer(data).start()
    with chromium() as browser:
        yield {"server": server, "browser": browser, "svc": svc, "test_page": test_page,
               "engine": engine, "bank": nb_bank}
    server.kill()
    test_page.kill()
    engine.dispose()


def someone_behind_every_count(engine, cohort_id: int, cuts, config) -> None:
    """Whoever the simulated answers flagged, give cohort ``cohort_id`` one participant
    behind each count, so that a zero on screen is wrong: one's last tests in consecutive
    weeks well above the cut over their course level (ready), another's tests over the
    last ``stalled_weeks`` weeks falling a tenth of a logit a week, each started from a
    prior at its own result and 3 logits wide so that the answers alone said the same
    (stalled), a third's latest test moved back past ``missed_after_days`` (missed).
    Which answers the demo drew changes with the bank; these rows do not."""
    runs = pd.read_sql(text("""
        SELECT p.id AS pid, p.course_level, s.id AS sid, s.week, e.id AS eid, e.theta, e.se
        FROM participant p JOIN test_session s ON s.participant_id = p.id
        JOIN estimate e ON e.session_id = s.id
        WHERE p.cohort_id = :c ORDER BY p.pseudonym, s.week, s.id"""),
        engine, params={"c": cohort_id})
    n, used = config.ready_consecutive, set()
    updates: list[tuple[str, dict]] = []
    estimate = "UPDATE estimate SET theta = :t, level = :l WHERE id = :i"
    for pid, mine in runs.groupby("pid", sort=False):
        label = mine["course_level"].iloc[0]
        if pd.isna(label) or label not in cuts.labels[:-1] or len(mine) < n:
            continue
        last = mine.tail(n)
        if (np.diff(last["week"]) == 1).all():
            cut = cuts.cuts[list(cuts.labels).index(label)]
            for row in last.itertuples():
                theta = cut + 1.0 + 2 * row.se
                updates.append((estimate, {"t": theta, "l": str(cuts.level_label(theta)),
                                           "i": row.eid}))
            used.add(pid)
            break
    falling = ("UPDATE estimate SET theta = :t, level = :l, prior_mean = :t, prior_sd = 3.0 "
               "WHERE id = :i")
    for pid, mine in runs.groupby("pid", sort=False):
        last = mine.iloc[-1]["week"]
        window = mine[last - mine["week"] <= config.stalled_weeks]
        if pid in used or last - mine.iloc[0]["week"] < config.stalled_weeks or len(window) < 3:
            continue
        start = window.iloc[0]["theta"]
        for row in window.itertuples():
            theta = start - 0.1 * (row.week - window.iloc[0]["week"])
            updates.append((falling, {"t": theta, "l": str(cuts.level_label(theta)),
                                      "i": row.eid}))
        used.add(pid)
        break
    last_test = runs[~runs["pid"].isin(used)].groupby("pid").tail(1).iloc[0]
    # naive UTC, as SQLAlchemy writes datetimes to SQLite
    long_ago = (dt.datetime.now(dt.UTC).replace(tzinfo=None)
                - dt.timedelta(days=config.missed_after_days + 1))
    updates.append(("UPDATE test_session SET finished_at = :t WHERE id = :i",
                    {"t": long_ago, "i": int(last_test["sid"])}))
    assert len(used) == 2, "cohort X has nobody to be ready or stalled"
    with engine.begin() as db:
        for sql, params in updates:
            db.execute(text(sql), params)


# ---- the oracle: raw tables and the rules of docs/programme/programme.md ------------

def raw_tests(engine, cohort_id: int) -> pd.DataFrame:
    sql = text("""
        SELECT p.id AS pid, p.pseudonym, p.track, p.course_level, s.week, s.finished_at,
               e.theta, e.se, e.level, e.prior_mean, e.prior_sd
        FROM participant p JOIN test_session s ON s.participant_id = p.id
        JOIN estimate e ON e.session_id = s.id
        WHERE p.cohort_id = :c ORDER BY s.week, s.id""")
    with engine.connect() as db:
        return pd.DataFrame(db.execute(sql, {"c": cohort_id}).mappings().all())


def raw_people(engine, cohort_id: int) -> pd.DataFrame:
    sql = text("SELECT id AS pid, pseudonym, track, course_level, intake_date FROM participant "
               "WHERE cohort_id = :c ORDER BY pseudonym")
    with engine.connect() as db:
        return pd.DataFrame(db.execute(sql, {"c": cohort_id}).mappings().all())


def own_measurements(tests: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """What each test's answers alone said (y, variance R; logits): the prior's
    precision taken off the posterior's, 1/R = 1/SE² − 1/SD₀², and the rest of the
    posterior mean, y = R (θ̂/SE² − m₀/SD₀²).  R = inf where the test narrowed nothing;
    a test without its prior counts as its posterior."""
    theta, se = tests["theta"].to_numpy(float), tests["se"].to_numpy(float)
    m0 = tests["prior_mean"].astype(float).to_numpy()
    s0 = tests["prior_sd"].astype(float).to_numpy()
    known = np.isfinite(m0) & np.isfinite(s0)
    precision = np.where(known, 1 / se**2 - 1 / np.where(known, s0, 1.0) ** 2, 1 / se**2)
    r = np.full(len(tests), np.inf)
    ok = precision > 1e-9
    r[ok] = 1 / precision[ok]
    y = np.where(known & ok, r * (theta / se**2 - np.where(known, m0 / s0**2, 0.0)), theta)
    return y, r


def window_slope(mine: pd.DataFrame, config) -> tuple[float, float] | None:
    """Weighted least-squares growth (logits a week) and its SE of the own measurements
    of the tests in the last ``stalled_weeks`` weeks; None before the tests span the
    window or with fewer than three informative tests in it."""
    if not len(mine):
        return None
    last = mine["week"].iloc[-1]
    if last - mine["week"].iloc[0] < config.stalled_weeks:
        return None
    window = mine[last - mine["week"] <= config.stalled_weeks]
    y, r = own_measurements(window)
    ok = np.isfinite(r)
    if ok.sum() < 3:
        return None
    coef, cov = np.polyfit(window["week"].to_numpy(float)[ok], y[ok], 1,
                           w=1 / np.sqrt(r[ok]), cov="unscaled")
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


def expected_overview(engine, cohort_id: int, cuts, config) -> dict:
    """Ready / stalled / missed per participant and the numbers behind them (P above the
    next cut, growth over the window), latest levels, growth by track."""
    tests, people = raw_tests(engine, cohort_id), raw_people(engine, cohort_id)
    f = config  # the thresholds of programme.yaml
    now = dt.datetime.now(dt.UTC)
    ready, stalled, missed = set(), set(), set()
    p_above, window, days = {}, {}, {}
    for person in people.itertuples():
        mine = tests[tests["pid"] == person.pid]
        week_now = (now.date() - pd.Timestamp(person.intake_date).date()).days // 7
        level = (list(cuts.labels).index(person.course_level)
                 if pd.notna(person.course_level) else None)
        if level is not None and level < len(cuts.cuts) and len(mine):
            cut = cuts.cuts[level]
            p = norm.sf((cut - mine["theta"].to_numpy(float)) / mine["se"].to_numpy(float))
            p_above[person.pseudonym] = float(p[-1])
            last = mine.tail(f.ready_consecutive)
            if (len(mine) >= f.ready_consecutive and (np.diff(last["week"]) == 1).all()
                    and (p[-f.ready_consecutive:] >= f.ready_probability).all()):
                ready.add(person.pseudonym)
        window[person.pseudonym] = slope = window_slope(mine, f)
        if slope is not None and slope[0] < f.stalled_z * slope[1]:
            stalled.add(person.pseudonym)
        if len(mine):
            end = mine.iloc[-1]
            finished = pd.Timestamp(end["finished_at"])
            finished = finished.tz_localize("UTC") if finished.tzinfo is None else finished
            days[person.pseudonym] = (now - finished).days
            overdue = days[person.pseudonym] >= f.missed_after_days
        else:
            overdue = True
        if overdue and week_now > 0:
            missed.add(person.pseudonym)
    latest = tests.groupby("pid").tail(1)
    slopes = {pid: np.polyfit(g["week"], g["theta"], 1)[0]
              for pid, g in tests.groupby("pid") if len(g) >= 3}
    growth = (pd.DataFrame({"pid": list(slopes), "slope": list(slopes.values())})
              .merge(people, on="pid").groupby("track")["slope"].median())
    return {"ready": ready, "stalled": stalled, "missed": missed, "people": people,
            "levels_now": latest["level"].value_counts().to_dict(), "growth": growth,
            "tests": tests, "p_above": p_above, "window": window, "days": days}


def status_of(name: str, exp: dict) -> str:
    """The status label in bokmål (the page's default language)."""
    if name in exp["ready"]:
        return "klar til å gå videre"
    if name in exp["stalled"] or name in exp["missed"]:
        return "trenger oppfølging"
    return "i rute"


NUMBER = r"[+\u2212]?\d+(?:,\d+)?"  # as the bokmål page writes it: 96 · +1,0 · −0,2
POINTS = 100 / 6  # the page's 0–100 scale spans θ −3 … +3


def shown_number(value: str) -> float:
    return float(value.replace("\u2212", "-").replace(",", "."))


def assert_reason(cell: str, name: str, course_level, exp: dict, cuts, config) -> None:
    """A "Hvorfor" text agrees with the oracle's numbers and the config's thresholds:
    a missed test first, with its days; the chance of the next level (rounded down, so a
    figure at the threshold means it was reached) against the move-up threshold; the
    growth over the window (points a week on the 0–100 scale, ± 95 %) with "no growth
    shown" exactly when stalled."""
    if name not in set(exp["tests"]["pseudonym"]):
        assert cell == "Ingen test ennå", (name, cell)
        return
    missed = re.match(rf"Ingen test på (\d+) dager "
                      rf"\(mangler etter {config.missed_after_days}\); ", cell)
    assert bool(missed) == (name in exp["missed"]), (name, cell)
    if missed:
        assert int(missed[1]) == exp["days"][name]
    threshold = 100 * config.ready_probability
    if name in exp["p_above"]:
        m = re.search(rf"({NUMBER}) % sikker på (\S+) eller høyere "
                      rf"\(går videre ved ({NUMBER}) %", cell)
        assert m, (name, cell)
        shown, p = shown_number(m[1]), 100 * exp["p_above"][name]
        assert p - 1 - 1e-6 <= shown <= p + 1e-6, (name, cell, p)
        assert m[2] == cuts.labels[list(cuts.labels).index(course_level) + 1]
        assert shown_number(m[3]) == pytest.approx(threshold)
        if config.ready_consecutive == 1:
            assert (shown >= threshold) == (name in exp["ready"]), (name, cell)
    slope = exp["window"][name]
    if slope is None:
        assert "for få uker ennå til å vurdere vekst" in cell, (name, cell)
        return
    m = re.search(rf"({NUMBER}) ± ({NUMBER}) poeng i uka", cell)
    assert m, (name, cell)
    assert shown_number(m[1]) == pytest.approx(slope[0] * POINTS, abs=0.051), (name, cell)
    assert shown_number(m[2]) == pytest.approx(1.96 * slope[1] * POINTS, abs=0.051)
    stalled = f"ingen vekst vist de siste {config.stalled_weeks} ukene" in cell
    growing = f"vekst {m[1]}" in cell and f"de siste {config.stalled_weeks} ukene" in cell
    assert (stalled, growing) == ((True, False) if name in exp["stalled"] else (False, True))


# ---- helpers -----------------------------------------------------------------------------

def login(page, site, user, password, query="", language=None):
    page.goto(site["server"].url + query, timeout=90_000)
    page.wait_for_selector("text=Logg inn", timeout=90_000)
    if language == "en":
        page.click("button:has-text('English')")
        page.wait_for_selector("text=Log in")
    fields = page.query_selector_all("input")
    fields[0].fill(user)
    fields[1].fill(password)
    page.click("button.mod-primary")


def shoot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def table_on_screen(page, selector) -> pd.DataFrame:
    rows = page.eval_on_selector_all(
        f"{selector} tr", "rs => rs.map(r => Array.from(r.children).map(c => c.innerText))")
    return pd.DataFrame(rows[1:], columns=rows[0])


def plot_data(page, nth=0) -> list[dict]:
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    # _fullData: the arrays plotly.js drew (data may still hold base64-packed arrays)
    return page.evaluate(
        """n => document.querySelectorAll('.js-plotly-plot')[n]._fullData.map(t => ({
             name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))""", nth)


def oldest_cohort(site, user, password):
    svc = site["svc"]
    teacher = svc.login_teacher(user, password)
    cohorts = svc.cohorts(teacher)
    return teacher, cohorts, int(cohorts["id"].iloc[0])


# ---- the views ---------------------------------------------------------------------------

def test_overview_shows_the_independently_counted_numbers(site):
    svc = site["svc"]
    _, _, cohort = oldest_cohort(site, "kari", "demo-kari-2026")
    people = raw_people(site["engine"], cohort)
    week = (dt.date.today() - pd.Timestamp(people["intake_date"].iloc[0]).date()).days // 7
    assert week == WEEKS - 1 == 12
    exp = expected_overview(site["engine"], cohort, svc.bank.cuts, svc.config)
    assert exp["tests"]["pid"].nunique() == len(people) > 0
    # the fixture gives cohort X someone behind every count, so a zero on screen is wrong
    assert exp["ready"] and exp["stalled"] and exp["missed"]
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "kari", "demo-kari-2026")
    page.wait_for_selector(".la-cohort-table")
    # week 12 of cohort X: the counts behind the buttons
    ready = page.inner_text(".la-count-ready_to_move_up")
    assert ready == f"Klar til å gå videre: {len(exp['ready'])}"
    assert page.inner_text(".la-count-stalled") == f"Står stille: {len(exp['stalled'])}"
    assert page.inner_text(".la-count-missed") == f"Mangler test: {len(exp['missed'])}"
    # the table: everyone, with the status label a teacher acts on
    table = table_on_screen(page, ".la-cohort-table")
    assert sorted(table["Pseudonym"]) == sorted(exp["people"]["pseudonym"])
    for row in table.itertuples():
        assert row.Status == status_of(row.Pseudonym, exp), row.Pseudonym
    # why (issue 15): the numbers behind each flag and behind its absence, in words
    levels = exp["people"].set_index("pseudonym")["course_level"]
    why = table.set_index("Pseudonym")["Hvorfor"]
    for name, cell in why.items():
        assert_reason(cell, name, levels[name], exp, svc.bank.cuts, svc.config)
    for name in exp["ready"]:
        assert "sikker på" in why[name]
    for name in exp["stalled"]:
        assert "ingen vekst vist" in why[name]
    unflagged = set(why.index) - exp["ready"] - exp["stalled"] - exp["missed"]
    assert unflagged, "nobody without a flag to say why not"
    for name in unflagged:  # why not: below the threshold, and growing (or too early)
        assert "sikker på" in why[name] and ("vekst" in why[name] or "for få uker" in why[name])
    # this week's level distribution: the last bar of the stacked chart
    bars = plot_data(page)
    last = {b["name"]: b["y"][-1] for b in bars}
    assert {k: v for k, v in last.items() if v} == exp["levels_now"]
    assert max(bars[0]["x"]) == exp["tests"]["week"].max()
    # growth a week by track (median least-squares slope)
    growth = pd.DataFrame(page.eval_on_selector_all(  # a table without a header row
        ".la-growth-track tr", "rs => rs.map(r => Array.from(r.children).map(c => c.innerText))"),
        columns=["track", "median", "n"])
    for track, median in exp["growth"].items():
        shown = growth.loc[growth["track"] == str(track), "median"].iloc[0]
        assert float(shown) == pytest.approx(median, abs=0.0006), track
    shoot(page, "teacher-overview")
    # each count a click away from the people behind it
    for flag, key in (("stalled", "stalled"), ("ready_to_move_up", "ready")):
        page.click(f".la-count-{flag}")
        page.wait_for_selector(f".la-people-{flag}")
        names = page.eval_on_selector_all(f".la-people-{flag} li",
                                          "ls => ls.map(l => l.innerText)")
        assert set(names) == exp[key]
    shoot(page, "teacher-people-behind-a-count")
    page.close()


def test_participant_page_trajectory_history_and_skills(site):
    engine = site["engine"]
    _, _, cohort = oldest_cohort(site, "kari", "demo-kari-2026")
    tests = raw_tests(engine, cohort)
    pid = int(tests.groupby("pid").size().idxmax())  # the one with most tests
    mine = tests[tests["pid"] == pid]
    with engine.connect() as db:
        answers = pd.DataFrame(db.execute(text(
            "SELECT r.item_id, r.score FROM response r JOIN test_session s "
            "ON s.id = r.session_id WHERE s.participant_id = :p"), {"p": pid}).mappings().all())
        lookup = db.execute(text("SELECT code_lookup FROM participant WHERE id = :p"),
                            {"p": pid}).scalar_one()
    answers["skill"] = [site["bank"].items[i].skill for i in answers["item_id"]]
    shares = answers.groupby("skill")["score"].mean()
    page = site["browser"].new_page(viewport={"width": 1280, "height": 900})
    login(page, site, "kari", "demo-kari-2026", query=f"?participant={pid}")
    page.wait_for_selector(".la-history")
    name = mine["pseudonym"].iloc[0]
    assert name in page.inner_text("h2")
    # why this status: the same words and numbers as the overview's "Hvorfor"
    svc = site["svc"]
    exp = expected_overview(engine, cohort, svc.bank.cuts, svc.config)
    assert page.inner_text(".la-why h3") == "Hvorfor denne statusen"
    status, reason = page.inner_text(".la-why p").split(": ", 1)
    assert status == status_of(name, exp)
    assert_reason(reason, name, mine["course_level"].iloc[0], exp, svc.bank.cuts, svc.config)
    history = table_on_screen(page, ".la-history")
    assert [int(w) for w in history["Uke"]] == list(mine["week"])
    assert list(history["Nivå"]) == list(mine["level"])
    assert [int(v) for v in history["Ferdighet (0–100)"]] == [
        round(v) for v in np.clip((mine["theta"] + 3) / 6 * 100, 0, 100)]
    # beside the estimate, what the week's answers alone said (no prior given back)
    y, r = own_measurements(mine)
    assert list(history["Ukas svar alene (0–100)"]) == [
        "—" if not np.isfinite(v) else
        f"{round(float(np.clip((m + 3) / 6 * 100, 0, 100)))} ± {round(1.96 * np.sqrt(v) * POINTS)}"
        for m, v in zip(y, r, strict=True)]
    assert np.isfinite(r).any()
    skills = table_on_screen(page, ".la-skills")
    for row in skills.itertuples():
        assert row.share == f"{shares[row.skill]:.0%}", row.skill
    assert set(skills["skill"]) == set(shares.index)
    lines = {t["name"]: t for t in plot_data(page)}
    theta = lines["θ"]
    assert theta["x"] == list(mine["week"])
    assert theta["y"] == pytest.approx(list(np.clip((mine["theta"] + 3) / 6 * 100, 0, 100)))
    track = int(mine["track"].iloc[0])
    medians = tests[tests["track"] == track].groupby("week")["theta"].median()
    median = lines[f"spor {track}"]
    assert median["y"] == pytest.approx(list(np.clip((medians + 3) / 6 * 100, 0, 100)))
    assert lookup not in page.content()  # the access code is never shown again
    page.fill(".la-note-text textarea", "Øver på lytting hjemme <b>hver dag</b>.")
    page.click(".la-note-save")
    page.wait_for_selector(".la-notes li:has-text('Øver på lytting hjemme')")
    assert "<b>hver dag</b>" in page.inner_text(".la-notes")  # shown as text, not markup
    with engine.connect() as db:
        kept = db.execute(text("SELECT text FROM note WHERE participant_id = :p"),
                          {"p": pid}).scalars().all()
    assert kept == ["Øver på lytting hjemme <b>hver dag</b>."]
    shoot(page, "teacher-participant")
    page.close()


def test_exports_open_with_pandas_and_match_the_screen(site, tmp_path):
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "kari", "demo-kari-2026")
    page.wait_for_selector(".la-cohort-table")
    screen = table_on_screen(page, ".la-cohort-table")
    files = {}
    for kind in ("csv", "xlsx"):
        with page.expect_download() as download:
            page.click(f"a.la-{kind}")
        files[kind] = tmp_path / f"cohort.{kind}"
        download.value.save_as(files[kind])
    page.close()
    for table in (pd.read_csv(files["csv"], encoding="utf-8-sig", dtype=str),
                  pd.read_excel(files["xlsx"], dtype=str)):
        assert list(table.columns) == list(screen.columns)
        assert table.fillna("—").to_numpy().tolist() == screen.to_numpy().tolist()


def test_a_teacher_cannot_open_another_teachers_cohort(site):
    svc = site["svc"]
    _, own, _ = oldest_cohort(site, "kari", "demo-kari-2026")
    ola, theirs, their_cohort = oldest_cohort(site, "ola", "demo-ola-2026")
    their_people = svc.cohort_progress(ola, their_cohort)
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "kari", "demo-kari-2026")
    page.wait_for_selector(".la-cohort-table")
    offered = page.eval_on_selector(  # the first select: the cohort picker
        "select", "s => Array.from(s.options).map(o => o.textContent.replace(/\\u00a0/g, ' '))")
    assert sorted(offered) == sorted(f"{r.name} ({r.teacher})" for r in own.itertuples())
    assert not {f"{r.name} ({r.teacher})" for r in theirs.itertuples()} & set(offered)
    # links tampered with: another teacher's cohort, another teacher's participant
    for query in (f"?cohort={their_cohort}",
                  f"?participant={int(their_people['participant_id'].iloc[0])}"):
        login(page, site, "kari", "demo-kari-2026", query=query)
        page.wait_for_selector(".la-denied")
        content = page.content()
        for name in their_people["pseudonym"]:
            assert name not in content, (query, name)
        assert page.query_selector(".la-cohort-table") is None
    shoot(page, "teacher-no-access")
    page.close()


def test_an_admin_sees_all_cohorts_and_filters_by_teacher(site):
    svc = site["svc"]
    everything = svc.cohorts(svc.login_teacher("admin", "demo-admin-2026"))
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "admin", "demo-admin-2026")
    page.wait_for_selector(".la-cohort-table")
    options = lambda: page.eval_on_selector_all(  # noqa: E731
        "select", "ss => Array.from(ss[1].options).map(o => o.textContent)")
    assert len(options()) == len(everything)
    page.select_option(".la-teacher-filter select", label="ola")
    page.wait_for_function(  # a function, not an expression: the page's CSP has no eval
        "n => document.querySelectorAll('select')[1].options.length == n",
        arg=int((everything["teacher"] == "ola").sum()))
    assert all("(ola)" in o for o in options())
    first = int(everything.loc[everything["teacher"] == "ola", "id"].iloc[0])
    theirs = svc.cohort_progress(svc.login_teacher("ola", "demo-ola-2026"), first)
    page.wait_for_function(  # the overview follows the picker to ola's first cohort
        "n => document.querySelector('.la-cohort-table') && document.querySelector("
        "'.la-cohort-table').innerText.includes(n)", arg=theirs["pseudonym"].iloc[0])
    shown = table_on_screen(page, ".la-cohort-table")
    assert sorted(shown["Pseudonym"]) == sorted(theirs["pseudonym"])
    shoot(page, "teacher-admin")
    page.close()


def test_english_ui_and_wrong_password(site):
    svc = site["svc"]
    _, _, cohort = oldest_cohort(site, "kari", "demo-kari-2026")
    exp = expected_overview(site["engine"], cohort, svc.bank.cuts, svc.config)
    page = site["browser"].new_page(viewport={"width": 1280, "height": 800})
    login(page, site, "kari", "wrong-password")
    page.wait_for_selector("text=Feil brukernavn eller passord.")
    assert page.query_selector(".la-cohort-table") is None
    login(page, site, "kari", "demo-kari-2026", language="en")
    page.wait_for_selector(".la-cohort-table")
    assert page.inner_text(".la-count-ready_to_move_up") == f"Ready to move up: {len(exp['ready'])}"
    assert "sure of" in table_on_screen(page, ".la-cohort-table")["Why"].str.cat()
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    assert "week" in page.inner_text(".js-plotly-plot")
    shoot(page, "teacher-overview-en")
    page.close()


def test_enrolment_through_the_ui_gives_codes_that_open_the_test(site):
    page = site["browser"].new_page(viewport={"width": 1280, "height": 900})
    login(page, site, "kari", "demo-kari-2026")
    page.wait_for_selector(".la-enrol")
    page.click(".la-enrol")
    page.wait_for_selector("text=Nytt inntak")
    page.fill("input[type=text]", "pseudo-UI-001")
    page.click("button:has-text('Legg til')")
    page.wait_for_selector("li:has-text('pseudo-UI-001')")
    shoot(page, "teacher-enrolment")
    page.click(".la-save")
    page.wait_for_selector(".la-new-code")
    code = page.inner_text(".la-new-code").strip()
    assert "bare denne ene gangen" in page.inner_text(".la-dashboard")
    shoot(page, "teacher-codes")
    page.close()
    participant = site["browser"].new_page(viewport={"width": 360, "height": 740})
    participant.goto(site["test_page"].url, timeout=90_000)
    participant.wait_for_selector(".la-lang-nb", timeout=90_000)
    participant.click(".la-lang-nb")
    participant.wait_for_selector(".la-code input")
    participant.fill(".la-code input", code)
    participant.keyboard.press("Enter")
    participant.wait_for_selector(".la-privacy")  # first login: the privacy notice
    participant.click("button.mod-primary")
    participant.wait_for_selector("text=Trykk på sola.")  # the placement test begins
    participant.close()
