//! SFM's FHIR API as OpenAPI, generated from its CapabilityStatement (`GET /sfm/fhir/metadata`),
//! as HAPI FHIR generates its own: a path per resource type and interaction, the search
//! parameters as query parameters, the operations with their `Parameters`. What the statement
//! says is what the router serves (the tests check both against the router).

use serde_json::{Map, Value, json};

/// The OpenAPI document of the FHIR API `statement` describes; its first server is
/// `statement.implementation.url`.
pub fn document(statement: &Value) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "/metadata".to_owned(),
        json!({"get": {
            "operationId": "capabilities",
            "tags": ["metadata"],
            "summary": "The CapabilityStatement: what this FHIR API serves (no token)",
            "security": [],
            "responses": {"200": fhir_response("the CapabilityStatement", "Resource")},
        }}),
    );
    let resources = statement["rest"][0]["resource"].as_array();
    for resource in resources.into_iter().flatten() {
        add_resource(&mut paths, resource);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "SFM FHIR API (helsesim)",
            "version": "1",
            "description": "SFM's FHIR R4 API as helsesim serves it, generated from its \
                CapabilityStatement: the tenant's Organization, Person, Practitioner and Patient, \
                $getMedication and $sendMedication, and Datadeling (patients named by patient \
                ticket). JSON only (application/fhir+json). Every call but metadata needs a \
                user's HelseID token for e-helse:sfm.api; its sfm-id or nhn:sfm:journal-id picks \
                the SFM instance.",
        },
        "servers": [
            {"url": statement["implementation"]["url"], "description": "helsesim"},
            {"url": "https://base-fhir.test2.forskrivning.no",
             "description": "the real service's test environment (Datadeling: \
                             https://datashare.test2.forskrivning.no)"},
        ],
        "security": [{"bearer": []}, {"dpop": []}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "dpop": {"type": "http", "scheme": "DPoP"},
            },
        },
    })
}

fn add_resource(paths: &mut Map<String, Value>, resource: &Value) {
    let Some(kind) = resource["type"].as_str() else {
        return;
    };
    let interactions: Vec<&str> = resource["interaction"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["code"].as_str())
        .collect();
    let has = |code: &str| interactions.contains(&code);
    let mut type_level = Map::new();
    if has("search-type") {
        type_level.insert("get".to_owned(), search(kind, resource));
    }
    if has("create") {
        type_level.insert("post".to_owned(), create(kind));
    }
    insert(paths, format!("/{kind}"), type_level);
    let mut instance = Map::new();
    if has("read") {
        instance.insert("get".to_owned(), read(kind));
    }
    if has("update") {
        instance.insert("put".to_owned(), update(kind));
    }
    insert(paths, format!("/{kind}/{{id}}"), instance);
    if has("vread") {
        let mut history = Map::new();
        history.insert("get".to_owned(), vread(kind));
        insert(paths, format!("/{kind}/{{id}}/_history/{{vid}}"), history);
    }
    for operation in resource["operation"].as_array().into_iter().flatten() {
        if let Some(name) = operation["name"].as_str() {
            let mut item = Map::new();
            item.insert("post".to_owned(), operation_post(kind, name));
            insert(paths, format!("/{kind}/${name}"), item);
        }
    }
}

fn insert(paths: &mut Map<String, Value>, path: String, item: Map<String, Value>) {
    if !item.is_empty() {
        paths.insert(path, Value::Object(item));
    }
}

fn fhir_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/fhir+json": {
            "schema": {"$ref": format!("#/components/schemas/{schema}")}
        }},
    })
}

/// The refusals every interaction may answer, as OperationOutcomes.
fn with_errors(ok: (&str, Value)) -> Value {
    let mut responses = Map::new();
    responses.insert(ok.0.to_owned(), ok.1);
    for (code, text) in [
        ("400", "a bad request: the OperationOutcome names what"),
        ("401", "no or a bad token"),
        (
            "403",
            "another instance's data, or an instance not created yet",
        ),
        ("404", "unknown resource or id"),
        ("406", "a format other than JSON"),
        ("409", "a conflict (the instance exists)"),
        ("412", "If-Match does not name the current version"),
        ("415", "not application/fhir+json"),
        (
            "422",
            "a business rule ($sendMedication's rules among them)",
        ),
    ] {
        responses.insert(code.to_owned(), fhir_response(text, "OperationOutcome"));
    }
    Value::Object(responses)
}

fn id_parameter() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

fn resource_body(kind: &str) -> Value {
    json!({"required": true, "content": {"application/fhir+json": {
        "schema": {"$ref": "#/components/schemas/Resource"},
        "example": {"resourceType": kind},
    }}})
}

/// One operation on `kind`: what every interaction's operation has, around what differs.
fn operation(
    kind: &str,
    id: String,
    summary: String,
    parameters: Vec<Value>,
    body: Option<Value>,
    ok: (&str, Value),
) -> Value {
    let mut operation = json!({
        "operationId": id,
        "tags": [kind],
        "summary": summary,
        "responses": with_errors(ok),
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = body {
        operation["requestBody"] = body;
    }
    operation
}

fn search(kind: &str, resource: &Value) -> Value {
    let mut parameters: Vec<Value> = resource["searchParam"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(json!({
                "name": p["name"].as_str()?,
                "in": "query",
                "description": format!("FHIR search parameter ({})",
                    p["type"].as_str().unwrap_or("token")),
                "schema": {"type": "string"},
            }))
        })
        .collect();
    parameters.push(json!({"name": "_count", "in": "query",
        "schema": {"type": "integer", "maximum": 100}, "description": "page size"}));
    parameters.push(json!({"name": "_offset", "in": "query",
        "schema": {"type": "integer", "minimum": 0}, "description": "where the page starts"}));
    let ok = ("200", fhir_response("a searchset Bundle", "Bundle"));
    operation(
        kind,
        format!("search{kind}"),
        format!("Search {kind}"),
        parameters,
        None,
        ok,
    )
}

fn create(kind: &str) -> Value {
    let prefer = json!({"name": "Prefer", "in": "header", "schema": {"type": "string"},
                        "description": "return=minimal, return=representation"});
    let created = json!({
        "description": "created: Location, ETag, the stored resource",
        "headers": {"Location": {"schema": {"type": "string"}},
                    "ETag": {"schema": {"type": "string"}}},
        "content": {"application/fhir+json": {
            "schema": {"$ref": "#/components/schemas/Resource"}}},
    });
    operation(
        kind,
        format!("create{kind}"),
        format!("Create a {kind}"),
        vec![prefer],
        Some(resource_body(kind)),
        ("201", created),
    )
}

fn read(kind: &str) -> Value {
    let ok = (
        "200",
        fhir_response("the resource (ETag, Last-Modified)", "Resource"),
    );
    operation(
        kind,
        format!("read{kind}"),
        format!("Read a {kind}"),
        vec![id_parameter()],
        None,
        ok,
    )
}

fn update(kind: &str) -> Value {
    let if_match = json!({"name": "If-Match", "in": "header", "schema": {"type": "string"},
        "description": "W/\"<version>\": refused (412) unless it is the current version"});
    operation(
        kind,
        format!("update{kind}"),
        format!("Update a {kind}"),
        vec![id_parameter(), if_match],
        Some(resource_body(kind)),
        ("200", fhir_response("the new version", "Resource")),
    )
}

fn vread(kind: &str) -> Value {
    let vid = json!({"name": "vid", "in": "path", "required": true, "schema": {"type": "string"}});
    operation(
        kind,
        format!("vread{kind}"),
        format!("Read one version of a {kind}"),
        vec![id_parameter(), vid],
        None,
        ("200", fhir_response("that version", "Resource")),
    )
}

fn operation_post(kind: &str, name: &str) -> Value {
    let parameters = json!({"required": true, "content": {"application/fhir+json": {
        "schema": {"$ref": "#/components/schemas/Parameters"}}}});
    operation(
        kind,
        name.to_owned(),
        format!("{kind}/${name}"),
        Vec::new(),
        Some(parameters),
        (
            "200",
            fhir_response("the operation's Parameters", "Parameters"),
        ),
    )
}

fn schemas() -> Value {
    json!({
        "Resource": {
            "type": "object",
            "description": "a FHIR R4 resource (JSON); SFM's profiles name the elements",
            "required": ["resourceType"],
            "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"},
                           "meta": {"type": "object"}},
            "additionalProperties": true,
        },
        "Bundle": {
            "type": "object",
            "required": ["resourceType", "type"],
            "properties": {
                "resourceType": {"const": "Bundle"},
                "type": {"type": "string"},
                "total": {"type": "integer"},
                "link": {"type": "array", "items": {"type": "object"}},
                "entry": {"type": "array", "items": {"type": "object", "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {"$ref": "#/components/schemas/Resource"},
                    "search": {"type": "object"}}}},
            },
            "additionalProperties": true,
        },
        "Parameters": {
            "type": "object",
            "required": ["resourceType"],
            "properties": {
                "resourceType": {"const": "Parameters"},
                "parameter": {"type": "array", "items": {"type": "object",
                    "required": ["name"], "properties": {"name": {"type": "string"}},
                    "additionalProperties": true}},
            },
        },
        "OperationOutcome": {
            "type": "object",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome"},
                "issue": {"type": "array", "items": {"type": "object",
                    "required": ["severity", "code"],
                    "properties": {"severity": {"type": "string"}, "code": {"type": "string"},
                                   "diagnostics": {"type": "string"}},
                    "additionalProperties": true}},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactions_become_operations() {
        let statement = json!({
            "implementation": {"url": "http://x/sfm/fhir"},
            "rest": [{"resource": [
                {"type": "Patient",
                 "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "update"}],
                 "searchParam": [{"name": "identifier", "type": "token"}],
                 "operation": [{"name": "getMedication"}]},
                {"type": "List", "interaction": [{"code": "search-type"}]},
            ]}],
        });
        let document = document(&statement);
        let paths = document["paths"].as_object().unwrap();
        let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "/List",
                "/Patient",
                "/Patient/$getMedication",
                "/Patient/{id}",
                "/metadata"
            ]
        );
        assert!(paths["/Patient/{id}"]["put"].is_object());
        assert!(paths["/Patient"]["post"].is_null(), "no create interaction");
        let query = &paths["/Patient"]["get"]["parameters"][0];
        assert_eq!(query["name"], "identifier");
        assert_eq!(document["servers"][0]["url"], "http://x/sfm/fhir");
    }
}
