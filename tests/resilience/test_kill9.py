"""kill -9 of the server and of the worker at random points while people save, upload,
snapshot, export and import; then the proof (tests/resilience/chaos.py). A few rounds here;
`make bench` runs 30 of each and writes the figures into docs/benchmarks.md."""

from __future__ import annotations

import os

from tests.resilience import chaos

KILLS = int(os.environ.get("LABELOP_RESILIENCE_KILLS", "3"))


def test_nothing_acknowledged_is_lost_and_nothing_half_written_shows() -> None:
    url = os.environ.get("LABELOP_DATABASE_URL")
    if url:  # a database of its own beside the suite's, on the same server
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        url = f"{url.rsplit('/', 1)[0]}/labelop_chaos_{worker}"

    proof = chaos.run(KILLS, database_url=url, small=20, large=200, submitted=150)

    assert chaos.failures(proof) == [], proof
    assert proof["saves"] > 0
    assert proof["uploads"] > 0
    assert proof["label_imports_applied"] > 0
    assert proof["snapshots"]["sealed"] >= 2  # the closing ones at least
