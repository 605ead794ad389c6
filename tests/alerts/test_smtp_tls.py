"""E-mail over STARTTLS and implicit TLS with AUTH, against aiosmtpd with a certificate made here."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from alerts.outbox import plan_digests, send_pending
from tests.support.mail import SmtpServer
from yuqing.storage import DeliveryRow, open_database

from .factory import NOW, ZZB, PostSpec, add_post, make_settings, settings_yaml


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


class Logins:
    """An aiosmtpd authenticator that accepts one user and remembers every attempt."""

    def __init__(self) -> None:
        self.tried: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.tried.append((login, password))
        ok = (login, password) == ("yuqing", "s3cret-密码")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


@pytest.fixture
def starttls_server(cert: tuple[Path, Path]) -> Iterator[tuple[SmtpServer, Logins]]:
    logins = Logins()
    s = SmtpServer(tls_context=server_context(cert), require_starttls=True, authenticator=logins, auth_required=True).start()
    yield s, logins
    s.stop()


@pytest.fixture
def implicit_tls_server(cert: tuple[Path, Path]) -> Iterator[tuple[SmtpServer, Logins]]:
    logins = Logins()
    # aiosmtpd does not know a wrapped socket is TLS; the whole session is, so AUTH may go ahead.
    s = SmtpServer(ssl_context=server_context(cert), authenticator=logins, auth_required=True, auth_require_tls=False).start()
    yield s, logins
    s.stop()


def run(tmp_path: Path, port: int, smtp_extra: str, monkeypatch: pytest.MonkeyPatch, password: str = "s3cret-密码") -> tuple[Any, Any]:
    monkeypatch.setenv("YQ_SMTP_PASSWORD", password)
    text = settings_yaml(f"sqlite:///{tmp_path / 'y.db'}", smtp_port=port, units=ZZB).replace(
        "timeout: 5s}", f"timeout: 5s, username: yuqing, password: '${{YQ_SMTP_PASSWORD}}', {smtp_extra}}}"
    )
    st = make_settings(tmp_path, text)
    db = open_database(st.database_url())
    add_post(db, PostSpec("干部任前公示", "本次干部任前公示期为五个工作日。", ["干部"], matches=[("zzb", "cadre_appointment", "medium")]))
    plan_digests(db, st, NOW)
    return send_pending(db, st, NOW), db


def test_starttls_with_auth_and_a_private_ca(tmp_path, starttls_server, cert, monkeypatch):
    server, logins = starttls_server
    report, _ = run(tmp_path, server.port, f"starttls: true, ca_file: '{cert[0]}'", monkeypatch)
    assert report.sent == 1, report.errors
    assert logins.tried == [("yuqing", "s3cret-密码")]  # the server only offers AUTH after STARTTLS
    [got] = server.messages
    assert got.rcpt_tos == ["officer@example.org", "deputy@example.org"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_auth(tmp_path, implicit_tls_server, cert, monkeypatch):
    server, logins = implicit_tls_server
    report, _ = run(tmp_path, server.port, f"tls: true, ca_file: '{cert[0]}'", monkeypatch)
    assert report.sent == 1, report.errors
    assert len(server.messages) == 1 and logins.tried == [("yuqing", "s3cret-密码")]


def test_a_certificate_that_does_not_verify_is_not_trusted(tmp_path, starttls_server, monkeypatch):
    server, logins = starttls_server
    report, _ = run(tmp_path, server.port, "starttls: true", monkeypatch)
    assert report.sent == 0 and report.retrying == 1
    assert "CERTIFICATE_VERIFY_FAILED" in report.errors[0] or "certificate" in report.errors[0].lower()
    assert logins.tried == [] and server.messages == []  # the password never left over an untrusted link


def test_a_wrong_password_parks_the_delivery_with_a_clear_reason(tmp_path, starttls_server, cert, monkeypatch):
    server, _ = starttls_server
    report, db = run(tmp_path, server.port, f"starttls: true, ca_file: '{cert[0]}'", monkeypatch, password="wrong")
    assert report.parked == 1 and "refused the login: 535" in report.errors[0]
    with db.session() as s:
        assert s.scalars(select(DeliveryRow.state)).one() == "parked"
    assert server.messages == []
