"""RDS fixes for Aurora global databases (Query protocol, XML).

moto 5.2.5 keeps every global cluster in the us-east-1 backend whatever region
the call is made in; clusters live in their own region's backend. The fixes
below look global clusters up there and clusters by ARN in the ARN's region,
so members may live in any region (as in AWS, where a global cluster is not
regional).
"""

import time
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.models import DBCluster, GlobalCluster, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse

from . import rds_endpoints, rds_switch
from .settings import SETTINGS

GLOBAL_REGION = "us-east-1"  # where moto keeps global clusters

# Aurora User Guide, "Password management with Amazon Aurora and AWS Secrets
# Manager", Limitations: not supported for clusters in a global database. The
# exact error AWS returns is not documented (the code is the likeliest).
MANAGED_PASSWORD_REFUSED = (
    "Managing master user passwords with Secrets Manager isn't supported for DB clusters that are part "
    "of an Aurora global database."
)


# ---------------------------------------------------------------- helpers ---


class GlobalClusterNotFoundFault(RDSClientError):
    code = "GlobalClusterNotFoundFault"

    def __init__(self, ident: str):
        super().__init__(f"Global cluster {ident} not found.")


class GlobalClusterAlreadyExistsFault(RDSClientError):
    code = "GlobalClusterAlreadyExistsFault"

    def __init__(self, ident: str):
        super().__init__(f"Global cluster {ident} already exists.")


class InvalidGlobalClusterStateFault(RDSClientError):
    code = "InvalidGlobalClusterStateFault"

    def __init__(self, message: str):
        super().__init__(message)


class InvalidDBClusterStateFault(RDSClientError):
    code = "InvalidDBClusterStateFault"

    def __init__(self, message: str):
        super().__init__(message)


def _global_backend(account: str) -> RDSBackend:
    return rds_backends[account][GLOBAL_REGION]


def _get_global(account: str, ident: str) -> GlobalCluster:
    clusters = _global_backend(account).global_clusters
    if ident.startswith("arn:"):
        ident = ident.split(":")[-1]
    if ident not in clusters:
        raise GlobalClusterNotFoundFault(ident)
    return clusters[ident]


def _find_cluster(account: str, region: str, ident: str) -> DBCluster:
    """A cluster by ARN (looked up in the ARN's region) or by id in `region`."""
    if ident.startswith("arn:"):
        parts = ident.split(":")
        region, account = parts[3], parts[4]
    return rds_backends[account][region].describe_db_clusters(db_cluster_identifier=ident)[0]


def _membership(cluster: DBCluster) -> GlobalCluster | None:
    backend = rds_backends[cluster.account_id][GLOBAL_REGION]
    for gc in backend.global_clusters.values():
        if any(m is cluster for m in gc.members):
            return gc
    return None


def _param_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# -------------------------------------------------------------- the fixes ---


def fix_create_global_cluster() -> None:
    """CreateGlobalCluster refuses an existing id and adopts a source cluster in any region.

    AWS RDS API reference, CreateGlobalCluster: errors include
    GlobalClusterAlreadyExistsFault (400) and DBClusterNotFoundFault (404);
    SourceDBClusterIdentifier is the ARN of the cluster that becomes the
    primary (writer) member; Engine/EngineVersion/DatabaseName/StorageEncrypted
    then come from it. moto 5.2.5 silently replaces an existing global cluster,
    and only finds a source cluster that lives in us-east-1 (and records the
    global cluster's ARN as the member's GlobalClusterIdentifier).
    """

    def create_global_cluster(self: RDSResponse) -> ActionResult:
        params = self.params
        ident = params["GlobalClusterIdentifier"]
        gbackend = _global_backend(self.current_account)
        if ident in gbackend.global_clusters:
            raise GlobalClusterAlreadyExistsFault(ident)
        engine = params.get("Engine")
        engine_version = params.get("EngineVersion")
        storage_encrypted = params.get("StorageEncrypted")
        database_name = params.get("DatabaseName")
        source = None
        source_id = params.get("SourceDBClusterIdentifier")
        if source_id:
            source = _find_cluster(self.current_account, self.region, source_id)
            if engine is not None:
                raise InvalidParameterCombination(
                    "When creating global cluster from existing db cluster, value for "
                    "engineName should not be specified since it will be inherited from "
                    "source cluster"
                )
            if _membership(source) is not None:
                raise InvalidDBClusterStateFault(
                    f"DB cluster {source.db_cluster_arn} is already a member of a global cluster."
                )
            if getattr(source, "manage_master_user_password", False):
                raise InvalidParameterCombination(MANAGED_PASSWORD_REFUSED)
            engine = source.engine
            engine_version = source.engine_version
            storage_encrypted = source.storage_encrypted
            database_name = getattr(source, "database_name", None) or database_name
        gc = gbackend.create_global_cluster(
            global_cluster_identifier=ident,
            source_db_cluster_identifier=None,
            engine=engine,
            engine_version=engine_version,
            storage_encrypted=storage_encrypted,
            deletion_protection=params.get("DeletionProtection"),
        )
        gc.database_name = database_name
        if source is not None:
            source.global_cluster_identifier = gc.global_cluster_identifier
            source.is_writer = True
            gc.members.append(source)
        return ActionResult({"GlobalCluster": gc})

    RDSResponse.create_global_cluster = create_global_cluster


def fix_describe_and_delete_global_cluster() -> None:
    """DescribeGlobalClusters honours GlobalClusterIdentifier; unknown ids are 404.

    AWS RDS API reference, DescribeGlobalClusters: GlobalClusterIdentifier
    restricts the answer to that cluster; error GlobalClusterNotFoundFault
    (404). DeleteGlobalCluster: GlobalClusterNotFoundFault (404). moto 5.2.5
    ignores the identifier (returns every global cluster) and answers an
    unknown id in DeleteGlobalCluster with HTTP 500.
    """
    original_delete = RDSResponse.delete_global_cluster

    def describe_global_clusters(self: RDSResponse) -> ActionResult:
        ident = self.params.get("GlobalClusterIdentifier")
        if ident:
            clusters = [_get_global(self.current_account, ident)]
        else:
            clusters = list(_global_backend(self.current_account).global_clusters.values())
        for gc in clusters:
            rds_switch.settle(gc)
        return ActionResult({"GlobalClusters": clusters})

    def delete_global_cluster(self: RDSResponse) -> ActionResult:
        _get_global(self.current_account, self.params["GlobalClusterIdentifier"])
        return original_delete(self)

    RDSResponse.describe_global_clusters = describe_global_clusters
    RDSResponse.delete_global_cluster = delete_global_cluster


def fix_create_db_cluster_unknown_global() -> None:
    """CreateDBCluster with an unknown GlobalClusterIdentifier fails.

    AWS RDS API reference, CreateDBCluster: error GlobalClusterNotFoundFault
    (404). moto 5.2.5 creates a standalone cluster that claims membership.
    """
    original = RDSBackend.create_db_cluster

    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        ident = kwargs.get("global_cluster_identifier")
        if ident:
            gc = _get_global(self.account_id, ident)
            if _param_true(kwargs.get("manage_master_user_password")):
                raise InvalidParameterCombination(MANAGED_PASSWORD_REFUSED)
            writer = next((m for m in gc.members if m.is_writer), None)
            cross_region = writer is not None and writer.region != self.region_name
            if cross_region and _param_true(gc.storage_encrypted):
                # botocore CreateDBCluster.KmsKeyId: "If you create a read replica of an
                # encrypted DB cluster in another Amazon Web Services Region, make sure to set
                # KmsKeyId to a KMS key identifier that is valid in the destination Amazon Web
                # Services Region." The message is AWS's for cross-region replicas.
                if not kwargs.get("kms_key_id"):
                    raise InvalidParameterCombination(
                        "For encrypted cross-region replica, kmsKeyId should be explicitly specified"
                    )
                kwargs["storage_encrypted"] = True
            elif writer is not None:
                kwargs.setdefault("storage_encrypted", gc.storage_encrypted)
        return original(self, kwargs)

    RDSBackend.create_db_cluster = create_db_cluster


def fix_global_write_forwarding() -> None:
    """Report GlobalWriteForwardingStatus and let ModifyDBCluster toggle it.

    AWS RDS API reference, DBCluster and GlobalClusterMember:
    GlobalWriteForwardingStatus (enabled | disabled | enabling | disabling |
    unknown) is reported for a secondary cluster of a global database;
    GlobalWriteForwardingRequested echoes CreateDBCluster/ModifyDBCluster
    EnableGlobalWriteForwarding. moto 5.2.5 never reports the status on the
    cluster, reports every secondary member as "disabled", and ModifyDBCluster
    does not change the setting. Changes here take effect at once (AWS passes
    through enabling/disabling).
    """

    def status(cluster: DBCluster) -> str | None:
        gc = _membership(cluster)
        if gc is None or cluster.is_writer:
            return None
        on = bool(cluster.global_write_forwarding_requested)
        if time.time() < cluster.__dict__.get("_emu_wf_until", 0):
            return "enabling" if on else "disabling"
        return "enabled" if on else "disabled"

    def lag(cluster: DBCluster) -> None:
        cluster._emu_wf_until = time.time() + SETTINGS.get("rds_write_forwarding_ms", 0) / 1000

    original_create = RDSBackend.create_db_cluster

    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        cluster = original_create(self, kwargs)
        if kwargs.get("enable_global_write_forwarding") is not None:
            lag(cluster)
        return cluster

    RDSBackend.create_db_cluster = create_db_cluster

    DBCluster.global_write_forwarding_status = property(status)

    def members(gc: GlobalCluster) -> list[dict[str, Any]]:
        rds_switch.settle(gc)
        readers = [m.db_cluster_arn for m in gc.members if not m.is_writer]
        out = []
        for m in gc.members:
            entry: dict[str, Any] = {
                "DBClusterArn": m.db_cluster_arn,
                "IsWriter": bool(m.is_writer),
                "Readers": readers if m.is_writer else [],
            }
            if not m.is_writer:
                entry["GlobalWriteForwardingStatus"] = status(m)
                entry["SynchronizationStatus"] = rds_switch.sync_status(m)
            out.append(entry)
        return out

    GlobalCluster.global_cluster_members = property(members)

    original_modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        cluster_id = kwargs.get("db_cluster_identifier")
        if cluster_id not in self.clusters:
            raise DBClusterNotFoundError(cluster_id)
        requested = kwargs.pop("enable_global_write_forwarding", None)
        cluster = self.clusters[cluster_id]
        if requested is not None:
            if _param_true(requested) != bool(cluster.global_write_forwarding_requested):
                lag(cluster)
            cluster._global_write_forwarding_requested = _param_true(requested)
        if _param_true(kwargs.get("manage_master_user_password")) and _membership(cluster) is not None:
            raise InvalidParameterCombination(MANAGED_PASSWORD_REFUSED)
        return original_modify(self, kwargs)

    RDSBackend.modify_db_cluster = modify_db_cluster


def fix_remove_from_global_cluster() -> None:
    """RemoveFromGlobalCluster works for members in every region.

    AWS RDS API reference, RemoveFromGlobalCluster: DbClusterIdentifier is the
    member's ARN; the cluster is detached and becomes a standalone cluster;
    errors GlobalClusterNotFoundFault (404), DBClusterNotFoundFault (404),
    InvalidGlobalClusterStateFault (400). moto 5.2.5 looks the global cluster
    up in the caller's region, so outside us-east-1 it silently does nothing.
    The writer can only be removed once it is the last member (secondaries
    first, as the AWS user guide's deletion procedure requires).
    """

    def remove_from_global_cluster(self: RDSResponse) -> ActionResult:
        gc = _get_global(self.current_account, self.params["GlobalClusterIdentifier"])
        cluster = _find_cluster(self.current_account, self.region, self.params["DbClusterIdentifier"])
        if not any(m is cluster for m in gc.members):
            raise DBClusterNotFoundError(
                cluster.db_cluster_arn,
                f"DB cluster {cluster.db_cluster_arn} is not a member of global cluster "
                f"{gc.global_cluster_identifier}.",
            )
        if cluster.is_writer and len(gc.members) > 1:
            raise InvalidGlobalClusterStateFault(
                f"Cannot remove the primary cluster {cluster.db_cluster_arn} while global "
                f"cluster {gc.global_cluster_identifier} has other members."
            )
        gc.members = [m for m in gc.members if m is not cluster]
        cluster.global_cluster_identifier = None
        cluster.is_writer = False
        return ActionResult({"GlobalCluster": gc})

    RDSResponse.remove_from_global_cluster = remove_from_global_cluster


def fix_delete_db_cluster_global_member() -> None:
    """DeleteDBCluster keeps global cluster membership consistent across regions.

    AWS: deleting the primary member while other members remain fails with
    InvalidGlobalClusterStateFault ("Unable to delete cluster that is a primary
    member of global cluster while there are other global cluster members",
    gruntwork-io/cloud-nuke#597); deleting any other member (or a sole
    primary) fails with InvalidDBClusterStateFault ("This cluster is a part of
    a global cluster, please remove it from globalcluster first", quoted in
    terraform-provider-aws resourceClusterDelete, which removes it first).
    Both errors are in botocore's DeleteDBCluster model. moto 5.2.5 only
    detaches members of global clusters it finds in the cluster's own region.
    """
    original = RDSBackend.delete_db_cluster

    def delete_db_cluster(self: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None):
        cluster = self.clusters.get(cluster_identifier)
        gc = _membership(cluster) if cluster is not None else None
        if gc is not None:
            if cluster.is_writer and len(gc.members) > 1:
                raise InvalidGlobalClusterStateFault(
                    "Unable to delete cluster that is a primary member of global cluster "
                    "while there are other global cluster members"
                )
            raise InvalidDBClusterStateFault(
                "This cluster is a part of a global cluster, please remove it from globalcluster first"
            )
        return original(self, cluster_identifier, snapshot_name)

    RDSBackend.delete_db_cluster = delete_db_cluster


def fix_modify_global_cluster() -> None:
    """ModifyGlobalCluster toggles DeletionProtection (moto 5.2.5: HTTP 500).

    AWS RDS API reference, ModifyGlobalCluster(GlobalClusterIdentifier,
    DeletionProtection, NewGlobalClusterIdentifier, EngineVersion,
    AllowMajorVersionUpgrade) -> GlobalCluster; unknown id
    GlobalClusterNotFoundFault (404). Only DeletionProtection is emulated:
    renames and engine upgrades answer 400 InvalidParameterValue naming the
    parameter, rather than pretending to work.
    """

    def modify_global_cluster(self: RDSResponse) -> ActionResult:
        params = self.params
        gc = _get_global(self.current_account, params["GlobalClusterIdentifier"])
        for unsupported in ("NewGlobalClusterIdentifier", "EngineVersion"):
            if params.get(unsupported):
                raise InvalidParameterValue(f"emulator: ModifyGlobalCluster {unsupported} is not emulated")
        if params.get("DeletionProtection") is not None:
            gc.deletion_protection = _param_true(params["DeletionProtection"])
        return ActionResult({"GlobalCluster": gc})

    RDSResponse.modify_global_cluster = modify_global_cluster


# Aurora PostgreSQL versions offered (a realistic subset of what AWS lists).
_AURORA_PG_VERSIONS = [
    "13.9", "13.12", "13.15",
    "14.6", "14.9", "14.12",
    "15.3", "15.4", "15.7",
    "16.1", "16.4", "16.6",
]
_AURORA_PG_DEFAULT = "16.4"


def _engine_version_entry(version: str) -> dict[str, Any]:
    major = version.split(".")[0]
    later = [v for v in _AURORA_PG_VERSIONS if tuple(map(int, v.split("."))) > tuple(map(int, version.split(".")))]
    return {
        "Engine": "aurora-postgresql",
        "EngineVersion": version,
        "MajorEngineVersion": major,
        "DBParameterGroupFamily": f"aurora-postgresql{major}",
        "DBEngineDescription": "Aurora (PostgreSQL)",
        "DBEngineVersionDescription": f"Aurora PostgreSQL (Compatible with PostgreSQL {version})",
        "ValidUpgradeTarget": [
            {
                "Engine": "aurora-postgresql",
                "EngineVersion": v,
                "Description": f"Aurora PostgreSQL (Compatible with PostgreSQL {v})",
                "AutoUpgrade": False,
                "IsMajorVersionUpgrade": v.split(".")[0] != major,
            }
            for v in later
        ],
        "ExportableLogTypes": ["postgresql"],
        "SupportsLogExportsToCloudwatchLogs": True,
        "SupportsReadReplica": False,
        "SupportedEngineModes": ["provisioned"],
        "SupportedFeatureNames": ["Lambda", "s3Export", "s3Import"],
        "Status": "available",
        "SupportsParallelQuery": False,
        "SupportsGlobalDatabases": True,
        "SupportsBabelfish": True,
        "SupportsLimitlessDatabase": False,
        "SupportsCertificateRotationWithoutRestart": True,
        "SupportsIntegrations": False,
    }


def fix_describe_db_engine_versions() -> None:
    """DescribeDBEngineVersions for aurora-postgresql (moto 5.2.5: HTTP 500).

    AWS RDS API reference, DescribeDBEngineVersions(Engine, EngineVersion,
    DBParameterGroupFamily, DefaultOnly, ...) -> DBEngineVersions[DBEngineVersion
    {Engine, EngineVersion, MajorEngineVersion, DBParameterGroupFamily,
    DBEngineDescription, DBEngineVersionDescription, ValidUpgradeTarget,
    SupportsGlobalDatabases, Status, ...}]; no match is an empty list. Only
    aurora-postgresql has data here; other engines answer an empty list.
    """

    def describe_db_engine_versions(self: RDSResponse) -> ActionResult:
        engine = self.params.get("Engine")
        version = self.params.get("EngineVersion")
        family = self.params.get("DBParameterGroupFamily")
        default_only = _param_true(self.params.get("DefaultOnly"))
        entries = []
        if engine in (None, "aurora-postgresql"):
            versions = [_AURORA_PG_DEFAULT] if default_only else _AURORA_PG_VERSIONS
            for v in versions:
                if version and not (v == version or v.startswith(version + ".") or v.split(".")[0] == version):
                    continue
                entry = _engine_version_entry(v)
                if family and entry["DBParameterGroupFamily"] != family:
                    continue
                entries.append(entry)
        return ActionResult({"DBEngineVersions": entries})

    RDSResponse.describe_db_engine_versions = describe_db_engine_versions


# Log types each engine publishes (RDS API reference, CreateDBCluster
# EnableCloudwatchLogsExports / ModifyDBCluster CloudwatchLogsExportConfiguration).
LOG_TYPES = {
    "aurora-postgresql": ("instance", "postgresql", "iam-db-auth-error"),
    "aurora-mysql": ("audit", "error", "general", "instance", "slowquery", "iam-db-auth-error"),
}


def _check_log_types(engine: str, engine_version: str, types: list[str]) -> None:
    bad = [t for t in types if t not in LOG_TYPES.get(engine, types)]
    if bad:
        raise InvalidParameterCombination(
            f"You cannot use the log types '{', '.join(bad)}' with engine version {engine} {engine_version}. "
            "For supported types, use the DescribeDBEngineVersions API action."
        )


def fix_cloudwatch_logs_exports() -> None:
    """Log exports of a cluster: checked on create, changed by ModifyDBCluster.

    AWS RDS API reference: CreateDBCluster takes EnableCloudwatchLogsExports
    (a list); ModifyDBCluster takes CloudwatchLogsExportConfiguration
    {EnableLogTypes, DisableLogTypes} and applies it at once;
    DescribeDBClusters reports EnabledCloudwatchLogsExports. A log type the
    engine does not publish is refused with InvalidParameterCombination.
    moto 5.2.5 stores any type on create and, on modify, reads the
    configuration under the wrong name (EnableCloudwatchLogsExports), so the
    exports never change.
    """
    original_create = RDSBackend.create_db_cluster

    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        _check_log_types(kwargs.get("engine", ""), kwargs.get("engine_version", ""),
                         list(kwargs.get("enable_cloudwatch_logs_exports") or []))
        return original_create(self, kwargs)

    RDSBackend.create_db_cluster = create_db_cluster
    original_modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        conf = kwargs.pop("cloudwatch_logs_export_configuration", None) or {}
        cluster = self.clusters.get(kwargs.get("db_cluster_identifier"))
        if conf and cluster is not None:
            enable = list(conf.get("EnableLogTypes") or conf.get("enable_log_types") or [])
            disable = list(conf.get("DisableLogTypes") or conf.get("disable_log_types") or [])
            _check_log_types(cluster.engine, cluster.engine_version, enable + disable)
            now = [t for t in cluster.enabled_cloudwatch_logs_exports if t not in disable]
            cluster.enabled_cloudwatch_logs_exports = now + [t for t in enable if t not in now]
        return original_modify(self, kwargs)

    RDSBackend.modify_db_cluster = modify_db_cluster


class DBClusterAlreadyExistsFault(RDSClientError):
    code = "DBClusterAlreadyExistsFault"

    def __init__(self) -> None:
        super().__init__("DB Cluster already exists")


def fix_create_db_cluster_existing() -> None:
    """CreateDBCluster refuses an identifier that is taken.

    AWS RDS API reference, CreateDBCluster: error DBClusterAlreadyExistsFault
    (400, "The user already has a DB cluster with the given identifier").
    moto 5.2.5 replaces the existing cluster with a new one, and a new
    member of a global database is appended again: the global cluster then
    lists a second, phantom member with the same ARN that no call can
    remove. That is what an SDK retry of a create whose answer was lost made
    (the flaky "Cannot remove the primary cluster ... while global cluster
    has other members" on destroy, issue 12). Installed last: checked before
    the other CreateDBCluster fixes.
    """
    original = RDSBackend.create_db_cluster

    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        if kwargs.get("db_cluster_identifier") in self.clusters:
            raise DBClusterAlreadyExistsFault()
        return original(self, kwargs)

    RDSBackend.create_db_cluster = create_db_cluster


def apply() -> None:
    fix_cloudwatch_logs_exports()
    fix_create_global_cluster()
    fix_describe_and_delete_global_cluster()
    fix_create_db_cluster_unknown_global()
    fix_global_write_forwarding()
    fix_remove_from_global_cluster()
    fix_delete_db_cluster_global_member()
    fix_modify_global_cluster()
    rds_switch.apply()
    rds_endpoints.apply()
    fix_describe_db_engine_versions()
    fix_create_db_cluster_existing()  # last: the first check
