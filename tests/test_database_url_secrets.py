"""No line a command prints about its database ever holds the password of
DATABASE_URL, whatever shape the URL is in: a keyword DSN, one without a scheme, a
password with a raw @ / ? # that cuts the URL in the wrong place, %-encoded ones,
unix sockets, IPv6, garbage. where() printed urlsplit's "path" of such a URL (the
whole string, password and all), and asyncpg's own messages quoted pieces of it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from processes import cli, free_port

from engine.database_urls import SOME_URL, where

ROOT = Path(__file__).resolve().parent.parent
PORT = free_port()  # nothing listens there

#: (DATABASE_URL, its password)
FORMS = [
    (f"host=127.0.0.1 port={PORT} user=app password=Sup3rS3cretPw dbname=app", "Sup3rS3cretPw"),
    ("host=127.0.0.1 user=app password='Sup3r S3cretPw' dbname=app", "Sup3r S3cretPw"),
    ("app:Sup3rS3cretPw@db.internal:5432/app", "Sup3rS3cretPw"),
    (f"app:Sup3rS3cretPw@127.0.0.1:{PORT}/app", "Sup3rS3cretPw"),
    (f"//app:Sup3rS3cretPw@127.0.0.1:{PORT}/app", "Sup3rS3cretPw"),
    (f"mysql://app:Sup3rS3cretPw@127.0.0.1:{PORT}/app", "Sup3rS3cretPw"),
    ("postgresql:Sup3rS3cretPw", "Sup3rS3cretPw"),
    ("Sup3rS3cretPw", "Sup3rS3cretPw"),
    (f"postgres://app:Sup3rS3cretPw@127.0.0.1:{PORT}/app", "Sup3rS3cretPw"),
    (f"POSTGRESQL://app:Sup3rS3cretPw@127.0.0.1:{PORT}/app", "Sup3rS3cretPw"),
    (f"postgresql://:Sup3rS3cretPw@127.0.0.1:{PORT}", "Sup3rS3cretPw"),
    (f"postgresql://app:Sup3rS3cretPw@[::1]:{PORT}/app", "Sup3rS3cretPw"),
    ("postgresql://app:Sup3rS3cretPw@[::1/app", "Sup3rS3cretPw"),
    ("postgresql://app:Sup3rS3cretPw@127.0.0.1:notaport/app", "Sup3rS3cretPw"),
    (f"postgresql://app:Sup3rS3cretPw@h1.invalid:{PORT},h2.invalid:{PORT}/app", "Sup3rS3cretPw"),
    ("postgresql:///app?host=/nonexistent/flowyard&password=Sup3rS3cretPw", "Sup3rS3cretPw"),
    (f"postgresql://app@127.0.0.1:{PORT}/app?sslpassword=Sup3rS3cretPw", "Sup3rS3cretPw"),
    (f"postgresql://app:Sup3rS3cretPw@127.0.0.1:{PORT}/app?sslmode=bogus", "Sup3rS3cretPw"),
    (f"postgresql://app:Sup3r@S3cretPw@127.0.0.1:{PORT}/app", "Sup3r@S3cretPw"),
    (f"postgresql://app:Sup3r/S3cretPw@127.0.0.1:{PORT}/app", "Sup3r/S3cretPw"),
    (f"postgresql://app:Sup3r?S3cretPw@127.0.0.1:{PORT}/app", "Sup3r?S3cretPw"),
    (f"postgresql://app:Sup3r#S3cretPw@127.0.0.1:{PORT}/app", "Sup3r#S3cretPw"),
    (f"postgresql://app:Sup3r:S3cretPw@127.0.0.1:{PORT}/app", "Sup3r:S3cretPw"),
    (f"postgresql://app:Sup3r%S3cretPw@127.0.0.1:{PORT}/app", "Sup3r%S3cretPw"),
    ("postgresql://app:38712/95406@localhost/app", "38712/95406"),
    ("postgresql://app:38712?95406@localhost/app", "38712?95406"),
    (
        f"postgresql://app:{quote('Sup3r@S3cret/Pw#?', safe='')}@127.0.0.1:{PORT}/app",
        "Sup3r@S3cret/Pw#?",
    ),
]


def pieces(password: str) -> list[str]:
    """The password, its halves, and what a raw @ / ? # : or space splits it into."""
    half = len(password) // 2
    parts = re.split(r"[^A-Za-z0-9]", password)
    return [password, password[:half], password[half:], quote(password, safe="")] + [
        p for p in parts if len(p) >= 4
    ]


def _cli(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    for name in ("FLOWYARD_TOKEN", "FLOWYARD_WORKFLOWS", "PGPASSWORD", "PGSERVICEFILE"):
        env.pop(name, None)
    return cli(args, cwd, env)


def assert_no_password(output: str, password: str) -> None:
    for piece in pieces(password):
        assert piece not in output, f"{piece!r} shown in: {output}"


@pytest.mark.parametrize(("url", "password"), FORMS)
def test_runs_never_shows_the_password(tmp_path: Path, url: str, password: str) -> None:
    done = _cli(["runs"], tmp_path, url)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("flowyard runs: cannot "), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert_no_password(done.stdout + done.stderr, password)


@pytest.mark.parametrize("command", [["serve", "--port", str(free_port())], ["worker"]])
@pytest.mark.parametrize(("url", "password"), [FORMS[0], FORMS[2], FORMS[18]])
def test_serve_and_worker_never_show_the_password(
    tmp_path: Path, command: list[str], url: str, password: str
) -> None:
    done = _cli(command, tmp_path, url)
    assert done.returncode == 1, done.stderr
    assert_no_password(done.stdout + done.stderr, password)


def test_a_keyword_dsn_is_refused_saying_what_to_write(tmp_path: Path) -> None:
    done = _cli(["runs"], tmp_path, FORMS[0][0])
    assert done.stderr == (
        f"flowyard runs: cannot use the database at {SOME_URL}: it is not a postgresql:// URL"
        " (write it postgresql://user:password@host:port/dbname; a keyword DSN such as"
        " `host=… dbname=…` is not accepted) (DATABASE_URL)\n"
    )


def test_the_servers_words_are_scrubbed_too(tmp_path: Path, database_url: str) -> None:
    """A URL that can be read, to a server that answers: its message is shown, but a
    password in it (here the database name a careless copy made of it) is not."""
    parts = urlsplit(database_url)
    password = "Sup3rS3cretPw"
    query = "&".join(q for q in (parts.query, f"password={password}") if q)
    url = urlunsplit(parts._replace(path=f"/nodb_{password}", query=query))
    done = _cli(["runs"], tmp_path, url)
    assert done.returncode == 1, done.stderr
    assert 'database "nodb_***" does not exist' in done.stderr, done.stderr
    assert_no_password(done.stderr, password)


@pytest.mark.parametrize(
    ("url", "place"),
    [
        ("postgresql://app:pw@db.internal:6432/app", "db.internal:6432/app"),
        ("postgres://app:pw@db.internal/app", "db.internal:5432/app"),
        ("postgresql://app:p%40w%2F@db.internal/app", "db.internal:5432/app"),
        ("postgresql://app:pw@[2001:db8::1]:6432/app", "[2001:db8::1]:6432/app"),
        ("postgresql:///app?host=/var/run/postgresql", "/var/run/postgresql:5432/app"),
        ("postgresql://app:pw@%2Fvar%2Frun%2Fpostgresql/app", "/var/run/postgresql:5432/app"),
        ("postgresql://db.internal", "db.internal:5432"),
    ],
)
def test_where_names_the_place_of_a_url_it_can_read(url: str, place: str) -> None:
    assert where(url) == place


@pytest.mark.parametrize(("url", "password"), FORMS)
def test_where_never_names_a_place_holding_the_password(url: str, password: str) -> None:
    assert_no_password(where(url), password)
