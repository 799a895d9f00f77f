//! The filter language's syntax tree. Values are literals, `:name` placeholders or `{lookup}`
//! references; they are always bound as parameters later, never spliced into SQL.

use std::fmt;

/// A byte range in the filter text, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A field name as written by the client (not yet checked against any schema).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub span: Span,
}

/// A literal value. Numbers keep their source text so no precision is lost; the column's
/// type decides how the text is bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    String(String),
    Number(String),
    Bool(bool),
    Null,
}

/// A value in a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Literal(Literal),
    /// `:name`, resolved from the request's `params`.
    Placeholder(String),
    /// `{user.id}`, `{tenant}`, …, resolved from the principal's lookups.
    Lookup(String),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Pattern operators; `Contains`/`StartsWith`/`EndsWith` take a plain value (its `%`, `_` and
/// `\` are matched literally), `Like`/`ILike` take a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Like,
    ILike,
    Contains,
    StartsWith,
    EndsWith,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// All must hold (two or more children).
    And(Vec<Expr>),
    /// Any must hold (two or more children).
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        field: Field,
        op: CompareOp,
        value: Operand,
    },
    Match {
        field: Field,
        op: MatchOp,
        negated: bool,
        value: Operand,
    },
    In {
        field: Field,
        negated: bool,
        values: Vec<Operand>,
    },
    Between {
        field: Field,
        negated: bool,
        low: Operand,
        high: Operand,
    },
    IsNull {
        field: Field,
        negated: bool,
    },
}

impl fmt::Display for Literal {
    /// Strings are single-quoted with `'` doubled and `\` doubled, so they always re-lex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => {
                f.write_str("'")?;
                for c in s.chars() {
                    match c {
                        '\'' => f.write_str("''")?,
                        '\\' => f.write_str("\\\\")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
            Literal::Number(n) => f.write_str(n),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Literal(l) => write!(f, "{l}"),
            Operand::Placeholder(p) => write!(f, ":{p}"),
            Operand::Lookup(l) => write!(f, "{{{l}}}"),
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        })
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Like => "LIKE",
            MatchOp::ILike => "ILIKE",
            MatchOp::Contains => "CONTAINS",
            MatchOp::StartsWith => "STARTS WITH",
            MatchOp::EndsWith => "ENDS WITH",
        })
    }
}

impl fmt::Display for Expr {
    /// The canonical form: keywords upper-case, strings single-quoted, nested `AND`/`OR`
    /// groups and `NOT` operands parenthesised. Every tree the parser can produce prints to
    /// text that parses back to the same tree (spans aside). Trees it cannot produce
    /// (`And`/`Or` with fewer than two children, empty `In` lists, `Literal::Null` operands)
    /// print without error but do not round-trip.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |negated: &bool| if *negated { "NOT " } else { "" };
        match self {
            Expr::And(items) => join(f, items, " AND "),
            Expr::Or(items) => join(f, items, " OR "),
            Expr::Not(inner) => write!(f, "NOT ({inner})"),
            Expr::Compare { field, op, value } => write!(f, "{} {op} {value}", field.name),
            Expr::Match {
                field,
                op,
                negated,
                value,
            } => {
                write!(f, "{} {}{op} {value}", field.name, not(negated))
            }
            Expr::In {
                field,
                negated,
                values,
            } => {
                write!(f, "{} {}IN (", field.name, not(negated))?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Expr::Between {
                field,
                negated,
                low,
                high,
            } => {
                write!(f, "{} {}BETWEEN {low} AND {high}", field.name, not(negated))
            }
            Expr::IsNull { field, negated } => {
                write!(f, "{} IS {}NULL", field.name, not(negated))
            }
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match item {
            Expr::And(_) | Expr::Or(_) => write!(f, "({item})")?,
            _ => write!(f, "{item}")?,
        }
    }
    Ok(())
}

impl Expr {
    /// `a AND b`, flattening either side that is already an `And` (e.g. a role filter
    /// combined with the client's filter).
    pub fn and(a: Expr, b: Expr) -> Expr {
        let mut items = Vec::new();
        for e in [a, b] {
            match e {
                Expr::And(xs) => items.extend(xs),
                other => items.push(other),
            }
        }
        Expr::And(items)
    }

    /// `a OR b`, flattening either side that is already an `Or`.
    pub fn or(a: Expr, b: Expr) -> Expr {
        let mut items = Vec::new();
        for e in [a, b] {
            match e {
                Expr::Or(xs) => items.extend(xs),
                other => items.push(other),
            }
        }
        Expr::Or(items)
    }

    /// Every field the expression mentions, left to right (for schema checks).
    pub fn fields(&self) -> Fields<'_> {
        Fields { stack: vec![self] }
    }

    /// A copy with every span set to `Span::default()`, for comparing trees by meaning.
    pub fn without_spans(&self) -> Expr {
        fn clear(e: &mut Expr) {
            match e {
                Expr::And(xs) | Expr::Or(xs) => xs.iter_mut().for_each(clear),
                Expr::Not(x) => clear(x),
                Expr::Compare { field, .. }
                | Expr::Match { field, .. }
                | Expr::In { field, .. }
                | Expr::Between { field, .. }
                | Expr::IsNull { field, .. } => field.span = Span::default(),
            }
        }
        let mut copy = self.clone();
        clear(&mut copy);
        copy
    }
}

/// Iterator over the fields of an [`Expr`], from [`Expr::fields`].
pub struct Fields<'a> {
    stack: Vec<&'a Expr>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a Field;

    fn next(&mut self) -> Option<&'a Field> {
        while let Some(e) = self.stack.pop() {
            match e {
                Expr::And(xs) | Expr::Or(xs) => self.stack.extend(xs.iter().rev()),
                Expr::Not(x) => self.stack.push(x),
                Expr::Compare { field, .. }
                | Expr::Match { field, .. }
                | Expr::In { field, .. }
                | Expr::Between { field, .. }
                | Expr::IsNull { field, .. } => return Some(field),
            }
        }
        None
    }
}
