//! Secrets Manager kinds: a secret (its name, key, description, tags) and
//! its value as a version. Values come from sensitive variables and never
//! reach state, plans or logs (the engine keeps a salted hash to notice a
//! change); standby never reads a value back (`GetSecretValue` is not used,
//! so a plan needs no right to read secrets).

pub mod secret;
pub mod secret_version;

use crate::kinds::KindError;
use crate::kinds::aws::aws_error;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;

use super::Ctx;

/// The code of a secret that does not exist.
pub(crate) const GONE: &[&str] = &["ResourceNotFoundException"];

/// Maps a failed call, with hints for Secrets Manager's usual refusals.
pub(crate) fn sm_error<E>(call: &'static str, e: SdkError<E>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut err = aws_error(call, e);
    if let KindError::Aws { call, code, message, hint } = &mut err
        && let Some(h) = sm_hint(call, code, message)
    {
        *hint = Some(h);
    }
    err
}

/// Hints for Secrets Manager's refusals, in one place.
pub fn sm_hint(call: &str, code: &str, message: &str) -> Option<String> {
    let lower = message.to_lowercase();
    let h = match code {
        "AccessDenied" | "AccessDeniedException" => format!(
            "the credentials in use lack `secretsmanager:{call}` (and `kms:GenerateDataKey`/`kms:Decrypt` on the \
             secret's key when it is a customer managed key); grant it, or run with credentials that have it"
        ),
        "InvalidRequestException"
            if lower.contains("scheduled for deletion")
                || lower.contains("marked for deletion")
                || lower.contains("marked deleted") =>
        {
            "a secret of this name is scheduled for deletion (its recovery window): restore it with `aws \
             secretsmanager restore-secret --secret-id NAME` and import it, delete it for good with `aws \
             secretsmanager delete-secret --secret-id NAME --force-delete-without-recovery`, or choose another name"
                .to_string()
        }
        "ResourceExistsException" => crate::kinds::EXISTS_HINT.to_string(),
        "EncryptionFailure" | "DecryptionFailure" | "KMSInvalidStateException" => {
            "the secret's KMS key is disabled, pending deletion, in another region, or not usable by these \
             credentials (`kms_key_id` must be a key of the secret's region)"
                .to_string()
        }
        _ => return None,
    };
    Some(h)
}

/// DescribeSecret; `None` when the secret does not exist or is scheduled
/// for deletion (it is then gone for standby, like for the AWS provider: it
/// can only be restored or left to expire).
pub(crate) async fn describe(cx: &Ctx<'_>, id: &str) -> Result<Option<DescribeSecretOutput>, KindError> {
    let sm = cx.aws.secretsmanager(cx.region).await;
    match sm.describe_secret().secret_id(id).send().await {
        Ok(out) if out.deleted_date().is_some() => Ok(None),
        Ok(out) => Ok(Some(out)),
        Err(e) if crate::kinds::aws::is_gone(&e, GONE) => Ok(None),
        Err(e) => Err(sm_error("DescribeSecret", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_way_out() {
        let h = sm_hint(
            "CreateSecret",
            "InvalidRequestException",
            "You can't create this secret because a secret with this name is already scheduled for deletion.",
        )
        .unwrap();
        assert!(h.contains("restore-secret") && h.contains("force-delete-without-recovery"), "{h}");
        assert!(
            sm_hint("PutSecretValue", "AccessDeniedException", "").unwrap().contains("secretsmanager:PutSecretValue")
        );
        assert_eq!(sm_hint("DescribeSecret", "ThrottlingException", ""), None);
    }
}
