//! One log per region: two services, "ch" and "gcc", each with its own origin, log key,
//! PostgreSQL database and tiles directory, as a relay operator runs them for the data
//! residency promise. An account belongs to the region whose store holds its tokens and its
//! directory entry. In each region a sender ("bank", that region's account) sends its own
//! recipient a Signal message; the recipient acknowledges it, the log publishes, the sender
//! asks for a proof job and for evidence. Then every stored value of each region's database is
//! searched for the other region's data (account names, envelope bytes and hashes, job ids,
//! origin): none is there. Requests that cross regions (a token of one region at the other, a
//! message for an account of the other region) are refused and store nothing.

use axum::http::StatusCode;
use axum::Router;
use letro_client::Client;
use letro_core::bundle::format_time;
use letro_core::statement::CiphertextHash;
use letro_service::auth::{issue_token, Role};
use letro_service::store::PostgresStore;
use letro_service::{keys, unix_now, Config, Service};
use serde_json::{json, Value};

use crate::common::*;

/// One region's service and the accounts that belong to it.
struct Region {
    name: &'static str,
    origin: String,
    db: pg::PgDatabase,
    dir: tempfile::TempDir,
    tokens: Tokens,
    service: Service,
    router: Router,
    recipient: String,
    recipient_token: String,
    bank: Client,
    bank_token: String,
    bob: Client,
}

impl Region {
    async fn start(name: &'static str) -> Self {
        let origin = format!("{name}.relay.example/letro-log");
        let db = pg::PgDatabase::create();
        let dir = tempfile::tempdir().unwrap();
        let mut store = PostgresStore::open(&db.url).unwrap();
        let tokens = issue_tokens_into(&mut store);
        let recipient = format!("bob-{name}");
        let later = unix_now() + 3600;
        let client = |store: &mut PostgresStore, account: &str| {
            issue_token(store, Role::Client, account, later, "test")
                .unwrap()
                .0
        };
        let bank_token = client(&mut store, "bank");
        let recipient_token = client(&mut store, &recipient);
        drop(store);
        let mut cfg = Config::new(dir.path().join("data"), &origin);
        cfg.database = Some(db.url.clone());
        cfg.tiles_directory = Some(dir.path().join("tiles"));
        cfg.checkpoint_interval = std::time::Duration::from_secs(3600);
        cfg.provers = 0;
        let service = Service::start(cfg).unwrap();
        let router = service.router();
        let bank = Client::create(&dir.path().join("bank"), "bank").unwrap();
        let bob = Client::create(&dir.path().join("bob"), &recipient).unwrap();
        publish_client(&router, &bank_token, &bank).await;
        publish_client(&router, &recipient_token, &bob).await;
        Self {
            name,
            origin,
            db,
            dir,
            tokens,
            service,
            router,
            recipient,
            recipient_token,
            bank,
            bank_token,
            bob,
        }
    }

    /// The sender sends its recipient a message, the recipient acknowledges it, the log
    /// publishes, and the sender asks for a proof and for the delivery's evidence. Returns what
    /// is this region's own: the envelope, its hash, the proof job's id and the evidence.
    async fn deliver(&mut self) -> (Vec<u8>, CiphertextHash, String, Value) {
        let (st, v) = call_raw(
            &self.router,
            "GET",
            &format!("/v1/directory/{}", self.recipient),
            Some(&self.bank_token),
            Vec::new(),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&v));
        let bundle = letro_api::directory::PrekeyBundle::parse(&v).unwrap().0;
        self.bank.start_session(&self.recipient, &bundle).unwrap();
        let message = letro_client::Message {
            body: format!("A registered letter kept in {}", self.name),
            attachments: Vec::new(),
        };
        let envelope = self.bank.encrypt(&self.recipient, &message).unwrap();
        let h = CiphertextHash::of(&envelope);
        let (st, v) = call_raw(
            &self.router,
            "POST",
            &format!("/v1/messages/{}", self.recipient),
            Some(&self.bank_token),
            envelope.clone(),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{}", String::from_utf8_lossy(&v));
        let t = unix_now();
        let ack = serde_json::to_value(self.bob.sign_receipt(&h, t).ack_json().unwrap()).unwrap();
        let (st, v) = call(
            &self.router,
            "POST",
            &format!("/v1/mailbox/{}/receipt", h.to_hex()),
            Some(&self.recipient_token),
            Some(ack),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        self.service.publish().await.unwrap();
        let (st, job) = call(
            &self.router,
            "POST",
            "/v1/proofs",
            Some(&self.tokens.sender),
            Some(json!({
                "ciphertext_sha256": h.to_hex(),
                "not_before": format_time(t - 60).unwrap(),
                "not_after": format_time(t + 60).unwrap(),
            })),
        )
        .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        let (st, evidence) = call(
            &self.router,
            "GET",
            &format!("/v1/evidence/{}/retrieved", h.to_hex()),
            Some(&self.tokens.sender),
            None,
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{evidence}");
        (
            envelope,
            h,
            job["job_id"].as_str().unwrap().to_owned(),
            evidence,
        )
    }

    async fn stop(self) -> (pg::PgDatabase, tempfile::TempDir) {
        drop(self.router);
        self.service.shutdown().await;
        (self.db, self.dir)
    }
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_keep_their_accounts_data_apart() {
    let mut ch = Region::start("ch").await;
    let mut gcc = Region::start("gcc").await;
    let (ch_envelope, ch_h, ch_job, ch_evidence) = ch.deliver().await;
    let (gcc_envelope, gcc_h, gcc_job, gcc_evidence) = gcc.deliver().await;

    // Each region's evidence names its own log and verifies under its own key only.
    for (region, evidence, other) in [(&ch, &ch_evidence, &gcc), (&gcc, &gcc_evidence, &ch)] {
        let text = evidence.to_string();
        assert!(text.contains(&region.origin), "{text}");
        assert!(!text.contains(&other.origin), "{text}");
        let own = keys::load_or_create(&region.dir.path().join("data"), &region.origin)
            .unwrap()
            .verifier_key();
        let checkpoint =
            std::fs::read_to_string(region.dir.path().join("tiles/checkpoint")).unwrap();
        let signed = letro_log::checkpoint::SignedCheckpoint::parse(&checkpoint).unwrap();
        assert!(signed.verify(&[own]).is_ok());
        let theirs = keys::load_or_create(&other.dir.path().join("data"), &other.origin)
            .unwrap()
            .verifier_key();
        assert!(signed.verify(&[theirs]).is_err());
    }

    // Crossing regions: a recipient's token of one region is refused by the other, and a
    // message for an account of the other region finds no such account (it is logged as the
    // sender's own submission-rejected event, in the sender's region; the search below shows
    // that nothing of the other region's account is stored with it).
    let (st, _) = call(
        &gcc.router,
        "GET",
        "/v1/mailbox",
        Some(&ch.recipient_token),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = call_raw(
        &gcc.router,
        "POST",
        &format!("/v1/messages/{}", ch.recipient),
        Some(&gcc.bank_token),
        b"an envelope for another region".to_vec(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let (ch_db, _ch_dir) = ch.stop().await;
    let (gcc_db, _gcc_dir) = gcc.stop().await;
    let stored = |db: &pg::PgDatabase| -> Vec<u8> {
        pg::dump(&db.url).into_iter().flat_map(|(_, b)| b).collect()
    };
    let (ch_stored, gcc_stored) = (stored(&ch_db), stored(&gcc_db));
    for (own, other, envelope, h, job, origin, account) in [
        (
            &ch_stored,
            &gcc_stored,
            &ch_envelope,
            ch_h,
            &ch_job,
            "ch.relay",
            "bob-ch",
        ),
        (
            &gcc_stored,
            &ch_stored,
            &gcc_envelope,
            gcc_h,
            &gcc_job,
            "gcc.relay",
            "bob-gcc",
        ),
    ] {
        // What the own region keeps (the envelope left its mailbox with the receipt; the
        // hash is kept raw or as hex), so that each search below could find it.
        assert!(
            holds(own, h.to_hex().as_bytes()) || holds(own, &h.0),
            "{account}: hash"
        );
        for needle in [job.as_bytes(), origin.as_bytes(), account.as_bytes()] {
            assert!(
                holds(own, needle),
                "{account}'s region does not hold its own data"
            );
        }
        for needle in [
            &envelope[..64],
            &h.0[..],
            h.to_hex().as_bytes(),
            job.as_bytes(),
            origin.as_bytes(),
            account.as_bytes(),
        ] {
            assert!(
                !holds(other, needle),
                "{account}'s data is in the other region"
            );
        }
    }
}
