//! The one place errors become HTTP: every stage's error converts into `ApiError`, whose
//! kind fixes the status and a stable name (logged, and later audited). The wire body is
//! DreamFactory's `{"error":{"code","context","message","status_code"}}`. Internal failures
//! are an opaque 500 carrying the request id; their cause goes only to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::auth::AuthError;
use crate::auth::accounts::AccountError;
use crate::query::PlanError;
use crate::query::exec::ExecError;
use crate::rbac::Denied;
use crate::request::RequestError;
use crate::services::ServiceError;
use crate::system::SystemError;

/// Error kinds with their status and stable name. Exhaustive: add a row for a new kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    NoCredentials,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Timeout,
    TooManyRequests,
    NotImplemented,
    Unavailable,
    Internal,
}

impl ErrorKind {
    /// (status, stable name).
    #[must_use]
    pub fn row(self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NoCredentials => (StatusCode::BAD_REQUEST, "no_credentials"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Conflict => (StatusCode::CONFLICT, "conflict"),
            Self::Timeout => (StatusCode::GATEWAY_TIMEOUT, "statement_timeout"),
            Self::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::NotImplemented => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub context: Value,
    /// DreamFactory's `code` when it differs from the status (1000 for batch errors).
    pub code: Option<u16>,
    /// Seconds to wait before retrying (`Retry-After`), for 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error of a kind with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            context: Value::Null,
            code: None,
            retry_after: None,
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// An internal failure: logs the cause, tells the client only that it happened.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            ErrorKind::Internal,
            "An internal error occurred. See the server log for this request's id.",
        )
    }

    /// The body and status.
    #[must_use]
    pub fn body(&self) -> Value {
        let (status, _) = self.kind.row();
        json!({"error": {
            "code": self.code.unwrap_or(status.as_u16()),
            "context": self.context,
            "message": self.message,
            "status_code": status.as_u16(),
        }})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.row().1)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.row().0
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(("X-Rampart-Error", self.kind.row().1));
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(self.body())
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::UnknownResource(_) => Self::not_found(e.to_string()),
            RequestError::Method(_) => Self::new(ErrorKind::MethodNotAllowed, e.to_string()),
            _ => Self::bad_request(e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NoCredentials => Self::new(ErrorKind::NoCredentials, e.to_string()),
            AuthError::InvalidApiKey
            | AuthError::InvalidToken
            | AuthError::ExpiredToken
            | AuthError::WrongAudience
            | AuthError::BadLogin => Self::new(ErrorKind::Unauthorized, e.to_string()),
            AuthError::InactiveApp | AuthError::Disabled => {
                Self::new(ErrorKind::Forbidden, e.to_string())
            }
            AuthError::ProviderUnavailable => Self::new(ErrorKind::Unavailable, e.to_string()),
            AuthError::Internal(_) | AuthError::System(_) => Self::internal(&e),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Auth(a) => a.into(),
            AccountError::System(s) => s.into(),
            AccountError::Invalid(_) => Self::bad_request(e.to_string()),
            AccountError::Throttled(seconds) => Self {
                retry_after: Some(seconds),
                ..Self::new(ErrorKind::TooManyRequests, e.to_string())
            },
            AccountError::NoMail => Self::new(ErrorKind::NotImplemented, e.to_string()),
            AccountError::RegistrationClosed => Self::new(ErrorKind::Forbidden, e.to_string()),
            AccountError::BadCode => Self::new(ErrorKind::Unauthorized, e.to_string()),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        Self::new(ErrorKind::Forbidden, e.to_string())
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::BadValue(_) | ExecError::Constraint(_) => Self::bad_request(e.to_string()),
            ExecError::Timeout => Self::new(ErrorKind::Timeout, e.to_string()),
            ExecError::Privilege => Self::new(ErrorKind::Forbidden, e.to_string()),
            ExecError::Unavailable(_) => {
                tracing::warn!(error = ?e, "service database unavailable");
                Self::new(ErrorKind::Unavailable, e.to_string())
            }
            ExecError::Database(_) | ExecError::Decode(_) => Self::internal(&e),
            ExecError::Unsupported(_) | ExecError::TooMany { .. } => {
                Self::bad_request(e.to_string())
            }
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Config(_) | ServiceError::NotDatabase(_) => {
                Self::bad_request(e.to_string())
            }
            ServiceError::Connect(_) | ServiceError::Introspect(_) => {
                Self::new(ErrorKind::Unavailable, e.to_string())
            }
        }
    }
}

impl From<SystemError> for ApiError {
    fn from(e: SystemError) -> Self {
        match e {
            SystemError::NotFound { .. } => Self::not_found(e.to_string()),
            SystemError::Invalid(_) | SystemError::Duplicate(_) => Self::bad_request(e.to_string()),
            _ => Self::internal(&e),
        }
    }
}

impl actix_web::Responder for ApiError {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.error_response()
    }
}

impl From<crate::query::write::WriteError> for ApiError {
    fn from(e: crate::query::write::WriteError) -> Self {
        if e.is_forbidden() {
            Self::new(ErrorKind::Forbidden, e.to_string())
        } else {
            Self::bad_request(e.to_string())
        }
    }
}

impl From<crate::query::exec::OpError> for ApiError {
    fn from(e: crate::query::exec::OpError) -> Self {
        use crate::query::exec::OpError;
        match e {
            OpError::Refused(w) => w.into(),
            OpError::NotFound(_) => Self::not_found(e.to_string()),
            OpError::RowFilter => Self::new(ErrorKind::Forbidden, e.to_string()),
            OpError::Exec(x) => x.into(),
        }
    }
}
