"""Self-check: a security group an Aurora cluster is in cannot be deleted
(standby_emulator/ec2_in_use.py), as on AWS; once the cluster is gone, it can."""

import boto3
import botocore.config

from test_aurora_db import EAST, _error, aws  # noqa: F401 (fixture)


def test_a_group_in_use_by_a_cluster_is_not_deleted_until_the_cluster_goes(aws, endpoint):
    ec2 = boto3.client("ec2", region_name=EAST, endpoint_url=endpoint, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=botocore.config.Config(retries={"max_attempts": 1}))
    rds = aws(EAST)
    group = ec2.create_security_group(GroupName="mm-drill-ab12cd-db", Description="drill")["GroupId"]
    spare = ec2.create_security_group(GroupName="unused", Description="nothing in it")["GroupId"]
    rds.create_db_cluster(DBClusterIdentifier="mm-drill-ab12cd", Engine="aurora-postgresql", EngineVersion="16.4",
                          MasterUsername="admin_user", MasterUserPassword="Passw0rd-long")
    rds.modify_db_cluster(DBClusterIdentifier="mm-drill-ab12cd", VpcSecurityGroupIds=[group], ApplyImmediately=True)
    assert _error(lambda: ec2.delete_security_group(GroupId=group)) == "DependencyViolation"
    ec2.delete_security_group(GroupId=spare)
    rds.delete_db_cluster(DBClusterIdentifier="mm-drill-ab12cd", SkipFinalSnapshot=True)
    ec2.delete_security_group(GroupId=group)
    assert group not in [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]
