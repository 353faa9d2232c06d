//! Clients, tokens and the bearer check. Client secrets and refresh tokens are random
//! (256 bits) and stored as SHA-256 hashes (a slow password hash buys nothing for secrets
//! this long); access tokens are JWTs (HS256) signed with a key kept in the data folder.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Db, Refresh};

/// `n` random bytes, URL-safe base64.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random id with a prefix: `job_…`, `cl_…`.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a client; returns (id, secret). The secret is shown once and stored hashed.
pub async fn add_client(db: &Db, name: &str) -> sqlx::Result<(String, String)> {
    let id = random_id("cl");
    let secret = random_token(32);
    store::add_client(db, &id, name, &hash(&secret)).await?;
    Ok((id, secret))
}

/// The signing key: 32 random bytes in `DATA/jwt.key` (made on first start, mode 0600).
pub fn load_or_make_key(data: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data.join("jwt.key");
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} is shorter than 32 bytes; delete it to make a new key (all tokens end)",
                path.display()
            )));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(&key)?;
    f.sync_all()?;
    Ok(key)
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    /// Always "access": no other token is a JWT.
    typ: String,
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Keys {
    pub fn new(secret: &[u8]) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }
}

/// A token pair, as `POST /v1/auth/token` and `/v1/auth/refresh` return it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always "Bearer".
    pub token_type: String,
    /// Seconds the access token is valid.
    pub expires_in: u64,
}

/// Issues an access token and a refresh token of `family`.
pub async fn issue(state: &AppState, client: &str, family: &str) -> ApiResult<TokenPair> {
    let now = store::now();
    let ttl = state.settings.access_token_ttl.as_secs();
    let claims = Claims {
        sub: client.into(),
        iat: now,
        exp: now + ttl as i64,
        typ: "access".into(),
    };
    let access = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &state.keys.encoding,
    )
    .map_err(|e| ApiError::internal("signing a token", e))?;
    let refresh = format!("rt_{}", random_token(32));
    let expires = now + state.settings.refresh_token_ttl.as_secs() as i64;
    store::add_refresh_token(&state.db, &hash(&refresh), client, family, expires).await?;
    Ok(TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer".into(),
        expires_in: ttl,
    })
}

/// Checks a client's credentials (constant-time on the hashes).
pub async fn check_secret(db: &Db, client_id: &str, secret: &str) -> ApiResult<()> {
    let bad = || ApiError::unauthorized("unknown client or wrong secret");
    let stored = store::client_secret_hash(db, client_id)
        .await?
        .ok_or_else(bad)?;
    if bool::from(stored.as_bytes().ct_eq(hash(secret).as_bytes())) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The credentials of an `Authorization: Basic` header, if there is one.
pub fn basic_credentials(parts: &axum::http::HeaderMap) -> Option<(String, String)> {
    let value = parts.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Rotates a refresh token: a new pair in the same family, the old token used up.
pub async fn refresh(state: &AppState, token: &str) -> ApiResult<TokenPair> {
    match store::use_refresh_token(&state.db, &hash(token)).await? {
        Refresh::Rotated(client, family) => issue(state, &client, &family).await,
        Refresh::Reused => {
            eprintln!("warning: a used refresh token was presented again; its family is revoked");
            Err(ApiError::unauthorized(
                "this refresh token was used already; all tokens of its session are revoked, ask for a new token",
            ))
        }
        Refresh::Invalid => Err(ApiError::unauthorized(
            "unknown, expired or revoked refresh token",
        )),
    }
}

/// The authenticated client of a request (`Authorization: Bearer <access token>`).
pub struct Client(pub String);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Client> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer token"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token.trim(), &state.keys.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::unauthorized("the access token expired; refresh it")
                }
                _ => ApiError::unauthorized("invalid access token"),
            })?;
        if data.claims.typ != "access" {
            return Err(ApiError::unauthorized("invalid access token"));
        }
        Ok(Client(data.claims.sub))
    }
}
