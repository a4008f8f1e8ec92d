"""Binary FBX: the record layout (our own walk of the bytes) and what ufbx reads from it."""
import struct
import zlib

import numpy as np
import pytest

from faceforge.core.export import ExportOptions, export
from faceforge.core.export.fbx import KTIME_PER_SECOND
from faceforge.core.export.fbxbin import FILE_ID, FOOT_ID, FOOT_MAGIC, Node, encode
from faceforge.core.mesh.geometry import vertex_normals

ARRAY_DTYPES = {"f": "<f4", "d": "<f8", "l": "<i8", "i": "<i4", "b": "?"}


def walk(data: bytes, version: int) -> list[tuple]:
    """Top-level (name, props, children) records; checks every EndOffset and null record."""
    wide = version >= 7500
    head, null = ("<QQQ", 25) if wide else ("<III", 13)
    size = struct.calcsize(head)

    def record(pos: int) -> tuple[tuple | None, int]:
        end, count, props_len = struct.unpack_from(head, data, pos)
        if end == 0:
            assert data[pos:pos + null] == b"\x00" * null
            return None, pos + null
        name_len = data[pos + size]
        name = data[pos + size + 1:pos + size + 1 + name_len].decode()
        p = pos + size + 1 + name_len
        props, start = [], p
        for _ in range(count):
            code = chr(data[p])
            p += 1
            if code in "YCIFDL":
                fmt = {"Y": "<h", "C": "<?", "I": "<i", "F": "<f", "D": "<d", "L": "<q"}[code]
                props.append(struct.unpack_from(fmt, data, p)[0])
                p += struct.calcsize(fmt)
            elif code in "SR":
                n = struct.unpack_from("<I", data, p)[0]
                props.append(data[p + 4:p + 4 + n])
                p += 4 + n
            else:
                n, encoding, length = struct.unpack_from("<III", data, p)
                raw = data[p + 12:p + 12 + length]
                props.append(np.frombuffer(zlib.decompress(raw) if encoding else raw, ARRAY_DTYPES[code]))
                assert len(props[-1]) == n
                p += 12 + length
        assert p - start == props_len
        children = []
        while p < end:
            child, p = record(p)
            if child is not None:
                children.append(child)
        assert p == end, f"{name}: EndOffset {end} but the record ends at {p}"
        return (name, props, children), p

    assert data[:23] == b"Kaydara FBX Binary  \x00\x1a\x00"
    assert struct.unpack_from("<I", data, 23)[0] == version
    pos, nodes = 27, []
    while True:
        node, pos = record(pos)
        if node is None:
            break
        nodes.append(node)
    assert data[pos:pos + 16] == FOOT_ID
    assert data.endswith(struct.pack("<I", version) + b"\x00" * 120 + FOOT_MAGIC)
    assert (len(data) - 140) % 16 == 0  # the padding aligns the footer version to 16 bytes
    return nodes


def find(nodes, name):
    return [n for n in nodes if n[0] == name]


@pytest.mark.parametrize("key", ["fbx", "fbx75"])
def test_records_offsets_and_footer(exports, rig, key):
    path, options = exports[key]
    nodes = walk(path.read_bytes(), options.fbx_version)
    assert [n[0] for n in nodes] == ["FBXHeaderExtension", "FileId", "CreationTime", "Creator", "GlobalSettings",
                                     "Documents", "References", "Definitions", "Objects", "Connections", "Takes"]
    assert find(nodes, "FileId")[0][1] == [FILE_ID]
    assert find(nodes, "CreationTime")[0][1] == [b"1970-01-01 10:00:00:000"]
    objects = find(nodes, "Objects")[0][2]
    curves = find(objects, "AnimationCurve")
    assert len(curves) == 53 and len(find(objects, "AnimationCurveNode")) == 53
    key_time = find(curves[0][2], "KeyTime")[0][1][0]
    np.testing.assert_array_equal(key_time, np.round(rig.animation.times * KTIME_PER_SECOND).astype(np.int64))
    assert key_time[1] == KTIME_PER_SECOND // 30  # 1539538600 ticks per frame at 30 fps
    mesh = [g for g in find(objects, "Geometry") if g[1][2] == b"Mesh"][0]
    pvi = find(mesh[2], "PolygonVertexIndex")[0][1][0]
    assert len(pvi) == 4 * 3194 and (pvi < 0).sum() == 3194  # quads kept
    channels = [d for d in find(objects, "Deformer") if d[1][2] == b"BlendShapeChannel"]
    assert all(find(c[2], "DeformPercent")[0][1] == [0.0] for c in channels)


def test_null_records_follow_the_sdk_layout():
    """Children end with a null record; so does a node without properties unless it is last."""
    root = Node("A")
    root.add("Empty")
    root.add("Last")
    plain = encode([Node("P", (1,)), root], 7400)
    body = plain[27:]
    # P: 13-byte header + name + one int property, no null record
    assert struct.unpack_from("<I", body, 0)[0] == 27 + 13 + 1 + 1 + 4
    # A's children: Empty (13 + 5) + null record, Last (13 + 4) without, then A's own null record
    a_start = 13 + 1 + 1 + 4
    a_end = struct.unpack_from("<I", body, a_start)[0]
    assert a_end - 27 == a_start + 13 + 1 + (13 + 5 + 13) + (13 + 4) + 13


def ufbx_read(tools, path, times=()):
    return tools.python("ufbx_read.py", str(path), *map(str, times), what="ufbx (PyPI ufbx)", package="ufbx==0.0.5")


@pytest.mark.parametrize("key", ["fbx", "fbx75"])
def test_ufbx_reads_mesh_shapes_and_weights(exports, rig, tools, key):
    path, options = exports[key]
    out = ufbx_read(tools, path, tools.sample_times)
    scale = {"mm": 1.0, "cm": 0.1}[options.units]
    assert out["warnings"] == [] and out["version"] == options.fbx_version
    assert out["unit_meters"] == pytest.approx(0.001 / scale)  # metres per file unit
    assert out["axes"] == ["POSITIVE_X", "POSITIVE_Y", "POSITIVE_Z"] and out["fps"] == 30
    assert out["stacks"] == ["FaceForge"]
    assert out["time_end"] == pytest.approx(299 / 30)
    t = rig.template
    mesh = out["mesh"]
    assert mesh["name"] == "face" and mesh["materials"] == ["face"]
    np.testing.assert_allclose(np.array(mesh["vertices"]) / scale, rig.neutral, atol=1e-4)
    assert mesh["face_sizes"] == [4] * len(t.faces)
    corners = t.faces >= 0
    np.testing.assert_array_equal(mesh["corner_vertices"], t.faces[corners])
    np.testing.assert_allclose(np.array(mesh["uv_values"])[mesh["uv_indices"]], t.uvs[t.face_uvs[corners]], atol=1e-7)
    normals = np.array(mesh["normal_values"])[mesh["normal_indices"]]
    np.testing.assert_allclose(normals, vertex_normals(rig.neutral, t.triangles())[t.faces[corners]], atol=1e-6)

    names, offsets = tools.offsets(rig)
    from faceforge.core.export import rename
    assert [c["name"] for c in out["channels"]] == [rename(k, options.naming) for k in names]
    worst = 0.0
    for channel, expected in zip(out["channels"], offsets):
        assert channel["weight"] == 0 and channel["shape"] == channel["name"]
        got = np.zeros_like(expected)
        got[channel["indexes"]] = np.array(channel["offsets"]) / scale
        worst = max(worst, np.abs(got - expected).max())
        assert len(channel["normal_offsets"]) == len(channel["indexes"])
    assert worst < 1e-4, f"shape offsets differ by up to {worst} mm"
    evaluated = np.array([c["evaluated"] for c in out["channels"]]).T  # (times, channels)
    for t_s, row in zip(tools.sample_times, evaluated):
        np.testing.assert_allclose(row, tools.weights(rig, t_s), atol=1e-5, err_msg=f"weights at {t_s} s")


def test_ufbx_reads_a_rig_without_animation(rig, tools, tmp_path):
    from faceforge.core.export import Rig

    still = Rig(rig.template, rig.neutral, {"jawOpen": rig.shapes["jawOpen"]})
    export(still, tmp_path / "still.fbx", ExportOptions(units="m"))
    out = ufbx_read(tools, tmp_path / "still.fbx")
    assert out["warnings"] == [] and out["unit_meters"] == 1.0 and out["stacks"] == []
    assert [c["name"] for c in out["channels"]] == ["jawOpen"]


def test_ufbx_reads_a_mesh_without_shapes(rig, tools, tmp_path):
    from faceforge.core.export import Rig

    export(Rig(rig.template, rig.neutral, {}), tmp_path / "plain.fbx")
    out = ufbx_read(tools, tmp_path / "plain.fbx")
    assert out["warnings"] == [] and out["channels"] == [] and len(out["mesh"]["vertices"]) == 3260


def test_fbx_bytes_are_deterministic(rig, tmp_path):
    export(rig, tmp_path / "a.fbx")
    export(rig, tmp_path / "b.fbx")
    assert (tmp_path / "a.fbx").read_bytes() == (tmp_path / "b.fbx").read_bytes()
