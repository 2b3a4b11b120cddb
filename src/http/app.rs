//! `/` and the phone app's other files (`/assets/*`, `/sw.js`, `/manifest.webmanifest`,
//! `/icons/*`), served from the copies embedded at build time ([`crate::web_assets`]): the best
//! encoding the client accepts, an `ETag` per copy (`If-None-Match` → 304), `Cache-Control`
//! (`immutable` for hashed assets, `no-cache` for the rest) and the app's CSP. They need no token:
//! auth applies to the API. Every other path that reaches the default service, and everything
//! under `/api/`, is `not_found` in the envelope: routing is in the URL fragment, so the app never
//! needs `index.html` served for another path.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

use crate::web_assets::{none_match, EmbeddedFile};

/// The Content-Security-Policy of the app's files: its own scripts, styles, images, manifest,
/// worker and connections only; no inline code, no eval, no framing.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; \
base-uri 'none'; frame-ancestors 'none'; form-action 'self'; object-src 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

/// The default service: an embedded file for `GET` and `HEAD` of its path, else `not_found`.
pub async fn app_or_not_found(req: HttpRequest) -> Result<HttpResponse, super::envelope::ApiError> {
    let readable = req.method() == Method::GET || req.method() == Method::HEAD;
    let file = (readable && !req.path().starts_with("/api/"))
        .then(|| EmbeddedFile::find(req.path()))
        .flatten();
    match file {
        Some(file) => Ok(serve(&req, file)),
        None => Err(super::no_route(&req)),
    }
}

/// One embedded file, in the encoding the request accepts.
fn serve(req: &HttpRequest, file: &'static EmbeddedFile) -> HttpResponse {
    let accept_encoding = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (encoding, bytes) = file.negotiate(accept_encoding);
    let etag = file.etag(encoding);
    let cache = if file.immutable() {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| none_match(value, &etag));
    let status = if unchanged {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(APP_CSP),
        ));
    if unchanged {
        return response.finish();
    }
    if let Some(name) = encoding.header() {
        response.insert_header((header::CONTENT_ENCODING, name));
    }
    response
        .insert_header((header::CONTENT_TYPE, file.content_type))
        .body(bytes)
}
