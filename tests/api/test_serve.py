"""`clinic-server serve` as operators run it: several API processes over one database, over TLS.

Real processes on a free port (no in-process app): two workers share the signing key, so a token
from one is good at the other; the client verifies the server's certificate against the CA file it
is given and refuses, with its own clear error, one it cannot verify.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clinic_tui.api.client import ClientErrorCode, ClinicClient, Unreachable
from tests.factories import PASSWORD

pytestmark = pytest.mark.api

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clinic test server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "server.pem", tmp / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def _wait_up(url: str, verify, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            if httpx.get(url + "/api/v1/health", verify=verify, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError("the server did not come up")


def _workers(proc: subprocess.Popen) -> set[int]:
    """The pids of the uvicorn worker processes under ``proc`` (Linux /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cmdline = (stat.parent / "cmdline").read_bytes() if (stat.parent / "cmdline").exists() else b""
        if int(fields[1]) == proc.pid and b"spawn_main" in cmdline:  # (not multiprocessing's tracker)
            out.add(int(stat.parent.name))
    return out


@pytest.fixture
def served(db_url, tmp_path, world, session):
    org = world.org("Vårdcentralen Norra")
    world.user("anna", "nurse", org)
    session.commit()
    cert, key = _self_signed(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": db_url, "CLINIC_MISSING_SWEEP_MINUTES": "0"}
    args = ["serve", "--port", str(port), "--workers", "2", "--certfile", str(cert), "--keyfile", str(key)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "clinic_server", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        _wait_up(url, ssl.create_default_context(cafile=str(cert)), proc)
        yield url, cert, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_two_tls_workers_share_the_signing_key_and_the_client_verifies_the_certificate(served):
    url, cert, proc = served
    assert len(_workers(proc)) == 2

    async def scenario():
        client = ClinicClient(url, ca_file=str(cert))
        try:
            await client.login("anna", PASSWORD)
            # requests spread over both processes: a token issued by one is accepted by the other
            for _ in range(12):
                assert (await client.me()).username == "anna"
        finally:
            await client.aclose()
        stranger = ClinicClient(url)  # the system's CAs: this self-signed certificate is not trusted
        try:
            with pytest.raises(Unreachable) as refused:
                await stranger.info()
            assert refused.value.code == ClientErrorCode.UNTRUSTED_CERTIFICATE
        finally:
            await stranger.aclose()

    asyncio.run(scenario())


def test_serve_refuses_half_a_tls_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env["CLINIC_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-m", "clinic_server", "serve", "--certfile", str(tmp_path / "c.pem")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--certfile and --keyfile go together" in result.stderr


def _response(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (head and Content-Length body) read from ``conn``; the head and
    the body may come in separate segments. Empty if the server closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_an_idle_connection_outlives_the_alert_queues_poll_interval(tmp_path):
    """The queue polls every 5 s: the server must not close a keep-alive connection idle that long
    (uvicorn's default of 5 s made a poll fail now and then with "connection reset")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    env |= {"CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}", "CLINIC_MISSING_SWEEP_MINUTES": "0"}
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clinic_server", "serve", "--migrate", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    request = f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        _wait_up(f"http://127.0.0.1:{port}", True, proc)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            for _ in range(2):
                conn.sendall(request)
                assert _response(conn).startswith(b"HTTP/1.1 200")
                time.sleep(6.5)  # longer than the poll interval (and uvicorn's default keep-alive)
            conn.sendall(request)
            assert _response(conn).startswith(b"HTTP/1.1 200")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
