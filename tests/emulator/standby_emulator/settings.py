"""Knobs tests turn through POST /_emulator/settings (all integers).

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
"""

DEFAULT_SETTINGS = {
    "opensearch_bootstrap_polls": 1,
    "opensearch_running_polls": 0,
    "opensearch_processing_ms": 0,
    "opensearch_inbound_visible_ms": 0,
    "rds_write_forwarding_ms": 0,
    "rds_failover_ms": 0,
    "rds_snapshot_ms": 0,
    "s3_bucket_visible_ms": 0,
    "s3_batch_step_ms": 0,
    "s3_batch_expiry_ms": 90 * 24 * 3600 * 1000,
    "s3_batch_fail_every": 0,
    "route53_pending_polls": 1,
    "asg_refresh_ms": 300,
}
SETTINGS = dict(DEFAULT_SETTINGS)


def reset() -> None:
    SETTINGS.clear()
    SETTINGS.update(DEFAULT_SETTINGS)
