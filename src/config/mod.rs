//! The configuration as written: modules, variables, resources, outputs,
//! with the location of everything. Nothing here is evaluated.

pub mod backend;
mod load;
pub mod yaml;

/// The keys each kind of block takes (what the JSON Schema offers editors).
pub(crate) use load::{MODULE_KEYS, OUTPUT_KEYS, RESOURCE_KEYS, TOP_KEYS, VAR_KEYS};
pub use load::{ModuleTree, load_tree};

use crate::diag::Location;
use crate::expr::Template;
use std::path::PathBuf;
use std::time::Duration;

/// A value as written in YAML; strings may hold `${…}` references.
#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub loc: Location,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Template),
    List(Vec<Expr>),
    Map(Vec<(Named, Expr)>),
}

impl Expr {
    /// Every reference inside, with the location of the string holding it.
    pub fn refs(&self) -> Vec<(&crate::expr::Ref, &Location)> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<(&'a crate::expr::Ref, &'a Location)>) {
        match &self.kind {
            ExprKind::Str(t) => out.extend(t.refs().map(|r| (r, &self.loc))),
            ExprKind::List(items) => items.iter().for_each(|i| i.collect_refs(out)),
            ExprKind::Map(entries) => entries.iter().for_each(|(_, v)| v.collect_refs(out)),
            _ => {}
        }
    }
}

/// A name with where it was written.
#[derive(Clone, Debug)]
pub struct Named {
    pub name: String,
    pub loc: Location,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    String,
    Number,
    Bool,
    List,
    Map,
    Any,
}

impl VarType {
    pub fn name(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Number => "number",
            VarType::Bool => "bool",
            VarType::List => "list",
            VarType::Map => "map",
            VarType::Any => "any",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub name: Named,
    pub ty: VarType,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Timeouts {
    pub create: Option<Duration>,
    pub update: Option<Duration>,
    pub delete: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub name: Named,
    pub type_name: Named,
    /// The region name (`primary`, `secondary`, …), not the AWS region.
    pub region: Option<Named>,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Named>,
    /// `lifecycle.prevent_destroy` as written; `None` when not written
    /// (adopted resources are then protected, created ones are not).
    pub prevent_destroy: Option<bool>,
    pub properties: Vec<(Named, Expr)>,
    pub timeouts: Timeouts,
}

#[derive(Clone, Debug)]
pub struct ModuleCall {
    pub name: Named,
    pub source: Named,
    pub inputs: Vec<(Named, Expr)>,
    /// Module region name → caller's region name. Unlisted names pass through.
    pub regions: Vec<(Named, Named)>,
    pub depends_on: Vec<Named>,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: Named,
    pub value: Expr,
    pub description: Option<String>,
    pub sensitive: bool,
}

/// A root-module `imports:` entry (Terraform's `import` block): adopt the
/// object AWS knows by `id` at the address `to`.
#[derive(Clone, Debug)]
pub struct Import {
    /// The resource instance address, e.g. `module.db.aws_rds_cluster.primary`.
    pub to: Named,
    /// The id; may use root variables.
    pub id: Expr,
    /// Where the entry starts.
    pub loc: Location,
}

/// A `checks:` entry (like Terraform's `check` blocks): a condition the
/// plan evaluates once values are known, reported at the condition's
/// location when false: a warning, or an error with `severity: error`.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: Named,
    pub condition: Expr,
    pub message: String,
    pub error: bool,
}

/// One directory of `*.yaml` files.
#[derive(Clone, Debug, Default)]
pub struct Module {
    pub dir: PathBuf,
    /// Root: region name → AWS region. Child modules: names only (value empty).
    pub regions: Vec<(Named, Option<Named>)>,
    pub variables: Vec<Variable>,
    pub resources: Vec<Resource>,
    pub modules: Vec<ModuleCall>,
    pub outputs: Vec<Output>,
    /// Root module only.
    pub imports: Vec<Import>,
    pub checks: Vec<Check>,
}

impl Module {
    pub fn resource(&self, type_name: &str, name: &str) -> Option<(usize, &Resource)> {
        self.resources.iter().enumerate().find(|(_, r)| r.type_name.name == type_name && r.name.name == name)
    }
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|v| v.name.name == name)
    }
    pub fn call(&self, name: &str) -> Option<&ModuleCall> {
        self.modules.iter().find(|m| m.name.name == name)
    }
    pub fn has_region(&self, name: &str) -> bool {
        self.regions.iter().any(|(n, _)| n.name == name)
    }
}

/// Parses `30s`, `10m`, `2h`, `1h30m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            let n: u64 = num.parse().ok()?;
            num.clear();
            total += n * match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                _ => return None,
            };
        }
    }
    (num.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

/// AWS commercial regions (the `aws` partition) standby accepts. Regions of
/// other partitions are refused (see [`other_partition`]): ARNs
/// (`arn:aws:...`) and the IAM endpoint (us-east-1) are the `aws` partition's.
pub const AWS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
];

/// The partition of a region outside the `aws` partition, by its prefix
/// (GovCloud, China, the isolated regions); `None` otherwise.
pub fn other_partition(region: &str) -> Option<&'static str> {
    [
        ("us-gov-", "aws-us-gov"),
        ("cn-", "aws-cn"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
    ]
    .into_iter()
    .find(|(prefix, _)| region.starts_with(prefix))
    .map(|(_, p)| p)
}

/// The closest known name to a misspelt one.
pub fn suggest_name<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    yaml::suggest(word, candidates)
}

/// A location helper for YAML files read outside a module (variable files).
pub fn yaml_source(file: &std::path::Path) -> yaml::Source {
    yaml::Source { file: std::sync::Arc::new(file.to_path_buf()) }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration(""), None);
    }
}
