"""Saving a workflow whose `name:` another file already has: refused (422) when the
save would make the clash, naming the file and the `name` field, and nothing is
written. A clash that is already on disk does not lock both files: saving one of
them keeps working and says so."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask.testing import FlaskClient

YAML = {"Content-Type": "application/yaml"}


def _doc(name: str) -> str:
    return f"name: {name}\nblocks:\n  start: {{type: manual}}\n"


def test_put_a_name_another_file_has_is_422_and_saves_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"Shared {uuid.uuid4().hex[:8]}"
    first, second = f"aa_{uuid.uuid4().hex[:6]}", f"zz_{uuid.uuid4().hex[:6]}"
    try:
        put = client.put(f"/api/workflows/{first}", data=_doc(name), headers={**auth, **YAML})
        assert put.status_code == 201, put.get_data(as_text=True)
        resp = client.put(f"/api/workflows/{second}", data=_doc(name), headers={**auth, **YAML})
        assert resp.status_code == 422, resp.get_data(as_text=True)
        [problem] = resp.get_json()["problems"]
        assert (problem["file"], problem["block"], problem["field"]) == (
            f"{second}.yaml",
            None,
            "name",
        )
        assert problem["message"] == f"workflow name {name!r} is already the name of {first}.yaml"
        assert not (workflows_dir / f"{second}.yaml").exists()
        # The validate endpoint says the same.
        checked = client.post(
            f"/api/workflows/{second}/validate", data=_doc(name), headers={**auth, **YAML}
        )
        assert checked.status_code == 422 and checked.get_json()["problems"] == [problem]
        # Renaming an existing file to the taken name is refused too.
        other = _doc(f"{name} too")
        assert client.put(f"/api/workflows/{second}", data=other, headers={**auth, **YAML}).status_code == 201  # fmt: skip
        before = (workflows_dir / f"{second}.yaml").read_text()
        renamed = client.put(f"/api/workflows/{second}", data=_doc(name), headers={**auth, **YAML})
        assert renamed.status_code == 422 and renamed.get_json()["problems"][0]["field"] == "name"
        assert (workflows_dir / f"{second}.yaml").read_text() == before
    finally:
        for stem in (first, second):
            (workflows_dir / f"{stem}.yaml").unlink(missing_ok=True)


def test_saving_a_file_of_a_clash_already_on_disk_works_and_warns(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # Two copies of one template (`flowyard new` keeps its `name:`): refusing every
    # save of either would lock both out of the editor.
    name = f"Copied {uuid.uuid4().hex[:8]}"
    first, second = f"aa_{uuid.uuid4().hex[:6]}", f"zz_{uuid.uuid4().hex[:6]}"
    for stem in (first, second):
        (workflows_dir / f"{stem}.yaml").write_text(_doc(name))
    try:
        edited = _doc(name) + "description: edited\n"
        resp = client.put(f"/api/workflows/{second}", data=edited, headers={**auth, **YAML})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        [warning] = resp.get_json()["warnings"]
        assert (warning["file"], warning["field"]) == (f"{second}.yaml", "name")
        assert f"is already the name of {first}.yaml" in warning["message"]
        assert "description: edited" in (workflows_dir / f"{second}.yaml").read_text()
    finally:
        for stem in (first, second):
            (workflows_dir / f"{stem}.yaml").unlink(missing_ok=True)
