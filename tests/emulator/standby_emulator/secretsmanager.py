"""Secrets Manager as AWS behaves for the calls standby makes (JSON).

moto 5.2.5 differs from AWS (API reference, CreateSecret / PutSecretValue
errors) for a secret scheduled for deletion (DeleteSecret with a recovery
window):
- CreateSecret of its name answers ResourceExistsException ("already
  exists"), which a tool would take for its own repeated create; AWS answers
  InvalidRequestException "You can't create this secret because a secret
  with this name is already scheduled for deletion.";
- PutSecretValue adds a version to it; AWS refuses (InvalidRequestException,
  "... because it was marked for deletion.").

Two more differences, fixed below:
- DeleteSecret with ForceDeleteWithoutRecovery: moto forgets the secret at
  once. AWS: "Secrets Manager performs the actual deletion with an
  asynchronous background process, so there might be a short delay before
  the secret is permanently deleted. If you delete a secret and then
  immediately create a secret with the same name, use appropriate back off
  and retry logic." (API reference, DeleteSecret). Here the secret stays,
  marked deleted (DeletedDate: now), for `secrets_force_delete_ms`
  (settings.py): CreateSecret of its name is refused as for a scheduled
  deletion meanwhile.
- PutSecretValue with a ClientRequestToken that is already a version of the
  secret, and another value: moto overwrites that version. AWS: "if the
  secret data is different, then the operation fails because you can't
  modify an existing version; you can only create new ones" (API reference,
  PutSecretValue). The error code is not in the model; this answers
  ResourceExistsException "You can't modify an existing version, you can
  only create a new version.", as other AWS emulators do (UNCONFIRMED
  against AWS).
"""

import threading

from moto.core.utils import utcnow
from moto.secretsmanager.exceptions import InvalidRequestException, ResourceExistsException
from moto.secretsmanager.models import SecretsManagerBackend

from .settings import SETTINGS


def _deleted(backend: SecretsManagerBackend, secret_id: str) -> bool:
    secret = backend.secrets.get(secret_id) if backend._is_valid_identifier(secret_id) else None
    return secret is not None and getattr(secret, "is_deleted", lambda: False)()


def fix_scheduled_for_deletion() -> None:
    create = SecretsManagerBackend.create_secret
    put = SecretsManagerBackend.put_secret_value

    def create_secret(self, name, *args, **kwargs):
        if _deleted(self, name):
            raise InvalidRequestException(
                "You can't create this secret because a secret with this name is already scheduled for deletion."
            )
        return create(self, name, *args, **kwargs)

    def put_secret_value(self, secret_id, *args, **kwargs):
        if _deleted(self, secret_id):
            raise InvalidRequestException(
                "You can't perform this operation on the secret because it was marked for deletion."
            )
        return put(self, secret_id, *args, **kwargs)

    SecretsManagerBackend.create_secret = create_secret
    SecretsManagerBackend.put_secret_value = put_secret_value


def fix_forced_deletion_is_asynchronous() -> None:
    original = SecretsManagerBackend.delete_secret

    def delete_secret(self, secret_id, recovery_window_in_days, force_delete_without_recovery):  # type: ignore[no-untyped-def]
        lag = SETTINGS.get("secrets_force_delete_ms", 0) / 1000
        if not (force_delete_without_recovery and lag > 0 and self._is_valid_identifier(secret_id)):
            return original(self, secret_id, recovery_window_in_days, force_delete_without_recovery)
        secret = self.secrets[secret_id]
        now = self._unix_time_secs(utcnow())
        secret.delete(now)
        name = secret.name

        def finish() -> None:
            if self.secrets.get(name) is secret:
                self.secrets.pop(name)

        timer = threading.Timer(lag, finish)
        timer.daemon = True
        timer.start()
        return secret.arn, name, now

    SecretsManagerBackend.delete_secret = delete_secret


def fix_token_reuse_with_another_value() -> None:
    original = SecretsManagerBackend.put_secret_value

    def put_secret_value(self, secret_id, secret_string, secret_binary, client_request_token, version_stages):  # type: ignore[no-untyped-def]
        secret = self.secrets[secret_id] if self._is_valid_identifier(secret_id) else None
        version = (secret.versions.get(client_request_token) or {}) if secret and client_request_token else {}
        if version and (version.get("secret_string"), version.get("secret_binary")) != (secret_string, secret_binary):
            raise ResourceExistsException("You can't modify an existing version, you can only create a new version.")
        return original(self, secret_id, secret_string, secret_binary, client_request_token, version_stages)

    SecretsManagerBackend.put_secret_value = put_secret_value


def apply() -> None:
    fix_scheduled_for_deletion()
    fix_forced_deletion_is_asynchronous()
    fix_token_reuse_with_another_value()
