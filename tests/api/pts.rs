//! PTS: the spec's examples posted as printed, every validation row with its exact message,
//! the associate-parent computation to the microsecond, DPoP-only authentication, and
//! restrictions shared across organisations (with who created and changed each).

use chrono::{DateTime, Utc};
use helsesim::jose::sha256_b64url;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const BASE: &str = "/pts/access-restrictions/patient-safety";

/// The spec's examples, exactly as printed (trailing commas included), from examples/pts/.
pub(crate) const ADD_REKVISISJON: &str = include_str!("../../examples/pts/add-rekvisisjon.json");

const ASSOCIATE_SVARRAPPORT: &str = include_str!("../../examples/pts/associate-svarrapport.json");

const UPDATE_SVARRAPPORT: &str = include_str!("../../examples/pts/update-svarrapport.json");

const REMOVE_SVARRAPPORT: &str = include_str!("../../examples/pts/remove-svarrapport.json");

const ADD_NORN_FFL: &str = include_str!("../../examples/pts/add-norn-ffl.json");

const SEARCH_OBJECT: &str = include_str!("../../examples/pts/search.json");

const SEARCH_APPLICABLE: &str = include_str!("../../examples/pts/search-applicable.json");

/// A caller: a DPoP key and the token bound to it.
pub(crate) struct Caller {
    key: TestKey,
    token: String,
}

impl Caller {
    /// The pts client (organisation 922222223).
    pub(crate) async fn pts(app: &TestApp) -> Self {
        let key = TestKey::ec("P-256");
        let token = app.dpop_token(PTS, "nhn:pts/api", &key).await;
        Self { key, token }
    }

    /// The multi-tenant client acting for another organisation.
    async fn other_organisation(app: &TestApp) -> Self {
        let key = TestKey::ec("P-256");
        let scope = "nhn:pts/api";
        let assertion = || {
            Assertion::new(app, MULTI_TENANT)
                .multi_tenant_org("NO:ORGNR:917897468")
                .sign()
        };
        let proof = Proof::token(app, &key).sign();
        let reply = app
            .client_credentials(MULTI_TENANT, scope, &assertion(), &[("DPoP", &proof)])
            .await;
        let nonce = reply.header("dpop-nonce").unwrap().to_owned();
        let proof = Proof::token(app, &key).nonce(&nonce).sign();
        let reply = app
            .client_credentials(MULTI_TENANT, scope, &assertion(), &[("DPoP", &proof)])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let token = reply.json["access_token"].as_str().unwrap().to_owned();
        Self { key, token }
    }

    /// POSTs a body as printed to a PTS path, with the token and a fresh proof.
    pub(crate) async fn post(&self, app: &TestApp, path: &str, body: &str) -> Reply {
        let url = app.url(&format!("{BASE}{path}"));
        self.try_post(app, &url, body).await.unwrap()
    }

    /// POSTs a body to a PTS URL; `None` when no answer came (connection refused or cut).
    pub(crate) async fn try_post(&self, app: &TestApp, url: &str, body: &str) -> Option<Reply> {
        let proof = Proof::new(app, &self.key, "POST", url)
            .claim("ath", json!(sha256_b64url(&self.token)))
            .sign();
        let response = app
            .http
            .post(url)
            .header("Authorization", format!("DPoP {}", self.token))
            .header("DPoP", proof)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .ok()?;
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.ok()?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Some(Reply {
            status,
            headers,
            json,
            text,
        })
    }
}

/// An app whose clock stands at 2024-01-05, the time of the spec's examples.
async fn spec_app() -> TestApp {
    let app = spawn_app().await;
    app.clock.set(at("2024-01-05T08:00:00Z")).unwrap();
    app
}

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// Asserts an ASP.NET validation problem with exactly these messages.
#[track_caller]
fn assert_invalid(reply: &Reply, errors: Value) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        reply.json,
        json!({
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "errors": errors
        })
    );
}

/// A restriction's view without the server's id and timestamps.
fn core(view: &Value) -> Value {
    let mut v = view.clone();
    for key in ["id", "created", "lastUpdated"] {
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

#[actix_web::test]
async fn the_specs_example_sequence_runs_as_printed() {
    let app = spec_app().await;
    let pts = Caller::pts(&app).await;
    let rekvisisjon =
        json!({"type": "Rekvisisjon", "value": "5ede44e1-3b3c-45f2-9f49-cf73c1d7e5fc"});
    let svarrapport =
        json!({"type": "Svarrapport", "value": "49b2c6af-9edc-487d-bf34-97874ca8d483"});

    // 1. The parent (Rekvisisjon) with 14 days.
    let reply = pts.post(&app, "", ADD_REKVISISJON).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        core(&reply.json),
        json!({
            "patientSafetyObject": {"person": {"offId": "12345678901"},
                                    "confidentialObjectId": rekvisisjon,
                                    "parentConfidentialObjectId": null},
            "confidentialityCode": "NORU", "delayDeliveryUntil": null, "delayDays": 14,
            "delayFromTime": null,
            "organizationNumber": "922222223", "lastUpdatedByOrganizationNumber": "922222223"
        })
    );
    assert_eq!(reply.json["created"], "2024-01-05T08:00:00Z");
    let parent_id = reply.json["id"].as_str().unwrap().to_owned();

    // 2. The sibling (Svarrapport): 2024-01-04T20:50:20.908216Z + 14 days, to the microsecond.
    let reply = pts
        .post(&app, "/associate-parent", ASSOCIATE_SVARRAPPORT)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        core(&reply.json),
        json!({
            "patientSafetyObject": {"person": {"offId": "12345678901"},
                                    "confidentialObjectId": svarrapport,
                                    "parentConfidentialObjectId": rekvisisjon},
            "confidentialityCode": "NORU", "delayDeliveryUntil": "2024-01-18T20:50:20.908216Z",
            "delayDays": null,
            "delayFromTime": "2024-01-04T20:50:20.908216Z", "organizationNumber": "922222223",
            "lastUpdatedByOrganizationNumber": "922222223"
        })
    );
    let sibling_id = reply.json["id"].as_str().unwrap().to_owned();
    assert_ne!(sibling_id, parent_id);

    // 3. The sibling updated to three days later: the same restriction.
    advance(&app, 60);
    let reply = pts.post(&app, "", UPDATE_SVARRAPPORT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["id"], sibling_id.as_str());
    assert_eq!(
        reply.json["delayDeliveryUntil"],
        "2024-01-21T20:50:20.908216Z"
    );
    assert_eq!(reply.json["delayFromTime"], Value::Null);
    assert_eq!(reply.json["created"], "2024-01-05T08:00:00Z");
    assert_eq!(reply.json["lastUpdated"], "2024-01-05T08:01:00Z");

    // 4. Removing a restriction with code N (this Svarrapport never had one: still fine).
    let reply = pts.post(&app, "", REMOVE_SVARRAPPORT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["confidentialityCode"], "N");
    assert_eq!(reply.json["delayDeliveryUntil"], Value::Null);
    assert_eq!(reply.json["id"], Value::Null);

    // 5. NORN_FFL: delayed for ever (.NET's DateTime.MaxValue).
    let reply = pts.post(&app, "", ADD_NORN_FFL).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["confidentialityCode"], "NORN_FFL");
    assert_eq!(
        reply.json["delayDeliveryUntil"],
        "9999-12-31T23:59:59.9999999Z"
    );

    // 6. The search examples.
    let reply = pts.post(&app, "/_search", SEARCH_OBJECT).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json, json!([]), "that Svarrapport has no restriction");
    let ids = |reply: &Reply| -> Vec<String> {
        reply
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["patientSafetyObject"]["confidentialObjectId"]["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let all = [
        "5ede44e1-3b3c-45f2-9f49-cf73c1d7e5fc",
        "49b2c6af-9edc-487d-bf34-97874ca8d483",
        "509af0f7-9794-4b62-b296-cfb4de43b917",
    ];
    let reply = pts.post(&app, "/_search", SEARCH_APPLICABLE).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(ids(&reply), all);
    // By object and by parent.
    let reply = pts
        .post(
            &app,
            "/_search",
            &json!({"offId": "12345678901", "confidentialObjectId": svarrapport}).to_string(),
        )
        .await;
    assert_eq!(ids(&reply), [all[1]]);
    let reply = pts
        .post(
            &app,
            "/_search",
            &json!({"offId": "12345678901", "parentConfidentialObjectId": rekvisisjon}).to_string(),
        )
        .await;
    assert_eq!(ids(&reply), [all[1]]);

    // 7. After 2024-01-21T20:50:20.908216Z the Svarrapport's delay is over: not applicable.
    // (Tokens live minutes: the caller gets a new one after each jump.)
    app.clock.set(at("2024-01-21T20:50:20.908215Z")).unwrap();
    let pts = Caller::pts(&app).await;
    let reply = pts.post(&app, "/_search", SEARCH_APPLICABLE).await;
    assert_eq!(ids(&reply), all, "one microsecond before");
    app.clock.set(at("2024-01-21T20:50:20.908216Z")).unwrap();
    let reply = pts.post(&app, "/_search", SEARCH_APPLICABLE).await;
    assert_eq!(ids(&reply), [all[0], all[2]]);
    // Without ApplicableOnly every restriction is listed.
    let reply = pts
        .post(
            &app,
            "/_search",
            r#"{"OFFID": "12345678901", "applicableonly": false}"#,
        )
        .await;
    assert_eq!(ids(&reply), all);
    // README's PTS walkthrough is this sequence: a well-behaved client, nothing to advise.
    crate::advice::assert_no_findings(&app).await;
}

fn request(code: &str, extra: Value) -> String {
    let mut body = json!({
        "patientSafetyObject": {
            "person": {"offId": "12345678901"},
            "confidentialObjectId": {"type": "Svarrapport",
                                     "value": "1b8a4e52-8f3e-4c1a-9a57-3c0f6d2e9b11"}
        },
        "confidentialityCode": code
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string()
}

#[actix_web::test]
async fn every_validation_row_has_the_specs_message() {
    let app = spec_app().await;
    let pts = Caller::pts(&app).await;
    let future = "2024-02-01T00:00:00Z";
    let cases = [
        (
            request("N", json!({"delayDeliveryUntil": future})),
            json!({
                "DelayDeliveryUntil": ["DelayDeliveryUntil cannot be specified with \
                                        ConfidentialityCode N"]
            }),
        ),
        (
            request("N", json!({"delayDays": 14})),
            json!({"DelayDays": ["DelayDays cannot be specified with ConfidentialityCode N"]}),
        ),
        (
            request("NORN_KUT", json!({"delayDeliveryUntil": future})),
            json!({
                "ConfidentialityCode": ["DelayDeliveryUntil and DelayDays must be null for \
                                         confidentialityCode NORN. DelayDeliveryUntil will be set \
                                         by the service"]
            }),
        ),
        (
            request("NORN_EPO", json!({"delayDays": 3})),
            json!({
                "ConfidentialityCode": ["DelayDeliveryUntil and DelayDays must be null for \
                                         confidentialityCode NORN. DelayDeliveryUntil will be set \
                                         by the service"]
            }),
        ),
        (
            request("NORU", json!({})),
            json!({
                "ConfidentialityCode": ["DelayDeliveryUntil or DelayDays must have values for \
                                         confidentialityCode NORU"]
            }),
        ),
        (
            request(
                "NORS",
                json!({"delayDeliveryUntil": "2024-01-05T07:59:59Z"}),
            ),
            json!({
                "DelayDeliveryUntil": ["DelayDeliveryUntil must be set to a value in the future"]
            }),
        ),
        (
            request("NORU", json!({"delayDays": 0})),
            json!({"DelayDays": ["DelayDays must be a positive value"]}),
        ),
        (
            request("NORU", json!({"delayDays": -2})),
            json!({"DelayDays": ["DelayDays must be a positive value"]}),
        ),
        (
            request(
                "NORU",
                json!({"delayFromTime": "2024-01-04T20:50:20.908216Z"}),
            ),
            json!({
                "ParentConfidentialObjectId": ["Parent Confidential Object must be specified when \
                                                DelayFromTime is specified"]
            }),
        ),
        (
            request(
                "NORU",
                json!({"delayDays": 14, "delayDeliveryUntil": future}),
            ),
            json!({
                "DelayDeliveryUntil": ["Only one of DelayDeliveryUntil, DelayDays or DelayFromTime \
                                        can be specified"]
            }),
        ),
        (
            request("NORX", json!({"delayDays": 14})),
            json!({
                "ConfidentialityCode": ["'NORX' is not a valid ConfidentialityCode (Volven 9603): \
                                         N, NORU, NORS, NORN_FFL, NORN_KUT, NORN_EPO, NORN_ALL, \
                                         NORN_FOR, NORN_FORANS, NORN_UNGDOM, NORN_FFH, NORN_FPB, \
                                         NORN_DUP, NORN_ANG"]
            }),
        ),
        (
            request("NORU", json!({"delayDeliveryUntil": "01.02.2024"})),
            json!({
                "$.delayDeliveryUntil": ["The JSON value could not be converted to \
                                          System.DateTime. Path: $.delayDeliveryUntil"]
            }),
        ),
        (
            request("NORU", json!({"delayDays": "14"})),
            json!({
                "$.delayDays": ["The JSON value could not be converted to System.Int32. Path: \
                                 $.delayDays"]
            }),
        ),
        (
            json!({
                "patientSafetyObject": {
                    "person": {}, "confidentialObjectId": {"type": "Svarrapport"}
                }
            })
            .to_string(),
            json!({
                "ConfidentialityCode": ["The ConfidentialityCode field is required."],
                "PatientSafetyObject.ConfidentialObjectId.Value": ["The Value field is required."],
                "PatientSafetyObject.Person.OffId": ["The OffId field is required."]
            }),
        ),
        (
            json!({"confidentialityCode": "NORU", "delayDays": 14}).to_string(),
            json!({"PatientSafetyObject": ["The PatientSafetyObject field is required."]}),
        ),
        (
            request(
                "NORU",
                json!({
                    "delayDays": 14,
                    "patientSafetyObject": {
                        "person": {"offId": "123"},
                        "confidentialObjectId": {"type": "Svarrapport", "value": "x"}
                    }
                }),
            ),
            json!({
                "PatientSafetyObject.Person.OffId": ["OffId must be a national identity number of \
                                                      11 digits, got '123'"]
            }),
        ),
    ];
    for (body, errors) in cases {
        let reply = pts.post(&app, "", &body).await;
        assert_invalid(&reply, errors);
    }
    // Malformed JSON.
    let reply = pts.post(&app, "", "{\"confidentialityCode\": ").await;
    assert_invalid(
        &reply,
        json!({"$": ["The body is not valid JSON: EOF while parsing a value at line 1 column 24"]}),
    );
    // Nothing was stored by any of them.
    let reply = pts
        .post(&app, "/_search", r#"{"offId": "12345678901"}"#)
        .await;
    assert_eq!(reply.json, json!([]));
    // The search needs offId.
    let reply = pts
        .post(&app, "/_search", r#"{"applicableOnly": true}"#)
        .await;
    assert_invalid(&reply, json!({"OffId": ["The OffId field is required."]}));
    // Associate needs the parent.
    let reply = pts
        .post(
            &app,
            "/associate-parent",
            &json!({
                "patientSafetyObject": {
                    "person": {"offId": "12345678901"},
                    "confidentialObjectId": {"type": "Svarrapport", "value": "s"}
                }
            })
            .to_string(),
        )
        .await;
    assert_invalid(
        &reply,
        json!({
            "PatientSafetyObject.ParentConfidentialObjectId": [
                "The ParentConfidentialObjectId field is required."
            ]
        }),
    );
    // With a delayFromTime, the spec's own message (issue 13).
    let reply = pts
        .post(
            &app,
            "/associate-parent",
            &json!({
                "patientSafetyObject": {
                    "person": {"offId": "12345678901"},
                    "confidentialObjectId": {"type": "Svarrapport", "value": "s"}
                },
                "delayFromTime": "2024-01-04T20:50:20.908216Z"
            })
            .to_string(),
        )
        .await;
    assert_invalid(
        &reply,
        json!({
            "ParentConfidentialObjectId": ["Parent Confidential Object must be specified when \
                                            DelayFromTime is specified"]
        }),
    );
}

#[actix_web::test]
async fn delays_from_a_parent_and_unrestricted_parents() {
    let app = spec_app().await;
    let pts = Caller::pts(&app).await;
    // A sibling of a parent without a restriction is not restricted either.
    let reply = pts
        .post(&app, "/associate-parent", ASSOCIATE_SVARRAPPORT)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["confidentialityCode"], "N");
    assert_eq!(reply.json["delayDeliveryUntil"], Value::Null);
    // delayFromTime on the main endpoint needs a parent restriction with days.
    let body = json!({
        "patientSafetyObject": {
            "person": {"offId": "12345678901"},
            "confidentialObjectId": {"type": "Svarrapport", "value": "s-1"},
            "parentConfidentialObjectId": {"type": "Rekvisisjon",
                                           "value": "5ede44e1-3b3c-45f2-9f49-cf73c1d7e5fc"}
        },
        "delayFromTime": "2024-01-04T20:50:20.908216Z",
        "confidentialityCode": "NORS"
    })
    .to_string();
    let reply = pts.post(&app, "", &body).await;
    assert_invalid(
        &reply,
        json!({
            "ParentConfidentialObjectId": ["The parent confidential object has no patient safety \
                                            access restriction with DelayDays to compute \
                                            DelayDeliveryUntil from"]
        }),
    );
    let reply = pts.post(&app, "", ADD_REKVISISJON).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = pts.post(&app, "", &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json["delayDeliveryUntil"],
        "2024-01-18T20:50:20.908216Z"
    );
    assert_eq!(reply.json["confidentialityCode"], "NORS");
    // Without delayFromTime, associate-parent counts from now.
    let reply = pts
        .post(
            &app,
            "/associate-parent",
            &json!({"patientSafetyObject": {
                "person": {"offId": "12345678901"},
                "confidentialObjectId": {"type": "Svarrapport", "value": "s-2"},
                "parentConfidentialObjectId": {"type": "Rekvisisjon",
                                               "value": "5ede44e1-3b3c-45f2-9f49-cf73c1d7e5fc"}
            }})
            .to_string(),
        )
        .await;
    assert_eq!(reply.json["delayDeliveryUntil"], "2024-01-19T08:00:00Z");
}

/// POSTs the spec's first example with only an Authorization header (no DPoP proof).
async fn post_without_proof(app: &TestApp, authorization: Option<String>) -> Reply {
    let mut request = app
        .http
        .post(app.url(BASE))
        .header("Content-Type", "application/json")
        .body(ADD_REKVISISJON);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    Reply::read(request.send().await.unwrap()).await
}

#[actix_web::test]
async fn only_a_dpop_bound_pts_token_is_accepted() {
    let app = spec_app().await;
    let url = app.url(BASE);
    // No token.
    let reply = post_without_proof(&app, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json["detail"],
        "No access token: send 'Authorization: Bearer <token>' (or 'DPoP <token>' with a DPoP \
         proof)"
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some(
            "DPoP realm=\"helsesim\", algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 \
             ES512\""
        )
    );
    // A DPoP-bound token sent as a bearer token.
    let pts = Caller::pts(&app).await;
    let reply = post_without_proof(&app, Some(format!("Bearer {}", pts.token))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json["detail"],
        "The token is DPoP-bound: send it as 'Authorization: DPoP <token>' together with a DPoP \
         proof, not as a bearer token"
    );
    // The DPoP scheme without a proof.
    let reply = post_without_proof(&app, Some(format!("DPoP {}", pts.token))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json["detail"],
        "A DPoP-bound token needs a DPoP proof in the DPoP header"
    );
    // A bearer (not DPoP-bound) token for PTS from a client without DPoP.
    let reply = app.system_token(MULTI_TENANT, "nhn:pts/api").await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "HID-1007 without an organisation"
    );
    let assertion = Assertion::new(&app, MULTI_TENANT)
        .multi_tenant_org("NO:ORGNR:917897468")
        .sign();
    let reply = app
        .client_credentials(MULTI_TENANT, "nhn:pts/api", &assertion, &[])
        .await;
    let bearer = reply.json["access_token"].as_str().unwrap().to_owned();
    let reply = post_without_proof(&app, Some(format!("Bearer {bearer}"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json["detail"],
        "This API requires a DPoP-bound access token: request the token with a DPoP proof and send \
         it as 'Authorization: DPoP <token>' with a DPoP header"
    );
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("DPoP error=\"invalid_token\"")),
        "{:?}",
        reply.headers
    );
    // Another content type; another method.
    let reply = Reply::read(app.http.get(&url).send().await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("POST"));
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let reply = app.get("/pts/access-restrictions").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json["detail"],
        "PTS has no endpoint at /pts/access-restrictions"
    );
}

#[actix_web::test]
async fn a_form_body_is_unsupported_media_type() {
    let app = spec_app().await;
    let pts = Caller::pts(&app).await;
    let url = app.url(BASE);
    let proof = Proof::new(&app, &pts.key, "POST", &url)
        .claim("ath", json!(sha256_b64url(&pts.token)))
        .sign();
    let reply = Reply::read(
        app.http
            .post(&url)
            .header("Authorization", format!("DPoP {}", pts.token))
            .header("DPoP", proof)
            .header("Content-Type", "text/plain")
            .body(ADD_REKVISISJON)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json["detail"],
        "The body must be JSON ('Content-Type: application/json'), got 'text/plain'"
    );
}

/// The confidentiality codes of a `_search` answer, in order.
fn codes_of(found: &Value) -> Vec<&Value> {
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["confidentialityCode"])
        .collect()
}

/// Restrictions belong to the patient's object, not to the organisation that set them: the
/// spec's `_search` lists "all connected patient safety access restrictions for a specified
/// offid", and the main use crosses organisations — a GP restricts a Rekvisisjon, the laboratory
/// associates its Svarrapport and inherits the delay. Who created and who last changed each
/// restriction is in the answer.
#[actix_web::test]
async fn restrictions_are_shared_across_organisations_with_their_authors() {
    let app = spec_app().await;
    let gp = Caller::pts(&app).await;
    let lab = Caller::other_organisation(&app).await;
    assert_eq!(
        gp.post(&app, "", ADD_REKVISISJON).await.status,
        StatusCode::OK
    );
    assert_eq!(gp.post(&app, "", ADD_NORN_FFL).await.status, StatusCode::OK);

    // The laboratory sees both.
    let reply = lab.post(&app, "/_search", SEARCH_APPLICABLE).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let codes = codes_of(&reply.json);
    assert_eq!(codes, [&json!("NORU"), &json!("NORN_FFL")]);
    assert_eq!(reply.json[0]["organizationNumber"], "922222223");

    // Its Svarrapport inherits the GP's delay: 2024-01-04T20:50:20.908216Z + 14 days.
    let reply = lab
        .post(&app, "/associate-parent", ASSOCIATE_SVARRAPPORT)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["confidentialityCode"], "NORU");
    assert_eq!(
        reply.json["delayDeliveryUntil"],
        "2024-01-18T20:50:20.908216Z"
    );
    assert_eq!(reply.json["organizationNumber"], "917897468");

    // The laboratory changes the GP's Rekvisisjon: one restriction, the GP still its creator.
    advance(&app, 60);
    let reply = lab
        .post(
            &app,
            "",
            &ADD_REKVISISJON.replace("\"delayDays\": 14", "\"delayDays\": 30"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["delayDays"], 30);
    assert_eq!(reply.json["organizationNumber"], "922222223");
    assert_eq!(reply.json["lastUpdatedByOrganizationNumber"], "917897468");
    assert_eq!(reply.json["created"], "2024-01-05T08:00:00Z");
    assert_eq!(reply.json["lastUpdated"], "2024-01-05T08:01:00Z");
    let reply = gp.post(&app, "/_search", SEARCH_APPLICABLE).await;
    let rekvisisjoner: Vec<&Value> = reply
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["patientSafetyObject"]["confidentialObjectId"]["type"] == "Rekvisisjon")
        .collect();
    assert_eq!(rekvisisjoner.len(), 1, "{}", reply.text);
    assert_eq!(rekvisisjoner[0]["delayDays"], 30);

    // And removes the GP's NORN_FFL.
    let remove = ADD_NORN_FFL.replace("NORN_FFL", "N");
    let reply = lab.post(&app, "", &remove).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["organizationNumber"], "922222223");
    assert_eq!(reply.json["lastUpdatedByOrganizationNumber"], "917897468");
    let reply = gp.post(&app, "/_search", SEARCH_APPLICABLE).await;
    let codes = codes_of(&reply.json);
    assert_eq!(codes, [&json!("NORU"), &json!("NORU")]);
}

/// `NORN_*` is "delayed forever": sent with `delayFromTime` and a restricted parent, it still
/// gets .NET's DateTime.MaxValue, never the parent's finite delay (issue 13).
#[actix_web::test]
async fn a_norn_sibling_with_delay_from_time_stays_delayed_forever() {
    let app = spec_app().await;
    let pts = Caller::pts(&app).await;
    assert_eq!(
        pts.post(&app, "", ADD_REKVISISJON).await.status,
        StatusCode::OK
    );
    let body = json!({
        "patientSafetyObject": {
            "person": {"offId": "12345678901"},
            "confidentialObjectId": {"type": "Svarrapport",
                                     "value": "49b2c6af-9edc-487d-bf34-97874ca8d483"},
            "parentConfidentialObjectId": {"type": "Rekvisisjon",
                                           "value": "5ede44e1-3b3c-45f2-9f49-cf73c1d7e5fc"}
        },
        "delayFromTime": "2024-01-04T20:50:20.908216Z",
        "confidentialityCode": "NORN_FFL"
    });
    let reply = pts.post(&app, "", &body.to_string()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["confidentialityCode"], "NORN_FFL");
    assert_eq!(
        reply.json["delayDeliveryUntil"],
        "9999-12-31T23:59:59.9999999Z"
    );
    let reply = pts.post(&app, "/_search", SEARCH_APPLICABLE).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let stored: Vec<(&Value, &Value)> = reply
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (&r["confidentialityCode"], &r["delayDeliveryUntil"]))
        .collect();
    assert_eq!(
        stored,
        [
            (&json!("NORU"), &Value::Null),
            (&json!("NORN_FFL"), &json!("9999-12-31T23:59:59.9999999Z"))
        ]
    );
}
