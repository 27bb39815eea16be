"""The fault run's parts that need no server: arguments, the table, how answers are judged,
and that PostgreSQL is always started again. `python -m loadtests.faults` runs the rest."""

import os
import signal
import subprocess
import sys

import pytest

from loadtests import faults
from loadtests.faults import Answer, Outcome, PostgreSQL, Scan, Tally


def test_the_defaults_are_the_full_run_on_the_local_server():
    args = faults.parse_args([])

    assert not args.small
    assert args.database_url == "postgres://postgres@127.0.0.1:5432/postgres"
    assert args.workers == 4


def test_small_and_another_local_server_are_accepted():
    args = faults.parse_args(["--small", "--database-url", "postgres://postgres@localhost:5433/postgres"])

    assert args.small
    assert args.database_url.endswith(":5433/postgres")


@pytest.mark.parametrize(
    "argv",
    [
        ["--database-url", "postgres://postgres@db.example.org:5432/postgres"],
        ["--workers", "1"],
    ],
)
def test_a_remote_server_or_a_single_worker_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        faults.parse_args(argv)

    assert exit_info.value.code == 2
    assert "--" in capsys.readouterr().err


def test_the_small_run_leaves_out_stopping_postgresql_and_is_short():
    assert not faults.SMALL.restart_postgresql
    assert faults.FULL.restart_postgresql
    assert faults.SMALL.fault_seconds + faults.SMALL.calm_seconds < 20


def test_the_table_lines_up_every_figure():
    tally = Tally(worker_kills=3, connections_terminated=12, postgresql_restarts=1, recovery_seconds=1.234)
    outcome = Outcome(sent=120, answered=120, recorded=120)

    lines = faults.table(faults.figures(tally, outcome)).splitlines()

    assert len({len(line) for line in lines}) == 1
    assert lines[0] == lines[-1]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in lines[1:-1]}
    assert rows["scans sent"] == "120"
    assert rows["lost"] == rows["duplicated"] == "0"
    assert rows["worker kills"] == "3"
    assert rows["connections terminated"] == "12"
    assert rows["PostgreSQL restarts"] == "1"
    assert rows["seconds to recover after PostgreSQL came back"] == "1.23"


def test_the_table_shows_no_recovery_time_when_postgresql_was_not_stopped():
    rows = dict(faults.figures(Tally(), Outcome()))

    assert rows["seconds to recover after PostgreSQL came back"] == "-"


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, "<h1>Server Error (500)</h1>", "text/html"),
        Answer(503, "<h1>Service Unavailable</h1>", "text/html", "5"),
        Answer(503, {"detail": "Down.", "code": "service_unavailable"}, "application/json"),
        Answer(503, {"detail": "Down."}, "application/json", "5"),
        Answer(502, None),
        Answer(200, "<html></html>", "text/html"),
    ],
)
def test_a_500_a_page_or_a_503_without_code_and_retry_after_is_a_problem(answer):
    tally = Tally()

    faults.check_answer(answer, tally)

    assert tally.problems


@pytest.mark.parametrize(
    "answer",
    [
        Answer(503, {"detail": "Down.", "code": "service_unavailable"}, "application/json", "5"),
        Answer(201, {"result": "checked_in"}, "application/json"),
        Answer(409, {"detail": "Inside.", "code": "already_checked_in"}, "application/json"),
        Answer(0, None),
    ],
)
def test_the_contracts_answers_and_a_dropped_connection_are_no_problem(answer):
    tally = Tally()

    faults.check_answer(answer, tally)

    assert not tally.problems


def test_a_problem_never_shows_an_answers_body():
    answer = Answer(500, {"ticket_code": "SECRET-CODE-1234", "code": "boom"}, "application/json")

    assert "SECRET" not in faults.describe(answer)


def test_only_children_of_the_given_process_count_as_its_workers():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in faults.worker_pids(os.getpid())
        assert os.getpid() not in faults.worker_pids(os.getpid())
        assert faults.worker_pids(child.pid) == []
    finally:
        child.kill()
        child.wait()


class FakeCluster(PostgreSQL):
    """A cluster whose pg_ctlcluster calls are only written down."""

    def __init__(self):
        super().__init__("15", "main")
        self.up = True
        self.calls = []

    def control(self, action, *options):
        self.calls.append(action)
        self.up = action == "start"

    def running(self):
        return self.up


def test_postgresql_is_started_again_when_the_outage_ends_in_an_error():
    cluster = FakeCluster()
    seen_down = []

    def interrupted():
        with cluster.outage():
            seen_down.append(not cluster.up)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()

    assert seen_down == [True]
    assert cluster.up
    assert cluster.calls == ["stop", "start"]


def test_starting_again_after_the_outage_does_nothing_more():
    cluster = FakeCluster()
    with cluster.outage():
        pass

    cluster.start_again()

    assert cluster.calls == ["stop", "start"]


class FakeHistory:
    def problems(self):
        return []


class FakeSite:
    """The histories as the API lists them, one attendee's records as (id, type)."""

    def __init__(self, records: dict[int, list[tuple[int, str]]]):
        self.records_of = records

    def histories(self, pks):
        return {pk: FakeHistory() for pk in pks}

    def records(self, pk):
        return [
            {"id": record_id, "type": kind, "recorded_at": "2026-11-24T09:00:00Z", "voided": None, "source": "scan"}
            for record_id, kind in self.records_of[pk]
        ]


def answered_scan(key: str, direction: str, record_id: int) -> Scan:
    return Scan(key, attendee=7, direction=direction, attempts=1, answer=Answer(201, {"record": {"id": record_id}}))


def test_a_history_of_exactly_the_answered_scans_passes():
    tally = Tally(scans=[answered_scan("a", "in", 1), answered_scan("b", "out", 2)])
    site = FakeSite({7: [(1, "check_in"), (2, "check_out")]})

    outcome = faults.check(site, tally, [7], {"a": (201, 1), "b": (201, 2)})

    assert (outcome.sent, outcome.answered, outcome.recorded, outcome.lost, outcome.duplicated) == (2, 2, 2, 0, 0)
    assert outcome.problems == []


def test_a_record_that_no_keys_answer_names_is_a_duplicate():
    tally = Tally(scans=[answered_scan("a", "in", 1), answered_scan("b", "out", 3)])
    site = FakeSite({7: [(1, "check_in"), (2, "check_in"), (3, "check_out")]})

    outcome = faults.check(site, tally, [7], {"a": (201, 1), "b": (201, 3)})

    assert outcome.duplicated == 1
    assert outcome.lost == 0


def test_an_answered_scan_missing_from_the_history_is_lost():
    tally = Tally(scans=[answered_scan("a", "in", 1), answered_scan("b", "out", 2)])
    site = FakeSite({7: [(1, "check_in")]})

    outcome = faults.check(site, tally, [7], {"a": (201, 1), "b": (201, 2)})

    assert outcome.lost == 1
    assert "record 2 of 1 is missing" in outcome.problems[0]


def test_a_stored_answer_other_than_the_one_the_client_got_is_a_problem():
    tally = Tally(scans=[answered_scan("a", "in", 1)])
    site = FakeSite({7: [(1, "check_in")]})

    outcome = faults.check(site, tally, [7], {"a": (409, None)})

    assert outcome.problems


def test_a_ctrl_c_while_postgresql_is_started_again_takes_effect_afterwards():
    finished = []

    def start_again():
        with faults.signals_held():
            signal.raise_signal(signal.SIGINT)
            finished.append(True)

    with pytest.raises(KeyboardInterrupt):
        start_again()

    assert finished == [True]
