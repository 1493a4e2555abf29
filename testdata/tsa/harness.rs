//! A real RFC 3161 time-stamping authority for tests: OpenSSL's `openssl ts -reply` with a
//! test CA made at run time, behind a one-request-at-a-time HTTP handler on a loopback port.
//! Included by path (`#[path = ".../testdata/tsa/harness.rs"] mod tsa;`) by the tests of
//! letro-log, letro-verifier, letro-service and letro-cli. Needs the `openssl` command.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// The TSA's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// RSA 2048, signing with SHA-256.
    Rsa,
    /// ECDSA on P-256, signing with SHA-256.
    EcdsaP256,
    /// ECDSA on P-384, signing with SHA-384.
    EcdsaP384,
}

/// How the HTTP handler answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// `openssl ts -reply` to the request.
    Honest = 0,
    /// 200 with bytes that are not a time-stamp response.
    Garbage = 1,
    /// A valid response, but to a request for other bytes (a wrong imprint).
    WrongImprint = 2,
    /// 503, no body.
    Down = 3,
}

/// A test CA and a TSA certified by it, in a temporary directory.
pub struct Tsa {
    pub dir: tempfile::TempDir,
    pub key: Key,
    mode: Arc<AtomicU8>,
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (OpenSSL 3) is needed by the time-stamp tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Tsa {
    /// A new CA ("Letro Test TSA Root") and TSA certificate with the critical
    /// `timeStamping` extended key usage. Tokens carry the TSA's certificate only (with the
    /// CA's too, OpenSSL writes the SET of certificates unsorted, which strict DER readers
    /// such as rfc3161-client refuse); `ess_sha1` makes OpenSSL name the certificate with a
    /// v1 (SHA-1) ESS signing-certificate attribute instead of v2 (SHA-256).
    pub fn new(key: Key, ess_sha1: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("ext.cnf"),
            "[tsa]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n\
             authorityKeyIdentifier=keyid\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/O=Letro tests/CN=Letro Test TSA Root",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let (newkey, digest, name): (&[&str], &str, &str) = match key {
            Key::Rsa => (&["-newkey", "rsa:2048"], "sha256", "Letro Test TSA (RSA)"),
            Key::EcdsaP256 => (
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "sha256",
                "Letro Test TSA (ECDSA P-256)",
            ),
            Key::EcdsaP384 => (
                &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
                "sha384",
                "Letro Test TSA (ECDSA P-384)",
            ),
        };
        let subj = format!("/O=Letro tests/CN={name}");
        let mut args = vec!["req", "-new"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&[
            "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", &subj,
        ]);
        openssl(d, &args);
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tsa.pem",
                "-days",
                "3650",
                "-extfile",
                "ext.cnf",
                "-extensions",
                "tsa",
            ],
        );
        std::fs::write(d.join("serial"), "01\n").unwrap();
        std::fs::write(
            d.join("ts.cnf"),
            format!(
                "[tsa]\ndefault_tsa = t\n[t]\ndir = {}\nserial = $dir/serial\n\
                 crypto_device = builtin\nsigner_cert = $dir/tsa.pem\n\
                 signer_key = $dir/tsa.key\nsigner_digest = {digest}\n\
                 default_policy = 1.3.6.1.4.1.57264.99.1\ndigests = sha256, sha384, sha512\n\
                 accuracy = secs:1\nordering = no\ntsa_name = yes\ness_cert_id_chain = no\n\
                 ess_cert_id_alg = {}\n",
                d.display(),
                if ess_sha1 { "sha1" } else { "sha256" }
            ),
        )
        .unwrap();
        Self {
            dir,
            key,
            mode: Arc::new(AtomicU8::new(Mode::Honest as u8)),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The CA's certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.path("ca.pem")).unwrap()
    }

    /// The TSA's own certificate, PEM.
    pub fn tsa_pem(&self) -> Vec<u8> {
        std::fs::read(self.path("tsa.pem")).unwrap()
    }

    /// `openssl ts -reply` to a DER request: the DER response.
    pub fn reply(&self, request: &[u8]) -> Vec<u8> {
        reply_at(self.dir.path(), request).expect("openssl ts -reply")
    }

    /// A token over `data` without certificates (`ts -query` without `-cert`).
    pub fn stamp_without_certificate(&self, data: &[u8]) -> Vec<u8> {
        self.token(data, false)
    }

    /// A token over `data`, made entirely by OpenSSL (`ts -query -cert`, `ts -reply
    /// -token_out`).
    pub fn stamp(&self, data: &[u8]) -> Vec<u8> {
        self.token(data, true)
    }

    fn token(&self, data: &[u8], with_certificate: bool) -> Vec<u8> {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("data");
        let (q, t) = (tmp.path().join("q.tsq"), tmp.path().join("t.tst"));
        std::fs::write(&f, data).unwrap();
        let mut query = vec!["ts", "-query", "-sha256", "-data", f.to_str().unwrap()];
        if with_certificate {
            query.push("-cert");
        }
        query.extend(["-out", q.to_str().unwrap()]);
        openssl(self.dir.path(), &query);
        openssl(
            self.dir.path(),
            &[
                "ts",
                "-reply",
                "-config",
                "ts.cnf",
                "-queryfile",
                q.to_str().unwrap(),
                "-token_out",
                "-out",
                t.to_str().unwrap(),
            ],
        );
        std::fs::read(&t).unwrap()
    }

    /// Whether `openssl ts -verify` accepts `token` over `data` with the CA as the only trust.
    pub fn openssl_verifies(&self, token: &[u8], data: &[u8]) -> bool {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("data");
        let t = tmp.path().join("t.tst");
        std::fs::write(&f, data).unwrap();
        std::fs::write(&t, token).unwrap();
        Command::new("openssl")
            .args(["ts", "-verify", "-data"])
            .arg(&f)
            .args(["-in"])
            .arg(&t)
            .args(["-token_in", "-CAfile"])
            .arg(self.path("ca.pem"))
            .output()
            .unwrap()
            .status
            .success()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Serves RFC 3161 over HTTP (`POST`, `application/timestamp-query`) on a loopback port,
    /// on a thread, for the life of the process; returns its URL.
    pub fn serve(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        let dir = self.dir.path().to_owned();
        let mode = self.mode.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(body) = read_post(&stream) else {
                    continue;
                };
                let answer = match mode.load(Ordering::SeqCst) {
                    0 => Some(reply_at(&dir, &body).unwrap_or_default()),
                    1 => Some(b"this is not a time-stamp response".to_vec()),
                    2 => {
                        let other = query_at(&dir, b"other bytes");
                        Some(reply_at(&dir, &other).unwrap_or_default())
                    }
                    _ => None,
                };
                let head = match &answer {
                    Some(a) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        a.len()
                    ),
                    None => "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
                             Connection: close\r\n\r\n"
                        .to_owned(),
                };
                let _ = stream.write_all(head.as_bytes());
                if let Some(a) = answer {
                    let _ = stream.write_all(&a);
                }
            }
        });
        url
    }
}

/// Reads one HTTP/1.1 request from `stream`: its body (by `Content-Length`), or `None` if the
/// connection ends first. For the tests' small loopback servers.
pub fn read_post(stream: &std::net::TcpStream) -> Option<Vec<u8>> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// `openssl ts -reply` in the TSA directory `dir` (its `ts.cnf`): the DER response, or `None`
/// when OpenSSL fails.
fn reply_at(dir: &Path, request: &[u8]) -> Option<Vec<u8>> {
    let tmp = tempfile::tempdir().ok()?;
    let (q, r) = (tmp.path().join("q.tsq"), tmp.path().join("r.tsr"));
    std::fs::write(&q, request).ok()?;
    let ok = Command::new("openssl")
        .args(["ts", "-reply", "-config", "ts.cnf", "-queryfile"])
        .arg(&q)
        .arg("-out")
        .arg(&r)
        .current_dir(dir)
        .output()
        .ok()?
        .status
        .success();
    ok.then(|| std::fs::read(&r).ok()).flatten()
}

/// `openssl ts -query -sha256 -cert` over `data`: a DER request.
fn query_at(dir: &Path, data: &[u8]) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let (f, q) = (tmp.path().join("data"), tmp.path().join("q.tsq"));
    std::fs::write(&f, data).unwrap();
    openssl(
        dir,
        &[
            "ts",
            "-query",
            "-sha256",
            "-cert",
            "-data",
            f.to_str().unwrap(),
            "-out",
            q.to_str().unwrap(),
        ],
    );
    std::fs::read(&q).unwrap()
}
