"""Live read models: projections folded from the log and kept up to date."""

from cairn.readmodel.runner import ProjectionRunner, ReadModelLagging

__all__ = ["ProjectionRunner", "ReadModelLagging"]
