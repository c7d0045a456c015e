"""Blender-rendered data sets: NR-Objects (ENRC) and OBJECTS (ACe/DeC).

Importing this package never imports ``bpy``: only the render worker process
does (``generators.render.worker`` -> ``generators.render.scene``).

- ``spec``: the CLEVR constants and per-image parameter draws (numpy only);
- ``scene``: the Blender scene (worker only);
- ``worker``: the render worker process;
- ``shards``: planning, resume and assembly;
- ``executors``: local subprocesses or Dask;
- ``datasets``: ``build_nrobjects`` / ``build_objects`` and ``render_dataset``;
- ``contact_sheet``: one labelled example per label combination.
"""

from generators.render.datasets import build_nrobjects, build_objects, render_dataset

__all__ = ["build_nrobjects", "build_objects", "render_dataset"]
