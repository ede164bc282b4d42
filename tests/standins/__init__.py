"""Stand-in servers for tests: real HTTP peers on 127.0.0.1, never used in production.

- :class:`RecordingServer` stands in for Stripe, Slack and a customer system: it records
  every request (method, path, headers such as ``Idempotency-Key``, body) and answers
  with scripted responses.
- :class:`ChatCompletionsStandIn` stands in for an OpenAI-compatible
  ``/v1/chat/completions`` endpoint, so the Agent block is tested through the real
  ``openai`` SDK and a real socket without a paid key.
"""

from .openai_standin import ChatCompletionsStandIn
from .recording import RecordedRequest, RecordingServer

__all__ = ["ChatCompletionsStandIn", "RecordedRequest", "RecordingServer"]
