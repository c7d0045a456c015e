"""The nrbench harness: CLI, suites, runner, executors, result store and metrics."""

__version__ = "0.1.0"
