//! Resource kinds: one trait, one module per kind with the same inner shape
//! (schema, validate, create, read, update, delete).
//!
//! The engine never knows what a kind does; it asks the kind for its schema,
//! lets it check and plan values, and calls its async CRUD functions with a
//! [`Ctx`] carrying the instance's region and the AWS clients.

pub mod app;
pub mod aws;
pub mod data;
pub mod mattermost_config;
pub mod opensearch;
pub mod rds;
pub mod route53;
pub mod schema;
pub mod secrets;

use crate::aws::Aws;
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use schema::{ProviderName, Schema};
use std::collections::BTreeSet;
use std::time::Duration;

/// What a kind gets for each call.
pub struct Ctx<'a> {
    /// Resource address, for messages.
    pub address: &'a str,
    /// The AWS region name this instance lives in (e.g. `us-east-1`).
    pub region: &'a str,
    pub aws: &'a Aws,
    /// How long the current operation may take, waits included.
    pub timeout: Duration,
    /// The resource was adopted (imported from outside standby): production.
    /// What the configuration does not ask for is left as AWS has it (e.g.
    /// no `ApplyImmediately` unless the configuration says so).
    pub adopted: bool,
    /// For an update: the properties the plan changes. A secret AWS never
    /// returns is compared by hash, so only the plan knows whether it changed.
    pub changed: &'a BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    /// A context for reads and one-off calls: not adopted, nothing changed.
    pub fn new(address: &'a str, region: &'a str, aws: &'a Aws, timeout: Duration) -> Ctx<'a> {
        static NONE: BTreeSet<String> = BTreeSet::new();
        Ctx { address, region, aws, timeout, adopted: false, changed: &NONE }
    }
}

/// The object a resource changes when that is not the resource itself: a
/// resource of `type_name` whose attribute `attr` is `value` (a bucket's
/// versioning changes the bucket named in its `bucket`). When that object
/// is adopted, the plan lists the change among those made to production.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub type_name: &'static str,
    pub attr: &'static str,
    pub value: String,
}

impl Target {
    pub fn new(type_name: &'static str, attr: &'static str, value: impl Into<String>) -> Target {
        Target { type_name, attr, value: value.into() }
    }
}

/// A problem with one property, found before any API call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropProblem {
    /// The top-level property it concerns (its location is reported).
    pub prop: String,
    pub message: String,
    pub warning: bool,
}

impl PropProblem {
    pub fn error(prop: &str, message: impl Into<String>) -> Self {
        PropProblem { prop: prop.to_string(), message: message.into(), warning: false }
    }
    pub fn warning(prop: &str, message: impl Into<String>) -> Self {
        PropProblem { prop: prop.to_string(), message: message.into(), warning: true }
    }
}

/// Errors from a kind's operations. The apply walker adds the address.
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// An AWS API call failed.
    #[error("{call}: {code}: {message}{}", hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Aws { call: &'static str, code: String, message: String, hint: Option<String> },
    #[error("timed out after {}s waiting for {what}", after.as_secs())]
    Timeout { what: String, after: Duration },
    /// The resource is in a state the operation cannot work from.
    #[error("{0}")]
    Failed(String),
}

impl KindError {
    /// AWS said the thing to create is there already.
    pub fn already_exists(&self) -> bool {
        match self {
            KindError::Aws { code, message, .. } => {
                code.contains("AlreadyExists")
                    || code == "BucketAlreadyOwnedByYou"
                    || code == "EntityAlreadyExists"
                    || message.contains("already exists")
            }
            _ => false,
        }
    }

    /// For a create of several calls: an error after the call that made the
    /// resource. Never a refusal (the resource exists: its intent must stay
    /// on record, so the next refresh finds it by its natural key and the
    /// next apply finishes it), whatever the later call's answer was.
    pub fn after_made(self, what: &str) -> KindError {
        KindError::Failed(format!("{self}\n  ({what} was made; the next apply finds it and finishes it)"))
    }

    /// True when AWS refused the request, so nothing was made. A timeout, a
    /// lost connection or a server error leaves it open: the call may have
    /// taken effect.
    pub fn refused(&self) -> bool {
        const UNSURE: &[&str] = &[
            "Timeout",
            "RequestFailed",
            "Unreachable",
            "UnparseableResponse",
            "InternalError",
            "InternalFailure",
            "InternalServerError",
            "InternalServerException",
            "ServiceUnavailable",
            "ServiceUnavailableException",
        ];
        match self {
            KindError::Aws { code, .. } => !UNSURE.contains(&code.as_str()) && !code.starts_with("HTTP 5"),
            _ => false,
        }
    }
}

/// The hint for "already exists" errors, shared by every AWS kind.
pub const EXISTS_HINT: &str = "it already exists outside standby's state: give yours another name here, or remove the \
     existing one if it is a leftover (standby does not adopt existing resources yet)";

/// How far a long operation is, in a few words (e.g. "120 of 300 objects
/// replicated"), set by the kind while apply waits and shown on its "Still
/// creating..." lines: kinds never print.
#[derive(Clone, Default)]
pub struct StatusCell(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl StatusCell {
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

tokio::task_local! {
    static STATUS: StatusCell;
}

/// Runs an operation with a [`StatusCell`] its kind can report to.
pub async fn with_status<F: std::future::Future>(cell: StatusCell, fut: F) -> F::Output {
    STATUS.scope(cell, fut).await
}

/// Reports how far the current operation is (nothing happens outside apply).
pub fn report_status(text: impl Into<String>) {
    let text = text.into();
    let _ = STATUS.try_with(|c| *c.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(text));
}

/// What a create call returns: the id, and what is known of the resource.
pub struct Created {
    pub id: String,
    pub attrs: Attrs,
}

/// A read-only view of every planned instance, for checks across resources
/// (e.g. a replication rule towards a bucket that is not versioned).
pub trait PlanView {
    /// The planned attributes of every instance of a type.
    fn instances_of(&self, type_name: &str) -> Vec<(String, &Attrs)>;

    /// The AWS region of a planned instance, by address (e.g. to check that
    /// the members of a global database are in different regions).
    fn region_of(&self, _address: &str) -> Option<&str> {
        None
    }

    /// The address of the instance being checked.
    fn current(&self) -> Option<&str> {
        None
    }
}

#[async_trait]
pub trait Kind: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &'static Schema;

    /// Checks beyond types: naming rules, rules between properties.
    fn validate(&self, _props: &Attrs) -> Vec<PropProblem> {
        Vec::new()
    }

    /// Checks that hold only for a create: an unset input means "as found"
    /// for an existing (adopted) resource, but a new one needs some (e.g. a
    /// master user for a cluster that is not a secondary).
    fn check_create(&self, _props: &Attrs) -> Vec<PropProblem> {
        Vec::new()
    }

    /// Checks against the rest of the planned configuration.
    fn check_plan(&self, _props: &Attrs, _view: &dyn PlanView) -> Vec<PropProblem> {
        Vec::new()
    }

    /// Checks an in-place update against what AWS reports now (`prior`, as
    /// refreshed): a change that would hurt what runs on the resource (e.g.
    /// cut production clients off) is refused before any call.
    fn check_update(&self, _prior: &Attrs, _planned: &Attrs) -> Vec<PropProblem> {
        Vec::new()
    }

    /// Checks a delete against what AWS reports now (`prior`, as refreshed),
    /// the configuration when it still declares the resource (`configured`,
    /// on destroy) and what else the plan deletes (`deleted`: type, attributes).
    fn check_delete(
        &self,
        _prior: &Attrs,
        _configured: Option<&Attrs>,
        _deleted: &[(&str, &Attrs)],
    ) -> Vec<PropProblem> {
        Vec::new()
    }

    /// What a delete does beyond removing the resource, in plain words for
    /// the plan (e.g. a policy restored).
    fn delete_effect(&self, _prior: &Attrs) -> Option<String> {
        None
    }

    /// What an in-place update does beyond setting the changed attributes,
    /// in plain words for the plan (e.g. nodes replaced by a rolling refresh).
    fn update_effect(&self, _before: &Attrs, _after: &Attrs, _changed: &BTreeSet<String>) -> Option<String> {
        None
    }

    /// The form a value is compared in, so that equivalent spellings (policy
    /// JSON key order, `"x"` vs `["x"]`) never show as changes.
    fn normalize(&self, _prop: &str, v: &Value) -> Value {
        v.clone()
    }

    /// Attributes this kind derives from inputs before apply (e.g. an S3
    /// bucket's ARN from its name). Computed attributes not set here are
    /// taken from the prior state, or are unknown on create.
    fn derive(&self, _planned: &mut Attrs) {}

    /// Computed attributes an in-place update of these inputs changes, so
    /// the plan shows them as known after apply (e.g. the writer's ARN when
    /// `writer_region` changes).
    fn unknown_after_update(&self, _changed: &BTreeSet<String>) -> Vec<&'static str> {
        Vec::new()
    }

    /// The id a create will produce, when it follows from the inputs (a
    /// bucket's name). Recorded before the create is called, so that a killed
    /// apply can find the resource again on the next refresh.
    fn id_hint(&self, _desired: &Attrs) -> Option<String> {
        None
    }

    /// For kinds whose id AWS assigns: whether [`Kind::find`] can look a
    /// resource up by the natural key its intent records.
    fn finds_by_natural_key(&self) -> bool {
        false
    }

    /// Finds, by the natural key in `desired` (the intent's attributes),
    /// what a create made before its answer was lost (a kill, a dropped
    /// connection): its id, or `None`.
    async fn find(&self, _cx: &Ctx<'_>, _desired: &Attrs) -> Result<Option<String>, KindError> {
        Ok(None)
    }

    /// True for kinds that make no cloud calls (nothing can exist outside state).
    fn state_only(&self) -> bool {
        false
    }

    /// Properties that mean the same as an attribute of the AWS provider's
    /// resource of this type but sit elsewhere there (see [`ProviderName`]).
    /// Properties not listed keep their name.
    fn provider_names(&self) -> &'static [ProviderName] {
        &[]
    }

    /// A property's value in the AWS provider's shape, where it differs by
    /// more than its name (the plan JSON; e.g. replication rules as the
    /// provider's nested `rule` blocks). `None`: the value as it is.
    fn provider_value(&self, _prop: &str, _v: &serde_json::Value) -> Option<serde_json::Value> {
        None
    }

    /// Which computed attribute carries which input, so sensitivity follows.
    fn sensitive_follows(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Warnings (or refusals) for a change to a resource adopted from
    /// outside standby, where the change would disturb what already runs on
    /// it (e.g. moving a cluster's master password to Secrets Manager
    /// rotates it under the application). `importing`: adopted by this plan.
    fn adoption_checks(
        &self,
        _aws_reports: &Attrs,
        _planned: &Attrs,
        _changed: &BTreeSet<String>,
        _importing: bool,
    ) -> Vec<PropProblem> {
        Vec::new()
    }

    /// The object this resource changes when it is not that object itself
    /// (a bucket's versioning, a domain's users): see [`Target`].
    fn acts_on(&self, _props: &Attrs) -> Option<Target> {
        None
    }

    /// Off production (the resource not adopted, and the object
    /// [`Kind::acts_on`] names one standby made or makes in this plan): the
    /// defaults of what the configuration leaves unset, kept as configured.
    /// On production an unset property is as found, and this is not called.
    fn defaults_off_production(&self, _planned: &mut Attrs) {}

    /// What a change on production (an adopted resource, or the adopted
    /// object [`Kind::acts_on`] names) does there, in plain words with AWS's
    /// consequence, for the plan's production section. `before` is `None`
    /// for a create, `after` for a delete. `None`: the change does nothing
    /// on production (only standby's own settings), and is not listed.
    fn production_effect(
        &self,
        _before: Option<&Attrs>,
        _after: Option<&Attrs>,
        _changed: &BTreeSet<String>,
    ) -> Option<String> {
        None
    }

    /// Observes, before a create, what the object this resource changes had
    /// until now (e.g. a bucket's versioning status, a domain's access
    /// policy), as attributes to keep (`previous_*`). The apply writes them
    /// ahead to the journal, durably, before the create is called, so that
    /// deleting the resource can give production back what it had even
    /// when the apply was killed right after the call.
    async fn before_create(&self, _cx: &Ctx<'_>, _desired: &Attrs) -> Result<Attrs, KindError> {
        Ok(Attrs::new())
    }

    /// Attributes AWS never reports that the state keeps as recorded (what
    /// [`Kind::before_create`] observed, standby's own settings): every
    /// refresh and read-back carries them over.
    fn kept(&self) -> &'static [&'static str] {
        &[]
    }

    /// On an adopted resource, what to apply when the configuration says
    /// `want` and AWS reports `have`: by default what is configured. Kinds
    /// merge where production may hold more than standby sets (tags by
    /// key, log publishing by log type), so nothing production has is dropped.
    fn merge_adopted(&self, _prop: &str, want: &Value, _have: &Value) -> Value {
        want.clone()
    }

    /// Properties of an adopted resource that destroy gives back as they
    /// were found at import when standby changed them (tags, log publishing).
    fn restorable(&self) -> &'static [&'static str] {
        &[]
    }

    /// For a create planned on production (it changes an adopted object):
    /// what is there already. [`Existing::Refused`] when the create would
    /// replace something production has (a user of the same name), a
    /// [`Existing::Note`] for the plan's warnings (a lifecycle rule to pause);
    /// a kind that merges with what it finds says nothing. Read at plan
    /// time, never written.
    async fn existing(&self, _cx: &Ctx<'_>, _props: &Attrs) -> Result<Existing, KindError> {
        Ok(Existing::Clear)
    }

    /// What someone reading the plan must know about the resource as AWS
    /// reports it now (a batch job that finished with failed objects): a
    /// warning on every plan until it is dealt with.
    fn attention(&self, _attrs: &Attrs) -> Option<String> {
        None
    }

    /// Checks secrets AWS never returns against the live resource, with one
    /// authenticated read: for each sensitive property given in `known`
    /// (configured values and secrets) that the kind can check, whether it
    /// is the one in use. `observed` is what `read` reported. Kinds that
    /// cannot check say nothing (the plan then warns that setting one
    /// overwrites what is in use).
    async fn verify_secrets(
        &self,
        _cx: &Ctx<'_>,
        _known: &Attrs,
        _observed: &Attrs,
    ) -> Result<Vec<(String, bool)>, KindError> {
        Ok(Vec::new())
    }

    /// True when `read` needs configured values besides the id (a REST
    /// kind needs its domain's endpoint and master user): an import of it is
    /// read after the others, with what the configuration says.
    fn import_reads_configuration(&self) -> bool {
        false
    }

    /// Default time limit per operation.
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(20 * 60)
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError>;

    /// Waits until a newly created or updated resource is ready. Called under
    /// the operation's timeout; on timeout the resource stays on record.
    async fn wait_ready(&self, _cx: &Ctx<'_>, _id: &str) -> Result<(), KindError> {
        Ok(())
    }

    /// Reads what AWS reports. `None` when the resource no longer exists.
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError>;

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError>;

    async fn delete(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<(), KindError>;
}

/// Kinds whose resource in the AWS provider has another type name:
/// (standby's, the provider's). The plan JSON names them as the provider
/// does, so policy tools (checkov's CKV_AWS_144) know them.
pub const PROVIDER_TYPES: &[(&str, &str)] = &[("aws_s3_bucket_replication", "aws_s3_bucket_replication_configuration")];

/// The AWS provider's name of a type (the same for most).
pub fn provider_type(type_name: &str) -> &str {
    PROVIDER_TYPES.iter().find(|(ours, _)| *ours == type_name).map_or(type_name, |(_, theirs)| theirs)
}

/// Every kind standby knows.
pub fn registry() -> &'static [&'static dyn Kind] {
    static KINDS: &[&dyn Kind] = &[
        &data::StandbyData,
        &aws::iam_role::IamRole,
        &aws::iam_role_policy::IamRolePolicy,
        &aws::iam_policy::IamPolicy,
        &aws::iam_role_policy_attachment::IamRolePolicyAttachment,
        &aws::s3_bucket::S3Bucket,
        &aws::s3_bucket_versioning::S3BucketVersioning,
        &aws::s3_bucket_public_access_block::S3BucketPublicAccessBlock,
        &aws::s3_bucket_replication::S3BucketReplication,
        &aws::s3_batch_replication_job::S3BatchReplicationJob,
        &aws::cloudwatch_log_group::CloudWatchLogGroup,
        &aws::cloudwatch_log_resource_policy::CloudWatchLogResourcePolicy,
        &rds::global_cluster::RdsGlobalCluster,
        &rds::cluster::RdsCluster,
        &rds::cluster_instance::RdsClusterInstance,
        &opensearch::domain::OpenSearchDomain,
        &opensearch::domain_policy::OpenSearchDomainPolicy,
        &opensearch::outbound_connection::OpenSearchOutboundConnection,
        &opensearch::inbound_connection_accepter::OpenSearchInboundConnectionAccepter,
        &opensearch::autofollow_rule::OpenSearchAutofollowRule,
        &opensearch::index_replication::OpenSearchIndexReplication,
        &opensearch::internal_user::OpenSearchInternalUser,
        &opensearch::role::OpenSearchRole,
        &opensearch::role_mapping::OpenSearchRoleMapping,
        &opensearch::audit_config::OpenSearchAuditConfig,
        &secrets::secret::SecretsManagerSecret,
        &secrets::secret_version::SecretsManagerSecretVersion,
        &route53::zone::Route53Zone,
        &route53::health_check::Route53HealthCheck,
        &route53::record::Route53Record,
        &aws::iam_instance_profile::IamInstanceProfile,
        &app::security_group::SecurityGroup,
        &app::security_group_rule::IngressRule,
        &app::security_group_rule::EgressRule,
        &app::launch_template::LaunchTemplate,
        &app::autoscaling_group::AutoscalingGroup,
        &app::lb::Lb,
        &app::lb_target_group::LbTargetGroup,
        &app::lb_listener::LbListener,
        &app::managed_prefix_list::ManagedPrefixList,
        &mattermost_config::MattermostConfig,
    ];
    KINDS
}

pub fn lookup(type_name: &str) -> Option<&'static dyn Kind> {
    registry().iter().copied().find(|k| k.type_name() == type_name)
}

/// What [`Kind::existing`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Existing {
    Clear,
    /// For the plan's warnings.
    Note(String),
    /// The create would replace what production has: the plan is refused.
    Refused(String),
}

impl From<Option<String>> for Existing {
    /// `Some(why)`: refused.
    fn from(refusal: Option<String>) -> Existing {
        refusal.map_or(Existing::Clear, Existing::Refused)
    }
}

/// Carries what the state keeps as recorded ([`Kind::kept`]) from `from`
/// into attributes just read from AWS.
pub fn carry_kept(kind: &dyn Kind, from: &Attrs, into: &mut Attrs) {
    for k in kind.kept() {
        if let Some(v) = from.get(*k)
            && !into.contains_key(*k)
        {
            into.insert(k.to_string(), v.clone());
        }
    }
}
