"""One module per ``nrbench`` sub-command (see ``benchmark.cli``)."""
