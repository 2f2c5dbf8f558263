"""External resources: file URIs as the spec writes them."""

from __future__ import annotations

from pathlib import Path

from podium.resources import file_path


def test_file_uri_with_a_host_part_names_a_relative_path() -> None:
    # dsl-reference "gRPC Call" example: file://app/greet.proto
    assert file_path("file://app/greet.proto") == Path("app/greet.proto")


def test_absolute_file_uris_and_plain_paths() -> None:
    assert file_path("file:///srv/protos/greet.proto") == Path("/srv/protos/greet.proto")
    assert file_path("file://localhost/srv/a.proto") == Path("/srv/a.proto")
    assert file_path("protos/greet.proto") == Path("protos/greet.proto")
