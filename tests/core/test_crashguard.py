"""RunAlone: what lets a message with a crash behind it run without bystanders."""

from __future__ import annotations

import threading

from job_importer.crashguard import RunAlone


def test_one_that_runs_alone_waits_for_the_others_and_holds_off_new_ones() -> None:
    running = RunAlone()
    running.enter_side_by_side()
    running.enter_side_by_side()  # two messages side by side
    alone_started = threading.Event()
    late_started = threading.Event()

    def alone() -> None:
        running.enter_alone()
        alone_started.set()

    def late() -> None:
        running.enter_side_by_side()
        late_started.set()

    threading.Thread(target=alone, daemon=True).start()
    assert not alone_started.wait(0.2)  # both others still run
    threading.Thread(target=late, daemon=True).start()
    running.leave_side_by_side()
    assert not alone_started.wait(0.2)  # one still runs
    running.leave_side_by_side()
    assert alone_started.wait(5)
    assert not late_started.is_set()  # none started while it waited or runs
    running.leave_alone()
    assert late_started.wait(5)
