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


def test_proto_imports_resolve_in_the_root_protos_directory() -> None:
    from podium.deployment import deployed_imports, import_uri, proto_imports

    text = ('syntax = "proto3";\nimport "google/protobuf/timestamp.proto";\n'
            'import public "common/a.proto";\n  import weak "b.proto" ;\n// import "c.proto";\n')
    assert proto_imports(text) == ["common/a.proto", "b.proto"]
    assert import_uri("file://protos/x.proto", "common/a.proto") == "file://protos/common/a.proto"
    assert import_uri("file:///srv/p/x.proto", "b.proto") == "file:///srv/p/b.proto"
    assert import_uri("file://x.proto", "b.proto") == "file://b.proto"
    # protoc resolves nested imports on the same path as the root proto's: not
    # beside the file that imports them.
    resources = {
        "file://protos/common/a.proto": 'import "b.proto";',
        "file://protos/b.proto": "message B {}",
        "file://protos/common/b.proto": "never read",
    }
    assert deployed_imports("file://protos/x.proto", text, resources) == {
        "common/a.proto": 'import "b.proto";', "b.proto": "message B {}",
    }
