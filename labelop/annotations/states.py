"""The task state machine, as one table. Every service that moves a task asks `after()`.

    new --assign--> assigned --submit--> submitted --accept--> accepted
                        ^   \\               |
              rework    |    escalate       reject
                        |        v          v
                     rejected  escalated  rejected

An escalated task is frozen for its annotator until an owner or reviewer resolves it; it then
returns to the state it was escalated from (`resolved()`).
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
    ESCALATE = "escalate"  # by the person doing the work, while it is theirs to change
    ESCALATE_AS_REVIEWER = "escalate_as_reviewer"  # by an owner or reviewer, also in review
    RESOLVE = "resolve"


# (state, event) -> next state. Anything absent is refused.
TRANSITIONS: dict[tuple[TaskState, Event], TaskState] = {
    (NEW, Event.ASSIGN): ASSIGNED,
    (ASSIGNED, Event.REASSIGN): ASSIGNED,
    (REJECTED, Event.REASSIGN): REJECTED,
    (ESCALATED, Event.REASSIGN): ESCALATED,
    (ASSIGNED, Event.UNASSIGN): NEW,
    (ASSIGNED, Event.EDIT): ASSIGNED,
    (REJECTED, Event.REWORK): ASSIGNED,
    **{(s, Event.CORRECT): s for s in (NEW, ASSIGNED, SUBMITTED, REJECTED, ESCALATED)},
    (ASSIGNED, Event.SUBMIT): SUBMITTED,
    (SUBMITTED, Event.ACCEPT): ACCEPTED,
    (SUBMITTED, Event.REJECT): REJECTED,
    (ASSIGNED, Event.ESCALATE): ESCALATED,
    (REJECTED, Event.ESCALATE): ESCALATED,
    **{(s, Event.ESCALATE_AS_REVIEWER): ESCALATED for s in (ASSIGNED, SUBMITTED, REJECTED)},
    (ESCALATED, Event.RESOLVE): ESCALATED,  # placeholder: resolved() gives the real one
}

_WHY = {
    (NEW, Event.SUBMIT): "it is not assigned to anyone",
    (SUBMITTED, Event.EDIT): "it was submitted and waits for review",
    (ACCEPTED, Event.EDIT): "it was accepted",
    (ACCEPTED, Event.CORRECT): "it was accepted",
    (ESCALATED, Event.SUBMIT): "it is escalated; an owner or reviewer must resolve that first",
    (SUBMITTED, Event.SUBMIT): "it is already submitted",
    (REJECTED, Event.SUBMIT): "it was rejected; save the rework before submitting again",
    (ESCALATED, Event.EDIT): "it is escalated and waits for an owner or reviewer",
    (SUBMITTED, Event.ESCALATE): "it is submitted; a reviewer may escalate it during review",
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


def resolved(state: str, previous: str) -> TaskState:
    """Where resolving an escalation takes the task: back to where it was escalated from."""
    after(state, Event.RESOLVE)
    return TaskState(previous)
