"""LatestWins: one job runs, one waits, newer requests replace the waiting one."""
import threading


def test_requests_during_a_job_collapse_to_the_newest(qtbot):
    from faceforge.app.workers import LatestWins

    results, errors, release = [], [], threading.Event()

    def job(value):
        release.wait(5)  # hold the worker so that requests pile up behind it
        return value

    latest = LatestWins(results.append, errors.append)
    latest.submit(job, 0)
    for value in range(1, 6):
        latest.submit(job, value)
    assert latest.busy and latest.dropped == 4  # 1..4 were replaced before they ran
    release.set()
    qtbot.waitUntil(lambda: not latest.busy, timeout=10_000)
    assert results == [0, 5] and not errors


def test_an_error_reaches_on_error_and_the_next_request_still_runs(qtbot):
    from faceforge.app.workers import LatestWins

    results, errors = [], []

    def job(value):
        if value < 0:
            raise ValueError("negative")
        return value

    latest = LatestWins(results.append, errors.append)
    latest.submit(job, -1)
    qtbot.waitUntil(lambda: not latest.busy, timeout=10_000)
    latest.submit(job, 3)
    qtbot.waitUntil(lambda: not latest.busy, timeout=10_000)
    assert results == [3] and len(errors) == 1 and "negative" in str(errors[0])
