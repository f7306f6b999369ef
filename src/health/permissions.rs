//! The IAM actions standby needs, per resource kind: to read (refresh,
//! drift) and to change (apply, destroy). Preflight simulates them; the
//! read-only policy for a drift job (docs/drift-and-health.md) is the `read` column plus
//! [`DISCOVERY`] and [`HEALTH`], and its canaries' statements [`CANARY`].
//!
//! Kinds that talk only to a domain's REST API (the replication and security plugins) need
//! no IAM action with fine-grained access control's internal users.

/// `(kind, read actions, write actions)`.
pub const BY_KIND: &[(&str, &[&str], &[&str])] = &[
    ("standby_data", &[], &[]),
    (
        "aws_iam_role",
        &["iam:GetRole"],
        &[
            "iam:CreateRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:DeleteRole",
        ],
    ),
    ("aws_iam_role_policy", &["iam:GetRolePolicy"], &["iam:PutRolePolicy", "iam:DeleteRolePolicy"]),
    (
        "aws_iam_policy",
        &["iam:GetPolicy", "iam:GetPolicyVersion"],
        &[
            "iam:CreatePolicy",
            "iam:CreatePolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:ListPolicyVersions",
            "iam:DeletePolicy",
        ],
    ),
    (
        "aws_iam_role_policy_attachment",
        &["iam:ListAttachedRolePolicies"],
        &["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
    ),
    (
        "aws_s3_bucket",
        &["s3:ListBucket", "s3:GetBucketTagging"],
        &["s3:CreateBucket", "s3:PutBucketTagging", "s3:DeleteBucket"],
    ),
    ("aws_s3_bucket_versioning", &["s3:GetBucketVersioning"], &["s3:PutBucketVersioning"]),
    ("aws_s3_bucket_public_access_block", &["s3:GetBucketPublicAccessBlock"], &["s3:PutBucketPublicAccessBlock"]),
    (
        "aws_cloudwatch_log_group",
        &["logs:DescribeLogGroups", "logs:ListTagsForResource"],
        &[
            "logs:CreateLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:DeleteLogGroup",
        ],
    ),
    (
        "aws_cloudwatch_log_resource_policy",
        &["logs:DescribeResourcePolicies"],
        &["logs:PutResourcePolicy", "logs:DeleteResourcePolicy"],
    ),
    ("aws_s3_batch_replication_job", &["s3:DescribeJob"], &["s3:CreateJob", "s3:UpdateJobStatus", "iam:PassRole"]),
    (
        "aws_s3_bucket_replication",
        &["s3:GetReplicationConfiguration"],
        &["s3:PutReplicationConfiguration", "iam:PassRole"],
    ),
    (
        "aws_rds_global_cluster",
        &["rds:DescribeGlobalClusters"],
        &[
            "rds:CreateGlobalCluster",
            "rds:ModifyGlobalCluster",
            "rds:RemoveFromGlobalCluster",
            "rds:DeleteGlobalCluster",
        ],
    ),
    (
        "aws_rds_cluster",
        &["rds:DescribeDBClusters"],
        &["rds:CreateDBCluster", "rds:ModifyDBCluster", "rds:DeleteDBCluster", "rds:AddTagsToResource"],
    ),
    (
        "aws_rds_cluster_instance",
        &["rds:DescribeDBInstances"],
        &["rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance"],
    ),
    (
        "aws_opensearch_domain",
        &["es:DescribeDomain", "es:ListTags"],
        &["es:CreateDomain", "es:UpdateDomainConfig", "es:AddTags", "es:RemoveTags", "es:DeleteDomain"],
    ),
    ("aws_opensearch_domain_policy", &["es:DescribeDomain"], &["es:UpdateDomainConfig"]),
    (
        "aws_opensearch_outbound_connection",
        &["es:DescribeOutboundConnections"],
        &["es:CreateOutboundConnection", "es:DeleteOutboundConnection"],
    ),
    (
        "aws_opensearch_inbound_connection_accepter",
        &["es:DescribeInboundConnections"],
        &["es:AcceptInboundConnection", "es:DeleteInboundConnection"],
    ),
    ("opensearch_autofollow_rule", &[], &[]),
    ("opensearch_index_replication", &[], &[]),
    ("opensearch_internal_user", &[], &[]),
    ("opensearch_role", &[], &[]),
    ("opensearch_role_mapping", &[], &[]),
    ("opensearch_audit_config", &[], &[]),
    (
        "aws_secretsmanager_secret",
        &["secretsmanager:DescribeSecret"],
        &[
            "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
            "secretsmanager:DeleteSecret",
        ],
    ),
    (
        "aws_secretsmanager_secret_version",
        &["secretsmanager:DescribeSecret"],
        &["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
    ),
    (
        "aws_route53_zone",
        &["route53:GetHostedZone", "route53:ListTagsForResource"],
        &[
            "route53:CreateHostedZone",
            "route53:ListHostedZonesByName",
            "route53:UpdateHostedZoneComment",
            "route53:ChangeTagsForResource",
            "route53:GetChange",
            "route53:ListResourceRecordSets",
            "route53:ChangeResourceRecordSets",
            "route53:DeleteHostedZone",
        ],
    ),
    (
        "aws_route53_health_check",
        &["route53:GetHealthCheck", "route53:ListTagsForResource"],
        &[
            "route53:CreateHealthCheck",
            "route53:ListHealthChecks",
            "route53:UpdateHealthCheck",
            "route53:ChangeTagsForResource",
            "route53:DeleteHealthCheck",
        ],
    ),
    (
        "aws_route53_record",
        &["route53:ListResourceRecordSets"],
        &["route53:ChangeResourceRecordSets", "route53:GetChange"],
    ),
    ("standby_mattermost_config", &[], &[]),
    (
        "aws_iam_instance_profile",
        &["iam:GetInstanceProfile"],
        &[
            "iam:CreateInstanceProfile",
            "iam:AddRoleToInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile",
            "iam:TagInstanceProfile",
            "iam:UntagInstanceProfile",
            "iam:DeleteInstanceProfile",
            "iam:PassRole",
        ],
    ),
    (
        "aws_security_group",
        &["ec2:DescribeSecurityGroups"],
        &[
            "ec2:CreateSecurityGroup",
            "ec2:DescribeVpcs",
            "ec2:DescribeSecurityGroupRules",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:CreateTags",
            "ec2:DeleteTags",
            "ec2:DeleteSecurityGroup",
        ],
    ),
    (
        "aws_vpc_security_group_ingress_rule",
        &["ec2:DescribeSecurityGroupRules"],
        &[
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:CreateTags",
            "ec2:DeleteTags",
        ],
    ),
    (
        "aws_vpc_security_group_egress_rule",
        &["ec2:DescribeSecurityGroupRules"],
        &[
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:CreateTags",
            "ec2:DeleteTags",
        ],
    ),
    (
        "aws_launch_template",
        &["ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions"],
        &[
            "ec2:CreateLaunchTemplate",
            "ec2:CreateLaunchTemplateVersion",
            "ec2:ModifyLaunchTemplate",
            "ec2:CreateTags",
            "ec2:DeleteTags",
            "ec2:DeleteLaunchTemplate",
            "iam:PassRole",
        ],
    ),
    (
        "aws_autoscaling_group",
        &["autoscaling:DescribeAutoScalingGroups"],
        &[
            "autoscaling:CreateAutoScalingGroup",
            "autoscaling:UpdateAutoScalingGroup",
            "autoscaling:AttachLoadBalancerTargetGroups",
            "autoscaling:DetachLoadBalancerTargetGroups",
            "autoscaling:CreateOrUpdateTags",
            "autoscaling:DeleteTags",
            "autoscaling:DeleteAutoScalingGroup",
            "autoscaling:StartInstanceRefresh",
            "autoscaling:DescribeInstanceRefreshes",
            "autoscaling:CancelInstanceRefresh",
            "ec2:DescribeSubnets",
            "ec2:RunInstances",
            "iam:PassRole",
        ],
    ),
    (
        "aws_lb",
        &["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags"],
        &[
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:DeleteLoadBalancer",
            "ec2:DescribeSubnets",
        ],
    ),
    (
        "aws_lb_target_group",
        &["elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTags"],
        &[
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:DeleteTargetGroup",
        ],
    ),
    (
        "aws_lb_listener",
        &["elasticloadbalancing:DescribeListeners"],
        &[
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:DeleteListener",
        ],
    ),
];

/// What `standby drift` lists to find unmanaged resources.
pub const DISCOVERY: &[&str] = &[
    "s3:ListAllMyBuckets",
    "s3:GetBucketLocation",
    "iam:ListRoles",
    "iam:ListPolicies",
    "rds:DescribeDBClusters",
    "rds:DescribeGlobalClusters",
    "es:ListDomainNames",
    "es:DescribeOutboundConnections",
];

/// What the health checks and preflight call beyond the reads.
pub const HEALTH: &[&str] = &[
    "rds:DescribeGlobalClusters",
    "rds:DescribeDBClusterSnapshots",
    "es:DescribeOutboundConnections",
    "cloudwatch:GetMetricData",
    "elasticloadbalancing:DescribeTargetHealth",
    "sts:GetCallerIdentity",
    "iam:SimulatePrincipalPolicy",
];

/// What `standby drift`'s replication canaries ([`crate::health::canary`])
/// need beyond [`read_only`], each statement scoped to the canaries'
/// reserved names (`--no-canaries` needs none). The search canary signs in
/// to the domains' REST API as the replication user and needs no IAM action.
pub struct Scoped {
    pub sid: &'static str,
    pub actions: &'static [&'static str],
    pub resource: &'static str,
    /// A `StringLike` condition on `s3:prefix`, for listings.
    pub s3_prefix: Option<&'static str>,
}

/// S3's actions per call (API reference, each operation's permissions):
/// PutObject `s3:PutObject`; HeadObject `s3:GetObject`; DeleteObject of a
/// version `s3:DeleteObjectVersion`; ListObjectVersions `s3:ListBucketVersions`.
pub const CANARY: &[Scoped] = &[
    Scoped {
        sid: "StandbyDriftCanaryObjects",
        actions: &["s3:PutObject", "s3:GetObject", "s3:DeleteObjectVersion"],
        resource: "arn:aws:s3:::*/standby-canary/*",
        s3_prefix: None,
    },
    Scoped {
        sid: "StandbyDriftCanaryListing",
        actions: &["s3:ListBucketVersions"],
        resource: "arn:aws:s3:::*",
        s3_prefix: Some("standby-canary/*"),
    },
];

fn entry(kind: &str) -> Option<&'static (&'static str, &'static [&'static str], &'static [&'static str])> {
    BY_KIND.iter().find(|(k, _, _)| *k == kind)
}

/// Every action applying and refreshing these kinds needs, sorted.
pub fn for_apply<'a>(kinds: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in kinds {
        if let Some((_, read, write)) = entry(k) {
            out.extend(read.iter().chain(write.iter()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The read-only policy of a drift job, for every kind standby knows.
pub fn read_only() -> Vec<&'static str> {
    let mut out: Vec<&'static str> =
        BY_KIND.iter().flat_map(|(_, r, _)| r.iter().copied()).chain(DISCOVERY.iter().copied()).collect();
    // GetCallerIdentity needs no permission; simulation is preflight's.
    out.extend(HEALTH.iter().filter(|a| !a.starts_with("iam:Simulate") && !a.starts_with("sts:")));
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_kind_is_listed_and_reads_are_read_only() {
        for k in crate::kinds::registry() {
            assert!(super::entry(k.type_name()).is_some(), "{} has no IAM actions listed", k.type_name());
        }
        for a in super::read_only() {
            let verb = a.split(':').nth(1).unwrap();
            assert!(["Get", "List", "Describe"].iter().any(|p| verb.starts_with(p)), "{a} is not a read action");
        }
    }

    /// The canaries' writes reach only their reserved prefix: every object
    /// action on keys under it, the listing narrowed to it by `s3:prefix`.
    #[test]
    fn canary_statements_are_scoped_to_the_reserved_prefix() {
        let prefix = crate::health::canary::S3_PREFIX;
        for st in super::CANARY {
            match st.s3_prefix {
                Some(p) => {
                    assert_eq!(p, format!("{prefix}*"), "{}", st.sid);
                    assert!(st.actions.iter().all(|a| a.starts_with("s3:List")), "{}", st.sid);
                }
                None => assert!(st.resource.ends_with(&format!("/{prefix}*")), "{}: {}", st.sid, st.resource),
            }
        }
        let all: Vec<&str> = super::CANARY.iter().flat_map(|s| s.actions.iter().copied()).collect();
        // PutObject, HeadObject, DeleteObject of a version, ListObjectVersions.
        for a in ["s3:PutObject", "s3:GetObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions"] {
            assert!(all.contains(&a), "{a}");
        }
        assert!(!all.iter().any(|a| a.ends_with('*') || *a == "s3:DeleteObject"), "{all:?}");
    }
}
