"""Property tests of the ISA-18.2 state machine: no illegal transitions, ack only when unacked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetwin.alarms import AlarmError, AlarmState

# The ISA-18.2 state diagram (process and acknowledge transitions while enabled).
LEGAL = {
    ("normal", "unacknowledged-active"),
    ("unacknowledged-active", "acknowledged-active"),
    ("unacknowledged-active", "returned-to-normal-unacknowledged"),
    ("acknowledged-active", "normal"),
    ("returned-to-normal-unacknowledged", "normal"),
    ("returned-to-normal-unacknowledged", "unacknowledged-active"),
}

ops = st.one_of(
    st.tuples(st.just("cond"), st.booleans()),
    st.tuples(st.just("ack"), st.none()),
    st.tuples(st.just("shelve"), st.one_of(st.none(), st.floats(0.5, 30))),
    st.tuples(st.just("unshelve"), st.none()),
    st.tuples(st.just("suppress"), st.booleans()),
    st.tuples(st.just("oos"), st.booleans()),
    st.tuples(st.just("tick"), st.floats(0, 60)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ops, min_size=1, max_size=40))
def test_state_machine_invariants(sequence):
    a = AlarmState(alarm_id="p/t/hi", signal="p/t")
    t = 0
    for op, arg in sequence:
        t += 1_000_000_000
        before_state, before_mode = a.state, a.mode
        if op == "cond":
            a.set_condition(arg, t)
        elif op == "ack":
            allowed = (not a.acked) and a.mode == "enabled"
            if allowed:
                assert a.acknowledge(t, "op") == "acknowledged"
                assert a.acked
            else:
                with pytest.raises(AlarmError):
                    a.acknowledge(t, "op")
                assert (a.state, a.mode) == (before_state, before_mode)
        elif op == "shelve":
            if a.mode == "enabled":
                a.shelve(t, "op", arg)
                assert a.mode == "shelved"
            else:
                with pytest.raises(AlarmError):
                    a.shelve(t, "op", arg)
        elif op == "unshelve":
            if a.mode == "shelved":
                a.unshelve(t, "op")
                assert a.mode == "enabled"
            else:
                with pytest.raises(AlarmError):
                    a.unshelve(t, "op")
        elif op == "suppress":
            ok = (arg and a.mode != "out_of_service") or (not arg and a.mode == "suppressed")
            if ok:
                a.suppress(t, arg)
            else:
                with pytest.raises(AlarmError):
                    a.suppress(t, arg)
        elif op == "oos":
            if arg or a.mode == "out_of_service":
                a.set_out_of_service(t, arg, "op")
            else:
                with pytest.raises(AlarmError):
                    a.set_out_of_service(t, arg, "op")
        elif op == "tick":
            a.tick(t + int(arg * 1e9))

        # invariants after every step
        assert a.state in {
            "normal",
            "unacknowledged-active",
            "acknowledged-active",
            "returned-to-normal-unacknowledged",
        }
        if a.mode != "enabled":
            assert a.acked, "a shelved/suppressed/out-of-service alarm never waits for an ack"
            assert not a.annunciated
        if a.mode == "out_of_service":
            assert not a.active
        if a.mode != "shelved":
            assert a.shelved_until_ns is None
        if op in ("cond", "ack") and before_mode == "enabled" and a.mode == "enabled":
            if a.state != before_state:
                assert (before_state, a.state) in LEGAL


def test_enable_reannunciates_active_condition():
    a = AlarmState(alarm_id="x", signal="x")
    a.shelve(0, "op", None)
    a.set_condition(True, 1)
    assert a.active and a.acked and not a.annunciated
    a.unshelve(2, "op")
    assert a.state == "unacknowledged-active"


def test_one_shot_shelve_ends_when_condition_clears():
    a = AlarmState(alarm_id="x", signal="x")
    a.set_condition(True, 1)
    a.shelve(2, "op", None)
    assert a.set_condition(False, 3) == "cleared-unshelved"
    assert a.mode == "enabled" and a.state == "normal"


def test_timed_shelve_expires():
    a = AlarmState(alarm_id="x", signal="x")
    a.set_condition(True, 0)
    a.shelve(0, "op", 10.0)
    assert a.tick(9_000_000_000) is None
    assert a.tick(10_000_000_000) == "unshelved-timeout"
    assert a.state == "unacknowledged-active"


def test_shelve_rejects_non_positive_duration():
    a = AlarmState(alarm_id="x", signal="x")
    with pytest.raises(AlarmError, match="duration_s must be > 0"):
        a.shelve(0, "op", 0.0)
