"""flowyard's application layer: the CLI and the Flask app (editor, API, webhooks)."""
