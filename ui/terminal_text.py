"""A run's data as the CLI prints it to a terminal: without control characters.

A block's error, a run's input and output quote what anyone who can reach a
webhook sent (a Function raising with the body's text, a peer's answer). Printed
as they were, an escape sequence in them drove the operator's terminal (`ESC ]0;…`
sets the window's title, `ESC [2J` clears the screen, OSC 52 writes the clipboard
in many terminals) and a carriage return wrote over what the line said.
"""

from __future__ import annotations

import re

#: C0 controls but tab and line feed, DEL, and C1 controls (U+009B is a CSI too); and
#: bidirectional controls, which reorder the rest of the line in a terminal that lays
#: out bidirectional text ("\u202e0001" read 1000), as the run viewer escapes them.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with each control character but tab and line feed written as its
    Python escape (``\\x1b``, ``\\r``): still there to read, never acted on."""
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)
