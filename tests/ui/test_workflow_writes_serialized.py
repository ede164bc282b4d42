"""Writes to the workflows folder happen one at a time (docs/api.md, "One write of
the workflows folder at a time"): a save (`PUT`), a delete and a template copy (the
API, the gallery form, `flowyard new` in another process) each check and write the
folder under one lock, so every set of answers is that of some serial order.

The races are forced: each round releases its requests together from a barrier, over
several rounds; without the lock, the check-then-write of one request interleaves
with another's in (nearly) every round, not by luck.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.folder_lock import workflows_folder_locked
from engine.model import load_file
from engine.workflows import WorkflowStore

ROOT = Path(__file__).resolve().parents[2]
MINE = "version: 1\nname: {name}\ndescription: MY OWN\nblocks:\n  s: {{type: manual}}\nedges: []\n"


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Each call on a thread of its own, all released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    # Threads switched every 5 ms ran a short check-then-write whole, most rounds:
    # switched as often as possible, the requests' steps interleave.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    return results


@pytest.fixture
def stems(workflows_dir: Path) -> Iterator[list[str]]:
    """Names made by a test; their files (workflow, SQL, README) go afterwards: the
    workspace is shared, and a copy left behind would take the template's path."""
    made: list[str] = []
    yield made
    for stem in made:
        for path in workflows_dir.glob(f"{stem}.*"):
            path.unlink()


#: A workflow the folder's clash check takes ~20 ms to load (30 Function blocks).
FILLER = (
    "version: 1\nname: {name}\nblocks:\n  s: {{type: manual}}\n"
    + "".join(
        f"  f{i}:\n    type: function\n    code: |\n      # {{round}}\n      return {{{{'v': {i}}}}}\n"
        for i in range(30)
    )
    + "edges: [s -> f0]\n"
)


@pytest.fixture
def slow_checks(workflows_dir: Path) -> Iterator[Callable[[], None]]:
    """Widens the window between a request's check of the folder and its write: each
    call rewrites six workflows, which the next check must load again (~0.1 s)
    after listing the folder. A request let through beside another lists the folder
    before the other has written, in every round."""
    names = [f"ws_filler_{uuid.uuid4().hex[:6]}" for _ in range(6)]
    rounds = iter(range(1_000_000))

    def renew() -> None:
        n = next(rounds)
        for name in names:
            (workflows_dir / f"{name}.yaml").write_text(FILLER.format(name=name, round=n))

    yield renew
    for name in names:
        (workflows_dir / f"{name}.yaml").unlink(missing_ok=True)


def test_copies_of_one_name_at_once_make_one_and_409_the_others(
    client: FlaskClient, auth: dict[str, str], stems: list[str]
) -> None:
    url = "/api/templates/replay_events/instantiate"
    for _ in range(4):
        name = f"ws_same_{uuid.uuid4().hex[:6]}"
        stems.append(name)
        answers = _at_once(*[lambda n=name: client.post(url, json={"name": n}, headers=auth)] * 6)
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * 5, [a.get_json() for a in answers]
        refused = next(a for a in answers if a.status_code == 409).get_json()
        assert refused["error"] == f"a workflow named {name!r} already exists"


def test_a_copy_of_the_name_of_a_json_workflow_is_409(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, stems: list[str]
) -> None:
    """Only `<name>.yaml` was looked for: the copy was written beside `<name>.json`,
    and became the workflow `<name>` in its place (the JSON file then ignored)."""
    name = f"ws_json_{uuid.uuid4().hex[:6]}"
    stems.append(name)
    mine = json.dumps({"version": 1, "name": name, "blocks": {"s": {"type": "manual"}}})
    (workflows_dir / f"{name}.json").write_text(mine)
    url = "/api/templates/replay_events/instantiate"
    refused = client.post(url, json={"name": name}, headers=auth)
    assert refused.status_code == 409, refused.get_json()
    assert sorted(p.name for p in workflows_dir.glob(f"{name}.*")) == [f"{name}.json"]


def test_a_first_save_beside_a_copy_of_its_name_is_412_or_the_copy_is_409(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, stems: list[str]
) -> None:
    """`If-None-Match: *` beside a copy: both answered 201, and the file on disk was the
    template — the save the user was told had been made was silently replaced."""
    new_only = {**auth, "Content-Type": "application/yaml", "If-None-Match": "*"}
    for _ in range(6):
        name = f"ws_mine_{uuid.uuid4().hex[:6]}"
        stems.append(name)
        save, copy = _at_once(
            lambda n=name: client.put(
                f"/api/workflows/{n}", data=MINE.format(name=n), headers=new_only
            ),
            lambda n=name: client.post(
                "/api/templates/replay_events/instantiate", json={"name": n}, headers=auth
            ),
        )
        text = (workflows_dir / f"{name}.yaml").read_text()
        if save.status_code == 201:  # the save first: the copy finds its file
            assert copy.status_code == 409, copy.get_json()
            assert "MY OWN" in text
        else:  # the copy first: the save finds the copy's file
            assert (save.status_code, copy.status_code) == (412, 201), save.get_json()
            assert "MY OWN" not in text and save.get_json()["etag"]


def test_copies_and_saves_at_once_never_share_a_webhook_path_or_name(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """Copies of a template whose path and `name:` no file has, beside saves of
    workflows on that path: one of them gets the path and the name, the other copies
    move aside, the other saves are 422. Two copies kept them (or a copy and a save
    both had the path), and the first file by name took every delivery."""
    url = "/api/templates/order_processing_agent/instantiate"
    hook = "version: 1\nname: {name}\nblocks:\n  h: {{type: webhook, path: orders/agent-events}}\n"
    yaml_type = {**auth, "Content-Type": "application/yaml"}
    for _ in range(4):
        served = WorkflowStore(workflows_dir).find_webhook("orders/agent-events")
        assert served is None, f"the shared workspace's {served[0].file} has the path"
        copies = [f"ws_ag{i}_{uuid.uuid4().hex[:6]}" for i in range(6)]
        saves = [f"ws_sv{i}_{uuid.uuid4().hex[:6]}" for i in range(2)]
        try:
            answers = _at_once(
                *[lambda n=n: client.post(url, json={"name": n}, headers=auth) for n in copies],
                *[
                    lambda n=n: client.put(
                        f"/api/workflows/{n}", data=hook.format(name=n), headers=yaml_type
                    )
                    for n in saves
                ],
            )
            codes = [a.status_code for a in answers]
            assert codes[:6] == [201] * 6 and set(codes[6:]) <= {201, 422}, codes
            made = [workflows_dir / f"{n}.yaml" for n in copies + saves]
            store = WorkflowStore(workflows_dir)  # no file of the folder shares one with it
            for file in filter(Path.exists, made):
                workflow = load_file(file)
                clashes = store.webhook_clashes(workflow) + store.name_clashes(workflow)
                assert clashes == [], [str(p) for p in clashes]
        finally:  # the next round finds the template's path and name free again
            for name in copies + saves:
                for path in workflows_dir.glob(f"{name}.*"):
                    path.unlink()


def test_a_delete_beside_a_save_over_the_version_it_read_is_one_or_the_other(
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    stems: list[str],
    slow_checks: Callable[[], None],
) -> None:
    """The save first, then the delete: no file. The delete first: the save is 412
    ("deleted since it was read"). A 204 for the delete and a file still there (the
    save written after it) is neither."""
    name = f"ws_pd_{uuid.uuid4().hex[:6]}"
    stems.append(name)
    yaml_type = {**auth, "Content-Type": "application/yaml"}
    edited = MINE.format(name=name).replace("MY OWN", "edited")

    def read_then_delete() -> Any:
        # Sent once the save has read the file (its body is parsed by then), while it
        # checks the folder: the delete lands between the save's check and its write.
        assert client.get(f"/api/workflows/{name}", headers=auth).status_code in (200, 404)
        return client.delete(f"/api/workflows/{name}", headers=auth)

    for _ in range(8):
        made = client.put(f"/api/workflows/{name}", data=MINE.format(name=name), headers=yaml_type)
        assert made.status_code == 201, made.get_json()
        if_match = {**yaml_type, "If-Match": made.headers["ETag"]}
        slow_checks()
        save, delete = _at_once(
            lambda h=if_match: client.put(f"/api/workflows/{name}", data=edited, headers=h),
            read_then_delete,
        )
        assert delete.status_code == 204 and save.status_code in (200, 412), save.get_json()
        assert not (workflows_dir / f"{name}.yaml").exists(), (save.status_code, delete.status_code)


def _waiting_for_lock(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` waits for a flock on ``folder`` (/proc/locks lists a
    waiter as ``N: -> FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> …``)."""
    inode = str(os.stat(folder).st_ino)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" not in fields:
            continue
        waiter = fields[fields.index("->") + 1 :]  # FLOCK ADVISORY WRITE pid dev:inode …
        if waiter[0] == "FLOCK" and waiter[3] == str(pid) and waiter[4].endswith(f":{inode}"):
            return True
    return False


def test_flowyard_new_in_another_process_waits_for_a_save_in_progress(
    tmp_path: Path, database_url: str
) -> None:
    """`flowyard new` beside `serve`: the folder lock is a flock on the folder, so a copy
    in another process waits while a save holds it, then finds the saved file (exit 1,
    the file the save wrote kept), as if the two had run one after the other."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    target = folder / "mine.yaml"
    with workflows_folder_locked(folder):  # what a PUT holds from its check to its write
        new = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "new", "replay_events", "mine"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Until it either waits for the lock or (the folder unlocked) has copied; the
        # deadline only keeps a hung process from hanging the test.
        deadline = time.monotonic() + 120
        while new.poll() is None and not _waiting_for_lock(new.pid, folder):
            assert time.monotonic() < deadline, "flowyard new neither waited nor ended"
            time.sleep(0.05)
        if not target.exists():  # the save, made while it holds the lock
            target.write_text(MINE.format(name="mine"))
    out, err = new.communicate(timeout=120)
    assert "MY OWN" in target.read_text(), out
    assert new.returncode == 1 and "already exists" in err, (out, err)
