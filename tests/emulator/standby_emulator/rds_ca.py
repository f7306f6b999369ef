"""The emulator's "RDS CA": a certificate authority per emulator, and a server
certificate for each Aurora endpoint's host name signed by it.

AWS: RDS creates an SSL/TLS certificate for a DB instance or cluster and signs
it with an RDS CA; clients verify it with the RDS CA bundle
(`sslrootcert=global-bundle.pem sslmode=verify-full`), and the certificate
names the endpoint (Aurora User Guide, "Using SSL/TLS to encrypt a connection
to a DB cluster"; RDS User Guide, PostgreSQL.Concepts.General.SSL: "the SSL
certificate includes the DB instance endpoint as the Common Name"). Here the
bundle is `<instance dir>/rds-ca.pem` (exported as
STANDBY_EMULATOR_RDS_CA_BUNDLE, and in `GET /_emulator/rds/ca`), and each
endpoint presents a certificate whose subject alternative name is exactly its
host name (AWS's certificates use wildcards for the cluster endpoints; an
exact name verifies the same way).

The CA itself is made once per emulator venv (`<venv>/rds-ca/`, like AWS's
one CA for every database) and copied into each instance directory, so an
emulator's start-up costs a file copy; its key is loaded on the first TLS
handshake.
"""

import datetime
import fcntl
import os
import shutil
import ssl
import sys
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "standby emulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _make(cache: Path) -> None:
    """The CA's key and certificate, once per venv."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (cache / "ca.pem").exists():
            return
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(_name("Emulated Amazon RDS Root CA"))
                .issuer_name(_name("Emulated Amazon RDS Root CA"))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        fd = os.open(cache / "ca.key.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.replace(cache / "ca.key.tmp", cache / "ca.key")
        (cache / "ca.pem.tmp").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(cache / "ca.pem.tmp", cache / "ca.pem")


class CA:
    def __init__(self, path: Path, cache: Path | None = None) -> None:
        self.path = path
        self.cache = cache or Path(sys.prefix) / "rds-ca"
        self.lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._key = None
        self._cert = None
        if not (self.cache / "ca.pem").exists():
            _make(self.cache)
        self.pem = (self.cache / "ca.pem").read_bytes()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        shutil.copyfile(self.cache / "ca.pem", tmp)
        tmp.replace(path)

    def _signer(self):
        if self._key is None:
            self._key = serialization.load_pem_private_key((self.cache / "ca.key").read_bytes(), None)
            self._cert = x509.load_pem_x509_certificate(self.pem)
        return self._key, self._cert

    def context(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for `host`."""
        with self.lock:
            ctx = self._contexts.get(host)
            if ctx is not None:
                return ctx
            ca_key, ca_cert = self._signer()
            key = ec.generate_private_key(ec.SECP256R1())
            now = datetime.datetime.now(datetime.timezone.utc)
            leaf = (x509.CertificateBuilder()
                    # X.509 caps a common name at 64 characters, which a long
                    # cluster endpoint passes (RFC 5280, ub-common-name);
                    # clients check the subjectAltName below (libpq's
                    # verify-full too, when one is present).
                    .subject_name(_name(host if len(host) <= 64 else host.split(".")[0]))
                    .issuer_name(ca_cert.subject)
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(minutes=5))
                    .not_valid_after(now + datetime.timedelta(days=30))
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .sign(ca_key, hashes.SHA256()))
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            with tempfile.TemporaryDirectory() as d:
                cert_file, key_file = Path(d) / "c.pem", Path(d) / "k.pem"
                cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + self.pem)
                key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
                ctx.load_cert_chain(cert_file, key_file)
            self._contexts[host] = ctx
            return ctx
