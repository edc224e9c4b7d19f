"""codeloop: task description in, tested and reviewed Python code out."""

__version__ = "0.1.0"
