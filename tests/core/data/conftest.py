"""The dataset every core.data test starts from (to be replaced by core.data.synth)."""
import numpy as np
import pytest
import trimesh

from faceforge.core.data.dataset import MeshDataset
from faceforge.core.mesh.template import Template

EXPRESSIONS = ["neutral", "smile", "open"]


@pytest.fixture
def dataset() -> MeshDataset:
    """6 subjects x 3 expressions of a 162-vertex, 80 mm sphere, deformed with a seeded RNG."""
    rng = np.random.default_rng(0)
    sphere = trimesh.creation.icosphere(subdivisions=2)
    rest = np.asarray(sphere.vertices, np.float32) * 80  # (N, 3) mm
    faces = np.pad(sphere.faces.astype(np.int32), ((0, 0), (0, 1)), constant_values=-1)
    uvs = (rest[:, :2] / 160 + 0.5).astype(np.float32)
    template = Template(rest, faces, uvs, faces.copy(), landmarks={"nose_tip": int(rest[:, 2].argmax())},
                        name="test-sphere")
    lower = (rest[:, 1] < 0)[:, None]
    offsets = {"neutral": 0 * rest, "smile": lower * rest * [0.15, 0.05, 0],
               "open": lower * [0, -12, 0]}
    subjects, meshes, neutrals, ages = [f"s{i:02d}" for i in range(6)], [], [], []
    for _ in subjects:
        neutral = rest * (1 + 0.1 * rng.normal(size=3)) + rng.normal(scale=0.5, size=rest.shape)
        neutrals.append(neutral)
        ages.append(rng.uniform(18, 80))
        meshes += [neutral + offsets[e] + rng.normal(scale=0.1, size=rest.shape) for e in EXPRESSIONS]
    m = len(meshes)
    arkit = rng.uniform(size=(m, 52)).astype(np.float32)
    arkit[::len(EXPRESSIONS)] = 0
    return MeshDataset.from_arrays(
        np.stack(meshes), np.repeat(subjects, len(EXPRESSIONS)), expression=EXPRESSIONS * len(subjects),
        age=np.repeat(ages, len(EXPRESSIONS)), neutral=[e == "neutral" for e in EXPRESSIONS * len(subjects)],
        extras={"arkit": arkit},
        subject_table={"neutral_vertices": np.stack(neutrals).astype(np.float32),
                       "age": np.asarray(ages, np.float32)},
        template=template, meta={"source": "test-sphere", "seed": 0},
    )
