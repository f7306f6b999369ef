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
"""

from moto.secretsmanager.exceptions import InvalidRequestException
from moto.secretsmanager.models import SecretsManagerBackend


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


def apply() -> None:
    fix_scheduled_for_deletion()
