//! The analysts' page, embedded in the binary (no CDN: it works offline and cannot drift from the
//! API it calls). A strict Content-Security-Policy allows only these assets.

use axum::http::header;
use axum::response::IntoResponse;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
}

/// The analysts' page (HTML; its script and style sheet are served under /ui/).
#[utoipa::path(get, path = "/", responses((status = 200, description = "The analysts' page", content_type = "text/html")))]
pub(super) async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", include_str!("ui/index.html"))
}

pub(super) async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", include_str!("ui/app.js"))
}

pub(super) async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", include_str!("ui/app.css"))
}
