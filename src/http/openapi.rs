//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the HTTP API, as written in
//! `docs/openapi.json` and embedded at compile time, so the binary always serves the document of
//! its own build. No token, no envelope, no rate limit: a client reads it before it can sign in.
//! `tests/openapi/run` checks the document against the live server with schemathesis.

use actix_web::http::header;
use actix_web::HttpResponse;

/// The document, byte for byte as committed.
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// The document as `application/json`; clients may cache it but should revalidate.
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::DOCUMENT;

    #[test]
    fn the_document_is_openapi_3_1_json() {
        let doc: serde_json::Value =
            serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(doc["paths"]["/api/v1/openapi.json"]["get"].is_object());
    }

    /// Every route `routes` registers, as `(method, path)`, read from this module's parent.
    fn registered_routes() -> Vec<(String, String)> {
        let source = include_str!("mod.rs");
        let routes = source.split("pub fn routes").nth(1).expect("fn routes");
        let mut found = Vec::new();
        let mut rest = routes;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let path = rest.split('"').nth(1).expect("a path literal");
            let method = rest
                .split("web::")
                .nth(1)
                .and_then(|m| m.split("()").next())
                .expect("web::<method>()");
            found.push((method.to_string(), path.to_string()));
        }
        found
    }

    #[test]
    fn the_document_describes_every_registered_route_and_no_other() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let routes = registered_routes();
        assert!(routes.len() > 20, "{routes:?}");
        for (method, path) in &routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{} {path} is registered but not in docs/openapi.json",
                method.to_uppercase()
            );
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(
            documented,
            routes.len(),
            "docs/openapi.json has routes the server lacks"
        );
    }
}
