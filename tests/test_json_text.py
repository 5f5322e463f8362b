"""eslib.json_text: the encoder and decoder of event data behave like json.dumps/loads."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eslib.json_text import decode, encode

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_same_text_as_json_dumps_and_back(value):
    text = encode(value)
    assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    assert decode(text) == json.loads(text) == value


def test_decode_reads_utf8_bytes_as_drivers_give_them():
    text = encode({"name": "Zoë ☃", "n": [1, 2.5]})
    assert decode(text.encode()) == decode(memoryview(text.encode())) == json.loads(text)


def test_unicode_is_kept_and_nan_refused():
    assert encode({"name": "Zoë ☃"}) == '{"name":"Zoë ☃"}'
    with pytest.raises(ValueError):
        encode({"x": float("inf")})
    with pytest.raises(TypeError):
        encode({"x": object()})


def test_a_cyclic_value_is_refused_and_the_encoder_still_works():
    cyclic: dict[str, object] = {}
    cyclic["me"] = cyclic
    with pytest.raises(RecursionError):
        encode(cyclic)
    shared = {"k": 1}
    assert encode({"a": shared, "b": shared}) == '{"a":{"k":1},"b":{"k":1}}'


@pytest.mark.parametrize("text", [' {"a": 1}', '{"a": 1} ', "\n[1, 2]\n"])
def test_decode_accepts_what_json_loads_accepts(text):
    assert decode(text) == json.loads(text)


@pytest.mark.parametrize("text", ['{"a": 1} x', "", "{"])
def test_decode_refuses_what_json_loads_refuses(text):
    with pytest.raises(json.JSONDecodeError):
        decode(text)


def test_threads_encode_the_same_object_at_once():
    shared = {"items": [{"sku": str(i), "qty": i} for i in range(50)]}
    expected = json.dumps(shared, separators=(",", ":"))
    wrong: list[str] = []

    def work() -> None:
        for _ in range(300):
            if encode(shared) != expected:
                wrong.append("mismatch")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
