//! `standby init`: a new user's root configuration, made from
//! `examples/mattermost-dr` and the modules it uses (both built into the
//! binary, so the result does not depend on where standby was installed).
//!
//! The example's files are copied as they are, with three edits: the
//! `regions:` line, the module sources (`./modules/NAME`), and the defaults
//! of the root variables the user answered. Every edit must find its place
//! in the example; a change to the example that breaks one fails loudly
//! (and in the tests), never silently.

use std::path::PathBuf;

/// The example and the modules, as shipped with this binary.
pub const EXAMPLE: &[(&str, &str)] = &[
    ("main.yaml", include_str!("../examples/mattermost-dr/main.yaml")),
    ("network.yaml", include_str!("../examples/mattermost-dr/network.yaml")),
    ("database.yaml", include_str!("../examples/mattermost-dr/database.yaml")),
    ("search.yaml", include_str!("../examples/mattermost-dr/search.yaml")),
    ("imports.yaml", include_str!("../examples/mattermost-dr/imports.yaml")),
    ("app.yaml", include_str!("../examples/mattermost-dr/app.yaml")),
    ("secrets.yaml", include_str!("../examples/mattermost-dr/secrets.yaml")),
    ("dns.yaml", include_str!("../examples/mattermost-dr/dns.yaml")),
];
pub const MODULES: &[(&str, &str)] = &[
    ("aurora-global-database/main.yaml", include_str!("../modules/aurora-global-database/main.yaml")),
    ("aurora-global-database/README.md", include_str!("../modules/aurora-global-database/README.md")),
    (
        "opensearch-cross-cluster-replication/main.yaml",
        include_str!("../modules/opensearch-cross-cluster-replication/main.yaml"),
    ),
    (
        "opensearch-cross-cluster-replication/README.md",
        include_str!("../modules/opensearch-cross-cluster-replication/README.md"),
    ),
    ("s3-bidirectional-replication/main.yaml", include_str!("../modules/s3-bidirectional-replication/main.yaml")),
    ("s3-bidirectional-replication/README.md", include_str!("../modules/s3-bidirectional-replication/README.md")),
    ("mattermost-app-tier/main.yaml", include_str!("../modules/mattermost-app-tier/main.yaml")),
    ("mattermost-app-tier/drill.yaml", include_str!("../modules/mattermost-app-tier/drill.yaml")),
    ("mattermost-app-tier/README.md", include_str!("../modules/mattermost-app-tier/README.md")),
];

/// What the user told `init`.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    pub primary_region: String,
    pub secondary_region: String,
    pub prefix: String,
    /// Root variable → value, for the running primary's resource names.
    pub names: Vec<(&'static str, String)>,
}

/// The root variables that name the running primary's resources, with what
/// each is and the flag that sets it.
pub const PRIMARY_NAMES: &[(&str, &str, &str)] = &[
    ("primary_db_cluster", "the running Aurora cluster's identifier", "primary-db-cluster"),
    ("primary_files_bucket", "the S3 bucket Mattermost stores files in", "primary-files-bucket"),
    ("primary_search_domain", "the OpenSearch domain Mattermost searches", "primary-search-domain"),
];

const HEADER: &str = "# Written by `standby init` from examples/mattermost-dr. Review before the first apply:
#  - regions: the primary is where Mattermost runs today; the secondary is the DR region.
#  - the variables marked `set by standby init` below, and every other default
#    (deletion protection, tags, passwords come from STANDBY_VAR_<name>).
#  - then: standby validate . && standby plan .
";

/// True when the example declares this root variable (the primary's names
/// are asked for only where the example uses them).
pub fn declared(var: &str) -> bool {
    EXAMPLE.iter().any(|(_, t)| declares(t, var))
}

/// The files to write (relative paths under the target directory), or what
/// in the example could not be edited.
pub fn files(a: &Answers) -> Result<Vec<(PathBuf, String)>, String> {
    let mut root: Vec<(String, String)> = EXAMPLE.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    let main = root.iter_mut().find(|(n, _)| n == "main.yaml").ok_or("the example has no main.yaml")?;
    main.1 = set_regions(&main.1, &a.primary_region, &a.secondary_region)?;
    main.1 = format!("{HEADER}{}", main.1);
    let mut values: Vec<(&str, &str)> = vec![("prefix", &a.prefix)];
    values.extend(a.names.iter().map(|(k, v)| (*k, v.as_str())));
    for (var, value) in values {
        let file = root
            .iter_mut()
            .find(|(_, t)| declares(t, var))
            .ok_or_else(|| format!("the example declares no root variable `{var}`"))?;
        file.1 = set_default(&file.1, var, value)?;
    }
    let mut out = Vec::new();
    for (name, text) in root {
        let text = text.replace("source: ../../modules/", "source: ./modules/");
        out.push((PathBuf::from(name), text.replace(SCHEMA_LINE, "$schema=standby.schema.json")));
    }
    for (name, text) in MODULES {
        out.push((PathBuf::from("modules").join(name), text.replace(SCHEMA_LINE, "$schema=../../standby.schema.json")));
    }
    // Editors find the schema beside the configuration (`standby schema`
    // writes the same document).
    let schema = serde_json::to_string_pretty(&crate::json_schema::generate()).unwrap_or_default();
    out.push((PathBuf::from("standby.schema.json"), schema + "\n"));
    Ok(out)
}

/// How the shipped files point at the repository's schema.
const SCHEMA_LINE: &str = "$schema=../../schema/standby.schema.json";

fn set_regions(text: &str, primary: &str, secondary: &str) -> Result<String, String> {
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("regions:") {
                found = true;
                format!("regions: {{ primary: {primary}, secondary: {secondary} }}   # set by standby init")
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        return Err("the example's main.yaml has no top-level `regions:` line".into());
    }
    Ok(lines.join("\n") + "\n")
}

/// True when a root file declares `var` in block style under `variables:`.
fn declares(text: &str, var: &str) -> bool {
    var_line(text, var).is_some()
}

fn var_line(text: &str, var: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == "variables:")?;
    lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .take_while(|(_, l)| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .find(|(_, l)| l.trim_end() == format!("  {var}:"))
        .map(|(i, _)| i)
}

/// Sets (or adds) `default:` of a block-style variable declaration.
fn set_default(text: &str, var: &str, value: &str) -> Result<String, String> {
    let at = var_line(text, var).ok_or_else(|| format!("cannot find the declaration of `{var}`"))?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let quoted = serde_json::Value::String(value.to_string()).to_string();
    let new = format!("    default: {quoted}   # set by standby init");
    let body_end =
        (at + 1..lines.len()).find(|&i| !lines[i].starts_with("    ") && !lines[i].is_empty()).unwrap_or(lines.len());
    match (at + 1..body_end).find(|&i| lines[i].starts_with("    default:")) {
        Some(i) => lines[i] = new,
        None => lines.insert(at + 1, new),
    }
    Ok(lines.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_and_module_file_is_built_in() {
        // A file added to the example or a module must be listed above, or
        // `init` would write an incomplete configuration.
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk: Vec<String> = std::fs::read_dir(repo.join("examples/mattermost-dr"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = EXAMPLE.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "examples/mattermost-dr files vs init::EXAMPLE");
        let mut modules = Vec::new();
        for m in std::fs::read_dir(repo.join("modules")).unwrap() {
            let m = m.unwrap();
            for f in std::fs::read_dir(m.path()).unwrap() {
                let f = f.unwrap();
                modules.push(format!("{}/{}", m.file_name().to_string_lossy(), f.file_name().to_string_lossy()));
            }
        }
        modules.sort();
        let mut listed: Vec<String> = MODULES.iter().map(|(n, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(modules, listed, "modules/ files vs init::MODULES");
    }

    #[test]
    fn defaults_are_set_or_added() {
        let text = "variables:\n  a:\n    type: string\n    default: x\n  b:\n    type: string\n\nresources: {}\n";
        let t = set_default(text, "a", "new").unwrap();
        assert!(t.contains("    default: \"new\"   # set by standby init\n  b:"), "{t}");
        let t = set_default(&t, "b", "q\"uote").unwrap();
        assert!(t.contains("  b:\n    default: \"q\\\"uote\"   # set by standby init\n    type: string"), "{t}");
        assert!(set_default(text, "c", "v").is_err());
        assert!(set_default("resources: {}\n", "a", "v").is_err());
    }

    #[test]
    fn regions_line_is_replaced() {
        let t = set_regions("# c\nregions: { primary: a, secondary: b }\nx: 1\n", "eu-west-1", "eu-central-1").unwrap();
        assert_eq!(t, "# c\nregions: { primary: eu-west-1, secondary: eu-central-1 }   # set by standby init\nx: 1\n");
        assert!(set_regions("x: 1\n", "a", "b").is_err());
    }
}
