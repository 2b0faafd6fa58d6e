"""A model's metadata and input shape, read straight from the ONNX file's protobuf bytes.

``vocalex info`` (and ``live --lookahead 20ms``) need the ``vocalex.*``
metadata and the input's channel dimension, not a session: importing the
``onnx`` package costs about a second (its ml_dtypes extension) and an ONNX
Runtime session loads and optimises the whole graph. An ONNX file is one
``ModelProto`` message in protobuf's wire format, so the two facts are found
by walking the top-level fields and skipping the rest by length (weights
included) without decoding them. Field numbers from onnx/onnx.proto:
ModelProto.graph = 7, ModelProto.metadata_props = 14 (StringStringEntryProto:
key = 1, value = 2); GraphProto.input = 11 (ValueInfoProto: type = 2;
TypeProto.tensor_type = 1; Tensor.shape = 2; TensorShapeProto.dim = 1;
Dimension: dim_value = 1, dim_param = 2).
"""

from __future__ import annotations

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(buf, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtoError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint too long")


def fields(buf):
    """Yield (field number, wire type, value) of one message: value is an int or a memoryview of the bytes."""
    for number, wire, value, _, _ in records(buf):
        yield number, wire, value


def records(buf):
    """Yield (field number, wire type, value, start, end) of one message; buf[start:end] is the whole record."""
    buf = memoryview(buf)
    pos, end = 0, len(buf)
    while pos < end:
        start = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError("field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire == _BYTES:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise ProtoError("length runs past the end")
            value, pos = buf[pos:pos + size], pos + size
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if pos + size > end:
                raise ProtoError("truncated fixed-size field")
            value, pos = int.from_bytes(buf[pos:pos + size], "little"), pos + size
        else:  # 3/4 (groups) are not used by ONNX; 6/7 do not exist
            raise ProtoError(f"wire type {wire}")
        yield number, wire, value, start, pos


def _first(buf, number: int, wire: int = _BYTES):
    for n, w, value in fields(buf):
        if n == number and w == wire:
            return value
    return None


def read_header(data: bytes) -> tuple[dict[str, str], list[int | str | None] | None]:
    """ONNX file bytes -> (metadata_props as a dict, the first graph input's dims or None).

    Each dim is an int (dim_value), a str (dim_param, a named dynamic size) or
    None (neither). Raises ProtoError when the bytes are not a model with a graph.
    """
    meta: dict[str, str] = {}
    graph = None
    for number, wire, value in fields(data):
        if number == 7 and wire == _BYTES:
            graph = value
        elif number == 14 and wire == _BYTES:
            key = _first(value, 1)
            val = _first(value, 2)
            meta[bytes(key or b"").decode("utf-8", "replace")] = bytes(val or b"").decode("utf-8", "replace")
    if graph is None:
        raise ProtoError("no graph")
    dims = None
    first_input = _first(graph, 11)
    if first_input is not None:
        tensor = _first(_first(first_input, 2) or b"", 1)
        shape = _first(tensor, 2) if tensor is not None else None
        if shape is not None:
            dims = []
            for n, w, dim in fields(shape):
                if n != 1 or w != _BYTES:
                    continue
                size = None
                for dn, dw, v in fields(dim):
                    if dn == 1 and dw == _VARINT:
                        size = v - (1 << 64) if v >= 1 << 63 else v  # int64 two's complement
                    elif dn == 2 and dw == _BYTES:
                        size = bytes(v).decode("utf-8", "replace")
                dims.append(size)
    return meta, dims


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint_bytes(number << 3 | _BYTES) + _varint_bytes(len(payload)) + payload


def graph_bytes(data) -> memoryview:
    """The serialised GraphProto (nodes and weights) inside ONNX file bytes; ProtoError when there is none."""
    graph = _first(data, 7)
    if graph is None:
        raise ProtoError("no graph")
    return graph


def with_metadata(data, key: str, value: str) -> bytes:
    """ONNX file bytes with metadata_props[key] = value (an entry of that key replaced), nothing re-serialised.

    Every other top-level record is copied byte for byte; the entry is appended as a field-14 record, which
    protobuf parsers (onnx, ONNX Runtime) merge into the repeated metadata_props.
    """
    kept = bytearray()
    for number, wire, value_, start, end in records(data):
        if number == 14 and wire == _BYTES and bytes(_first(value_, 1) or b"").decode("utf-8", "replace") == key:
            continue
        kept += memoryview(data)[start:end]
    entry = _bytes_field(1, key.encode()) + _bytes_field(2, value.encode())
    return bytes(kept) + _bytes_field(14, entry)
