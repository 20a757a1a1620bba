"""The `realm` command line."""
