"""Database block: a `connection:` it cannot connect to is an error that names the
database (host or socket folder, port, database), never its password.

A Unix-socket folder that does not exist failed with a bare `FileNotFoundError:
[Errno 2] No such file or directory`, an unknown host with `gaierror: [Errno -2]
Name or service not known`, and a password holding `#` with `ValueError: invalid
literal for int() with base 10: 'Sup3r'` (the start of the password)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from processes import free_port

PASSWORD = "Sup3rS3cretPw"

WORKFLOW = """
    name: connection
    blocks:
      start: {type: manual}
      q: {type: database, connection: "<start.db>", query: "SELECT 1 AS one"}
    edges: [start -> q]
    """


def assert_no_password(message: str, password: str = PASSWORD) -> None:
    for piece in (password, password[: len(password) // 2], password[len(password) // 2 :]):
        assert piece not in message, message


async def test_a_socket_folder_that_does_not_exist_names_the_database(
    run_yaml: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "no-such-folder"
    url = f"postgresql://app:{PASSWORD}@/orders?host={folder}"
    result = await run_yaml(WORKFLOW, {"db": url})
    assert result["status"] == "failed"
    error = result["error"]
    assert (error["type"], error["block"]) == ("DatabaseConnectionError", "q")
    assert error["message"] == (
        f"could not reach the database of `connection` at {folder}:5432/orders: "
        "FileNotFoundError: [Errno 2] No such file or directory"
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgresql://app:{pw}@127.0.0.1:{port}/orders",
            "could not reach the database of `connection` at 127.0.0.1:{port}/orders: "
            "ConnectionRefusedError",
        ),
        (
            "postgresql://app:{pw}@no-such-host.invalid:{port}/orders",
            "could not reach the database of `connection` at no-such-host.invalid:{port}/orders",
        ),
        (
            "postgresql://app:Sup3r#S3cretPw@127.0.0.1:{port}/orders",
            "cannot use the database of `connection`: the URL is malformed",
        ),
        (
            "mysql://app:{pw}@127.0.0.1:{port}/orders",
            "cannot use the database of `connection`: it is not a postgresql:// URL",
        ),
    ],
)
async def test_a_connection_that_fails_says_which_without_the_password(
    run_yaml: Any, url: str, said: str
) -> None:
    port = free_port()  # nothing listens there
    result = await run_yaml(WORKFLOW, {"db": url.format(pw=PASSWORD, port=port)})
    assert result["status"] == "failed"
    error = result["error"]
    assert error["type"] == "DatabaseConnectionError"
    assert error["message"].startswith(said.format(port=port)), error["message"]
    assert_no_password(error["message"])
    assert_no_password(error["message"], "Sup3r#S3cretPw")


async def test_a_database_that_refuses_says_which(run_yaml: Any, database_url: str) -> None:
    """Reached, but not usable: the server's reason, with the database named."""
    url = urlunsplit(urlsplit(database_url)._replace(path="/no_such_database"))
    result = await run_yaml(WORKFLOW, {"db": url})
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert message.startswith("could not use the database of `connection` at "), message
    assert message.endswith(
        '/no_such_database: InvalidCatalogNameError: database "no_such_database" does not exist'
    )


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("sslmode=bogus", "sslmode 'bogus' is not one of disable, allow, prefer"),
        ("target_session_attrs=any-one", "target_session_attrs 'any-one' is not one of"),
    ],
)
async def test_a_bad_query_value_is_named_not_called_malformed(
    run_yaml: Any, query: str, said: str
) -> None:
    """`?sslmode=bogus` was "the URL is malformed (characters such as # / ? @ in the
    user or password must be percent-encoded …)": the user and password were fine. It
    says what DATABASE_URL's start-up check says of the same value (docs/deploy.md)."""
    url = f"postgresql://app:{PASSWORD}@127.0.0.1:{free_port()}/orders?{query}"
    result = await run_yaml(WORKFLOW, {"db": url})
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert message.startswith("cannot use the database of `connection`: " + said), message
    assert "percent-encoded" not in message
    assert_no_password(message)
