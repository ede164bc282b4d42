"""An OpenAI-compatible chat-completions server for tests.

TEST STAND-IN ONLY: it is not a model. It serves ``POST /v1/chat/completions`` in the
shape the OpenAI API uses (id, model, choices[].message, usage), records each request
(including the ``Authorization`` header, so a test can check which key was sent), and
answers with scripted reply texts in order (the last one repeats). Token counts are
the number of whitespace-separated words, enough to check ``usage`` and ``cost_usd``.
A request whose bearer token is not ``api_key`` gets a 401 as the real API would.
``answer_with`` replaces the completion by bodies of the test's own (a provider's odd
or broken 200 answers), sent as they are, with ``headers`` of its own if given (a
``Content-Encoding``).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def chat_completion(content: Any, **message: Any) -> dict[str, Any]:
    """A chat.completion body for ``answer_with``: ``content`` as the reply, with the
    ``message``'s other fields (``refusal``, ``tool_calls``) as given."""
    return {
        "id": "chatcmpl-shapes",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content, **message},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


class ChatCompletionsStandIn:
    def __init__(self, api_key: str = "sk-test-standin", model: str | None = None) -> None:
        self.api_key = api_key
        self.model = model  # the model named in replies; None echoes the request's
        self.replies: list[str] = ["Hello from the stand-in."]
        self.bodies: list[bytes] = []  # when set, answered instead of a completion
        self.body_headers: dict[str, str] = {}  # sent with those bodies
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def reply_with(self, *texts: str) -> None:
        with self._lock:
            self.replies = list(texts)

    def answer_with(self, *bodies: Any, headers: dict[str, str] | None = None) -> None:
        """Answer 200 with these bodies in turn (the last repeats): bytes as they are,
        anything else as JSON (Python's, so ``float("nan")`` is sent as ``NaN``)."""
        with self._lock:
            self.body_headers = dict(headers or {})
            self.bodies = [b if isinstance(b, bytes) else json.dumps(b).encode() for b in bodies]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return Response("not found", 404)(environ, start_response)
        auth = request.headers.get("Authorization", "")
        body = request.get_json(force=True)
        with self._lock:
            self.authorizations.append(auth)
            self.requests.append(body)
            text = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
            body_given = (
                (self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0])
                if self.bodies
                else None
            )
        if auth != f"Bearer {self.api_key}":
            error = {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
            return Response(json.dumps(error), 401, mimetype="application/json")(
                environ, start_response
            )
        if body_given is not None:
            answer = Response(body_given, 200, mimetype="application/json")
            answer.headers.update(self.body_headers)
            return answer(environ, start_response)
        prompt_tokens = sum(
            len(str(m.get("content", "")).split()) for m in body.get("messages", [])
        )
        completion_tokens = len(text.split())
        payload = {
            "id": f"chatcmpl-standin-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model or body.get("model", "stand-in"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return Response(json.dumps(payload), 200, mimetype="application/json")(
            environ, start_response
        )

    def start(self) -> ChatCompletionsStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self) -> ChatCompletionsStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
