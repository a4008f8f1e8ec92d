"""Registered-mesh readers on CoMA and FaceScape folders written from the synthetic population."""
import numpy as np

from faceforge.core.data.readers import read_dataset, summarize
from faceforge.core.mesh.io import write_obj, write_ply


def test_coma_layout_from_synth(population, tmp_path):
    ds = population.subset(np.arange(0, 60, 4))
    for i, (s, e) in enumerate(zip(ds.subject, ds.expression)):
        write_ply(tmp_path / s / e / f"{e}.{i:06d}.ply", ds.vertices[i], ds.template.faces)
    got = read_dataset(tmp_path, ds.template)
    assert got.meta["layout"] == "coma"
    order = np.lexsort((got.expression, got.subject))
    want = np.lexsort((ds.expression, ds.subject))
    np.testing.assert_array_equal(got.vertices[order], ds.vertices[want])
    assert list(got.expression[order]) == list(ds.expression[want])


def test_facescape_layout_from_synth(population, tmp_path):
    ds = population.subset(np.flatnonzero(population.subject == "s0001"))
    for i, e in enumerate(ds.expression):
        write_obj(tmp_path / "2" / "models_reg" / f"{i + 1}_{e}.obj", ds.vertices[i],
                  ds.template.faces, ds.template.uvs, ds.template.face_uvs)
    got = read_dataset(tmp_path, ds.template)
    assert got.meta["layout"] == "facescape"
    summary = summarize(got)
    assert summary["meshes"] == 20 and summary["neutral"] == 1 and summary["vertices"] == 3260
    by_expr = dict(zip(got.expression, got.vertices))
    for e, v in zip(ds.expression, ds.vertices):
        np.testing.assert_array_equal(by_expr[e], v)
