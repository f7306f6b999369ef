//! `${…}` references and expressions inside configuration strings.
//!
//! A string is a template of literal text and `${…}` parts. A string that is
//! exactly one `${…}` keeps its value's type; anything else interpolates to
//! a string. `$${` writes a literal `${`. Inside `${…}`: a reference, or an
//! expression of literals, references and operators (see [`term`]).

pub mod term;

use std::fmt;
pub use term::{BinOp, Term, TermKind};

/// One step after a reference's root: `.name`, `[0]` or `["key"]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Attr(String),
    Index(i64),
    Key(String),
    /// `[count.index]`: the instance number, in a resource with `count`
    /// (e.g. `var.names[count.index]`).
    CountIndex,
}

/// What a reference starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    Var(String),
    Region(String),
    CountIndex,
    EachKey,
    EachValue,
    ModuleOutput { module: String, output: String },
    Resource { type_name: String, name: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    pub root: Root,
    pub steps: Vec<Step>,
    /// Byte offset of the `${` in the string, for locating errors.
    pub offset: usize,
    /// The reference as written (between `${` and `}`).
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Lit(String),
    /// A `${…}` that is one reference.
    Ref(Ref),
    /// A `${…}` with operators or literals.
    Expr(Term),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// The single reference when the whole string is one `${…}`.
    pub fn whole_ref(&self) -> Option<&Ref> {
        match self.parts.as_slice() {
            [Part::Ref(r)] => Some(r),
            _ => None,
        }
    }

    /// The single expression when the whole string is one `${…}` with operators.
    pub fn whole_expr(&self) -> Option<&Term> {
        match self.parts.as_slice() {
            [Part::Expr(t)] => Some(t),
            _ => None,
        }
    }

    /// Every reference, including those inside expressions.
    pub fn refs(&self) -> impl Iterator<Item = &Ref> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Ref(r) => out.push(r),
                Part::Expr(t) => t.refs(&mut out),
                Part::Lit(_) => {}
            }
        }
        out.into_iter()
    }

    /// The literal text when there are no references.
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Ref(_) | Part::Expr(_) => return None,
            }
        }
        Some(out)
    }
}

/// A problem parsing a template, at a byte offset within the string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Attr(a) => write!(f, ".{a}"),
            Step::Index(i) => write!(f, "[{i}]"),
            Step::Key(k) => write!(f, "[{k:?}]"),
            Step::CountIndex => write!(f, "[count.index]"),
        }
    }
}

pub fn parse(s: &str) -> Result<Template, ParseError> {
    parse_in(s, 0)
}

/// Parses a string written `lead` columns after where its node starts (1
/// for a quoted YAML scalar), so error offsets count from the node.
pub fn parse_in(s: &str, lead: usize) -> Result<Template, ParseError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut pos = 0;
    while let Some(i) = s[pos..].find("${") {
        let open = pos + i;
        if s[pos..open].ends_with('$') {
            // `$${` is an escaped literal `${`.
            lit.push_str(&s[pos..open - 1]);
            lit.push_str("${");
            pos = open + 2;
            continue;
        }
        lit.push_str(&s[pos..open]);
        let (term, end) = term::parse_body(s, open, open + 2, lead)?;
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        parts.push(match term.kind {
            TermKind::Ref(mut r) => {
                // A lone reference is located at its `${`, as before expressions existed.
                r.offset = open + lead;
                Part::Ref(r)
            }
            _ => Part::Expr(term),
        });
        pos = end;
    }
    lit.push_str(&s[pos..]);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(Template { parts })
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn parse_ref(body: &str, offset: usize) -> Result<Ref, ParseError> {
    let err = |m: String| ParseError { offset, message: m };
    if body.is_empty() {
        return Err(err("empty reference `${}`".into()));
    }
    let mut steps = Vec::new();
    let mut names = Vec::new();
    let mut chars = body.char_indices().peekable();
    // The leading dotted names, then any mix of `.name` / `[..]` steps.
    let mut first = true;
    while let Some(&(i, c)) = chars.peek() {
        if c == '.' || first {
            if c == '.' {
                chars.next();
            }
            first = false;
            let start = chars.peek().map(|&(j, _)| j).unwrap_or(body.len());
            let mut end = start;
            while let Some(&(j, c)) = chars.peek() {
                if !is_ident_char(c) {
                    break;
                }
                end = j + c.len_utf8();
                chars.next();
            }
            if end == start {
                return Err(err(format!("invalid reference `{body}`: expected a name at position {}", i + 1)));
            }
            let name = body[start..end].to_string();
            if steps.is_empty() && names.len() < 3 {
                names.push(name);
            } else {
                steps.push(Step::Attr(name));
            }
        } else if c == '[' {
            chars.next();
            let start = i + 1;
            let close =
                body[start..].find(']').ok_or_else(|| err(format!("invalid reference `{body}`: `[` without `]`")))?;
            let inner = body[start..start + close].trim();
            let step = if let Ok(n) = inner.parse::<i64>() {
                Step::Index(n)
            } else if inner.len() >= 2 && inner.starts_with('"') && inner.ends_with('"') {
                Step::Key(inner[1..inner.len() - 1].to_string())
            } else if inner == "count.index" {
                Step::CountIndex
            } else {
                return Err(err(format!(
                    "invalid index `[{inner}]` in `{body}`: use a number, a quoted key or count.index"
                )));
            };
            // Names gathered so far beyond the root belong to the steps.
            steps.push(step);
            for _ in start..=start + close {
                chars.next();
            }
        } else {
            return Err(err(format!(
                "invalid reference `{body}`: unexpected `{c}` (references are like var.name, type.name.attr, module.m.output)"
            )));
        }
    }
    // Split the leading names into a root and attribute steps.
    let mut names = names.into_iter();
    let head = names.next().unwrap_or_default();
    let mut take = |what: &str| names.next().ok_or_else(|| err(format!("incomplete reference `{body}`: {what}")));
    let root = match head.as_str() {
        "var" => Root::Var(take("expected var.NAME")?),
        "region" => Root::Region(take("expected region.NAME")?),
        "count" => match take("expected count.index")?.as_str() {
            "index" => Root::CountIndex,
            other => return Err(err(format!("unknown attribute `count.{other}`: only count.index exists"))),
        },
        "each" => match take("expected each.key or each.value")?.as_str() {
            "key" => Root::EachKey,
            "value" => Root::EachValue,
            other => return Err(err(format!("unknown attribute `each.{other}`: use each.key or each.value"))),
        },
        "module" => {
            let module = take("expected module.NAME.OUTPUT")?;
            let output = take("expected module.NAME.OUTPUT")?;
            Root::ModuleOutput { module, output }
        }
        type_name => {
            let name = take("expected TYPE.NAME (a resource) or var.NAME, module.NAME.OUTPUT, region.NAME")?;
            Root::Resource { type_name: type_name.to_string(), name }
        }
    };
    // A third leading name (e.g. `type.name.attr`) is the first step.
    let leftover: Vec<Step> = names.map(Step::Attr).collect();
    let mut all = leftover;
    all.extend(steps);
    Ok(Ref { root, steps: all, offset, text: body.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_references() {
        let t = parse("${var.prefix}-files-${count.index}").unwrap();
        assert_eq!(t.parts.len(), 3);
        assert!(t.whole_ref().is_none());
        let t = parse("${standby_data.copies[2].output[\"name\"]}").unwrap();
        let r = t.whole_ref().unwrap();
        assert_eq!(r.root, Root::Resource { type_name: "standby_data".into(), name: "copies".into() });
        assert_eq!(r.steps, vec![Step::Index(2), Step::Attr("output".into()), Step::Key("name".into())]);
        let t = parse("${module.storage.bucket_arn.x}").unwrap();
        let r = t.whole_ref().unwrap();
        assert_eq!(r.root, Root::ModuleOutput { module: "storage".into(), output: "bucket_arn".into() });
        assert_eq!(r.steps, vec![Step::Attr("x".into())]);
        assert_eq!(parse("a $${b} c").unwrap().literal().as_deref(), Some("a ${b} c"));
        assert_eq!(parse("plain").unwrap().literal().as_deref(), Some("plain"));
    }

    #[test]
    fn reports_bad_references_with_offsets() {
        assert_eq!(parse("ab ${var.x").unwrap_err().offset, 3);
        assert!(parse("${}").is_err());
        assert!(parse("${var}").is_err());
        assert!(parse("${count.foo}").is_err());
        assert!(parse("${a.b[x]}").is_err());
        assert!(parse("${a b}").is_err());
    }
}
