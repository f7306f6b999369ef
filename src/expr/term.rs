//! Expressions inside `${…}`: literals, references, `!`, `==`, `!=`, `&&`,
//! `||`, parentheses and the conditional `cond ? a : b`, with Terraform's
//! precedence (tightest first): `!`; `==` `!=`; `&&`; `||`; `?:`.
//!
//! Parsing also checks the types it can see without values (literals and
//! what operators return); the evaluator checks the rest when values are
//! known.

use super::{ParseError, Ref, parse_ref};

/// One expression node, with the offset where it starts in the string.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub kind: TermKind,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TermKind {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
    Ref(Ref),
    Not(Box<Term>),
    Binary(BinOp, Box<Term>, Box<Term>),
    Cond(Box<Term>, Box<Term>, Box<Term>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// A type known without values; `Any` when it depends on one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Null,
    Bool,
    Number,
    String,
    Any,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Null => "null",
            Ty::Bool => "bool",
            Ty::Number => "number",
            Ty::String => "string",
            Ty::Any => "any",
        }
    }
}

impl Term {
    /// Every reference inside, in source order.
    pub fn refs<'a>(&'a self, out: &mut Vec<&'a Ref>) {
        match &self.kind {
            TermKind::Ref(r) => out.push(r),
            TermKind::Not(t) => t.refs(out),
            TermKind::Binary(_, a, b) => {
                a.refs(out);
                b.refs(out);
            }
            TermKind::Cond(c, a, b) => {
                c.refs(out);
                a.refs(out);
                b.refs(out);
            }
            _ => {}
        }
    }

    /// The static type, or an error at the offending operand.
    pub fn check(&self) -> Result<Ty, ParseError> {
        let want_bool = |t: &Term, what: &str| -> Result<(), ParseError> {
            match t.check()? {
                Ty::Bool | Ty::Any => Ok(()),
                ty => Err(ParseError {
                    offset: t.offset,
                    message: format!("{what} must be a bool, but this is a {}", ty.name()),
                }),
            }
        };
        Ok(match &self.kind {
            TermKind::Null => Ty::Null,
            TermKind::Bool(_) => Ty::Bool,
            TermKind::Number(_) => Ty::Number,
            TermKind::Str(_) => Ty::String,
            TermKind::Ref(_) => Ty::Any,
            TermKind::Not(t) => {
                want_bool(t, "the operand of `!`")?;
                Ty::Bool
            }
            TermKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let what = format!("each operand of `{}`", op.symbol());
                want_bool(a, &what)?;
                want_bool(b, &what)?;
                Ty::Bool
            }
            TermKind::Binary(op, a, b) => {
                let (ta, tb) = (a.check()?, b.check()?);
                if ta != tb && ![ta, tb].iter().any(|t| matches!(t, Ty::Any | Ty::Null)) {
                    return Err(ParseError {
                        offset: self.offset,
                        message: format!(
                            "`{}` compares a {} with a {}: the result would always be {}",
                            op.symbol(),
                            ta.name(),
                            tb.name(),
                            *op == BinOp::Ne
                        ),
                    });
                }
                Ty::Bool
            }
            TermKind::Cond(c, a, b) => {
                want_bool(c, "the condition of `? :`")?;
                let (ta, tb) = (a.check()?, b.check()?);
                match (ta, tb) {
                    (x, y) if x == y => x,
                    (Ty::Null, y) => y,
                    (x, Ty::Null) => x,
                    (Ty::Any, _) | (_, Ty::Any) => Ty::Any,
                    (x, y) => {
                        return Err(ParseError {
                            offset: b.offset,
                            message: format!(
                                "the results of `? :` must have the same type, but one is a {} and the other a {}",
                                x.name(),
                                y.name()
                            ),
                        });
                    }
                }
            }
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ref(String),
    Str(String),
    Num(serde_json::Number),
    Not,
    Eq,
    Ne,
    And,
    Or,
    Question,
    Colon,
    LParen,
    RParen,
    /// The closing `}`.
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ref(r) => format!("`{r}`"),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Not => "`!`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::And => "`&&`".into(),
            Tok::Or => "`||`".into(),
            Tok::Question => "`?`".into(),
            Tok::Colon => "`:`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::End => "`}`".into(),
        }
    }
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Splits `s` from `start` (just after `${`) into tokens up to the closing
/// `}`. Offsets are byte offsets in `s`, shifted by `lead`.
fn lex(s: &str, start: usize, open: usize, lead: usize) -> Result<(Vec<(Tok, usize)>, usize), ParseError> {
    let b = s.as_bytes();
    let mut i = start;
    let mut out = Vec::new();
    let err = |at: usize, m: String| ParseError { offset: at + lead, message: m };
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let Some(&c) = b.get(i) else {
            return Err(err(open, "unterminated reference: `${` without a closing `}`".into()));
        };
        let at = i;
        let two = &b[i..(i + 2).min(b.len())];
        let tok = match c {
            b'}' => {
                out.push((Tok::End, at + lead));
                return Ok((out, i + 1));
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'?' => Tok::Question,
            b':' => Tok::Colon,
            _ if two == b"==" => Tok::Eq,
            _ if two == b"!=" => Tok::Ne,
            _ if two == b"&&" => Tok::And,
            _ if two == b"||" => Tok::Or,
            b'!' => Tok::Not,
            b'"' => {
                let (text, end) = string(s, i).map_err(|m| err(at, m))?;
                out.push((Tok::Str(text), at + lead));
                i = end;
                continue;
            }
            b'0'..=b'9' | b'-' if b.get(i + usize::from(c == b'-')).is_some_and(u8::is_ascii_digit) => {
                let mut end = i + 1;
                while end < b.len() && (b[end].is_ascii_digit() || matches!(b[end], b'.' | b'e' | b'E')) {
                    end += 1;
                }
                let text = &s[i..end];
                let n = text
                    .parse::<i64>()
                    .ok()
                    .map(serde_json::Number::from)
                    .or_else(|| text.parse::<f64>().ok().and_then(serde_json::Number::from_f64))
                    .ok_or_else(|| err(at, format!("invalid number `{text}`")))?;
                out.push((Tok::Num(n), at + lead));
                i = end;
                continue;
            }
            _ if ident_start(c) => {
                // A reference: names, `.name` and `[…]` steps (which may hold quoted keys).
                let mut end = i;
                while end < b.len() {
                    match b[end] {
                        x if ident_char(x) || x == b'.' => end += 1,
                        b'[' => {
                            let mut j = end + 1;
                            while j < b.len() && b[j] != b']' {
                                if b[j] == b'"' {
                                    j = string(s, j).map_err(|m| err(j, m))?.1;
                                } else {
                                    j += 1;
                                }
                            }
                            end = (j + 1).min(b.len());
                        }
                        _ => break,
                    }
                }
                out.push((Tok::Ref(s[i..end].to_string()), at + lead));
                i = end;
                continue;
            }
            other => {
                let ch = s[i..].chars().next().unwrap_or(other as char);
                return Err(err(
                    at,
                    format!("unexpected `{ch}` in an expression (see docs/configuration.md, Expressions)"),
                ));
            }
        };
        i += if matches!(tok, Tok::Eq | Tok::Ne | Tok::And | Tok::Or) { 2 } else { 1 };
        out.push((tok, at + lead));
    }
}

/// A double-quoted string literal starting at `i`: its text and the index after it.
fn string(s: &str, i: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s[i + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1 + j + 1)),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => return Err(format!("unknown escape `\\{c}` in a string (use \\\" \\\\ \\n \\t)")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated string: `\"` without a closing `\"`".into())
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &(Tok, usize) {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> (Tok, usize) {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ParseError> {
        let (t, at) = self.next();
        if t == want {
            return Ok(());
        }
        Err(ParseError { offset: at, message: format!("expected {what}, found {}", t.describe()) })
    }

    fn cond(&mut self) -> Result<Term, ParseError> {
        let c = self.or()?;
        if self.peek().0 != Tok::Question {
            return Ok(c);
        }
        self.next();
        let a = self.cond()?;
        self.expect(Tok::Colon, "`:` between the two results of `? :`")?;
        let b = self.cond()?;
        let offset = c.offset;
        Ok(Term { kind: TermKind::Cond(Box::new(c), Box::new(a), Box::new(b)), offset })
    }

    fn binary(
        &mut self,
        ops: &[(Tok, BinOp)],
        next: fn(&mut Self) -> Result<Term, ParseError>,
    ) -> Result<Term, ParseError> {
        let mut left = next(self)?;
        while let Some((_, op)) = ops.iter().find(|(t, _)| *t == self.peek().0) {
            let op = *op;
            let at = self.next().1;
            let right = next(self)?;
            left = Term { kind: TermKind::Binary(op, Box::new(left), Box::new(right)), offset: at };
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Term, ParseError> {
        self.binary(&[(Tok::Or, BinOp::Or)], Self::and)
    }

    fn and(&mut self) -> Result<Term, ParseError> {
        self.binary(&[(Tok::And, BinOp::And)], Self::equality)
    }

    fn equality(&mut self) -> Result<Term, ParseError> {
        self.binary(&[(Tok::Eq, BinOp::Eq), (Tok::Ne, BinOp::Ne)], Self::unary)
    }

    fn unary(&mut self) -> Result<Term, ParseError> {
        let (t, at) = self.next();
        let kind = match t {
            Tok::Not => TermKind::Not(Box::new(self.unary()?)),
            Tok::LParen => {
                let inner = self.cond()?;
                self.expect(Tok::RParen, "`)`")?;
                return Ok(Term { offset: at, ..inner });
            }
            Tok::Str(s) => TermKind::Str(s),
            Tok::Num(n) => TermKind::Number(n),
            Tok::Ref(r) => match r.as_str() {
                "true" => TermKind::Bool(true),
                "false" => TermKind::Bool(false),
                "null" => TermKind::Null,
                _ => TermKind::Ref(parse_ref(&r, at)?),
            },
            Tok::End => {
                let message =
                    if self.pos == 1 { "empty reference `${}`".into() } else { "expected a value, found `}`".into() };
                return Err(ParseError { offset: at, message });
            }
            other => {
                return Err(ParseError {
                    offset: at,
                    message: format!("expected a value (a reference, literal, `!` or `(`), found {}", other.describe()),
                });
            }
        };
        Ok(Term { kind, offset: at })
    }
}

/// Parses one `${…}` body starting after `${` at `start` (the `${` is at
/// `open`). Returns the checked term and the index after the closing `}`.
pub(super) fn parse_body(s: &str, open: usize, start: usize, lead: usize) -> Result<(Term, usize), ParseError> {
    let (toks, end) = lex(s, start, open, lead)?;
    let mut p = Parser { toks, pos: 0 };
    let term = p.cond()?;
    let (t, at) = p.next();
    if t != Tok::End {
        let hint = match t {
            Tok::Ref(_) | Tok::Str(_) | Tok::Num(_) => " (a missing operator?)",
            _ => "",
        };
        return Err(ParseError { offset: at, message: format!("unexpected {} in an expression{hint}", t.describe()) });
    }
    term.check()?;
    Ok((term, end))
}

#[cfg(test)]
mod tests {
    use super::super::{Part, Root, parse};
    use super::*;

    fn term(s: &str) -> Term {
        match parse(s).unwrap().parts.as_slice() {
            [Part::Expr(t)] => t.clone(),
            other => panic!("not one expression: {other:?}"),
        }
    }

    fn err(s: &str) -> ParseError {
        parse(s).unwrap_err()
    }

    #[test]
    fn precedence_follows_terraform() {
        // `a || b && !c == d ? x : y` is `(a || (b && ((!c) == d))) ? x : y`.
        let t = term("${var.a || var.b && !var.c == var.d ? \"x\" : \"y\"}");
        let TermKind::Cond(c, x, y) = &t.kind else { panic!("{t:?}") };
        assert_eq!((x.kind.clone(), y.kind.clone()), (TermKind::Str("x".into()), TermKind::Str("y".into())));
        let TermKind::Binary(BinOp::Or, _, and) = &c.kind else { panic!("{c:?}") };
        let TermKind::Binary(BinOp::And, _, eq) = &and.kind else { panic!("{and:?}") };
        let TermKind::Binary(BinOp::Eq, not, _) = &eq.kind else { panic!("{eq:?}") };
        assert!(matches!(not.kind, TermKind::Not(_)));
        // Parentheses regroup; conditionals nest to the right.
        let t = term("${(var.a || var.b) && var.c}");
        assert!(
            matches!(&t.kind, TermKind::Binary(BinOp::And, l, _) if matches!(l.kind, TermKind::Binary(BinOp::Or, ..)))
        );
        let t = term("${var.a ? 1 : var.b ? 2 : 3}");
        assert!(matches!(&t.kind, TermKind::Cond(_, _, e) if matches!(e.kind, TermKind::Cond(..))));
    }

    #[test]
    fn literals_and_references_inside() {
        let t = term("${each.key == \"a}b\\\"c\" ? -1.5 : null}");
        let mut refs = Vec::new();
        t.refs(&mut refs);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].root, Root::EachKey);
        let TermKind::Cond(c, a, b) = &t.kind else { panic!() };
        assert!(matches!(&c.kind, TermKind::Binary(BinOp::Eq, _, s) if s.kind == TermKind::Str("a}b\"c".into())));
        assert_eq!(a.kind, TermKind::Number(serde_json::Number::from_f64(-1.5).unwrap()));
        assert_eq!(b.kind, TermKind::Null);
        // References with steps and quoted keys, and literals keep their types.
        let t = parse("x-${aws_rds_cluster.db[\"a\"].arn != var.arns[0]}-${true}").unwrap();
        assert_eq!(t.refs().count(), 2);
        assert!(matches!(&t.parts[3], Part::Expr(Term { kind: TermKind::Bool(true), .. })));
        // A lone reference stays a plain reference, located at its `${`.
        let t = parse("ab ${ var.x }").unwrap();
        assert!(matches!(&t.parts[1], Part::Ref(r) if r.offset == 3));
    }

    #[test]
    fn types_are_checked_where_literals_show_them() {
        let e = err("${var.a && \"yes\"}");
        assert_eq!(e.offset, 11);
        assert_eq!(e.message, "each operand of `&&` must be a bool, but this is a string");
        assert!(err("${!3}").message.contains("operand of `!` must be a bool"));
        assert!(err("${\"true\" ? 1 : 2}").message.contains("condition of `? :` must be a bool"));
        let e = err("${var.a ? \"x\" : 1}");
        assert_eq!(e.offset, 16);
        assert!(e.message.contains("one is a string and the other a number"), "{}", e.message);
        assert!(err("${\"1\" == 1}").message.contains("compares a string with a number"));
        // Unknown-typed operands, and null on either side, are fine.
        assert!(parse("${var.a == 1 ? null : \"x\"}").is_ok());
        assert!(parse("${var.a ? var.b : 1}").is_ok());
        assert!(parse("${(var.a == var.b) != (var.c != null)}").is_ok());
    }

    #[test]
    fn syntax_errors_point_at_the_token() {
        let e = err("${var.a ? 1}");
        assert_eq!((e.offset, e.message.as_str()), (11, "expected `:` between the two results of `? :`, found `}`"));
        let e = err("${var.a var.b}");
        assert_eq!(e.offset, 8);
        assert!(e.message.contains("(a missing operator?)"), "{}", e.message);
        assert_eq!(err("${var.a == }").offset, 11);
        assert_eq!(err("${(var.a}").message, "expected `)`, found `}`");
        assert_eq!(err("${var.a = 1}").offset, 8);
        assert!(err("${\"abc}").message.contains("unterminated string"));
        assert!(err("${var.a & var.b}").message.contains("unexpected `&`"));
        assert!(err("${\"a\\q\"}").message.contains("unknown escape"));
        // Offsets count from the YAML node when the text is quoted.
        assert_eq!(super::super::parse_in("${var.a ? 1}", 1).unwrap_err().offset, 12);
        assert_eq!(err("${}").message, "empty reference `${}`");
    }
}
