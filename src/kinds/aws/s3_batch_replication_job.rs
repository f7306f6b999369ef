//! `aws_s3_batch_replication_job`: a one-off S3 Batch Replication job that
//! copies the objects a bucket held before its replication rules existed
//! (rules only replicate new writes). id = job id.
//!
//! Create: S3 Control `CreateJob` with the `S3ReplicateObject` operation and
//! a manifest S3 generates from the source bucket (objects whose
//! replication status is NONE or FAILED: a second run copies only what is
//! not replicated yet; S3 copies "all eligible versions" of each object), and
//! when `report_bucket` is given a completion report of the failed tasks
//! (key, version, error) there. The client request token is derived from the
//! bucket, the role and `run`, so a create repeated after an unclear failure
//! finds the same job instead of starting another, and a new `run` is a new
//! job. Apply waits until the job ends and fails, naming the counts and the
//! first failed objects from the report, when objects failed; every later
//! plan warns until a new `run`. Read: one `DescribeJob`. AWS deletes a job
//! 90 days after it ended (S3 guide, "Troubleshooting S3 Batch Operations":
//! "Jobs are automatically deleted 90 days after reaching a terminal state";
//! DescribeJob then answers NotFoundException): a finished job AWS forgot
//! stays on record as it was last read. Delete cancels a job still running; a
//! finished job is only forgotten.
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
        Prop::optional(
            "run",
            Type::Number,
            "Which run this is (default 1): a new value starts a new job, which copies only the objects not \
             replicated yet (replication status NONE or FAILED).",
        )
        .force_new(),
        Prop::optional(
            "report_bucket",
            Type::String,
            "ARN of a bucket for the job's completion report of failed tasks (key, version, error); the role needs \
             s3:PutObject on it. Not a replicated bucket (the report would replicate). Unset: no report, and failed \
             objects cannot be named.",
        )
        .force_new(),
        Prop::optional("report_prefix", Type::String, "Key prefix of the report (default `standby-batch`).")
            .force_new(),
        Prop::optional(
            "include_replicated",
            Type::Bool,
            "On the first run, also copy objects already replicated elsewhere (replication status COMPLETED), as a \
             bucket that replicated before this destination was added has them; later runs copy only NONE and FAILED \
             (default false).",
        )
        .force_new(),
        Prop::computed("job_arn", Type::String, "Job ARN."),
        Prop::computed("status", Type::String, "Complete, Failed, Cancelled, or a state on the way (Active, ...)."),
        Prop::computed("total_objects", Type::Number, "Objects the job found to replicate."),
        Prop::computed("replicated_objects", Type::Number, "Objects replicated."),
        Prop::computed("failed_objects", Type::Number, "Objects that failed to replicate."),
    ],
};

/// DescribeJob's not-found answers: `NotFoundException` in the S3 Control
/// service model (and aws-sdk-s3control's DescribeJob error parser),
/// "NoSuchJobException" in the S3 guide's troubleshooting page.
const GONE: &[&str] = &["NotFoundException", "NoSuchJobException", "NoSuchJob", "NotFound", "HTTP 404"];
const DEFAULT_REPORT_PREFIX: &str = "standby-batch";
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

/// The same inputs give the same token: a repeated create finds its job;
/// another `run` is another job.
fn token(bucket: &str, role: &str, run: i64) -> String {
    use sha2::Digest;
    let text = if run == 1 {
        format!("standby-batch-replication\n{bucket}\n{role}")
    } else {
        format!("standby-batch-replication\n{bucket}\n{role}\n{run}")
    };
    let digest = sha2::Sha256::digest(text);
    digest.iter().take(24).map(|b| format!("{b:02x}")).collect()
}

/// Where the report of job `job` lands: `s3://<bucket>/<prefix>/job-<id>/`.
fn report_location(props: &Attrs, job: &str) -> Option<(String, String)> {
    let bucket = super::s3_bucket::name_from_arn(get_str(props, "report_bucket")?)?.to_string();
    let prefix = get_str(props, "report_prefix").unwrap_or(DEFAULT_REPORT_PREFIX).trim_end_matches('/');
    Some((bucket, format!("{prefix}/job-{job}/")))
}

/// The first failed objects named in the job's completion report (CSV:
/// bucket, key, version id, task status, error code, HTTP status, message;
/// keys URL-encoded), at most `n`, with their errors.
async fn failed_from_report(cx: &Ctx<'_>, bucket: &str, prefix: &str, n: usize) -> Vec<String> {
    let s3 = cx.aws.s3(cx.region).await;
    let Ok(list) = s3.list_objects_v2().bucket(bucket).prefix(format!("{prefix}results/")).send().await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for o in list.contents() {
        let Some(key) = o.key() else { continue };
        let Ok(obj) = s3.get_object().bucket(bucket).key(key).send().await else { continue };
        let Ok(body) = obj.body.collect().await else { continue };
        for line in String::from_utf8_lossy(&body.into_bytes()).lines() {
            let cols: Vec<&str> = line.split(',').collect();
            if cols.len() >= 5 && cols[3] == "failed" {
                out.push(format!("{} ({})", cols[1], cols[4]));
                if out.len() >= n {
                    return out;
                }
            }
        }
    }
    out
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
    if let Some(r) = job.report().filter(|r| r.enabled()) {
        if let Some(b) = r.bucket() {
            a.insert("report_bucket".into(), Value::str(b));
        }
        if let Some(p) = r.prefix() {
            a.insert("report_prefix".into(), Value::str(p));
        }
    }
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
            ("run", Value::Null) => Value::int(1),
            ("report_prefix", Value::Null) => Value::str(DEFAULT_REPORT_PREFIX),
            ("include_replicated", Value::Null) => Value::Bool(false),
            _ => v.clone(),
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let bucket = req_str(desired, "bucket")?;
        let role = req_str(desired, "role_arn")?;
        let run = get_i64(desired, "run").unwrap_or(1);
        let mut filter = JobManifestGeneratorFilter::builder()
            .eligible_for_replication(true)
            .object_replication_statuses(ReplicationStatus::None)
            .object_replication_statuses(ReplicationStatus::Failed);
        // The manifest selects by the object's one replication status: a
        // bucket that already replicated to another destination has its
        // existing objects COMPLETED, which NONE/FAILED alone would skip for
        // the new destination (S3 User Guide, "Using replication status
        // information with Batch Replication jobs"). Later runs pick up what
        // a run left, NONE or FAILED.
        if run == 1 && matches!(desired.get("include_replicated"), Some(Value::Bool(true))) {
            filter = filter.object_replication_statuses(ReplicationStatus::Completed);
        }
        let filter = filter.build();
        let generator = S3JobManifestGenerator::builder()
            .source_bucket(super::s3_bucket::arn(bucket))
            .enable_manifest_output(false)
            .filter(filter)
            .build()
            .map_err(|e| KindError::Failed(e.to_string()))?;
        let s3c = cx.aws.s3control(cx.region).await;
        let report = match get_str(desired, "report_bucket") {
            Some(arn) => JobReport::builder()
                .enabled(true)
                .bucket(arn)
                .format(aws_sdk_s3control::types::JobReportFormat::ReportCsv20180820)
                .prefix(get_str(desired, "report_prefix").unwrap_or(DEFAULT_REPORT_PREFIX))
                .report_scope(aws_sdk_s3control::types::JobReportScope::FailedTasksOnly)
                .build(),
            None => JobReport::builder().enabled(false).build(),
        };
        let out = s3c
            .create_job()
            .account_id(account(desired)?)
            .confirmation_required(false)
            .operation(
                JobOperation::builder().s3_replicate_object(S3ReplicateObjectOperation::builder().build()).build(),
            )
            .report(report)
            .client_request_token(token(bucket, role, run))
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
                    let named = match report_location(&a, job) {
                        Some((bucket, prefix)) => {
                            let first = failed_from_report(cx, &bucket, &prefix, 5).await;
                            format!(
                                "the completion report is at s3://{bucket}/{prefix}{}",
                                if first.is_empty() { String::new() } else { format!("; first: {}", first.join(", ")) }
                            )
                        }
                        None => "no completion report was asked for (`report_bucket`), so the failed objects cannot \
                                 be named; the S3 console's job page has the counts"
                            .into(),
                    };
                    return Err(KindError::Failed(format!(
                        "batch replication job {job} finished with {} of {} objects failed ({} replicated): {named}. \
                         A new `run` copies only what is not replicated yet",
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

    // read: 1 call (DescribeJob). A finished job AWS no longer knows (it
    // deletes them 90 days after they end) is as it was last read.
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let (account, job) = split_id(id)?;
        match describe(cx, account, job).await? {
            Some(mut a) => {
                a.remove("failure");
                crate::kinds::carry_kept(self, prior, &mut a);
                Ok(Some(a))
            }
            None if get_str(prior, "status").is_some_and(finished) => Ok(Some(prior.clone())),
            None => Ok(None),
        }
    }

    fn kept(&self) -> &'static [&'static str] {
        &["run", "include_replicated"]
    }

    fn acts_on(&self, props: &Attrs) -> Option<crate::kinds::Target> {
        get_str(props, "bucket").map(|b| crate::kinds::Target::new("aws_s3_bucket", "bucket", b))
    }

    fn production_effect(
        &self,
        before: Option<&Attrs>,
        after: Option<&Attrs>,
        _changed: &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        match (before, after) {
            (None, Some(_)) => Some(
                "copies the objects the bucket held before replication to the destinations of its replication rules \
                 (S3 Batch Replication: every eligible version of each object not replicated yet); it reads the \
                 bucket and changes nothing in it but the objects' replication status. Billed per job, per object \
                 and per replicated GB"
                    .into(),
            ),
            _ => None,
        }
    }

    /// AWS's advice for a job on this bucket (s3-batch-replication-batch.md:
    /// "If you have S3 Lifecycle configured for your bucket, we recommend
    /// disabling your Lifecycle rules while the Batch Replication job is active").
    async fn existing(&self, cx: &Ctx<'_>, props: &Attrs) -> Result<crate::kinds::Existing, KindError> {
        let Some(bucket) = get_str(props, "bucket") else { return Ok(crate::kinds::Existing::Clear) };
        let s3 = cx.aws.s3(cx.region).await;
        let rules = match s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
            Ok(out) => out.rules().iter().filter(|r| r.status().as_str() == "Enabled").count(),
            Err(e) if is_gone(&e, &["NoSuchLifecycleConfiguration"]) => 0,
            Err(e) => return Err(aws_error("GetBucketLifecycleConfiguration", e)),
        };
        Ok(if rules > 0 {
            crate::kinds::Existing::Note(format!(
                "bucket {bucket} has {rules} enabled lifecycle rule(s): AWS recommends disabling them while the \
                 batch replication job runs (objects expired or transitioned meanwhile are not copied, or fail)"
            ))
        } else {
            crate::kinds::Existing::Clear
        })
    }

    fn attention(&self, attrs: &Attrs) -> Option<String> {
        let failed = get_i64(attrs, "failed_objects").unwrap_or(0);
        (get_str(attrs, "status") == Some("Complete") && failed > 0).then(|| {
            format!(
                "the batch replication job finished with {failed} of {} objects not replicated: the secondary \
                 bucket is missing them. Set `run` to a new value to start a job that copies only what is not \
                 replicated yet{}",
                get_i64(attrs, "total_objects").unwrap_or(0),
                match get_str(attrs, "report_bucket") {
                    Some(b) => format!(" (the failed objects are in the completion report in {b})"),
                    None => String::new(),
                }
            )
        })
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
        assert_eq!(token("b", "r", 1), token("b", "r", 1));
        assert_ne!(token("b", "r", 1), token("c", "r", 1));
        assert_ne!(token("b", "r", 1), token("b", "r", 2), "a new run is a new job");
        assert!(token("b", "r", 1).len() <= 64);
    }
}
