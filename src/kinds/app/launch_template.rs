//! `aws_launch_template`: what an Auto Scaling group launches (AMI, instance
//! type, instance profile, security groups, user data). id = `lt-…`.
//!
//! Launch templates are versioned: a change to any launch setting is an
//! in-place update that adds a version (every setting sent, nothing inherited)
//! and makes it the default; `latest_version` is then known after apply, so
//! a group that launches it shows its own update in the same plan. Both
//! creates carry a client token derived from the request: a repeated call
//! (lost answer, resumed apply) returns the version the first one made.
//!
//! `user_data` is plain text here (standby base64-encodes it, as the API
//! wants). It is readable by anyone who may describe the template or its
//! instances, so it may never hold a secret: a sensitive value in it is a
//! configuration error.

use super::{client_token, list_value, set_value, str_list, sync_ec2_tags, tag_spec, tags_from_ec2};
use crate::kinds::aws::{aws_error, get_str, is_gone, put_reported, req_str};
use crate::kinds::schema::{Prop, ProviderName, Schema, Type};
use crate::kinds::{Created, Ctx, Kind, KindError, PropProblem};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataOptionsRequest, RequestLaunchTemplateData, ResourceType,
};
use std::collections::BTreeSet;

pub struct LaunchTemplate;

const GONE: &[&str] = &[
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateId.Malformed",
    "InvalidLaunchTemplateName.NotFoundException",
];

/// The settings that live in a version (everything but the name and tags).
const VERSIONED: &[&str] = &[
    "description",
    "image_id",
    "instance_type",
    "iam_instance_profile",
    "user_data",
    "vpc_security_group_ids",
    "metadata_http_tokens",
];

/// The AWS provider's `metadata_options { http_tokens }` (checkov's CKV_AWS_79).
static PROVIDER_NAMES: [ProviderName; 1] =
    [ProviderName::new("metadata_http_tokens", "metadata_options.http_tokens").or("\"required\"")];

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("name", Type::String, "Template name (3–128 of letters, digits and `()./_-`).").force_new(),
        Prop::optional("description", Type::String, "Description of the version."),
        Prop::required("image_id", Type::String, "AMI id (`ami-…`)."),
        Prop::required("instance_type", Type::String, "Instance type, e.g. `m6i.large`."),
        Prop::optional("iam_instance_profile", Type::String, "Instance profile name or ARN."),
        Prop::optional(
            "user_data",
            Type::String,
            "Boot script as plain text (standby base64-encodes it); never a secret.",
        )
        .plain(),
        Prop::optional("vpc_security_group_ids", Type::List(&Type::String), "Security groups of the instances."),
        Prop::optional("metadata_http_tokens", Type::String, "`required` (IMDSv2 only, the default) or `optional`."),
        Prop::optional("tags", Type::Map(&Type::String), "Tags of the template."),
        Prop::computed("id", Type::String, "Template id (`lt-…`)."),
        Prop::computed("arn", Type::String, "Template ARN."),
        Prop::computed("latest_version", Type::Number, "Latest version number."),
        Prop::computed("default_version", Type::Number, "Default version number."),
    ],
};

fn data(desired: &Attrs) -> RequestLaunchTemplateData {
    let profile = get_str(desired, "iam_instance_profile").map(|p| {
        let b = LaunchTemplateIamInstanceProfileSpecificationRequest::builder();
        if p.starts_with("arn:") { b.arn(p) } else { b.name(p) }.build()
    });
    let groups = str_list(desired, "vpc_security_group_ids");
    RequestLaunchTemplateData::builder()
        .set_image_id(get_str(desired, "image_id").map(str::to_string))
        .set_instance_type(get_str(desired, "instance_type").map(Into::into))
        .set_iam_instance_profile(profile)
        .set_user_data(get_str(desired, "user_data").map(aws_smithy_types::base64::encode))
        .set_security_group_ids((!groups.is_empty()).then_some(groups))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::from(
                    get_str(desired, "metadata_http_tokens").unwrap_or("required"),
                ))
                .http_endpoint(aws_sdk_ec2::types::LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .build()
}

/// A token for the request, from what it asks for.
fn token(prefix: &str, desired: &Attrs) -> String {
    let parts: Vec<String> =
        VERSIONED.iter().map(|k| desired.get(*k).map(|v| v.to_json().to_string()).unwrap_or_default()).collect();
    let mut all = vec![prefix];
    all.extend(parts.iter().map(String::as_str));
    client_token(&all)
}

#[async_trait]
impl Kind for LaunchTemplate {
    fn type_name(&self) -> &'static str {
        "aws_launch_template"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn provider_names(&self) -> &'static [ProviderName] {
        &PROVIDER_NAMES
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        if let Some(n) = get_str(props, "name")
            && (n.len() < 3 || n.len() > 128 || !n.chars().all(|c| c.is_ascii_alphanumeric() || "()./_-".contains(c)))
        {
            out.push(PropProblem::error("name", "must be 3–128 of letters, digits and `()./_-`"));
        }
        if let Some(t) = get_str(props, "metadata_http_tokens")
            && !["required", "optional"].contains(&t)
        {
            out.push(PropProblem::error("metadata_http_tokens", "must be `required` or `optional`"));
        }
        if get_str(props, "metadata_http_tokens") == Some("optional") {
            out.push(PropProblem::warning(
                "metadata_http_tokens",
                "IMDSv1 lets any SSRF in the app read the instance role's credentials; prefer `required`",
            ));
        }
        if let Some(ud) = get_str(props, "user_data")
            && aws_smithy_types::base64::encoded_length(ud.len()) > 16 * 1024
        {
            out.push(PropProblem::error("user_data", "is over 16 KB once base64-encoded (AWS's limit)"));
        }
        // Mattermost ignores unknown MM_* names silently: catch them here.
        for name in get_str(props, "user_data").map(crate::mattermost::names_in).unwrap_or_default() {
            if let Some(m) = crate::mattermost::check_name(name) {
                out.push(PropProblem::error("user_data", m));
            }
        }
        if let Some(a) = get_str(props, "image_id")
            && !a.starts_with("ami-")
        {
            out.push(PropProblem::error("image_id", format!("`{a}` is not an AMI id (`ami-…`)")));
        }
        out
    }

    fn derive(&self, planned: &mut Attrs) {
        planned.entry("metadata_http_tokens".into()).or_insert_with(|| Value::str("required"));
    }

    fn normalize(&self, prop: &str, v: &Value) -> Value {
        if prop == "vpc_security_group_ids" { set_value(v) } else { v.clone() }
    }

    fn unknown_after_update(&self, changed: &BTreeSet<String>) -> Vec<&'static str> {
        if changed.iter().any(|c| VERSIONED.contains(&c.as_str())) {
            vec!["latest_version", "default_version"]
        } else {
            Vec::new()
        }
    }

    fn finds_by_natural_key(&self) -> bool {
        true
    }

    // 1 call (DescribeLaunchTemplates by name).
    async fn find(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Option<String>, KindError> {
        let name = req_str(desired, "name")?;
        match cx.aws.ec2(cx.region).await.describe_launch_templates().launch_template_names(name).send().await {
            Ok(out) => Ok(out.launch_templates().first().and_then(|t| t.launch_template_id()).map(str::to_string)),
            Err(e) if is_gone(&e, GONE) => Ok(None),
            Err(e) => Err(aws_error("DescribeLaunchTemplates", e)),
        }
    }

    async fn create(&self, cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let name = req_str(desired, "name")?;
        let out = cx
            .aws
            .ec2(cx.region)
            .await
            .create_launch_template()
            .launch_template_name(name)
            .set_version_description(get_str(desired, "description").map(str::to_string))
            .launch_template_data(data(desired))
            .set_tag_specifications(tag_spec(desired, ResourceType::LaunchTemplate))
            .client_token(token(name, desired))
            .send()
            .await
            .map_err(|e| aws_error("CreateLaunchTemplate", e))?;
        let Some(t) = out.launch_template() else { return Err(KindError::Failed("AWS returned no template".into())) };
        let id = t.launch_template_id().unwrap_or_default().to_string();
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        attrs.insert("id".into(), Value::str(&id));
        attrs.insert("latest_version".into(), Value::int(t.latest_version_number().unwrap_or(1)));
        attrs.insert("default_version".into(), Value::int(t.default_version_number().unwrap_or(1)));
        Ok(Created { id, attrs })
    }

    // read: 2 calls (DescribeLaunchTemplates for the name, versions and tags;
    // DescribeLaunchTemplateVersions for the default version's settings: what
    // instances launch with. An update killed between CreateLaunchTemplateVersion
    // and ModifyLaunchTemplate leaves a newer version that is not the default;
    // reading the default shows the change still to make).
    async fn read(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        let ec2 = cx.aws.ec2(cx.region).await;
        let out = match ec2.describe_launch_templates().launch_template_ids(id).send().await {
            Ok(out) => out,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeLaunchTemplates", e)),
        };
        let Some(t) = out.launch_templates().iter().find(|t| t.launch_template_id() == Some(id)) else {
            return Ok(None);
        };
        let latest = t.latest_version_number().unwrap_or(1);
        let default = t.default_version_number().unwrap_or(latest);
        let versions = match ec2
            .describe_launch_template_versions()
            .launch_template_id(id)
            .versions(default.to_string())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_gone(&e, GONE) => return Ok(None),
            Err(e) => return Err(aws_error("DescribeLaunchTemplateVersions", e)),
        };
        let mut a = Attrs::new();
        a.insert("id".into(), Value::str(id));
        a.insert("name".into(), Value::str(t.launch_template_name().unwrap_or_default()));
        a.insert("latest_version".into(), Value::int(latest));
        a.insert("default_version".into(), Value::int(t.default_version_number().unwrap_or(1)));
        let owner = t.created_by().and_then(|c| c.split(':').nth(4)).unwrap_or_default();
        a.insert("arn".into(), Value::str(format!("arn:aws:ec2:{}:{owner}:launch-template/{id}", cx.region)));
        put_reported(&mut a, prior, "tags", tags_from_ec2(t.tags()));
        let Some(v) = versions.launch_template_versions().first() else { return Ok(Some(a)) };
        put_reported(&mut a, prior, "description", Value::str(v.version_description().unwrap_or_default()));
        let Some(d) = v.launch_template_data() else { return Ok(Some(a)) };
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                a.insert(k.to_string(), Value::String(v));
            }
        };
        put("image_id", d.image_id().map(str::to_string));
        put("instance_type", d.instance_type().map(|t| t.as_str().to_string()));
        let profile = d.iam_instance_profile().and_then(|p| {
            let by_arn = get_str(prior, "iam_instance_profile").is_some_and(|p| p.starts_with("arn:"));
            if by_arn { p.arn().or(p.name()) } else { p.name().or(p.arn()) }.map(str::to_string)
        });
        put("iam_instance_profile", profile);
        let user_data = d.user_data().map(|b64| {
            aws_smithy_types::base64::decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| b64.to_string())
        });
        put("user_data", user_data);
        put("metadata_http_tokens", d.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str().to_string()));
        if d.metadata_options().and_then(|m| m.http_tokens()).is_none() {
            // AWS's default is IMDSv1 and v2 both.
            a.insert("metadata_http_tokens".into(), Value::str("optional"));
        }
        let groups = d.security_group_ids();
        put_reported(&mut a, prior, "vpc_security_group_ids", list_value(groups.iter().map(String::as_str)));
        Ok(Some(a))
    }

    async fn update(&self, cx: &Ctx<'_>, id: &str, prior: &Attrs, desired: &Attrs) -> Result<(), KindError> {
        let ec2 = cx.aws.ec2(cx.region).await;
        let changed = VERSIONED.iter().any(|k| {
            self.normalize(k, prior.get(*k).unwrap_or(&Value::Null))
                != self.normalize(k, desired.get(*k).unwrap_or(&Value::Null))
        });
        if changed {
            // Every setting standby manages is sent, and no SourceVersion: a
            // version made from a source inherits its settings ("If you
            // specify this parameter, the new version inherits the launch
            // parameters from the source version", API reference), so a
            // setting removed from the configuration would never leave.
            let latest = prior.get("latest_version").and_then(Value::as_i64);
            let out = ec2
                .create_launch_template_version()
                .launch_template_id(id)
                .set_version_description(get_str(desired, "description").map(str::to_string))
                .launch_template_data(data(desired))
                // The latest version in the token: switching back and forth asks for the
                // same data again later, which AWS refuses under a reused token.
                .client_token(token(&format!("{id}@{}", latest.unwrap_or_default()), desired))
                .send()
                .await
                .map_err(|e| aws_error("CreateLaunchTemplateVersion", e))?;
            let version = out.launch_template_version().and_then(|v| v.version_number()).unwrap_or_default();
            ec2.modify_launch_template()
                .launch_template_id(id)
                .default_version(version.to_string())
                .send()
                .await
                .map_err(|e| aws_error("ModifyLaunchTemplate", e))?;
        }
        sync_ec2_tags(&ec2, id, prior, desired).await
    }

    async fn delete(&self, cx: &Ctx<'_>, id: &str, _prior: &Attrs) -> Result<(), KindError> {
        match cx.aws.ec2(cx.region).await.delete_launch_template().launch_template_id(id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(&e, GONE) => Ok(()),
            Err(e) => Err(aws_error("DeleteLaunchTemplate", e)),
        }
    }
}
