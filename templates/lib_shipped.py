"""Rebuild ``templates/lib_shipped.json``: the sha256 of every version of each
``templates/lib/*.py`` flowyard shipped, from this repository's git history.

    python -m templates.lib_shipped

Run it after changing a file in ``templates/lib/``, and commit the list with the
change (tests/templates/test_lib_shipped.py fails until then). ``copy_lib`` takes
a workspace file holding any listed version for flowyard's, unedited, and
replaces it; without its sum, a workspace of that release (made before the
``.flowyard-lib.json`` manifest, or with it lost) would have the file kept as the
user's edit, and a new copy would run on the old lib.

Every commit that touched a file counts as a release of it (each commit on main
is one for this purpose), and so does the working tree's file: the version about
to be committed. A shallow clone lacks the older versions, so it is refused.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "lib_shipped.json"
_LIB = "templates/lib"


def build(repo: Path) -> dict[str, list[str]]:
    """File name → the sorted sha256 of each version of ``templates/lib/<name>``
    in ``repo``'s history and working tree, for each Python file there now."""
    if _git(repo, "rev-parse", "--is-shallow-repository").strip() == b"true":
        raise RuntimeError(f"{repo} is a shallow clone: its history lacks earlier releases")
    shipped: dict[str, list[str]] = {}
    for f in sorted((repo / _LIB).glob("*.py")):
        path = f"{_LIB}/{f.name}"
        sums = {_sha256(f.read_bytes())}
        for commit in _git(repo, "log", "--format=%H", "--", path).split():
            shown = subprocess.run(
                ["git", "-C", str(repo), "show", f"{commit.decode()}:{path}"], capture_output=True
            )
            if shown.returncode == 0:  # a commit that deleted the file has none
                sums.add(_sha256(shown.stdout))
        shipped[f.name] = sorted(sums)
    return shipped


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True).stdout


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    shipped = build(SHIPPED.parents[1])
    SHIPPED.write_text(json.dumps(shipped, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    total = sum(map(len, shipped.values()))
    print(f"{SHIPPED}: {total} versions of {len(shipped)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
