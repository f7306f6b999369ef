"""RDS modifications that AWS does not make at once, or refuses.

- ModifyDBInstance (AWS RDS API reference): ApplyImmediately "Specifies
  whether the modifications in this request and any pending modifications are
  asynchronously applied as soon as possible ... If this parameter is
  disabled, changes to the DB instance are applied during the next
  maintenance window"; DBInstanceClass: "If you modify the DB instance class,
  an outage occurs during the change". DescribeDBInstances reports a change
  held for the window in PendingModifiedValues{DBInstanceClass}. moto 5.2.5
  applies every change at once and never reports pending values. Here a
  class change without ApplyImmediately is held (POST
  /_emulator/rds/maintenance plays the maintenance window), and every class
  change is recorded, held or applied (an outage), for tests: GET
  /_emulator/rds/instance-changes.
- ModifyDBCluster (botocore ModifyDBClusterMessage.ManageMasterUserPassword):
  "If the DB cluster already manages the master user password with Amazon
  Web Services Secrets Manager, and you specify that the master user password
  is not managed with Amazon Web Services Secrets Manager, then you must
  specify MasterUserPassword." moto 5.2.5 deletes the secret and accepts the
  call without one. The exact error code AWS answers is not documented:
  InvalidParameterCombination, the code RDS uses for such pairs.
"""

import threading
import time

from moto.rds.exceptions import InvalidParameterCombination
from moto.rds.models import RDSBackend

LOCK = threading.RLock()
# {instance, region, from, to, applied: "now" | "held" | "maintenance window", time}
CHANGES: list[dict] = []
# Instances with a class change held for the window: (backend, instance id) -> class
HELD: dict[tuple[int, str], tuple[RDSBackend, str]] = {}


def reset() -> None:
    with LOCK:
        CHANGES.clear()
        HELD.clear()


def changes() -> list[dict]:
    with LOCK:
        return [dict(c) for c in CHANGES]


def _record(instance, region: str, before: str, after: str, applied: str) -> None:
    CHANGES.append({"instance": instance.db_instance_identifier, "region": region, "from": before, "to": after,
                    "applied": applied, "time": time.time()})


def maintenance() -> list[dict]:
    """The maintenance window: held class changes are made (an outage each)."""
    with LOCK:
        done = []
        for (_, ident), (backend, cls) in list(HELD.items()):
            instance = backend.databases.get(ident)
            if instance is None:
                continue
            before = instance.db_instance_class
            instance.db_instance_class = cls
            instance.pending_modified_values = {}
            _record(instance, backend.region_name, before, cls, "maintenance window")
            done.append({"instance": ident, "class": cls})
        HELD.clear()
        return done


def fix_instance_modifications() -> None:
    original = RDSBackend.modify_db_instance

    def modify_db_instance(self: RDSBackend, db_instance_identifier: str, db_kwargs: dict) -> object:
        instance = self.describe_db_instances(db_instance_identifier)[0]
        wanted = db_kwargs.get("db_instance_class")
        now = str(db_kwargs.get("apply_immediately", False)).lower() == "true"
        with LOCK:
            if wanted and wanted != instance.db_instance_class:
                if not now:
                    db_kwargs = {k: v for k, v in db_kwargs.items() if k != "db_instance_class"}
                    HELD[(id(self), db_instance_identifier)] = (self, wanted)
                    instance.pending_modified_values = {"DBInstanceClass": wanted}
                    _record(instance, self.region_name, instance.db_instance_class, wanted, "held")
                else:
                    HELD.pop((id(self), db_instance_identifier), None)
                    instance.pending_modified_values = {}
                    _record(instance, self.region_name, instance.db_instance_class, wanted, "now")
            elif now and (id(self), db_instance_identifier) in HELD:
                # ApplyImmediately applies the pending modifications too.
                _, held = HELD.pop((id(self), db_instance_identifier))
                _record(instance, self.region_name, instance.db_instance_class, held, "now")
                db_kwargs = {**db_kwargs, "db_instance_class": held}
                instance.pending_modified_values = {}
        return original(self, db_instance_identifier, db_kwargs)

    RDSBackend.modify_db_instance = modify_db_instance


def fix_leaving_managed_password() -> None:
    original = RDSBackend.modify_db_cluster

    def modify_db_cluster(self: RDSBackend, kwargs: dict) -> object:
        cluster = self.clusters.get(kwargs.get("db_cluster_identifier"))
        leaving = str(kwargs.get("manage_master_user_password")).lower() == "false"
        if cluster is not None and leaving and getattr(cluster, "manage_master_user_password", False) \
                and not kwargs.get("master_user_password"):
            raise InvalidParameterCombination(
                "To stop managing the master user password with Secrets Manager, specify MasterUserPassword.")
        return original(self, kwargs)

    RDSBackend.modify_db_cluster = modify_db_cluster


def apply() -> None:
    fix_instance_modifications()
    fix_leaving_managed_password()
