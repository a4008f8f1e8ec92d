"""Binary FBX encoding: a tree of nodes to bytes (header, node records, arrays, footer).

Written from the public notes "FBX binary file format specification" (Blender Foundation, 2013):

- header: "Kaydara FBX Binary  \\0", 0x1A 0x00, uint32 version;
- a node record: EndOffset, NumProperties, PropertyListLen (uint32 below 7500, uint64 from 7500),
  uint8 name length, name, properties, child records, then a null record (13 or 25 zero bytes)
  when it has children; EndOffset is the absolute file offset just past the record;
- a property: one type byte, then Y int16, C bool, I int32, F float32, D float64, L int64;
  S string / R raw as uint32 length + bytes; f d l i b arrays as uint32 count, uint32 encoding
  (1 = zlib), uint32 byte length, data;
- after the top-level records and their null record, the footer.

Readers built on Autodesk's SDK check the file id, the creation time and the footer id against
each other. Like Blender's exporter we write one fixed, known-good triple (the 1970 epoch time).
A node with no properties and no children is followed by a null record unless it is the last
of its siblings, and so are AnimationStack/AnimationLayer: the SDK writes files that way.

Python types map to FBX ones: int -> I, float -> D, bool -> C, str -> S, bytes -> R, and numpy
scalars or 1-D arrays by dtype (int16 Y, int32 I/i, int64 L/l, float32 F/f, float64 D/d, bool b).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

HEAD_MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
FILE_ID = bytes.fromhex("28b32aebb624ccc2bfc8b02aa92bfcf1")
CREATION_TIME = "1970-01-01 10:00:00:000"
FOOT_ID = bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e")
FOOT_MAGIC = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")
ALWAYS_NULL_RECORD = frozenset({"AnimationStack", "AnimationLayer"})
COMPRESS_ABOVE = 128  # bytes: smaller arrays are stored raw (zlib would only add overhead)

_SCALAR = {np.dtype(np.int16): "Y", np.dtype(np.int32): "I", np.dtype(np.int64): "L",
           np.dtype(np.float32): "F", np.dtype(np.float64): "D", np.dtype(np.bool_): "C"}
_ARRAY = {np.dtype(np.int32): "i", np.dtype(np.int64): "l", np.dtype(np.float32): "f",
          np.dtype(np.float64): "d", np.dtype(np.bool_): "b"}
_PACK = {"Y": "<h", "C": "<?", "I": "<i", "F": "<f", "D": "<d", "L": "<q"}


@dataclass
class Node:
    """An FBX node: a name, typed properties and child nodes."""

    name: str
    props: tuple = ()
    children: list["Node"] = field(default_factory=list)

    def add(self, name: str, *props) -> "Node":
        """Append a child node and return it."""
        child = Node(name, props)
        self.children.append(child)
        return child


def encode(nodes: list[Node], version: int) -> bytes:
    """The whole file: header, top-level `nodes`, their null record and the footer."""
    wide = version >= 7500
    out = bytearray(HEAD_MAGIC + struct.pack("<I", version))
    for k, node in enumerate(nodes):
        _write_node(out, node, wide, k == len(nodes) - 1)
    out += _null_record(wide)
    out += FOOT_ID + b"\x00" * 4
    out += b"\x00" * (16 - len(out) % 16)  # align to 16, a full 16 when already aligned
    out += struct.pack("<I", version) + b"\x00" * 120 + FOOT_MAGIC
    return bytes(out)


def _null_record(wide: bool) -> bytes:
    return b"\x00" * (25 if wide else 13)


def _write_node(out: bytearray, node: Node, wide: bool, last: bool) -> None:
    start = len(out)
    head = "<QQQ" if wide else "<III"
    out += struct.pack(head, 0, 0, 0)
    name = node.name.encode()
    out += bytes((len(name),)) + name
    props_start = len(out)
    for p in node.props:
        _write_prop(out, p)
    props_len = len(out) - props_start
    if node.children:
        for k, child in enumerate(node.children):
            _write_node(out, child, wide, k == len(node.children) - 1)
        out += _null_record(wide)
    elif (not node.props or node.name in ALWAYS_NULL_RECORD) and not last:
        out += _null_record(wide)
    struct.pack_into(head, out, start, len(out), len(node.props), props_len)


def _write_prop(out: bytearray, value) -> None:
    if isinstance(value, str):
        data = value.encode()
        out += b"S" + struct.pack("<I", len(data)) + data
    elif isinstance(value, (bytes, bytearray)):
        out += b"R" + struct.pack("<I", len(value)) + value
    elif isinstance(value, np.ndarray):
        _write_array(out, value)
    else:
        code = _scalar_code(value)
        out += code.encode() + struct.pack(_PACK[code], value.item() if isinstance(value, np.generic) else value)


def _scalar_code(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "C"
    if isinstance(value, np.generic):
        if value.dtype not in _SCALAR:
            raise TypeError(f"no FBX scalar type for numpy {value.dtype}")
        return _SCALAR[value.dtype]
    if isinstance(value, int):
        if not -2**31 <= value < 2**31:
            raise OverflowError(f"{value} does not fit an FBX int32 ('I'); pass np.int64 for 'L'")
        return "I"
    if isinstance(value, float):
        return "D"
    raise TypeError(f"no FBX property type for {type(value).__name__}")


def _write_array(out: bytearray, array: np.ndarray) -> None:
    if array.ndim != 1 or array.dtype not in _ARRAY:
        raise TypeError(f"FBX arrays are 1-D int32/int64/float32/float64/bool, got {array.dtype} {array.shape}")
    raw = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
    encoding = 0
    if len(raw) > COMPRESS_ABOVE:
        raw, encoding = zlib.compress(raw, 6), 1
    out += _ARRAY[array.dtype].encode() + struct.pack("<III", len(array), encoding, len(raw)) + raw
