"""Tables (LaTeX, Markdown, CSV) and matplotlib figures built from the result store only."""
