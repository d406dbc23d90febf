//! helsesim's black-box HTTP tests: one binary, the app started in-process on port 0.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod helpers;

mod admin_access;
mod admin_clients;
mod admin_clock;
mod admin_faults;
mod admin_fixtures;
mod admin_openapi;
mod admin_overview;
mod admin_requests;
mod admin_reset;
mod admin_state;
mod admin_tokens;
mod advice;
mod browser;
mod certs;
mod cli;
mod clinician_flow_browser;
mod concurrency;
mod dashboard;
mod dashboard_browser;
mod epj;
mod errors;
mod fixtures_generate;
mod helseid_client_credentials;
mod helseid_discovery;
mod helseid_dpop;
mod helseid_login;
mod helseid_login_errors;
mod helseid_openidconnect;
mod helseid_trust_framework;
mod kjernejournal;
mod kjernejournal_innlogging;
mod kjernejournal_portal;
mod kjernejournal_portal_browser;
mod limits;
mod login_page_browser;
mod multi_tenant;
mod pts;
mod reliability;
mod robustness;
mod scenario_events;
mod scenario_failures;
mod scenarios;
mod sfm_datadeling;
mod sfm_fhir;
mod sfm_gui;
mod sfm_gui_browser;
mod sfm_medication;
mod sfm_medication_rules;
mod sfm_session;
mod sfm_walkthroughs;
mod state_file;
mod token_attacks;
