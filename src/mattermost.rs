//! What standby knows of Mattermost's configuration: the settings it may
//! be given as `MM_<SECTION>_<SETTING>` environment overrides, with their
//! types, and how Mattermost parses them (server/config/environment.go).
//! Mattermost ignores unknown names and values it cannot parse silently,
//! so standby checks both before any call.
//!
//! The list is the one place to extend: add a setting here and every check
//! (the config kind, launch template user data) knows it.

/// How Mattermost parses an override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingType {
    Str,
    /// `strconv.ParseBool`: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False.
    Bool,
    /// `strconv.ParseInt`.
    Int,
    /// `[]string`: split on single spaces.
    List,
}

use SettingType::{Bool, Int, List, Str};

/// Environment names Mattermost reads, with their types: the settings of
/// the app tier reference (app-tier.md §1.2) and the usual neighbours.
pub const KNOWN: &[(&str, SettingType)] = &[
    // Not settings: the config store and the licence.
    ("MM_CONFIG", Str),
    ("MM_LICENSE", Str),
    ("MM_SERVICESETTINGS_SITEURL", Str),
    ("MM_SERVICESETTINGS_LISTENADDRESS", Str),
    ("MM_SERVICESETTINGS_GOROUTINEHEALTHTHRESHOLD", Int),
    ("MM_SERVICESETTINGS_ENABLELOCALMODE", Bool),
    ("MM_SERVICESETTINGS_TRUSTEDPROXYIPHEADER", List),
    ("MM_SQLSETTINGS_DRIVERNAME", Str),
    ("MM_SQLSETTINGS_DATASOURCE", Str),
    ("MM_SQLSETTINGS_DATASOURCEREPLICAS", List),
    ("MM_SQLSETTINGS_DATASOURCESEARCHREPLICAS", List),
    ("MM_SQLSETTINGS_MAXIDLECONNS", Int),
    ("MM_SQLSETTINGS_MAXOPENCONNS", Int),
    ("MM_SQLSETTINGS_CONNMAXLIFETIMEMILLISECONDS", Int),
    ("MM_SQLSETTINGS_QUERYTIMEOUT", Int),
    ("MM_CLUSTERSETTINGS_ENABLE", Bool),
    ("MM_CLUSTERSETTINGS_CLUSTERNAME", Str),
    ("MM_CLUSTERSETTINGS_GOSSIPPORT", Int),
    ("MM_CLUSTERSETTINGS_USEIPADDRESS", Bool),
    ("MM_CLUSTERSETTINGS_READONLYCONFIG", Bool),
    ("MM_CLUSTERSETTINGS_ENABLEGOSSIPCOMPRESSION", Bool),
    ("MM_CLUSTERSETTINGS_OVERRIDEHOSTNAME", Str),
    ("MM_CLUSTERSETTINGS_NETWORKINTERFACE", Str),
    ("MM_CLUSTERSETTINGS_BINDADDRESS", Str),
    ("MM_CLUSTERSETTINGS_ADVERTISEADDRESS", Str),
    ("MM_JOBSETTINGS_RUNJOBS", Bool),
    ("MM_JOBSETTINGS_RUNSCHEDULER", Bool),
    ("MM_FILESETTINGS_DRIVERNAME", Str),
    ("MM_FILESETTINGS_AMAZONS3BUCKET", Str),
    ("MM_FILESETTINGS_AMAZONS3REGION", Str),
    ("MM_FILESETTINGS_AMAZONS3ENDPOINT", Str),
    ("MM_FILESETTINGS_AMAZONS3SSL", Bool),
    ("MM_FILESETTINGS_AMAZONS3PATHPREFIX", Str),
    ("MM_FILESETTINGS_AMAZONS3SSE", Bool),
    ("MM_FILESETTINGS_AMAZONS3SIGNV2", Bool),
    ("MM_FILESETTINGS_AMAZONS3TRACE", Bool),
    ("MM_FILESETTINGS_AMAZONS3REQUESTTIMEOUTMILLISECONDS", Int),
    ("MM_FILESETTINGS_AMAZONS3ACCESSKEYID", Str),
    ("MM_FILESETTINGS_AMAZONS3SECRETACCESSKEY", Str),
    ("MM_ELASTICSEARCHSETTINGS_CONNECTIONURL", Str),
    ("MM_ELASTICSEARCHSETTINGS_BACKEND", Str),
    ("MM_ELASTICSEARCHSETTINGS_USERNAME", Str),
    ("MM_ELASTICSEARCHSETTINGS_PASSWORD", Str),
    ("MM_ELASTICSEARCHSETTINGS_ENABLEINDEXING", Bool),
    ("MM_ELASTICSEARCHSETTINGS_ENABLESEARCHING", Bool),
    ("MM_ELASTICSEARCHSETTINGS_ENABLEAUTOCOMPLETE", Bool),
    ("MM_ELASTICSEARCHSETTINGS_SNIFF", Bool),
    ("MM_ELASTICSEARCHSETTINGS_INDEXPREFIX", Str),
    ("MM_ELASTICSEARCHSETTINGS_SKIPTLSVERIFICATION", Bool),
    ("MM_ELASTICSEARCHSETTINGS_CA", Str),
    ("MM_METRICSSETTINGS_ENABLE", Bool),
    ("MM_METRICSSETTINGS_LISTENADDRESS", Str),
    ("MM_LOGSETTINGS_CONSOLELEVEL", Str),
    ("MM_LOGSETTINGS_ENABLEFILE", Bool),
    // What reaches people or systems outside Mattermost (a drill turns them off: [`SILENT`]).
    ("MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS", Bool),
    ("MM_EMAILSETTINGS_SENDPUSHNOTIFICATIONS", Bool),
    ("MM_EMAILSETTINGS_PUSHNOTIFICATIONSERVER", Str),
    ("MM_SERVICESETTINGS_ENABLEOUTGOINGWEBHOOKS", Bool),
    ("MM_SERVICESETTINGS_ENABLECOMMANDS", Bool),
    ("MM_SERVICESETTINGS_ENABLELINKPREVIEWS", Bool),
    ("MM_SERVICESETTINGS_ENABLEPERMALINKPREVIEWS", Bool),
    ("MM_PLUGINSETTINGS_ENABLE", Bool),
    ("MM_LDAPSETTINGS_ENABLESYNC", Bool),
    ("MM_LOGSETTINGS_ENABLEDIAGNOSTICS", Bool),
    ("MM_SERVICESETTINGS_ENABLESECURITYFIXALERT", Bool),
    ("MM_EMAILSETTINGS_SMTPSERVER", Str),
    ("MM_ANNOUNCEMENTSETTINGS_ADMINNOTICESENABLED", Bool),
    ("MM_ANNOUNCEMENTSETTINGS_USERNOTICESENABLED", Bool),
    ("MM_EXPERIMENTALSETTINGS_ENABLESHAREDCHANNELS", Bool),
    ("MM_EXPERIMENTALSETTINGS_ENABLEREMOTECLUSTERSERVICE", Bool),
    ("MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS", Bool),
    ("MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE", Bool),
];

/// The settings that keep a copy of production from reaching real people
/// or their systems (a drill's node): mattermost/mattermost
/// `server/public/model/config.go` defaults `EmailSettings.SendEmailNotifications`,
/// `ServiceSettings.EnableOutgoingWebhooks`, `EnableCommands` (custom slash
/// commands call their URLs), `EnableLinkPreviews` and
/// `EnablePermalinkPreviews` (fetches), `PluginSettings.Enable` (plugins make
/// their own calls) and `LogSettings.EnableDiagnostics` (telemetry) to true;
/// push notifications and LDAP sync are the site's. The job scheduler and
/// the jobs (data retention, LDAP sync, email batching) are turned off with
/// [`RUN_SCHEDULER`] and `MM_JOBSETTINGS_RUNJOBS`, cluster gossip with
/// `MM_CLUSTERSETTINGS_ENABLE`.
///
/// Not behind the jobs, and so listed too: `ServiceSettings.EnableSecurityFixAlert`
/// (`DoSecurityUpdateCheck`, started by `Server.runJobs` whatever `RunJobs`
/// says, sends the server id and user counts to securityupdatecheck.mattermost.com
/// and mails bulletins to the system admins over SMTP directly); the SMTP
/// server itself, blanked (`EmailSettings.SMTPServer`: password-reset and
/// "token added" mails do not ask `SendEmailNotifications`); the notices
/// fetched from Mattermost (`AnnouncementSettings.AdminNoticesEnabled`,
/// `UserNoticesEnabled`); connected workspaces (shared channels sync
/// messages "in real-time" with other organisations' servers, mattermost/docs
/// `connected-workspaces.rst`): `ConnectedWorkspacesSettings.EnableSharedChannels`
/// and `EnableRemoteClusterService` from 10.2, `ExperimentalSettings.*` of the
/// same names before (config.go `ExperimentalSettings.SetDefaults`; 10.2 keeps
/// them to migrate from, so both are set). [`silent_for`] leaves out the
/// names the declared version does not read.
pub const SILENT: &[(&str, &str)] = &[
    ("MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS", "false"),
    ("MM_EMAILSETTINGS_SENDPUSHNOTIFICATIONS", "false"),
    ("MM_EMAILSETTINGS_PUSHNOTIFICATIONSERVER", ""),
    ("MM_SERVICESETTINGS_ENABLEOUTGOINGWEBHOOKS", "false"),
    ("MM_SERVICESETTINGS_ENABLECOMMANDS", "false"),
    ("MM_SERVICESETTINGS_ENABLELINKPREVIEWS", "false"),
    ("MM_SERVICESETTINGS_ENABLEPERMALINKPREVIEWS", "false"),
    ("MM_PLUGINSETTINGS_ENABLE", "false"),
    ("MM_LDAPSETTINGS_ENABLESYNC", "false"),
    ("MM_LOGSETTINGS_ENABLEDIAGNOSTICS", "false"),
    ("MM_JOBSETTINGS_RUNSCHEDULER", "false"),
    ("MM_JOBSETTINGS_RUNJOBS", "false"),
    ("MM_CLUSTERSETTINGS_ENABLE", "false"),
    ("MM_SERVICESETTINGS_ENABLESECURITYFIXALERT", "false"),
    ("MM_EMAILSETTINGS_SMTPSERVER", ""),
    ("MM_ANNOUNCEMENTSETTINGS_ADMINNOTICESENABLED", "false"),
    ("MM_ANNOUNCEMENTSETTINGS_USERNOTICESENABLED", "false"),
    ("MM_EXPERIMENTALSETTINGS_ENABLESHAREDCHANNELS", "false"),
    ("MM_EXPERIMENTALSETTINGS_ENABLEREMOTECLUSTERSERVICE", "false"),
    ("MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS", "false"),
    ("MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE", "false"),
];

/// [`SILENT`] without the names Mattermost `version` would ignore (and
/// [`check_version`] would refuse).
pub fn silent_for(version: Option<&str>) -> impl Iterator<Item = (&'static str, &'static str)> {
    SILENT.iter().copied().filter(move |(n, _)| check_version(n, version).is_none())
}

/// Settings newer than the rest, with the first Mattermost version that
/// reads them (older ones ignore the name silently, environment.go
/// `applyEnvKey`: `if !rFieldValue.IsValid() { return }`).
/// `ElasticsearchSettings.Backend`: "Mattermost v9.11 adds support for
/// Elasticsearch v8 as well as beta support for OpenSearch"
/// (https://docs.mattermost.com/scale/elasticsearch.html).
/// Connected workspaces: "Ensure that all Mattermost Enterprise servers are
/// running v10.2 or later" (mattermost/docs `connected-workspaces.rst`).
pub const SINCE: &[(&str, (u32, u32))] = &[
    ("MM_ELASTICSEARCHSETTINGS_BACKEND", (9, 11)),
    ("MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS", (10, 2)),
    ("MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE", (10, 2)),
];

/// The oldest Mattermost standby's app tier is written for: every setting
/// it renders exists from this version on.
pub const MINIMUM_VERSION: (u32, u32) = (9, 11);

pub const CLUSTER_NAME: &str = "MM_CLUSTERSETTINGS_CLUSTERNAME";
pub const RUN_SCHEDULER: &str = "MM_JOBSETTINGS_RUNSCHEDULER";
pub const DATA_SOURCE: &str = "MM_SQLSETTINGS_DATASOURCE";
pub const DATA_SOURCE_REPLICAS: &str = "MM_SQLSETTINGS_DATASOURCEREPLICAS";
pub const DATA_SOURCE_SEARCH_REPLICAS: &str = "MM_SQLSETTINGS_DATASOURCESEARCHREPLICAS";

/// The settings that hold PostgreSQL DSNs (with the database password).
pub fn is_dsn(name: &str) -> bool {
    [DATA_SOURCE, DATA_SOURCE_REPLICAS, DATA_SOURCE_SEARCH_REPLICAS].contains(&name)
}

/// `MAJOR.MINOR` (a patch part is allowed and ignored).
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    parts.next().is_none_or(|p| p.parse::<u32>().is_ok()).then_some((major, minor))
}

/// Why `name` would be ignored by Mattermost `version` (default: the
/// minimum standby supports): `None` when it is read.
pub fn check_version(name: &str, version: Option<&str>) -> Option<String> {
    let have = version.and_then(parse_version).unwrap_or(MINIMUM_VERSION);
    let (_, since) = SINCE.iter().find(|(n, _)| *n == name)?;
    (have < *since).then(|| {
        format!(
            "{name} exists from Mattermost {}.{} on; {}.{} ignores it silently: upgrade Mattermost first, or leave \
             the setting out",
            since.0, since.1, have.0, have.1
        )
    })
}

pub fn setting_type(name: &str) -> Option<SettingType> {
    KNOWN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Why Mattermost would not take this name: `None` when it would.
pub fn check_name(name: &str) -> Option<String> {
    if setting_type(name).is_some() {
        return None;
    }
    let hint = crate::config::suggest_name(name, KNOWN.iter().map(|(n, _)| *n))
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    Some(format!(
        "`{name}` is not a Mattermost setting standby knows: Mattermost would ignore it silently{hint}; names are \
         MM_<SECTION>_<SETTING> in capitals (the known ones are listed in src/mattermost.rs)"
    ))
}

/// Why Mattermost would not take this value for `name`: `None` when it would.
pub fn check_value(name: &str, value: &str) -> Option<String> {
    if value.contains(['\n', '\r']) {
        return Some("holds a line break: an environment value is one line".into());
    }
    if name == DATA_SOURCE && value.chars().any(char::is_whitespace) {
        return Some("a DSN has no spaces (Mattermost would fail to connect)".into());
    }
    if is_dsn(name) {
        for dsn in value.split(' ') {
            if let Some(m) = dsn_problem(dsn) {
                return Some(m);
            }
        }
    }
    match setting_type(name)? {
        Bool if parse_bool(value).is_none() => {
            Some(format!("`{value}` is not a boolean; Mattermost would ignore it silently (use true or false)"))
        }
        Int if value.parse::<i64>().is_err() => {
            Some(format!("`{value}` is not a whole number; Mattermost would ignore it silently"))
        }
        // Split on single spaces: "" is one empty entry, two spaces make one.
        List if value.is_empty() || value.contains("  ") || value.starts_with(' ') || value.ends_with(' ') => Some(
            "a list is its items separated by single spaces; an empty value is one empty item (leave the setting out)"
                .into(),
        ),
        _ => None,
    }
}

/// Why a PostgreSQL DSN would not log in: Aurora asks every user for a
/// password, and Mattermost opens each replica DSN on its own (a replica
/// without one is marked offline and every read goes to the writer;
/// sqlstore/store.go `initConnection`). `None` for other schemes.
fn dsn_problem(dsn: &str) -> Option<String> {
    let rest = dsn.strip_prefix("postgres://").or_else(|| dsn.strip_prefix("postgresql://"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    match authority.rsplit_once('@') {
        Some((user, _)) if user.split_once(':').is_some_and(|(u, p)| !u.is_empty() && !p.is_empty()) => None,
        _ => Some(
            "a DSN needs user:password@ (Aurora asks every user for a password); put the DSN in `secrets` with \
             the password's secret_arn and a template holding {secret}"
                .into(),
        ),
    }
}

/// Every `MM_…=` name in a shell script or environment file (user data).
pub fn names_in(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("MM_") {
        let start = i + pos;
        let before_ok = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = start
            + text[start..]
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(text.len() - start);
        if before_ok && text[end..].starts_with('=') {
            out.push(&text[start..end]);
        }
        i = end.max(start + 3);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_silent_settings_are_known_and_parse() {
        for (name, value) in SILENT {
            assert!(check_name(name).is_none(), "{name}");
            assert!(value.is_empty() || check_value(name, value).is_none(), "{name}={value}");
        }
    }

    #[test]
    fn the_silent_settings_cover_shared_channels_in_the_names_each_version_reads() {
        let names = |v| silent_for(Some(v)).map(|(n, _)| n).collect::<Vec<_>>();
        let old = names("9.11");
        assert!(old.contains(&"MM_EXPERIMENTALSETTINGS_ENABLESHAREDCHANNELS"));
        assert!(old.contains(&"MM_EXPERIMENTALSETTINGS_ENABLEREMOTECLUSTERSERVICE"));
        assert!(!old.contains(&"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS"));
        let new = names("10.2");
        assert!(new.contains(&"MM_CONNECTEDWORKSPACESSETTINGS_ENABLESHAREDCHANNELS"));
        assert!(new.contains(&"MM_CONNECTEDWORKSPACESSETTINGS_ENABLEREMOTECLUSTERSERVICE"));
        for n in [
            "MM_SERVICESETTINGS_ENABLESECURITYFIXALERT",
            "MM_EMAILSETTINGS_SMTPSERVER",
            "MM_ANNOUNCEMENTSETTINGS_ADMINNOTICESENABLED",
            "MM_ANNOUNCEMENTSETTINGS_USERNOTICESENABLED",
        ] {
            assert!(old.contains(&n) && new.contains(&n), "{n}");
        }
    }

    #[test]
    fn names_and_values_are_checked_like_mattermost_parses_them() {
        assert!(check_name("MM_SQLSETTINGS_DATASOURCE").is_none());
        let m = check_name("MM_SQLSETTINGS_DATASORCE").unwrap();
        assert!(m.contains("did you mean `MM_SQLSETTINGS_DATASOURCE`"), "{m}");
        assert!(check_value(DATA_SOURCE, "postgres://u:p@h:5432/mm?sslmode=require").is_none());
        assert!(check_value(DATA_SOURCE, "postgres://u@h:5432/mm?sslmode=require").unwrap().contains("password"));
        let replicas = "MM_SQLSETTINGS_DATASOURCEREPLICAS";
        assert!(check_value(replicas, "postgres://u:p@r1/mm postgres://u@r2/mm").unwrap().contains("password"));
        assert!(check_value(replicas, "postgres://u:p@r1/mm postgres://u:p@r2/mm").is_none());
        assert!(check_value(DATA_SOURCE, "postgres://u@h /mm").unwrap().contains("no spaces"));
        assert!(check_value(RUN_SCHEDULER, "yes").unwrap().contains("not a boolean"));
        assert!(check_value(RUN_SCHEDULER, "True").is_none());
        assert!(check_value("MM_CLUSTERSETTINGS_GOSSIPPORT", "80x").is_some());
        assert!(check_value("MM_SQLSETTINGS_DATASOURCEREPLICAS", "").is_some());
        assert!(check_value("MM_SQLSETTINGS_DATASOURCEREPLICAS", "a b").is_none());
        assert_eq!(parse_version("9.11"), Some((9, 11)));
        assert_eq!(parse_version("v10.2.1"), Some((10, 2)));
        assert_eq!(parse_version("nine"), None);
        assert!(check_version("MM_ELASTICSEARCHSETTINGS_BACKEND", Some("9.10")).unwrap().contains("9.11"));
        assert!(check_version("MM_ELASTICSEARCHSETTINGS_BACKEND", Some("10.0")).is_none());
        assert!(check_version("MM_ELASTICSEARCHSETTINGS_BACKEND", None).is_none());
        assert!(check_version("MM_SQLSETTINGS_DATASOURCE", Some("9.0")).is_none());
        assert!(check_value("MM_SERVICESETTINGS_SITEURL", "a\nb").is_some());
    }

    #[test]
    fn names_in_user_data() {
        let text = "X=1\nMM_A_B=2\necho \"MM_C=$v\" >> f\nNOT_MM_D=3\nMM_E\n";
        assert_eq!(names_in(text), ["MM_A_B", "MM_C"]);
    }
}
