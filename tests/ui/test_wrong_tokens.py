"""Wrong tokens are limited per address, so a hand-set token can't be guessed at speed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ui.conftest import TOKEN
from ui.wrong_tokens import LIMIT, WrongTokens


@pytest.fixture(autouse=True)
def fresh_counts(app: Flask) -> Iterator[None]:
    # The suite's app lives for the whole session: these tests count from zero and
    # leave no locked-out address behind for the next test.
    kept = app.extensions["flowyard_wrong_tokens"]
    app.extensions["flowyard_wrong_tokens"] = WrongTokens()
    yield
    app.extensions["flowyard_wrong_tokens"] = kept


def _login_csrf(client: FlaskClient) -> str:
    html = client.get("/login").get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def _guess(client: FlaskClient, token: str, addr: str = "203.0.113.7") -> int:
    resp = client.get(
        "/api/runs",
        headers={"Authorization": f"Bearer {token}"},
        environ_base={"REMOTE_ADDR": addr},
    )
    return resp.status_code


def test_past_the_limit_even_the_right_token_is_refused_from_that_address(
    client: FlaskClient,
) -> None:
    assert [_guess(client, f"guess-{i}") for i in range(LIMIT)] == [401] * LIMIT
    resp = client.get(
        "/api/runs",
        headers={"Authorization": f"Bearer {TOKEN}"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.get_json()["error"] == "too_many_requests"
    assert TOKEN not in resp.get_data(as_text=True)
    # Another address is not shut out, and neither are webhooks or a request without a token.
    assert _guess(client, TOKEN, addr="198.51.100.2") == 200
    assert client.get("/api/health", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code in (
        200,
        503,
    )


def test_wrong_tokens_posted_to_the_login_form_count_too(client: FlaskClient) -> None:
    for _ in range(LIMIT):
        resp = client.post(
            "/login",
            data={"token": "password1", "csrf_token": _login_csrf(client), "next": "/"},
        )
        assert resp.status_code == 401
    resp = client.post(
        "/login", data={"token": TOKEN, "csrf_token": _login_csrf(client), "next": "/"}
    )
    assert resp.status_code == 429
    assert "too many wrong tokens" in resp.get_data(as_text=True)
    assert "Retry-After" in resp.headers


def test_a_session_logged_in_before_the_guessing_keeps_working(client: FlaskClient) -> None:
    resp = client.post(
        "/login", data={"token": TOKEN, "csrf_token": _login_csrf(client), "next": "/"}
    )
    assert resp.status_code == 302
    for i in range(LIMIT + 5):
        _guess(client, f"guess-{i}", addr="127.0.0.1")
    assert client.get("/api/runs").status_code == 200


def test_the_right_token_under_the_limit_passes(client: FlaskClient) -> None:
    for i in range(LIMIT - 1):
        assert _guess(client, f"guess-{i}") == 401
    assert _guess(client, TOKEN) == 200


def test_failures_leave_the_window_and_memory_stays_bounded() -> None:
    tokens = WrongTokens(limit=3, window=0.0)
    for _ in range(10):
        tokens.record("a")
    # A window of 0 s: every failure is already outside it.
    assert tokens.retry_after("a") == 0
    held = WrongTokens(limit=3, window=3600)
    for _ in range(1000):
        held.record("b")
    assert held.retry_after("b") > 0
    assert len(held._failures["b"]) == 3
