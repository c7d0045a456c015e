"""Tables (LaTeX, Markdown, CSV) and matplotlib figures built from the result store only.

- ``reports.source``: the store's rows (``benchmark.store.Store.frame``) and run artefacts;
- ``reports.aggregate``: the papers' protocol (best run by own loss per autoencoder, mean ± std);
- ``reports.tables``: the four published table layouts, format-independent;
  ``reports.latex`` / ``reports.markdown`` / ``reports.csvtable`` render them;
- ``reports.published``: the published numbers (``benchmark/published/*.csv``) beside ours;
- ``reports.figures``: ENRC Figs. 3-4 and ACe/DeC Figs. 1a, 3, 4;
- ``reports.writer``: ``nrbench report``; ``reports.catalog``: names the CLI needs cheaply;
- ``reports.synthetic``: stores with known numbers for tests, benchmarks and demos.
"""
