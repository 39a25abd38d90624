"""The tap's settings: their JSON schema (for ``--about`` and Meltano) and their validation."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_convex.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

ON_EXPIRED_CHOICES = ("resnapshot", "fail")
TRANSPORT_CHOICES = ("streaming_export", "data_sync")


def _choice_property(
    name: str, choices: tuple[str, ...], *, title: str, description: str
) -> th.Property[Any]:
    """A setting that takes one of ``choices``, the first by default."""
    return th.Property(
        name,
        th.StringType,
        default=choices[0],
        allowed_values=list(choices),
        title=title,
        description=description,
    )


CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "deployment_url",
        th.StringType(nullable=False),
        required=True,
        title="Deployment URL",
        description="The deployment's URL, e.g. https://happy-animal-123.convex.cloud "
        "(not the .convex.site HTTP-actions URL).",
    ),
    th.Property(
        "deploy_key",
        th.StringType(nullable=False),
        required=True,
        secret=True,
        title="Deploy key",
        description="A deploy key with the deployment:data:view permission (Convex dashboard, "
        "Settings > Deploy keys). Streaming export needs a Convex Pro plan.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=120,
        title="Request timeout (seconds)",
        description="Time limit for one HTTP request; a snapshot page can take up to about 60 s.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        title="Retries",
        description="How often a request is retried after a 429, a 5xx, a timeout or a dropped "
        "connection, with exponential backoff and jitter, before the sync fails.",
    ),
    th.Property(
        "retry_backoff_seconds",
        th.NumberType,
        default=1.0,
        title="First retry delay (seconds)",
        description="Delay before the first retry; it doubles for each later one.",
    ),
    th.Property(
        "retry_backoff_max_seconds",
        th.NumberType,
        default=60.0,
        title="Longest retry delay (seconds)",
        description="Upper bound for one retry delay, including a server's Retry-After.",
    ),
    _choice_property(
        "on_expired_position",
        ON_EXPIRED_CHOICES,
        title="When a saved position has expired",
        description="'resnapshot' (default) re-snapshots the affected tables with a warning when "
        "a saved delta cursor is outside the deployment's retention window or a paused snapshot "
        "is over 5 days old; 'fail' stops the sync instead.",
    ),
    _choice_property(
        "transport",
        TRANSPORT_CHOICES,
        title="Transport",
        description="'streaming_export' (default): list_snapshot, then document_deltas. "
        "'data_sync': Convex's newer Data Sync API (beta; it may still change), one walk with "
        "one cursor, which also handles tables replaced wholesale (imports, restores, cleared "
        "tables). A state moves from streaming_export to data_sync without a re-snapshot; "
        "moving back re-snapshots.",
    ),
    th.Property(
        "progress_interval_seconds",
        th.NumberType,
        default=30,
        title="Progress interval (seconds)",
        description="During a walk, log at most one INFO line this often: the phase, records so "
        "far, records/s, the table being snapshotted and how far behind the change log is. "
        "0 turns the heartbeat off.",
    ),
    th.Property(
        "ca_bundle",
        th.StringType,
        title="CA bundle",
        description="Path to a PEM file of certificate authorities to trust instead of the "
        "system's, for deployments behind a private CA. TLS is always verified.",
    ),
    th.Property(
        "allow_insecure_http",
        th.BooleanType,
        default=False,
        title="Allow plain HTTP",
        description="Allow an http:// deployment URL whose host is not loopback. Off by default, "
        "because the deploy key would cross the network in clear text.",
    ),
).to_dict()


@dataclass(frozen=True)
class Settings:
    """Validated settings; ``repr`` never shows the deploy key."""

    deployment_url: str
    deploy_key: str
    request_timeout: float = 120.0
    max_retries: int = 8
    retry_backoff_seconds: float = 1.0
    retry_backoff_max_seconds: float = 60.0
    on_expired_position: str = "resnapshot"
    transport: str = "streaming_export"
    progress_interval_seconds: float = 30.0
    ca_bundle: str | None = None
    allow_insecure_http: bool = False

    def __repr__(self) -> str:
        return f"Settings(deployment_url={self.deployment_url!r}, deploy_key='***')"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Validate the raw config; every problem is a :class:`ConfigError` naming the setting."""
        url = _deployment_url(config.get("deployment_url"), bool(config.get("allow_insecure_http")))
        key = config.get("deploy_key")
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(
                "deploy_key is missing: set it (or TAP_CONVEX_DEPLOY_KEY) to a deploy key with "
                "the deployment:data:view permission."
            )
        return cls(
            deployment_url=url,
            deploy_key=key.strip(),
            request_timeout=_positive(config, "request_timeout", 120.0),
            max_retries=int(_positive(config, "max_retries", 8, allow_zero=True)),
            retry_backoff_seconds=_positive(config, "retry_backoff_seconds", 1.0, allow_zero=True),
            retry_backoff_max_seconds=_positive(config, "retry_backoff_max_seconds", 60.0),
            on_expired_position=_choice(config, "on_expired_position", ON_EXPIRED_CHOICES),
            transport=_choice(config, "transport", TRANSPORT_CHOICES),
            progress_interval_seconds=_positive(
                config, "progress_interval_seconds", 30.0, allow_zero=True
            ),
            ca_bundle=config.get("ca_bundle") or None,
            allow_insecure_http=bool(config.get("allow_insecure_http")),
        )


def _choice(config: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = config.get(name) or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return str(value)


def _positive(
    config: Mapping[str, Any], name: str, default: float, *, allow_zero: bool = False
) -> float:
    value = config.get(name)
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, Decimal))
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        raise ConfigError(f"{name} must be a positive number; got {value!r}.")
    return float(value)


def _deployment_url(raw: Any, allow_insecure_http: bool) -> str:
    """Accept ``http(s)://host[:port][/]`` only, as Convex's own connector does."""
    hint = (
        "Set deployment_url to your deployment's URL, e.g. https://happy-animal-123.convex.cloud."
    )
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"deployment_url is missing. {hint}")
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"deployment_url {raw!r} is not a valid URL. {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"deployment_url {raw!r} must be an http(s) URL with a host. {hint}")
    if (
        parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ConfigError(
            f"deployment_url {raw!r} must have no path, query, fragment or credentials. {hint}"
        )
    if parts.hostname.endswith(".convex.site"):
        raise ConfigError(
            f"deployment_url {raw!r} is an HTTP-actions URL; use the .convex.cloud URL instead."
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"deployment_url {raw!r} uses plain http to a host that is not loopback, which would "
            "send the deploy key in clear text. Use https, or set allow_insecure_http to true."
        )
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:
        netloc = f"[{parts.hostname}]" + ("" if port is None else f":{port}")
    return f"{parts.scheme}://{netloc}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
