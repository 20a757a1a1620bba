"""The training worker: a separate process that trains one quest (see README.md)."""
