"""Realm's operations package: the local supervisor (`realm up|down|play`) and the tiny-hero builder.

It may import both the clients (`realm`) and the services (`services`); neither imports it back.
"""
