"""The vault: content-addressed assets, aliases, lineage, evals, ledger and retention."""
