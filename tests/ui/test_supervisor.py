"""What `lang-assess serve` starts: every page server is a guarded one (issue 19) with its
audience's limits, in the process set of issue 20; behind our nginx the servers trust it
for the browser's address, so per-client limits count browsers, not the proxy."""

from pathlib import Path

import pytest

from lang_assess.ui.serve import (
    PAGE_SERVER_MB,
    PARTICIPANT_KERNEL_MB,
    PARTICIPANT_LIMITS,
    TEACHER_LIMITS,
    participant_limits,
)
from lang_assess.ui.supervisor import ProcessSet, jupyter_env


def _plan(tmp_path: Path, **kw) -> dict[str, list[str]]:
    env = jupyter_env(tmp_path / "data")
    servers = ProcessSet(pages=tmp_path / "pages", state_dir=tmp_path / "serve", env=env,
                         port=9000, pool_size=3, **kw)
    return {c.name: c.command for c in servers.plan()}


def _option(command: list[str], name: str) -> str:
    return next(a.split("=", 1)[1] for a in command if a.startswith(f"--{name}="))


def test_every_server_of_a_proxied_set_is_guarded_and_trusts_only_its_proxies(tmp_path):
    plan = _plan(tmp_path, instances=2, trusted_proxies=("10.0.0.7",), cookie_secure=True)
    assert sorted(plan) == ["participant-1", "participant-2", "teachers"]
    for name, command in plan.items():
        assert command[1:3] == ["-m", "lang_assess.ui.guard"]
        assert "--Voila.port_retries=0" in command
        assert _option(command, "Voila.ip") == "127.0.0.1"
        assert _option(command, "Voila.connection_dir_root").endswith(f"runtime/{name}")
        assert _option(command, "GuardedVoila.trusted_proxies") == '["10.0.0.7","127.0.0.1"]'
        assert _option(command, "GuardedVoila.secure_cookies") == "always"
        assert _option(command, "template") == "strict"
    participant, teachers = plan["participant-1"], plan["teachers"]
    assert _option(participant, "pool_size") == "3"
    assert _option(participant, "GuardedVoila.max_kernels") == str(PARTICIPANT_LIMITS.max_kernels)
    assert _option(teachers, "pool_size") == str(TEACHER_LIMITS.pool_size)
    assert _option(teachers, "GuardedVoila.max_kernels") == str(TEACHER_LIMITS.max_kernels)
    assert _option(teachers, "MappingKernelManager.cull_idle_timeout") == str(
        TEACHER_LIMITS.cull_idle_seconds)


def test_a_single_server_trusts_no_proxy_unless_told(tmp_path):
    plan = _plan(tmp_path, listen="0.0.0.0")
    assert sorted(plan) == ["participant-1", "teachers"]
    for command in plan.values():
        assert _option(command, "GuardedVoila.trusted_proxies") == "[]"
        assert _option(command, "GuardedVoila.secure_cookies") == "auto"
        assert _option(command, "Voila.ip") == "0.0.0.0"
        assert _option(command, "port") in ("9000", "9001")


def test_a_memory_budget_sets_each_servers_pool_cap_and_culling(tmp_path):
    budget_mb = 4 * 1024  # two participant servers share 4 GB
    limits = participant_limits(budget_mb / 2)
    env = jupyter_env(tmp_path / "data")
    servers = ProcessSet(pages=tmp_path / "pages", state_dir=tmp_path / "serve", env=env,
                         port=9000, instances=2, participant_limits=limits)
    plan = {c.name: c.command for c in servers.plan()}
    kernels = 0
    for name in ("participant-1", "participant-2"):
        pool = int(_option(plan[name], "pool_size"))
        in_use = int(_option(plan[name], "GuardedVoila.max_kernels"))
        assert 1 <= pool < in_use
        assert int(_option(plan[name], "GuardedVoila.max_kernels_per_client")) <= in_use
        assert 300 <= int(_option(plan[name], "MappingKernelManager.cull_idle_timeout")) < 900
        kernels += pool + in_use
    # every kernel the two servers may hold, and the servers themselves, fit the budget
    assert kernels * PARTICIPANT_KERNEL_MB + 2 * PAGE_SERVER_MB <= budget_mb
    # one kernel more would not
    assert (kernels + 2) * PARTICIPANT_KERNEL_MB + 2 * PAGE_SERVER_MB > budget_mb
    assert _option(plan["teachers"], "pool_size") == str(TEACHER_LIMITS.pool_size)


def test_more_memory_means_more_kernels_and_later_culling_up_to_the_defaults():
    small, large = participant_limits(2_000), participant_limits(30_000)
    assert small.max_kernels < large.max_kernels and small.pool_size < large.pool_size
    assert small.cull_idle_seconds < large.cull_idle_seconds == 900
    assert large.pool_size == 30 and large.max_kernels_per_client == 40
    # the defaults (docs/deployment.md): a class of 30 preheated, 60 pages in use
    assert (PARTICIPANT_LIMITS.pool_size, PARTICIPANT_LIMITS.max_kernels,
            PARTICIPANT_LIMITS.max_kernels_per_client,
            PARTICIPANT_LIMITS.cull_idle_seconds) == (30, 60, 40, 900)
    with pytest.raises(ValueError, match="at least 3"):
        participant_limits(PAGE_SERVER_MB + 2 * PARTICIPANT_KERNEL_MB)
