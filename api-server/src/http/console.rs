//! The admin console at `/admin`: `admin-ui/dist`, embedded in the binary (so `cargo build`
//! needs no Node), served with a single-page-app fallback. Hashed files under `assets/` are
//! immutable; `index.html` is revalidated on every load and carries a strict
//! Content-Security-Policy. A missing asset is a 404, never `index.html` (a stale chunk must
//! not come back as HTML). Without the `console` feature, `/admin` says how to get it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, guard, web};

/// The policy `index.html` is served with: only this origin's scripts, styles and API.
#[cfg(feature = "console")]
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// Registers `/admin` and everything below it (GET and HEAD).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let read = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    cfg.route(
        "/admin",
        read().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/admin/"))
                .finish()
        }),
    )
    .service(
        // Compressed when the browser asks: the bundle is a quarter of its size in gzip.
        web::resource("/admin/{path:.*}")
            .wrap(actix_web::middleware::Compress::default())
            .route(read().to(serve)),
    );
}

#[cfg(feature = "console")]
#[derive(rust_embed::Embed)]
#[folder = "../admin-ui/dist/"]
struct Dist;

/// A file of the console, or the SPA fallback, or 404.
#[cfg(feature = "console")]
async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    let found = (!path.is_empty()).then(|| Dist::get(&path)).flatten();
    let (name, file) = match found {
        Some(f) => (path.as_str(), f),
        None => {
            let last = path.rsplit('/').next().unwrap_or_default();
            if path.starts_with("assets/") || last.contains('.') {
                return actix_web::ResponseError::error_response(
                    &crate::http::error::ApiError::not_found(format!(
                        "The console has no file '{path}'."
                    )),
                );
            }
            match Dist::get("index.html") {
                Some(f) => ("index.html", f),
                None => return HttpResponse::NotFound().body("The console is not built."),
            }
        }
    };
    let etag = format!(
        "\"{}\"",
        crate::system::crypto::hex(&file.metadata.sha256_hash())
    );
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime.ends_with("javascript") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    res.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if name.starts_with("assets/") {
        res.insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"));
    } else {
        res.insert_header((header::CACHE_CONTROL, "no-cache"));
    }
    if name == "index.html" {
        res.insert_header((
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(CSP),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    }
    if unchanged {
        return res.finish();
    }
    match file.data {
        std::borrow::Cow::Borrowed(bytes) => res.body(bytes),
        std::borrow::Cow::Owned(bytes) => res.body(bytes),
    }
}

/// Built without the console: say how to get it.
#[cfg(not(feature = "console"))]
async fn serve(_req: HttpRequest, _path: web::Path<String>) -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(
            "This build of Rampart has no console: build it with the default feature `console`.\n",
        )
}
