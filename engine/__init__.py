"""flowyard's engine: workflow model, references, graph, executor, run store, database.

The engine knows nothing of Flask. Block types live in ``blocks/`` and register
themselves into :mod:`engine.registry`.
"""
