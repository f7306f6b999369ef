//! Reading marked-yaml nodes: locations, scalars, key checks.

use super::{Expr, ExprKind, Named};
use crate::diag::{Diagnostic, Diagnostics, Location};
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{Node, Span};
use std::path::PathBuf;
use std::sync::Arc;

/// Turns spans into locations for one file.
pub struct Source {
    pub file: Arc<PathBuf>,
}

impl Source {
    pub fn loc(&self, span: &Span) -> Location {
        let (line, col) = span.start().map(|m| (m.line(), m.column())).unwrap_or((1, 1));
        Location { file: self.file.clone(), line, col }
    }

    pub fn named(&self, key: &MarkedScalarNode) -> Named {
        Named { name: key.as_str().to_string(), loc: self.loc(key.span()) }
    }

    /// A YAML node as a configuration expression.
    pub fn expr(&self, node: &Node, diags: &mut Diagnostics) -> Expr {
        let loc = self.loc(node.span());
        let kind = match node {
            Node::Scalar(s) => self.scalar(s, &loc, diags),
            Node::Sequence(seq) => ExprKind::List(seq.iter().map(|n| self.expr(n, diags)).collect()),
            Node::Mapping(map) => {
                ExprKind::Map(map.iter().map(|(k, v)| (self.named(k), self.expr(v, diags))).collect())
            }
        };
        Expr { kind, loc }
    }

    fn scalar(&self, s: &MarkedScalarNode, loc: &Location, diags: &mut Diagnostics) -> ExprKind {
        let text = s.as_str();
        if s.may_coerce() {
            // Plain (unquoted) scalars follow YAML 1.2 core-schema typing.
            match text {
                "" | "~" | "null" | "Null" | "NULL" => return ExprKind::Null,
                "true" | "True" | "TRUE" => return ExprKind::Bool(true),
                "false" | "False" | "FALSE" => return ExprKind::Bool(false),
                _ => {}
            }
            if let Ok(i) = text.parse::<i64>() {
                return ExprKind::Number(i.into());
            }
            if text.contains(['.', 'e', 'E'])
                && let Ok(f) = text.parse::<f64>()
                && let Some(n) = serde_json::Number::from_f64(f)
            {
                return ExprKind::Number(n);
            }
        }
        // Offsets count from the node: a quoted scalar's text starts one column in.
        match crate::expr::parse_in(text, usize::from(!s.may_coerce())) {
            Ok(t) => ExprKind::Str(t),
            Err(e) => {
                let mut at = loc.clone();
                if !text.contains('\n') {
                    at.col += e.offset;
                }
                diags.push(Diagnostic::error(e.message).at(Some(at)));
                ExprKind::Null
            }
        }
    }

    pub fn string(&self, node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Named> {
        match node {
            Node::Scalar(s) => Some(Named { name: s.as_str().to_string(), loc: self.loc(s.span()) }),
            _ => {
                diags.push(Diagnostic::error(format!("{what} must be a string")).at(Some(self.loc(node.span()))));
                None
            }
        }
    }

    pub fn bool(&self, node: &Node, what: &str, diags: &mut Diagnostics) -> bool {
        match node.as_scalar().and_then(|s| s.as_bool()) {
            Some(b) => b,
            None => {
                diags.push(Diagnostic::error(format!("{what} must be true or false")).at(Some(self.loc(node.span()))));
                false
            }
        }
    }

    pub fn mapping<'a>(&self, node: &'a Node, what: &str, diags: &mut Diagnostics) -> Option<&'a MarkedMappingNode> {
        match node {
            Node::Mapping(m) => Some(m),
            // `key:` with nothing after it is an empty mapping.
            Node::Scalar(s) if s.may_coerce() && s.as_str().is_empty() => None,
            _ => {
                diags.push(
                    Diagnostic::error(format!("{what} must be a mapping (key: value)")).at(Some(self.loc(node.span()))),
                );
                None
            }
        }
    }

    /// Reports keys not in `allowed`, with a suggestion for near misses.
    pub fn check_keys(
        &self,
        map: &MarkedMappingNode,
        allowed: &[&str],
        what: &str,
        addr: Option<&str>,
        diags: &mut Diagnostics,
    ) {
        for key in map.keys() {
            let k = key.as_str();
            if !allowed.contains(&k) {
                let mut d = Diagnostic::error(format!("unknown key `{k}` in {what}")).at(Some(self.loc(key.span())));
                d = match suggest(k, allowed.iter().copied()) {
                    Some(s) => d.hint(format!("did you mean `{s}`?")),
                    None => d.hint(format!("expected one of: {}", allowed.join(", "))),
                };
                if let Some(a) = addr {
                    d = d.address(a);
                }
                diags.push(d);
            }
        }
    }
}

/// The closest candidate within a small edit distance.
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_near_names() {
        assert_eq!(super::suggest("propertis", ["properties", "region"].into_iter()), Some("properties"));
        assert_eq!(super::suggest("zzz", ["properties", "region"].into_iter()), None);
    }
}
