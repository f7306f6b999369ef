"""Certificates for HTTPS listeners of the game-day world: a private CA of
this emulator (`GET /_emulator/world/ca.pem`) signs, for each listener, a
certificate for its ACM certificate's domain names and the load
balancer's DNS name, the way ACM's certificate would present them."""

import datetime
import ssl
import tempfile
import threading

LOCK = threading.Lock()
_CA: tuple[object, object] | None = None
_CONTEXTS: dict[tuple[str, ...], ssl.SSLContext] = {}


def _ca():  # type: ignore[no-untyped-def]
    global _CA
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if _CA is None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "standby emulator world CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        _CA = (key, cert)
    return _CA


def ca_pem() -> str:
    from cryptography.hazmat.primitives import serialization

    with LOCK:
        _, cert = _ca()
        return cert.public_bytes(serialization.Encoding.PEM).decode()  # type: ignore[attr-defined]


def server_context(names: list[str]) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key_names = tuple(sorted({n.lower().rstrip(".") for n in names if n}))
    with LOCK:
        if key_names in _CONTEXTS:
            return _CONTEXTS[key_names]
        ca_key, ca_cert = _ca()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, key_names[0])]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())  # type: ignore[attr-defined]
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in key_names]), critical=False)
                .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
            f.flush()
            ctx.load_cert_chain(f.name)
        _CONTEXTS[key_names] = ctx
        return ctx
