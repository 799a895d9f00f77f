//! Tokenizer: turns filter text into tokens with byte spans, reading quoted strings,
//! numbers, `:placeholders` and `{lookups}` whole. Invariants: it never panics and never
//! slices inside a UTF-8 character; anything that could smuggle raw SQL outside a quoted
//! string (`;`, `--`, `/*`) is rejected here, before the parser sees it.

use crate::filter::ast::{CompareOp, Span};
use crate::filter::error::{FilterError, err};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted word: a field name, a keyword or a bare text value.
    Word(String),
    Number(String),
    /// A quoted string, unescaped; `double` if it used `"`.
    Str {
        value: String,
        double: bool,
    },
    Placeholder(String),
    Lookup(String),
    Cmp(CompareOp),
    LParen,
    RParen,
    Comma,
    AndAnd,
    OrOr,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// The whole input as tokens, ending with exactly one `Eof`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, FilterError> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut out = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let eof = token.tok == Tok::Eof;
        out.push(token);
        if eof {
            return Ok(out);
        }
    }
}

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '.'
}

pub(crate) fn is_placeholder_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(crate) fn is_lookup_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-')
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek2(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            self.pos += c.len_utf8();
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn next_token(&mut self) -> Result<Token, FilterError> {
        self.eat_while(char::is_whitespace);
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token {
                tok: Tok::Eof,
                span: Span { start, end: start },
            });
        };
        let err = |msg: String| FilterError::new(start, msg);
        let tok = match (c, self.peek2()) {
            ('(', _) => self.single(Tok::LParen),
            (')', _) => self.single(Tok::RParen),
            (',', _) => self.single(Tok::Comma),
            ('=', _) => self.single(Tok::Cmp(CompareOp::Eq)),
            ('!', Some('=')) => self.double(Tok::Cmp(CompareOp::Ne)),
            ('<', Some('=')) => self.double(Tok::Cmp(CompareOp::Le)),
            ('<', Some('>')) => self.double(Tok::Cmp(CompareOp::Ne)),
            ('<', _) => self.single(Tok::Cmp(CompareOp::Lt)),
            ('>', Some('=')) => self.double(Tok::Cmp(CompareOp::Ge)),
            ('>', _) => self.single(Tok::Cmp(CompareOp::Gt)),
            ('&', Some('&')) => self.double(Tok::AndAnd),
            ('|', Some('|')) => self.double(Tok::OrOr),
            ('\'' | '"', _) => self.string(c)?,
            (':', _) => self.placeholder()?,
            ('{', _) => self.lookup()?,
            (';', _) => {
                return Err(err("';' is not allowed outside a quoted string".into())
                    .hint("a filter is a single condition, not SQL statements"));
            }
            ('-', Some('-')) | ('/', Some('*')) => {
                return Err(err("SQL comments are not allowed in filters".into())
                    .hint("remove the comment, or quote the value if it contains '--' or '/*'"));
            }
            ('-', Some(d)) if d.is_ascii_digit() => self.number()?,
            (d, _) if d.is_ascii_digit() => self.number()?,
            (w, _) if w.is_alphabetic() || w == '_' => {
                Tok::Word(self.eat_while(is_word_char).to_string())
            }
            (other, _) => {
                let hint = match other {
                    '&' => "use AND or &&",
                    '|' => "use OR or ||",
                    '!' => "use != to compare, or NOT to negate",
                    '`' | '[' | ']' => "write field names without quotes or brackets",
                    _ => "put text values in quotes, e.g. 'like this'",
                };
                let shown = other.escape_debug();
                return Err(err(format!("unexpected character '{shown}'")).hint(hint));
            }
        };
        Ok(Token {
            tok,
            span: Span {
                start,
                end: self.pos,
            },
        })
    }

    fn single(&mut self, tok: Tok) -> Tok {
        self.bump();
        tok
    }

    fn double(&mut self, tok: Tok) -> Tok {
        self.bump();
        self.bump();
        tok
    }

    /// `'…'` or `"…"`; the quote is escaped by doubling it or by `\`, and `\\` is one `\`.
    /// Any other backslash is kept as is (so LIKE escapes such as `\%` pass through).
    fn string(&mut self, quote: char) -> Result<Tok, FilterError> {
        let start = self.pos;
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => {
                    let q = quote;
                    let fix =
                        format!("add the closing {q}; write {q} inside text as {q}{q} or \\{q}");
                    return Err(err(start, "unterminated string", fix));
                }
                Some('\\') => match self.peek() {
                    Some(c) if c == quote || c == '\\' => {
                        self.bump();
                        value.push(c);
                    }
                    _ => value.push('\\'),
                },
                Some(c) if c == quote => {
                    if self.peek() != Some(quote) {
                        return Ok(Tok::Str {
                            value,
                            double: quote == '"',
                        });
                    }
                    self.bump();
                    value.push(quote);
                }
                Some(c) => value.push(c),
            }
        }
    }

    /// `-?digits(.digits)?([eE][+-]?digits)?`, which must not run into letters or dates.
    fn number(&mut self) -> Result<Tok, FilterError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.bump();
        }
        self.eat_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.eat_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.pos;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if self.eat_while(|c| c.is_ascii_digit()).is_empty() {
                self.pos = save;
            }
        }
        let text = self.src.get(start..self.pos).unwrap_or("").to_string();
        let tail = self.eat_while(|c| is_word_char(c) || matches!(c, '-' | '+' | ':'));
        if !tail.is_empty() {
            let whole = self.src.get(start..self.pos).unwrap_or("");
            return Err(
                FilterError::new(start, format!("'{whole}' is not a number")).hint(format!(
                    "put text, dates and times in quotes, e.g. '{whole}'"
                )),
            );
        }
        Ok(Tok::Number(text))
    }

    fn placeholder(&mut self) -> Result<Tok, FilterError> {
        let start = self.pos;
        self.bump();
        let name = self.eat_while(is_placeholder_char);
        if name.is_empty() {
            return Err(
                FilterError::new(start, "expected a placeholder name after ':'")
                    .hint("placeholders look like :name ('::' casts are not supported)"),
            );
        }
        Ok(Tok::Placeholder(name.to_string()))
    }

    fn lookup(&mut self) -> Result<Tok, FilterError> {
        let start = self.pos;
        self.bump();
        let name = self.eat_while(is_lookup_char);
        if name.is_empty() || self.peek() != Some('}') {
            return Err(FilterError::new(start, "malformed lookup").hint(
                "lookups look like {user.id}: letters, digits, '_', '.' and '-' between braces",
            ));
        }
        self.bump();
        Ok(Tok::Lookup(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[Tok]) {
        let toks: Vec<Tok> = match tokenize(input) {
            Ok(ts) => ts.into_iter().map(|t| t.tok).collect(),
            Err(e) => panic!("{input:?}: {e}"),
        };
        assert_eq!(&toks[..toks.len() - 1], expected, "{input:?}");
    }

    fn word(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    fn s(v: &str) -> Tok {
        Tok::Str {
            value: v.into(),
            double: false,
        }
    }

    #[test]
    fn symbols_need_no_surrounding_spaces() {
        use CompareOp::*;
        check(
            "age>21",
            &[word("age"), Tok::Cmp(Gt), Tok::Number("21".into())],
        );
        check("a<>b", &[word("a"), Tok::Cmp(Ne), word("b")]);
        check(
            "a!=-1.5e3",
            &[word("a"), Tok::Cmp(Ne), Tok::Number("-1.5e3".into())],
        );
        check(
            "a<=1&&b>=2||c<3",
            &[
                word("a"),
                Tok::Cmp(Le),
                Tok::Number("1".into()),
                Tok::AndAnd,
                word("b"),
                Tok::Cmp(Ge),
                Tok::Number("2".into()),
                Tok::OrOr,
                word("c"),
                Tok::Cmp(Lt),
                Tok::Number("3".into()),
            ],
        );
    }

    #[test]
    fn quoted_strings_keep_commas_parentheses_and_escaped_quotes() {
        check("'a,b' 'c)'", &[s("a,b"), s("c)")]);
        check(r"'O''Brien' 'O\'Brien'", &[s("O'Brien"), s("O'Brien")]);
        check(r"'C:\\' '100\%'", &[s(r"C:\"), s(r"100\%")]);
        check(
            r#""say ""hi""""#,
            &[Tok::Str {
                value: r#"say "hi""#.into(),
                double: true,
            }],
        );
        check("'é; -- /*'", &[s("é; -- /*")]);
    }

    #[test]
    fn placeholders_lookups_and_dotted_words_are_single_tokens() {
        check(
            ":p1 {user.claims.tenant_id} {a-b} t.col$x",
            &[
                Tok::Placeholder("p1".into()),
                Tok::Lookup("user.claims.tenant_id".into()),
                Tok::Lookup("a-b".into()),
                word("t.col$x"),
            ],
        );
    }

    #[test]
    fn sql_separators_comments_and_malformed_tokens_are_rejected_with_their_position() {
        for (input, pos) in [
            ("a = 1; x", 5),
            ("a = 1 -- x", 6),
            ("a /* x */", 2),
            ("a = 'x", 4),
            ("a = 2024-01-31", 4),
            ("a = 12abc", 4),
            ("a = :", 4),
            ("a = a::int", 5),
            ("a = {user", 4),
            ("a = {}", 4),
            ("a & b", 2),
            ("a ! b", 2),
            ("`a`", 0),
            ("é = \u{0}", 5),
        ] {
            match tokenize(input) {
                Ok(t) => panic!("{input:?} lexed to {t:?}"),
                Err(e) => assert_eq!(e.position, pos, "{input:?}: {e}"),
            }
        }
    }
}
