//! Webhooks: on every state change of a job with a `callback_url`, `POST {id, status,
//! progress, event_id}` signed with HMAC-SHA256 (`X-Redact-Signature: t=UNIX,v1=HEX` over
//! `"{t}.{body}"`, with the client's webhook secret), retried with back-off, each try
//! recorded in the store. A receiver that fails never fails the job.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::AppState;
use crate::options::JobOptions;
use crate::store;

/// Tries per event; the delays between them double from `RETRY_BASE`.
pub const MAX_TRIES: i64 = 6;
const RETRY_BASE_SECONDS: i64 = 2;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A client's webhook secret: derived from the server's key, so it needs no storage;
/// `redact serve clients add` prints it.
pub fn secret(server_key: &[u8], client: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(server_key).expect("any key length");
    mac.update(b"webhook:");
    mac.update(client.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// `t=UNIX,v1=HEX`: HMAC-SHA256 of `"{t}.{body}"` with the client's secret.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex(&mac.finalize().into_bytes()))
}

/// Records an event for a job that has a callback: `status` is the state it just entered
/// (`None`: read it from the store; the store may be ahead by then, so callers that know
/// the state pass it).
pub async fn job_changed(state: &AppState, job_id: &str, status: Option<&str>) {
    let Ok(Some(job)) = store::job_any(&state.db, job_id).await else {
        return;
    };
    let Some(url) = serde_json::from_str::<JobOptions>(&job.options)
        .ok()
        .and_then(|o| o.callback_url)
    else {
        return;
    };
    let event_id = crate::auth::random_id("evt");
    let body = serde_json::json!({
        "id": job.id,
        "status": status.unwrap_or(&job.status),
        "progress": job.progress,
        "event_id": event_id,
    })
    .to_string();
    if let Err(e) =
        store::add_delivery(&state.db, &event_id, &job.id, &job.client_id, &url, &body).await
    {
        eprintln!("error: job {job_id}: recording a webhook event: {e}");
    }
    state.wake_webhooks.notify_one();
}

/// Delivers due events until the server stops.
pub fn start(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            match store::due_deliveries(&state.db, MAX_TRIES).await {
                Ok(due) => {
                    for d in due {
                        deliver(&state, d).await;
                    }
                }
                Err(e) => eprintln!("error: store: {e}"),
            }
            let _ =
                tokio::time::timeout(Duration::from_secs(1), state.wake_webhooks.notified()).await;
        }
    });
}

async fn deliver(state: &AppState, d: store::Delivery) {
    let secret = secret(&state.key, &d.client_id);
    let t = store::now();
    let signature = signature(&secret, t, &d.body);
    let allow_private = state.settings.allow_private_urls;
    let (url, body, event) = (d.url.clone(), d.body.clone(), d.event_id.clone());
    let outcome = tokio::task::spawn_blocking(move || -> Result<u16, String> {
        crate::net::check_url(&url, false, allow_private)?;
        let response = crate::net::agent(Duration::from_secs(10))
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Redact-Signature", &signature)
            .header("X-Redact-Event", &event)
            .send(body.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(response.status().as_u16())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let tries = d.attempts + 1;
    let (delivered, status, error) = match &outcome {
        Ok(s) if (200..300).contains(s) => (true, Some(*s as i64), None),
        Ok(s) => (false, Some(*s as i64), Some(format!("HTTP {s}"))),
        Err(e) => (false, None, Some(e.clone())),
    };
    let next = t + RETRY_BASE_SECONDS * (1 << (tries - 1).min(10));
    if let Err(e) = store::record_delivery(
        &state.db,
        &d.event_id,
        delivered,
        status,
        error.as_deref(),
        next,
    )
    .await
    {
        eprintln!("error: store: {e}");
    }
    if !delivered {
        eprintln!(
            "job {}: webhook try {tries} of {MAX_TRIES} failed ({}){}",
            d.job_id,
            error
                .unwrap_or_default()
                .chars()
                .take(120)
                .collect::<String>(),
            if tries >= MAX_TRIES {
                "; giving up"
            } else {
                ""
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // RFC 4231 test case 2 shape: key "Jefe", data "what do ya want for nothing?".
        let s = signature("Jefe", 0, "what do ya want for nothing?");
        // The signed string is "0.what do ya want for nothing?", not the RFC's data.
        assert!(
            s.starts_with("t=0,v1=") && s.len() == "t=0,v1=".len() + 64,
            "{s}"
        );
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(signature("Jefe", 1, "x"), signature("Jefe", 2, "x"));
        assert_ne!(secret(b"k", "cl_a"), secret(b"k", "cl_b"));
        assert_eq!(secret(b"k", "cl_a").len(), 64);
    }
}
