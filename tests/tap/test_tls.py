"""TLS: verified by default; a private CA works through the ca_bundle setting."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from convex_emulator import EmulatorServer, Store, datasets
from tests.tap.harness import run_tap, run_tap_process


def _certificate(subject: str, issuer_key: Any, public_key: Any, issuer: str, *, ca: bool) -> Any:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def private_ca(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A private CA (its PEM file) and a server context whose certificate it signed."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(
        "tap-convex test CA", ca_key, ca_key.public_key(), "tap-convex test CA", ca=True
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(
        "127.0.0.1", ca_key, server_key.public_key(), "tap-convex test CA", ca=False
    )
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return ca_path, context


@pytest.fixture
def https_emulator(
    store: Store, private_ca: tuple[Path, ssl.SSLContext]
) -> Iterator[EmulatorServer]:
    datasets.load_demo(store)
    with EmulatorServer(store, tls=private_ca[1]) as server:
        yield server


def test_private_ca_is_trusted_through_ca_bundle(
    https_emulator: EmulatorServer, private_ca: tuple[Path, ssl.SSLContext]
) -> None:
    config = {
        "deployment_url": https_emulator.url,
        "deploy_key": https_emulator.admin_key,
        "ca_bundle": str(private_ca[0]),
    }
    assert https_emulator.url.startswith("https://")
    assert len(run_tap(config).records("messages")) == 200


def test_unverifiable_certificate_is_a_clear_error_without_retries(
    https_emulator: EmulatorServer, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(
        json.dumps({"deployment_url": https_emulator.url, "deploy_key": https_emulator.admin_key})
    )
    result = run_tap_process(config_path)
    assert result.returncode != 0
    assert "set ca_bundle" in result.stderr.splitlines()[-1]
    assert "retrying" not in result.stderr


def test_unreadable_ca_bundle_is_a_config_error(
    https_emulator: EmulatorServer, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(
        json.dumps(
            {
                "deployment_url": https_emulator.url,
                "deploy_key": https_emulator.admin_key,
                "ca_bundle": str(tmp_path / "missing.pem"),
            }
        )
    )
    result = run_tap_process(config_path)
    assert result.returncode != 0
    assert "ca_bundle" in result.stderr.splitlines()[-1]
