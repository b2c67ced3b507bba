"""The course's error types: each message names the path or value at fault and how to fix it."""


class StarganError(Exception):
    """Base class; the CLI prints these without a traceback."""


class DataError(StarganError, ValueError):
    """A dataset on disk or in memory is not what the loader expects."""


class ConfigError(StarganError, ValueError):
    """A preset, configuration or argument has a value the code cannot use."""


class CheckpointError(StarganError, ValueError):
    """A checkpoint does not match the model or run it is loaded into."""


class WeightsError(StarganError, RuntimeError):
    """Pretrained metric weights are missing and cannot be provisioned."""


class TrainingError(StarganError, RuntimeError):
    """Training went wrong in a way that must stop the run (for example a NaN loss)."""
