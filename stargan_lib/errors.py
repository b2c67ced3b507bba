"""The course's error types: each message names the path or value at fault and how to fix it.

Introduced in `notebooks/00_setup_and_data.ipynb` (which catches a DataError); every notebook and the
`stargan` command raise them, and the command prints them as one line without a traceback.
"""


class StarganError(Exception):
    """Base class of the course's errors; the CLI prints these without a traceback (notebook 00)."""


class DataError(StarganError, ValueError):
    """Raised when a dataset on disk or in memory is not what the loader expects (notebook 00)."""


class ConfigError(StarganError, ValueError):
    """Raised when a preset, configuration or argument has a value the code cannot use (notebook 00)."""


class CheckpointError(StarganError, ValueError):
    """Raised when a checkpoint does not match the model or run it is loaded into (notebook 00)."""


class WeightsError(StarganError, RuntimeError):
    """Raised when pretrained metric weights are missing and cannot be provisioned (notebook 00, `stargan weights`)."""


class TrainingError(StarganError, RuntimeError):
    """Raised when training must stop the run (for example a NaN loss); training starts in notebook 01."""
