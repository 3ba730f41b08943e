"""ARI's operations as Asterisk's own API description (``/ari/api-docs/*.json``, Swagger 1.1) states them:
for each ``repository.operation`` (``channels.answer``, ``bridges.addChannel``) its HTTP method, its path,
and where each parameter goes. Pure: the table is built from the description's JSON and turns a command
into a request; fetching the description and sending the request are the connection's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from asterisk_rec.errors import AriError


@dataclass(frozen=True)
class RestRequest:
    """``uri`` is relative to ``/ari/`` with the path's parameters filled in (percent-encoded)."""

    method: str
    uri: str
    query: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None


def query_text(value: Any) -> str:
    """A query parameter as ARI reads it: booleans as ``true``/``false``, lists comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(query_text(item) for item in value)
    return str(value)


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    path_params: frozenset[str]
    query_params: frozenset[str]
    body_params: frozenset[str]
    required: frozenset[str]

    def request(self, params: Mapping[str, Any]) -> RestRequest:
        """Parameters left ``None`` are not sent. Raises ``AriError`` for a parameter the operation does not
        take or a required one missing: a programming error, said before Asterisk is asked."""
        given = {name: value for name, value in params.items() if value is not None}
        unknown = given.keys() - self.path_params - self.query_params - self.body_params
        if unknown:
            raise AriError(f"ARI {self.name} takes no parameter {', '.join(sorted(unknown))}")
        missing = self.required - given.keys()
        if missing:
            raise AriError(f"ARI {self.name} needs {', '.join(sorted(missing))}")
        uri = self.path.format_map({name: quote(str(given[name]), safe="") for name in self.path_params})
        query = tuple((name, query_text(value)) for name, value in given.items() if name in self.query_params)
        body = {name: value for name, value in given.items() if name in self.body_params} or None
        return RestRequest(self.method, uri, query, body)


def _repository(resource_path: str) -> str:
    """``/api-docs/channels.{format}`` -> ``channels``."""
    return resource_path.rsplit("/", 1)[-1].split(".", 1)[0]


def resource_paths(resources: Mapping[str, Any]) -> list[str]:
    """The documents a description's index (``resources.json``) lists, relative to ``/ari/``:
    ``api-docs/channels.json``..."""
    return [api["path"].lstrip("/").replace("{format}", "json") for api in resources.get("apis", [])]


def _operations(document: Mapping[str, Any]) -> Iterable[Operation]:
    repository = _repository(document["resourcePath"])
    for api in document.get("apis", []):
        path = api["path"].lstrip("/")
        for operation in api.get("operations", []):
            params = operation.get("parameters", [])

            def named(kind: str, params: list[dict[str, Any]] = params) -> frozenset[str]:
                return frozenset(p["name"] for p in params if p.get("paramType") == kind)

            yield Operation(
                name=f"{repository}.{operation['nickname']}",
                method=operation["httpMethod"],
                path=path,
                path_params=named("path"),
                query_params=named("query"),
                body_params=named("body"),
                required=frozenset(p["name"] for p in params if p.get("required")),
            )


class AriApi:
    """The operations of one Asterisk, by ``repository.operation``."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self.operations = {operation.name: operation for operation in operations}

    @classmethod
    def from_documents(cls, documents: Iterable[Mapping[str, Any]]) -> AriApi:
        """From the resource documents (``channels.json``, ``bridges.json``...); the WebSocket's own
        (``events.json``) has no REST operation worth keeping but is harmless."""
        return cls(operation for document in documents for operation in _operations(document))

    def request(self, name: str, params: Mapping[str, Any]) -> RestRequest:
        operation = self.operations.get(name)
        if operation is None:
            raise AriError(f"this Asterisk's ARI has no operation {name!r}")
        return operation.request(params)
