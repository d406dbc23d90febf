//! helsesim: one binary that stands in, offline, for the Norwegian national health services an
//! EHR integrates with — HelseID, SFM, Kjernejournal and PTS — backed by an in-memory store
//! seeded from JSON fixtures.

pub mod admin;
pub mod advice;
pub mod auth;
pub mod clock;
pub mod commands;
pub mod config;
pub mod epj;
pub mod errors;
pub mod faults;
pub mod fhir_r4;
pub mod fixtures;
pub mod health;
pub mod helseid;
pub mod ids;
pub mod jose;
pub mod journal;
pub mod keys;
pub mod kjernejournal;
pub mod limits;
pub mod national;
#[cfg(test)]
mod proptests;
pub mod pts;
pub mod random;
pub mod scenarios;
pub mod secret;
pub mod service;
pub mod sfm;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod ui;
pub mod wire;

pub use clock::Clock;
pub use config::Settings;
pub use startup::Application;
pub use state::{AppState, StartupError};
