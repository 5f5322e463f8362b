import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExpectedState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPECTED_STATE_UNSPECIFIED: _ClassVar[ExpectedState]
    EXPECTED_STATE_ANY: _ClassVar[ExpectedState]
    EXPECTED_STATE_NO_STREAM: _ClassVar[ExpectedState]
    EXPECTED_STATE_STREAM_EXISTS: _ClassVar[ExpectedState]
EXPECTED_STATE_UNSPECIFIED: ExpectedState
EXPECTED_STATE_ANY: ExpectedState
EXPECTED_STATE_NO_STREAM: ExpectedState
EXPECTED_STATE_STREAM_EXISTS: ExpectedState

class NewEvent(_message.Message):
    __slots__ = ("id", "type", "data", "metadata", "recorded_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    data: str
    metadata: str
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., data: _Optional[str] = ..., metadata: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("stream_id", "version", "position", "id", "type", "data", "metadata", "recorded_at")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    version: int
    position: int
    id: str
    type: str
    data: str
    metadata: str
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, stream_id: _Optional[str] = ..., version: _Optional[int] = ..., position: _Optional[int] = ..., id: _Optional[str] = ..., type: _Optional[str] = ..., data: _Optional[str] = ..., metadata: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExpectedVersion(_message.Message):
    __slots__ = ("exact", "state")
    EXACT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    exact: int
    state: ExpectedState
    def __init__(self, exact: _Optional[int] = ..., state: _Optional[_Union[ExpectedState, str]] = ...) -> None: ...

class AppendRequest(_message.Message):
    __slots__ = ("stream_id", "expected", "events")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    expected: ExpectedVersion
    events: _containers.RepeatedCompositeFieldContainer[NewEvent]
    def __init__(self, stream_id: _Optional[str] = ..., expected: _Optional[_Union[ExpectedVersion, _Mapping]] = ..., events: _Optional[_Iterable[_Union[NewEvent, _Mapping]]] = ...) -> None: ...

class AppendResponse(_message.Message):
    __slots__ = ("stream_id", "version", "positions")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    version: int
    positions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, stream_id: _Optional[str] = ..., version: _Optional[int] = ..., positions: _Optional[_Iterable[int]] = ...) -> None: ...

class AppendManyRequest(_message.Message):
    __slots__ = ("appends",)
    APPENDS_FIELD_NUMBER: _ClassVar[int]
    appends: _containers.RepeatedCompositeFieldContainer[AppendRequest]
    def __init__(self, appends: _Optional[_Iterable[_Union[AppendRequest, _Mapping]]] = ...) -> None: ...

class AppendManyResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AppendResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[AppendResponse, _Mapping]]] = ...) -> None: ...

class BulkEvent(_message.Message):
    __slots__ = ("stream_id", "event")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    event: NewEvent
    def __init__(self, stream_id: _Optional[str] = ..., event: _Optional[_Union[NewEvent, _Mapping]] = ...) -> None: ...

class BulkAppendRequest(_message.Message):
    __slots__ = ("events", "skip_existing", "complete")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SKIP_EXISTING_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[BulkEvent]
    skip_existing: bool
    complete: bool
    def __init__(self, events: _Optional[_Iterable[_Union[BulkEvent, _Mapping]]] = ..., skip_existing: _Optional[bool] = ..., complete: _Optional[bool] = ...) -> None: ...

class BulkAppendResponse(_message.Message):
    __slots__ = ("written",)
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    written: int
    def __init__(self, written: _Optional[int] = ...) -> None: ...

class ReadStreamRequest(_message.Message):
    __slots__ = ("stream_id", "from_version", "to_version", "backwards", "limit")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    BACKWARDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    from_version: int
    to_version: int
    backwards: bool
    limit: int
    def __init__(self, stream_id: _Optional[str] = ..., from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., backwards: _Optional[bool] = ..., limit: _Optional[int] = ...) -> None: ...

class TypeFilter(_message.Message):
    __slots__ = ("types",)
    TYPES_FIELD_NUMBER: _ClassVar[int]
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, types: _Optional[_Iterable[str]] = ...) -> None: ...

class ReadAllRequest(_message.Message):
    __slots__ = ("from_position", "to_position", "types", "category", "stream_id", "limit")
    FROM_POSITION_FIELD_NUMBER: _ClassVar[int]
    TO_POSITION_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    from_position: int
    to_position: int
    types: TypeFilter
    category: str
    stream_id: str
    limit: int
    def __init__(self, from_position: _Optional[int] = ..., to_position: _Optional[int] = ..., types: _Optional[_Union[TypeFilter, _Mapping]] = ..., category: _Optional[str] = ..., stream_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ("events", "more")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    more: bool
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., more: _Optional[bool] = ...) -> None: ...

class StreamVersionRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class StreamVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class ListStreamsRequest(_message.Message):
    __slots__ = ("after", "limit")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListStreamsResponse(_message.Message):
    __slots__ = ("stream_ids", "more")
    STREAM_IDS_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    stream_ids: _containers.RepeatedScalarFieldContainer[str]
    more: bool
    def __init__(self, stream_ids: _Optional[_Iterable[str]] = ..., more: _Optional[bool] = ...) -> None: ...

class HeadPositionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HeadPositionResponse(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("from_position", "types", "category", "notify_only")
    FROM_POSITION_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_ONLY_FIELD_NUMBER: _ClassVar[int]
    from_position: int
    types: TypeFilter
    category: str
    notify_only: bool
    def __init__(self, from_position: _Optional[int] = ..., types: _Optional[_Union[TypeFilter, _Mapping]] = ..., category: _Optional[str] = ..., notify_only: _Optional[bool] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("events", "last_position", "caught_up")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_POSITION_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    last_position: int
    caught_up: bool
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., last_position: _Optional[int] = ..., caught_up: _Optional[bool] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("stream_id", "version", "schema", "state")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    version: int
    schema: str
    state: str
    def __init__(self, stream_id: _Optional[str] = ..., version: _Optional[int] = ..., schema: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class SaveSnapshotRequest(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ...) -> None: ...

class SaveSnapshotResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LoadSnapshotRequest(_message.Message):
    __slots__ = ("stream_id",)
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    def __init__(self, stream_id: _Optional[str] = ...) -> None: ...

class LoadSnapshotResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ...) -> None: ...

class LoadCheckpointRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class LoadCheckpointResponse(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class SaveCheckpointRequest(_message.Message):
    __slots__ = ("name", "position")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    name: str
    position: int
    def __init__(self, name: _Optional[str] = ..., position: _Optional[int] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("sql", "params")
    SQL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    sql: str
    params: str
    def __init__(self, sql: _Optional[str] = ..., params: _Optional[str] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: str
    def __init__(self, rows: _Optional[str] = ...) -> None: ...

class TransactRequest(_message.Message):
    __slots__ = ("append", "execute", "load_checkpoint", "save_checkpoint", "commit", "rollback")
    APPEND_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_FIELD_NUMBER: _ClassVar[int]
    LOAD_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SAVE_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    append: AppendManyRequest
    execute: ExecuteRequest
    load_checkpoint: LoadCheckpointRequest
    save_checkpoint: SaveCheckpointRequest
    commit: bool
    rollback: bool
    def __init__(self, append: _Optional[_Union[AppendManyRequest, _Mapping]] = ..., execute: _Optional[_Union[ExecuteRequest, _Mapping]] = ..., load_checkpoint: _Optional[_Union[LoadCheckpointRequest, _Mapping]] = ..., save_checkpoint: _Optional[_Union[SaveCheckpointRequest, _Mapping]] = ..., commit: _Optional[bool] = ..., rollback: _Optional[bool] = ...) -> None: ...

class TransactResponse(_message.Message):
    __slots__ = ("append", "execute", "load_checkpoint", "done")
    APPEND_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_FIELD_NUMBER: _ClassVar[int]
    LOAD_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    append: AppendManyResponse
    execute: ExecuteResponse
    load_checkpoint: LoadCheckpointResponse
    done: bool
    def __init__(self, append: _Optional[_Union[AppendManyResponse, _Mapping]] = ..., execute: _Optional[_Union[ExecuteResponse, _Mapping]] = ..., load_checkpoint: _Optional[_Union[LoadCheckpointResponse, _Mapping]] = ..., done: _Optional[bool] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("protocol_version", "server_version", "backend", "capabilities", "max_page_size", "max_message_bytes")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MAX_PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    server_version: str
    backend: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    max_page_size: int
    max_message_bytes: int
    def __init__(self, protocol_version: _Optional[int] = ..., server_version: _Optional[str] = ..., backend: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., max_page_size: _Optional[int] = ..., max_message_bytes: _Optional[int] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("error", "wrong_expected_version", "duplicate_event_id")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WRONG_EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    error: str
    wrong_expected_version: WrongExpectedVersionDetail
    duplicate_event_id: DuplicateEventIdDetail
    def __init__(self, error: _Optional[str] = ..., wrong_expected_version: _Optional[_Union[WrongExpectedVersionDetail, _Mapping]] = ..., duplicate_event_id: _Optional[_Union[DuplicateEventIdDetail, _Mapping]] = ...) -> None: ...

class WrongExpectedVersionDetail(_message.Message):
    __slots__ = ("stream_id", "expected", "actual")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    stream_id: str
    expected: ExpectedVersion
    actual: int
    def __init__(self, stream_id: _Optional[str] = ..., expected: _Optional[_Union[ExpectedVersion, _Mapping]] = ..., actual: _Optional[int] = ...) -> None: ...

class DuplicateEventIdDetail(_message.Message):
    __slots__ = ("event_ids",)
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_ids: _Optional[_Iterable[str]] = ...) -> None: ...
