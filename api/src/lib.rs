//! # letro-api
//!
//! The Letro service's HTTP API as types, for the service, its clients and generated clients:
//!
//! - [`bodies`]: every request and response body, one type per JSON shape, with the `check`
//!   methods that turn a request into checked values once;
//! - [`error`]: the error envelope and the stable [`ErrorCode`]s with their statuses;
//! - [`role`]: the token [`Role`]s;
//! - [`routes`]: the route table ([`ROUTES`]): method, path, operation id, roles, bodies,
//!   answers and error codes of every route;
//! - [`openapi`]: the OpenAPI 3.1 document generated from the above;
//! - [`directory`]: the relay directory's documents (prekey upload and bundle).
//!
//! The JSON forms of a receipt key and signature are letro-core's
//! ([`letro_core::receipt_json`]), shared with the delivery record and opening.
//!
//! No HTTP server, client or async runtime: this crate is shapes and rules only.
#![forbid(unsafe_code)]

pub mod bodies;
pub mod directory;
pub mod error;
pub mod openapi;
pub mod role;
pub mod routes;

pub use error::{ErrorBody, ErrorCode};
pub use role::Role;
pub use routes::{Route, ROUTES};
