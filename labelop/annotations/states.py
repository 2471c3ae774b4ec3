"""The task state machine, as one table. Every service that moves a task asks `after()`.

    new --assign--> assigned --submit--> submitted --accept--> accepted
                        ^   \\               |
              rework    |    escalate       reject
                        |        v          v
                     rejected  escalated  rejected
"""

from __future__ import annotations

from enum import StrEnum

from labelop.annotations.models import TaskState
from labelop.core.errors import Conflict

NEW, ASSIGNED, SUBMITTED, ACCEPTED, REJECTED, ESCALATED = TaskState


class Event(StrEnum):
    ASSIGN = "assign"
    REASSIGN = "reassign"
    UNASSIGN = "unassign"
    EDIT = "edit"  # an annotation save by the person doing the work
    CORRECT = "correct"  # an annotation save by an owner or reviewer (not the assignee)
    SUBMIT = "submit"
    ACCEPT = "accept"
    REJECT = "reject"
    REWORK = "rework"  # a save on a rejected task takes it back to work
    ESCALATE = "escalate"


# (state, event) -> next state. Anything absent is refused.
TRANSITIONS: dict[tuple[TaskState, Event], TaskState] = {
    (NEW, Event.ASSIGN): ASSIGNED,
    (ASSIGNED, Event.REASSIGN): ASSIGNED,
    (REJECTED, Event.REASSIGN): REJECTED,
    (ESCALATED, Event.REASSIGN): ESCALATED,
    (ASSIGNED, Event.UNASSIGN): NEW,
    (ASSIGNED, Event.EDIT): ASSIGNED,
    (ESCALATED, Event.EDIT): ESCALATED,
    (REJECTED, Event.REWORK): ASSIGNED,
    **{(s, Event.CORRECT): s for s in (NEW, ASSIGNED, SUBMITTED, REJECTED, ESCALATED)},
    (ASSIGNED, Event.SUBMIT): SUBMITTED,
    (SUBMITTED, Event.ACCEPT): ACCEPTED,
    (SUBMITTED, Event.REJECT): REJECTED,
    (ASSIGNED, Event.ESCALATE): ESCALATED,
    (SUBMITTED, Event.ESCALATE): ESCALATED,
    (REJECTED, Event.ESCALATE): ESCALATED,
}

_WHY = {
    (NEW, Event.SUBMIT): "it is not assigned to anyone",
    (SUBMITTED, Event.EDIT): "it was submitted and waits for review",
    (ACCEPTED, Event.EDIT): "it was accepted",
    (ACCEPTED, Event.CORRECT): "it was accepted",
    (ESCALATED, Event.SUBMIT): "it is escalated; an owner or reviewer must resolve that first",
    (SUBMITTED, Event.SUBMIT): "it is already submitted",
    (REJECTED, Event.SUBMIT): "it was rejected; save the rework before submitting again",
}


def after(state: str, event: Event) -> TaskState:
    """The state a task in `state` moves to on `event`, or a 409 saying why it cannot."""
    current = TaskState(state)
    nxt = TRANSITIONS.get((current, event))
    if nxt is None:
        why = _WHY.get((current, event), f"a {current.value} task cannot take '{event.value}'")
        raise Conflict(f"The task cannot take '{event.value}': {why}.",
                       code="illegal_transition", state=current.value, event=event.value)
    return nxt


def allows(state: str, event: Event) -> bool:
    return (TaskState(state), event) in TRANSITIONS
