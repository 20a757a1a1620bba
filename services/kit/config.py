"""The kit's settings: a re-export of the one loader, which lives in the clients package (`realm.settings`).

Services keep importing `services.kit.config`; the SDK and CLI import `realm.settings` and never the services.
"""

from realm.settings import (
    CONFIG_ENV,
    DEFAULT_DEPENDENCIES,
    OVERRIDE_PREFIX,
    ROLES,
    SERVICE_NAMES,
    ConfigError,
    HostSpec,
    ServiceEndpoint,
    Settings,
    TokenSpec,
    apply_env_overrides,
    default_config_path,
    load_settings,
    settings_from_dict,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_DEPENDENCIES",
    "OVERRIDE_PREFIX",
    "ROLES",
    "SERVICE_NAMES",
    "ConfigError",
    "HostSpec",
    "ServiceEndpoint",
    "Settings",
    "TokenSpec",
    "apply_env_overrides",
    "default_config_path",
    "load_settings",
    "settings_from_dict",
]
