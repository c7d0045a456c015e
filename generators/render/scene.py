"""The Blender scene: built once per process, then re-posed for every image.

Imported only inside a render worker (``generators.render.worker``); importing
it imports ``bpy``.  The scene is procedural: a ground plane, the three CLEVR
meshes (cube, UV sphere, cylinder, each 2 units across, built from the explicit
vertex and face lists of ``generators.render.meshes`` so that they, and with them
the images, are bit-identical in every process), three area lights and a weak
sun aimed at the origin, and a 35 mm camera.  Per image,
:meth:`Renderer.render` shows one mesh, sets its colour, material, rotation,
the jittered camera and light positions and Cycles' seed, renders to a PNG in a
private temporary folder and returns the pixels as a uint8 CHW array.  Every
image sets every varying property, so the result never depends on which images
the process rendered before (needed for resumable, sharded rendering).

Cycles settings follow docs/RENDERING.md: CPU, ``samples`` paths per pixel,
OIDN denoising at quality FAST without prefilter, at most 4 bounces, a fixed
number of threads, the "Standard" view transform (Blender 5 defaults to AgX,
which would shift CLEVR's colours).
"""

from __future__ import annotations

import atexit
import math
import shutil
import sys
from collections.abc import Sequence

import numpy as np

from generators.render.worker_env import make_tmp, strip_inherited_bpy_paths

# bpy script folders inherited from a parent that imported bpy break `import bpy` (RENDERING.md pitfall)
sys.path[:] = strip_inherited_bpy_paths(sys.path)
import bpy
from mathutils import Vector

from generators.render import meshes
from generators.render.spec import (
    CAMERA_LENS_MM,
    CAMERA_LOCATION,
    CAMERA_SENSOR_MM,
    CAMERA_TARGET,
    CUBE_SCALE,
    DENOISE_PREFILTER,
    DENOISE_QUALITY,
    FRAMING_ZOOM,
    LIGHTS,
    MATERIALS,
    MAX_BOUNCES,
    SHAPES,
    SIZE_LARGE,
    SUN_STRENGTH,
    WORLD_COLOR,
    WORLD_STRENGTH,
    DatasetSpec,
    ImageParams,
)

_GROUND_SIZE = 200.0


def _aim(obj: bpy.types.Object, target: Vector = Vector((0.0, 0.0, 0.0))) -> None:  # noqa: B008 - read only
    """Point an object's -Z axis (cameras, lights) at ``target``, +Y up."""
    direction = target - obj.location
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = direction.to_track_quat("-Z", "Y")


def _principled(name: str) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes = mat.node_tree.nodes
    bsdf = next((nd for nd in nodes if nd.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        out = next(nd for nd in nodes if nd.type == "OUTPUT_MATERIAL")
        mat.node_tree.links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    return mat


def _bsdf(mat: bpy.types.Material) -> bpy.types.Node:
    return next(nd for nd in mat.node_tree.nodes if nd.type == "BSDF_PRINCIPLED")


def _mesh_object(name: str, verts: np.ndarray, faces: list[tuple[int, ...]], smooth: bool,
                 flat_faces: Sequence[int] = ()) -> bpy.types.Object:
    """A mesh object from explicit geometry; with ``smooth``, every face but ``flat_faces`` is shaded smooth.

    A flat face's edges split the smooth normals of its neighbours, so the cylinder's
    rim stays sharp without marking edges sharp.  (Measured: the previous
    ``shade_smooth_by_angle`` cylinder, which marks its rim edges sharp, rendered its
    metal side dull, without the light reflections the same smooth side shows
    without sharp edges and that metal spheres show.)
    """
    me = bpy.data.meshes.new(name)
    me.from_pydata([tuple(map(float, v)) for v in verts], [], [tuple(f) for f in faces])
    flags = np.full(len(faces), smooth, dtype=bool)
    flags[list(flat_faces)] = False
    me.polygons.foreach_set("use_smooth", flags)
    me.validate()
    me.update()
    return bpy.data.objects.new(name, me)


class Renderer:
    """One Blender scene for one data-set spec and one set of render settings."""

    def __init__(self, spec: DatasetSpec, resolution: int, samples: int, threads: int, *,
                 zoom: float = FRAMING_ZOOM,
                 target: tuple[float, float, float] = CAMERA_TARGET,
                 ground_gray: float | None = None, world_strength: float = WORLD_STRENGTH,
                 light_scale: float = 1.0) -> None:
        """``zoom`` and ``target``: the camera's framing (lens = 35 mm x ``zoom``, aimed at ``target``).

        ``ground_gray`` (default: the spec's), ``world_strength`` (the ambient
        surroundings) and ``light_scale`` (a factor on the power of the three area
        lights) change the lighting.  The data sets always render with the defaults
        (``spec.FRAMING_ZOOM``, ``spec.CAMERA_TARGET``, the spec's ground,
        ``spec.WORLD_STRENGTH``, scale 1); the keywords exist for comparisons such as
        ``benchmark/scripts/render_stats.py`` (``zoom=1, target=(0, 0, 0)`` is
        CLEVR's own framing).
        """
        self.spec = spec
        self.resolution = int(resolution)
        self.samples = int(samples)
        self.threads = int(threads)
        if not float(zoom) > 0:
            raise ValueError(f"zoom must be > 0; got {zoom}")
        self.zoom = float(zoom)
        self.ground_gray = float(spec.ground_gray if ground_gray is None else ground_gray)
        if not 0.0 <= self.ground_gray <= 1.0:
            raise ValueError(f"ground_gray must be in [0, 1]; got {ground_gray}")
        if not float(world_strength) >= 0:
            raise ValueError(f"world_strength must be >= 0; got {world_strength}")
        self.world_strength = float(world_strength)
        if not float(light_scale) > 0:
            raise ValueError(f"light_scale must be > 0; got {light_scale}")
        self.light_scale = float(light_scale)
        self.target = tuple(float(v) for v in target)
        self._tmp = make_tmp()  # removed by close(); by the parent or the next render process if killed
        self._png = str(self._tmp / "frame.png")
        atexit.register(self.close)
        self._build()

    # ------------------------------------------------------------- building
    def _build(self) -> None:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        self.scene = scene
        r = scene.render
        r.engine = "CYCLES"
        r.resolution_x = r.resolution_y = self.resolution
        r.resolution_percentage = 100
        r.threads_mode = "FIXED"
        r.threads = self.threads
        r.film_transparent = False
        r.image_settings.file_format = "PNG"
        r.image_settings.color_depth = "8"
        r.image_settings.color_mode = "RGBA" if self.spec.channels == 4 else "BW"
        r.image_settings.compression = 0
        scene.display_settings.display_device = "sRGB"
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
        scene.view_settings.exposure = 0.0
        scene.view_settings.gamma = 1.0
        c = scene.cycles
        c.device = "CPU"
        c.samples = self.samples
        c.use_adaptive_sampling = False
        c.use_denoising = True
        c.denoiser = "OPENIMAGEDENOISE"
        c.denoising_quality = DENOISE_QUALITY
        c.denoising_prefilter = DENOISE_PREFILTER
        c.max_bounces = MAX_BOUNCES
        c.diffuse_bounces = c.glossy_bounces = min(MAX_BOUNCES, 4)
        c.transmission_bounces = c.volume_bounces = 0
        c.transparent_max_bounces = 0
        c.use_animated_seed = False
        c.use_light_tree = False  # a few lights: the tree costs more than it saves on the CPU
        c.caustics_reflective = c.caustics_refractive = False
        c.blur_glossy = 1.0

        world = bpy.data.worlds.new("world")
        world.use_nodes = True
        bg = next(nd for nd in world.node_tree.nodes if nd.type == "BACKGROUND")
        bg.inputs["Color"].default_value = (*WORLD_COLOR, 1.0)
        bg.inputs["Strength"].default_value = self.world_strength
        scene.world = world

        # ground
        bpy.ops.mesh.primitive_plane_add(size=_GROUND_SIZE, location=(0.0, 0.0, 0.0))
        ground = bpy.context.active_object
        gmat = _principled("ground")
        g = self.ground_gray
        gb = _bsdf(gmat)
        gb.inputs["Base Color"].default_value = (g, g, g, 1.0)
        gb.inputs["Roughness"].default_value = 1.0
        gb.inputs["Metallic"].default_value = 0.0
        ground.data.materials.append(gmat)

        # the object material, shared by the three meshes, changed per image
        self.material = _principled("object")
        self.bsdf = _bsdf(self.material)

        # the three CLEVR meshes, 2 units across, hidden until used
        self.shapes: dict[str, bpy.types.Object] = {}
        # (from explicit vertex/face lists: Blender's UV-sphere operator is not reproducible
        # between processes, see generators.render.meshes)
        for shape in SHAPES:
            if shape == "cube":
                obj = _mesh_object(shape, *meshes.cube(), smooth=False)
            elif shape == "sphere":
                obj = _mesh_object(shape, *meshes.uv_sphere(), smooth=True)
            else:
                verts, faces, caps = meshes.cylinder()
                obj = _mesh_object(shape, verts, faces, smooth=True, flat_faces=caps)
            scene.collection.objects.link(obj)
            obj.data.materials.append(self.material)
            obj.hide_render = True
            self.shapes[shape] = obj

        # camera
        cam_data = bpy.data.cameras.new("camera")
        cam_data.lens = CAMERA_LENS_MM * self.zoom
        cam_data.sensor_width = CAMERA_SENSOR_MM
        cam_data.sensor_fit = "HORIZONTAL"
        self.camera = bpy.data.objects.new("camera", cam_data)
        scene.collection.objects.link(self.camera)
        scene.camera = self.camera
        self.camera.location = CAMERA_LOCATION
        _aim(self.camera, Vector(self.target))

        # lights
        self.lights: list[bpy.types.Object] = []
        for spec in LIGHTS:
            ld = bpy.data.lights.new(spec.name, type="AREA")
            ld.shape = "SQUARE"
            ld.size = spec.size
            ld.energy = spec.power
            ld.color = spec.color
            lo = bpy.data.objects.new(spec.name, ld)
            scene.collection.objects.link(lo)
            lo.location = spec.location
            _aim(lo)
            self.lights.append(lo)
        sun_data = bpy.data.lights.new("sun", type="SUN")
        sun_data.energy = SUN_STRENGTH
        sun = bpy.data.objects.new("sun", sun_data)
        scene.collection.objects.link(sun)
        sun.location = (0.0, 0.0, 10.0)
        sun.rotation_euler = (math.radians(30.0), 0.0, math.radians(30.0))

    # ------------------------------------------------------------ rendering
    def pose(self, p: ImageParams) -> None:
        """Set every per-image property of the scene from ``p``."""
        for name, obj in self.shapes.items():
            obj.hide_render = name != p.shape
        obj = self.shapes[p.shape]
        scale = SIZE_LARGE * (CUBE_SCALE if p.shape == "cube" else 1.0)
        obj.scale = (scale, scale, scale)
        obj.location = (0.0, 0.0, scale)
        obj.rotation_mode = "XYZ"
        obj.rotation_euler = (0.0, 0.0, math.radians(p.rotation_deg))
        self.bsdf.inputs["Base Color"].default_value = (*p.color, 1.0)
        m = MATERIALS[p.material]
        self.bsdf.inputs["Metallic"].default_value = m["metallic"]
        self.bsdf.inputs["Roughness"].default_value = m["roughness"]
        self.camera.location = p.camera_location
        _aim(self.camera, Vector(self.target))
        for lo, spec, loc in zip(self.lights, LIGHTS, p.light_locations):
            lo.location = loc
            _aim(lo)
            lo.data.energy = self.light_scale * spec.power * (p.key_power_factor if spec.name == "key" else 1.0)
        self.scene.cycles.seed = int(p.image_seed) % (2**31)

    def render(self, p: ImageParams) -> np.ndarray:
        """Render one image; uint8 ``(channels, resolution, resolution)``."""
        self.pose(p)
        self.scene.render.filepath = self._png
        bpy.ops.render.render(write_still=True)
        return _read_png(self._png, self.spec.channels)

    def close(self) -> None:
        """Remove the temporary folder."""
        shutil.rmtree(self._tmp, ignore_errors=True)


def _read_png(path: str, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGBA" if channels == 4 else "L")
        a = np.asarray(im, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    return np.ascontiguousarray(a.transpose(2, 0, 1))
