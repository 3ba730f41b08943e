"""ARI's operations read from Asterisk's own API description (a trimmed copy of Asterisk 22's in
tests/fixtures/ari_api), and the WebSocket's messages: requests built, responses and events parsed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asterisk_rec.adapters.ari.api import AriApi, RestRequest, query_text, resource_paths
from asterisk_rec.adapters.ari.wire import RestResponse, parse_message, request_message
from asterisk_rec.callflow import control
from asterisk_rec.errors import AriError

DESCRIPTION = Path(__file__).resolve().parents[1] / "fixtures" / "ari_api"


@pytest.fixture(scope="module")
def api() -> AriApi:
    index = json.loads((DESCRIPTION / "resources.json").read_text())
    names = [path.removeprefix("api-docs/") for path in resource_paths(index)]
    return AriApi.from_documents(json.loads((DESCRIPTION / name).read_text())
                                 for name in names if (DESCRIPTION / name).exists())


def test_the_index_lists_every_resource_document() -> None:
    """resources.json names channels, bridges and recordings (among others) as api-docs/<name>.json."""
    index = json.loads((DESCRIPTION / "resources.json").read_text())
    paths = resource_paths(index)
    assert {"api-docs/channels.json", "api-docs/bridges.json", "api-docs/recordings.json"} <= set(paths)
    assert resource_paths({}) == []


def test_every_command_of_the_call_flow_is_in_asterisk_22s_description(api: AriApi) -> None:
    """Each operation CallControl gives (read from its source) exists under that nickname: a misspelt or
    renamed one fails here, not mid-call."""
    source = Path(control.__file__).read_text()
    used = {f"{repository}.{operation}" for repository, operation in
            re.findall(r'_op\("(\w+)", "(\w+)"', source)}
    assert len(used) > 20, used
    assert used - api.operations.keys() == set()


def test_path_query_and_body_parameters_go_where_the_description_says(api: AriApi) -> None:
    """Path parameters fill the path, the others are query strings (booleans as true/false, lists
    comma-joined), ``variables`` is the JSON body; None is not sent."""
    assert api.request("channels.answer", {"channelId": "ar-1-caller"}) == \
        RestRequest("POST", "channels/ar-1-caller/answer")
    variables = {"PJSIP_TRANSFER_HANDLING()": "ari-only"}
    created = api.request("channels.create", {"endpoint": "PJSIP/bob", "app": "asterisk-rec", "channelId": "x",
                                              "originator": None, "variables": variables})
    assert created == RestRequest("POST", "channels/create",
                                  (("endpoint", "PJSIP/bob"), ("app", "asterisk-rec"), ("channelId", "x")),
                                  {"variables": variables})
    added = api.request("bridges.addChannel", {"bridgeId": "b", "channel": ["c1", "c2"], "absorbDTMF": True})
    assert added.query == (("channel", "c1,c2"), ("absorbDTMF", "true"))


def test_a_recording_name_with_a_slash_stays_one_path_segment(api: AriApi) -> None:
    """``org/2026/call`` is percent-encoded whole: Asterisk reads it as one recording's name."""
    assert api.request("recordings.stop", {"recordingName": "org/2026/☎ call"}).uri == \
        "recordings/live/org%2F2026%2F%E2%98%8E%20call/stop"


@given(st.text())
def test_any_unicode_path_parameter_round_trips(api: AriApi, name: str) -> None:
    """Whatever the characters (the whole of Unicode, empty included), the path segment decodes back
    to them and holds no raw slash, query or fragment mark."""
    uri = api.request("recordings.deleteStored", {"recordingName": name}).uri
    segment = uri.removeprefix("recordings/stored/")
    assert not any(mark in segment for mark in "/?#")
    assert unquote(segment) == name


@pytest.mark.parametrize(("name", "params", "says"), [
    ("channels.fly", {}, "no operation 'channels.fly'"),
    ("channels.answer", {"channelId": "c", "colour": "red"}, "takes no parameter colour"),
    ("channels.record", {"channelId": "c"}, "needs format, name"),
])
def test_a_wrong_command_is_said_before_asterisk_is_asked(api: AriApi, name: str, params: dict[str, Any],
                                                          says: str) -> None:
    with pytest.raises(AriError, match=says):
        api.request(name, params)


@pytest.mark.parametrize(("value", "text"), [
    (True, "true"), (False, "false"), (0, "0"), (-2**63, str(-2**63)), (["a", "b"], "a,b"), ((), ""), ("ü", "ü"),
])
def test_query_values_as_ari_reads_them(value: Any, text: str) -> None:
    assert query_text(value) == text


def test_a_request_message_carries_query_and_json_body() -> None:
    """RESTRequest with the request's id; the body as a JSON string with its content type; no empty
    fields."""
    message = json.loads(request_message("7", RestRequest("POST", "channels/create", (("endpoint", "PJSIP/ü"),),
                                                           {"variables": {"X": "ç"}})))
    assert message == {"type": "RESTRequest", "request_id": "7", "method": "POST", "uri": "channels/create",
                       "query_strings": [{"name": "endpoint", "value": "PJSIP/ü"}],
                       "content_type": "application/json", "message_body": json.dumps({"variables": {"X": "ç"}},
                                                                                      ensure_ascii=False)}
    assert json.loads(request_message("8", RestRequest("DELETE", "bridges/b"))) == \
        {"type": "RESTRequest", "request_id": "8", "method": "DELETE", "uri": "bridges/b"}


def test_responses_as_asterisk_22_sends_them() -> None:
    """A 200 with a JSON body, a 204 without one, a 404 with Asterisk's message: each with its status."""
    ok = parse_message('{"type":"RESTResponse","transaction_id":"","request_id":"6","status_code":200,'
                       '"reason_phrase":"OK","uri":"asterisk/variable","content_type":"application/json",'
                       '"message_body":"{\\"value\\":\\"b,ar\\"}"}')
    assert ok == RestResponse("6", 200, "OK", {"value": "b,ar"}) and not ok.is_error
    empty = parse_message('{"type":"RESTResponse","request_id":"4","status_code":204,"reason_phrase":"No Content"}')
    assert empty == RestResponse("4", 204, "No Content", None)
    gone = parse_message('{"type":"RESTResponse","request_id":"2","status_code":404,"reason_phrase":'
                         '"Channel Not Found","message_body":"{\\"message\\":\\"Provided channel was not found\\"}"}')
    assert isinstance(gone, RestResponse) and gone.is_error
    assert gone.error_text() == "Provided channel was not found"
    plain = parse_message('{"type":"RESTResponse","request_id":"3","status_code":500,"reason_phrase":"Oops",'
                          '"message_body":"not json"}')
    assert isinstance(plain, RestResponse) and plain.body == "not json" and plain.error_text() == "Oops"


def test_an_event_is_its_json() -> None:
    event = '{"type":"StasisStart","channel":{"id":"c","name":"PJSIP/alice-1"},"args":["call","ü"]}'
    assert parse_message(event) == json.loads(event)


@pytest.mark.parametrize("text", ["", "[1]", "null", "{", "\ud800"])
def test_a_message_that_is_not_an_object_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_message(text)
