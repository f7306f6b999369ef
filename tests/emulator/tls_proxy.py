"""A TLS-terminating TCP forwarder for the tests: what a tunnel to a domain looks like.

    python tls_proxy.py --target 127.0.0.1:PORT --dir DIR --name '*.us-east-1.es.amazonaws.com' [--name ...]

Makes a private CA (DIR/ca.pem) and a server certificate for the names,
signed by it (as a domain presents `*.<region>.es.amazonaws.com`), listens
on 127.0.0.1 (port written to DIR/port) and forwards each decrypted
connection to --target (the emulator, plain HTTP). Runs until killed.
"""

import argparse
import datetime
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _cert(subject: str, key, issuer_name, issuer_key, ca: bool, names: list[str]):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                          content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False,
                                          encipher_only=False, decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def make_certs(directory: Path, names: list[str]) -> ssl.SSLContext:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("standby test CA", ca_key, None, None, True, [])
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(names[0], key, ca.subject, ca_key, False, names)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                                           + ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(directory / "server.pem", directory / "server.key")
    return ctx


def _pipe(src, dst) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _serve(conn: socket.socket, ctx: ssl.SSLContext, target: tuple[str, int]) -> None:
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()  # e.g. the client refused the certificate
        return
    upstream = socket.create_connection(target)
    threading.Thread(target=_pipe, args=(upstream, tls), daemon=True).start()
    _pipe(tls, upstream)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--name", action="append", required=True)
    args = ap.parse_args()
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    ctx = make_certs(directory, args.name)
    host, port = args.target.rsplit(":", 1)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    (directory / "port.tmp").write_text(str(server.getsockname()[1]))
    (directory / "port.tmp").rename(directory / "port")
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_serve, args=(conn, ctx, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    main()
