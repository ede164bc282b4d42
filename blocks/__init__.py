"""Block types: one module each, registered with :func:`engine.registry.register`.

Importing this package registers them all. Adding a block type means adding one
module here and one import line below.
"""

from blocks import condition, function, loop, manual, parallel  # noqa: F401

for _optional in ("database", "webhook", "http", "slack", "email", "agent", "schedule"):
    # World-facing blocks; each lives in its own module.
    try:
        __import__(f"blocks.{_optional}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a module is missing
        if exc.name != f"blocks.{_optional}":
            raise
