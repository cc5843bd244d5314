"""A tiny faults bench: the desk process is killed with SIGKILL under load, with a flaky store, corrupted index
files, a full disk and poisoned messages, and nothing is lost, doubled or stuck."""

from __future__ import annotations

from engine.bench.faults import run


def test_a_killed_desk_loses_nothing_and_sets_aside_exactly_the_poisoned_messages() -> None:
    report = run(runs=1, messages=200, seed=3)
    assert report["accepted"] == 200 and report["drained"], report
    assert (report["lost"], report["duplicated"], report["stuck"]) == (0, 0, 0), report
    assert report["quarantined"] == report["poisoned"] and report["quarantined_are_poisoned"], report
    assert report["restarts"] == 1 and report["audit_chain_ok"], report
    assert report["recovery_seconds_p95"] <= 30, report
    assert report["corrupted_index_files"] >= 1
