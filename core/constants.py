"""Tolerances and fixed numbers, in one place."""


class tol:
    """Geometric tolerances (mm unless stated)."""

    merge = 1e-6  # vertices closer than this are the same point
    zero_area = 1e-12  # mm^2, triangles below this are degenerate
    finite_max = 1e7  # mm, coordinates beyond this are treated as corrupt


MM_PER_DM = 100.0  # MakeHuman assets are stored in decimetres
