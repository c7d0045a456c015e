"""Names of the report outputs, cheap to import (the CLI builds its --help from them).

One source of truth for the figure names, the suite that produces each
figure's inputs, and the table formats; ``reports.figures`` attaches the drawing
functions to these names.
"""

from __future__ import annotations

#: figure name -> (suite that produces its inputs, one-line description).
FIGURE_INFO: dict[str, tuple[str, str]] = {
    "acedec-fig1a": ("acedec-fig1a",
                     "ACe/DeC Fig. 1a: NMI vs number of noise dimensions of SYNTH-k, DCN vs ACe/DeC+DCN, "
                     "mean and 95% CI"),
    "acedec-fig4": ("acedec-fig4",
                    "ACe/DeC Fig. 4: NMI over the lambda x learning-rate grid (DCN) and the learning rate "
                    "(ACe/DeC+DCN), mean and 95% CI"),
    "enrc-fig3": ("enrc-casestudy",
                  "ENRC Fig. 3: top-beta scatter per clustering with histograms, decoded centres as images"),
    "enrc-fig4": ("enrc-casestudy",
                  "ENRC Fig. 4: sorted beta weights per clustering, after initialisation and after training"),
    "acedec-fig3": ("acedec-table1",
                    "ACe/DeC Fig. 3: latent traversal, embedded points and decoded images on shared-space PC1 vs "
                    "the top-beta_cs dimension"),
    "acedec-fig1b": ("acedec-table1",
                     "ACe/DeC Fig. 1b: reconstructions from the cluster space only and from the shared space only"),
}

#: Table output formats and their file extensions.
TABLE_FORMATS: dict[str, str] = {"latex": "tex", "md": "md", "csv": "csv"}
