"""Realm's Python SDK: `from realm.sdk import connect`."""

from realm.sdk.core import Realm, ServiceClient, close_channels, connect

__all__ = ["Realm", "ServiceClient", "close_channels", "connect"]
