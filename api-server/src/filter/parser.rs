//! Recursive-descent parser from tokens to [`Expr`]. Invariants: recursion is bounded by
//! `Limits::max_depth` and the tree by `Limits::max_nodes`, so hostile input cannot exhaust
//! the stack; a value is never accepted where a field belongs (no `1 = 1` tautologies) and
//! nothing but a literal, `:placeholder` or `{lookup}` is accepted where a value belongs (no
//! subqueries, function calls or expressions); every error carries the offending position.

use crate::filter::Limits;
use crate::filter::ast::{CompareOp, Expr, Field, Literal, MatchOp, Operand, Span};
use crate::filter::error::{FilterError, err};
use crate::filter::lexer::{Tok, Token, tokenize};

/// An operator as written after a field: `=`, `NOT LIKE`, `IS NOT NULL`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpSpec {
    Compare(CompareOp),
    Match { op: MatchOp, negated: bool },
    In { negated: bool },
    Between { negated: bool },
    IsNull { negated: bool },
}

/// Words that are never bare text values (quote them to use them as text).
pub(crate) const KEYWORDS: &[&str] = &[
    "and", "or", "not", "nor", "xor", "in", "like", "ilike", "contains", "starts", "ends", "with",
    "is", "null", "true", "false", "between", "eq", "ne", "gt", "gte", "lt", "lte",
];
const OPERATORS: &str = "use =, !=, <, <=, >, >=, LIKE, ILIKE, CONTAINS, STARTS WITH, \
                         ENDS WITH, IN (…), BETWEEN … AND …, IS NULL or IS NOT NULL";
const NEVER: &str = "a comparison with null never matches; use IS NULL or IS NOT NULL";
const QUOTE: &str = "join conditions with AND or OR, and quote text values that contain spaces";
const SEPARATE: &str = "separate values with commas, and quote text values that contain spaces";

pub(crate) fn parse(src: &str, limits: &Limits) -> Result<Expr, FilterError> {
    let (len, max) = (src.len(), limits.max_length);
    if len > max {
        let msg = format!("the filter is {len} bytes long, more than the limit of {max}");
        return Err(err(max, msg, "shorten the filter"));
    }
    let mut p = Parser::new(src, limits)?;
    if p.peek().tok == Tok::Eof {
        let fix = "write a condition such as name = 'value', or leave out the filter parameter";
        return Err(err(0, "the filter is empty", fix));
    }
    let expr = p.or_expr()?;
    match &p.peek().tok {
        Tok::Eof => Ok(expr),
        Tok::RParen => Err(err(
            p.here(),
            "unexpected ')'",
            "it has no matching '('; remove it or add a '(' before it",
        )),
        _ => Err(p.expected_connective(false)),
    }
}

/// The operator of a DreamFactory list filter, e.g. `"not like"` or `"IS NULL"`.
pub(crate) fn parse_operator(text: &str) -> Result<OpSpec, FilterError> {
    let limits = Limits::default();
    let mut p = Parser::new(text, &limits)?;
    let (op, _) = p.operator("")?;
    p.expect_eof("after the operator")?;
    Ok(op)
}

/// A bare field name, e.g. `owner_id`.
pub(crate) fn parse_field(text: &str) -> Result<Field, FilterError> {
    let limits = Limits::default();
    let mut p = Parser::new(text, &limits)?;
    let field = p.field()?;
    p.expect_eof("after the field name")?;
    Ok(field)
}

/// A value list in filter syntax, with or without its parentheses: `1,2` or `('a,b', c)`.
pub(crate) fn parse_value_list(text: &str, limits: &Limits) -> Result<Vec<Operand>, FilterError> {
    let wrapped = !text.trim_start().starts_with('(');
    let src = if wrapped {
        format!("({text})")
    } else {
        text.to_string()
    };
    let shift = |mut e: FilterError| {
        e.position = e
            .position
            .saturating_sub(usize::from(wrapped))
            .min(text.len());
        e
    };
    let mut p = Parser::new(&src, limits).map_err(shift)?;
    let values = p.list().map_err(shift)?;
    p.expect_eof("after the list").map_err(shift)?;
    Ok(values)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    eof: Token,
    limits: &'a Limits,
    depth: usize,
    nodes: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, limits: &'a Limits) -> Result<Self, FilterError> {
        let (toks, end) = (tokenize(src)?, src.len());
        let eof = Token {
            tok: Tok::Eof,
            span: Span { start: end, end },
        };
        Ok(Parser {
            src,
            toks,
            i: 0,
            eof,
            limits,
            depth: 0,
            nodes: 0,
        })
    }

    fn peek(&self) -> &Token {
        self.toks.get(self.i).unwrap_or(&self.eof)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn here(&self) -> usize {
        self.peek().span.start
    }

    fn at_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn at_call(&self) -> bool {
        matches!(
            self.toks.get(self.i + 1),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        )
    }

    /// How a token reads in an error message.
    fn describe(&self, t: &Token) -> String {
        let text = self.src.get(t.span.start..t.span.end).unwrap_or("");
        let mut short: String = text.chars().take(30).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        match t.tok {
            Tok::Eof => "the end of the filter".into(),
            Tok::Str { .. } => format!("the text {short}"),
            Tok::Number(_) => format!("the number {short}"),
            _ => format!("'{short}'"),
        }
    }

    fn found(&self) -> String {
        self.describe(self.peek())
    }

    fn count_node(&mut self, at: usize) -> Result<(), FilterError> {
        self.nodes += 1;
        if self.nodes <= self.limits.max_nodes {
            return Ok(());
        }
        let msg = format!(
            "the filter has more than {} conditions and groups",
            self.limits.max_nodes
        );
        Err(err(
            at,
            msg,
            "simplify the filter, e.g. combine equality tests into one IN (…)",
        ))
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth <= self.limits.max_depth {
            return Ok(());
        }
        let msg = format!(
            "the filter is nested more than {} levels deep",
            self.limits.max_depth
        );
        Err(err(at, msg, "remove redundant parentheses and NOTs"))
    }

    fn expect_eof(&self, context: &str) -> Result<(), FilterError> {
        match self.peek().tok {
            Tok::Eof => Ok(()),
            _ => Err(FilterError::new(
                self.here(),
                format!("unexpected {} {context}", self.found()),
            )),
        }
    }

    /// The error for a token where `AND`, `OR`, `)` (if `in_group`) or the end belongs.
    fn expected_connective(&self, in_group: bool) -> FilterError {
        let at = self.here();
        if self.at_kw("nor") {
            return err(at, "NOR is not supported", "write NOT (a OR b)");
        }
        if self.at_kw("xor") {
            return err(
                at,
                "XOR is not supported",
                "write (a AND NOT b) OR (NOT a AND b)",
            );
        }
        let wanted = if in_group {
            "AND, OR or ')'"
        } else {
            "AND, OR or the end of the filter"
        };
        err(
            at,
            format!(
                "expected {wanted} after a condition, found {}",
                self.found()
            ),
            QUOTE,
        )
    }

    /// `or_expr = and_expr { ("OR" | "||") and_expr }`
    fn or_expr(&mut self) -> Result<Expr, FilterError> {
        self.chain(Tok::OrOr, "or", Self::and_expr, Expr::Or)
    }

    /// `and_expr = unary { ("AND" | "&&") unary }`
    fn and_expr(&mut self) -> Result<Expr, FilterError> {
        self.chain(Tok::AndAnd, "and", Self::unary, Expr::And)
    }

    fn chain(
        &mut self,
        symbol: Tok,
        word: &str,
        operand: fn(&mut Self) -> Result<Expr, FilterError>,
        build: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, FilterError> {
        let start = self.here();
        let first = operand(self)?;
        let at_op = |p: &Self| p.peek().tok == symbol || p.at_kw(word);
        if !at_op(self) {
            return Ok(first);
        }
        self.count_node(start)?;
        let mut items = vec![first];
        while at_op(self) {
            self.bump();
            items.push(operand(self)?);
        }
        Ok(build(items))
    }

    /// `unary = "NOT" unary | "(" or_expr ")" | predicate`
    fn unary(&mut self) -> Result<Expr, FilterError> {
        let start = self.here();
        let not = self.at_kw("not");
        if !not && self.peek().tok != Tok::LParen {
            return self.predicate();
        }
        self.bump();
        self.enter(start)?;
        let inner = if not {
            self.count_node(start)?;
            Expr::Not(Box::new(self.unary()?))
        } else {
            let inner = self.or_expr()?;
            match self.bump().tok {
                Tok::RParen => inner,
                Tok::Eof => {
                    return Err(err(start, "unclosed '('", "add a ')' to close this group"));
                }
                _ => {
                    self.i -= 1;
                    return Err(self.expected_connective(true));
                }
            }
        };
        self.depth -= 1;
        Ok(inner)
    }

    fn function_call_error(&self) -> FilterError {
        let msg = format!("function calls such as {}(…) are not allowed", self.found());
        err(
            self.here(),
            msg,
            "compare a field with a literal value, a :placeholder or a {lookup}",
        )
    }

    /// A field name: an unquoted word that is not a keyword or a value.
    fn field(&mut self) -> Result<Field, FilterError> {
        let (at, found) = (self.here(), self.found());
        let start = "a condition starts with a field, e.g. age > 21";
        let hint = match &self.peek().tok {
            Tok::Word(_) if self.at_call() => return Err(self.function_call_error()),
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "null" | "true" | "false" | "and" | "or" | "not" | "nor" | "xor" => start,
                _ if w.split('.').any(str::is_empty) => {
                    let fix = "use letters, digits, '_' and '$', with '.' only between parts";
                    return Err(err(at, format!("{found} is not a valid field name"), fix));
                }
                _ => {
                    let name = w.clone();
                    return Ok(Field {
                        name,
                        span: self.bump().span,
                    });
                }
            },
            Tok::Str { double: true, .. } => {
                "double quotes make a text value; write field names without quotes"
            }
            Tok::Str { .. } | Tok::Number(_) | Tok::Placeholder(_) | Tok::Lookup(_) => {
                "a condition compares a field with a value; comparing two values is not allowed"
            }
            _ => start,
        };
        Err(err(
            at,
            format!("expected a field name, found {found}"),
            hint,
        ))
    }

    /// The operator after a field, with its span (for messages).
    fn operator(&mut self, field: &str) -> Result<(OpSpec, Span), FilterError> {
        let (start, found) = (self.here(), self.found());
        let negated = self.at_kw("not");
        if negated {
            self.bump();
        }
        let t = self.bump();
        let word = match &t.tok {
            Tok::Cmp(op) if !negated => return Ok((OpSpec::Compare(*op), t.span)),
            Tok::Word(w) => w.to_ascii_lowercase(),
            _ => String::new(),
        };
        let m = |op| Some(OpSpec::Match { op, negated });
        let op = match (word.as_str(), negated) {
            ("eq", false) => Some(OpSpec::Compare(CompareOp::Eq)),
            ("ne", false) => Some(OpSpec::Compare(CompareOp::Ne)),
            ("gt", false) => Some(OpSpec::Compare(CompareOp::Gt)),
            ("gte", false) => Some(OpSpec::Compare(CompareOp::Ge)),
            ("lt", false) => Some(OpSpec::Compare(CompareOp::Lt)),
            ("lte", false) => Some(OpSpec::Compare(CompareOp::Le)),
            ("like", _) => m(MatchOp::Like),
            ("ilike", _) => m(MatchOp::ILike),
            ("contains", _) => m(MatchOp::Contains),
            ("starts" | "ends", _) => {
                let upper = word.to_uppercase();
                if !self.at_kw("with") {
                    let msg = format!("expected WITH after {upper}, found {}", self.found());
                    return Err(err(self.here(), msg, format!("write {upper} WITH 'text'")));
                }
                self.bump();
                m(if word == "starts" {
                    MatchOp::StartsWith
                } else {
                    MatchOp::EndsWith
                })
            }
            ("in", _) => Some(OpSpec::In { negated }),
            ("between", _) => Some(OpSpec::Between { negated }),
            ("is", false) => {
                let not = self.at_kw("not");
                if not {
                    self.bump();
                }
                if !self.at_kw("null") {
                    let msg = format!("expected NULL after IS, found {}", self.found());
                    let fix = "write IS NULL or IS NOT NULL; use = or != to compare with a value";
                    return Err(err(self.here(), msg, fix));
                }
                self.bump();
                Some(OpSpec::IsNull { negated: not })
            }
            _ => None,
        };
        let end = self.toks.get(self.i - 1).map_or(start, |t| t.span.end);
        match op {
            Some(op) => Ok((op, Span { start, end })),
            None if negated => Err(err(
                start,
                "NOT after a field must be followed by LIKE, ILIKE, CONTAINS, STARTS WITH, \
                 ENDS WITH, IN or BETWEEN",
                if word == "null" {
                    "write IS NOT NULL"
                } else {
                    "to negate a comparison, write NOT (a = 1) or use !="
                },
            )),
            None if field.is_empty() => {
                Err(err(start, format!("unknown operator {found}"), OPERATORS))
            }
            None => {
                let msg = format!("expected an operator after '{field}', found {found}");
                Err(err(start, msg, OPERATORS))
            }
        }
    }

    /// `predicate = field operator …` — one condition.
    fn predicate(&mut self) -> Result<Expr, FilterError> {
        let field = self.field()?;
        self.count_node(field.span.start)?;
        let (op, span) = self.operator(&field.name)?;
        let text = self.src.get(span.start..span.end).unwrap_or("");
        let words: Vec<&str> = text.split_whitespace().collect();
        let after = format!("after '{}'", words.join(" ").to_uppercase());
        Ok(match op {
            OpSpec::Compare(op) => {
                let fix = match op {
                    CompareOp::Eq => "use IS NULL to find missing values",
                    CompareOp::Ne => "use IS NOT NULL to find present values",
                    _ => NEVER,
                };
                Expr::Compare {
                    field,
                    op,
                    value: self.value(&after, fix)?,
                }
            }
            OpSpec::Match { op, negated } => Expr::Match {
                field,
                op,
                negated,
                value: self.value(&after, NEVER)?,
            },
            OpSpec::In { negated } => Expr::In {
                field,
                negated,
                values: self.list()?,
            },
            OpSpec::Between { negated } => {
                let low = self.value(&after, NEVER)?;
                if !self.at_kw("and") {
                    let msg = format!(
                        "expected AND between the two values, found {}",
                        self.found()
                    );
                    return Err(err(self.here(), msg, "write x BETWEEN 1 AND 10"));
                }
                self.bump();
                let high = self.value("after 'AND'", NEVER)?;
                Expr::Between {
                    field,
                    negated,
                    low,
                    high,
                }
            }
            OpSpec::IsNull { negated } => Expr::IsNull { field, negated },
        })
    }

    /// `list = "(" value { "," value } ")"`
    fn list(&mut self) -> Result<Vec<Operand>, FilterError> {
        let open = self.here();
        let fix = "write the values as IN (1, 2, 3)";
        match self.peek().tok {
            Tok::LParen => {}
            Tok::Word(_)
            | Tok::Number(_)
            | Tok::Str { .. }
            | Tok::Placeholder(_)
            | Tok::Lookup(_) => {
                return Err(err(
                    open,
                    "Filter value lists must be wrapped in parentheses.",
                    fix,
                ));
            }
            _ => {
                return Err(err(
                    open,
                    format!("expected '(' after IN, found {}", self.found()),
                    fix,
                ));
            }
        }
        self.bump();
        if self.peek().tok == Tok::RParen {
            let fix = "put at least one value between the parentheses";
            return Err(err(self.here(), "an IN list cannot be empty", fix));
        }
        let mut values = Vec::new();
        loop {
            if values.len() == self.limits.max_list {
                let msg = format!("the IN list has more than {} values", self.limits.max_list);
                return Err(err(
                    self.here(),
                    msg,
                    "split the request or filter on a range instead",
                ));
            }
            let fix = "NULL in an IN list never matches; add OR field IS NULL instead";
            values.push(self.value("in the IN list", fix)?);
            let (at, found) = (self.here(), self.found());
            match self.bump().tok {
                Tok::Comma => {}
                Tok::RParen => return Ok(values),
                Tok::Eof => {
                    let fix = "add a ')' after the last value";
                    return Err(err(open, "unclosed '(' of the IN list", fix));
                }
                _ => {
                    let msg = format!("expected ',' or ')' in the IN list, found {found}");
                    return Err(err(at, msg, SEPARATE));
                }
            }
        }
    }

    /// `value = string | number | TRUE | FALSE | :placeholder | {lookup} | bare-word`;
    /// `null` is rejected with `null_fix` as the hint.
    fn value(&mut self, after: &str, null_fix: &str) -> Result<Operand, FilterError> {
        let (at, found) = (self.here(), self.found());
        let operand = match &self.peek().tok {
            Tok::Str { value, .. } => Operand::Literal(Literal::String(value.clone())),
            Tok::Number(n) => Operand::Literal(Literal::Number(n.clone())),
            Tok::Placeholder(p) => Operand::Placeholder(p.clone()),
            Tok::Lookup(l) => Operand::Lookup(l.clone()),
            Tok::Word(_) if self.at_call() => return Err(self.function_call_error()),
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "true" => Operand::Literal(Literal::Bool(true)),
                "false" => Operand::Literal(Literal::Bool(false)),
                "null" => return Err(err(at, format!("null cannot be used {after}"), null_fix)),
                k if KEYWORDS.contains(&k) => {
                    let msg = format!("expected a value {after}, found the keyword {found}");
                    return Err(err(at, msg, format!("quote it if it is text: '{w}'")));
                }
                _ => Operand::Literal(Literal::String(w.clone())),
            },
            Tok::LParen => {
                let fix = "only IN takes a list in parentheses; subqueries and expressions are \
                           not supported";
                return Err(err(at, "a parenthesised value is not allowed here", fix));
            }
            tok => {
                let fix = match (tok, self.toks.get(self.i.wrapping_sub(1))) {
                    (
                        Tok::Cmp(_),
                        Some(Token {
                            tok: Tok::Cmp(_), ..
                        }),
                    ) => "use a single comparison operator, e.g. a = 1",
                    _ => {
                        "values are 'quoted text', numbers, true, false, :placeholders or {lookups}"
                    }
                };
                return Err(err(
                    at,
                    format!("expected a value {after}, found {found}"),
                    fix,
                ));
            }
        };
        self.bump();
        Ok(operand)
    }
}

#[cfg(test)]
mod tests {
    use crate::filter::{Limits, parse};

    /// Parses `input` and compares the canonical form (or, for an expected
    /// `"error at N: message…"`, the error's position and start of its message).
    fn check(input: &str, expected: &str) {
        check_with(&Limits::default(), input, expected);
    }

    fn check_with(limits: &Limits, input: &str, expected: &str) {
        let actual = match parse(input, limits) {
            Ok(expr) => expr.to_string(),
            Err(e) => format!("error at {}: {}", e.position, e.message),
        };
        if expected.starts_with("error at ") {
            assert!(
                actual.starts_with(expected),
                "{input:?}\n  got:  {actual}\n  want: {expected}"
            );
        } else {
            assert_eq!(actual, expected, "{input:?}");
        }
    }

    #[test]
    fn comparison_operators_accept_symbol_and_case_insensitive_word_forms() {
        for (input, expected) in [
            ("a = 1", "a = 1"),
            ("a != 1", "a != 1"),
            ("a <> 1", "a != 1"),
            ("a > 1", "a > 1"),
            ("a >= 1", "a >= 1"),
            ("a < 1", "a < 1"),
            ("a <= 1", "a <= 1"),
            ("a EQ 1", "a = 1"),
            ("a ne 1", "a != 1"),
            ("a Gt 1", "a > 1"),
            ("a gte 1", "a >= 1"),
            ("a LT 1", "a < 1"),
            ("a lTe 1", "a <= 1"),
            ("age>21", "age > 21"),
            ("a=-12", "a = -12"),
            ("a = 3.5", "a = 3.5"),
            ("a = 1e3", "a = 1e3"),
            ("a = 1.5E-3", "a = 1.5E-3"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn pattern_null_list_and_range_operators_parse_with_their_negations() {
        for (input, expected) in [
            ("name like 'a%'", "name LIKE 'a%'"),
            ("name ILIKE 'a%'", "name ILIKE 'a%'"),
            ("name NOT LIKE 'a%'", "name NOT LIKE 'a%'"),
            ("name not ilike 'a%'", "name NOT ILIKE 'a%'"),
            ("name CONTAINS x", "name CONTAINS 'x'"),
            ("name NOT CONTAINS x", "name NOT CONTAINS 'x'"),
            ("name starts with 'a'", "name STARTS WITH 'a'"),
            ("name NOT Ends With 'z'", "name NOT ENDS WITH 'z'"),
            ("name like '%=%'", "name LIKE '%=%'"),
            ("id in (1,2,3)", "id IN (1, 2, 3)"),
            ("id NOT IN (1)", "id NOT IN (1)"),
            ("tag IN ('a,b','c')", "tag IN ('a,b', 'c')"),
            ("tag IN ('a,b','c)')", "tag IN ('a,b', 'c)')"),
            ("a between 1 and 5", "a BETWEEN 1 AND 5"),
            (
                "a NOT BETWEEN 'a' AND 'b' AND c = 1",
                "a NOT BETWEEN 'a' AND 'b' AND c = 1",
            ),
            ("a is null", "a IS NULL"),
            ("a IS NOT NULL", "a IS NOT NULL"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn logic_follows_not_over_and_over_or_with_or_without_parentheses() {
        for (input, expected) in [
            ("(a = 1) AND (b like 'x%')", "a = 1 AND b LIKE 'x%'"),
            (
                "first_name='Jon' AND last_name='Yang'",
                "first_name = 'Jon' AND last_name = 'Yang'",
            ),
            ("(name = 'a') or (name = 'b')", "name = 'a' OR name = 'b'"),
            ("a=1 && b=2 || c=3", "(a = 1 AND b = 2) OR c = 3"),
            ("a=1 or b=2 and c=3", "a = 1 OR (b = 2 AND c = 3)"),
            ("not a = 1 and b = 2", "NOT (a = 1) AND b = 2"),
            ("NOT (a = 1 OR b = 2)", "NOT (a = 1 OR b = 2)"),
            ("NOT NOT a IS NULL", "NOT (NOT (a IS NULL))"),
            ("((((a = 1))))", "a = 1"),
            (
                "(a=1 AND (b=2 OR (c=3 AND d=4)))",
                "a = 1 AND (b = 2 OR (c = 3 AND d = 4))",
            ),
            ("note = 'x) AND (y'", "note = 'x) AND (y'"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn values_are_quoted_text_numbers_booleans_bare_words_placeholders_or_lookups() {
        for (input, expected) in [
            ("name = 'O''Brien'", "name = 'O''Brien'"),
            (r"name = 'O\'Brien'", "name = 'O''Brien'"),
            (r"path = 'C:\\dir'", r"path = 'C:\\dir'"),
            (r#"name = "bob""#, "name = 'bob'"),
            ("name = bob", "name = 'bob'"),
            ("status = shipped", "status = 'shipped'"),
            ("a = '1'", "a = '1'"),
            ("a = TRUE", "a = true"),
            ("a = False", "a = false"),
            ("a = :p", "a = :p"),
            ("owner_id = {user.id}", "owner_id = {user.id}"),
            ("t = {user.claims.tenant_id}", "t = {user.claims.tenant_id}"),
            ("t.col$x = 'é ☃'", "t.col$x = 'é ☃'"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn malformed_filters_report_what_is_wrong_and_where() {
        for (input, expected) in [
            ("", "error at 0: the filter is empty"),
            ("a =", "error at 3: expected a value after '='"),
            ("= 1", "error at 0: expected a field name"),
            ("a = 1)", "error at 5: unexpected ')'"),
            ("(a = 1", "error at 0: unclosed '('"),
            ("a = 1 AND (b = 2", "error at 10: unclosed '('"),
            ("a = 1) OR (b = 2", "error at 5: unexpected ')'"),
            ("a ==== 1", "error at 3: expected a value after '='"),
            ("a = 'x", "error at 4: unterminated string"),
            ("1 = 1", "error at 0: expected a field name"),
            ("(x=1) OR (1=1)", "error at 10: expected a field name"),
            ("'a' = 'a'", "error at 0: expected a field name"),
            ("\"a\" = 1", "error at 0: expected a field name"),
            (
                "true = 1",
                "error at 0: expected a field name, found 'true'",
            ),
            ("and = 1", "error at 0: expected a field name, found 'and'"),
            ("a..b = 1", "error at 0: 'a..b' is not a valid field name"),
            ("a = (SELECT 1)", "error at 4: a parenthesised value"),
            ("a = 1; DROP TABLE x", "error at 5: ';' is not allowed"),
            ("a = NOW()", "error at 4: function calls"),
            ("lower(name) = 'x'", "error at 0: function calls"),
            (
                "a in 1,2",
                "error at 5: Filter value lists must be wrapped in parentheses",
            ),
            ("a = 1 --", "error at 6: SQL comments"),
            ("a = 1 /* x */", "error at 6: SQL comments"),
            ("a = null", "error at 4: null cannot be used after '='"),
            (
                "a IN (1, NULL)",
                "error at 9: null cannot be used in the IN list",
            ),
            ("a = 1 NOR b = 2", "error at 6: NOR is not supported"),
            ("a = 1 xor b = 2", "error at 6: XOR is not supported"),
            ("a NOT = 1", "error at 2: NOT after a field"),
            ("a = bob smith", "error at 8: expected AND, OR or the end"),
            ("(a = bob smith)", "error at 9: expected AND, OR or ')'"),
            ("a = 1 b = 2", "error at 6: expected AND, OR"),
            ("a IN ()", "error at 6: an IN list cannot be empty"),
            ("a IN (1,)", "error at 8: expected a value in the IN list"),
            ("a IN (1 2)", "error at 8: expected ',' or ')'"),
            ("a IN (1", "error at 5: unclosed '(' of the IN list"),
            ("a BETWEEN 1 OR 2", "error at 12: expected AND between"),
            ("a IS 1", "error at 5: expected NULL after IS"),
            ("a STARTS 'x'", "error at 9: expected WITH after STARTS"),
            ("a", "error at 1: expected an operator after 'a'"),
            (
                "a = and",
                "error at 4: expected a value after '=', found the keyword 'and'",
            ),
            ("a = 1 AND", "error at 9: expected a field name"),
            ("()", "error at 1: expected a field name"),
        ] {
            check(input, expected);
        }
    }

    #[test]
    fn errors_display_message_position_and_fix() {
        for (input, expected) in [
            (
                "a = 1)",
                "unexpected ')' at position 5; it has no matching '('; remove it or add \
                        a '(' before it",
            ),
            (
                "a = null",
                "null cannot be used after '=' at position 4; use IS NULL to find \
                          missing values",
            ),
            (
                "id in 1,2,3",
                "Filter value lists must be wrapped in parentheses at position 6; \
                             write the values as IN (1, 2, 3)",
            ),
        ] {
            let actual = parse(input, &Limits::default()).map_err(|e| e.to_string());
            assert_eq!(actual, Err(expected.to_string()));
        }
    }

    #[test]
    fn limits_bound_length_depth_list_size_and_node_count() {
        let deep = |n: usize| format!("{}a=1{}", "(".repeat(n), ")".repeat(n));
        check(&deep(32), "a = 1");
        check(
            &deep(33),
            "error at 32: the filter is nested more than 32 levels deep",
        );
        check(
            &format!("{}a=1", "NOT ".repeat(33)),
            "error at 128: the filter is nested",
        );
        check(
            &"(".repeat(100_000),
            "error at 4096: the filter is 100000 bytes long",
        );
        let short = Limits {
            max_length: 10,
            ..Limits::default()
        };
        check_with(&short, "a = 'xxxx'", "a = 'xxxx'");
        check_with(
            &short,
            "a = 'xxxxxxxxxx'",
            "error at 10: the filter is 16 bytes long",
        );
        let few = Limits {
            max_list: 3,
            max_nodes: 3,
            ..Limits::default()
        };
        check_with(&few, "a in (1,2,3)", "a IN (1, 2, 3)");
        check_with(
            &few,
            "a in (1,2,3,4)",
            "error at 12: the IN list has more than 3 values",
        );
        check_with(&few, "a=1 AND b=2", "a = 1 AND b = 2");
        check_with(
            &few,
            "a=1 AND b=2 AND c=3",
            "error at 16: the filter has more than 3",
        );
    }
}
