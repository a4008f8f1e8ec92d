"""Binary FBX export of a blendshape rig with its animation (FBX 7.4 by default, 7.5 on request).

The scene: one Model with its Mesh Geometry (the template's quads kept; normals by vertex, UVs
by polygon corner, one material) and a BlendShape deformer holding one BlendShapeChannel per
shape (DeformPercent 0, FullWeights 100). Each channel owns one Shape geometry that stores only
the vertices the shape moves: Indexes, Vertices (position offsets) and Normals (normal offsets).
The animation is one AnimationStack with one AnimationLayer and, per channel, an
AnimationCurveNode "DeformPercent" driving an AnimationCurve in percent with linear keys.

CONVENTIONS: Y up, +Z front, right-handed (GlobalSettings say so); coordinates in
`ExportOptions.units`, recorded as UnitScaleFactor (centimetres per unit); time in KTime,
46186158000 ticks per second. Encoding is in `fbxbin`.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..mesh.geometry import vertex_normals
from .fbxbin import CREATION_TIME, FILE_ID, Node, encode
from .rig import ExportOptions, Prepared, Rig, prepare, write_file

KTIME_PER_SECOND = 46186158000
CM_PER_UNIT = {"mm": 0.1, "cm": 1.0, "m": 100.0}
# FBX time modes of the common frame rates; any other rate is "custom" (14) with CustomFrameRate.
TIME_MODES = {120.0: 1, 100.0: 2, 60.0: 3, 50.0: 4, 48.0: 5, 30.0: 6, 25.0: 10, 24.0: 11, 1000.0: 12,
              96.0: 15, 72.0: 16}
# Key flags: linear interpolation (0x4). The 4 key floats are right slope, next left slope,
# both tangent weights packed as two int16 of 1/10000 (0.3333 each = 0x0D05), and velocity.
KEY_LINEAR = 0x00000004
KEY_DATA = np.array([0.0, 0.0, struct.unpack("<f", struct.pack("<I", 0x0D050D05))[0], 0.0], np.float32)
STACK = "FaceForge"
NORMAL_EPS = 1e-6  # a normal offset below this is no change (normals are float32, unit length)


def export_fbx(rig: Rig, path: str | Path, options: ExportOptions = ExportOptions()) -> list[Path]:
    """Write `rig` as a binary FBX file at `path`; returns [path]."""
    path = Path(path)
    data = prepare(rig, options)
    write_file(path, encode(document(data, options), options.fbx_version))
    return [path]


def document(data: Prepared, options: ExportOptions) -> list[Node]:
    """The top-level FBX nodes of a prepared rig."""
    ids = iter(range(1_000_000, 2**62))
    scene = _Scene()
    ktimes = None if data.times is None else np.round(data.times * KTIME_PER_SECOND).astype(np.int64)
    span = (np.int64(0), np.int64(KTIME_PER_SECOND)) if ktimes is None else (ktimes[0], ktimes[-1])
    model, geom, mat, blend = (np.int64(next(ids)) for _ in range(4))
    objects = Node("Objects")
    _mesh(objects, geom, data, options.normals)
    _model(objects, model, data.name)
    _material(objects, mat, data.name)
    scene.connect(model, np.int64(0))
    scene.connect(geom, model)
    scene.connect(mat, model)
    counts = {"Model": 1, "Geometry": 1, "Material": 1}
    if data.names:
        objects.add("Deformer", blend, f"{data.name}\x00\x01Deformer", "BlendShape").add("Version", 100)
        scene.connect(blend, geom)
        channels = _shapes(objects, scene, ids, blend, data, options.normals)
        counts["Geometry"] += len(channels)
        counts["Deformer"] = 1 + len(channels)
        if ktimes is not None:
            curves = _animation(objects, scene, ids, channels, data, ktimes)
            counts.update(AnimationStack=1, AnimationLayer=1, AnimationCurveNode=curves, AnimationCurve=curves)
    return [_header(options.fbx_version), Node("FileId", (FILE_ID,)), Node("CreationTime", (CREATION_TIME,)),
            Node("Creator", (_creator(),)), _settings(options.units, data.fps, span), _documents(ktimes is not None),
            Node("References"), _definitions(counts), objects, scene.node,
            _takes(span if ktimes is not None else None)]


class _Scene:
    """The Connections node, filled as objects are linked (child first, then parent)."""

    def __init__(self) -> None:
        self.node = Node("Connections")

    def connect(self, child: np.int64, parent: np.int64, prop: str | None = None) -> None:
        if prop is None:
            self.node.add("C", "OO", child, parent)
        else:
            self.node.add("C", "OP", child, parent, prop)


def _mesh(objects: Node, uid: np.int64, data: Prepared, normals: bool) -> None:
    t = data.template
    g = objects.add("Geometry", uid, f"{data.name}\x00\x01Geometry", "Mesh")
    g.add("Properties70")
    g.add("GeometryVersion", 124)
    g.add("Vertices", data.neutral.astype(np.float64).ravel())
    g.add("PolygonVertexIndex", _polygon_vertex_index(t.faces))
    corners = t.faces >= 0
    layer = [("LayerElementUV", 0), ("LayerElementMaterial", 0)]
    if normals:
        n = g.add("LayerElementNormal", 0)
        n.add("Version", 101)
        n.add("Name", "")
        n.add("MappingInformationType", "ByVertice")
        n.add("ReferenceInformationType", "Direct")
        n.add("Normals", vertex_normals(data.neutral, t.triangles()).astype(np.float64).ravel())
        layer.insert(0, ("LayerElementNormal", 0))
    uv = g.add("LayerElementUV", 0)
    uv.add("Version", 101)
    uv.add("Name", "UVMap")
    uv.add("MappingInformationType", "ByPolygonVertex")
    uv.add("ReferenceInformationType", "IndexToDirect")
    uv.add("UV", t.uvs.astype(np.float64).ravel())
    uv.add("UVIndex", t.face_uvs[corners].astype(np.int32))
    m = g.add("LayerElementMaterial", 0)
    m.add("Version", 101)
    m.add("Name", "")
    m.add("MappingInformationType", "AllSame")
    m.add("ReferenceInformationType", "IndexToDirect")
    m.add("Materials", np.zeros(1, np.int32))
    lay = g.add("Layer", 0)
    lay.add("Version", 100)
    for kind, index in layer:
        e = lay.add("LayerElement")
        e.add("Type", kind)
        e.add("TypedIndex", index)


def _polygon_vertex_index(faces: np.ndarray) -> np.ndarray:
    """Corner vertex ids, polygon by polygon, the last corner of each stored as -(id + 1)."""
    corners = faces >= 0
    last = corners.sum(axis=1) - 1
    marked = faces.astype(np.int32).copy()
    rows = np.arange(len(faces))
    marked[rows, last] = -marked[rows, last] - 1
    return marked[corners]


def _shapes(objects: Node, scene: _Scene, ids, blend: np.int64, data: Prepared, normals: bool) -> list[np.int64]:
    """One BlendShapeChannel and one Shape geometry per shape; returns the channel ids."""
    t = data.template
    tris = t.triangles()
    if normals:  # one batch, so the neutral's normals come out of the same arithmetic as the shapes'
        batch = vertex_normals(np.concatenate([data.neutral[None], data.neutral + data.offsets]), tris)
        base_normals, shape_normals = batch[0], batch[1:]
    channels = []
    for k, (name, offset) in enumerate(zip(data.names, data.offsets)):
        changed = offset != 0
        if normals:  # normals also change one ring beyond the moved vertices
            changed = changed | (np.abs(shape_normals[k] - base_normals) > NORMAL_EPS)
        moved = np.flatnonzero(np.any(changed, axis=1))
        if len(moved) == 0:
            moved = np.zeros(1, np.int64)  # an empty shape: one zero offset keeps every reader happy
        channel, shape = np.int64(next(ids)), np.int64(next(ids))
        c = objects.add("Deformer", channel, f"{name}\x00\x01SubDeformer", "BlendShapeChannel")
        c.add("Version", 100)
        c.add("DeformPercent", 0.0)
        c.add("FullWeights", np.full(1, 100.0))
        g = objects.add("Geometry", shape, f"{name}\x00\x01Geometry", "Shape")
        g.add("Version", 100)
        g.add("Indexes", moved.astype(np.int32))
        g.add("Vertices", offset[moved].ravel())
        if normals:
            g.add("Normals", (shape_normals[k] - base_normals)[moved].astype(np.float64).ravel())
        scene.connect(channel, blend)
        scene.connect(shape, channel)
        channels.append(channel)
    return channels


def _animation(objects: Node, scene: _Scene, ids, channels: list[np.int64], data: Prepared,
               ktimes: np.ndarray) -> int:
    """The stack, its layer, and a DeformPercent curve node + curve per channel; returns the curve count."""
    stack, layer = np.int64(next(ids)), np.int64(next(ids))
    s = objects.add("AnimationStack", stack, f"{STACK}\x00\x01AnimStack", "")
    p = s.add("Properties70")
    for prop in ("LocalStart", "ReferenceStart"):
        p.add("P", prop, "KTime", "Time", "", ktimes[0])
    for prop in ("LocalStop", "ReferenceStop"):
        p.add("P", prop, "KTime", "Time", "", ktimes[-1])
    objects.add("AnimationLayer", layer, "BaseLayer\x00\x01AnimLayer", "")
    scene.connect(layer, stack)
    percent = data.weights.astype(np.float32) * np.float32(100.0)
    for channel, values in zip(channels, percent.T):
        node, curve = np.int64(next(ids)), np.int64(next(ids))
        n = objects.add("AnimationCurveNode", node, "DeformPercent\x00\x01AnimCurveNode", "")
        n.add("Properties70").add("P", "d|DeformPercent", "Number", "", "A", float(values[0]))
        c = objects.add("AnimationCurve", curve, "\x00\x01AnimCurve", "")
        c.add("Default", float(values[0]))
        c.add("KeyVer", 4008)
        c.add("KeyTime", ktimes)
        c.add("KeyValueFloat", np.ascontiguousarray(values))
        c.add("KeyAttrFlags", np.array([KEY_LINEAR], np.int32))
        c.add("KeyAttrDataFloat", KEY_DATA)
        c.add("KeyAttrRefCount", np.array([len(ktimes)], np.int32))
        scene.connect(node, layer)
        scene.connect(node, channel, "DeformPercent")
        scene.connect(curve, node, "d|DeformPercent")
    return len(channels)


def _model(objects: Node, uid: np.int64, name: str) -> None:
    m = objects.add("Model", uid, f"{name}\x00\x01Model", "Mesh")
    m.add("Version", 232)
    p = m.add("Properties70")
    p.add("P", "InheritType", "enum", "", "", 1)
    p.add("P", "DefaultAttributeIndex", "int", "Integer", "", 0)
    m.add("MultiLayer", 0)
    m.add("MultiTake", 0)
    m.add("Shading", True)
    m.add("Culling", "CullingOff")


def _material(objects: Node, uid: np.int64, name: str) -> None:
    m = objects.add("Material", uid, f"{name}\x00\x01Material", "")
    m.add("Version", 102)
    m.add("ShadingModel", "phong")
    m.add("MultiLayer", 0)
    p = m.add("Properties70")
    p.add("P", "DiffuseColor", "Color", "", "A", 0.8, 0.68, 0.62)
    p.add("P", "DiffuseFactor", "Number", "", "A", 1.0)
    p.add("P", "SpecularColor", "Color", "", "A", 0.1, 0.1, 0.1)
    p.add("P", "Shininess", "Number", "", "A", 20.0)


def _header(version: int) -> Node:
    h = Node("FBXHeaderExtension")
    h.add("FBXHeaderVersion", 1003)
    h.add("FBXVersion", version)
    h.add("EncryptionType", 0)
    stamp = h.add("CreationTimeStamp")
    for key, value in (("Version", 1000), ("Year", 1970), ("Month", 1), ("Day", 1), ("Hour", 10),
                       ("Minute", 0), ("Second", 0), ("Millisecond", 0)):
        stamp.add(key, value)
    h.add("Creator", _creator())
    info = h.add("SceneInfo", "GlobalInfo\x00\x01SceneInfo", "UserData")
    info.add("Type", "UserData")
    info.add("Version", 100)
    meta = info.add("MetaData")
    meta.add("Version", 100)
    for key in ("Title", "Subject", "Author", "Keywords", "Revision", "Comment"):
        meta.add(key, "")
    p = info.add("Properties70")
    for prefix in ("Original", "LastSaved"):
        p.add("P", prefix, "Compound", "", "")
        p.add("P", f"{prefix}|ApplicationVendor", "KString", "", "", "FaceForge")
        p.add("P", f"{prefix}|ApplicationName", "KString", "", "", "FaceForge")
        p.add("P", f"{prefix}|DateTime_GMT", "DateTime", "", "", "01/01/1970 10:00:00.000")
    return h


def _creator() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return f"FaceForge {version('faceforge')}"
    except PackageNotFoundError:
        return "FaceForge"


def _settings(units: str, fps: float | None, span: tuple) -> Node:
    g = Node("GlobalSettings")
    g.add("Version", 1000)
    p = g.add("Properties70")
    for key, value in (("UpAxis", 1), ("UpAxisSign", 1), ("FrontAxis", 2), ("FrontAxisSign", 1),
                       ("CoordAxis", 0), ("CoordAxisSign", 1), ("OriginalUpAxis", 1), ("OriginalUpAxisSign", 1)):
        p.add("P", key, "int", "Integer", "", value)
    p.add("P", "UnitScaleFactor", "double", "Number", "", CM_PER_UNIT[units])
    p.add("P", "OriginalUnitScaleFactor", "double", "Number", "", CM_PER_UNIT[units])
    p.add("P", "AmbientColor", "ColorRGB", "Color", "", 0.0, 0.0, 0.0)
    p.add("P", "DefaultCamera", "KString", "", "", "Producer Perspective")
    fps = 30.0 if fps is None else float(fps)
    p.add("P", "TimeMode", "enum", "", "", TIME_MODES.get(fps, 14))
    p.add("P", "TimeProtocol", "enum", "", "", 2)
    p.add("P", "SnapOnFrameMode", "enum", "", "", 0)
    p.add("P", "TimeSpanStart", "KTime", "Time", "", span[0])
    p.add("P", "TimeSpanStop", "KTime", "Time", "", span[1])
    p.add("P", "CustomFrameRate", "double", "Number", "", fps)
    p.add("P", "CurrentTimeMarker", "int", "Integer", "", -1)
    return g


def _documents(animated: bool) -> Node:
    d = Node("Documents")
    d.add("Count", 1)
    doc = d.add("Document", np.int64(999_999), "Scene", "Scene")
    p = doc.add("Properties70")
    p.add("P", "SourceObject", "object", "", "")
    p.add("P", "ActiveAnimStackName", "KString", "", "", STACK if animated else "")
    doc.add("RootNode", np.int64(0))
    return d


def _definitions(counts: dict[str, int]) -> Node:
    d = Node("Definitions")
    d.add("Version", 100)
    d.add("Count", 1 + sum(counts.values()))
    d.add("ObjectType", "GlobalSettings").add("Count", 1)
    for kind, count in counts.items():
        d.add("ObjectType", kind).add("Count", count)
    return d


def _takes(span: tuple | None) -> Node:
    t = Node("Takes")
    t.add("Current", STACK if span is not None else "")
    if span is not None:
        take = t.add("Take", STACK)
        take.add("FileName", f"{STACK}.tak")
        take.add("LocalTime", span[0], span[1])
        take.add("ReferenceTime", span[0], span[1])
    return t


EXPORTERS = {".fbx": export_fbx}
