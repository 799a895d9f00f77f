//! The CORS middleware: answers preflights and labels responses for the browser origins a
//! `/system/cors` entry admits (`crate::cors` holds the entries and their matching).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// Runs outside everything else, so a preflight is answered without authentication (browsers
/// send none with it) and every response, errors too, carries the headers.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(origin), Some(state)) = (origin, state) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let rule = match state.cors.rule_for(&state.store, req.path(), &origin).await {
        Ok(rule) => rule,
        Err(e) => {
            // Without its entries, no origin is admitted.
            tracing::error!(error = %e, "cannot read the CORS entries");
            None
        }
    };
    let Some(rule) = rule else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let value = |text: &str| HeaderValue::from_str(text).ok();
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut res = HttpResponse::NoContent();
        res.insert_header((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            rule.methods.join(", "),
        ));
        let headers = if rule.headers.trim() == "*" {
            req.headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        } else {
            rule.headers.clone()
        };
        if let Some(v) = value(&headers).filter(|v| !v.is_empty()) {
            res.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, v));
        }
        if rule.max_age > 0 {
            res.insert_header((header::ACCESS_CONTROL_MAX_AGE, rule.max_age.to_string()));
        }
        res.insert_header((
            header::VARY,
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ));
        let mut res = req.into_response(res.finish());
        label(res.headers_mut(), &rule, &origin);
        return Ok(res);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    label(headers, &rule, &origin);
    if let Some(v) = value(&rule.exposed).filter(|v| !v.is_empty()) {
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    Ok(res)
}

/// The headers every admitted response carries.
fn label(headers: &mut header::HeaderMap, rule: &crate::cors::Rule, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(rule.allow_origin(origin)) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    if rule.credentials {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
