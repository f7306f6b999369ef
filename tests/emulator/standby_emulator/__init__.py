"""moto 5.2.5 plus the fixes standby needs to test against AWS's real wire format.

Each fix lives in its own function (one module per service) whose docstring
names the AWS API it follows. `apply_all()` installs them; it must run before
the first request reaches moto. See README.md for the list.
"""

_applied = False


def apply_all() -> None:
    global _applied
    if _applied:
        return
    from . import (
        asg_refresh,
        ec2,
        ec2_in_use,
        elb_asg,
        elb_idempotency,
        iam,
        iam_simulate,
        opensearch,
        opensearch_bootstrap,
        opensearch_changes,
        opensearch_logs,
        opensearch_stats,
        prefix_lists,
        propagation,
        rds,
        rds_global_ops,
        rds_modify,
        rds_recreate,
        rds_restore,
        rds_snapshots,
        route53,
        s3,
        s3_conditional,
        s3_replication,
        secretsmanager,
        world,
    )

    s3.apply()
    s3_conditional.apply()
    s3_replication.apply()
    iam.apply()
    rds.apply()
    rds_recreate.apply()
    rds_modify.apply()
    rds_restore.apply()
    rds_snapshots.apply()
    rds_global_ops.apply()
    opensearch.apply()
    opensearch_logs.apply()
    opensearch_bootstrap.apply()
    opensearch_changes.apply()
    iam_simulate.apply()
    opensearch_stats.apply()
    route53.apply()
    secretsmanager.apply()
    ec2.apply()
    ec2_in_use.apply()
    elb_asg.apply()
    elb_idempotency.apply()
    asg_refresh.apply()
    world.apply()
    propagation.apply()
    prefix_lists.apply()
    _applied = True
