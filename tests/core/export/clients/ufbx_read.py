"""Read an FBX with ufbx and print what it found as JSON (run in a subprocess by the tests).

usage: python ufbx_read.py FILE.fbx [SECONDS ...]

ufbx's wrapper objects must outlive everything read through them, so each one is kept in a
local for the whole run, and the process ends with os._exit to skip freeing them at all.
"""
import gc
import json
import os
import sys

import ufbx


KEEP: list = []  # every wrapper object, alive until os._exit


def kept(obj):
    KEEP.append(obj)
    return obj


def vec3s(items) -> list:
    return [[v.x, v.y, v.z] for v in kept(items)]


def main(path: str, times: list[float]) -> dict:
    gc.disable()  # collecting a wrapper before its scene has crashed ufbx 0.0.5
    scene = kept(ufbx.load_file(path))
    settings = kept(scene.settings)
    axes = kept(settings.axes)
    mesh = kept(kept(scene.meshes)[0])
    faces = kept(mesh.faces)
    uv, normal = kept(mesh.vertex_uv), kept(mesh.vertex_normal)
    anim = kept(scene.anim)
    stacks = kept(scene.anim_stacks)
    deformers = kept(mesh.blend_deformers)
    channels = kept(deformers[0]).channels if len(deformers) else []
    out = {
        "version": kept(scene.metadata).version,
        "warnings": [w.description for w in kept(kept(scene.metadata).warnings)],
        "unit_meters": settings.unit_meters,
        "axes": [axes.right.name, axes.up.name, axes.front.name],
        "fps": settings.frames_per_second,
        "mesh": {
            "name": kept(kept(mesh.instances)[0]).name,
            "vertices": vec3s(mesh.vertices),
            "face_sizes": [f.num_indices for f in faces],
            "corner_vertices": list(kept(mesh.vertex_indices)),
            "uv_values": [[v.x, v.y] for v in kept(uv.values)],
            "uv_indices": list(kept(uv.indices)),
            "normal_values": vec3s(normal.values),
            "normal_indices": list(kept(normal.indices)),
            "materials": [kept(m).name for m in kept(mesh.materials)],
        },
        "stacks": [kept(s).name for s in stacks],
        "time_begin": anim.time_begin,
        "time_end": anim.time_end,
        "channels": [],
    }
    for channel in kept(channels):
        shape = kept(channel.target_shape)
        kept(channel)
        out["channels"].append({
            "name": channel.name,
            "weight": channel.weight,
            "shape": shape.name,
            "indexes": list(kept(shape.offset_vertices)),
            "offsets": vec3s(shape.position_offsets),
            "normal_offsets": vec3s(shape.normal_offsets),
            "evaluated": [channel.evaluate_blend_weight(anim, t) for t in times],
        })
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(sys.argv[1], [float(t) for t in sys.argv[2:]])) + "\n")
    sys.stdout.flush()
    os._exit(0)
