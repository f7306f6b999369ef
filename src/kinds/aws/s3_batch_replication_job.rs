//! `aws_s3_batch_replication_job`: a one-off S3 Batch Replication job that
//! copies the objects a bucket held before its replication rules existed
//! (rules only replicate new writes). id = job id.
//!
//! Create: S3 Control `CreateJob` with the `S3ReplicateObject` operation and
//! a manifest S3 generates from the source bucket (objects whose
//! replication status is NONE or FAILED), no completion report; the client
//! request token is derived from the bucket and role, so a create repeated
//! after an unclear failure finds the same job instead of starting another.
//! Apply waits until the job ends and fails, naming the counts, when objects
//! failed. Read: one `DescribeJob`. Delete cancels a job still running; a
//! finished job is only forgotten (AWS keeps its record for 90 days).
//!
//! id = `<account>:<job id>`: every S3 Control call names the account.

use super::{aws_error, get_i64, get_str, is_gone, req_str};
use crate::kinds::schema::{Prop, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_s3control::types::{
    JobManifestGenerator, JobManifestGeneratorFilter, JobOperation, JobReport, JobStatus, ReplicationStatus,
    RequestedJobStatus, S3JobManifestGenerator, S3ReplicateObjectOperation,
};
use std::time::Duration;

pub struct S3BatchReplicationJob;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("bucket", Type::String, "Source bucket (its replication rules say where objects go).")
            .force_new(),
        Prop::required(
            "role_arn",
            Type::String,
            "Role S3 Batch Operations assumes (trusts batchoperations.s3.amazonaws.com; s3:InitiateReplication on \
             the objects, s3:GetReplicationConfiguration and s3:PutInventoryConfiguration on the bucket).",
        )
        .force_new(),
        Prop::optional("description", Type::String, "Job description.").force_new(),
        Prop::optional("priority", Type::Number, "Job priority (default 10).").force_new(),
        Prop::computed("job_arn", Type::String, "Job ARN."),
        Prop::computed("status", Type::String, "Complete, Failed, Cancelled, or a state on the way (Active, ...)."),
        Prop::computed("total_objects", Type::Number, "Objects the job found to replicate."),
        Prop::computed("replicated_objects", Type::Number, "Objects replicated."),
        Prop::computed("failed_objects", Type::Number, "Objects that failed to replicate."),
    ],
};

const GONE: &[&str] = &["NoSuchJob", "NotFound", "HTTP 404"];
const DEFAULT_PRIORITY: i64 = 10;

/// The account id in an IAM role ARN (`arn:aws:iam::<account>:role/…`).
fn account_of(role_arn: &str) -> Option<&str> {
    let parts: Vec<&str> = role_arn.split(':').collect();
    (parts.len() >= 6 && parts[0] == "arn" && parts[2] == "iam" && parts[4].len() == 12).then(|| parts[4])
}

fn account(props: &Attrs) -> Result<String, KindError> {
    let role = req_str(props, "role_arn")?;
    account_of(role).map(str::to_string).ok_or_else(|| KindError::Failed(format!("{role:?} is not an IAM role ARN")))
}

/// `<account>:<job id>` → its parts.
fn split_id(id: &str) -> Result<(&str, &str), KindError> {
    id.split_once(':')
        .filter(|(a, j)| a.len() == 12 && !j.is_empty())
        .ok_or_else(|| KindError::Failed(format!("{id:?} is not <account>:<job id>")))
}

/// The same inputs give the same token: a repeated create finds its job.
fn token(bucket: &str, role: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("standby-batch-replication\n{bucket}\n{role}"));
    digest.iter().take(24).map(|b| format!("{b:02x}")).collect()
}

/// Terminal states: the job will not change any more.
fn finished(status: &str) -> bool {
    matches!(status, "Complete" | "Failed" | "Cancelled")
}

async fn describe(cx: &Ctx<'_>, account: &str, id: &str) -> Result<Option<Attrs>, KindError> {
    let s3c = cx.aws.s3control(cx.region).await;
    let out = match s3c.describe_job().account_id(account).job_id(id).send().await {
        Ok(o) => o,
        Err(e) if is_gone(&e, GONE) => return Ok(None),
        Err(e) => return Err(aws_error("DescribeJob", e)),
    };
    let Some(job) = out.job() else { return Ok(None) };
    let mut a = Attrs::new();
    let source = match job.manifest_generator() {
        Some(JobManifestGenerator::S3JobManifestGenerator(g)) => g.source_bucket().to_string(),
        _ => String::new(),
    };
    if let Some(b) = super::s3_bucket::name_from_arn(&source) {
        a.insert("bucket".into(), Value::str(b));
    }
    if let Some(r) = job.role_arn() {
        a.insert("role_arn".into(), Value::str(r));
    }
    if let Some(d) = job.description().filter(|d| !d.is_empty()) {
        a.insert("description".into(), Value::str(d));
    }
    a.insert("priority".into(), Value::int(job.priority().into()));
    if let Some(arn) = job.job_arn() {
        a.insert("job_arn".into(), Value::str(arn));
    }
    a.insert("status".into(), Value::str(job.status().map(JobStatus::as_str).unwrap_or("New")));
    let p = job.progress_summary();
    let n = |v: Option<i64>| Value::int(v.unwrap_or(0));
    a.insert("total_objects".into(), n(p.and_then(|p| p.total_number_of_tasks())));
    a.insert("replicated_objects".into(), n(p.and_then(|p| p.number_of_tasks_succeeded())));
    a.insert("failed_objects".into(), n(p.and_then(|p| p.number_of_tasks_failed())));
    if job.status() == Some(&JobStatus::Failed) {
        let why: Vec<String> = job
            .failure_reasons()
            .iter()
            .map(|f| format!("{}: {}", f.failure_code().unwrap_or("?"), f.failure_reason().unwrap_or("")))
            .collect();
        a.insert("failure".into(), Value::str(why.join("; ")));
    }
    Ok(Some(a))
}

#[async_trait]
impl Kind for S3BatchReplicationJob {
    fn type_name(&self) -> &'static str {
        "aws_s3_batch_replication_job"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    /// Large buckets take hours.
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(6 * 3600)
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(role) = get_str(props, "role_arn")
            && account_of(role).is_none()
        {
            out.push(PropProblem::error(
                "role_arn",
                format!("{role:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"),
            ));
        }
        if let Some(p) = get_i64(props, "priority")
            && !(0..=2_147_483_647).contains(&p)
        {
            out.push(PropProblem::error("priority", "priority must be 0 or more"));
        }
        out
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        match (prop, v) {
            ("priority", Value::Null) => Value::int(DEFAULT_PRIORITY),
            _ => v.clone(),
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let bucket = req_str(desired, "bucket")?;
        let role = req_str(desired, "role_arn")?;
        let filter = JobManifestGeneratorFilter::builder()
            .eligible_for_replication(true)
            .object_replication_statuses(ReplicationStatus::None)
            .object_replication_statuses(ReplicationStatus::Failed)
            .build();
        let generator = S3JobManifestGenerator::builder()
            .source_bucket(super::s3_bucket::arn(bucket))
            .enable_manifest_output(false)
            .filter(filter)
            .build()
            .map_err(|e| KindError::Failed(e.to_string()))?;
        let s3c = cx.aws.s3control(cx.region).await;
        let out = s3c
            .create_job()
            .account_id(account(desired)?)
            .confirmation_required(false)
            .operation(
                JobOperation::builder().s3_replicate_object(S3ReplicateObjectOperation::builder().build()).build(),
            )
            .report(JobReport::builder().enabled(false).build())
            .client_request_token(token(bucket, role))
            .set_description(get_str(desired, "description").map(str::to_string))
            .priority(get_i64(desired, "priority").unwrap_or(DEFAULT_PRIORITY) as i32)
            .role_arn(role)
            .manifest_generator(JobManifestGenerator::S3JobManifestGenerator(generator))
            .send()
            .await
            .map_err(|e| aws_error("CreateJob", e))?;
        let job = out.job_id().ok_or_else(|| KindError::Failed("CreateJob returned no job id".into()))?;
        let id = format!("{}:{job}", account(desired)?);
        let mut attrs = desired.clone();
        attrs.insert("status".into(), Value::str("New"));
        Ok(Created { id, attrs })
    }

    /// Until the job ends. A failed job, or objects that failed, fail the
    /// apply with the counts (the job stays on record).
    async fn wait_ready(&self, cx: &Ctx<'_>, id: &str) -> Result<(), KindError> {
        let (account, job) = split_id(id)?;
        let mut delay = Duration::from_millis(300);
        loop {
            let Some(a) = describe(cx, account, job).await? else {
                return Err(KindError::Failed(format!("job {job} is gone")));
            };
            let count = |k: &str| get_i64(&a, k).unwrap_or(0);
            super::super::report_status(format!(
                "job {}: {} of {} objects replicated, {} failed",
                get_str(&a, "status").unwrap_or("?"),
                count("replicated_objects"),
                count("total_objects"),
                count("failed_objects")
            ));
            match get_str(&a, "status").unwrap_or_default() {
                "Complete" if count("failed_objects") == 0 => return Ok(()),
                "Complete" => {
                    return Err(KindError::Failed(format!(
                        "batch replication job {job} finished with {} of {} objects failed ({} replicated); the \
                         S3 console's job page lists them",
                        count("failed_objects"),
                        count("total_objects"),
                        count("replicated_objects")
                    )));
                }
                "Failed" | "Cancelled" => {
                    return Err(KindError::Failed(format!(
                        "batch replication job {job} is {}: {}",
                        get_str(&a, "status").unwrap_or_default(),
                        get_str(&a, "failure").unwrap_or("no reason given")
                    )));
                }
                _ => {}
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }

    // read: 1 call (DescribeJob).
    async fn read(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let (account, job) = split_id(id)?;
        Ok(describe(cx, account, job).await?.map(|mut a| {
            a.remove("failure");
            a
        }))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        // Every input forces a new job; nothing to change in place.
        Ok(())
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        let (account, id) = split_id(id)?;
        let Some(a) = describe(cx, account, id).await? else { return Ok(()) };
        if finished(get_str(&a, "status").unwrap_or_default()) {
            return Ok(());
        }
        let s3c = cx.aws.s3control(cx.region).await;
        match s3c
            .update_job_status()
            .account_id(account)
            .job_id(id)
            .requested_job_status(RequestedJobStatus::Cancelled)
            .status_update_reason("standby destroy")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, GONE) || is_gone(&e, &["JobStatusException"]) => Ok(()),
            Err(e) => Err(aws_error("UpdateJobStatus", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_and_token() {
        assert_eq!(account_of("arn:aws:iam::123456789012:role/batch"), Some("123456789012"));
        assert_eq!(account_of("arn:aws:s3:::bucket"), None);
        assert_eq!(token("b", "r"), token("b", "r"));
        assert_ne!(token("b", "r"), token("c", "r"));
        assert!(token("b", "r").len() <= 64);
    }
}
