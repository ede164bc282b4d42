"""The pages' operations in /api/openapi.json (ui/openapi.py): login and logout, the
workflow list, the editor, the runs pages and the events page. Each answers HTML (or
a redirect); their JSON is the API's."""

from __future__ import annotations

from typing import Any

from ui.openapi_ops import HTML, JSON, PAGE_NOT_FOUND, WRONG_TOKENS, op


def page_paths() -> dict[str, Any]:
    run = ["execution_id"]
    return {
        "/login": {
            "get": op(
                "login page; as JSON (Accept), {csrf_token} for the login form. next: the"
                " page (a same-site path) to return to once logged in",
                {"200": {"description": "the page", "content": {**HTML["content"], **JSON}}},
                public=True,
                page_query=["next"],
            ),
            "post": op(
                "log in with the token (form, CSRF)",
                {
                    "302": {"description": "logged in (or already, in another tab)"},
                    "401": {"description": "bad token"},
                    "403": {"description": "no CSRF token, or an expired one: the form again"},
                    "429": {**WRONG_TOKENS, "description": "the form again: too many wrong tokens"},
                },
                public=True,
            ),
        },
        "/logout": {"post": op("log out (form, CSRF)", {"302": {"description": "logged out"}})},
        "/": {"get": op("workflow list and templates gallery", {"200": HTML})},
        "/new": {
            "get": op(
                "open the editor on a new workflow",
                {"302": {"description": "to the editor"}},
                query=["name"],
            )
        },
        "/templates/{template_id}/use": {
            "post": op(
                "use a template (form, CSRF)",
                {"302": {"description": "to the editor"}, "404": PAGE_NOT_FOUND},
                params=["template_id"],
            )
        },
        "/editor/{name}": {
            "get": op("the editor", {"200": HTML, "404": PAGE_NOT_FOUND}, params=["name"])
        },
        "/runs": {
            "get": op(
                "runs page: a workflow's, of a status, older than a run (before: its"
                " execution_id, as the API's next_before); an unknown status or a before"
                " naming no run is said on the page and the newest runs shown",
                {"200": HTML},
                page_query=["workflow", "status", "before"],
            )
        },
        "/runs/{execution_id}": {
            "get": op("the run viewer", {"200": HTML, "404": PAGE_NOT_FOUND}, params=run)
        },
        "/events": {
            "get": op(
                "event-sourcing page: an order's events, time travel, charts",
                {"200": HTML},
            )
        },
    }
