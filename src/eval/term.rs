//! Evaluating `${…}` expressions: operators over values that may be
//! unknown until apply (then the result is unknown too, unless a known
//! operand decides it: `false && x`, `true || x`, a known condition).

use super::{Evaluator, InstCtx, Scope, Sv};
use crate::diag::{Diagnostic, Location};
use crate::expr::{BinOp, Term, TermKind};
use crate::value::Value;

/// `loc` moved to `offset` columns into the string it starts.
fn at(loc: &Location, offset: usize) -> Location {
    Location { col: loc.col + offset, ..loc.clone() }
}

fn known(value: Value) -> Sv {
    Sv { value, sensitive: false }
}

impl Evaluator<'_> {
    pub(super) fn eval_term(
        &self,
        module: usize,
        t: &Term,
        cx: &InstCtx<'_>,
        scope: &Scope,
        loc: &Location,
    ) -> Result<Sv, Diagnostic> {
        let err = |offset: usize, m: String| Diagnostic::error(m).at(Some(at(loc, offset))).address(cx.addr);
        Ok(match &t.kind {
            TermKind::Null => known(Value::Null),
            TermKind::Bool(b) => known(Value::Bool(*b)),
            TermKind::Number(n) => known(Value::Number(n.clone())),
            TermKind::Str(s) => known(Value::str(s)),
            TermKind::Ref(r) => self.resolve(module, r, cx, scope, &at(loc, r.offset))?,
            TermKind::Not(inner) => {
                let v = self.eval_term(module, inner, cx, scope, loc)?;
                let value = match v.value {
                    Value::Unknown => Value::Unknown,
                    Value::Bool(b) => Value::Bool(!b),
                    other => return Err(err(inner.offset, not_bool("the operand of `!`", &other))),
                };
                Sv { value, sensitive: v.sensitive }
            }
            TermKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let what = format!("each operand of `{}`", op.symbol());
                let decides = *op == BinOp::Or;
                let va = self.eval_term(module, a, cx, scope, loc)?;
                match &va.value {
                    Value::Bool(x) if *x == decides => return Ok(va),
                    Value::Bool(_) | Value::Unknown => {}
                    other => return Err(err(a.offset, not_bool(&what, other))),
                }
                let vb = self.eval_term(module, b, cx, scope, loc)?;
                let value = match (&va.value, &vb.value) {
                    (_, Value::Bool(x)) if *x == decides => Value::Bool(decides),
                    (Value::Unknown, _) | (_, Value::Unknown) => Value::Unknown,
                    (_, Value::Bool(x)) => Value::Bool(*x),
                    (_, other) => return Err(err(b.offset, not_bool(&what, other))),
                };
                Sv { value, sensitive: va.sensitive || vb.sensitive }
            }
            TermKind::Binary(op, a, b) => {
                let va = self.eval_term(module, a, cx, scope, loc)?;
                let vb = self.eval_term(module, b, cx, scope, loc)?;
                let sensitive = va.sensitive || vb.sensitive;
                if va.value.has_unknown() || vb.value.has_unknown() {
                    return Ok(Sv { value: Value::Unknown, sensitive });
                }
                let same = match (&va.value, &vb.value) {
                    (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
                    (Value::Null, _) | (_, Value::Null) => va.value == vb.value,
                    (x, y) if x.type_name() != y.type_name() => {
                        return Err(err(
                            t.offset,
                            format!(
                                "`{}` compares a {} with a {}: the result would always be {}",
                                op.symbol(),
                                x.type_name(),
                                y.type_name(),
                                *op == BinOp::Ne
                            ),
                        ));
                    }
                    (x, y) => x == y,
                };
                Sv { value: Value::Bool(same == (*op == BinOp::Eq)), sensitive }
            }
            TermKind::Cond(c, a, b) => {
                let vc = self.eval_term(module, c, cx, scope, loc)?;
                let chosen = match vc.value {
                    Value::Bool(true) => a,
                    Value::Bool(false) => b,
                    Value::Unknown => {
                        // Either result may come out: the value is secret if either one is.
                        let branch = |x: &Term| self.eval_term(module, x, cx, scope, loc).is_ok_and(|v| v.sensitive);
                        let sensitive = vc.sensitive || branch(a) || branch(b);
                        return Ok(Sv { value: Value::Unknown, sensitive });
                    }
                    other => return Err(err(c.offset, not_bool("the condition of `? :`", &other))),
                };
                let mut v = self.eval_term(module, chosen, cx, scope, loc)?;
                v.sensitive |= vc.sensitive;
                v
            }
        })
    }
}

fn not_bool(what: &str, v: &Value) -> String {
    match v {
        Value::String(s) if s == "true" || s == "false" => {
            format!("{what} must be a bool, but this is the string {s:?} (write {s} without quotes)")
        }
        other => format!("{what} must be a bool, but this is a {}", other.type_name()),
    }
}
