//! The HTTP API (API.md) and its OpenAPI document, generated from these handlers.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{self, Client, TokenPair};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::options::{self, JobOptions, RenderRequest};
use crate::sniff::{self, Class, Kind};
use crate::storage::{self, DETECTIONS};
use crate::store::{self, JobRow, NewJob, PolicyRow};
use crate::worker::{Outcome, always, run_redact};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gst-redact job API",
        description = "Find and mask faces and licence plates in images and videos: token auth, \
                       asynchronous jobs with progress, two-phase review, download."
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The service: every route, the OpenAPI document at `/v1/openapi.json`, JSON errors for
/// unknown routes and methods.
pub fn router(state: AppState) -> Router {
    let limit = state
        .settings
        .max_upload
        .max(state.settings.max_sync_upload) as usize
        + (1 << 20);
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(token))
        .routes(routes!(refresh))
        .routes(routes!(create_job))
        .routes(routes!(get_job, delete_job))
        .routes(routes!(get_detections))
        .routes(routes!(render))
        .routes(routes!(get_result))
        .routes(routes!(thumbnail))
        .routes(routes!(redact_now))
        .routes(routes!(create_policy, list_policies))
        .routes(routes!(get_policy, delete_policy))
        .split_for_parts();
    let openapi = openapi
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    router
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    openapi.clone(),
                )
            }),
        )
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: "method not allowed on this route".into(),
                retry_after: None,
            }
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

// ---- helpers ----

/// A JSON body, with the reason as a 400 (or 415 without a JSON content type).
fn json_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<serde_json::Value> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::unsupported(
            "expected Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("bad JSON: {e}")))
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn check_id(id: &str, prefix: &str, what: &str) -> ApiResult<()> {
    let ok = id
        .strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 24 && hex.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::not_found(what))
    }
}

async fn own_job(state: &AppState, id: &str, client: &Client) -> ApiResult<JobRow> {
    check_id(id, "job_", "job")?;
    store::job(&state.db, id, &client.0)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))
}

async fn stream_file(path: &Path, content_type: &str, name: Option<&str>) -> ApiResult<Response> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| ApiError::internal("opening a job file", e))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal("reading a job file", e))?
        .len();
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        content_type.parse().expect("a content type"),
    );
    h.insert(header::CONTENT_LENGTH, len.into());
    if let Some(name) = name {
        h.insert(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\"")
                .parse()
                .expect("a header"),
        );
    }
    Ok(response)
}

fn content_type(extension: &str) -> &'static str {
    match extension {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "ts" | "m2ts" => "video/mp2t",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// A temporary folder under the data folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(state: &AppState) -> ApiResult<Scratch> {
        let dir = state.settings.data.join("tmp").join(auth::random_token(12));
        std::fs::create_dir_all(&dir).map_err(|e| ApiError::internal("scratch folder", e))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An upload written to `dir/upload.part` (at most `limit` bytes), its kind sniffed and the
/// file renamed to `input.EXT`. Returns the kind and the `options` field's JSON, if any.
async fn receive_multipart(
    mut multipart: Multipart,
    dir: &Path,
    limit: u64,
) -> ApiResult<(Kind, Option<serde_json::Value>)> {
    let mut options = None;
    let mut kind = None;
    let part = dir.join("upload.part");
    let read_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("the upload is larger than {limit} bytes"))
        } else {
            ApiError::bad_request(format!("bad multipart body: {}", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(read_error)? {
        match field.name() {
            Some("options") => {
                let text = field.text().await.map_err(read_error)?;
                if options.is_some() {
                    return Err(ApiError::bad_request("more than one options field"));
                }
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| ApiError::bad_request(format!("options: not JSON: {e}")))?;
                if !value.is_object() {
                    return Err(ApiError::bad_request("options: expected a JSON object"));
                }
                options = Some(value);
            }
            Some("media") => {
                if kind.is_some() {
                    return Err(ApiError::bad_request("more than one media field"));
                }
                let mut file = tokio::fs::File::create(&part)
                    .await
                    .map_err(|e| ApiError::internal("writing an upload", e))?;
                let mut size = 0u64;
                let mut head = Vec::with_capacity(sniff::SNIFF_LEN);
                while let Some(chunk) = field.chunk().await.map_err(read_error)? {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(ApiError::too_large(format!(
                            "the upload is larger than {limit} bytes (--max-upload-mb)"
                        )));
                    }
                    if head.len() < sniff::SNIFF_LEN {
                        let n = (sniff::SNIFF_LEN - head.len()).min(chunk.len());
                        head.extend_from_slice(&chunk[..n]);
                    }
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| ApiError::internal("writing an upload", e))?;
                }
                file.sync_all()
                    .await
                    .map_err(|e| ApiError::internal("writing an upload", e))?;
                kind = Some(sniff::sniff(&head).ok_or_else(unsupported_media)?);
            }
            _ => {
                return Err(ApiError::bad_request(
                    "unknown multipart field: expected media and options",
                ));
            }
        }
    }
    let kind = kind.ok_or_else(|| ApiError::bad_request("no media field in the upload"))?;
    std::fs::rename(&part, dir.join(storage::input_name(kind.extension)))
        .map_err(|e| ApiError::internal("storing an upload", e))?;
    Ok((kind, options))
}

fn unsupported_media() -> ApiError {
    ApiError::unsupported(
        "not a supported file: JPEG, PNG, WEBP, MP4, MOV, MKV, WEBM, AVI, MPEG-TS or ZIP (decided by content)",
    )
}

/// `file://` under the configured root: copied into the job folder.
async fn receive_uri(state: &AppState, uri: &str, dir: &Path) -> ApiResult<Kind> {
    if uri.starts_with("https://") {
        return download(state, uri, dir).await;
    }
    let Some(path) = uri.strip_prefix("file://") else {
        return Err(ApiError::bad_request(
            "input_uri: use https:// or file:// (s3:// is not supported yet)",
        ));
    };
    let Some(root) = &state.settings.file_root else {
        return Err(ApiError::bad_request(
            "input_uri: file:// inputs are off on this server (start it with --file-root DIR)",
        ));
    };
    let outside = || ApiError::bad_request("input_uri: no such file under the server's file root");
    let real = std::fs::canonicalize(path).map_err(|_| outside())?;
    let root = std::fs::canonicalize(root).map_err(|e| ApiError::internal("file root", e))?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(outside());
    }
    let size = std::fs::metadata(&real).map_err(|_| outside())?.len();
    if size > state.settings.max_upload {
        return Err(ApiError::too_large(format!(
            "the input is larger than {} bytes",
            state.settings.max_upload
        )));
    }
    let mut head = vec![0u8; sniff::SNIFF_LEN];
    let n = {
        use std::io::Read;
        std::fs::File::open(&real)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|_| outside())?
    };
    let kind = sniff::sniff(&head[..n]).ok_or_else(unsupported_media)?;
    tokio::fs::copy(&real, dir.join(storage::input_name(kind.extension)))
        .await
        .map_err(|e| ApiError::internal("copying a file:// input", e))?;
    Ok(kind)
}

/// An `https://` input (public addresses only, unless allowed), at most `max_upload` bytes,
/// its kind sniffed, stored as `input.EXT`.
async fn download(state: &AppState, uri: &str, dir: &Path) -> ApiResult<Kind> {
    let (uri, part) = (uri.to_string(), dir.join("upload.part"));
    let (limit, allow) = (state.settings.max_upload, state.settings.allow_private_urls);
    let head = tokio::task::spawn_blocking(move || -> ApiResult<Vec<u8>> {
        use std::io::{Read, Write};
        crate::net::check_url(&uri, true, allow)
            .map_err(|e| ApiError::bad_request(format!("input_uri: {e}")))?;
        let response = crate::net::agent(std::time::Duration::from_secs(600))
            .get(&uri)
            .call()
            .map_err(|e| ApiError::bad_request(format!("input_uri: cannot fetch it: {e}")))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(ApiError::bad_request(format!(
                "input_uri: the server answered HTTP {status}"
            )));
        }
        let mut reader = response
            .into_body()
            .into_with_config()
            .limit(limit + 1)
            .reader();
        let mut file =
            std::fs::File::create(&part).map_err(|e| ApiError::internal("download", e))?;
        let (mut size, mut head, mut buf) = (0u64, Vec::new(), vec![0u8; 1 << 16]);
        loop {
            let n = reader.read(&mut buf).map_err(|e| {
                ApiError::bad_request(format!("input_uri: the download broke off: {e}"))
            })?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > limit {
                return Err(ApiError::too_large(format!(
                    "the input is larger than {limit} bytes"
                )));
            }
            if head.len() < sniff::SNIFF_LEN {
                head.extend_from_slice(&buf[..n.min(sniff::SNIFF_LEN - head.len())]);
            }
            file.write_all(&buf[..n])
                .map_err(|e| ApiError::internal("download", e))?;
        }
        file.sync_all()
            .map_err(|e| ApiError::internal("download", e))?;
        Ok(head)
    })
    .await
    .map_err(|e| ApiError::internal("download", e))??;
    let kind = sniff::sniff(&head).ok_or_else(unsupported_media)?;
    std::fs::rename(
        dir.join("upload.part"),
        dir.join(storage::input_name(kind.extension)),
    )
    .map_err(|e| ApiError::internal("storing a download", e))?;
    Ok(kind)
}

/// Resolves `policy_id` (the job's options over the policy's) and checks the result.
async fn resolve_options(
    state: &AppState,
    client: &Client,
    value: Option<serde_json::Value>,
) -> ApiResult<JobOptions> {
    let options = options::parse_job_options(value.unwrap_or_else(|| serde_json::json!({})))?;
    let Some(policy_id) = &options.policy_id else {
        check_callback(state, &options).await?;
        return Ok(options);
    };
    check_id(policy_id, "pol_", "policy")
        .map_err(|_| ApiError::bad_request("policy_id: no such policy"))?;
    let policy = store::policy(&state.db, policy_id, &client.0)
        .await?
        .ok_or_else(|| ApiError::bad_request("policy_id: no such policy"))?;
    let base: JobOptions = serde_json::from_str(&policy.options)
        .map_err(|e| ApiError::internal("stored policy", e))?;
    let merged = options.over(&base);
    merged.check()?;
    check_callback(state, &merged).await?;
    Ok(merged)
}

/// A callback must be http(s) and, unless allowed, public.
async fn check_callback(state: &AppState, options: &JobOptions) -> ApiResult<()> {
    let Some(url) = options.callback_url.clone() else {
        return Ok(());
    };
    let allow = state.settings.allow_private_urls;
    tokio::task::spawn_blocking(move || crate::net::check_url(&url, false, allow))
        .await
        .map_err(|e| ApiError::internal("checking a callback", e))?
        .map_err(|e| ApiError::bad_request(format!("callback_url: {e}")))
}

// ---- auth ----

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: String,
}

/// Get an access token (and a refresh token) for a client's id and secret, as JSON or with
/// HTTP Basic.
#[utoipa::path(
    post, path = "/v1/auth/token", tag = "auth",
    request_body(content = TokenRequest, description = "or an empty body with HTTP Basic client_id:client_secret"),
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 415, body = ErrorBody)
    )
)]
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<TokenPair>> {
    let (id, secret) = match auth::basic_credentials(&headers) {
        Some(c) if body.is_empty() => c,
        _ => {
            let v = json_body(&headers, &body)?;
            let r: TokenRequest = serde_json::from_value(v).map_err(|e| {
                ApiError::bad_request(format!("expected {{client_id, client_secret}}: {e}"))
            })?;
            (r.client_id, r.client_secret)
        }
    };
    auth::check_secret(&state.db, &id, &secret).await?;
    let family = auth::random_token(16);
    Ok(Json(auth::issue(&state, &id, &family).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Trade a refresh token for a new pair; the old one stops working, and presenting it
/// again revokes every token of its session.
#[utoipa::path(
    post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 415, body = ErrorBody)
    )
)]
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<TokenPair>> {
    let v = json_body(&headers, &body)?;
    let r: RefreshRequest = serde_json::from_value(v)
        .map_err(|e| ApiError::bad_request(format!("expected {{refresh_token}}: {e}")))?;
    Ok(Json(auth::refresh(&state, &r.refresh_token).await?))
}

// ---- jobs ----

#[derive(Debug, Serialize, ToSchema)]
pub struct Outputs {
    /// Where the redacted media is (when the job succeeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<String>,
    /// Where the detections are (once detection is done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detections: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// queued, detecting, detected, rendering, succeeded, failed, cancelled.
    pub status: String,
    /// 0..100.
    pub progress: i64,
    /// image, video or zip.
    pub kind: String,
    pub created_at: String,
    pub updated_at: String,
    /// Why the job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub outputs: Outputs,
}

impl From<&JobRow> for JobView {
    fn from(j: &JobRow) -> JobView {
        JobView {
            id: j.id.clone(),
            status: j.status.clone(),
            progress: j.progress,
            kind: j.kind.clone(),
            created_at: rfc3339(j.created_at),
            updated_at: rfc3339(j.updated_at),
            error: j.error.clone(),
            outputs: Outputs {
                media: (j.has_result && j.status == "succeeded")
                    .then(|| format!("/v1/jobs/{}/result", j.id)),
                detections: j
                    .has_detections
                    .then(|| format!("/v1/jobs/{}/detections", j.id)),
            },
        }
    }
}

/// Multipart upload: `media` (the file) and `options` (JSON text, `JobOptions`).
#[derive(ToSchema)]
#[allow(dead_code)]
struct JobUpload {
    #[schema(value_type = String, format = Binary)]
    media: Vec<u8>,
    /// JSON text.
    #[schema(value_type = Option<JobOptions>)]
    options: Option<String>,
}

/// A job from a URI: `file://` under the server's file root.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobFromUri {
    /// `https://…` (a public address), or `file:///…` under the server's file root.
    #[schema(pattern = "^(https|file)://")]
    pub input_uri: String,
    #[schema(value_type = Option<JobOptions>)]
    pub options: Option<serde_json::Value>,
}

/// Submit a job: upload media (multipart) or name it (`input_uri`). The type is decided by
/// the content. 202 with the job's `Location`.
#[utoipa::path(
    post, path = "/v1/jobs", tag = "jobs", security(("bearer" = [])),
    request_body(content(
        (JobUpload = "multipart/form-data"),
        (JobFromUri = "application/json")
    )),
    responses(
        (status = 202, body = JobView, headers(("Location" = String, description = "the job"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "seconds")))
    )
)]
async fn create_job(
    State(state): State<AppState>,
    client: Client,
    request: Request,
) -> ApiResult<Response> {
    if store::active_jobs(&state.db).await? >= state.settings.queue_limit as i64 {
        return Err(ApiError::queue_full(retry_after(&state)));
    }
    let id = auth::random_id("job");
    let dir = state.storage.dir(&id);
    std::fs::create_dir_all(&dir).map_err(|e| ApiError::internal("job folder", e))?;
    let result = receive_job(&state, &client, request, &id, &dir).await;
    if result.is_err() {
        let _ = state.storage.delete(&id);
    }
    result
}

fn retry_after(state: &AppState) -> u64 {
    (30 / state.settings.workers.max(1) as u64).max(5)
}

async fn receive_job(
    state: &AppState,
    client: &Client,
    request: Request,
    id: &str,
    dir: &Path,
) -> ApiResult<Response> {
    let content = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (kind, options) = if content.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("bad multipart body: {}", e.body_text())))?;
        receive_multipart(multipart, dir, state.settings.max_upload).await?
    } else if content.starts_with("application/json") {
        let headers = request.headers().clone();
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .map_err(|_| ApiError::too_large("the JSON body is larger than 1 MiB"))?;
        let v = json_body(&headers, &body)?;
        let r: JobFromUri = serde_json::from_value(v)
            .map_err(|e| ApiError::bad_request(format!("expected {{input_uri, options}}: {e}")))?;
        (receive_uri(state, &r.input_uri, dir).await?, r.options)
    } else {
        return Err(ApiError::unsupported(
            "send multipart/form-data (media, options) or application/json (input_uri, options)",
        ));
    };
    let options = resolve_options(state, client, options).await?;
    if options.review == Some(true) && kind.class == Class::Zip {
        return Err(ApiError::bad_request(
            "review works on one image or video, not on a ZIP",
        ));
    }
    let stored = serde_json::to_string(&options).map_err(|e| ApiError::internal("options", e))?;
    let input = storage::input_name(kind.extension);
    let job = NewJob {
        id,
        client_id: &client.0,
        phase: if kind.class == Class::Zip {
            "run"
        } else {
            "detect"
        },
        options: &stored,
        input: &input,
        kind: kind.class.as_str(),
    };
    if !store::insert_job(&state.db, &job, state.settings.queue_limit).await? {
        return Err(ApiError::queue_full(retry_after(state)));
    }
    eprintln!("job {id}: queued ({})", kind.class.as_str());
    crate::webhooks::job_changed(state, id, Some("queued")).await;
    state.wake.notify_waiters();
    let row = store::job(&state.db, id, &client.0)
        .await?
        .ok_or_else(|| ApiError::internal("job", "vanished"))?;
    let mut response = (StatusCode::ACCEPTED, Json(JobView::from(&row))).into_response();
    response.headers_mut().insert(
        header::LOCATION,
        format!("/v1/jobs/{id}").parse().expect("a header"),
    );
    Ok(response)
}

/// A job's state and progress.
#[utoipa::path(
    get, path = "/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_job(
    State(state): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<JobView>> {
    Ok(Json(JobView::from(&own_job(&state, &id, &client).await?)))
}

/// Cancel a job if it is running and delete its files.
#[utoipa::path(
    delete, path = "/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn delete_job(
    State(state): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<StatusCode> {
    check_id(&id, "job_", "job")?;
    if !store::cancel(&state.db, &id, &client.0).await? {
        return Err(ApiError::not_found("job"));
    }
    state
        .storage
        .delete(&id)
        .map_err(|e| ApiError::internal("deleting job files", e))?;
    eprintln!("job {id}: deleted by its client");
    crate::webhooks::job_changed(&state, &id, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The detections JSON (`redact detect`'s format: frames with boxes, scores and track ids,
/// and a summary of each track).
#[utoipa::path(
    get, path = "/v1/jobs/{id}/detections", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, content_type = "application/json", body = Object),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
async fn get_detections(
    State(state): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    let job = own_job(&state, &id, &client).await?;
    if !job.has_detections {
        return Err(ApiError::conflict(format!(
            "no detections yet: the job is {}",
            job.status
        )));
    }
    stream_file(
        &state.storage.dir(&id).join(DETECTIONS),
        "application/json",
        None,
    )
    .await
}

/// Render again from the stored detections (no second detection): choose tracks, add
/// boxes, change the mask.
#[utoipa::path(
    post, path = "/v1/jobs/{id}/render", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RenderRequest,
    responses(
        (status = 202, body = JobView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)
    )
)]
async fn render(
    State(state): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let job = own_job(&state, &id, &client).await?;
    let request: RenderRequest = options::parse_render(json_body(&headers, &body)?)?;
    let stored = serde_json::to_string(&request).map_err(|e| ApiError::internal("render", e))?;
    if !store::queue_render(&state.db, &id, &client.0, &stored).await? {
        return Err(ApiError::conflict(format!(
            "cannot render now: the job is {}{}",
            job.status,
            if job.has_detections {
                ""
            } else {
                " and has no detections"
            }
        )));
    }
    crate::webhooks::job_changed(&state, &id, Some("queued")).await;
    state.wake.notify_waiters();
    let row = own_job(&state, &id, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(JobView::from(&row))).into_response())
}

/// A JPEG of a track at its best frame (its box with some context around it), to choose
/// whom to keep visible.
#[utoipa::path(
    get, path = "/v1/jobs/{id}/tracks/{track_id}/thumbnail", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path), ("track_id" = i64, Path)),
    responses(
        (status = 200, content_type = "image/jpeg", body = Vec<u8>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
async fn thumbnail(
    State(state): State<AppState>,
    client: Client,
    UrlPath((id, track_id)): UrlPath<(String, String)>,
) -> ApiResult<Response> {
    let job = own_job(&state, &id, &client).await?;
    let track_id: i64 = track_id.parse().map_err(|_| ApiError::not_found("track"))?;
    if !job.has_detections {
        return Err(ApiError::conflict(format!(
            "no detections yet: the job is {}",
            job.status
        )));
    }
    let dir = state.storage.dir(&id);
    let cached = dir.join(format!("thumb-{track_id}.jpg"));
    if !cached.is_file() {
        let bytes = std::fs::read(dir.join(DETECTIONS))
            .map_err(|e| ApiError::internal("reading detections", e))?;
        let det: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::internal("detections", e))?;
        let track = det["tracks"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["id"].as_i64() == Some(track_id)))
            .ok_or_else(|| ApiError::not_found("track"))?;
        let frame = track["best_frame"].as_u64().unwrap_or(0);
        let bbox = det["frames"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["index"].as_u64() == Some(frame)))
            .and_then(|f| f["detections"].as_array())
            .and_then(|d| d.iter().find(|d| d["track_id"].as_i64() == Some(track_id)))
            .map(|d| [0, 1, 2, 3].map(|i| d["box"][i].as_f64().unwrap_or(0.0)))
            .ok_or_else(|| {
                ApiError::internal("thumbnail", "the best frame has no box of the track")
            })?;
        // Half the box's size around it: enough to recognise who it is.
        let [x, y, w, h] = bbox;
        let crop = format!("{},{},{},{}", x - w / 2.0, y - h / 2.0, w * 2.0, h * 2.0);
        let args: Vec<String> = vec![
            "frame".into(),
            dir.join(&job.input).to_string_lossy().into_owned(),
            "--index".into(),
            frame.to_string(),
            "--crop".into(),
            crop,
            "-o".into(),
            cached.to_string_lossy().into_owned(),
        ];
        let _slot = state
            .sync_slots
            .acquire()
            .await
            .map_err(|e| ApiError::internal("slots", e))?;
        match crate::worker::run_plain(&state, &args, &dir).await {
            Outcome::Succeeded => {}
            other => return Err(ApiError::internal("thumbnail", format!("{other:?}"))),
        }
    }
    stream_file(&cached, "image/jpeg", None).await
}

/// The redacted media (a ZIP for a ZIP).
#[utoipa::path(
    get, path = "/v1/jobs/{id}/result", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "the redacted file, in the input's format", content(
            (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"),
            (Vec<u8> = "video/mp4"), (Vec<u8> = "video/quicktime"), (Vec<u8> = "video/x-matroska"),
            (Vec<u8> = "video/webm"), (Vec<u8> = "video/x-msvideo"), (Vec<u8> = "video/mp2t"),
            (Vec<u8> = "application/zip")
        )),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)
    )
)]
async fn get_result(
    State(state): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    let job = own_job(&state, &id, &client).await?;
    if job.status != "succeeded" || !job.has_result {
        return Err(ApiError::conflict(format!(
            "no result: the job is {}",
            job.status
        )));
    }
    let extension = Path::new(&job.input)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = storage::result_name(&extension);
    stream_file(
        &state.storage.dir(&id).join(&name),
        content_type(&extension),
        Some(&format!("redacted.{extension}")),
    )
    .await
}

// ---- synchronous image ----

#[derive(Debug, Serialize, ToSchema)]
pub struct Finding {
    /// face or license-plate.
    pub class: String,
    /// `[x, y, width, height]` in pixels.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    pub score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Findings {
    pub width: u64,
    pub height: u64,
    pub findings: Vec<Finding>,
}

/// Redact one small image now: multipart (`media`, `options`) or the image as the body.
/// Returns the redacted image, or with `Accept: application/json` the findings only.
#[utoipa::path(
    post, path = "/v1/redact", tag = "images", security(("bearer" = [])),
    request_body(content(
        (JobUpload = "multipart/form-data"),
        (Vec<u8> = "application/octet-stream")
    )),
    responses(
        (status = 200, description = "the redacted image (same format), or with Accept: application/json the findings", content(
            (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"),
            (Findings = "application/json")
        )),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)
    )
)]
async fn redact_now(
    State(state): State<AppState>,
    client: Client,
    request: Request,
) -> ApiResult<Response> {
    let wants_json = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let scratch = Scratch::new(&state)?;
    let dir = scratch.0.clone();
    let limit = state.settings.max_sync_upload;
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (kind, options) = if multipart {
        let m = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request(format!("bad multipart body: {}", e.body_text())))?;
        receive_multipart(m, &dir, limit).await?
    } else {
        let body = axum::body::to_bytes(request.into_body(), limit as usize)
            .await
            .map_err(|_| ApiError::too_large(format!("the image is larger than {limit} bytes")))?;
        let kind = sniff::sniff(&body).ok_or_else(unsupported_media)?;
        std::fs::write(dir.join(storage::input_name(kind.extension)), &body)
            .map_err(|e| ApiError::internal("scratch file", e))?;
        (kind, None)
    };
    if kind.class != Class::Image {
        return Err(ApiError::unsupported(
            "POST /v1/redact takes one image (JPEG, PNG, WEBP); submit videos and ZIPs as jobs",
        ));
    }
    let options = resolve_options(&state, &client, options).await?;
    let input = dir
        .join(storage::input_name(kind.extension))
        .to_string_lossy()
        .into_owned();
    let output = dir.join(if wants_json {
        DETECTIONS.to_string()
    } else {
        storage::result_name(kind.extension)
    });
    let mut args: Vec<String> = if wants_json {
        vec!["detect".into(), input]
    } else {
        vec!["run".into(), input]
    };
    args.extend(["-o".into(), output.to_string_lossy().into_owned()]);
    args.extend(if wants_json {
        options.detector_args()
    } else {
        options.render_args(None)
    });
    let _slot = state
        .sync_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("slots", e))?;
    match run_redact(&state, &args, &dir, |_, _| {}, always()).await {
        Outcome::Succeeded => {}
        Outcome::Failed(reason) => return Err(ApiError::bad_request(reason)),
        Outcome::Crashed(why) => {
            return Err(ApiError::internal("redact crashed on a sync image", why));
        }
        Outcome::Stopped => return Err(ApiError::internal("sync image", "stopped")),
    }
    if wants_json {
        let bytes =
            std::fs::read(&output).map_err(|e| ApiError::internal("reading detections", e))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::internal("detections", e))?;
        let findings = v["frames"][0]["detections"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| Finding {
                        class: d["class"].as_str().unwrap_or_default().into(),
                        bbox: [0, 1, 2, 3].map(|i| d["box"][i].as_f64().unwrap_or(0.0)),
                        score: d["score"].as_f64().unwrap_or(0.0),
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Json(Findings {
            width: v["width"].as_u64().unwrap_or(0),
            height: v["height"].as_u64().unwrap_or(0),
            findings,
        })
        .into_response());
    }
    let bytes =
        std::fs::read(&output).map_err(|e| ApiError::internal("reading a redacted image", e))?;
    Ok((
        [(header::CONTENT_TYPE, content_type(kind.extension))],
        bytes,
    )
        .into_response())
}

// ---- policies ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(value_type = JobOptions)]
    pub options: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    pub name: String,
    pub options: JobOptions,
    pub created_at: String,
}

fn policy_view(p: &PolicyRow) -> ApiResult<PolicyView> {
    Ok(PolicyView {
        id: p.id.clone(),
        name: p.name.clone(),
        options: serde_json::from_str(&p.options)
            .map_err(|e| ApiError::internal("stored policy", e))?,
        created_at: rfc3339(p.created_at),
    })
}

/// Save a named set of job options.
#[utoipa::path(
    post, path = "/v1/policies", tag = "policies", security(("bearer" = [])), request_body = PolicyRequest,
    responses(
        (status = 201, body = PolicyView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 415, body = ErrorBody)
    )
)]
async fn create_policy(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let r: PolicyRequest = serde_json::from_value(json_body(&headers, &body)?)
        .map_err(|e| ApiError::bad_request(format!("expected {{name, options}}: {e}")))?;
    if r.name.trim().is_empty() || r.name.len() > 200 {
        return Err(ApiError::bad_request("name: 1 to 200 characters"));
    }
    let options = options::parse_job_options(r.options)?;
    if options.policy_id.is_some() {
        return Err(ApiError::bad_request(
            "options: a policy cannot name another policy",
        ));
    }
    let stored = serde_json::to_string(&options).map_err(|e| ApiError::internal("policy", e))?;
    let row = store::add_policy(
        &state.db,
        &auth::random_id("pol"),
        &client.0,
        &r.name,
        &stored,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(policy_view(&row)?)).into_response())
}

/// The client's policies.
#[utoipa::path(
    get, path = "/v1/policies", tag = "policies", security(("bearer" = [])),
    responses((status = 200, body = Vec<PolicyView>), (status = 401, body = ErrorBody))
)]
async fn list_policies(
    State(state): State<AppState>,
    client: Client,
) -> ApiResult<Json<Vec<PolicyView>>> {
    let rows = store::policies(&state.db, &client.0).await?;
    Ok(Json(
        rows.iter().map(policy_view).collect::<ApiResult<_>>()?,
    ))
}

/// One policy.
#[utoipa::path(
    get, path = "/v1/policies/{id}", tag = "policies", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PolicyView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn get_policy(
    State(state): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<PolicyView>> {
    check_id(&id, "pol_", "policy")?;
    let row = store::policy(&state.db, &id, &client.0)
        .await?
        .ok_or_else(|| ApiError::not_found("policy"))?;
    Ok(Json(policy_view(&row)?))
}

/// Delete a policy (jobs that used it keep their options).
#[utoipa::path(
    delete, path = "/v1/policies/{id}", tag = "policies", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
async fn delete_policy(
    State(state): State<AppState>,
    client: Client,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<StatusCode> {
    check_id(&id, "pol_", "policy")?;
    if store::delete_policy(&state.db, &id, &client.0).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("policy"))
    }
}
