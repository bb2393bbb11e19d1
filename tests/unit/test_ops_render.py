"""What an operator reads in the tables: errors condensed, durations human, Lambda causes unwrapped."""

from __future__ import annotations

import io

from rich.console import Console

from linkflow.ops import render


def test_lambda_causes_show_their_message_other_causes_stay_whole():
    assert render.cause_text('{"errorType":"StripeUnavailable","errorMessage":"HTTP 503"}') == "HTTP 503"
    assert render.cause_text("plain words") == "plain words"
    assert render.cause_text("[1, 2]") == "[1, 2]"
    assert render.cause_text(None) == ""


def test_state_errors_count_retries_then_give_the_final_error():
    state = {"retries": [{"error": "StripeUnavailable"}] * 3 + [{"error": "Lambda.ServiceException"}],
             "error": "StripeUnavailable", "cause": '{"errorMessage": "HTTP 500"}'}
    assert render.state_errors(state) == ("retried 4x (StripeUnavailable x3, Lambda.ServiceException x1); "
                                          "StripeUnavailable: HTTP 500")
    assert render.state_errors({"retries": [], "error": None, "cause": None}) == ""


def test_durations():
    assert [render.duration(s) for s in (None, 0.0421, 3.25, 125, 7322)] == ["-", "42 ms", "3.2 s", "2m 05s",
                                                                            "2h 02m"]


def test_the_show_table_marks_redrives_and_compensations():
    state = {"state": "CreateStripeCustomer", "type": "Task", "status": "failed", "run": 0,
             "entered": "2026-11-27T09:00:00.000Z", "duration_ms": 12.0, "attempts": 6, "retries": [],
             "error": "StripeUnavailable", "cause": "down", "compensation": False}
    doc = {"name": "n", "machine": "onboarding", "status": "FAILED", "execution_arn": "arn", "start_date": None,
           "stop_date": None, "duration_s": 1.0, "redrive_count": 1, "redrive_status": "REDRIVABLE",
           "history_events": 9, "failed_state": "CreateStripeCustomer", "error": "StripeUnavailable",
           "cause": "down", "compensations": ["CompensateDeleteStripeCustomer"],
           "execution_events": [{"type": "ExecutionRedriven", "timestamp": "2026-11-27T09:01:00.000Z"}],
           "states": [state, {**state, "run": 1},
                      {**state, "state": "CompensateDeleteStripeCustomer", "compensation": True, "run": 1}]}
    buffer = io.StringIO()
    render.show_execution(Console(file=buffer, width=200), doc, with_io=False)
    text = buffer.getvalue()
    assert "-- redriven (1) --" in text and "2026-11-27 09:01:00.000" in text
    assert "CompensateDeleteStripeCustomer (compensation)" in text
    assert "failed at CreateStripeCustomer: StripeUnavailable: down" in text
    assert "compensations taken: CompensateDeleteStripeCustomer" in text
