"""Realm: generated protobuf/gRPC code (realm.<service>.v1), the Python SDK (realm.sdk) and the CLI."""
