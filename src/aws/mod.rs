//! AWS access: one `SdkConfig` from the standard chain (environment, profile,
//! SSO, instance role), per-region clients derived from it and cached.
//!
//! The configuration is loaded on first use, so configurations without AWS
//! resources never look for credentials.

pub mod dns;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::OnceCell;

/// `STANDBY_AWS_MAX_ATTEMPTS`: attempts per AWS call, retries included (default 5).
pub const ENV_MAX_ATTEMPTS: &str = "STANDBY_AWS_MAX_ATTEMPTS";

#[derive(Default)]
pub struct Aws {
    /// The region the configuration itself resolves in (credential providers
    /// that call STS or a region-bound service use it); `None`: from the
    /// environment or profile, as the SDK does.
    home: Option<String>,
    config: OnceCell<SdkConfig>,
    s3: Mutex<HashMap<String, aws_sdk_s3::Client>>,
    rds: Mutex<HashMap<String, aws_sdk_rds::Client>>,
    opensearch: Mutex<HashMap<String, aws_sdk_opensearch::Client>>,
    s3control: Mutex<HashMap<String, aws_sdk_s3control::Client>>,
    iam: OnceCell<aws_sdk_iam::Client>,
    sts: Mutex<HashMap<String, aws_sdk_sts::Client>>,
    cloudwatch: Mutex<HashMap<String, aws_sdk_cloudwatch::Client>>,
    secretsmanager: Mutex<HashMap<String, aws_sdk_secretsmanager::Client>>,
    route53: OnceCell<aws_sdk_route53::Client>,
    ec2: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    elbv2: Mutex<HashMap<String, aws_sdk_elasticloadbalancingv2::Client>>,
    autoscaling: Mutex<HashMap<String, aws_sdk_autoscaling::Client>>,
    logs: Mutex<HashMap<String, aws_sdk_cloudwatchlogs::Client>>,
}

/// Counts, per task, the retries the SDK makes (attempts after an
/// operation's first): a create that failed with "already exists" after a
/// retry most likely made the resource itself before its answer was lost.
#[derive(Debug)]
struct CountRetries;

tokio::task_local! {
    static COUNTS: std::sync::Arc<(std::sync::atomic::AtomicU32, std::sync::atomic::AtomicU32)>;
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl aws_sdk_s3::config::Intercept for CountRetries {
    fn name(&self) -> &'static str {
        "CountRetries"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = COUNTS.try_with(|c| c.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _: &aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = COUNTS.try_with(|c| c.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        Ok(())
    }
}

/// Runs `f` and returns how many times the AWS SDK retried a call in it.
pub async fn count_retries<F: std::future::Future>(f: F) -> (F::Output, u32) {
    let counts = std::sync::Arc::new((Default::default(), Default::default()));
    let out = COUNTS.scope(counts.clone(), f).await;
    let (ops, attempts) =
        (counts.0.load(std::sync::atomic::Ordering::Relaxed), counts.1.load(std::sync::atomic::Ordering::Relaxed));
    (out, attempts.saturating_sub(ops))
}

fn max_attempts() -> u32 {
    std::env::var(ENV_MAX_ATTEMPTS).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(5)
}

/// A per-region client, made once per region from the shared configuration
/// with the retry-counting interceptor (the field of the same name caches it).
macro_rules! regional_client {
    ($($(#[$doc:meta])* $name:ident: $sdk:ident;)*) => {$(
        $(#[$doc])*
        pub async fn $name(&self, region: &str) -> $sdk::Client {
            let cfg = self.config().await;
            let mut cache = self.$name.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .entry(region.to_string())
                .or_insert_with(|| {
                    let conf = $sdk::config::Builder::from(cfg)
                        .region($sdk::config::Region::new(region.to_string()))
                        .interceptor(CountRetries)
                        .build();
                    $sdk::Client::from_conf(conf)
                })
                .clone()
        }
    )*};
}

impl Aws {
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration resolved in `region`: credentials that come from STS
    /// (a role to assume, web identity) are asked for there, not in the
    /// region the environment or profile names, which may be the one that
    /// is down ("AWS STS Regional endpoints": regional is the SDKs' default,
    /// and a Region's endpoint is unavailable with it).
    pub fn pinned(region: &str) -> Self {
        Aws { home: Some(region.to_string()), ..Self::default() }
    }

    /// Whether RDS in `region` answers at all (any answer, an error included):
    /// one DescribeGlobalClusters, not retried, at most 10 s. A region that is
    /// down drops or times out the request, or answers 5xx.
    pub async fn answers(&self, region: &str) -> bool {
        use aws_sdk_rds::error::SdkError;
        let cfg = self.config().await;
        let conf = aws_sdk_rds::config::Builder::from(cfg)
            .region(aws_sdk_rds::config::Region::new(region.to_string()))
            .retry_config(aws_sdk_rds::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_rds::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .build();
        match aws_sdk_rds::Client::from_conf(conf).describe_global_clusters().max_records(20).send().await {
            Ok(_) => true,
            Err(SdkError::ServiceError(e)) => e.raw().status().as_u16() < 500,
            Err(_) => false,
        }
    }

    pub async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
                    .build_with_resolver(dns::Resolver);
                let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http).retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(max_attempts())
                        .with_initial_backoff(Duration::from_millis(200)),
                );
                if let Some(region) = &self.home {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                loader.load().await
            })
            .await
    }

    regional_client! {
        rds: aws_sdk_rds;
        opensearch: aws_sdk_opensearch;
        secretsmanager: aws_sdk_secretsmanager;
        ec2: aws_sdk_ec2;
        elbv2: aws_sdk_elasticloadbalancingv2;
        autoscaling: aws_sdk_autoscaling;
        /// CloudWatch Logs (log groups and resource policies for OpenSearch's logs).
        logs: aws_sdk_cloudwatchlogs;
    }

    pub async fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let cfg = self.config().await;
        let mut cache = self.s3.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                // Virtual-host addressing needs DNS for `<bucket>.<endpoint>`,
                // which a custom endpoint (emulator, proxy) does not have.
                let conf = aws_sdk_s3::config::Builder::from(cfg)
                    .region(aws_sdk_s3::config::Region::new(region.to_string()))
                    .force_path_style(cfg.endpoint_url().is_some())
                    .interceptor(CountRetries)
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            })
            .clone()
    }

    pub async fn s3control(&self, region: &str) -> aws_sdk_s3control::Client {
        let cfg = self.config().await;
        let mut cache = self.s3control.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_s3control::config::Builder::from(cfg)
                    .region(aws_sdk_s3control::config::Region::new(region.to_string()))
                    .build();
                aws_sdk_s3control::Client::from_conf(conf)
            })
            .clone()
    }

    pub async fn sts(&self, region: &str) -> aws_sdk_sts::Client {
        let cfg = self.config().await;
        let mut cache = self.sts.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_sts::config::Builder::from(cfg)
                    .region(aws_sdk_sts::config::Region::new(region.to_string()))
                    .build();
                aws_sdk_sts::Client::from_conf(conf)
            })
            .clone()
    }

    pub async fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        let cfg = self.config().await;
        let mut cache = self.cloudwatch.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_cloudwatch::config::Builder::from(cfg)
                    .region(aws_sdk_cloudwatch::config::Region::new(region.to_string()))
                    .build();
                aws_sdk_cloudwatch::Client::from_conf(conf)
            })
            .clone()
    }

    /// Route 53 is global: one endpoint (`route53.amazonaws.com`) signed for
    /// us-east-1, whatever region a record's `region:` names. Its control
    /// plane (record and health-check changes) lives in us-east-1; DNS
    /// answers and health checking are its data plane, served everywhere, so
    /// failover records keep working when an app region (or us-east-1) is
    /// down, and only changes wait for the control plane.
    pub async fn route53(&self) -> aws_sdk_route53::Client {
        let cfg = self.config().await;
        self.route53
            .get_or_init(|| async {
                let conf = aws_sdk_route53::config::Builder::from(cfg)
                    .region(aws_sdk_route53::config::Region::new("us-east-1"))
                    .interceptor(CountRetries)
                    .build();
                aws_sdk_route53::Client::from_conf(conf)
            })
            .await
            .clone()
    }

    /// Resolves credentials once, before any call, so that a missing or
    /// expired credential is one clear message instead of one error per
    /// resource. The provider caches what it found for every later call.
    pub async fn resolve_credentials(&self) -> Result<(), CredentialsError> {
        use aws_sdk_s3::config::ProvideCredentials;
        let cfg = self.config().await;
        let Some(provider) = cfg.credentials_provider() else {
            return Err(CredentialsError { cause: "no credentials provider is configured".into() });
        };
        provider
            .provide_credentials()
            .await
            .map(|_| ())
            .map_err(|e| CredentialsError { cause: crate::kinds::aws::chain(&e) })
    }

    /// IAM is global; its API lives in us-east-1 (the `aws` partition).
    pub async fn iam(&self) -> aws_sdk_iam::Client {
        let cfg = self.config().await;
        self.iam
            .get_or_init(|| async {
                let conf = aws_sdk_iam::config::Builder::from(cfg)
                    .region(aws_sdk_iam::config::Region::new("us-east-1"))
                    .interceptor(CountRetries)
                    .build();
                aws_sdk_iam::Client::from_conf(conf)
            })
            .await
            .clone()
    }
}

/// No credentials could be found: says where standby looked and how to
/// provide one.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct CredentialsError {
    /// The provider chain's own explanation.
    pub cause: String,
}

impl CredentialsError {
    pub fn message(&self) -> String {
        let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        let lower = self.cause.to_lowercase();
        if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) {
            return format!(
                "no AWS credentials: the SSO session of profile `{profile}` has expired or was never started\n  \
                 log in again: aws sso login --profile {profile}\n  ({})",
                self.cause
            );
        }
        format!(
            "no AWS credentials found. Tried, in order:\n  \
             1. environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)\n  \
             2. profile `{profile}` (AWS_PROFILE) in ~/.aws/config and ~/.aws/credentials: keys, SSO, credential_process, role to assume\n  \
             3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (EKS, CI with OIDC)\n  \
             4. container credentials (ECS task role)\n  \
             5. EC2 instance role (instance metadata)\n\
             Provide one of them, e.g. `export AWS_PROFILE=name` after `aws configure sso`, or run on an instance with a role.\n  \
             ({})",
            self.cause
        )
    }
}
