"""The committed generated code matches eventstore.proto; URLs of servers never show tokens."""

from __future__ import annotations

import re

import pytest

import eslib
from eslib.urls import grpc_target, parse_url

pytest.importorskip("grpc")


def _comparable(text: str) -> str:
    """Generated code without the lines naming protoc's version."""
    text = re.sub(r"# Protobuf Python Version: .*\n", "", text)
    return re.sub(r"ValidateProtobufRuntimeVersion\([^)]*\)", "", text)


def test_generated_code_matches_the_proto(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) regenerates the code")
    from eslib.proto import PROTO, generate

    for fresh in generate(tmp_path):
        committed = PROTO.with_name(fresh.name)
        assert _comparable(fresh.read_text()) == _comparable(committed.read_text()), (
            f"{committed.name} is stale: run `python -m eslib.proto` and commit the result")


@pytest.mark.parametrize(
    "url",
    ["grpc://:TOPSECRET@127.0.0.1:7000", "grpc://127.0.0.1:7000?token=TOPSECRET",
     "grpcs://TOPSECRET@example.org", "grpc://:TOPSECRET@127.0.0.1:7000?ca=/x.pem"],
)
def test_tokens_never_shown(url):
    parsed = parse_url(url)
    assert "TOPSECRET" not in str(parsed) and "TOPSECRET" not in repr(parsed)
    target = grpc_target(url)
    assert target.token == "TOPSECRET" and "TOPSECRET" not in repr(target)


@pytest.mark.parametrize(
    "url",
    ["grpc://:TOPSECRET@", "grpc://:TOPSECRET@host:99999", "grpc://:TOPSECRET@host/db",
     "grpc://host?token=TOPSECRET&nope=1", "grpc://TOPSECRET@host?bad"],
)
def test_bad_grpc_urls_name_the_problem_not_the_token(url):
    with pytest.raises(eslib.ConfigurationError) as info:
        parse_url(url)
    assert "TOPSECRET" not in str(info.value) and "grpc://" in str(info.value)


def test_default_port_and_environment(monkeypatch):
    monkeypatch.setenv("ESLIB_GRPC_TOKEN", "from-env")
    monkeypatch.setenv("ESLIB_GRPC_CA", "/etc/ca.pem")
    target = grpc_target("grpcs://events.example.org")
    assert (target.host, target.port, target.token, target.ca_file, target.secure) == (
        "events.example.org", 50051, "from-env", "/etc/ca.pem", True)
    assert str(parse_url("grpc://[::1]:9000")) == "grpc://[::1]:9000"


def test_unreachable_server_is_a_store_error():
    with pytest.raises(eslib.StoreError, match="cannot reach"):
        eslib.connect("grpc://127.0.0.1:1", timeout=0.5)


def test_grpcio_experiments_default_unless_the_user_set_them():
    import os
    import subprocess
    import sys

    from eslib.proto import GRPC_EXPERIMENTS

    show = "import os, eslib.backends.grpc; print(os.environ.get('GRPC_EXPERIMENTS'))"
    env = {k: v for k, v in os.environ.items() if k != "GRPC_EXPERIMENTS"}
    for given, expected in ((None, GRPC_EXPERIMENTS), ("", ""), ("-event_engine_dns", None)):
        expected = given if expected is None else expected
        run_env = env if given is None else {**env, "GRPC_EXPERIMENTS": given}
        out = subprocess.run([sys.executable, "-c", show], env=run_env, capture_output=True,
                             text=True, timeout=60, check=True)
        assert out.stdout.strip() == expected
