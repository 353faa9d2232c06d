//! `redact serve` over real HTTP on 127.0.0.1 with real media: the job flow against
//! `redact run`, the review flow (detection once, renders from the stored detections), auth,
//! upload checks, the queue limit, concurrent clients and a SIGKILL mid-job.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("REDACT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")))
        .join("data");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared test media)",
            dir.display()
        );
        None
    }
}

fn server_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_redact-serve"))
}

/// `redact`, built beside the server by the workspace build.
fn redact_exe() -> PathBuf {
    let exe = server_exe().with_file_name("redact");
    assert!(
        exe.is_file(),
        "{} is missing: cargo build --workspace",
        exe.display()
    );
    exe
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redact-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A wrapper around `redact` that appends each call's arguments to `calls.log`.
fn logging_redact(dir: &Path) -> PathBuf {
    let script = dir.join("redact-logged");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
            dir.join("calls.log").display(),
            redact_exe().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

struct Server {
    child: Child,
    base: String,
    data: PathBuf,
    args: Vec<String>,
    log: PathBuf,
}

impl Server {
    fn start(data: &Path, extra: &[&str]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut args: Vec<String> = vec![
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--data".into(),
            data.display().to_string(),
            "--device".into(),
            "cpu".into(),
            "--workers".into(),
            "1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let log = data.with_extension("log");
        let mut s = Server {
            child: Server::spawn(&args, &log),
            base: format!("http://127.0.0.1:{port}"),
            data: data.into(),
            args,
            log,
        };
        s.wait_ready();
        s
    }

    fn spawn(args: &[String], log: &Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        Command::new(server_exe())
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("redact-serve starts")
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the server exited ({status}): {}", self.log_text());
            }
            if agent()
                .get(&format!("{}/v1/openapi.json", self.base))
                .call()
                .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not answer: {}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill9_and_restart(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
        self.child = Server::spawn(&self.args, &self.log);
        self.wait_ready();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `redact serve clients add NAME` through the `redact` front door: (id, secret).
    fn add_client(&self, name: &str) -> (String, String) {
        let [id, secret, _] = self.add_client_with_webhook_secret(name);
        (id, secret)
    }

    /// (id, secret, webhook secret).
    fn add_client_with_webhook_secret(&self, name: &str) -> [String; 3] {
        let out = Command::new(redact_exe())
            .args(["serve", "clients", "add", name, "--data"])
            .arg(&self.data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_else(|| panic!("no {k} in {text}"))
                .trim()
                .to_string()
        };
        [
            field("client_id:"),
            field("client_secret:"),
            field("webhook_secret:"),
        ]
    }

    fn token(&self, id: &str, secret: &str) -> Value {
        let (status, body) = send_json(
            agent().post(&self.url("/v1/auth/token")),
            &json!({"client_id": id, "client_secret": secret}),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    fn access(&self, name: &str) -> String {
        let (id, secret) = self.add_client(name);
        self.token(&id, &secret)["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> (u16, Vec<u8>) {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(100 << 20)
        .read_to_vec()
        .unwrap();
    (status, body)
}

fn as_json(status: u16, body: &[u8]) -> (u16, Value) {
    let v = serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!(
            "status {status}: not JSON: {}",
            String::from_utf8_lossy(body)
        )
    });
    (status, v)
}

fn send_json(request: ureq::RequestBuilder<ureq::typestate::WithBody>, v: &Value) -> (u16, Value) {
    let (s, b) = read(request.send_json(v).unwrap());
    as_json(s, &b)
}

fn get(server: &Server, token: &str, path: &str) -> (u16, Vec<u8>) {
    read(
        agent()
            .get(&server.url(path))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap(),
    )
}

fn get_json(server: &Server, token: &str, path: &str) -> (u16, Value) {
    let (s, b) = get(server, token, path);
    as_json(s, &b)
}

fn post_json(server: &Server, token: &str, path: &str, v: &Value) -> (u16, Value) {
    send_json(
        agent()
            .post(&server.url(path))
            .header("Authorization", &format!("Bearer {token}")),
        v,
    )
}

/// A multipart body with a `media` file and optional `options`.
fn multipart(media: &[u8], options: Option<&Value>) -> (String, Vec<u8>) {
    let boundary = "----redact-test-boundary-7d1f";
    let mut body = Vec::new();
    if let Some(o) = options {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{o}\r\n"
        )
        .unwrap();
    }
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"upload\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .unwrap();
    body.extend_from_slice(media);
    write!(body, "\r\n--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn submit(
    server: &Server,
    token: &str,
    media: &[u8],
    options: Option<&Value>,
) -> (u16, Value, Option<String>) {
    let (content_type, body) = multipart(media, options);
    let response = agent()
        .post(&server.url("/v1/jobs"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", &content_type)
        .send(&body[..])
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header("location").or_else(|| header("retry-after"));
    let (s, b) = read(response);
    let (s, v) = as_json(s, &b);
    (s, v, location)
}

/// Polls a job until it is in one of `states` (panics after `limit`).
fn wait_for(server: &Server, token: &str, id: &str, states: &[&str], limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let (status, job) = get_json(server, token, &format!("/v1/jobs/{id}"));
        assert_eq!(status, 200, "{job}");
        let state = job["status"].as_str().unwrap().to_string();
        if states.contains(&state.as_str()) {
            return job;
        }
        assert!(
            !["failed", "cancelled"].contains(&state.as_str()),
            "job ended {state}: {job}\n{}",
            server.log_text()
        );
        assert!(
            start.elapsed() < limit,
            "job still {state} after {limit:?}: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The payload of an MP4's `mdat` box (the coded frames and audio; the header boxes carry
/// creation times that differ between runs).
fn mdat(file: &[u8]) -> &[u8] {
    let mut i = 0;
    while i + 8 <= file.len() {
        let size = u32::from_be_bytes(file[i..i + 4].try_into().unwrap()) as usize;
        let (start, size) = if size == 1 {
            (
                i + 16,
                u64::from_be_bytes(file[i + 8..i + 16].try_into().unwrap()) as usize,
            )
        } else {
            (i + 8, size)
        };
        if &file[i + 4..i + 8] == b"mdat" {
            return &file[start..i + size];
        }
        assert!(size >= 8, "bad MP4 box at {i}");
        i += size;
    }
    panic!("no mdat box");
}

/// Face boxes `redact detect` (plain detector) finds in a file.
fn faces_in(file: &Path) -> Vec<(u64, [f64; 4])> {
    let out_json = file.with_extension("faces.json");
    let out = Command::new(redact_exe())
        .arg("detect")
        .arg(file)
        .arg("-o")
        .arg(&out_json)
        .args([
            "--device",
            "cpu",
            "--no-verify",
            "--no-plates",
            "--no-track",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&out_json).unwrap()).unwrap();
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            let index = f["index"].as_u64().unwrap();
            f["detections"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |d| (index, [0, 1, 2, 3].map(|i| d["box"][i].as_f64().unwrap())))
        })
        .collect()
}

fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    let w = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let h = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    w > 0.0 && h > 0.0 && w * h > 0.3 * (a[2] * a[3]).min(b[2] * b[3])
}

#[test]
fn a_job_gives_what_redact_run_gives() {
    let Some(data) = shared_data() else { return };
    let clip = data.join("video/short_hamilton_clip.mp4");
    let dir = temp_dir("flow");
    let server = Server::start(&dir.join("data"), &[]);
    let (id, secret) = server.add_client("flow");
    // HTTP Basic works as well as JSON.
    let (status, pair) = read(
        agent()
            .post(&server.url("/v1/auth/token"))
            .header(
                "Authorization",
                &format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
            )
            .send_empty()
            .unwrap(),
    );
    let (status, pair) = as_json(status, &pair);
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["token_type"], "Bearer");
    let token = pair["access_token"].as_str().unwrap();

    let (status, job, location) = submit(&server, token, &std::fs::read(&clip).unwrap(), None);
    assert_eq!(status, 202, "{job}");
    let job_id = job["id"].as_str().unwrap();
    assert_eq!(
        location.as_deref(),
        Some(format!("/v1/jobs/{job_id}").as_str())
    );
    // Queued, or already taken up by the idle worker.
    assert!(
        ["queued", "detecting"].contains(&job["status"].as_str().unwrap()),
        "{job}"
    );
    assert_eq!(job["kind"], "video");
    // No result before it is done.
    let (status, _) = get(&server, token, &format!("/v1/jobs/{job_id}/result"));
    assert_eq!(status, 409);
    let done = wait_for(
        &server,
        token,
        job_id,
        &["succeeded"],
        Duration::from_secs(600),
    );
    assert_eq!(done["progress"], 100);
    let (status, result) = get(&server, token, &format!("/v1/jobs/{job_id}/result"));
    assert_eq!(status, 200);

    let local = dir.join("local.mp4");
    let out = Command::new(redact_exe())
        .arg("run")
        .arg(&clip)
        .arg("-o")
        .arg(&local)
        .args(["--device", "cpu", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let local = std::fs::read(&local).unwrap();
    assert_eq!(
        result.len(),
        local.len(),
        "result and redact run differ in size"
    );
    assert!(
        mdat(&result) == mdat(&local),
        "the job's frames differ from redact run's"
    );
    // The detections the job kept: the same format as redact detect, with tracks.
    let (status, det) = get_json(&server, token, &format!("/v1/jobs/{job_id}/detections"));
    assert_eq!(status, 200);
    assert_eq!(det["frame_count"], 275);
    assert!(
        det["tracks"].as_array().unwrap().len() > 10,
        "{}",
        det["tracks"]
    );

    // Another client sees no such job.
    let other = server.access("someone-else");
    for path in ["", "/result", "/detections"] {
        let (status, e) = get_json(&server, &other, &format!("/v1/jobs/{job_id}{path}"));
        assert_eq!(
            (status, e["error_type"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let (status, _) = read(
        agent()
            .delete(&server.url(&format!("/v1/jobs/{job_id}")))
            .header("Authorization", &format!("Bearer {other}"))
            .call()
            .unwrap(),
    );
    assert_eq!(status, 404);

    // Deleting removes its files; it is then cancelled-or-done with no result.
    let (status, _) = read(
        agent()
            .delete(&server.url(&format!("/v1/jobs/{job_id}")))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap(),
    );
    assert_eq!(status, 204);
    assert!(!dir.join("data/jobs").join(job_id).exists());
    let (status, _) = get(&server, token, &format!("/v1/jobs/{job_id}/result"));
    assert_eq!(status, 409);
}

#[test]
fn review_detects_once_and_renders_each_choice() {
    let Some(data) = shared_data() else { return };
    let clip = data.join("video/short_hamilton_clip.mp4");
    let dir = temp_dir("review");
    let redact = logging_redact(&dir);
    let server = Server::start(&dir.join("data"), &["--redact", redact.to_str().unwrap()]);
    let token = server.access("review");
    let (status, job, _) = submit(
        &server,
        &token,
        &std::fs::read(&clip).unwrap(),
        Some(&json!({"review": true})),
    );
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap();
    let job = wait_for(&server, &token, id, &["detected"], Duration::from_secs(600));
    assert_eq!(job["progress"], 50);
    assert!(job["outputs"]["media"].is_null());
    let (_, det) = get_json(&server, &token, &format!("/v1/jobs/{id}/detections"));
    // The longest face track: the one to keep visible, then the only one masked.
    let track = det["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["class"] == "face")
        .max_by_key(|t| t["last_frame"].as_u64().unwrap() - t["first_frame"].as_u64().unwrap())
        .unwrap()
        .clone();
    let track_id = track["id"].as_i64().unwrap();
    // Its boxes, frame by frame.
    let boxes: Vec<(u64, [f64; 4])> = det["frames"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            let index = f["index"].as_u64().unwrap();
            f["detections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["track_id"].as_i64() == Some(track_id) && d["origin"] == "detected")
                .map(move |d| (index, [0, 1, 2, 3].map(|i| d["box"][i].as_f64().unwrap())))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        boxes.len() >= 10,
        "track {track_id} has {} detected boxes",
        boxes.len()
    );
    let found_on_track = |file: &Path| {
        let faces = faces_in(file);
        boxes
            .iter()
            .filter(|(i, b)| faces.iter().any(|(j, f)| i == j && overlaps(b, f)))
            .count()
    };

    // The track's thumbnail: a JPEG in which the face is found again.
    let (status, thumb) = get(
        &server,
        &token,
        &format!("/v1/jobs/{id}/tracks/{track_id}/thumbnail"),
    );
    assert_eq!(status, 200);
    assert!(thumb.starts_with(b"\xff\xd8\xff"));
    let thumb_file = dir.join("thumb.jpg");
    std::fs::write(&thumb_file, &thumb).unwrap();
    assert!(
        !faces_in(&thumb_file).is_empty(),
        "no face in the track's thumbnail"
    );
    let (status, _) = get(
        &server,
        &token,
        &format!("/v1/jobs/{id}/tracks/999999/thumbnail"),
    );
    assert_eq!(status, 404);

    let mut renders = Vec::new();
    for (n, scope) in ["exclude", "include"].iter().enumerate() {
        let (status, job) = post_json(
            &server,
            &token,
            &format!("/v1/jobs/{id}/render"),
            &json!({"tracks": {"ids": [track_id], "scope": scope}}),
        );
        assert_eq!(status, 202, "{job}");
        wait_for(
            &server,
            &token,
            id,
            &["succeeded"],
            Duration::from_secs(300),
        );
        let (status, bytes) = get(&server, &token, &format!("/v1/jobs/{id}/result"));
        assert_eq!(status, 200);
        let file = dir.join(format!("render{n}.mp4"));
        std::fs::write(&file, &bytes).unwrap();
        renders.push(file);
    }
    // Kept visible: the face is found again on (nearly) every frame it was detected on;
    // masked alone: on (nearly) none.
    let kept = found_on_track(&renders[0]);
    let masked = found_on_track(&renders[1]);
    eprintln!(
        "track {track_id}: {} detected boxes; re-detected {kept} when kept, {masked} when masked",
        boxes.len()
    );
    assert!(
        kept * 10 >= boxes.len() * 7,
        "kept visible: re-detected {kept} of {}",
        boxes.len()
    );
    assert!(
        masked * 20 <= boxes.len(),
        "masked: still re-detected {masked} of {}",
        boxes.len()
    );
    // The other faces: masked in the first render, visible in the second.
    let others = |file: &Path| {
        faces_in(file)
            .iter()
            .filter(|(i, f)| !boxes.iter().any(|(j, b)| i == j && overlaps(b, f)))
            .count()
    };
    let (others_masked, others_kept) = (others(&renders[0]), others(&renders[1]));
    assert!(
        others_kept > 5 * others_masked.max(1),
        "other faces: {others_masked} found when masked, {others_kept} when kept"
    );

    // One detector run: one `redact detect`, and each render a `redact run` from the
    // stored detections.
    let calls = std::fs::read_to_string(dir.join("calls.log")).unwrap();
    let calls: Vec<&str> = calls
        .lines()
        .filter(|l| l.starts_with("detect ") || l.starts_with("run "))
        .collect();
    assert_eq!(
        calls.iter().filter(|l| l.starts_with("detect ")).count(),
        1,
        "{calls:?}"
    );
    let runs: Vec<&&str> = calls.iter().filter(|l| l.starts_with("run ")).collect();
    assert_eq!(runs.len(), 2, "{calls:?}");
    assert!(runs.iter().all(|l| l.contains("--detections")), "{runs:?}");
    // Rendering a job that does not exist is 404 (JSON), not a conflict.
    let (status, e) = post_json(
        &server,
        &token,
        "/v1/jobs/job_000000000000000000000000/render",
        &json!({}),
    );
    assert_eq!((status, e["error_type"].as_str()), (404, Some("not_found")));
}

#[test]
fn auth_refuses_what_it_should() {
    let dir = temp_dir("auth");
    let server = Server::start(&dir.join("data"), &["--access-token-seconds", "2"]);
    let (id, secret) = server.add_client("auth");
    let pair = server.token(&id, &secret);
    let access = pair["access_token"].as_str().unwrap().to_string();
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();

    let status_of = |token: &str| get(&server, token, "/v1/policies").0;
    assert_eq!(status_of(&access), 200);
    // Wrong secret, unknown client.
    let (s, e) = send_json(
        agent().post(&server.url("/v1/auth/token")),
        &json!({"client_id": id, "client_secret": "nope"}),
    );
    assert_eq!((s, e["error_type"].as_str()), (401, Some("unauthorized")));
    let (s, _) = send_json(
        agent().post(&server.url("/v1/auth/token")),
        &json!({"client_id": "cl_x", "client_secret": secret}),
    );
    assert_eq!(s, 401);
    // Forged: payload changed, signature kept; signed with another key; alg none.
    let parts: Vec<&str> = access.split('.').collect();
    let other_sub = URL_SAFE_NO_PAD
        .encode(br#"{"sub":"cl_someoneelse","exp":9999999999,"iat":0,"typ":"access"}"#);
    assert_eq!(
        status_of(&format!("{}.{other_sub}.{}", parts[0], parts[2])),
        401
    );
    let claims = json!({"sub": id, "exp": 9_999_999_999u64, "iat": 0, "typ": "access"});
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not the server's key, 32 bytes!!"),
    )
    .unwrap();
    assert_eq!(status_of(&foreign), 401);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
    );
    assert_eq!(status_of(&none), 401);
    assert_eq!(status_of("garbage"), 401);
    // Another client's job is not found.
    let other = server.access("other");
    let (_, policy) = post_json(
        &server,
        &access,
        "/v1/policies",
        &json!({"name": "p", "options": {"method": "fill"}}),
    );
    let pid = policy["id"].as_str().unwrap();
    assert_eq!(get(&server, &access, &format!("/v1/policies/{pid}")).0, 200);
    assert_eq!(get(&server, &other, &format!("/v1/policies/{pid}")).0, 404);

    // Refresh rotates; the old refresh token is refused and its reuse revokes the family.
    let (s, second) = send_json(
        agent().post(&server.url("/v1/auth/refresh")),
        &json!({"refresh_token": refresh}),
    );
    assert_eq!(s, 200, "{second}");
    let new_refresh = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, refresh);
    let (s, e) = send_json(
        agent().post(&server.url("/v1/auth/refresh")),
        &json!({"refresh_token": refresh}),
    );
    assert_eq!(s, 401, "{e}");
    let (s, _) = send_json(
        agent().post(&server.url("/v1/auth/refresh")),
        &json!({"refresh_token": new_refresh}),
    );
    assert_eq!(s, 401, "the family survived the replay of a rotated token");

    // Expired.
    std::thread::sleep(Duration::from_millis(3100));
    let (s, body) = get_json(&server, &access, "/v1/policies");
    assert_eq!(s, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // Secrets and tokens are not stored in clear.
    drop(server);
    let mut stored = Vec::new();
    for f in ["redact.sqlite", "redact.sqlite-wal"] {
        stored.extend(std::fs::read(dir.join("data").join(f)).unwrap_or_default());
    }
    assert!(!stored.is_empty());
    for needle in [&secret, &refresh, &new_refresh] {
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "found a secret in the database"
        );
    }
}

#[test]
fn uploads_options_and_the_queue_are_checked() {
    let Some(data) = shared_data() else { return };
    let image = std::fs::read(
        data.join("faces-dlib")
            .join(first_image(&data.join("faces-dlib"))),
    )
    .unwrap();
    let dir = temp_dir("checks");
    let server = Server::start(
        &dir.join("data"),
        &[
            "--max-upload-mb",
            "1",
            "--queue-limit",
            "2",
            "--max-image-mb",
            "1",
        ],
    );
    let token = server.access("checks");
    // Decided by content: a text file is 415 whatever it is called.
    let (s, e, _) = submit(&server, &token, b"just some text, not a video", None);
    assert_eq!(
        (s, e["error_type"].as_str()),
        (415, Some("unsupported_media_type")),
        "{e}"
    );
    // Too large: 413, and nothing is kept.
    let big = vec![0u8; 1_200_000];
    let (s, e, _) = submit(&server, &token, &big, None);
    assert_eq!(s, 413, "{e}");
    // Bad options: 400 naming the option.
    for (options, word) in [
        (json!({"method": "smudge"}), "method"),
        (json!({"threshold": 2}), "threshold"),
        (json!({"sharpen": true}), "sharpen"),
        (
            json!({"policy_id": "pol_000000000000000000000000"}),
            "policy",
        ),
    ] {
        let (s, e, _) = submit(&server, &token, &image, Some(&options));
        assert_eq!(s, 400, "{options}: {e}");
        assert!(e["message"].as_str().unwrap().contains(word), "{e}");
    }
    // Callbacks to private addresses are refused by default; file:// is off without a root.
    let (s, e, _) = submit(
        &server,
        &token,
        &image,
        Some(&json!({"callback_url": "http://127.0.0.1:9/x"})),
    );
    assert_eq!(s, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("private"), "{e}");
    let (s, e) = post_json(
        &server,
        &token,
        "/v1/jobs",
        &json!({"input_uri": "file:///etc/hosts"}),
    );
    assert_eq!(s, 400, "{e}");
    let (s, e) = post_json(
        &server,
        &token,
        "/v1/jobs",
        &json!({"input_uri": "https://127.0.0.1:9/x.jpg"}),
    );
    assert!(
        s == 400 && e["message"].as_str().unwrap().contains("private"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("data/jobs")).unwrap().count(),
        0,
        "refused uploads left files"
    );
    // The queue holds 2: a third is 429 with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (s, e, header) = submit(&server, &token, &image, None);
        statuses.push(s);
        if s == 429 {
            assert_eq!(e["error_type"], "queue_full");
            assert!(header.unwrap().parse::<u64>().unwrap() > 0);
        }
    }
    assert_eq!(statuses, [202, 202, 429]);
    // Sync image: the redacted image, or the findings.
    let response = agent()
        .post(&server.url("/v1/redact"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "image/jpeg")
        .send(&image[..])
        .unwrap();
    let (s, redacted) = read(response);
    assert_eq!(s, 200);
    assert!(redacted.starts_with(b"\xff\xd8\xff") && redacted != image);
    let response = agent()
        .post(&server.url("/v1/redact"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "application/json")
        .send(&image[..])
        .unwrap();
    let (s, b) = read(response);
    let (s, findings) = as_json(s, &b);
    assert_eq!(s, 200, "{findings}");
    assert!(
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["class"] == "face"),
        "{findings}"
    );
    // Errors are JSON everywhere, with no internals.
    let (s, e) = as_json_pair(read(
        agent().get(&server.url("/v1/nothing")).call().unwrap(),
    ));
    assert_eq!((s, e["error_type"].as_str()), (404, Some("not_found")));
    let (s, e) = as_json_pair(read(
        agent().get(&server.url("/v1/jobs/job_1")).call().unwrap(),
    ));
    assert_eq!((s, e["error_type"].as_str()), (401, Some("unauthorized")));
}

fn as_json_pair((s, b): (u16, Vec<u8>)) -> (u16, Value) {
    as_json(s, &b)
}

fn first_image(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    names.sort();
    names.into_iter().next().expect("a JPEG in faces-dlib")
}

#[test]
fn concurrent_clients_and_a_sigkill_lose_no_job() {
    let Some(data) = shared_data() else { return };
    let dlib = data.join("faces-dlib");
    let image = std::fs::read(dlib.join(first_image(&dlib))).unwrap();
    let clip = std::fs::read(data.join("video/short_hamilton_clip.mp4")).unwrap();
    let dir = temp_dir("load");
    let mut server = Server::start(
        &dir.join("data"),
        &["--queue-limit", "12", "--lease-seconds", "5"],
    );
    // A video first, so that the server is killed in the middle of it.
    let first = server.access("video");
    let (s, video, _) = submit(&server, &first, &clip, None);
    assert_eq!(s, 202, "{video}");
    let video_id = video["id"].as_str().unwrap().to_string();
    // 20 clients submit an image each at once.
    let tokens: Vec<String> = (0..20).map(|i| server.access(&format!("c{i}"))).collect();
    let results: Vec<(u16, Value, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|t| {
                let server = &server;
                let image = &image;
                scope.spawn(move || {
                    let (s, v, _) = submit(server, t, image, None);
                    (s, v, t.clone())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted: Vec<(String, String)> = results
        .iter()
        .filter(|(s, _, _)| *s == 202)
        .map(|(_, v, t)| (v["id"].as_str().unwrap().to_string(), t.clone()))
        .collect();
    let refused = results.iter().filter(|(s, _, _)| *s == 429).count();
    assert_eq!(accepted.len() + refused, 20, "{results:?}");
    assert!(
        refused > 0 && accepted.len() >= 10,
        "{} accepted, {refused} refused",
        accepted.len()
    );

    // Kill -9 while the video is detected, start again; then again while it is rendered.
    wait_for(
        &server,
        &first,
        &video_id,
        &["detecting"],
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_secs(3));
    server.kill9_and_restart();
    let start = Instant::now();
    loop {
        let (_, job) = get_json(&server, &first, &format!("/v1/jobs/{video_id}"));
        if job["status"] == "rendering" {
            break;
        }
        assert!(
            job["status"] != "succeeded" && start.elapsed() < Duration::from_secs(300),
            "never saw the video rendering: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill9_and_restart();
    let result_path = dir.join("data/jobs").join(&video_id).join("result.mp4");
    let start = Instant::now();
    let mut all: Vec<(String, String)> = accepted.clone();
    all.push((video_id.clone(), first.clone()));
    loop {
        let states: Vec<String> = all
            .iter()
            .map(|(id, t)| {
                get_json(&server, t, &format!("/v1/jobs/{id}")).1["status"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        // No result file is served before the job succeeds: one that is served belongs to
        // a job that has succeeded when asked afterwards (asked before, the job may succeed
        // between the two requests: a 200 then is no leak).
        let served = get(&server, &first, &format!("/v1/jobs/{video_id}/result")).0;
        if served != 409 {
            assert_eq!(served, 200);
            let (_, job) = get_json(&server, &first, &format!("/v1/jobs/{video_id}"));
            assert_eq!(job["status"], "succeeded", "a result served before: {job}");
        }
        if states.iter().all(|s| s == "succeeded" || s == "failed") {
            for ((id, t), s) in all.iter().zip(&states) {
                let (_, job) = get_json(&server, t, &format!("/v1/jobs/{id}"));
                assert!(s == "succeeded" || job["error"].is_string(), "{job}");
            }
            assert!(
                states.iter().all(|s| s == "succeeded"),
                "{states:?}\n{}",
                server.log_text()
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "jobs stuck: {states:?}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(result_path.is_file());
    let (s, bytes) = get(&server, &first, &format!("/v1/jobs/{video_id}/result"));
    assert_eq!(s, 200);
    assert!(mdat(&bytes).len() > 100_000);
    let log = server.log_text();
    assert!(log.contains("queued again"), "{log}");
    // Nothing personal in the log: no client secret, no token, no file name.
    assert!(
        !log.contains(&first) && !log.contains("short_hamilton"),
        "{log}"
    );
}

/// The OpenAPI document is the contract: schemathesis (installed by ./setup) generates
/// requests from it against the running server and checks every answer: no 500, no status
/// or content type the document does not list, bodies that match its schemas, schema-
/// violating requests refused, auth not ignored. Left out: `positive_data_acceptance`, since
/// some rules are not expressible in JSON Schema (media decided by content: a schema-valid
/// binary that is no image is 415; faces and plates both off; an area's top below its
/// bottom; a box's `to` before its `from`).
#[test]
fn the_openapi_document_holds_against_the_server() {
    let tool = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.cache/schemathesis/bin/schemathesis"
    ));
    assert!(
        tool.is_file(),
        "{} is missing: run ./setup (it installs schemathesis from PyPI)",
        tool.display()
    );
    let dir = temp_dir("contract");
    let server = Server::start(&dir.join("data"), &["--max-upload-mb", "5"]);
    let token = server.access("contract");
    let out = Command::new(&tool)
        .arg("run")
        .arg(server.url("/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args([
            "--max-examples",
            "40",
            "--phases",
            "examples,coverage,fuzzing,stateful",
        ])
        .args(["--workers", "1", "--seed", "1", "--no-color"])
        .current_dir(&dir)
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("generated") || l.contains("passed") || l.contains("failed"))
        .collect();
    eprintln!("schemathesis: {}", summary.join(" | "));
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("generated"), "{text}");
}

/// A webhook receiver on 127.0.0.1: records each request's headers and body; answers 500
/// to the first request and 200 to the others.
struct Receiver {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    headers.push_str(&line);
                }
                let length = headers
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let first = {
                    let mut seen = record.lock().unwrap();
                    seen.push((headers, String::from_utf8_lossy(&body).into_owned()));
                    seen.len() == 1
                };
                let status = if first {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, seen }
    }
}

fn header_value(headers: &str, name: &str) -> Option<String> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

#[test]
fn webhooks_are_signed_retried_and_never_fail_a_job() {
    use hmac::{KeyInit, Mac};
    let Some(data) = shared_data() else { return };
    let dlib = data.join("faces-dlib");
    let name = first_image(&dlib);
    let dir = temp_dir("webhooks");
    // A ZIP of two photos, given as a file:// input under the server's file root.
    let inputs = dir.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let zip = inputs.join("photos.zip");
    let made = Command::new("python3")
        .args(["-c", "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    z.write(sys.argv[2], 'a/one.jpg'); z.write(sys.argv[2], 'two.jpg')"])
        .arg(&zip)
        .arg(dlib.join(&name))
        .status()
        .unwrap();
    assert!(made.success());
    let server = Server::start(
        &dir.join("data"),
        &[
            "--allow-private-urls",
            "--file-root",
            inputs.to_str().unwrap(),
        ],
    );
    let [id, secret, hook_secret] = server.add_client_with_webhook_secret("hooks");
    let token = server.token(&id, &secret)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let receiver = Receiver::start();

    let (status, job) = post_json(
        &server,
        &token,
        "/v1/jobs",
        &json!({"input_uri": format!("file://{}", zip.display()), "options": {"callback_url": receiver.url}}),
    );
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "zip");
    let job_id = job["id"].as_str().unwrap().to_string();
    wait_for(
        &server,
        &token,
        &job_id,
        &["succeeded"],
        Duration::from_secs(300),
    );
    let (status, result) = get(&server, &token, &format!("/v1/jobs/{job_id}/result"));
    assert_eq!(status, 200);
    assert!(
        result.starts_with(b"PK\x03\x04"),
        "the result of a ZIP is a ZIP"
    );
    let listing = dir.join("result.zip");
    std::fs::write(&listing, &result).unwrap();
    let names = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; print(sorted(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(&listing)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&names.stdout).trim(),
        "['a/one.jpg', 'two.jpg']"
    );
    // Outside the file root, or with file:// off: refused.
    let (status, e) = post_json(
        &server,
        &token,
        "/v1/jobs",
        &json!({"input_uri": "file:///etc/passwd"}),
    );
    assert_eq!(status, 400, "{e}");

    // Every state change arrives (the first try failed with 500 and was retried), signed.
    let start = Instant::now();
    let statuses = loop {
        let seen = receiver.seen.lock().unwrap().clone();
        let statuses: Vec<String> = seen
            .iter()
            .map(|(_, b)| {
                serde_json::from_str::<Value>(b).unwrap()["status"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        if statuses.last().map(String::as_str) == Some("succeeded") && seen.len() >= 4 {
            for (headers, body) in &seen {
                let signature = header_value(headers, "x-redact-signature").expect("signed");
                let (t, v1) = signature.split_once(",v1=").unwrap();
                let t = t.strip_prefix("t=").unwrap();
                let mut mac =
                    hmac::Hmac::<sha2::Sha256>::new_from_slice(hook_secret.as_bytes()).unwrap();
                mac.update(format!("{t}.{body}").as_bytes());
                let want: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(v1, want, "bad signature on {body}");
                let v: Value = serde_json::from_str(body).unwrap();
                assert_eq!(v["id"], job_id.as_str());
                assert_eq!(
                    header_value(headers, "x-redact-event").as_deref(),
                    v["event_id"].as_str()
                );
            }
            // The first event twice (500, then delivered), then the others once each.
            let first: Value = serde_json::from_str(&seen[0].1).unwrap();
            let again: Value = serde_json::from_str(&seen[1].1).unwrap();
            assert_eq!(first["event_id"], again["event_id"]);
            break statuses;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "webhooks seen: {statuses:?}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("webhook statuses: {statuses:?}");
    assert_eq!(statuses[0], "queued");
    assert!(statuses.contains(&"detecting".to_string()), "{statuses:?}");

    // Deleting a running job stops its redact process and leaves no files.
    let clip = std::fs::read(data.join("video/short_hamilton_clip.mp4")).unwrap();
    let (status, job, _) = submit(&server, &token, &clip, None);
    assert_eq!(status, 202, "{job}");
    let running = job["id"].as_str().unwrap().to_string();
    wait_for(
        &server,
        &token,
        &running,
        &["detecting"],
        Duration::from_secs(60),
    );
    let engine_runs = || {
        let out = Command::new("pgrep")
            .args(["-f", &running])
            .output()
            .unwrap();
        !out.stdout.is_empty()
    };
    assert!(engine_runs(), "no redact process for the running job");
    let (status, _) = read(
        agent()
            .delete(&server.url(&format!("/v1/jobs/{running}")))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap(),
    );
    assert_eq!(status, 204);
    let (_, job) = get_json(&server, &token, &format!("/v1/jobs/{running}"));
    assert_eq!(job["status"], "cancelled", "{job}");
    let start = Instant::now();
    while engine_runs() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "redact still runs after the delete"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(!dir.join("data/jobs").join(&running).exists(), "files left");

    // A receiver that never answers does not fail the job.
    let dead = format!(
        "http://127.0.0.1:{}/hook",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let image = std::fs::read(dlib.join(&name)).unwrap();
    let (status, job, _) = submit(
        &server,
        &token,
        &image,
        Some(&json!({"callback_url": dead})),
    );
    assert_eq!(status, 202, "{job}");
    wait_for(
        &server,
        &token,
        job["id"].as_str().unwrap(),
        &["succeeded"],
        Duration::from_secs(120),
    );
}

/// A job whose `redact` keeps dying by a signal is tried `--max-attempts` times and then
/// ends `failed` with the reason; the server itself stays up.
#[test]
fn a_job_that_keeps_crashing_ends_failed() {
    let dir = temp_dir("crash");
    let crasher = dir.join("redact-crashes");
    std::fs::write(&crasher, "#!/bin/sh\nkill -9 $$\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&crasher, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start(
        &dir.join("data"),
        &[
            "--redact",
            crasher.to_str().unwrap(),
            "--max-attempts",
            "2",
            "--retention-hours",
            "0.002",
        ],
    );
    let token = server.access("crash");
    // A PNG signature is enough: the (crashing) engine never reads further.
    let (status, job, _) = submit(&server, &token, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", None);
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap();
    let start = Instant::now();
    let job = loop {
        let (_, job) = get_json(&server, &token, &format!("/v1/jobs/{id}"));
        if job["status"] == "failed" {
            break job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{job}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let reason = job["error"].as_str().unwrap();
    assert!(reason.contains("crashed 2 times"), "{reason}");
    assert_eq!(
        server.log_text().matches("redact died").count(),
        2,
        "{}",
        server.log_text()
    );
    assert!(job["outputs"]["media"].is_null());
    // Retention (7.2 s here): the finished job and its files go.
    let start = Instant::now();
    while get(&server, &token, &format!("/v1/jobs/{id}")).0 != 404 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not swept: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(!dir.join("data/jobs").join(id).exists());
    assert!(server.log_text().contains("deleted (retention)"));
}
