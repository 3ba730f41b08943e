"""The messages of ARI's WebSocket: Asterisk's events, and REST requests and their responses carried over
the same socket (Asterisk 20.13, 21.8, 22.3 and later: ``RESTRequest``/``RESTResponse``). Pure: text in,
objects out, and back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from asterisk_rec.adapters.ari.api import RestRequest


@dataclass(frozen=True)
class RestResponse:
    request_id: str
    status: int
    reason: str
    body: Any

    @property
    def is_error(self) -> bool:
        return self.status >= 400

    def error_text(self) -> str:
        """Asterisk's own words for an error (``{"message": ...}``), else its reason phrase."""
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            return str(self.body["message"])
        return self.reason


def request_message(request_id: str, request: RestRequest) -> str:
    message: dict[str, Any] = {"type": "RESTRequest", "request_id": request_id, "method": request.method,
                               "uri": request.uri}
    if request.query:
        message["query_strings"] = [{"name": name, "value": value} for name, value in request.query]
    if request.body is not None:
        message["content_type"] = "application/json"
        message["message_body"] = json.dumps(request.body, ensure_ascii=False)
    return json.dumps(message, ensure_ascii=False)


def _body(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_message(text: str | bytes) -> RestResponse | dict[str, Any]:
    """A response to one of our requests, or an event (its JSON as Asterisk sent it). Raises ``ValueError``
    for a message that is neither (not JSON, not an object)."""
    message = json.loads(text)
    if not isinstance(message, dict):
        raise ValueError(f"an ARI message that is not a JSON object: {str(text)[:200]!r}")
    if message.get("type") == "RESTResponse":
        return RestResponse(
            request_id=str(message.get("request_id", "")),
            status=int(message.get("status_code", 0)),
            reason=str(message.get("reason_phrase", "")),
            body=_body(message.get("message_body")),
        )
    return message
