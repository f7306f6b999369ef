"""Knobs tests turn through POST /_emulator/settings (integers, except rds_next_switch_ends).

- opensearch_bootstrap_polls: _status calls that answer BOOTSTRAPPING before
  SYNCING after a start (the plugin copies the leader's segments first).
- opensearch_running_polls: _status calls, right after a start, that answer
  RUNNING (the plugin's overall state while no shard has reported yet).
- opensearch_processing_ms: how long DescribeDomain reports Processing=true
  after CreateDomain / UpdateDomainConfig (AWS: minutes).
- opensearch_inbound_visible_ms: how long a new cross-cluster connection stays
  invisible in the leader's region (DescribeInboundConnections,
  AcceptInboundConnection: ResourceNotFoundException) while it propagates.
- s3_bucket_visible_ms: how long a new bucket is not yet found as a
  replication destination (PutBucketReplication: NoSuchBucket).
- rds_write_forwarding_ms: how long a secondary reports
  GlobalWriteForwardingStatus enabling/disabling after it is requested.
- rds_failover_ms: how long SwitchoverGlobalCluster / FailoverGlobalCluster
  take: DescribeGlobalClusters shows FailoverState (pending for the first
  third, then switching-over / failing-over) and the old writer until then
  (AWS: a minute or more).
- rds_snapshot_ms: how long a cluster snapshot that a failover's rejoin
  takes, or that CopyDBClusterSnapshot makes, stays `creating` before it is
  `available` (AWS: minutes, with the volume's size).
- rds_fencing_event: 1 records a "writes were stopped" event on the new
  primary after a failover with the old region down (0: none).
- rds_rejoin_snapshot_ms: after a failover, how long after the old primary
  is listed again (pending-resync) Aurora's snapshot of its old volume shows
  (-1: none ever does).
- rds_lag_ms: the replication lag RDS publishes for each secondary
  (AuroraGlobalDBRPOLag / AuroraGlobalDBReplicationLag); -1 publishes none.
- s3_replication_ms: how long after a write S3 replicates it (s3_replication:
  the source reads PENDING meanwhile; AWS: seconds to minutes, 99.99 % within
  15 minutes with Replication Time Control).
- s3_batch_step_ms: how long an S3 Batch Operations job stays in each status
  (New, Preparing, Active) before DescribeJob shows the next (AWS: minutes
  to hours for large buckets).
- s3_batch_expiry_ms: how long after it ends AWS keeps a job (S3 guide,
  "Troubleshooting S3 Batch Operations": "Jobs are automatically deleted 90
  days after reaching a terminal state"); DescribeJob then answers 404
  NotFoundException.
- s3_batch_fail_every: a fault for tests: every Nth object's task fails
  (AccessDenied), so jobs that finish with failed objects can be exercised;
  0: none.
- asg_refresh_ms: how long an Auto Scaling instance refresh takes:
  DescribeInstanceRefreshes shows it Pending for the first tenth, then
  InProgress while the nodes are replaced batch by batch, then Successful
  (AWS: minutes per batch, warm-up included).
- route53_pending_polls: GetChange calls that answer PENDING before INSYNC
  for each Route 53 change (AWS: usually under 60 s).
- game_day: 1 turns the game-day world on (world.py): instances boot and run
  their user data, load balancers listen and forward, target groups and
  Route 53 health checks probe, failover records are evaluated. 0 (the
  default): the API-only emulator (targets healthy at once, health checks
  "Success"), which costs nothing at start-up or idle.
- world_ms_per_aws_second: the game-day world's clock: how many real
  milliseconds stand for one second of AWS or Mattermost time (health check
  intervals, thresholds' worth of probes, grace periods, Mattermost's DB
  ping retries and RestartSec). 50 = 20 times faster than AWS.
- rds_failover_data_loss_ms: a failover with AllowDataLoss loses the writes
  committed that many ms before it was requested (rows deleted by commit
  time; default 0: nothing lost), so RPO can be measured.
- rds_resync_ms: after a failover, and when an old primary rejoins, the
  secondaries report SynchronizationStatus pending-resync that long, and
  their reader endpoints refuse connections meanwhile.
- rds_next_switch_ends: "moves" (default), "cancelled" (the next switchover
  or failover shows FailoverState cancelling, then ends with the writer where
  it was) or "refused" (it vanishes after pending). Used once, then "moves".
- rds_force_ssl: 1 = every Aurora endpoint refuses connections without TLS,
  as rds.force_ssl = 1 does (Aurora PostgreSQL's default is 0; a cluster
  parameter group with rds.force_ssl = 1 does the same for its cluster).
- ec2_group_visible_ms, iam_profile_visible_ms: how long a new security
  group, or a new instance profile, stays invisible to EC2's other calls
  (propagation.py; AWS: seconds).
- secrets_force_delete_ms: how long a secret deleted without recovery keeps
  its name (secretsmanager.py; AWS: "a short delay", done in the background).
- rds_restore_ms: how long a cluster made by RestoreDBClusterToPointInTime
  (a clone) stays `creating` before it is `available` (rds_restore.py; AWS:
  minutes).
"""

DEFAULT_SETTINGS = {
    "opensearch_bootstrap_polls": 1,
    "opensearch_running_polls": 0,
    "opensearch_processing_ms": 0,
    "opensearch_inbound_visible_ms": 0,
    "rds_write_forwarding_ms": 0,
    "rds_failover_ms": 0,
    "rds_snapshot_ms": 0,
    "rds_fencing_event": 0,
    "rds_rejoin_snapshot_ms": 0,
    "rds_lag_ms": 50,
    "s3_bucket_visible_ms": 0,
    "s3_replication_ms": 100,
    "s3_batch_step_ms": 0,
    "s3_batch_expiry_ms": 90 * 24 * 3600 * 1000,
    "s3_batch_fail_every": 0,
    "route53_pending_polls": 1,
    "asg_refresh_ms": 300,
    "game_day": 0,
    "world_ms_per_aws_second": 50,
    "rds_failover_data_loss_ms": 0,
    "rds_resync_ms": 0,
    "rds_next_switch_ends": "moves",
    "rds_force_ssl": 0,
    "ec2_group_visible_ms": 0,
    "iam_profile_visible_ms": 0,
    "secrets_force_delete_ms": 200,
    "rds_restore_ms": 0,
}
SETTINGS = dict(DEFAULT_SETTINGS)


def reset() -> None:
    SETTINGS.clear()
    SETTINGS.update(DEFAULT_SETTINGS)
