"""External resources: file URIs as the spec writes them."""

from __future__ import annotations

from podium.resources import _file_location


def test_file_uri_with_a_host_part_names_a_relative_path() -> None:
    # dsl-reference "gRPC Call" example: file://app/greet.proto
    assert _file_location("file://app/greet.proto") == "app/greet.proto"


def test_absolute_file_uris_and_plain_paths() -> None:
    assert _file_location("file:///srv/protos/greet.proto") == "/srv/protos/greet.proto"
    assert _file_location("file://localhost/srv/a.proto") == "/srv/a.proto"
    assert _file_location("protos/greet.proto") == "protos/greet.proto"
