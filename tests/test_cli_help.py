"""What `flowyard --help` and each command's `--help` say: `serve --help` showed no
defaults and options without a word, `runs show --help` printed the whole `runs`
usage, and there was no `--version`."""

from __future__ import annotations

import contextlib
import io
from importlib.metadata import version

import pytest

from ui.cli import build_parser


def _help(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        build_parser().parse_args([*args, "--help"])
    assert done.value.code == 0
    return out.getvalue()


def test_version() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert out.getvalue() == f"flowyard {version('flowyard')}\n"


def test_serve_help_gives_every_option_a_description_and_its_default() -> None:
    text = " ".join(_help("serve").split())  # argparse wraps lines
    for option, default in [
        ("--host HOST", "(default: 127.0.0.1)"),
        ("--port PORT", "(default: 8080)"),
        ("--concurrency CONCURRENCY", "(default: 32)"),
        ("--log-format {text,json}", "(default: text)"),
        ("--workflows DIR", "(default: $FLOWYARD_WORKFLOWS, else ./workflows)"),
    ]:
        described = text.split(f"{option} ", 1)[1].split(" --", 1)[0]
        assert described.endswith(default), (option, described)
    for flag in ("--no-worker", "--engine-process"):
        assert text.split(f"{flag} ", 1)[1][:1].isalpha(), flag  # a description follows


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ("show", "the run's execution id"),
        ("cancel", "the run's execution id"),
        ("resume", "only this run"),
        ("prune", "--older-than"),
        ("list", "--status"),
    ],
)
def test_each_runs_action_has_a_help_of_its_own(action: str, says: str) -> None:
    text = _help("runs", action)
    assert text.startswith(f"usage: flowyard runs {action} ")
    assert says in text


@pytest.mark.parametrize(
    "command",
    [[c] for c in ("serve", "run", "worker", "runs", "db", "new")]
    + [["runs", a] for a in ("list", "show", "resume", "cancel", "prune")],
)
def test_workflows_is_described_on_its_line(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runs show --help` seemed to give --workflows no description: `--workflows
    WORKFLOWS` was too long to share its line with it, which began on the next."""
    monkeypatch.setenv("COLUMNS", "80")
    text = _help(*command)
    line = next(line for line in text.splitlines() if line.lstrip().startswith("--workflows"))
    assert line.split()[:4] == ["--workflows", "DIR", "the", "folder"], line
    # The options only `runs` and `runs list` take are not offered by the other actions.
    if command[0] == "runs" and command[1:] not in ([], ["list"]):
        for option in ("--workflow ", "--status", "--limit"):
            assert option not in text, (option, text)


@pytest.mark.parametrize(
    ("argv", "action", "workflow", "limit", "run_id"),
    [
        (["runs"], "list", None, 50, None),
        (["runs", "--workflow", "w", "--limit", "5"], "list", "w", "5", None),
        (["runs", "list", "--workflow", "w"], "list", "w", 50, None),
        (["runs", "--limit", "5", "list"], "list", None, "5", None),
        (["runs", "show", "abc"], "show", None, 50, "abc"),
        (["runs", "resume"], "resume", None, 50, None),
    ],
)
def test_runs_reads_its_arguments_as_before(
    argv: list[str], action: str, workflow: str | None, limit: object, run_id: str | None
) -> None:
    args = build_parser().parse_args(argv)
    assert (args.action, args.workflow, args.limit, args.id) == (action, workflow, limit, run_id)
    assert args.older_than == "30d" and args.status is None


def test_runs_prune_and_workflows_after_the_action() -> None:
    args = build_parser().parse_args(["runs", "prune", "--older-than", "7d", "--workflows", "f"])
    assert (args.action, args.older_than, args.workflows) == ("prune", "7d", "f")
    assert build_parser().parse_args(["runs", "--workflows", "f", "show", "x"]).workflows == "f"


@pytest.mark.parametrize(
    ("command", "argument", "says"),
    [
        (["validate"], "FILE", "a workflow file"),
        (["new"], "template", "a template id, as `flowyard templates` lists them"),
        (["new"], "name", "the copy's workflow name"),
        (["db"], "{init,url,start,stop}", "init: create the templates' tables"),
    ],
)
def test_each_positional_argument_is_described(
    command: list[str], argument: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's `flowyard new --help` listed `template` and `name` with no word on
    what either is (and `validate`'s `files`, `db`'s actions, the same)."""
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(*command).split("positional arguments:", 1)[1].split("options:", 1)[0]
    assert f"{argument} {says}" in " ".join(text.split()), text
