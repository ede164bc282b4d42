"""A workflows folder that cannot be written (read-only, full, a folder where the
file goes) is said as such, never as a database outage.

Every OSError a route raised was taken for "PostgreSQL cannot be reached" (a
refused socket is one): a save or a template copy into a read-only folder was
answered `503 {"error": "database unavailable", "reason": "the database cannot be
reached; retry later"}` with `Retry-After`, so the editor and API clients retried
a save that could never succeed while the operator looked at a healthy database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from flask.testing import FlaskClient
from processes import free_port

from engine.database import server_unreachable

TEXT = "version: 1\nname: {name}\nblocks:\n  start: {{type: manual}}\n"


def test_a_save_the_folder_cannot_take_is_a_500_naming_the_file(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"unwritable_{uuid.uuid4().hex[:8]}"
    in_the_way = workflows_dir / f"{name}.yaml"
    (in_the_way / "kept").mkdir(parents=True)  # a folder (not a file) holds the name
    try:
        saved = client.put(
            f"/api/workflows/{name}",
            data=TEXT.format(name=name),
            headers={**auth, "Content-Type": "application/yaml"},
        )
        assert saved.status_code == 500, saved.get_json()
        assert "Retry-After" not in saved.headers
        body = saved.get_json()
        assert body["error"] == "the workflows folder cannot be written"
        assert body["reason"] == f"Is a directory ({name}.yaml)"
        assert (in_the_way / "kept").is_dir()  # nothing replaced
        assert client.get("/api/health").status_code == 200  # and the database is fine
    finally:
        shutil.rmtree(in_the_way)
    for leftover in workflows_dir.glob(f".{name}.yaml.*"):  # no temporary file left
        raise AssertionError(f"{leftover} left behind")


def test_a_full_disk_is_no_outage_and_a_refused_socket_is() -> None:
    """The errors themselves, as the operating system raises them."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        os.write(fd, b"version: 1\n")
    except OSError as exc:
        full = exc
    finally:
        os.close(fd)
    assert not server_unreachable(full)  # ENOSPC, with no file name

    async def refused(url: str) -> BaseException:
        try:
            await asyncpg.connect(url, timeout=10)
        except BaseException as exc:  # noqa: BLE001 - what connecting raised, whatever it is
            return exc
        raise AssertionError(f"{url} answered")

    tcp = asyncio.run(refused(f"postgresql://u@127.0.0.1:{free_port()}/d"))
    gone = asyncio.run(refused(f"postgresql://u@/d?host=/tmp/flowyard-none-{uuid.uuid4().hex}"))
    assert server_unreachable(tcp), repr(tcp)
    assert server_unreachable(gone), repr(gone)  # a stopped embedded server's socket


def test_a_template_copy_the_folder_refuses_is_a_500_and_leaves_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"unwritable_{uuid.uuid4().hex[:8]}"
    in_the_way = workflows_dir / f"{name}.schema.sql"  # written after its README
    (in_the_way / "kept").mkdir(parents=True)
    try:
        made = client.post(
            "/api/templates/order_processing/instantiate", json={"name": name}, headers=auth
        )
        assert made.status_code == 500, made.get_json()
        assert made.get_json() == {
            "error": "the workflows folder cannot be written",
            "reason": f"Is a directory ({name}.schema.sql)",
        }
        left = sorted(p.name for p in workflows_dir.iterdir() if p.name.startswith(name))
        assert left == [in_the_way.name]  # no workflow file, no README of a copy not made
    finally:
        shutil.rmtree(in_the_way)
    made = client.post(
        "/api/templates/order_processing/instantiate", json={"name": name}, headers=auth
    )
    assert made.status_code == 201, made.get_json()
    assert client.delete(f"/api/workflows/{name}", headers=auth).status_code == 204
