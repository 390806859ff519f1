"""A TLS front for the test bed: a test CA, a server certificate for 127.0.0.1 signed by it, and a
loopback TLS listener that passes the decrypted bytes on to a plain port (the bed's proxy)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CertAuthority:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_ca(directory: Path, name: str = "test") -> CertAuthority:
    """A throwaway CA and a certificate for IP 127.0.0.1 it signs (openssl, seconds)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    ca_key, ca_cert = directory / f"{name}-ca.key", directory / f"{name}-ca.pem"
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    ext = directory / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name} test CA",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_cert),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(cert),
    )
    return CertAuthority(ca_cert, cert, key)


@dataclass
class TlsFront:
    """Accepts TLS on a loopback port of its own and relays each connection to `upstream_port`."""

    ca: CertAuthority
    upstream_port: int
    port: int = 0
    _listener: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> TlsFront:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.ca.server_cert, self.ca.server_key)
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.2)
        self.port = int(listener.getsockname()[1])
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(context,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _accept(self, context: ssl.SSLContext) -> None:
        assert self._listener is not None
        while not self._stopped.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(context, raw), daemon=True).start()

    def _serve(self, context: ssl.SSLContext, raw: socket.socket) -> None:
        try:
            client = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # a client that refused our certificate
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        relays = [
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True),
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True),
        ]
        for relay in relays:
            relay.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            target.sendall(chunk)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
