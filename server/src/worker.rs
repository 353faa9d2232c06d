//! Workers: claim a job from the store, run its phase as a `redact` process (the same
//! pipeline as `redact run`), report progress, renew the lease, record the end. A `redact`
//! that dies by a signal puts the job back in the queue until it has had its tries.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::AppState;
use crate::options::{JobOptions, RenderRequest};
use crate::storage::{self, BOXES, DETECTIONS};
use crate::store::{self, JobRow, PhaseEnd};

/// How a `redact` process ended.
#[derive(Debug)]
pub enum Outcome {
    Succeeded,
    /// It exited with an error: its last `error:` line, without the job folder's path.
    Failed(String),
    /// It died by a signal (a crash or a kill from outside).
    Crashed(String),
    /// We stopped it (the job was cancelled or taken over).
    Stopped,
}

/// Asked every two seconds while `redact` runs; false stops it.
pub type KeepGoing = Box<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Never stops the process.
pub fn always() -> KeepGoing {
    Box::new(|| Box::pin(async { true }))
}

/// Runs a `redact` command that has no progress and no device (`redact frame`).
pub async fn run_plain(state: &AppState, args: &[String], folder: &Path) -> Outcome {
    run_command(state, args, &[], folder, |_, _| {}, always()).await
}

/// Runs `redact ARGS` with `--progress-lines`; `progress(done, total)` on each line;
/// `keep_going()` every two seconds, false stops the process.
pub async fn run_redact(
    state: &AppState,
    args: &[String],
    folder: &Path,
    progress: impl FnMut(u64, u64) + Send,
    keep_going: KeepGoing,
) -> Outcome {
    let mut extra = state.settings.redact_args.clone();
    extra.push("--progress-lines".into());
    run_command(state, args, &extra, folder, progress, keep_going).await
}

async fn run_command(
    state: &AppState,
    args: &[String],
    extra: &[String],
    folder: &Path,
    mut progress: impl FnMut(u64, u64) + Send,
    keep_going: KeepGoing,
) -> Outcome {
    let mut cmd = Command::new(&state.settings.redact);
    cmd.args(args)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; it makes the child die with the server.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "error: cannot start {}: {e}",
                state.settings.redact.display()
            );
            return Outcome::Failed("the redaction engine could not be started".into());
        }
    };
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let err_task = {
        let stderr = child.stderr.take().expect("piped");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            let mut errors = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(e) = line.strip_prefix("error: ") {
                    errors.push(e.to_string());
                }
            }
            errors
        })
    };
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.tick().await;
    let mut stdout_open = true;
    let status = loop {
        tokio::select! {
            line = out.next_line(), if stdout_open => match line {
                Ok(Some(line)) => {
                    let mut parts = line.split_whitespace();
                    if parts.next() == Some("progress")
                        && let (Some(Ok(done)), Some(Ok(total))) =
                            (parts.next().map(str::parse), parts.next().map(str::parse))
                    {
                        progress(done, total);
                    }
                }
                _ => stdout_open = false,
            },
            status = child.wait() => break status,
            _ = tick.tick() => {
                if !keep_going().await {
                    let _ = child.kill().await;
                    return Outcome::Stopped;
                }
            }
        }
    };
    let errors = err_task.await.unwrap_or_default();
    let folder = format!("{}/", folder.display());
    let reason = errors
        .last()
        .map(|e| e.replace(&folder, ""))
        .unwrap_or_else(|| "the redaction failed".into());
    match status {
        Ok(s) if s.success() => Outcome::Succeeded,
        Ok(s) if s.code().is_some() => Outcome::Failed(reason),
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            Outcome::Crashed(format!("signal {}", s.signal().unwrap_or(0)))
        }
        Err(e) => Outcome::Crashed(e.to_string()),
    }
}

/// The `redact` arguments of a job's next phase, and the progress range it fills.
fn phase_args(job: &JobRow, dir: &Path) -> Result<(Vec<String>, (i64, i64)), String> {
    let options: JobOptions =
        serde_json::from_str(&job.options).map_err(|e| format!("stored options: {e}"))?;
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let input = path(&job.input);
    let extension = Path::new(&job.input)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = path(&storage::result_name(&extension));
    match job.phase.as_str() {
        "detect" => {
            let mut args = vec!["detect".into(), input, "-o".into(), path(DETECTIONS)];
            args.extend(options.detector_args());
            Ok((args, (0, 50)))
        }
        "render" => {
            let render: Option<RenderRequest> = match &job.render {
                Some(r) => {
                    Some(serde_json::from_str(r).map_err(|e| format!("stored render: {e}"))?)
                }
                None => None,
            };
            let mut args = vec![
                "run".into(),
                input,
                "-o".into(),
                result,
                "--detections".into(),
                path(DETECTIONS),
            ];
            if render.as_ref().is_some_and(|r| !r.boxes.is_empty()) {
                args.extend(["--boxes".into(), path(BOXES)]);
            }
            args.extend(options.render_args(render.as_ref()));
            Ok((args, (50, 100)))
        }
        "run" => {
            let mut args = vec!["run".into(), input, "-o".into(), result];
            args.extend(options.render_args(None));
            Ok((args, (0, 100)))
        }
        other => Err(format!("unknown phase {other}")),
    }
}

async fn run_job(state: &AppState, worker: &str, job: JobRow) {
    let id = job.id.clone();
    let dir = state.storage.dir(&id);
    let started = Instant::now();
    crate::webhooks::job_changed(state, &id, Some(&job.status)).await;
    eprintln!(
        "job {id}: {} (attempt {})",
        if job.phase == "render" {
            "rendering"
        } else {
            "detecting"
        },
        job.attempts
    );
    let end = |status, progress, error, phase, has_detections, has_result| PhaseEnd {
        status,
        progress,
        error,
        phase,
        has_detections,
        has_result,
    };
    let (args, (from, to)) = match phase_args(&job, &dir) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: job {id}: {e}");
            let e = end(
                "failed",
                job.progress,
                Some("internal error"),
                None,
                job.has_detections,
                false,
            );
            let _ = store::end_phase(&state.db, &id, worker, &e).await;
            return;
        }
    };
    if job.phase == "render"
        && let Some(r) = &job.render
        && let Ok(r) = serde_json::from_str::<RenderRequest>(r)
        && !r.boxes.is_empty()
    {
        let json = serde_json::to_vec(&r.boxes).unwrap_or_default();
        if let Err(e) = std::fs::write(dir.join(BOXES), json) {
            eprintln!("error: job {id}: cannot write its boxes: {e}");
        }
    }
    let percent = Arc::new(AtomicI64::new(from));
    let shown = Arc::new(AtomicI64::new(from));
    let p = percent.clone();
    let keep_going: KeepGoing = {
        let (state, id, worker) = (state.clone(), id.clone(), worker.to_string());
        Box::new(move || {
            let (state, id, worker) = (state.clone(), id.clone(), worker.clone());
            let (percent, shown) = (percent.clone(), shown.clone());
            Box::pin(async move {
                let v = percent.load(Ordering::Relaxed);
                if v / 10 != shown.swap(v, Ordering::Relaxed) / 10 {
                    eprintln!("job {id}: {v}%");
                }
                matches!(
                    store::heartbeat(&state.db, &id, &worker, v, state.settings.lease).await,
                    Ok(Some(_))
                )
            })
        })
    };
    let outcome = run_redact(
        state,
        &args,
        &dir,
        |done, total| {
            if total > 0 {
                let v =
                    from + ((to - from) as f64 * (done.min(total) as f64 / total as f64)) as i64;
                p.store(v.min(to - 1).max(from), Ordering::Relaxed);
            }
        },
        keep_going,
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let review = serde_json::from_str::<JobOptions>(&job.options)
        .ok()
        .and_then(|o| o.review)
        .unwrap_or(false);
    let recorded = match &outcome {
        Outcome::Succeeded if job.phase == "detect" && review => {
            store::end_phase(
                &state.db,
                &id,
                worker,
                &end("detected", 50, None, None, true, false),
            )
            .await
        }
        Outcome::Succeeded if job.phase == "detect" => {
            store::end_phase(
                &state.db,
                &id,
                worker,
                &end("queued", 50, None, Some("render"), true, false),
            )
            .await
        }
        Outcome::Succeeded => {
            let e = end(
                "succeeded",
                100,
                None,
                None,
                job.has_detections || job.phase == "render",
                true,
            );
            store::end_phase(&state.db, &id, worker, &e).await
        }
        Outcome::Failed(reason) => {
            let e = end(
                "failed",
                job.progress,
                Some(reason),
                None,
                job.has_detections,
                false,
            );
            store::end_phase(&state.db, &id, worker, &e).await
        }
        Outcome::Crashed(why) => {
            eprintln!(
                "warning: job {id}: redact died ({why}) on attempt {}",
                job.attempts
            );
            store::requeue(&state.db, &id, worker, state.settings.max_attempts).await
        }
        Outcome::Stopped => Ok(false),
    };
    match (&outcome, &recorded) {
        (Outcome::Stopped, _) | (_, Ok(false)) => {
            // Cancelled or deleted meanwhile: leave nothing behind.
            if let Ok(Some(row)) = store::job_any(&state.db, &id).await
                && row.status == "cancelled"
            {
                let _ = state.storage.delete(&id);
            }
            eprintln!("job {id}: stopped (cancelled)");
        }
        (_, Err(e)) => eprintln!("error: job {id}: recording its end: {e}"),
        (Outcome::Succeeded, Ok(true)) => eprintln!("job {id}: {} done in {secs:.1} s", job.phase),
        (Outcome::Failed(_), Ok(true)) => eprintln!("job {id}: failed after {secs:.1} s"),
        _ => {}
    }
    let entered = match &outcome {
        Outcome::Succeeded if job.phase == "detect" && review => Some("detected"),
        Outcome::Succeeded if job.phase == "detect" => Some("queued"),
        Outcome::Succeeded => Some("succeeded"),
        Outcome::Failed(_) => Some("failed"),
        Outcome::Crashed(_) | Outcome::Stopped => None,
    };
    if matches!(recorded, Ok(true)) {
        crate::webhooks::job_changed(state, &id, entered).await;
    }
    state.wake.notify_waiters();
}

/// Starts the workers and the retention sweeper.
pub fn start(state: &AppState) {
    for n in 0..state.settings.workers {
        let state = state.clone();
        tokio::spawn(async move {
            let worker = format!("{}/{n}", state.node);
            loop {
                match store::fail_exhausted(&state.db, state.settings.max_attempts).await {
                    Ok(ids) => {
                        for id in ids {
                            eprintln!("job {id}: failed (its worker died too often)");
                            crate::webhooks::job_changed(&state, &id, Some("failed")).await;
                        }
                    }
                    Err(e) => eprintln!("error: store: {e}"),
                }
                match store::claim(
                    &state.db,
                    &worker,
                    state.settings.lease,
                    state.settings.max_attempts,
                )
                .await
                {
                    Ok(Some(job)) => run_job(&state, &worker, job).await,
                    Ok(None) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), state.wake.notified())
                            .await;
                    }
                    Err(e) => {
                        eprintln!("error: store: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            let before = store::now() - state.settings.retention.as_secs() as i64;
            match store::sweep(&state.db, before).await {
                Ok(ids) => {
                    for id in ids {
                        if let Err(e) = state.storage.delete(&id) {
                            eprintln!("error: job {id}: deleting its files: {e}");
                        } else {
                            eprintln!("job {id}: deleted (retention)");
                        }
                    }
                }
                Err(e) => eprintln!("error: store: {e}"),
            }
            tokio::time::sleep(
                Duration::from_secs(60)
                    .min(state.settings.retention / 4)
                    .max(Duration::from_secs(1)),
            )
            .await;
        }
    });
}
