//! `standby_mattermost_config`: one region's Mattermost settings, rendered
//! as `MM_<SECTION>_<SETTING>` environment overrides into a boot script for
//! a launch template's user data. Makes no cloud call (like `standby_data`).
//!
//! Plain settings are written in the script. Settings that hold a secret
//! (the database password inside the DSNs, the search user's password) are
//! named by their Secrets Manager ARN (and, when given, the version id of
//! the value) and fetched at boot with the instance role: the script holds
//! the ARN, never the value. `rendered` shows what Mattermost gets, secrets
//! as `(sensitive)`, for `standby output`.
//!
//! The boot script, in order (each step for a reason a node met on AWS):
//! 1. checks that the AMI has what it needs (`aws`, `python3`, `systemctl`,
//!    and the CA bundle a DSN verifies the database with) and says so in
//!    the boot log when it does not;
//! 2. stops Mattermost, in case the AMI's unit is enabled and started it
//!    with the AMI's own `config.json` (cloud-init runs user data after
//!    `multi-user.target` on Ubuntu and Debian: cloud-final.service);
//! 3. writes every setting into the unit's `EnvironmentFile`, each value
//!    double-quoted with systemd's escapes (`\`, `"`, `` ` ``, `$`:
//!    systemd's env-file parser, src/basic/env-file.c), so no password can
//!    lose a character or swallow the next line;
//! 4. reads each secret with retries (a new instance role can take a few
//!    seconds to work, a NAT gateway to route), each read bounded so that
//!    the node names what it needs from the network when it gives up, well
//!    before the Auto Scaling group replaces it;
//! 5. installs a drop-in (`EnvironmentFile=`, `ConditionPathExists=`) and
//!    starts Mattermost.
//!
//! Checks before any call: every name is one Mattermost knows and every
//! value one it parses (it ignores the others silently); DSNs carry a user
//! and password (a replica without one is marked offline by Mattermost);
//! settings that need a newer Mattermost than `mattermost_version` are
//! refused; across regions, cluster names differ (nodes of both regions
//! share the global database's discovery table) and exactly one region
//! runs the job scheduler.

use super::schema::{Prop, Schema, Type};
use super::{Created, Ctx, Kind, KindError, PlanView, PropProblem};
use crate::mattermost::{self, CLUSTER_NAME, RUN_SCHEDULER};
use crate::value::{Attrs, Value};
use async_trait::async_trait;
use std::collections::BTreeMap;

pub struct MattermostConfig;

/// What a secret's value stands for in its template.
pub const PLACEHOLDER: &str = "{secret}";
const DEFAULT_ENV_FILE: &str = "/etc/mattermost/mattermost.env";
const DEFAULT_SERVICE: &str = "mattermost";
/// The keys of a `secrets` entry.
const SECRET_KEYS: &[&str] = &["secret_arn", "template", "version_id"];
/// Attempts at reading a secret at boot, and the pause between them.
const READ_ATTEMPTS: u32 = 12;
const READ_PAUSE_SECS: u32 = 5;
/// Each read's bounds (seconds): without a route to Secrets Manager a
/// connect hangs rather than fails, for the CLI's default of 60 s per try,
/// and the CLI retries on its own; bounded (and the CLI's own retries at 2,
/// AWS_MAX_ATTEMPTS), the attempts take about 3 minutes when nothing routes,
/// inside the nodes' 300 s grace period, so the boot log says what the node
/// lacks before the Auto Scaling group replaces it.
const CONNECT_TIMEOUT_SECS: u32 = 5;
const READ_TIMEOUT_SECS: u32 = 10;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("environment", Type::Map(&Type::String), "Settings: MM_<SECTION>_<SETTING> → value.").plain(),
        Prop::optional(
            "secrets",
            Type::Map(&Type::Map(&Type::Any)),
            "Settings holding a secret: MM_… → { secret_arn, template, version_id } (template default `{secret}`; \
             the secret is URL-encoded when the template has more around it, e.g. a DSN; version_id: the value's \
             version, fetched exactly, so a new one changes the script; null: the current value).",
        )
        .plain(),
        Prop::optional(
            "overrides",
            Type::Map(&Type::String),
            "Settings put over `environment` (MM_… → value), e.g. a drill's silent settings. The checks across \
             regions (cluster names, one job scheduler) read `environment` only: overrides are for a copy that \
             runs apart.",
        )
        .plain(),
        Prop::optional(
            "mattermost_version",
            Type::String,
            "The Mattermost version the nodes run (e.g. `9.11`): settings it does not have yet are refused, as \
             Mattermost would ignore them silently. Default: the oldest standby supports (9.11).",
        ),
        Prop::optional(
            "env_file",
            Type::String,
            "Where the script writes the settings (default /etc/mattermost/mattermost.env).",
        ),
        Prop::optional(
            "service",
            Type::String,
            "systemd unit of Mattermost, restarted with them (default `mattermost`).",
        ),
        Prop::computed("user_data", Type::String, "The boot script, for a launch template's `user_data`."),
        Prop::computed("rendered", Type::Map(&Type::String), "What Mattermost gets, secrets as `(sensitive)`."),
    ],
};

fn map<'a>(attrs: &'a Attrs, key: &str) -> BTreeMap<&'a str, &'a Value> {
    attrs.get(key).and_then(Value::as_map).map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect()).unwrap_or_default()
}

/// The settings the nodes get: `environment` with `overrides` put over it.
fn settings(attrs: &Attrs) -> BTreeMap<&str, &Value> {
    let mut out = map(attrs, "environment");
    out.extend(map(attrs, "overrides"));
    out
}

/// Single-quoted for bash.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A value as systemd's `EnvironmentFile=` reads it back unchanged:
/// double-quoted, with `\`, `"`, `` ` `` and `$` escaped (env-file.c,
/// DOUBLE_QUOTE_VALUE_ESCAPE unescapes exactly SHELL_NEED_ESCAPE). Line
/// breaks are refused before (a value is one line).
pub fn systemd_quoted(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if matches!(c, '\\' | '"' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The region of an ARN (`arn:aws:secretsmanager:<region>:…`).
fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.nth(2).filter(|r| !r.is_empty())
}

fn rendered(environment: &BTreeMap<&str, &Value>, secrets: &BTreeMap<&str, &Value>) -> Value {
    let mut out = BTreeMap::new();
    for (k, v) in environment {
        out.insert(k.to_string(), (*v).clone());
    }
    for (k, spec) in secrets {
        let template = spec.as_map().and_then(|m| m.get("template")).cloned().unwrap_or(Value::str(PLACEHOLDER));
        let v = match template {
            Value::String(t) => Value::String(t.replace(PLACEHOLDER, "(sensitive)")),
            other => other,
        };
        out.insert(k.to_string(), v);
    }
    Value::Map(out)
}

/// Writes one env-file line, `KEY="value"` with systemd's escapes, from the
/// secret on stdin (never in argv) and the template's text around it
/// (`python3 -c LINE_PY KEY BEFORE AFTER ENCODE`; ENCODE 1 URL-encodes the
/// secret, as a DSN needs).
const LINE_PY: &str = r#"import sys, urllib.parse
k, before, after, enc = sys.argv[1:]
v = sys.stdin.read()
v = before + (urllib.parse.quote(v, safe="") if enc == "1" else v) + after
if "\n" in v or "\r" in v:
    sys.exit("standby: " + k + " holds a line break")
print(k + '="' + "".join("\\" + c if c in '\\"`$' else c for c in v) + '"')"#;

/// The boot script's fixed part: the checks and helpers it runs before the
/// settings (see the module's doc for why each is there).
fn preamble(service: &str, with_secrets: bool) -> String {
    let mut s = String::from(
        "#!/bin/bash\n\
         # Mattermost settings, rendered by standby (standby_mattermost_config).\n\
         # Secrets are fetched at boot with the instance role; none is written here.\n\
         set -euo pipefail\n\
         umask 077\n\
         say() { echo \"standby: $*\" >&2; }\n",
    );
    let needs = if with_secrets { "aws python3 systemctl" } else { "systemctl" };
    s += &format!(
        "for c in {needs}; do\n\
         \x20 command -v \"$c\" >/dev/null || {{ say \"this AMI lacks $c, which the boot script needs ({needs})\"; exit 1; }}\n\
         done\n\
         # An AMI whose unit is enabled may have started Mattermost with its own settings.\n\
         systemctl stop {service} 2>/dev/null || true\n"
    );
    if with_secrets {
        s += &format!(
            "# Reads a secret (region, ARN, version id or empty) with the instance role.\n\
             secret() {{\n\
             \x20 local out i version=()\n\
             \x20 if [[ -n \"$3\" ]]; then version=(--version-id \"$3\"); fi\n\
             \x20 for ((i = 1; i <= {READ_ATTEMPTS}; i++)); do\n\
             \x20   if out=$(AWS_MAX_ATTEMPTS=2 aws secretsmanager get-secret-value --cli-connect-timeout {CONNECT_TIMEOUT_SECS} --cli-read-timeout {READ_TIMEOUT_SECS} --region \"$1\" --secret-id \"$2\" ${{version[@]+\"${{version[@]}}\"}} --query SecretString --output text); then\n\
             \x20     printf '%s' \"$out\"\n\
             \x20     return 0\n\
             \x20   fi\n\
             \x20   say \"reading $2 failed (attempt $i of {READ_ATTEMPTS})\"\n\
             \x20   sleep {READ_PAUSE_SECS}\n\
             \x20 done\n\
             \x20 say \"cannot read $2: the node needs its instance role (instance metadata, IMDSv2) and a route to Secrets Manager in $1 (a NAT gateway or a secretsmanager VPC endpoint in private subnets)\"\n\
             \x20 return 1\n\
             }}\n\
             # KEY, text before, text after, encode (1: URL-encode the secret): one env-file line from the secret on stdin.\n"
        );
        s += &format!("line() {{ python3 -c {} \"$@\"; }}\n", quote(LINE_PY));
    }
    s
}

/// The CA bundles the DSNs verify the server with (`sslrootcert` where
/// `sslmode` is `verify-ca` or `verify-full`), with the first setting that
/// names each: lib/pq fails every connection when the file is missing, and
/// only Mattermost's log would say why.
fn ca_bundles<'a>(
    environment: &BTreeMap<&'a str, &'a Value>,
    secrets: &BTreeMap<&'a str, &'a Value>,
) -> Vec<(&'a str, &'a str)> {
    let templates = environment
        .iter()
        .filter_map(|(k, v)| Some((*k, v.as_str()?)))
        .chain(secrets.iter().filter_map(|(k, spec)| Some((*k, spec.as_map()?.get("template")?.as_str()?))));
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (setting, text) in templates {
        let Some((_, query)) = text.split_once('?') else { continue };
        let param = |name: &str| query.split('&').find_map(|p| p.strip_prefix(name)?.strip_prefix('='));
        if let (Some("verify-ca" | "verify-full"), Some(bundle)) = (param("sslmode"), param("sslrootcert"))
            && !out.iter().any(|(b, _)| *b == bundle)
        {
            out.push((bundle, setting));
        }
    }
    out
}

fn script(attrs: &Attrs, environment: &BTreeMap<&str, &Value>, secrets: &BTreeMap<&str, &Value>) -> Option<String> {
    let env_file = attrs.get("env_file").and_then(Value::as_str).unwrap_or(DEFAULT_ENV_FILE);
    let service = attrs.get("service").and_then(Value::as_str).unwrap_or(DEFAULT_SERVICE);
    let mut s = preamble(service, !secrets.is_empty());
    for (bundle, setting) in ca_bundles(environment, secrets) {
        s += &format!(
            "[[ -r {b} ]] || {{ say {}; exit 1; }}\n",
            quote(&format!(
                "this AMI lacks the CA bundle {bundle}, which {setting} checks the database's certificate with \
                 (sslmode=verify-*): bake AWS's RDS bundle there (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)"
            )),
            b = quote(bundle),
        );
    }
    s += &format!("env_file={}\ninstall -d -m 0750 \"$(dirname \"$env_file\")\"\n", quote(env_file));
    s += "cat > \"$env_file.new\" <<'STANDBY_SETTINGS'\n";
    for (k, v) in environment {
        s += &format!("{k}={}\n", systemd_quoted(v.as_str()?));
    }
    s += "STANDBY_SETTINGS\n";
    for (k, spec) in secrets {
        let m = spec.as_map()?;
        let arn = m.get("secret_arn")?.as_str()?;
        let template = match m.get("template") {
            Some(Value::Null) | None => PLACEHOLDER,
            Some(t) => t.as_str()?,
        };
        let version = match m.get("version_id") {
            Some(Value::Null) | None => "",
            Some(v) => v.as_str()?,
        };
        let (before, after) = template.split_once(PLACEHOLDER)?;
        let encode = if before.is_empty() && after.is_empty() { "0" } else { "1" };
        s += &format!(
            "value=$(secret {} {} {})\nprintf '%s' \"$value\" | line {} {} {} {encode} >> \"$env_file.new\"\n",
            quote(arn_region(arn).unwrap_or("us-east-1")),
            quote(arn),
            quote(version),
            quote(k),
            quote(before),
            quote(after),
        );
    }
    s += &format!(
        "mv \"$env_file.new\" \"$env_file\"\n\
         install -d /etc/systemd/system/{service}.service.d\n\
         # Never started without its settings (also by a unit the AMI enabled).\n\
         printf '[Unit]\\nConditionPathExists=%s\\n[Service]\\nEnvironmentFile=%s\\n' \"$env_file\" \"$env_file\" > /etc/systemd/system/{service}.service.d/standby.conf\n\
         systemctl daemon-reload\n\
         systemctl enable {service}\n\
         systemctl restart {service}\n"
    );
    Some(s)
}

/// Whether `v` (a bool setting as written) is on; `None` when not known.
fn on(v: Option<&Value>, default: bool) -> Option<bool> {
    match v {
        None | Some(Value::Null) => Some(default),
        Some(Value::String(s)) => mattermost::parse_bool(s),
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

#[async_trait]
impl Kind for MattermostConfig {
    fn type_name(&self) -> &'static str {
        "standby_mattermost_config"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn validate(&self, props: &Attrs) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let (environment, secrets) = (settings(props), map(props, "secrets"));
        for (name, v) in &environment {
            let at = format!("environment.{name}");
            if let Some(m) = mattermost::check_name(name) {
                out.push(PropProblem::error(&at, m));
            } else if let Some(m) = v.as_str().and_then(|s| mattermost::check_value(name, s)) {
                out.push(PropProblem::error(&at, format!("{name}: {m}")));
            }
            if secrets.contains_key(name) {
                out.push(PropProblem::error(&at, format!("{name} is also in `secrets`: set it in one place")));
            } else if mattermost::is_dsn(name) {
                out.push(PropProblem::error(
                    &at,
                    format!(
                        "{name} logs in with the database password, which plain settings would write into user \
                         data: set it in `secrets` (secret_arn and a template holding {PLACEHOLDER})"
                    ),
                ));
            }
        }
        for (name, spec) in &secrets {
            let at = format!("secrets.{name}");
            if let Some(m) = mattermost::check_name(name) {
                out.push(PropProblem::error(&at, m));
            }
            let Some(m) = spec.as_map() else { continue };
            if let Some(k) = m.keys().find(|k| !SECRET_KEYS.contains(&k.as_str())) {
                out.push(PropProblem::error(
                    &at,
                    format!("unknown key `{k}`: an entry has `secret_arn`, `template` and `version_id`"),
                ));
            }
            for k in ["template", "version_id"] {
                if m.get(k).is_some_and(|v| !matches!(v, Value::Null | Value::String(_) | Value::Unknown)) {
                    out.push(PropProblem::error(&at, format!("`{k}` must be a string")));
                }
            }
            match m.get("secret_arn") {
                None | Some(Value::Null) => out.push(PropProblem::error(&at, "needs `secret_arn`")),
                Some(Value::String(arn))
                    if !arn.starts_with("arn:") || !arn.contains(":secretsmanager:") || arn_region(arn).is_none() =>
                {
                    out.push(PropProblem::error(&at, format!("`{arn}` is not a Secrets Manager secret ARN")))
                }
                _ => {}
            }
            if let Some(Value::String(t)) = m.get("template") {
                if t.matches(PLACEHOLDER).count() != 1 {
                    out.push(PropProblem::error(&at, format!("the template must hold `{PLACEHOLDER}` once")));
                } else if let Some(msg) = mattermost::check_value(name, &t.replace(PLACEHOLDER, "x")) {
                    out.push(PropProblem::error(&at, format!("{name}: {msg}")));
                }
            }
        }
        // Settings the declared Mattermost does not have yet.
        let version = props.get("mattermost_version").and_then(Value::as_str);
        if let Some(v) = version
            && mattermost::parse_version(v).is_none()
        {
            out.push(PropProblem::error(
                "mattermost_version",
                format!("`{v}` is not a Mattermost version (MAJOR.MINOR, e.g. 9.11)"),
            ));
        }
        let names = environment.keys().map(|k| (*k, "environment")).chain(secrets.keys().map(|k| (*k, "secrets")));
        for (name, section) in names {
            if let Some(m) = mattermost::check_version(name, version) {
                out.push(PropProblem::error(&format!("{section}.{name}"), m));
            }
        }
        out
    }

    fn check_plan(&self, props: &Attrs, view: &dyn PlanView) -> Vec<PropProblem> {
        let mut out = Vec::new();
        let all = view.instances_of(self.type_name());
        let me = view.current().map(str::to_string);
        let region_of = |addr: &str| view.region_of(addr).map(str::to_string);
        let my_region = me.as_deref().and_then(region_of);
        let env = |a: &Attrs, k: &str| a.get("environment").and_then(Value::as_map).and_then(|m| m.get(k).cloned());
        // Cluster names: nodes of both regions meet in the global database.
        if let Some(Value::String(name)) = env(props, CLUSTER_NAME) {
            for (addr, other) in &all {
                if Some(addr) == me.as_ref() || region_of(addr) == my_region {
                    continue;
                }
                if env(other, CLUSTER_NAME).as_ref().and_then(Value::as_str) == Some(name.as_str()) {
                    out.push(PropProblem::error(
                        &format!("environment.{CLUSTER_NAME}"),
                        format!(
                            "cluster name `{name}` is also {addr}'s, in {}: nodes of both regions would join one \
                             cluster over the shared database; give each region its own",
                            region_of(addr).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        // Exactly one region runs the job scheduler (Mattermost's default is on).
        let mut runs: BTreeMap<String, Option<bool>> = BTreeMap::new();
        for (addr, a) in &all {
            let r = region_of(addr).unwrap_or_default();
            let v = on(env(a, RUN_SCHEDULER).as_ref(), true);
            let e = runs.entry(r).or_insert(Some(false));
            *e = match (*e, v) {
                (Some(x), Some(y)) => Some(x || y),
                _ => None,
            };
        }
        if runs.values().any(Option::is_none) {
            return out;
        }
        let running: Vec<&String> = runs.iter().filter(|(_, v)| **v == Some(true)).map(|(r, _)| r).collect();
        let mine = on(env(props, RUN_SCHEDULER).as_ref(), true);
        let at = format!("environment.{RUN_SCHEDULER}");
        if running.len() > 1 && mine == Some(true) {
            let list: Vec<&str> = running.iter().map(|s| s.as_str()).collect();
            out.push(PropProblem::error(
                &at,
                format!(
                    "the job scheduler runs in {} regions ({}): exactly one region (the active one) may run it, \
                     or jobs run twice{}",
                    running.len(),
                    list.join(", "),
                    if env(props, RUN_SCHEDULER).is_none() { " (unset means true)" } else { "" }
                ),
            ));
        } else if running.is_empty() {
            out.push(PropProblem::error(&at, "no region runs the job scheduler: set it true in the active region"));
        }
        out
    }

    fn derive(&self, planned: &mut Attrs) {
        let (environment, secrets) = (settings(planned), map(planned, "secrets"));
        let r = rendered(&environment, &secrets);
        let known = !environment.values().chain(secrets.values()).any(|v| v.has_unknown())
            && !planned.get("env_file").is_some_and(Value::has_unknown)
            && !planned.get("service").is_some_and(Value::has_unknown);
        let s = if known { script(planned, &environment, &secrets).map(Value::String) } else { None };
        planned.insert("user_data".into(), s.unwrap_or(Value::Unknown));
        planned.insert("rendered".into(), r);
    }

    fn state_only(&self) -> bool {
        true
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        Ok(Created { id: crate::ids::random_id(), attrs })
    }

    async fn read(&self, _cx: &Ctx<'_>, _id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        Ok(Some(prior.clone()))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        Ok(())
    }

    async fn delete(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs) -> Result<(), KindError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(env: &[(&str, &str)], secrets: &[(&str, &str, Option<&str>)]) -> Attrs {
        let e = env.iter().map(|(k, v)| (k.to_string(), Value::str(*v))).collect();
        let s = secrets
            .iter()
            .map(|(k, arn, t)| {
                let mut m = BTreeMap::from([("secret_arn".to_string(), Value::str(*arn))]);
                if let Some(t) = t {
                    m.insert("template".into(), Value::str(*t));
                }
                (k.to_string(), Value::Map(m))
            })
            .collect();
        [("environment".to_string(), Value::Map(e)), ("secrets".to_string(), Value::Map(s))].into()
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mm-db-AbCdEf";

    #[test]
    fn the_script_fetches_secrets_and_holds_none() {
        let mut a = attrs(
            &[("MM_CLUSTERSETTINGS_CLUSTERNAME", "mm-us-east-1")],
            &[
                ("MM_SQLSETTINGS_DATASOURCE", ARN, Some("postgres://mmuser:{secret}@db:5432/mm?sslmode=require")),
                ("MM_ELASTICSEARCHSETTINGS_PASSWORD", ARN, None),
            ],
        );
        MattermostConfig.derive(&mut a);
        let s = a["user_data"].as_str().unwrap();
        assert!(s.contains("MM_CLUSTERSETTINGS_CLUSTERNAME=\"mm-us-east-1\"\n"), "{s}");
        assert!(s.contains(&format!("value=$(secret 'us-east-1' '{ARN}' '')")), "{s}");
        assert!(
            s.contains("line 'MM_SQLSETTINGS_DATASOURCE' 'postgres://mmuser:' '@db:5432/mm?sslmode=require' 1"),
            "{s}"
        );
        assert!(s.contains("line 'MM_ELASTICSEARCHSETTINGS_PASSWORD' '' '' 0"), "{s}");
        let r = a["rendered"].as_map().unwrap();
        assert_eq!(
            r["MM_SQLSETTINGS_DATASOURCE"],
            Value::str("postgres://mmuser:(sensitive)@db:5432/mm?sslmode=require")
        );
        assert_eq!(r["MM_ELASTICSEARCHSETTINGS_PASSWORD"], Value::str("(sensitive)"));
    }

    /// A DSN that verifies the server's certificate needs its CA bundle: the
    /// script stops, saying which file, before it starts Mattermost without
    /// it; a DSN that does not verify needs no file.
    #[test]
    fn a_verifying_dsn_needs_its_ca_bundle() {
        let bundle = "/etc/ssl/certs/rds-global-bundle.pem";
        let dsn = |mode: &str| format!("postgres://mm:{{secret}}@db:5432/mm?sslmode={mode}&sslrootcert={bundle}");
        let (writer, reader) = (dsn("verify-ca"), dsn("verify-full"));
        let mut a = attrs(
            &[],
            &[
                ("MM_SQLSETTINGS_DATASOURCE", ARN, Some(writer.as_str())),
                ("MM_SQLSETTINGS_DATASOURCEREPLICAS", ARN, Some(reader.as_str())),
            ],
        );
        MattermostConfig.derive(&mut a);
        let s = a["user_data"].as_str().unwrap();
        let check = format!(
            "[[ -r '{bundle}' ]] || {{ say 'this AMI lacks the CA bundle {bundle}, which MM_SQLSETTINGS_DATASOURCE checks"
        );
        assert_eq!(s.matches(&check).count(), 1, "{s}");
        assert!(s.find(&check).unwrap() < s.find("systemctl restart").unwrap(), "{s}");
        let plain = dsn("require");
        let mut a = attrs(&[], &[("MM_SQLSETTINGS_DATASOURCE", ARN, Some(plain.as_str()))]);
        MattermostConfig.derive(&mut a);
        assert!(!a["user_data"].as_str().unwrap().contains("[[ -r"), "{}", a["user_data"]);
    }

    #[test]
    fn names_values_and_secret_specs_are_checked() {
        let a = attrs(
            &[
                ("MM_SQLSETTINGS_DATASORCE", "x"),
                ("MM_JOBSETTINGS_RUNJOBS", "yes"),
                ("MM_SQLSETTINGS_DATASOURCEREPLICAS", "postgres://mm:pw@reader/mm"),
            ],
            &[("MM_SQLSETTINGS_DATASOURCE", "not-an-arn", Some("postgres://u:{secret}@h /mm"))],
        );
        let probs: Vec<String> = MattermostConfig.validate(&a).into_iter().map(|p| p.prop).collect();
        assert_eq!(
            probs,
            [
                "environment.MM_JOBSETTINGS_RUNJOBS",
                "environment.MM_SQLSETTINGS_DATASORCE",
                "environment.MM_SQLSETTINGS_DATASOURCEREPLICAS",
                "secrets.MM_SQLSETTINGS_DATASOURCE",
                "secrets.MM_SQLSETTINGS_DATASOURCE"
            ]
        );
        // A replica DSN without a password (Mattermost marks the replica offline).
        let a = attrs(&[], &[("MM_SQLSETTINGS_DATASOURCEREPLICAS", ARN, Some("postgres://mmuser@r:5432/mm{secret}"))]);
        let msgs: Vec<String> = MattermostConfig.validate(&a).into_iter().map(|p| p.message).collect();
        assert!(msgs.iter().any(|m| m.contains("user:password@")), "{msgs:?}");
        // A setting the declared Mattermost does not have.
        let mut a = attrs(&[("MM_ELASTICSEARCHSETTINGS_BACKEND", "opensearch")], &[]);
        a.insert("mattermost_version".into(), Value::str("9.5"));
        let probs = MattermostConfig.validate(&a);
        assert_eq!(probs.len(), 1, "{probs:?}");
        assert!(probs[0].message.contains("from Mattermost 9.11 on"), "{probs:?}");
    }

    /// systemd's env-file parser (src/basic/env-file.c), the parts a
    /// `KEY="…"` or `KEY=…` line takes: what Mattermost's unit gets.
    fn systemd_env(text: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut chars = text.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            let mut value = String::new();
            match chars.peek() {
                Some('"') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => match chars.next() {
                                Some(e) if "\"\\`$".contains(e) => value.push(e),
                                Some('\n') => {}
                                Some(e) => {
                                    value.push('\\');
                                    value.push(e);
                                }
                                None => {}
                            },
                            c => value.push(c),
                        }
                    }
                    chars.by_ref().take_while(|c| *c != '\n').for_each(drop);
                }
                _ => {
                    let raw: String = chars.by_ref().take_while(|c| *c != '\n').collect();
                    value = raw.trim().to_string();
                }
            }
            out.insert(key.trim().to_string(), value);
        }
        out
    }

    /// Runs the rendered script with stand-ins for `aws` (answering with
    /// `secret` after `failures` refusals) and `systemctl`, in `dir`.
    fn boot(script: &str, secret: &str, failures: u32, dir: &std::path::Path) -> std::process::Output {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let write = |name: &str, text: String| {
            let p = bin.join(name);
            std::fs::write(&p, text).unwrap();
            std::process::Command::new("chmod").arg("+x").arg(&p).status().unwrap();
        };
        std::fs::write(dir.join("secret"), secret).unwrap();
        let count = dir.join("count");
        write(
            "aws",
            format!(
                "#!/bin/bash\nn=$(cat {c} 2>/dev/null || echo 0); echo $((n + 1)) > {c}\n\
                 if (( n < {failures} )); then echo 'Unable to locate credentials' >&2; exit 255; fi\n\
                 echo \"$@\" >> {d}/aws-args\ncat {d}/secret; echo\n",
                c = count.display(),
                d = dir.display()
            ),
        );
        write("systemctl", format!("#!/bin/bash\necho \"$@\" >> {}/systemctl\n", dir.display()));
        write("sleep", "#!/bin/bash\n".into());
        let script = script.replace("/etc/systemd/system", &dir.join("units").display().to_string());
        std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
            .output()
            .unwrap()
    }

    #[test]
    fn the_boot_script_writes_what_systemd_reads_back() {
        if std::process::Command::new("python3").arg("--version").output().is_err() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("standby-boot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env_file = dir.join("mattermost.env");
        // Everything systemd would rewrite: quotes, backslashes, blanks at
        // both ends, `$` and backquotes.
        let secret = "\"Quo\\te d\\\\ $HOME `x` pass ";
        let plain = "a \"quoted\" \\ value $PATH";
        let mut a = attrs(
            &[("MM_SERVICESETTINGS_SITEURL", plain)],
            &[
                ("MM_SQLSETTINGS_DATASOURCE", ARN, Some("postgres://mmuser:{secret}@db:5432/mm?sslmode=require")),
                ("MM_ELASTICSEARCHSETTINGS_PASSWORD", ARN, None),
            ],
        );
        a.insert("env_file".into(), Value::str(env_file.display().to_string()));
        MattermostConfig.derive(&mut a);
        let out = boot(a["user_data"].as_str().unwrap(), secret, 3, &dir);
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{log}");
        // The first reads failed: retried, each failure said in the boot log.
        assert!(log.contains("attempt 3 of 12"), "{log}");
        assert!(!log.contains(secret.trim()), "the secret reached the log: {log}");
        let text = std::fs::read_to_string(&env_file).unwrap();
        let env = systemd_env(&text);
        assert_eq!(env["MM_ELASTICSEARCHSETTINGS_PASSWORD"], secret, "{text}");
        assert_eq!(env["MM_SERVICESETTINGS_SITEURL"], plain, "{text}");
        let encoded: String = secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"_.~-".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(
            env["MM_SQLSETTINGS_DATASOURCE"],
            format!("postgres://mmuser:{encoded}@db:5432/mm?sslmode=require"),
            "{text}"
        );
        assert_eq!(env.len(), 3, "one line per setting: {text}");
        // Mattermost stopped before its settings were written, started after, never without them.
        let calls = std::fs::read_to_string(dir.join("systemctl")).unwrap();
        assert!(calls.starts_with("stop mattermost\n") && calls.ends_with("restart mattermost\n"), "{calls}");
        let dropin = std::fs::read_to_string(dir.join("units/mattermost.service.d/standby.conf")).unwrap();
        assert!(dropin.contains("ConditionPathExists=") && dropin.contains("EnvironmentFile="), "{dropin}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_pinned_secret_version_is_fetched_and_a_missing_tool_is_named() {
        let dir = std::env::temp_dir().join(format!("standby-boot-v-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut a = attrs(&[], &[("MM_ELASTICSEARCHSETTINGS_PASSWORD", ARN, None)]);
        let secrets = a.get_mut("secrets").unwrap();
        if let Value::Map(m) = secrets
            && let Some(Value::Map(e)) = m.get_mut("MM_ELASTICSEARCHSETTINGS_PASSWORD")
        {
            e.insert("version_id".into(), Value::str("v-123"));
        }
        a.insert("env_file".into(), Value::str(dir.join("mm.env").display().to_string()));
        MattermostConfig.derive(&mut a);
        let script = a["user_data"].as_str().unwrap();
        assert!(script.contains("'v-123'"), "{script}");
        if std::process::Command::new("python3").arg("--version").output().is_ok() {
            let out = boot(script, "pw", 0, &dir);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let args = std::fs::read_to_string(dir.join("aws-args")).unwrap();
            assert!(args.contains("--version-id v-123"), "{args}");
        }
        // An AMI without the AWS CLI: the boot log says so. (bash by its
        // path: the child's PATH has nothing.)
        let out = std::process::Command::new("/bin/bash")
            .arg("-c")
            .arg(script)
            .env("PATH", dir.join("nothing").display().to_string())
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("this AMI lacks aws"), "{out:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
