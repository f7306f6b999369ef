//! The AWS calls standby makes and the IAM actions each needs, in one
//! place: per resource kind (what refresh and drift read, what apply and
//! destroy write), what drift lists and probes, what a switchover and
//! preflight call, and what the S3 state backend does. Every IAM policy
//! standby documents is generated from here ([`policy`]); preflight
//! simulates the same actions; the tests hold the emulator's call log of
//! whole-example runs against this table, so a call missing here fails a
//! test rather than a user's nightly job.
//!
//! A call names the operation as AWS does (the SDK's, CloudTrail's
//! `eventName`) and its IAM actions; without actions listed, the action is
//! the operation's own name under the service's IAM prefix (`es:` for
//! OpenSearch, `elasticloadbalancing:` for ELB). Calls to a domain's own
//! REST API (the replication and security plugins) need no IAM action:
//! they sign in with fine-grained access control's internal users.

pub mod policy;

use std::collections::BTreeSet;

/// One AWS API operation and the IAM actions it needs.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// The SDK's service name (`s3`, `opensearch`, `elbv2`, ...).
    pub service: &'static str,
    pub operation: &'static str,
    /// Empty: the operation's own name under the service's prefix.
    pub actions: &'static [&'static str],
}

impl Call {
    pub fn actions(&self) -> Vec<String> {
        if self.actions.is_empty() {
            vec![format!("{}:{}", prefix(self.service), self.operation)]
        } else {
            self.actions.iter().map(|a| a.to_string()).collect()
        }
    }
}

/// The IAM service prefix of an SDK service.
fn prefix(service: &str) -> &str {
    match service {
        "opensearch" => "es",
        "elbv2" => "elasticloadbalancing",
        "s3control" => "s3",
        other => other,
    }
}

/// `calls![s3: HeadBucket = ["s3:ListBucket"]; s3: GetBucketTagging]`
macro_rules! calls {
    ($($svc:ident : $op:ident $(= [$($a:literal),+ $(,)?])?);* $(;)?) => {
        &[$(Call { service: stringify!($svc), operation: stringify!($op), actions: &[$($($a),+)?] }),*]
    };
}

/// What one resource kind calls.
#[derive(Debug)]
pub struct KindCalls {
    pub kind: &'static str,
    /// Refresh (and drift): reading by id, and finding by natural key what
    /// an interrupted create made.
    pub read: &'static [Call],
    /// Create, update, delete (and the waits between).
    pub write: &'static [Call],
}

const fn kind(kind: &'static str, read: &'static [Call], write: &'static [Call]) -> KindCalls {
    KindCalls { kind, read, write }
}

/// Every kind's calls. S3 actions whose names differ from the operation's
/// follow the S3 API reference's "To use this operation, you must have
/// permission to perform the … action" of each operation (HeadBucket,
/// DeleteBucketTagging, ListObjectVersions, Get/Put/DeletePublicAccessBlock,
/// Get/Put/DeleteBucketReplication).
pub const KINDS: &[KindCalls] = &[
    kind("standby_data", &[], &[]),
    kind("standby_mattermost_config", &[], &[]),
    kind(
        "aws_iam_role",
        calls![iam: GetRole],
        calls![iam: CreateRole; iam: UpdateRole; iam: UpdateAssumeRolePolicy; iam: TagRole; iam: UntagRole; iam: DeleteRole],
    ),
    kind("aws_iam_role_policy", calls![iam: GetRolePolicy], calls![iam: PutRolePolicy; iam: DeleteRolePolicy]),
    kind(
        "aws_iam_policy",
        calls![iam: GetPolicy; iam: GetPolicyVersion; iam: ListPolicies],
        calls![iam: CreatePolicy; iam: CreatePolicyVersion; iam: ListPolicyVersions; iam: DeletePolicyVersion;
               iam: TagPolicy; iam: UntagPolicy; iam: DeletePolicy],
    ),
    kind(
        "aws_iam_role_policy_attachment",
        calls![iam: ListAttachedRolePolicies],
        calls![iam: AttachRolePolicy; iam: DetachRolePolicy],
    ),
    kind(
        "aws_iam_instance_profile",
        calls![iam: GetInstanceProfile],
        calls![iam: CreateInstanceProfile; iam: AddRoleToInstanceProfile = ["iam:AddRoleToInstanceProfile", "iam:PassRole"];
               iam: RemoveRoleFromInstanceProfile; iam: TagInstanceProfile; iam: UntagInstanceProfile;
               iam: DeleteInstanceProfile],
    ),
    kind(
        "aws_s3_bucket",
        calls![s3: HeadBucket = ["s3:ListBucket"]; s3: GetBucketTagging],
        calls![s3: CreateBucket; s3: PutBucketTagging; s3: DeleteBucketTagging = ["s3:PutBucketTagging"];
               // force_destroy empties the bucket, every version.
               s3: ListObjectVersions = ["s3:ListBucketVersions"];
               s3: DeleteObjects = ["s3:DeleteObject", "s3:DeleteObjectVersion"];
               s3: DeleteBucket],
    ),
    kind("aws_s3_bucket_versioning", calls![s3: GetBucketVersioning], calls![s3: PutBucketVersioning]),
    kind(
        "aws_s3_bucket_public_access_block",
        calls![s3: GetPublicAccessBlock = ["s3:GetBucketPublicAccessBlock"]],
        calls![s3: PutPublicAccessBlock = ["s3:PutBucketPublicAccessBlock"];
               s3: DeletePublicAccessBlock = ["s3:PutBucketPublicAccessBlock"]],
    ),
    kind(
        "aws_s3_bucket_replication",
        // GetBucketEncryption: the plan checks an adopted bucket for SSE-KMS first.
        calls![s3: GetBucketReplication = ["s3:GetReplicationConfiguration"];
               s3: GetBucketEncryption = ["s3:GetEncryptionConfiguration"]],
        // The rule's role is passed to S3.
        calls![s3: PutBucketReplication = ["s3:PutReplicationConfiguration", "iam:PassRole"];
               s3: DeleteBucketReplication = ["s3:PutReplicationConfiguration"]],
    ),
    kind(
        "aws_s3_batch_replication_job",
        // GetBucketLifecycle (CloudTrail's name of the SDK's
        // GetBucketLifecycleConfiguration): the plan looks for lifecycle rules
        // on the bucket first (AWS advises disabling them during the job).
        calls![s3control: DescribeJob; s3: GetBucketLifecycle = ["s3:GetLifecycleConfiguration"]],
        calls![s3control: CreateJob = ["s3:CreateJob", "iam:PassRole"]; s3control: UpdateJobStatus],
    ),
    kind(
        "aws_cloudwatch_log_group",
        calls![logs: DescribeLogGroups; logs: ListTagsForResource],
        calls![logs: CreateLogGroup; logs: PutRetentionPolicy; logs: DeleteRetentionPolicy; logs: AssociateKmsKey;
               logs: DisassociateKmsKey; logs: TagResource; logs: UntagResource; logs: DeleteLogGroup],
    ),
    kind(
        "aws_cloudwatch_log_resource_policy",
        calls![logs: DescribeResourcePolicies],
        calls![logs: PutResourcePolicy; logs: DeleteResourcePolicy],
    ),
    kind(
        "aws_rds_global_cluster",
        calls![rds: DescribeGlobalClusters],
        calls![rds: DescribeDBClusters; rds: CreateGlobalCluster; rds: ModifyGlobalCluster; rds: RemoveFromGlobalCluster;
               rds: DeleteGlobalCluster],
    ),
    kind(
        "aws_rds_cluster",
        calls![rds: DescribeDBClusters],
        calls![rds: DescribeGlobalClusters; rds: CreateDBCluster = ["rds:CreateDBCluster", "rds:AddTagsToResource"];
               rds: ModifyDBCluster; rds: RemoveFromGlobalCluster; rds: DeleteDBCluster],
    ),
    kind(
        "aws_rds_cluster_instance",
        calls![rds: DescribeDBInstances],
        calls![rds: CreateDBInstance = ["rds:CreateDBInstance", "rds:AddTagsToResource"]; rds: ModifyDBInstance;
               rds: DeleteDBInstance],
    ),
    kind(
        "aws_opensearch_domain",
        calls![opensearch: DescribeDomain; opensearch: ListTags],
        calls![opensearch: CreateDomain; opensearch: UpdateDomainConfig; opensearch: AddTags; opensearch: RemoveTags;
               opensearch: DeleteDomain],
    ),
    kind("aws_opensearch_domain_policy", calls![opensearch: DescribeDomain], calls![opensearch: UpdateDomainConfig]),
    kind(
        "aws_opensearch_outbound_connection",
        calls![opensearch: DescribeOutboundConnections],
        calls![opensearch: DescribeDomain; opensearch: CreateOutboundConnection; opensearch: DeleteOutboundConnection],
    ),
    kind(
        "aws_opensearch_inbound_connection_accepter",
        calls![opensearch: DescribeInboundConnections],
        calls![opensearch: AcceptInboundConnection; opensearch: DeleteInboundConnection],
    ),
    kind("opensearch_autofollow_rule", &[], &[]),
    kind("opensearch_index_replication", &[], &[]),
    kind("opensearch_internal_user", &[], &[]),
    kind("opensearch_role", &[], &[]),
    kind("opensearch_role_mapping", &[], &[]),
    kind("opensearch_audit_config", &[], &[]),
    kind(
        "aws_secretsmanager_secret",
        calls![secretsmanager: DescribeSecret],
        calls![secretsmanager: CreateSecret; secretsmanager: UpdateSecret; secretsmanager: TagResource;
               secretsmanager: UntagResource; secretsmanager: DeleteSecret],
    ),
    kind(
        "aws_secretsmanager_secret_version",
        calls![secretsmanager: DescribeSecret],
        calls![secretsmanager: PutSecretValue; secretsmanager: UpdateSecretVersionStage],
    ),
    kind(
        "aws_route53_zone",
        calls![route53: GetHostedZone; route53: ListTagsForResource; route53: ListHostedZonesByName],
        calls![route53: CreateHostedZone; route53: UpdateHostedZoneComment; route53: ChangeTagsForResource;
               route53: GetChange; route53: ListResourceRecordSets; route53: ChangeResourceRecordSets;
               route53: DeleteHostedZone],
    ),
    kind(
        "aws_route53_health_check",
        calls![route53: GetHealthCheck; route53: ListTagsForResource; route53: ListHealthChecks],
        calls![route53: CreateHealthCheck; route53: UpdateHealthCheck; route53: ChangeTagsForResource;
               route53: DeleteHealthCheck],
    ),
    kind(
        "aws_route53_record",
        calls![route53: ListResourceRecordSets],
        calls![route53: ChangeResourceRecordSets; route53: GetChange],
    ),
    kind(
        "aws_security_group",
        calls![ec2: DescribeSecurityGroups],
        calls![ec2: DescribeVpcs; ec2: CreateSecurityGroup; ec2: DescribeSecurityGroupRules;
               ec2: RevokeSecurityGroupEgress; ec2: CreateTags; ec2: DeleteTags; ec2: DeleteSecurityGroup],
    ),
    kind(
        "aws_vpc_security_group_ingress_rule",
        calls![ec2: DescribeSecurityGroupRules],
        calls![ec2: AuthorizeSecurityGroupIngress; ec2: UpdateSecurityGroupRuleDescriptionsIngress;
               ec2: RevokeSecurityGroupIngress; ec2: CreateTags; ec2: DeleteTags],
    ),
    kind(
        "aws_vpc_security_group_egress_rule",
        calls![ec2: DescribeSecurityGroupRules],
        calls![ec2: AuthorizeSecurityGroupEgress; ec2: UpdateSecurityGroupRuleDescriptionsEgress;
               ec2: RevokeSecurityGroupEgress; ec2: CreateTags; ec2: DeleteTags],
    ),
    kind(
        "aws_launch_template",
        calls![ec2: DescribeLaunchTemplates; ec2: DescribeLaunchTemplateVersions],
        // The template names the nodes' instance profile.
        calls![ec2: CreateLaunchTemplate = ["ec2:CreateLaunchTemplate", "ec2:CreateTags", "iam:PassRole"];
               ec2: CreateLaunchTemplateVersion = ["ec2:CreateLaunchTemplateVersion", "iam:PassRole"];
               ec2: ModifyLaunchTemplate; ec2: CreateTags; ec2: DeleteTags; ec2: DeleteLaunchTemplate],
    ),
    kind(
        "aws_autoscaling_group",
        calls![autoscaling: DescribeAutoScalingGroups; autoscaling: DescribeInstanceRefreshes],
        // Launching from a launch template: EC2 Auto Scaling's "Permissions
        // to use launch templates" (ec2:RunInstances, iam:PassRole for its
        // instance profile, ec2:CreateTags for its tags).
        calls![ec2: DescribeSubnets;
               autoscaling: CreateAutoScalingGroup = ["autoscaling:CreateAutoScalingGroup", "ec2:RunInstances",
                                                      "ec2:CreateTags", "iam:PassRole"];
               autoscaling: UpdateAutoScalingGroup = ["autoscaling:UpdateAutoScalingGroup", "ec2:RunInstances",
                                                      "iam:PassRole"];
               autoscaling: AttachLoadBalancerTargetGroups; autoscaling: DetachLoadBalancerTargetGroups;
               autoscaling: CreateOrUpdateTags; autoscaling: DeleteTags; autoscaling: StartInstanceRefresh;
               autoscaling: CancelInstanceRefresh; autoscaling: DeleteAutoScalingGroup],
    ),
    kind(
        "aws_lb",
        calls![elbv2: DescribeLoadBalancers; elbv2: DescribeTags],
        calls![ec2: DescribeSubnets; elbv2: CreateLoadBalancer = ["elasticloadbalancing:CreateLoadBalancer",
                                                                  "elasticloadbalancing:AddTags"];
               elbv2: SetSecurityGroups; elbv2: SetSubnets; elbv2: AddTags; elbv2: RemoveTags;
               elbv2: DeleteLoadBalancer],
    ),
    kind(
        "aws_lb_target_group",
        calls![elbv2: DescribeTargetGroups; elbv2: DescribeTags],
        calls![elbv2: CreateTargetGroup = ["elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:AddTags"];
               elbv2: ModifyTargetGroup; elbv2: AddTags; elbv2: RemoveTags; elbv2: DeleteTargetGroup],
    ),
    // A lookup only: AWS-managed lists are read, never written.
    kind("standby_managed_prefix_list", calls![ec2: DescribeManagedPrefixLists], &[]),
    kind(
        "aws_lb_listener",
        calls![elbv2: DescribeListeners],
        calls![elbv2: CreateListener; elbv2: ModifyListener; elbv2: DeleteListener],
    ),
];

/// What `standby drift` lists to find unmanaged resources.
pub const DISCOVERY: &[Call] = calls![
    s3: ListBuckets = ["s3:ListAllMyBuckets"];
    iam: ListRoles; iam: ListPolicies;
    rds: DescribeDBClusters; rds: DescribeGlobalClusters;
    opensearch: ListDomainNames; opensearch: DescribeOutboundConnections;
];

/// The DR health checks' probes beyond the resources' own reads (drift, and
/// the switchover's readiness gate).
pub const HEALTH: &[Call] = calls![
    rds: DescribeGlobalClusters;
    opensearch: DescribeOutboundConnections;
    // db.lag: the series are found by name first (src/health/db_lag.rs).
    cloudwatch: ListMetrics; cloudwatch: GetMetricData;
    elbv2: DescribeTargetHealth;
    autoscaling: DescribeAutoScalingGroups;
    // app.dns_health: what Route 53's checkers see (src/health/app.rs).
    route53: GetHealthCheckStatus;
];

/// What `standby drift`'s replication canaries ([`crate::health::canary`])
/// write, beyond the drift job's reads: each statement scoped to the
/// canaries' reserved names (`--no-canaries` needs none). The search canary
/// signs in to the domains' REST API as the replication user and needs no
/// IAM action.
pub struct Scoped {
    pub sid: &'static str,
    pub actions: &'static [&'static str],
    pub resource: &'static str,
    /// A `StringLike` condition on `s3:prefix`, for listings.
    pub s3_prefix: Option<&'static str>,
}

/// The replication canaries' S3 calls, each with the action [`CANARY`]
/// grants it (a DeleteObject of a version needs `s3:DeleteObjectVersion`).
pub const CANARY_CALLS: &[Call] = calls![
    s3: PutObject; s3: HeadObject = ["s3:GetObject"]; s3: DeleteObject = ["s3:DeleteObjectVersion"];
    s3: ListObjectVersions = ["s3:ListBucketVersions"];
];

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

/// A switchover's and a failover's own steps (the resources' changes among
/// them are the kinds' writes).
pub const SWITCHOVER: &[Call] = calls![
    rds: DescribeDBClusters; rds: DescribeGlobalClusters; rds: SwitchoverGlobalCluster; rds: FailoverGlobalCluster;
    rds: ModifyDBCluster; rds: DescribeDBClusterSnapshots; rds: CopyDBClusterSnapshot;
];

/// `standby drill`'s own calls ([`crate::drill`]), in the standby region
/// (but the acceptance of its search connection, on the leader's side):
/// the database copy, the search copy and their deletion. The policy scopes
/// them (see [`DRILL`]). The copy's REST calls (replication) sign in as its
/// internal master user and need no IAM action.
pub const DRILL_CALLS: &[Call] = calls![
    rds: DescribeDBClusters; rds: DescribeDBInstances;
    // Tags given at creation are authorised as rds:AddTagsToResource too
    // (RDS User Guide, "Grant permission to tag Amazon RDS resources during
    // creation").
    rds: RestoreDBClusterToPointInTime = ["rds:RestoreDBClusterToPointInTime", "rds:AddTagsToResource"];
    rds: CreateDBInstance = ["rds:CreateDBInstance", "rds:AddTagsToResource"];
    rds: DeleteDBInstance; rds: DeleteDBCluster;
    opensearch: DescribeDomain; opensearch: DescribeOutboundConnections; opensearch: DescribeInboundConnections;
    // A TagList at creation: es:AddTags as well, as for RDS (not stated by
    // the OpenSearch Service guide: granted on the drill's names only).
    opensearch: CreateDomain = ["es:CreateDomain", "es:AddTags"];
    opensearch: CreateOutboundConnection; opensearch: AcceptInboundConnection;
    opensearch: DeleteOutboundConnection; opensearch: DeleteDomain;
    // The copy put in the drill's database group (crate::drill::app).
    rds: ModifyDBCluster;
];

/// The kinds of the drill's app tier (`crate::drill::app`): their reads
/// and writes are the drill's too, scoped by [`DRILL`].
pub const DRILL_APP_KINDS: &[&str] = &[
    "aws_security_group",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_iam_instance_profile",
    "aws_launch_template",
    "aws_autoscaling_group",
    "aws_lb",
    "aws_lb_target_group",
    "aws_lb_listener",
    "standby_managed_prefix_list",
];

/// One statement of a generated policy.
pub struct Statement {
    pub sid: &'static str,
    pub actions: &'static [&'static str],
    pub resources: &'static [&'static str],
    /// Only for requests carrying the drill's tag (`aws:RequestTag/standby-drill`).
    pub drill_tag: bool,
    /// Only on resources that carry the drill's tag (`aws:ResourceTag/standby-drill`):
    /// EC2's ARNs hold ids, not names.
    pub drill_resource_tag: bool,
}

/// What a drill's names look like in ARNs.
const DRILL_NAMES: &[&str] =
    &["arn:aws:rds:*:*:cluster:*-drill-*", "arn:aws:rds:*:*:db:*-drill-*", "arn:aws:es:*:*:domain/*-drill-*"];

/// The drill's app tier by name in ARNs: IAM, load balancing, Auto Scaling
/// (Service Authorization Reference, each service's resource types).
const DRILL_APP_NAMES: &[&str] = &[
    "arn:aws:iam::*:role/*-drill-*",
    "arn:aws:iam::*:instance-profile/*-drill-*",
    "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*-drill-*/*",
    "arn:aws:elasticloadbalancing:*:*:targetgroup/*-drill-*/*",
    "arn:aws:elasticloadbalancing:*:*:listener/app/*-drill-*/*/*",
    "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*-drill-*",
];

/// The drill role's statements: reads anywhere; copies made anywhere (a
/// restore is authorised on its source cluster, subnet group and parameter
/// groups as well as on the new cluster; a connection on both domains), but
/// RDS tags only with the drill's tag (`aws:RequestTag`, checked on
/// rds:AddTagsToResource); deletions and search tags only of what is named
/// for a drill, so the role cannot delete production. The one grant on a
/// production resource: accepting the copy's connection on the leader
/// (es:AcceptInboundConnection), which AWS requires of the leader's owner.
pub const DRILL: &[Statement] = &[
    Statement {
        sid: "StandbyDrillRead",
        actions: &[
            "es:DescribeDomain",
            "es:DescribeInboundConnections",
            "es:DescribeOutboundConnections",
            "rds:DescribeDBClusters",
            "rds:DescribeDBInstances",
        ],
        resources: &["*"],
        drill_tag: false,
        drill_resource_tag: false,
    },
    Statement {
        sid: "StandbyDrillCopy",
        actions: &[
            "es:CreateDomain",
            "es:CreateOutboundConnection",
            "rds:CreateDBInstance",
            "rds:RestoreDBClusterToPointInTime",
        ],
        resources: &["*"],
        drill_tag: false,
        drill_resource_tag: false,
    },
    Statement {
        sid: "StandbyDrillTags",
        actions: &["rds:AddTagsToResource"],
        resources: &["*"],
        drill_tag: true,
        drill_resource_tag: false,
    },
    Statement {
        sid: "StandbyDrillLeaderAcceptance",
        actions: &["es:AcceptInboundConnection"],
        resources: &["*"],
        drill_tag: false,
        drill_resource_tag: false,
    },
    // The app tier's reads, anywhere.
    Statement {
        sid: "StandbyDrillAppRead",
        actions: &[
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeInstanceRefreshes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:DescribeLaunchTemplates",
            "ec2:DescribeManagedPrefixLists",
            "ec2:DescribeSecurityGroupRules",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
            "iam:GetInstanceProfile",
            "iam:GetRole",
            "iam:GetRolePolicy",
        ],
        resources: &["*"],
        drill_tag: false,
        drill_resource_tag: false,
    },
    // EC2 names its groups and templates by id: made anywhere with the
    // drill's tag at creation, and its nodes launched by its group
    // (RunInstances is authorised on the subnet, image, groups and the
    // instance alike: AWS's Auto Scaling guide, "Launch template support").
    Statement {
        sid: "StandbyDrillAppMakeEc2",
        actions: &["ec2:CreateLaunchTemplate", "ec2:CreateSecurityGroup", "ec2:CreateTags", "ec2:RunInstances"],
        resources: &["*"],
        drill_tag: false,
        drill_resource_tag: false,
    },
    // Then changed and deleted only while they carry the drill's tag.
    Statement {
        sid: "StandbyDrillAppOwnEc2",
        actions: &[
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:CreateLaunchTemplateVersion",
            "ec2:DeleteLaunchTemplate",
            "ec2:DeleteSecurityGroup",
            "ec2:DeleteTags",
            "ec2:ModifyLaunchTemplate",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
            "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        ],
        resources: &["*"],
        drill_tag: false,
        drill_resource_tag: true,
    },
    // IAM, load balancing and Auto Scaling name theirs in the ARN: only
    // the drill's names, the node role passed only to the drill's nodes.
    Statement {
        sid: "StandbyDrillAppOwn",
        actions: &[
            "autoscaling:AttachLoadBalancerTargetGroups",
            "autoscaling:CancelInstanceRefresh",
            "autoscaling:CreateAutoScalingGroup",
            "autoscaling:CreateOrUpdateTags",
            "autoscaling:DeleteAutoScalingGroup",
            "autoscaling:DeleteTags",
            "autoscaling:DetachLoadBalancerTargetGroups",
            "autoscaling:StartInstanceRefresh",
            "autoscaling:UpdateAutoScalingGroup",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            "iam:AddRoleToInstanceProfile",
            "iam:CreateInstanceProfile",
            "iam:CreateRole",
            "iam:DeleteInstanceProfile",
            "iam:DeleteRole",
            "iam:DeleteRolePolicy",
            "iam:PassRole",
            "iam:PutRolePolicy",
            "iam:RemoveRoleFromInstanceProfile",
            "iam:TagInstanceProfile",
            "iam:TagRole",
            "iam:UntagInstanceProfile",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:UpdateRole",
        ],
        resources: DRILL_APP_NAMES,
        drill_tag: false,
        drill_resource_tag: false,
    },
    Statement {
        sid: "StandbyDrillOwn",
        actions: &[
            "es:AddTags",
            "es:DeleteDomain",
            "es:DeleteOutboundConnection",
            "rds:DeleteDBCluster",
            "rds:DeleteDBInstance",
            "rds:ModifyDBCluster",
        ],
        resources: DRILL_NAMES,
        drill_tag: false,
        drill_resource_tag: false,
    },
];

/// Preflight's own reads. GetCallerIdentity needs no permission (STS API
/// reference: "No permissions are required to perform this operation").
pub const PREFLIGHT: &[Call] = calls![
    sts: GetCallerIdentity = ["sts:GetCallerIdentity"];
    iam: GetRole; iam: SimulatePrincipalPolicy;
    rds: DescribeDBClusters; rds: DescribeDBClusterSnapshots;
    opensearch: DescribeDomain;
];

/// The S3 state backend's calls (resource-scoped in the policies, see
/// [`policy`]). HeadObject is never called; GetObject reads.
pub const STATE: &[Call] = calls![
    s3: GetObject; s3: PutObject; s3: DeleteObject; s3: DeleteObjects = ["s3:DeleteObject"];
    s3: ListObjectsV2 = ["s3:ListBucket"]; s3: GetBucketVersioning;
];

/// The calls of one kind, if standby knows it.
pub fn of_kind(kind: &str) -> Option<&'static KindCalls> {
    KINDS.iter().find(|k| k.kind == kind)
}

fn actions<'a>(calls: impl IntoIterator<Item = &'a Call>) -> BTreeSet<String> {
    calls.into_iter().flat_map(Call::actions).filter(|a| a != "sts:GetCallerIdentity").collect()
}

/// A drift job's actions for these kinds: their reads, discovery and the
/// health probes. Sorted.
pub fn for_drift<'a>(kinds: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let kinds: Vec<&KindCalls> = kinds.into_iter().filter_map(of_kind).collect();
    actions(kinds.iter().flat_map(|k| k.read).chain(DISCOVERY).chain(HEALTH))
}

/// An apply's actions for these kinds: refresh, create, update, delete,
/// the switchover's steps and its readiness checks. Sorted.
pub fn for_apply<'a>(kinds: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let kinds: Vec<&KindCalls> = kinds.into_iter().filter_map(of_kind).collect();
    actions(kinds.iter().flat_map(|k| k.read.iter().chain(k.write)).chain(SWITCHOVER).chain(HEALTH))
}

/// Every call of this table with that service and operation (a test looks
/// up the emulator's call log here).
pub fn find(service: &str, operation: &str) -> Vec<&'static Call> {
    KINDS
        .iter()
        .flat_map(|k| k.read.iter().chain(k.write))
        .chain(DISCOVERY)
        .chain(HEALTH)
        .chain(SWITCHOVER)
        .chain(PREFLIGHT)
        .chain(STATE)
        .chain(CANARY_CALLS)
        .chain(DRILL_CALLS)
        .filter(|c| c.service == service && c.operation == operation)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_and_reads_are_read_only() {
        for k in crate::kinds::registry() {
            assert!(of_kind(k.type_name()).is_some(), "{} has no calls listed", k.type_name());
        }
        let mut seen = BTreeSet::new();
        for k in KINDS {
            assert!(seen.insert(k.kind), "{} listed twice", k.kind);
            assert!(crate::kinds::lookup(k.kind).is_some(), "{} is not a kind", k.kind);
        }
        for a in for_drift(KINDS.iter().map(|k| k.kind)) {
            let verb = a.split(':').nth(1).unwrap();
            assert!(["Get", "List", "Describe"].iter().any(|p| verb.starts_with(p)), "{a} is not a read action");
        }
        // What an adoption plan reads before creating on production's bucket.
        let reads = for_drift(KINDS.iter().map(|k| k.kind));
        for a in ["s3:GetLifecycleConfiguration", "s3:GetEncryptionConfiguration", "s3:GetReplicationConfiguration"] {
            assert!(reads.contains(a), "{a} is missing from the read actions");
        }
        // The db.lag probe finds the series by name before reading them.
        assert!(reads.contains("cloudwatch:ListMetrics"));
    }

    #[test]
    fn actions_default_to_the_operation_under_the_service_prefix() {
        let c = find("opensearch", "DescribeDomain")[0];
        assert_eq!(c.actions(), ["es:DescribeDomain"]);
        assert_eq!(find("elbv2", "DescribeTargetHealth")[0].actions(), ["elasticloadbalancing:DescribeTargetHealth"]);
        assert_eq!(find("s3", "HeadBucket")[0].actions(), ["s3:ListBucket"]);
        assert!(!for_drift(["aws_s3_bucket"]).contains("sts:GetCallerIdentity"));
    }

    /// The canaries' writes reach only their reserved prefix: every object
    /// action on keys under it, the listing narrowed to it by `s3:prefix`.
    #[test]
    fn canary_statements_are_scoped_to_the_reserved_prefix() {
        let prefix = crate::health::canary::S3_PREFIX;
        for st in CANARY {
            match st.s3_prefix {
                Some(p) => {
                    assert_eq!(p, format!("{prefix}*"), "{}", st.sid);
                    assert!(st.actions.iter().all(|a| a.starts_with("s3:List")), "{}", st.sid);
                }
                None => assert!(st.resource.ends_with(&format!("/{prefix}*")), "{}: {}", st.sid, st.resource),
            }
        }
        let all: Vec<&str> = CANARY.iter().flat_map(|s| s.actions.iter().copied()).collect();
        // PutObject, HeadObject, DeleteObject of a version, ListObjectVersions.
        for a in ["s3:PutObject", "s3:GetObject", "s3:DeleteObjectVersion", "s3:ListBucketVersions"] {
            assert!(all.contains(&a), "{a}");
        }
        assert!(!all.iter().any(|a| a.ends_with('*') || *a == "s3:DeleteObject"), "{all:?}");
    }

    /// Every action of a drill's calls is granted by its statements, and a
    /// deletion only of names made for a drill.
    #[test]
    fn the_drill_role_grants_its_calls_and_deletes_only_drill_names() {
        let granted: BTreeSet<&str> = DRILL.iter().flat_map(|s| s.actions.iter().copied()).collect();
        let app = DRILL_APP_KINDS.iter().filter_map(|k| of_kind(k)).flat_map(|k| k.read.iter().chain(k.write));
        for c in DRILL_CALLS.iter().chain(app) {
            for a in c.actions() {
                assert!(granted.contains(a.as_str()), "{a} of {} is not granted", c.operation);
            }
        }
        for st in DRILL {
            if st.actions.iter().any(|a| a.contains(":Delete")) && !st.drill_resource_tag {
                assert!(st.resources.iter().all(|r| r.contains("*-drill-*")), "{}: {:?}", st.sid, st.resources);
            }
        }
    }
}
