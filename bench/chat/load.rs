//! A bounded, closed-loop HTTP load generator: a fixed number of connections, each sending its
//! next request when the previous answer has been read, for a fixed time. Variants that are
//! compared are run in turns (A, B, A, B, …) so that a noisy neighbour slows both alike.

use std::time::Duration;

use reqwest::{header::HeaderMap, Method, StatusCode};
use tokio::time::Instant;

use crate::stats::Samples;

/// The longest one request may take before the run fails.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// One kind of request, sent over and over.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<String>,
    /// Every answer must have this status, or the run fails: a fast error is not a result.
    pub expect: StatusCode,
    /// More pages fetched after the first, one after another with the same headers, as a
    /// browser that needs several round trips for one view: one visit is measured as one.
    pub then: Vec<String>,
}

impl Target {
    pub fn get(name: &str, url: String, headers: HeaderMap) -> Self {
        Target {
            name: name.to_owned(),
            method: Method::GET,
            url,
            headers,
            body: None,
            expect: StatusCode::OK,
            then: Vec::new(),
        }
    }

    /// A view that takes `urls` fetched in turn (GET, each answered with 200).
    pub fn visit(name: &str, mut urls: Vec<String>, headers: HeaderMap) -> Self {
        let first = urls.remove(0);
        Target {
            then: urls,
            ..Target::get(name, first, headers)
        }
    }
}

/// What a target's runs measured.
#[derive(Default)]
pub struct Throughput {
    pub requests: usize,
    pub elapsed: Duration,
    pub latencies: Samples,
    /// CPU time of the whole process (user and system) outside the load generator's thread
    /// while it ran: the app's work, and nothing of the client's.
    pub app_cpu: Duration,
    /// The app's CPU time per request of each turn, in order: turn `i` of every target compared
    /// together ran within moments of each other.
    pub turns: Vec<Duration>,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The app's CPU time per request. Unlike requests per second on a machine the client
    /// shares, it leaves out the client's work (a longer cookie costs the client too) and the
    /// scheduler's luck.
    pub fn app_cpu_per_request(&self) -> Duration {
        self.app_cpu.div_f64(self.requests.max(1) as f64)
    }
}

/// CPU time used so far by `clock`: the process's or the calling thread's.
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to write.
    let status = unsafe { libc::clock_gettime(clock, &mut now) };
    assert_eq!(status, 0, "clock_gettime");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Runs `targets` in `rounds` turns of `each` with `connections` concurrent connections, and
/// returns each target's totals (in the order given).
pub async fn compare(
    targets: &[Target],
    connections: usize,
    each: Duration,
    rounds: usize,
) -> Vec<Throughput> {
    let mut results: Vec<Throughput> = targets.iter().map(|_| Throughput::default()).collect();
    for target in targets {
        // A short warm-up: connections open, statements prepared, caches filled.
        run(target, connections, each / 4).await;
    }
    for _ in 0..rounds {
        for (target, total) in targets.iter().zip(results.iter_mut()) {
            let round = run(target, connections, each).await;
            total.turns.push(round.app_cpu_per_request());
            total.requests += round.requests;
            total.elapsed += round.elapsed;
            total.app_cpu += round.app_cpu;
            total.latencies.extend(round.latencies.into_vec());
        }
    }
    results
}

/// One run of one target. The client runs on a runtime of its own, on its own OS thread, as a
/// separate load generator would: sharing the app's tokio workers, its tasks ran whenever a
/// handler yielded, which skewed the comparison towards handlers that wait.
pub async fn run(target: &Target, connections: usize, length: Duration) -> Throughput {
    let target = target.clone();
    let process_before = cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID);
    let (mut throughput, client_cpu) = tokio::task::spawn_blocking(move || {
        let before = cpu_time(libc::CLOCK_THREAD_CPUTIME_ID);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the load generator's runtime");
        let throughput = runtime.block_on(run_here(target, connections, length));
        drop(runtime);
        (throughput, cpu_time(libc::CLOCK_THREAD_CPUTIME_ID) - before)
    })
    .await
    .expect("the load generator does not panic");
    let process_cpu = cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID) - process_before;
    throughput.app_cpu = process_cpu.saturating_sub(client_cpu);
    throughput
}

async fn run_here(target: Target, connections: usize, length: Duration) -> Throughput {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(REQUEST_LIMIT)
        .build()
        .expect("a client");
    let started = Instant::now();
    let deadline = started + length;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let client = client.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let mut request = client
                        .request(target.method.clone(), &target.url)
                        .headers(target.headers.clone());
                    if let Some(body) = &target.body {
                        request = request.body(body.clone());
                    }
                    let response = request.send().await.expect("the request is answered");
                    let status = response.status();
                    let body = response.bytes().await.expect("the body is read");
                    assert_eq!(
                        status,
                        target.expect,
                        "{}: unexpected answer {}",
                        target.name,
                        String::from_utf8_lossy(&body)
                    );
                    for url in &target.then {
                        let response = client
                            .get(url)
                            .headers(target.headers.clone())
                            .send()
                            .await
                            .expect("the request is answered");
                        let status = response.status();
                        let body = response.bytes().await.expect("the body is read");
                        assert_eq!(
                            status,
                            StatusCode::OK,
                            "{} ({url}): unexpected answer {}",
                            target.name,
                            String::from_utf8_lossy(&body)
                        );
                    }
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Samples::default();
    for worker in workers {
        latencies.extend(worker.await.expect("a load worker does not panic"));
    }
    Throughput {
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
        app_cpu: Duration::ZERO,
        turns: Vec::new(),
    }
}
