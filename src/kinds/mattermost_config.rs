//! `standby_mattermost_config`: one region's Mattermost settings, rendered
//! as `MM_<SECTION>_<SETTING>` environment overrides into a boot script for
//! a launch template's user data. Makes no cloud call (like `standby_data`).
//!
//! Plain settings are written in the script. Settings that hold a secret
//! (the database password inside the DSN, the search user's password) are
//! named by their Secrets Manager ARN and fetched at boot with the instance
//! role: the script holds the ARN, never the value. `rendered` shows what
//! Mattermost gets, secrets as `(sensitive)`, for `standby output`.
//!
//! Checks before any call: every name is one Mattermost knows and every
//! value one it parses (it ignores the others silently); across regions,
//! cluster names differ (nodes of both regions share the global database's
//! discovery table) and exactly one region runs the job scheduler.

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

static SCHEMA: Schema = Schema {
    props: &[
        Prop::required("environment", Type::Map(&Type::String), "Settings: MM_<SECTION>_<SETTING> → value.").plain(),
        Prop::optional(
            "secrets",
            Type::Map(&Type::Map(&Type::String)),
            "Settings holding a secret: MM_… → { secret_arn, template } (template default `{secret}`; the secret is \
             URL-encoded when the template has more around it, e.g. a DSN).",
        )
        .plain(),
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

/// Single-quoted for bash.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
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

fn script(attrs: &Attrs, environment: &BTreeMap<&str, &Value>, secrets: &BTreeMap<&str, &Value>) -> Option<String> {
    let env_file = attrs.get("env_file").and_then(Value::as_str).unwrap_or(DEFAULT_ENV_FILE);
    let service = attrs.get("service").and_then(Value::as_str).unwrap_or(DEFAULT_SERVICE);
    let mut s = String::from(
        "#!/bin/bash\n\
         # Mattermost settings, rendered by standby (standby_mattermost_config).\n\
         # Secrets are fetched at boot with the instance role; none is written here.\n\
         set -euo pipefail\n\
         umask 077\n",
    );
    s += &format!("env_file={}\ninstall -d -m 0750 \"$(dirname \"$env_file\")\"\n", quote(env_file));
    s += "cat > \"$env_file.new\" <<'STANDBY_SETTINGS'\n";
    for (k, v) in environment {
        s += &format!("{k}={}\n", v.as_str()?);
    }
    s += "STANDBY_SETTINGS\n";
    if !secrets.is_empty() {
        s += "secret() { aws secretsmanager get-secret-value --region \"$1\" --secret-id \"$2\" --query SecretString --output text; }\n";
        s += "urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read().rstrip(\"\\n\"), safe=\"\"))'; }\n";
    }
    for (k, spec) in secrets {
        let m = spec.as_map()?;
        let arn = m.get("secret_arn")?.as_str()?;
        let template = match m.get("template") {
            Some(t) => t.as_str()?,
            None => PLACEHOLDER,
        };
        let (before, after) = template.split_once(PLACEHOLDER)?;
        let encode = if before.is_empty() && after.is_empty() { "" } else { " | urlencode" };
        s += &format!(
            "value=$(secret {} {}{encode})\nprintf '%s%s%s\\n' {} \"$value\" {} >> \"$env_file.new\"\n",
            quote(arn_region(arn).unwrap_or("us-east-1")),
            quote(arn),
            quote(&format!("{k}={before}")),
            quote(after)
        );
    }
    s += &format!(
        "mv \"$env_file.new\" \"$env_file\"\n\
         install -d /etc/systemd/system/{service}.service.d\n\
         printf '[Service]\\nEnvironmentFile=%s\\n' \"$env_file\" > /etc/systemd/system/{service}.service.d/standby.conf\n\
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
        let (environment, secrets) = (map(props, "environment"), map(props, "secrets"));
        for (name, v) in &environment {
            let at = format!("environment.{name}");
            if let Some(m) = mattermost::check_name(name) {
                out.push(PropProblem::error(&at, m));
            } else if let Some(m) = v.as_str().and_then(|s| mattermost::check_value(name, s)) {
                out.push(PropProblem::error(&at, format!("{name}: {m}")));
            }
            if secrets.contains_key(name) {
                out.push(PropProblem::error(&at, format!("{name} is also in `secrets`: set it in one place")));
            }
        }
        for (name, spec) in &secrets {
            let at = format!("secrets.{name}");
            if let Some(m) = mattermost::check_name(name) {
                out.push(PropProblem::error(&at, m));
            }
            let Some(m) = spec.as_map() else { continue };
            if let Some(k) = m.keys().find(|k| !["secret_arn", "template"].contains(&k.as_str())) {
                out.push(PropProblem::error(
                    &at,
                    format!("unknown key `{k}`: an entry has `secret_arn` and `template`"),
                ));
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
        let (environment, secrets) = (map(planned, "environment"), map(planned, "secrets"));
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

    #[test]
    fn the_script_fetches_secrets_and_holds_none() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mm-db-AbCdEf";
        let mut a = attrs(
            &[("MM_CLUSTERSETTINGS_CLUSTERNAME", "mm-us-east-1")],
            &[
                ("MM_SQLSETTINGS_DATASOURCE", arn, Some("postgres://mmuser:{secret}@db:5432/mm?sslmode=require")),
                ("MM_ELASTICSEARCHSETTINGS_PASSWORD", arn, None),
            ],
        );
        MattermostConfig.derive(&mut a);
        let s = a["user_data"].as_str().unwrap();
        assert!(s.contains("MM_CLUSTERSETTINGS_CLUSTERNAME=mm-us-east-1\n"), "{s}");
        assert!(s.contains(&format!("value=$(secret 'us-east-1' '{arn}' | urlencode)")), "{s}");
        assert!(
            s.contains("'MM_SQLSETTINGS_DATASOURCE=postgres://mmuser:' \"$value\" '@db:5432/mm?sslmode=require'"),
            "{s}"
        );
        assert!(s.contains(&format!("value=$(secret 'us-east-1' '{arn}')\n")), "{s}");
        let r = a["rendered"].as_map().unwrap();
        assert_eq!(
            r["MM_SQLSETTINGS_DATASOURCE"],
            Value::str("postgres://mmuser:(sensitive)@db:5432/mm?sslmode=require")
        );
        assert_eq!(r["MM_ELASTICSEARCHSETTINGS_PASSWORD"], Value::str("(sensitive)"));
    }

    #[test]
    fn names_values_and_secret_specs_are_checked() {
        let a = attrs(
            &[("MM_SQLSETTINGS_DATASORCE", "x"), ("MM_JOBSETTINGS_RUNJOBS", "yes")],
            &[("MM_SQLSETTINGS_DATASOURCE", "not-an-arn", Some("postgres://u:{secret}@h /mm"))],
        );
        let probs: Vec<String> = MattermostConfig.validate(&a).into_iter().map(|p| p.prop).collect();
        assert_eq!(
            probs,
            [
                "environment.MM_JOBSETTINGS_RUNJOBS",
                "environment.MM_SQLSETTINGS_DATASORCE",
                "secrets.MM_SQLSETTINGS_DATASOURCE",
                "secrets.MM_SQLSETTINGS_DATASOURCE"
            ]
        );
    }
}
