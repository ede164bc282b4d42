"""Where a block may sit in the graph, beside engine.validate's checks of edges
and references (kept apart so each module stays short)."""

from __future__ import annotations

from engine.graph import Plan
from engine.model import Problem

#: How deep loops and parallels may nest. Each level's body runs inside the one
#: around it (a call chain per level), so ~200 levels exhausted Python's stack at run
#: time; no real workflow comes near this.
MAX_CONTAINER_DEPTH = 32


def trigger_problems(plan: Plan) -> list[Problem]:
    """A trigger block (manual, webhook, schedule) is where a run starts: an edge into
    it made it run mid-run, and in a body it ran once per iteration as an empty event
    (a webhook without a request). Both validated ok."""
    wf, problems = plan.workflow, []
    triggers = {bid: h.type for bid, h in plan.handlers.items() if h.category == "trigger"}
    for edge in wf.edges:
        if edge.target in triggers:
            message = (
                f"edge {edge}: a {triggers[edge.target]} block is a trigger, where a run "
                "starts: no edge may lead into it"
            )
            problems.append(Problem(message, wf.file, edge.target, "edges"))
    for bid, kind in triggers.items():
        block = wf.blocks[bid]
        if block.parent is None:
            continue
        field = "body" if block.group == "body" else f"branches.{block.group}"
        message = (
            f"{bid!r} is a {kind} block, a trigger, where a run starts: it cannot be "
            "inside a body, which runs within a run"
        )
        problems.append(Problem(message, wf.file, block.parent, field))
    return problems + _shared_route_problems(plan)


def _shared_route_problems(plan: Plan) -> list[Problem]:
    """Two webhook blocks of one workflow on one path and method: deliveries reach the
    first alone (engine.workflows' index keeps the first), so what only the second
    leads to never ran, and nothing said so. Across files the folder's check says it
    (engine.workflows.webhook_clashes); matched as there (`/a/b` is `a/b`)."""
    wf, problems = plan.workflow, []
    first: dict[tuple[str, str], str] = {}
    for bid, block in wf.blocks.items():
        if block.type != "webhook" or not isinstance(block.config.get("path"), str):
            continue
        path = block.config["path"].strip("/")
        method = str(block.config.get("method", "POST")).upper()
        taken = first.setdefault((path, method), bid)
        if taken != bid:
            message = (
                f"{method} /webhooks/{path} is already the route of webhook block {taken!r}, "
                "which alone would receive its deliveries: give this one another path or method"
            )
            problems.append(Problem(message, wf.file, bid, "path"))
    return problems


def container_problems(plan: Plan) -> list[Problem]:
    """What is wrong with how the loops and parallels are set up around their bodies."""
    return _container_retry_problems(plan) + _container_depth_problems(plan)


def _container_retry_problems(plan: Plan) -> list[Problem]:
    """`retries` on a loop or parallel run its whole body again, iterations that
    succeeded included: a Database statement, a Slack post or an email in it (not
    ``repeatable``) was applied once per attempt. Such a body retries its blocks
    one by one instead."""
    wf, problems = plan.workflow, []
    for bid, handler in plan.handlers.items():
        if handler.repeatable:
            continue
        for container in wf.containers_of(bid):
            if wf.blocks[container].retries > 0:
                message = (
                    f"retries on {container!r} run its whole body again, and the "
                    f"{handler.type} block {bid!r} would be applied again for the iterations that "
                    f"succeeded: put `retries` on {bid!r} (or the blocks that can fail) instead"
                )
                problems.append(Problem(message, wf.file, container, "retries"))
    return problems


def _container_depth_problems(plan: Plan) -> list[Problem]:
    """A loop or parallel nested past ``MAX_CONTAINER_DEPTH``: named once, at the first
    level past it (deeper ones are the same mistake)."""
    wf, problems = plan.workflow, []
    for bid, handler in plan.handlers.items():
        if handler.category != "container":
            continue
        around = wf.containers_of(bid)
        if len(around) == MAX_CONTAINER_DEPTH:
            chain = " > ".join([*reversed(around), bid])
            message = (
                f"this loop or parallel is {len(around) + 1} containers deep ({chain}); "
                f"loops and parallels nest at most {MAX_CONTAINER_DEPTH} deep"
            )
            problems.append(Problem(message, wf.file, bid, None))
    return problems
