"""Skill plugins: the interface and machinery (base), BIN and SYLLO."""
