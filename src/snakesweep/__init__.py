"""snakesweep: the library behind the Snakemake sweep workflow.

Nothing here imports snakemake: the workflow calls the library, never the other way round, so every
piece is usable and testable on its own.
"""

# The package's version and its error type: a release must not change every point's id.
RESULT_CODE = False

__version__ = "0.6.0"


class SnakesweepError(ValueError):
    """Bad input (config, sweep spec or data), reported before any training starts.

    The message names the key, column, file or parameter, what was expected and what was found.
    """
