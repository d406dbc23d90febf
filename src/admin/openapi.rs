//! `GET /_admin/openapi.json`: the control plane described as OpenAPI 3.1, for tools and for
//! generating a test client.

use actix_web::HttpResponse;
use serde_json::{Value, json};

use crate::service::Service;

fn op(summary: &str, body: Option<Value>, responses: &[(&str, &str)]) -> Value {
    let mut operation = json!({
        "summary": summary,
        "responses": responses
            .iter()
            .map(|(code, description)| ((*code).to_owned(), json!({"description": description})))
            .collect::<serde_json::Map<String, Value>>(),
    });
    if let Some(schema) = body {
        operation["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": schema}}});
    }
    operation
}

fn id_param(name: &str) -> Value {
    json!([{"name": name, "in": "path", "required": true, "schema": {"type": "string"}}])
}

/// The document.
pub fn document() -> Value {
    let mut journal_services: Vec<&str> = Service::names().to_vec();
    journal_services.push("none");
    let entry = json!({"type": "object", "description": "one entry of the fixture file, validated the same way"});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "helsesim control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Drive helsesim from tests and demos. Errors are {\"error\", \"message\"}. With HELSESIM_ADMIN_TOKEN set, send Authorization: Bearer <token>."
        },
        "components": {"securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"adminToken": []}],
        "paths": {
            "/_admin/reset": {"post": op("Every service back to the fixtures (keys, clock, faults and journal stay)", None, &[("200", "{reset, took_ms}")])},
            "/_admin/state": {
                "get": op("The whole state as one versioned document (format helsesim-state, version 1): clock offset, HelseID clients/users/logins, SFM, the national systems, kjernejournal (with its ticket key), PTS", None, &[("200", "the state document")]),
                "put": op("Replace the whole state with a document from GET (validated completely first; on error nothing changes)", Some(json!({
                    "type": "object", "required": ["format", "version", "helseid", "sfm", "national", "kjernejournal", "pts"],
                    "properties": {"format": {"const": "helsesim-state"}, "version": {"const": 1}, "clock": {"type": "object", "properties": {"offset_ms": {"type": "integer"}}}}
                })), &[("200", "{imported, clients, users, sfm_tenants, national_patients, kjernejournal_organisations, pts_restrictions, clock}"), ("400", "invalid_state"), ("415", "unsupported_media_type")])
            },
            "/_admin/clock": {
                "get": op("The simulation's now and offset", None, &[("200", "{now, offset_seconds}")]),
                "post": op("Advance (ISO 8601 duration), set or reset the clock", Some(json!({
                    "oneOf": [
                        {"type": "object", "required": ["advance"], "properties": {"advance": {"type": "string", "examples": ["PT4H1M"], "description": "an ISO 8601 duration; the clock stays from 1900-01-01T00:00:00Z to 9000-12-31T23:59:59Z"}}},
                        {"type": "object", "required": ["set"], "properties": {"set": {"type": "string", "format": "date-time"}}},
                        {"type": "object", "required": ["reset"], "properties": {"reset": {"const": true}}}
                    ]
                })), &[("200", "{now, offset_seconds}"), ("400", "invalid_request")])
            },
            "/_admin/tokens": {"post": op("Mint a test access token, good or deliberately broken", Some(json!({
                "type": "object", "required": ["client_id", "audience"],
                "properties": {
                    "client_id": {"type": "string"}, "audience": {"type": "string"},
                    "scope": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "user": {"type": "string", "description": "a fixture user's pid"},
                    "organization": {"type": "object", "properties": {"parent": {"type": "string"}, "child": {"type": "string"}}},
                    "journal_id": {"type": "string"}, "dpop_jkt": {"type": "string"},
                    "expires_in": {"type": "integer"}, "claims": {"type": "object"},
                    "broken": {"enum": super::tokens::BrokenToken::names()}
                }
            })), &[("200", "{access_token, token_type, expires_in, claims}"), ("400", "invalid_request")])},
            "/_admin/requests": {
                "get": {
                    "summary": "The request journal, newest first (secrets redacted)",
                    "parameters": [
                        {"name": "service", "in": "query", "schema": {"enum": journal_services}},
                        {"name": "status", "in": "query", "schema": {"type": "string", "examples": ["401", "4xx"]}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 100}}
                    ],
                    "responses": {"200": {"description": "{requests: [{id, time, service, method, path, status, latency_ms, request_body, response_body, token, reason}]}"}}
                },
                "delete": op("Clear the journal", None, &[("204", "cleared")])
            },
            "/_admin/faults": {
                "get": op("The fault rules", None, &[("200", "{faults: [...]}")]),
                "post": op("Add a fault rule", Some(json!({
                    "type": "object", "required": ["path"],
                    "properties": {
                        "service": {"enum": Service::names()},
                        "method": {"type": "string"}, "path": {"type": "string", "description": "a glob: * is one path segment, ** any depth"},
                        "status": {"type": "integer", "minimum": 200, "maximum": 599, "description": "no body with 204 or 304"}, "body": {}, "delay_ms": {"type": "integer", "minimum": 0, "maximum": 600000},
                        "drop_connection": {"type": "boolean"}, "probability": {"type": "number"},
                        "times": {"type": "integer"}
                    }
                })), &[("201", "the rule with its id"), ("400", "invalid_request")]),
                "delete": op("Remove every fault rule", None, &[("204", "removed")])
            },
            "/_admin/faults/{id}": {"parameters": id_param("id"), "delete": op("Remove a fault rule", None, &[("204", "removed"), ("404", "not_found")])},
            "/_admin/helseid/clients": {
                "get": op("The HelseID clients", None, &[("200", "client entries")]),
                "post": op("Add or replace a client", Some(entry.clone()), &[("201", "added"), ("200", "replaced"), ("400", "invalid_client_entry")])
            },
            "/_admin/helseid/clients/{client_id}": {
                "parameters": id_param("client_id"),
                "get": op("One client", None, &[("200", "the client entry"), ("404", "not_found")]),
                "delete": op("Remove a client", None, &[("204", "removed"), ("404", "not_found")])
            },
            "/_admin/helseid/users": {
                "get": op("The test users", None, &[("200", "user entries")]),
                "post": op("Add or replace a test user", Some(entry.clone()), &[("201", "added"), ("200", "replaced"), ("400", "invalid_user_entry")])
            },
            "/_admin/helseid/users/{pid}": {"parameters": id_param("pid"), "delete": op("Remove a test user", None, &[("204", "removed"), ("404", "not_found")])},
            "/_admin/sfm/tenants": {"post": op("Add or replace an SFM instance", Some(entry.clone()), &[("201", "added"), ("200", "replaced"), ("400", "invalid_tenant_entry")])},
            "/_admin/sfm/national": {"post": op("Add or replace a patient of the national systems", Some(entry), &[("201", "added"), ("200", "replaced"), ("400", "invalid_patient_entry")])},
            "/_admin/sfm/messages": {"get": {
                "summary": "The M1/M5/M25.1 messages SFM sent",
                "parameters": [
                    {"name": "patient", "in": "query", "schema": {"type": "string"}},
                    {"name": "type", "in": "query", "schema": {"enum": ["M1", "M5", "M25.1"]}}
                ],
                "responses": {"200": {"description": "{messages: [...]}"}}
            }},
            "/_admin/overview": {"get": op("What the dashboard at / shows: services with base URLs and config snippets, clients with a helsesim token command per API, test users, SFM instances, patients (kjernejournal status, valid tickets, medication), the clock and settings", None, &[("200", "{version, base_url, clock, services, tools, clients, users, tenants, patients, settings}")])},
            "/_admin/openapi.json": {"get": op("This document", None, &[("200", "OpenAPI 3.1")])}
        }
    })
}

/// `GET /_admin/openapi.json`.
pub async fn get() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
