"""What a rendered image shows: the CLEVR numbers, the label plan and per-image jitter.

This module is the single source of truth for every constant of the two rendered
data sets (colours, materials, shapes, camera, lights, jitter; see
``docs/RENDERING.md`` and Johnson et al. 2017, CLEVR) and for how the per-image
parameters are drawn.  It imports only numpy, so the parent process can plan a
render (and tests can inspect it) without Blender.

NR-Objects (ENRC, AAAI 2020, Sec. 4 "NR-Objects"): one large CLEVR object per
image, labelled by colour (6) x material (2) x shape (3), "default settings,
which contained lighting jitter".  OBJECTS (ACe/DeC, IJCAI 2021, Sec. 4): one
grayscale sphere, cube or cylinder "with random lighting"; the only label is the
shape, the light is shared non-cluster information.

Every image ``i`` of a render with ``seed`` gets its own seed
``image_seed = SeedSequence([seed, dataset_code, i])``; all of its jitter is drawn
from ``np.random.default_rng(image_seed)`` and Cycles' sampling seed is set from
it too, so an image does not depend on which shard or worker rendered it.  The
pixels, denoised by OIDN, are then bit-identical between runs and processes on the
same machine (the meshes are built from explicit lists for that:
``generators.render.meshes`` says why).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# ----------------------------------------------------------------- CLEVR look
#: CLEVR's eight colours, RGB 0-255 (divide by 255 for the shader base colour).
CLEVR_COLORS: dict[str, tuple[int, int, int]] = {
    "gray": (87, 87, 87),
    "red": (173, 35, 35),
    "blue": (42, 75, 215),
    "green": (29, 105, 20),
    "brown": (129, 74, 25),
    "purple": (129, 38, 192),
    "cyan": (41, 208, 208),
    "yellow": (255, 238, 51),
}

#: Principled-BSDF settings that give CLEVR's two materials.
MATERIALS: dict[str, dict[str, float]] = {
    "rubber": {"metallic": 0.0, "roughness": 0.9},
    "metal": {"metallic": 1.0, "roughness": 0.25},
}

SHAPES: tuple[str, ...] = ("cube", "sphere", "cylinder")
#: Mesh resolution (``generators.render.meshes``): a UV sphere of 48 segments x 24 rings,
#: a 48-sided cylinder (shaded smooth; cube and cylinder caps flat).
SPHERE_SEGMENTS = 48
SPHERE_RINGS = 24
CYLINDER_VERTICES = 48

#: CLEVR object sizes (scale of a mesh 2 units across); NR-Objects uses "large".
SIZE_LARGE = 0.7
SIZE_SMALL = 0.35
#: CLEVR shrinks cubes by a further 1/sqrt(2) so they look as big as the others.
CUBE_SCALE = 1.0 / math.sqrt(2.0)

CAMERA_LOCATION = (7.48, -6.51, 5.34)
CAMERA_LENS_MM = 35.0
CAMERA_SENSOR_MM = 32.0
#: Deviation from CLEVR: its wide 35 mm lens frames a whole table of objects; with
#: one object per square image it would cover ~9 of 64 pixels.  We keep CLEVR's
#: camera position and jitter and zoom in by this factor (lens 87.5 mm), so the
#: object spans about a third of the image.
FRAMING_ZOOM = 2.5
#: With the zoom, aiming at the ground point under the object (CLEVR aims at the
#: origin) would put the object in the upper half; we aim at its middle height.
CAMERA_TARGET = (0.0, 0.0, 0.5)


@dataclass(frozen=True)
class Light:
    """An area light aimed at the origin; ``power`` in watts, ``size`` in scene units."""

    name: str
    location: tuple[float, float, float]
    size: float
    power: float
    color: tuple[float, float, float]


#: Key-light power (W); calibrated so the CLEVR ground renders mid-gray with the Standard view.
KEY_POWER = 200.0
#: CLEVR's three area lights (key warm, fill bluish at ~0.3x, back at ~0.5x), in this order.
LIGHTS: tuple[Light, ...] = (
    Light("key", (6.45, -2.91, 4.26), 0.5, KEY_POWER, (1.0, 0.93, 0.85)),
    Light("fill", (-4.67, -4.01, 3.01), 0.5, 0.3 * KEY_POWER, (0.85, 0.92, 1.0)),
    Light("back", (-1.17, 2.65, 5.82), 1.0, 0.5 * KEY_POWER, (1.0, 1.0, 1.0)),
)
SUN_STRENGTH = 0.45
#: Uniform jitter per axis (CLEVR's --camera_jitter and --key/fill/back_light_jitter).
CAMERA_JITTER = 0.5
LIGHT_JITTER = 1.0
#: Soft gray surroundings so metal has something to reflect.
WORLD_COLOR = (0.5, 0.5, 0.5)
WORLD_STRENGTH = 0.35

# ------------------------------------------------------- renderer settings
#: Cycles on the CPU (RENDERING.md): max bounces, OIDN quality, threads per process.
MAX_BOUNCES = 4
DENOISE_QUALITY = "FAST"
DENOISE_PREFILTER = "NONE"
THREADS_PER_PROCESS = 2
MIN_RESOLUTION = 8

# --------------------------------------------------------- the two data sets


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that distinguishes NR-Objects from OBJECTS (besides the per-image draws)."""

    name: str
    code: int  # mixed into every image seed so the two data sets never share draws
    clusterings: tuple[str, ...]
    factors: tuple[tuple[str, ...], ...]  # the values of each clustering, label = index
    channels: int  # 4 = RGBA (CLEVR PNGs; alpha is opaque), 1 = grayscale
    ground_gray: float  # albedo of the ground plane
    object_gray: float | None  # OBJECTS: fixed gray albedo of the object; None = colour label
    object_material: str | None  # OBJECTS: fixed material; None = material label
    key_light: str  # "clevr" = CLEVR jitter; "random" = key light anywhere on a hemisphere band

    @property
    def n_combinations(self) -> int:
        """Number of label combinations (36 for NR-Objects, 3 for OBJECTS)."""
        return int(np.prod([len(f) for f in self.factors]))


NR_COLORS: tuple[str, ...] = ("blue", "red", "green", "gray", "yellow", "purple")

NROBJECTS = DatasetSpec(
    name="nrobjects",
    code=1,
    clusterings=("color", "material", "shape"),
    factors=(NR_COLORS, ("rubber", "metal"), SHAPES),
    channels=4,
    ground_gray=0.5,
    object_gray=None,
    object_material=None,
    key_light="clevr",
)

OBJECTS = DatasetSpec(
    name="objects",
    code=2,
    clusterings=("shape",),
    factors=(SHAPES,),
    channels=1,
    # A light matte object on a dark floor keeps the object visible under any light.
    ground_gray=0.08,
    object_gray=0.8,
    object_material="rubber",
    key_light="random",
)

SPECS: dict[str, DatasetSpec] = {s.name: s for s in (NROBJECTS, OBJECTS)}

#: OBJECTS' "random lighting": the key light's azimuth about the object is uniform
#: over the full circle, its elevation uniform in this band (degrees), its power
#: scaled by a uniform factor in this range.  Fill and back keep CLEVR's jitter.
OBJECTS_KEY_ELEVATION_DEG = (15.0, 75.0)
OBJECTS_KEY_POWER_FACTOR = (0.6, 1.4)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of ``name`` ("nrobjects" or "objects")."""
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"name must be one of {sorted(SPECS)}; got {name!r}") from None


# ------------------------------------------------------------ validation


def check_settings(n: int, resolution: int, samples: int, seed: int) -> None:
    """Raise ``ValueError`` naming the parameter when a render setting is invalid."""
    for pname, val in (("n", n), ("resolution", resolution), ("samples", samples), ("seed", seed)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
            raise ValueError(f"{pname} must be an integer; got {val!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    if resolution < MIN_RESOLUTION:
        raise ValueError(f"resolution must be >= {MIN_RESOLUTION}; got {resolution}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1; got {samples}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0; got {seed}")


# ------------------------------------------------------------ label plan


def balance_note(spec: DatasetSpec, n: int) -> str | None:
    """None when ``n`` is a multiple of the combinations; otherwise the one-line imbalance note."""
    k = spec.n_combinations
    if n % k == 0:
        return None
    q, r = divmod(n, k)

    def some(count: int) -> str:
        return f"{count} combination appears" if count == 1 else f"{count} combinations appear"

    def times(count: int) -> str:
        return "once" if count == 1 else f"{count} times"

    if q == 0:  # fewer images than combinations: a factor's value may be missing altogether
        return (f"n={n} is below the {k} label combinations of {spec.name}: {some(r)} once and {k - r} never, "
                "so a value of a factor may be missing from the data set")
    return (
        f"n={n} is not a multiple of the {k} label combinations of {spec.name}: "
        f"{some(r)} {times(q + 1)} and {k - r} appear {times(q)}"
    )


def plan_labels(spec: DatasetSpec, n: int, seed: int) -> np.ndarray:
    """Balanced labels ``(n, S)`` in shuffled order.

    Every combination of the factors appears ``n // K`` times; when ``n`` is not a
    multiple of ``K`` (10,000 images, 36 combinations) a random set of ``n % K``
    distinct combinations appears once more, so counts differ by at most one
    (:func:`balance_note` says so).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, spec.code, 0xBA1A]))
    sizes = [len(f) for f in spec.factors]
    combos = np.array(np.unravel_index(np.arange(int(np.prod(sizes))), sizes)).T  # (K, S)
    k = len(combos)
    q, r = divmod(n, k)
    idx = np.concatenate([np.tile(np.arange(k), q), rng.choice(k, size=r, replace=False)])
    idx = idx[rng.permutation(n)]
    return combos[idx].astype(np.int64)


# ------------------------------------------------------- per-image draws


@dataclass(frozen=True)
class ImageParams:
    """Everything one image depends on; JSON-friendly, sent to the render worker."""

    index: int
    image_seed: int
    shape: str
    color: tuple[float, float, float]  # linear base colour, 0-1
    material: str
    rotation_deg: float
    camera_location: tuple[float, float, float]
    camera_jitter: tuple[float, float, float]
    light_locations: tuple[tuple[float, float, float], ...]  # key, fill, back
    light_jitter: tuple[tuple[float, float, float], ...]
    key_power_factor: float

    def to_json(self) -> dict[str, Any]:
        """Plain dict (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageParams:
        """Inverse of :meth:`to_json`."""
        d = dict(d)
        d["color"] = tuple(d["color"])
        d["camera_location"] = tuple(d["camera_location"])
        d["camera_jitter"] = tuple(d["camera_jitter"])
        d["light_locations"] = tuple(tuple(v) for v in d["light_locations"])
        d["light_jitter"] = tuple(tuple(v) for v in d["light_jitter"])
        return cls(**d)


def image_seed(spec: DatasetSpec, seed: int, index: int) -> int:
    """The per-image seed (uint32) of image ``index``; independent of sharding."""
    return int(np.random.SeedSequence([seed, spec.code, index]).generate_state(1, np.uint32)[0])


def _tuple3(a: np.ndarray) -> tuple[float, float, float]:
    return (float(a[0]), float(a[1]), float(a[2]))


def draw_image(spec: DatasetSpec, seed: int, index: int, labels: np.ndarray) -> ImageParams:
    """Draw image ``index``'s rotation and camera/light jitter from its own seed.

    CLEVR: rotation about z uniform in [0, 360); camera and each light moved by a
    uniform offset in [-j, j] per axis.  OBJECTS replaces the key light's CLEVR
    jitter by a random position on a hemisphere band at the same distance and a
    random power factor (the "random lighting" of ACe/DeC).
    """
    s = image_seed(spec, seed, index)
    rng = np.random.default_rng(s)
    row = dict(zip(spec.clusterings, (int(v) for v in labels)))
    shape = spec.factors[spec.clusterings.index("shape")][row["shape"]]
    if spec.object_gray is not None:
        color = (spec.object_gray,) * 3
    else:
        cname = spec.factors[spec.clusterings.index("color")][row["color"]]
        color = tuple(c / 255.0 for c in CLEVR_COLORS[cname])
    material = spec.object_material or spec.factors[spec.clusterings.index("material")][row["material"]]
    rotation = float(rng.uniform(0.0, 360.0))
    cam_j = rng.uniform(-CAMERA_JITTER, CAMERA_JITTER, size=3)
    light_j = rng.uniform(-LIGHT_JITTER, LIGHT_JITTER, size=(len(LIGHTS), 3))
    base = np.array([lt.location for lt in LIGHTS])
    locs = base + light_j
    power = 1.0
    if spec.key_light == "random":
        dist = float(np.linalg.norm(base[0]))
        az = rng.uniform(0.0, 2.0 * math.pi)
        el = math.radians(rng.uniform(*OBJECTS_KEY_ELEVATION_DEG))
        locs[0] = dist * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        light_j[0] = locs[0] - base[0]
        power = float(rng.uniform(*OBJECTS_KEY_POWER_FACTOR))
    cam = np.array(CAMERA_LOCATION) + cam_j
    return ImageParams(
        index=int(index),
        image_seed=s,
        shape=shape,
        color=(float(color[0]), float(color[1]), float(color[2])),
        material=material,
        rotation_deg=rotation,
        camera_location=_tuple3(cam),
        camera_jitter=_tuple3(cam_j),
        light_locations=tuple(_tuple3(v) for v in locs),
        light_jitter=tuple(_tuple3(v) for v in light_j),
        key_power_factor=power,
    )


def plan_images(spec: DatasetSpec, n: int, seed: int) -> tuple[np.ndarray, list[ImageParams]]:
    """The labels ``(n, S)`` and the per-image parameters of a whole render."""
    labels = plan_labels(spec, n, seed)
    return labels, [draw_image(spec, seed, i, labels[i]) for i in range(n)]


def extras_from_plan(images: list[ImageParams]) -> dict[str, np.ndarray]:
    """Per-image metadata kept in ``Dataset.extras`` (float32 / uint32 arrays of length n)."""
    return {
        "rotation_deg": np.array([p.rotation_deg for p in images], dtype=np.float32),
        "camera_jitter": np.array([p.camera_jitter for p in images], dtype=np.float32),
        "light_jitter": np.array([p.light_jitter for p in images], dtype=np.float32),
        "key_power_factor": np.array([p.key_power_factor for p in images], dtype=np.float32),
        "image_seed": np.array([p.image_seed for p in images], dtype=np.uint32),
    }
