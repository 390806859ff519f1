from __future__ import annotations

import pytest

from indexer.decode import DecodeError, decode

FILEBEAT_7_17 = (
    b'{"@timestamp":"2023-04-11T22:11:50.656Z","@metadata":{"beat":"filebeat","type":"_doc",'
    b'"version":"7.17.9"},"log":{"offset":0,"file":{"path":"/var/log/nginx/access.log"}},'
    b'"message":"10.89.2.6 - - [11/Apr/2023:22:11:41 +0000] \\"GET / HTTP/1.0\\" 200 615 \\"-\\" '
    b'\\"curl/7.79.1\\" \\"-\\"","tags":["nginx-access"],"input":{"type":"filestream"},"fields":'
    b'{"doc":"app-filebeat-nginx-access"},"ecs":{"version":"1.12.0"},"host":{"name":"053dd9dc5419"},'
    b'"agent":{"name":"053dd9dc5419","type":"filebeat","version":"7.17.9","hostname":"053dd9dc5419",'
    b'"ephemeral_id":"5eada860-4c61-4dfc-b515-cb9698da664c","id":"3db14b2e-4831-43c4-926d-97136d781be1"}}'
)
FILEBEAT_8_11 = (
    b'{"@timestamp":"2023-11-20T14:37:56.612Z","@metadata":{"beat":"filebeat","type":"_doc",'
    b'"version":"8.11.0"},"message":"89.109.34.234 - - [20/Nov/2023:17:37:47 +0300] \\"GET '
    b'/wp-admin/install.php HTTP/1.1\\" 200 7542 \\"-\\" \\"Mozilla/5.0\\" \\"-\\"","log":{"offset":1761,'
    b'"file":{"device_id":"64514","inode":"140027","path":"/var/log/nginx/access.log"}},"input":'
    b'{"type":"filestream"},"ecs":{"version":"8.0.0"},"host":{"name":"nginx-01.example.com"},'
    b'"agent":{"id":"24f13539-7e02-46c0-bd78-a1d9212f93f3","name":"nginx-01.example.com","type":'
    b'"filebeat","version":"8.11.0","ephemeral_id":"8b30db57-a5ee-4a47-b998-3a0f45edd430"}}'
)


def test_a_filebeat_7_17_event_decodes_with_every_field() -> None:
    event = decode(FILEBEAT_7_17)
    assert event["log"]["file"]["path"] == "/var/log/nginx/access.log"
    assert event["@metadata"]["version"] == "7.17.9"
    assert event["tags"] == ["nginx-access"]
    assert event["message"].startswith(
        '10.89.2.6 - - [11/Apr/2023:22:11:41 +0000] "GET / HTTP/1.0"'
    )


def test_a_filebeat_8_11_event_decodes_with_every_field() -> None:
    event = decode(FILEBEAT_8_11)
    assert event["log"]["file"]["inode"] == "140027"
    assert event["agent"]["version"] == "8.11.0"
    assert event["@timestamp"] == "2023-11-20T14:37:56.612Z"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (b"", "empty_message"),
        (None, "empty_message"),
        (b"plain text", "invalid_json"),
        (b'{"unterminated": ', "invalid_json"),
        (b'{"message": "\xff"}', "invalid_utf8"),
        (b"[1, 2]", "not_an_object"),
        (b'"a string"', "not_an_object"),
        (b"null", "not_an_object"),
    ],
)
def test_what_is_not_a_json_object_is_refused_with_a_named_reason(
    value: bytes | None, kind: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(value)
    assert caught.value.kind == kind
