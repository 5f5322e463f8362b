"""``python -m eslib.proto``: regenerate eventstore_pb2 from eventstore.proto."""

from __future__ import annotations

from . import generate

if __name__ == "__main__":
    for path in generate():
        print(f"wrote {path}")
