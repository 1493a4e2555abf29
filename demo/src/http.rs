// SPDX-License-Identifier: AGPL-3.0-only
//! A minimal HTTP/1.1 client for the demo to talk to the service over its socket.

// The only indexing here is of `serde_json::Value` by key, which yields `Null` for a missing
// member and never panics.
#![allow(clippy::indexing_slicing)]

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;

/// An answer: status code and body.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The API's error message, or the body as text.
    pub fn message(&self) -> String {
        let v = self.json();
        match v["error"]["message"].as_str() {
            Some(m) => format!("{} ({})", m, v["error"]["code"].as_str().unwrap_or("?")),
            None => String::from_utf8_lossy(&self.body).into_owned(),
        }
    }
}

/// The service at `addr`, with a bearer token.
pub struct Api<'a> {
    /// `host:port`.
    pub addr: &'a str,
    /// The bearer token.
    pub token: &'a str,
}

impl Api<'_> {
    /// Sends one request (a new connection each time) and reads the whole answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect to {}: {e}", self.addr))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("http handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.addr)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{path}: reading the answer: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Answer { status, body })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Answer, String> {
        self.send(Method::GET, path, "application/json", Vec::new())
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, v: &serde_json::Value) -> Result<Answer, String> {
        self.send(
            Method::POST,
            path,
            "application/json",
            v.to_string().into_bytes(),
        )
        .await
    }
}
