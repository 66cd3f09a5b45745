//! The `/api/v1` route table and the OpenAPI document generated from it.
//!
//! [`routes`] is the one list of the API's handlers: the router is built from it and so is the
//! document (`GET /api/v1/openapi.json`), each handler's operation taken from its
//! `#[utoipa::path]` annotation. A handler added to the table is served and documented; one
//! served but not in the table cannot exist. Adding a handler is one line:
//! `route!(module::handler, module::__path_handler)` (the second name is the struct
//! `#[utoipa::path]` generates next to the handler).

use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};
use axum::Json;
use utoipa::openapi::path::{HttpMethod, Operation, Paths};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, RefOr};

use super::AdminState;

/// One route of the API: where, which methods, its documentation and its handler.
pub struct ApiRoute {
    pub path: String,
    pub methods: Vec<HttpMethod>,
    operation: Operation,
    schemas: Vec<(String, RefOr<Schema>)>,
    pub router: MethodRouter<AdminState>,
}

impl ApiRoute {
    /// The route of `handler`, documented by `D` (its `#[utoipa::path]` struct).
    pub fn new<D, H, T>(handler: H) -> ApiRoute
    where
        D: utoipa::Path + utoipa::__dev::SchemaReferences,
        H: Handler<T, AdminState>,
        T: 'static,
    {
        let methods = D::methods();
        let filter = methods
            .iter()
            .map(filter)
            .reduce(MethodFilter::or)
            .unwrap_or(MethodFilter::GET);
        let mut schemas = Vec::new();
        D::schemas(&mut schemas);
        ApiRoute {
            // utoipa writes `{tenant}`, as axum 0.8 does.
            path: D::path(),
            methods,
            operation: D::operation(),
            schemas,
            router: axum::routing::on(filter, handler),
        }
    }
}

fn filter(method: &HttpMethod) -> MethodFilter {
    match method {
        HttpMethod::Get => MethodFilter::GET,
        HttpMethod::Post => MethodFilter::POST,
        HttpMethod::Put => MethodFilter::PUT,
        HttpMethod::Delete => MethodFilter::DELETE,
        HttpMethod::Patch => MethodFilter::PATCH,
        HttpMethod::Head => MethodFilter::HEAD,
        HttpMethod::Options => MethodFilter::OPTIONS,
        HttpMethod::Trace => MethodFilter::TRACE,
    }
}

/// `route!(module::handler, module::__path_handler)`: one entry of [`routes`].
macro_rules! route {
    ($handler:path, $doc:ty) => {
        ApiRoute::new::<$doc, _, _>($handler)
    };
}

/// Every `/api/v1` route (the document itself included).
pub fn routes() -> Vec<ApiRoute> {
    use super::complaints;
    use super::{api_tokens, blocks, dns_records, domains, logs, suppression, tenants, usage};
    vec![
        route!(openapi_json, __path_openapi_json),
        route!(tenants::list, tenants::__path_list),
        route!(tenants::show, tenants::__path_show),
        route!(tenants::create, tenants::__path_create),
        route!(tenants::patch, tenants::__path_patch),
        route!(tenants::delete, tenants::__path_delete),
        route!(tenants::set_credentials, tenants::__path_set_credentials),
        route!(usage::get, usage::__path_get),
        route!(logs::events, logs::__path_events),
        route!(logs::audit, logs::__path_audit),
        route!(blocks::list, blocks::__path_list),
        route!(blocks::add, blocks::__path_add),
        route!(blocks::lift, blocks::__path_lift),
        route!(blocks::tenant_list, blocks::__path_tenant_list),
        route!(blocks::tenant_add, blocks::__path_tenant_add),
        route!(blocks::tenant_lift, blocks::__path_tenant_lift),
        route!(domains::list, domains::__path_list),
        route!(domains::add, domains::__path_add),
        route!(domains::verify, domains::__path_verify),
        route!(domains::mark_verified, domains::__path_mark_verified),
        route!(dns_records::get, dns_records::__path_get),
        route!(suppression::list, suppression::__path_list),
        route!(suppression::add, suppression::__path_add),
        route!(suppression::remove, suppression::__path_remove),
        route!(api_tokens::list, api_tokens::__path_list),
        route!(api_tokens::issue, api_tokens::__path_issue),
        route!(api_tokens::revoke, api_tokens::__path_revoke),
        route!(super::backup::create, super::backup::__path_create),
        // Complaint ladders: summary and case resolution.
        route!(super::complaint_summary::get, super::complaint_summary::__path_get),
        route!(
            super::complaint_resolve::resolve,
            super::complaint_resolve::__path_resolve
        ),
        // Complaint intake (issue 17).
        route!(complaints::post, complaints::__path_post),
        route!(complaints::list, complaints::__path_list),
        route!(complaints::show, complaints::__path_show),
    ]
}

/// The OpenAPI document of `routes`.
pub fn document(routes: &[ApiRoute]) -> OpenApi {
    let mut paths = Paths::new();
    let mut components = ComponentsBuilder::new();
    for route in routes {
        paths.add_path_operation(&route.path, route.methods.clone(), route.operation.clone());
        for (name, schema) in &route.schemas {
            components = components.schema(name.clone(), schema.clone());
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("aupgate admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Tenants' usage, logs, blocks, domains and suppression lists. Every request carries \
                     `Authorization: Bearer <token>`; a tenant sees only its own tenant (404 elsewhere).",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// `GET /api/v1/openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")),
    tag = "meta"
)]
pub async fn openapi_json() -> Json<OpenApi> {
    Json(document(&routes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves is in the document, with each of its methods, and the
    /// document names no route the router does not serve.
    #[test]
    fn every_route_is_documented() {
        let routes = routes();
        let document = document(&routes);
        let mut served: Vec<(String, String)> = Vec::new();
        for route in &routes {
            assert!(route.path.starts_with("/api/v1/"), "{}", route.path);
            for method in &route.methods {
                let name = serde_json::to_value(method).expect("method serialises");
                served.push((route.path.clone(), name.as_str().expect("a name").to_lowercase()));
            }
        }
        let json = serde_json::to_value(&document).expect("document serialises");
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in json["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                documented.push((path.clone(), method.clone()));
            }
        }
        served.sort();
        documented.sort();
        assert_eq!(served, documented);
        // The schemas the operations reference are in the document.
        for name in [
            "Usage",
            "Block",
            "AuditRecord",
            "Suppression",
            "DomainRecords",
            "ApiError",
        ] {
            assert!(json["components"]["schemas"].get(name).is_some(), "schema {name}");
        }
    }
}
