"""The three CLEVR meshes as explicit vertex and face lists (numpy only, no Blender).

Why not ``bpy.ops.mesh.primitive_uv_sphere_add``: measured with bpy 5.0.1, the UV
sphere it builds has the same vertex positions in every process but a different
face order and winding (its pole vertices are merged in an order that depends on
memory addresses: with address-space randomisation off the result is stable).  Cycles
then intersects a differently triangulated sphere with differently summed vertex
normals, the float image differs by ~1e-5 relative in ~100 pixels of every sphere
image, and the OIDN denoiser spreads that over the whole image, so ~1 in 50,000 uint8
values came out +-1 between runs.  Built from these lists, every image is
bit-identical between processes (see ``tests/test_render.py``).

All meshes are 2 units across (CLEVR's size convention: the scale is the radius),
centred on the origin, faces wound counter-clockwise seen from outside (outward
normals), every edge shared by exactly two faces.
"""

from __future__ import annotations

import math

import numpy as np

from generators.render.spec import CYLINDER_VERTICES, SPHERE_RINGS, SPHERE_SEGMENTS

Faces = list[tuple[int, ...]]


def cube() -> tuple[np.ndarray, Faces]:
    """The cube [-1, 1]^3: 8 vertices, 6 quads."""
    verts = np.array([(x, y, z) for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    # vertex index = 4*(x>0) + 2*(y>0) + (z>0)
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    return verts, faces


def uv_sphere(segments: int = SPHERE_SEGMENTS, rings: int = SPHERE_RINGS) -> tuple[np.ndarray, Faces]:
    """The unit UV sphere: two poles, ``rings - 1`` latitude circles of ``segments`` vertices.

    Quads between neighbouring circles, triangle fans at the poles
    (``segments * rings`` faces, ``segments * (rings - 1) + 2`` vertices).
    """
    if segments < 3 or rings < 2:
        raise ValueError(f"segments must be >= 3 and rings >= 2; got segments={segments}, rings={rings}")
    verts = [(0.0, 0.0, 1.0)]
    for i in range(1, rings):
        theta = math.pi * i / rings
        for j in range(segments):
            phi = 2.0 * math.pi * j / segments
            verts.append((math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)))
    bottom = len(verts)
    verts.append((0.0, 0.0, -1.0))

    def v(i: int, j: int) -> int:  # vertex j of latitude circle i (1-based from the top)
        return 1 + (i - 1) * segments + j % segments

    faces: Faces = [(0, v(1, j), v(1, j + 1)) for j in range(segments)]
    for i in range(1, rings - 1):
        faces += [(v(i, j), v(i + 1, j), v(i + 1, j + 1), v(i, j + 1)) for j in range(segments)]
    faces += [(bottom, v(rings - 1, j + 1), v(rings - 1, j)) for j in range(segments)]
    return np.array(verts), faces


def cylinder(vertices: int = CYLINDER_VERTICES) -> tuple[np.ndarray, Faces, list[int]]:
    """The cylinder of radius 1 from z = -1 to 1: side quads and two n-gon caps.

    Returns ``(verts, faces, cap_faces)``; the caps are the last two faces (shaded
    flat, the side smooth).
    """
    if vertices < 3:
        raise ValueError(f"vertices must be >= 3; got {vertices}")
    verts = []
    for j in range(vertices):
        phi = 2.0 * math.pi * j / vertices
        verts += [(math.cos(phi), math.sin(phi), -1.0), (math.cos(phi), math.sin(phi), 1.0)]
    n = vertices
    faces: Faces = [(2 * j, 2 * ((j + 1) % n), 2 * ((j + 1) % n) + 1, 2 * j + 1) for j in range(n)]
    faces.append(tuple(2 * j + 1 for j in range(n)))  # top, counter-clockwise seen from +z
    faces.append(tuple(2 * j for j in reversed(range(n))))  # bottom, seen from -z
    return np.array(verts), faces, [n, n + 1]


def signed_volume(verts: np.ndarray, faces: Faces) -> float:
    """Enclosed volume (divergence theorem, faces fanned from their first vertex); > 0 when wound outward."""
    vol = 0.0
    for f in faces:
        a = verts[f[0]]
        for k in range(1, len(f) - 1):
            vol += float(np.dot(a, np.cross(verts[f[k]], verts[f[k + 1]]))) / 6.0
    return vol
