"""Saving workflow files over the API as a team keeping them in git does:

- `GET` gives the file's version as an `ETag`; a `PUT` with `If-Match` saves only
  over that version — a `git pull` or another tab's save since then is answered
  412, the file left as it is (without `If-Match`, last write wins, as before);
- a YAML `PUT` is the file: it is written as sent, comments and all, once valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

TEXT = """\
# Owned by the payments team: see RUNBOOK.md
version: 1
name: {name}
blocks:
  start: {{type: manual}}
  add:
    type: function
    code: return 1   # one, for now
edges: [start -> add]
"""


@pytest.fixture
def named(workflows_dir: Path) -> Iterator[tuple[str, Path]]:
    name = f"saves_{uuid.uuid4().hex[:8]}"
    path = workflows_dir / f"{name}.yaml"
    path.write_text(TEXT.format(name=name))
    yield name, path
    path.unlink(missing_ok=True)


def test_a_save_over_a_version_changed_since_it_was_read_is_412(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    name, path = named
    read = client.get(f"/api/workflows/{name}?format=json", headers=auth)
    etag = read.headers["ETag"]
    as_yaml = client.get(f"/api/workflows/{name}", headers={**auth, "Accept": "application/yaml"})
    assert as_yaml.headers["ETag"] == etag  # one file, one version, whichever form
    doc = read.get_json()

    pulled = path.read_text().replace("return 1", "return 2")  # a `git pull` lands
    path.write_text(pulled)
    doc["description"] = "the page's edit"
    stale = client.put(f"/api/workflows/{name}", json=doc, headers={**auth, "If-Match": etag})
    assert stale.status_code == 412, stale.get_json()
    assert "changed since it was read" in stale.get_json()["error"]
    assert path.read_text() == pulled

    reread = client.get(f"/api/workflows/{name}?format=json", headers=auth)
    fresh, doc = reread.headers["ETag"], {**reread.get_json(), "description": "the page's edit"}
    assert fresh != etag and stale.get_json()["etag"] == fresh
    saved = client.put(f"/api/workflows/{name}", json=doc, headers={**auth, "If-Match": fresh})
    assert saved.status_code == 200, saved.get_json()
    assert "the page's edit" in path.read_text() and "return 2" in path.read_text()
    assert (
        saved.headers["ETag"] == client.get(f"/api/workflows/{name}", headers=auth).headers["ETag"]
    )
    # No If-Match: saved as before (last write wins); `*` needs a file to exist.
    assert client.put(f"/api/workflows/{name}", json=doc, headers=auth).status_code == 200
    gone = client.put("/api/workflows/saves_none", json=doc, headers={**auth, "If-Match": "*"})
    assert gone.status_code == 412


def test_a_first_save_with_if_none_match_star_never_replaces_a_file(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    """The editor's first save of a page opened on no file: another tab created the
    file since, and the header was ignored (200, the other tab's file replaced)."""
    name, path = named
    before = path.read_text()
    doc = client.get(f"/api/workflows/{name}?format=json", headers=auth).get_json()
    doc["description"] = "the second tab's workflow"
    new_only = {**auth, "If-None-Match": "*"}
    taken = client.put(f"/api/workflows/{name}", json=doc, headers=new_only)
    assert taken.status_code == 412, taken.get_json()
    assert "exists" in taken.get_json()["error"]
    assert (
        taken.get_json()["etag"]
        == client.get(f"/api/workflows/{name}", headers=auth).headers["ETag"]
    )
    assert path.read_text() == before
    # The file's own version named: refused alike; another version: saved.
    current = {**auth, "If-None-Match": taken.get_json()["etag"]}
    assert client.put(f"/api/workflows/{name}", json=doc, headers=current).status_code == 412
    other = {**auth, "If-None-Match": '"0123456789abcdef0123"'}
    assert client.put(f"/api/workflows/{name}", json=doc, headers=other).status_code == 200

    fresh = f"{name}_new"
    try:
        made = client.put(f"/api/workflows/{fresh}", json={**doc, "name": fresh}, headers=new_only)
        assert made.status_code == 201, made.get_json()
        again = client.put(f"/api/workflows/{fresh}", json={**doc, "name": fresh}, headers=new_only)
        assert again.status_code == 412
    finally:
        (path.parent / f"{fresh}.yaml").unlink(missing_ok=True)


def test_a_yaml_save_is_written_as_sent(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    name, path = named
    sent = TEXT.format(name=name).replace("# one, for now", "# two: the refund rule") + "# end\n"
    sent = sent.replace("return 1", "return 2")
    yaml_type = {**auth, "Content-Type": "application/yaml"}
    saved = client.put(f"/api/workflows/{name}", data=sent, headers=yaml_type)
    assert saved.status_code == 200, saved.get_json()
    assert path.read_text() == sent  # comments and all
    invalid = client.put(f"/api/workflows/{name}", data=sent + "oops: 1\n", headers=yaml_type)
    assert invalid.status_code == 422 and path.read_text() == sent


def test_a_block_named_like_a_yaml_11_boolean_reads_and_saves_as_written(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The editor reads files as the engine does (YAML 1.2: `on` is text), so a
    block `on` comes back as `on` and the document saves back unchanged."""
    name = f"saves_{uuid.uuid4().hex[:8]}"
    path = workflows_dir / f"{name}.yaml"
    text = f"name: {name}\nblocks:\n  start: {{type: manual}}\n  on: {{type: function, code: return 5}}\nedges: [start -> on]\n"
    path.write_text(text)
    try:
        doc = client.get(f"/api/workflows/{name}?format=json", headers=auth).get_json()
        assert list(doc["blocks"]) == ["start", "on"] and doc["edges"] == ["start -> on"]
        saved = client.put(f"/api/workflows/{name}", json=doc, headers=auth)
        assert saved.status_code == 200, saved.get_json()
        assert path.read_text() == text  # nothing changed: not rewritten
        doc["description"] = "now described"
        assert client.put(f"/api/workflows/{name}", json=doc, headers=auth).status_code == 200
        assert "  on: {type: function, code: return 5}" in path.read_text()
    finally:
        path.unlink(missing_ok=True)


def test_concurrent_saves_over_one_version_write_one(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    """Eight saves sent at once with the same If-Match: one is written, the others are
    412 — none undoes another unseen."""
    from concurrent.futures import ThreadPoolExecutor

    name, path = named
    etag = client.get(f"/api/workflows/{name}", headers=auth).headers["ETag"]
    yaml_type = {**auth, "Content-Type": "application/yaml", "If-Match": etag}
    texts = [TEXT.format(name=name).replace("return 1", f"return {n + 10}") for n in range(8)]

    def put(text: str) -> int:
        return client.put(f"/api/workflows/{name}", data=text, headers=yaml_type).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(put, texts))
    assert sorted(codes) == [200] + [412] * 7, codes
    assert path.read_text() == texts[codes.index(200)]


def test_a_file_with_crlf_line_endings_keeps_one_version(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    name, path = named
    crlf = TEXT.format(name=name).replace("\n", "\r\n")
    yaml_type = {**auth, "Content-Type": "application/yaml"}
    saved = client.put(f"/api/workflows/{name}", data=crlf, headers=yaml_type)
    assert saved.status_code == 200 and path.read_bytes() == crlf.encode()
    read = client.get(f"/api/workflows/{name}", headers={**auth, "Accept": "application/yaml"})
    assert read.headers["ETag"] == saved.headers["ETag"]
    assert read.get_data() == crlf.encode()  # the file as it is
    again = client.put(
        f"/api/workflows/{name}",
        data=crlf,
        headers={**yaml_type, "If-Match": saved.headers["ETag"]},
    )
    assert again.status_code == 200, again.get_json()


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_save_keeps_the_files_mode(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path], mode: int
) -> None:
    """A save made the file 0600 (the temporary file's mode): a worker run as
    another user, or a team's shared checkout, lost read access."""
    name, path = named
    path.chmod(mode)
    edited = path.read_text().replace("return 1", "return 3")
    resp = client.put(
        f"/api/workflows/{name}", data=edited, headers={**auth, "Content-Type": "application/yaml"}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "return 3" in path.read_text()
    assert path.stat().st_mode & 0o777 == mode


def test_a_save_of_a_symlinked_workflow_writes_the_file_it_links_to(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, tmp_path: Path
) -> None:
    """A workflow kept once in the repository and linked into the workflows folder
    (`workflows/orders.yaml -> ../shared/orders.yaml`): a save replaced the link with
    a file of its own, so the shared file kept the old text, git showed the link
    turned into a file, and every other link to it kept running the old version."""
    name = f"saves_{uuid.uuid4().hex[:8]}"
    shared = tmp_path / "shared" / f"{name}.yaml"
    shared.parent.mkdir()
    shared.write_text(TEXT.format(name=name))
    shared.chmod(0o640)
    link = workflows_dir / f"{name}.yaml"
    link.symlink_to(shared)
    try:
        read = client.get(f"/api/workflows/{name}?format=json", headers=auth)
        doc = {**read.get_json(), "description": "edited in the editor"}
        resp = client.put(
            f"/api/workflows/{name}", json=doc, headers={**auth, "If-Match": read.headers["ETag"]}
        )
        assert resp.status_code == 200, resp.get_json()
        assert link.is_symlink() and link.resolve() == shared.resolve()
        assert "description: edited in the editor" in shared.read_text()
        assert shared.stat().st_mode & 0o777 == 0o640
        # Nothing but the shared file is written: no temporary file left anywhere.
        assert sorted(p.name for p in shared.parent.iterdir()) == [shared.name]
    finally:
        link.unlink(missing_ok=True)


def test_a_save_through_a_proxy_that_weakened_the_etag_is_saved_over_that_version(
    client: FlaskClient, auth: dict[str, str], named: tuple[str, Path]
) -> None:
    """nginx (docs/deploy.md puts one in front) turns a strong ETag weak when it
    compresses the answer (`W/"…"`): the editor sends that back as `If-Match`, and every
    save was a 412 "the file changed since this page loaded it", the file unchanged."""
    name, path = named
    read = client.get(f"/api/workflows/{name}?format=json", headers=auth)
    weak = "W/" + read.headers["ETag"]
    doc = {**read.get_json(), "description": "saved behind nginx"}
    resp = client.put(f"/api/workflows/{name}", json=doc, headers={**auth, "If-Match": weak})
    assert resp.status_code == 200, resp.get_json()
    assert "description: saved behind nginx" in path.read_text()
    # The version it names is still the one compared: the old one is now stale.
    doc["description"] = "an edit of the old version"
    stale = client.put(f"/api/workflows/{name}", json=doc, headers={**auth, "If-Match": weak})
    assert stale.status_code == 412, stale.get_json()
    assert "description: saved behind nginx" in path.read_text()
    # A first save over a file that exists is refused whatever form its tag has.
    now = "W/" + resp.headers["ETag"]
    exists = client.put(f"/api/workflows/{name}", json=doc, headers={**auth, "If-None-Match": now})
    assert exists.status_code == 412, exists.get_json()
