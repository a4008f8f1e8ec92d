"""Read an FBX or GLB with pyassimp (Triangulate) and report it (run in a subprocess by the tests).

usage: python assimp_read.py FILE OUT.npz
Prints JSON (meshes, anim meshes, animations, morph keys) and saves the first mesh's vertices
and each anim mesh's vertices minus them (`base` (V, 3), `offsets` (S, V, 3)) to OUT.npz.
"""
import json
import sys

import numpy as np
import pyassimp
import pyassimp.postprocess as pp


def main(path: str, out: str) -> dict:
    with pyassimp.load(path, processing=pp.aiProcess_Triangulate) as scene:
        mesh = scene.meshes[0]
        base = np.asarray(mesh.vertices, np.float64)
        anim_meshes = mesh.animmeshes
        offsets = np.stack([np.asarray(a.vertices, np.float64) - base for a in anim_meshes]) \
            if anim_meshes else np.zeros((0,) + base.shape)
        np.savez(out, base=base, offsets=offsets)
        report = {
            "meshes": len(scene.meshes),
            "vertices": len(base),
            "faces": len(mesh.faces),
            "face_sizes": sorted({len(f) for f in mesh.faces}),
            "anim_meshes": [a.name for a in anim_meshes],
            "animations": [],
        }
        for anim in scene.animations:
            channels = []
            for channel in anim.morphmeshchannels:
                keys = channel.keys
                channels.append({
                    "name": channel.name,
                    "times": [k.mTime for k in keys],
                    "values": [[k.mValues[i] for i in range(k.mNumValuesAndWeights)] for k in keys],
                    "weights": [[k.mWeights[i] for i in range(k.mNumValuesAndWeights)] for k in keys],
                })
            report["animations"].append({"name": anim.name, "duration": anim.duration,
                                         "ticks_per_second": anim.tickspersecond, "morph_channels": channels})
    return report


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(sys.argv[1], sys.argv[2])) + "\n")
