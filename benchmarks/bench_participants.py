"""Thirty participants taking the test at once, each in a real Jupyter kernel running the
real ``ParticipantTestApp``, driven through the kernel protocol (as Voila drives it).

30 Chromium contexts do not fit in 2 cores, so each participant is a kernel client that
sends execute requests doing what a click does (``app.pick(...)``, ``app.submit()``) and
waits for the reply and every widget update the kernel publishes (iopub until idle).
The browser's rendering and Voila's websocket hop are not included.  Each participant
thinks 1-3 s per item.  Run: ``.venv/bin/python benchmarks/bench_participants.py
[--seconds 120]`` (``make bench`` runs it).
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from jupyter_client.manager import start_new_kernel

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

CLICK = """
_v = app.view
for _o in (_v.options if _v.type == "ordering" else _v.options[:1]):
    app.pick(_o.id)
app.submit()
"""


def timed(client, code: str) -> tuple[float, bool]:
    """One execute request, answered and idle: (seconds, whether the test is over)."""
    t = time.perf_counter()
    reply = client.execute_interactive(code, timeout=120, output_hook=lambda _m: None,
                                       user_expressions={"over": "app.view is None"})
    content = reply["content"]
    if content["status"] != "ok":
        raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")
    over = content["user_expressions"]["over"].get("data", {}).get("text/plain") == "True"
    return time.perf_counter() - t, over


def participant(client, code: str, seconds: float, seed: int, out: dict) -> None:
    rng = np.random.default_rng(seed)
    try:
        out["first_item_s"], over = timed(
            client, f'app.choose_language("ar"); app.code_box.value = "{code}"; '
                    'app.accept_privacy(); app.practice("sol"); app.show_item()')
        end = time.monotonic() + seconds
        while not over and time.monotonic() < end:
            time.sleep(rng.uniform(1.0, 3.0))
            seconds_taken, over = timed(client, CLICK)
            out["answer_ms"].append(seconds_taken * 1e3)
    except RuntimeError as exc:
        out["errors"].append(str(exc))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--participants", type=int, default=30)
    args = parser.parse_args()
    from programme_helpers import new_programme

    from lang_assess.bank.loader import load_bank

    with tempfile.TemporaryDirectory() as data:
        bank = load_bank(REPO / "item_bank" / "nb")
        people = new_programme(f"sqlite:///{data}/lang_assess.sqlite", bank,
                               args.participants, prefix="bench-")
        env = {**os.environ, "LANG_ASSESS_DATA": data}
        kernels = []
        for _ in people:  # the preheated pool: kernels that ran the page already
            km, kc = start_new_kernel(kernel_name="python3", env=env)
            kc.execute_interactive("from lang_assess.ui.participant_page import make_app\n"
                                   "app = make_app()", timeout=120)
            kernels.append((km, kc))
        results = [{"answer_ms": [], "errors": [], "first_item_s": None} for _ in people]
        threads = [threading.Thread(target=participant,
                                    args=(kc, person.code, args.seconds, k, results[k]))
                   for k, ((_, kc), person) in enumerate(zip(kernels, people, strict=True))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    answers = np.array([ms for r in results for ms in r["answer_ms"]])
    first = np.array([r["first_item_s"] for r in results if r["first_item_s"]])
    errors = [e for r in results for e in r["errors"]]
    print("\n### Participant test, 30 at once (real kernels, kernel protocol, SQLite, "
          "1-3 s think time)\n")
    print("| participants | answers | errors | answer→next item p50 ms | p95 ms | max ms "
          "| code→first item p50 s | max s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {len(results)} | {answers.size} | {len(errors)} | {np.percentile(answers, 50):.1f} "
          f"| {np.percentile(answers, 95):.1f} | {answers.max():.0f} "
          f"| {np.percentile(first, 50):.2f} | {first.max():.2f} |")
    for e in errors[:5]:
        print("-", e)


if __name__ == "__main__":
    main()
