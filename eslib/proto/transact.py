"""The Transact call, both ends: one transaction carried over a bidirectional stream.

The server runs the whole call in one thread, inside one backend transaction (the
memory and DuckDB backends hold a lock that belongs to that thread); every request
gets one response, in order; an error, a rollback request or a client that goes
away rolls it back. The client (:class:`GrpcTransaction`) holds checkpoint saves
back until the next request that needs an answer, so a subscription's checkpoint
costs one round trip.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import grpc

from ..errors import ConfigurationError, EslibError, InvalidEvent, StoreError, WriteOutcomeUnknown
from ..events import AppendResult
from . import codec
from . import eventstore_pb2 as pb

if TYPE_CHECKING:
    from ..backends.base import StreamAppend
    from ..backends.grpc import GrpcBackend
    from .service import Service


def serve(service: Service, requests: Iterator[Any], activity: list[float]) -> Iterator[Any]:
    """Carry out one Transact call in this thread: the backend transaction lives here."""
    appended = False
    try:  # through the facade: its checks, and its rule of one append before checkpoints
        with service.store.transaction() as tx:
            for request in requests:
                activity[0] = time.monotonic()
                if isinstance(request, codec.Rejected):
                    raise InvalidEvent(request.reason)
                op = request.WhichOneof("op")
                if op == "commit":
                    break
                if op == "rollback":
                    raise _RolledBack
                if op == "append":
                    batch = codec.batch_from_pb(request.append, codec.utc_now())
                    results = tx._appending().append(service.store._checked(batch))
                    appended = True
                    response = pb.TransactResponse()
                    for result in results:
                        codec.result_to_pb(result, response.append.results.add())
                    yield response
                elif op == "execute":
                    yield _execute(service, tx, request.execute)
                elif op == "load_checkpoint":
                    name = request.load_checkpoint.name
                    yield pb.TransactResponse(load_checkpoint=pb.LoadCheckpointResponse(
                        position=tx.load_checkpoint(name)))
                elif op == "save_checkpoint":
                    save = request.save_checkpoint
                    tx.save_checkpoint(save.name, save.position)
                    yield pb.TransactResponse(done=True)
                else:
                    raise InvalidEvent("a TransactRequest must set one operation")
            else:  # the client went away without committing
                raise _RolledBack
    except _RolledBack:
        yield pb.TransactResponse(done=True)
        return
    if appended:
        service._notify()
    yield pb.TransactResponse(done=True)

def _execute(service: Service, tx: Any, request: Any) -> Any:
    if not service.allow_sql:
        raise ConfigurationError("this server does not run SQL; start it with --allow-sql "
                                 "to use SQL read models through it")
    params = codec.json_value(request.params, "SQL parameters") if request.params else []
    if not isinstance(params, list):
        raise InvalidEvent("SQL parameters must be a JSON array")
    rows = tx.execute(request.sql, params)
    return pb.TransactResponse(execute=pb.ExecuteResponse(
        rows=codec.dumps_lossy([list(row) for row in rows])))


class _RolledBack(Exception):
    """Internal: leave the transaction's ``with`` block so that it rolls back."""


class GrpcTransaction:
    """One Transact call. Checkpoint saves wait to travel with the next call that needs a reply."""

    def __init__(self, backend: GrpcBackend) -> None:
        self._backend = backend
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._responses: Any = None
        self._held: list[Any] = []
        self._failed = False

    def _send(self, request: Any) -> Any:
        if self._failed:
            raise StoreError("this transaction was rolled back by an earlier error; "
                             "start a new one")
        if self._responses is None:
            # no deadline on the call (a transaction may run long) nor wait_for_ready (it
            # would wait forever for a server that is down): ``timeout`` bounds reaching it
            b = self._backend
            b.wait_until_reachable("transaction")
            self._responses = b._transact(iter(self._requests.get, None), metadata=b._metadata)
        batch, self._held = [*self._held, request], []
        try:
            for item in batch:
                self._requests.put(item)
            for _ in batch:
                response = next(self._responses)
        except grpc.RpcError as err:
            self._failed = True
            self._requests.put(None)
            error = self._backend.error(err, "transaction")
            if request.WhichOneof("op") == "commit" and type(error) is StoreError:
                raise WriteOutcomeUnknown(f"the connection broke while committing: {error}; "
                                          "the transaction may or may not be stored") from None
            raise error from None
        return response

    def append(self, batch: Sequence[StreamAppend]) -> list[AppendResult]:
        request = codec.batch_to_pb(batch)
        self._backend._check_size(request)
        response = self._send(pb.TransactRequest(append=request))
        return [codec.result_from_pb(r) for r in response.append.results]

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        request = pb.ExecuteRequest(sql=sql, params=codec.dumps(list(params)) if params else "")
        rows = codec.json_value(self._send(pb.TransactRequest(execute=request)).execute.rows,
                                "rows")
        return [tuple(row) for row in rows]

    def load_checkpoint(self, name: str) -> int:
        request = pb.TransactRequest(load_checkpoint=pb.LoadCheckpointRequest(name=name))
        return int(self._send(request).load_checkpoint.position)

    def save_checkpoint(self, name: str, position: int) -> None:
        save = pb.SaveCheckpointRequest(name=name, position=position)
        self._held.append(pb.TransactRequest(save_checkpoint=save))

    def finish(self, commit: bool) -> None:
        """Commit (or roll back) and end the call."""
        if self._failed or (self._responses is None and (not commit or not self._held)):
            return  # nothing reached the server, or it already rolled back
        if not commit:
            self._held = []
        try:
            self._send(pb.TransactRequest(commit=True) if commit
                       else pb.TransactRequest(rollback=True))
        except EslibError:
            if commit:
                raise
        finally:
            self._requests.put(None)
            if self._responses is not None:
                self._responses.cancel()
