//! The pages a person sees while an agent asks for access: sign-in, consent and refusal.
//! Plain HTML forms without script (the CSP forbids any), every value escaped, every control
//! labelled.

use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}\
h1{font-size:1.4rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}\
input[type=text],input[type=password],input[type=email],select{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}\
button{font:inherit;padding:.5rem 1.25rem;margin:1rem .5rem 0 0;cursor:pointer}\
.error{color:#a40000;border-left:4px solid #a40000;padding-left:.75rem}\
.who{color:#444}table{border-collapse:collapse;width:100%;margin:.5rem 0}\
th,td{text-align:left;border-bottom:1px solid #ddd;padding:.3rem .4rem;vertical-align:top}\
.check{display:flex;gap:.5rem;align-items:center;font-weight:400}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// A way to sign in offered on the page: `value` is sent back as `method`.
pub struct Method {
    pub value: String,
    pub label: String,
}

/// The sign-in page.
pub struct SignIn<'a> {
    pub client_name: &'a str,
    pub redirect_host: &'a str,
    pub handle: &'a str,
    pub methods: &'a [Method],
    /// Providers signed in with elsewhere (OpenID Connect, SAML): `value` is the service.
    pub external: &'a [Method],
    pub error: Option<&'a str>,
    pub login: &'a str,
}

impl SignIn<'_> {
    #[must_use]
    pub fn render(&self) -> String {
        let mut b = String::new();
        let _ = write!(
            b,
            "<h1>Sign in to let {} use Rampart for you</h1>\
<p class=\"who\">The application will get its answer at {}.</p>",
            escape(self.client_name),
            escape(self.redirect_host)
        );
        if let Some(e) = self.error {
            let _ = write!(b, "<p class=\"error\" role=\"alert\">{}</p>", escape(e));
        }
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/oauth/authorize/sign-in\">\
<input type=\"hidden\" name=\"request\" value=\"{}\">",
            escape(self.handle)
        );
        if self.methods.len() > 1 {
            b.push_str(
                "<label for=\"method\">Sign in with</label><select id=\"method\" name=\"method\">",
            );
            for m in self.methods {
                let _ = write!(
                    b,
                    "<option value=\"{}\">{}</option>",
                    escape(&m.value),
                    escape(&m.label)
                );
            }
            b.push_str("</select>");
        } else if let Some(m) = self.methods.first() {
            let _ = write!(
                b,
                "<input type=\"hidden\" name=\"method\" value=\"{}\">",
                escape(&m.value)
            );
        }
        let _ = write!(
            b,
            "<label for=\"login\">Email or user name</label>\
<input type=\"text\" id=\"login\" name=\"login\" autocomplete=\"username\" required value=\"{}\">\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
<button type=\"submit\">Sign in</button></form>",
            escape(self.login)
        );
        if !self.external.is_empty() {
            b.push_str("<p>Or sign in with:</p><ul>");
            for m in self.external {
                let service: String =
                    url::form_urlencoded::byte_serialize(m.value.as_bytes()).collect();
                let _ = write!(
                    b,
                    "<li><a href=\"/oauth/authorize/external?service={}\">{}</a></li>",
                    escape(&service),
                    escape(&m.label)
                );
            }
            b.push_str("</ul>");
        }
        page("Sign in", &b)
    }
}

/// One line of what the role reaches.
pub struct Reach {
    pub service: String,
    pub component: String,
    pub verbs: String,
    /// Row filters apply.
    pub filtered: bool,
    /// `field (kind)` of masked fields.
    pub masked: Vec<String>,
    pub hidden: Vec<String>,
}

/// The consent page.
pub struct Consent<'a> {
    pub client_name: &'a str,
    pub client_id: &'a str,
    pub redirect_host: &'a str,
    pub handle: &'a str,
    pub user: &'a str,
    pub app: &'a str,
    pub role: &'a str,
    pub reach: &'a [Reach],
    /// The client asks to write too.
    pub asks_write: bool,
}

impl Consent<'_> {
    #[must_use]
    pub fn render(&self) -> String {
        let mut b = String::new();
        let _ = write!(
            b,
            "<h1>Allow {} to act as you?</h1>\
<p>Signed in as <strong>{}</strong>. The application <strong>{}</strong> \
(<code>{}</code>, answering at {}) asks to use Rampart's MCP tools in your name, \
through the app <strong>{}</strong>, under your role <strong>{}</strong>. \
It will be able to reach only what that role reaches:</p>",
            escape(self.client_name),
            escape(self.user),
            escape(self.client_name),
            escape(self.client_id),
            escape(self.redirect_host),
            escape(self.app),
            escape(self.role)
        );
        if self.reach.is_empty() {
            b.push_str("<p>Nothing: this role reaches no database service.</p>");
        } else {
            b.push_str(
                "<table><caption class=\"who\">What the role reaches</caption><thead><tr>\
<th scope=\"col\">Service</th><th scope=\"col\">Tables</th><th scope=\"col\">Verbs</th>\
<th scope=\"col\">Restrictions</th></tr></thead><tbody>",
            );
            for r in self.reach {
                let mut notes: Vec<String> = Vec::new();
                if r.filtered {
                    notes.push("only some rows".into());
                }
                if !r.masked.is_empty() {
                    notes.push(format!("masked: {}", r.masked.join(", ")));
                }
                if !r.hidden.is_empty() {
                    notes.push(format!("hidden: {}", r.hidden.join(", ")));
                }
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&r.service),
                    escape(if r.component == "*" {
                        "everything"
                    } else {
                        &r.component
                    }),
                    escape(&r.verbs),
                    escape(&notes.join("; "))
                );
            }
            b.push_str("</tbody></table>");
        }
        let _ = write!(
            b,
            "<form method=\"post\" action=\"/oauth/authorize/consent\">\
<input type=\"hidden\" name=\"request\" value=\"{}\">",
            escape(self.handle)
        );
        if self.asks_write {
            b.push_str(
                "<label class=\"check\"><input type=\"checkbox\" name=\"read_only\" value=\"on\"> \
Read only: the application may read but never change data</label>",
            );
        } else {
            b.push_str("<p>The application asks to read only.</p>");
        }
        b.push_str(
            "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>\
<p class=\"who\">You can revoke this access at any time; your administrator can too.</p>",
        );
        page("Allow access", &b)
    }
}

/// A request that cannot go on; told to the person only.
#[must_use]
pub fn refusal(message: &str) -> String {
    page(
        "Request refused",
        &format!(
            "<h1>This request cannot be completed</h1><p class=\"error\" role=\"alert\">{}</p>\
<p>Return to the application and try again, or ask your administrator.</p>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_everywhere() {
        let html = SignIn {
            client_name: "<script>alert(1)</script>",
            redirect_host: "a\"b",
            handle: "h'1",
            methods: &[],
            external: &[Method {
                value: "a\"b".into(),
                label: "<i>".into(),
            }],
            error: Some("<b>"),
            login: "\"><img src=x>",
        }
        .render();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("h&#39;1"));
    }
}
