//! Ignore rules for a drift run: `.standbyignore` in the configuration
//! directory and `--ignore PATTERN`. They hide findings from one report
//! (each hidden finding is counted), and never change what apply does.
//!
//! One rule per line: `ADDRESS [PATH]`. `*` matches any run of characters
//! (dots and brackets included), `?` one character. Without a PATH the rule
//! matches every finding on the address; with one, findings on that
//! attribute path only. A leading `!` un-ignores what an earlier rule hid
//! (the last matching rule decides, as in `.gitignore`). `#` starts a
//! comment. Unmanaged resources are addressed `<type>.<name>`.
//!
//! ```text
//! # the tags team edits by hand
//! module.files.aws_s3_bucket.* tags
//! aws_s3_bucket.mattermost-dr-scratch-*
//! !aws_s3_bucket.mattermost-dr-scratch-keep
//! ```

use super::Finding;
use crate::glob::glob;
use std::path::Path;

/// The file read from the configuration directory.
pub const FILE: &str = ".standbyignore";

#[derive(Clone, Debug)]
struct Rule {
    text: String,
    negate: bool,
    address: String,
    path: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Rules(Vec<Rule>);

impl Rules {
    /// Parses rules; `origin` names where they come from in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Rules, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let (negate, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let mut words = body.split_whitespace();
            let address = words.next().unwrap_or_default().to_string();
            let path = words.next().map(str::to_string);
            if address.is_empty() || words.next().is_some() {
                return Err(format!("{origin}:{}: expected `ADDRESS [PATH]`, got `{line}`", n + 1));
            }
            rules.push(Rule { text: line.to_string(), negate, address, path });
        }
        Ok(Rules(rules))
    }

    /// `.standbyignore` in `dir` (if any), then the `--ignore` patterns.
    pub fn load(dir: &Path, cli: &[String]) -> Result<Rules, String> {
        let file = dir.join(FILE);
        let mut rules = match std::fs::read_to_string(&file) {
            Ok(t) => Rules::parse(&t, &file.display().to_string())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Rules::default(),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        for (i, p) in cli.iter().enumerate() {
            rules.0.extend(Rules::parse(p, &format!("--ignore #{}", i + 1))?.0);
        }
        Ok(rules)
    }

    /// The rule that hides `f`, if one does (the last matching rule decides).
    pub fn matching(&self, f: &Finding) -> Option<&str> {
        let last = self
            .0
            .iter()
            .rev()
            .find(|r| glob(&r.address, &f.address) && r.path.as_deref().is_none_or(|p| glob(p, &f.path)))?;
        (!last.negate).then_some(last.text.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::FindingKind;
    use serde_json::Value as Json;

    fn finding(address: &str, path: &str) -> Finding {
        Finding {
            kind: FindingKind::Changed,
            address: address.into(),
            path: path.into(),
            expected: Json::Null,
            actual: Json::Null,
            impact: None,
            check: None,
            drift: None,
            region: None,
            detail: None,
        }
    }

    #[test]
    fn globs() {
        assert!(glob("module.files.*", "module.files.aws_s3_bucket.primary"));
        assert!(glob("aws_s3_bucket.mm-?", "aws_s3_bucket.mm-x"));
        assert!(!glob("aws_s3_bucket.mm-?", "aws_s3_bucket.mm-xy"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "a.b[\"x\"].c"));
        assert!(!glob("a*b", "a.c"));
    }

    #[test]
    fn last_rule_decides_and_paths_narrow() {
        let r = Rules::parse("# c\nmodule.files.* tags\naws_s3_bucket.*\n!aws_s3_bucket.keep\n", "f").unwrap();
        assert_eq!(r.matching(&finding("module.files.aws_s3_bucket.primary", "tags")), Some("module.files.* tags"));
        assert_eq!(r.matching(&finding("module.files.aws_s3_bucket.primary", "bucket")), None);
        assert_eq!(r.matching(&finding("aws_s3_bucket.scratch", "")), Some("aws_s3_bucket.*"));
        assert_eq!(r.matching(&finding("aws_s3_bucket.keep", "")), None);
        assert!(Rules::parse("a b c", "f").unwrap_err().contains("f:1"));
    }
}
