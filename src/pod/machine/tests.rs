//! The lifecycle rules, one test each, with a fake clock and a fake runtime that starts every
//! container it is asked to (unless told otherwise). No root, no sleeping.

use super::*;
use crate::pod::probe::worker::Verdict;
use crate::pod::status::{State, Terminated};
use std::collections::BTreeSet;

/// A pod under test: the machine, the clock, and every action it asked for.
struct Pod {
    m: Machine,
    t0: Instant,
    w0: SystemTime,
    at: Duration,
    log: Vec<Action>,
    /// Containers whose next starts fail.
    fail_start: BTreeSet<usize>,
    /// Leave StartContainer unanswered (the test answers).
    hold_starts: bool,
    ids: u32,
    /// Containers whose image is not in the store.
    missing_images: BTreeSet<usize>,
    /// Pulls fail with this message (else they work and the image is there).
    pull_error: Option<String>,
}

fn pod(yaml: &str) -> Pod {
    let mut p = crate::spec::pod::parse(yaml, "test.yaml").expect("test manifest");
    p.metadata.uid = "uid".into();
    let (t0, w0) = (Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let m = Machine::new(&p, BackoffConfig::default(), &|_| libc::SIGTERM, Now { mono: t0, wall: w0 });
    Pod {
        m,
        t0,
        w0,
        at: Duration::ZERO,
        log: Vec::new(),
        fail_start: BTreeSet::new(),
        hold_starts: false,
        ids: 0,
        missing_images: BTreeSet::new(),
        pull_error: None,
    }
}

/// A pod from a spec body (the lines under `spec:`).
fn spec(body: &str) -> Pod {
    pod(&format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n{body}"))
}

const S: Duration = Duration::from_secs(1);

impl Pod {
    fn now(&self) -> Now {
        Now { mono: self.t0 + self.at, wall: self.w0 + self.at }
    }

    /// Feeds an input and the fake runtime's answers; the actions, in order.
    fn feed(&mut self, input: Input) -> Vec<Action> {
        let mut queue = std::collections::VecDeque::from([input]);
        let mut all = Vec::new();
        while let Some(i) = queue.pop_front() {
            let step = self.m.handle(i, self.now());
            for a in step.actions {
                match a {
                    Action::StartContainer(c) if self.missing_images.contains(&c) => {
                        queue.push_back(Input::ImageMissing { ctr: c });
                    }
                    Action::PullImage(c) => queue.push_back(match &self.pull_error {
                        Some(m) => Input::PullFailed { ctr: c, message: m.clone() },
                        None => {
                            self.missing_images.remove(&c);
                            Input::Pulled { ctr: c, size: 4_000_000 }
                        }
                    }),
                    Action::StartContainer(c) if !self.hold_starts => {
                        self.ids += 1;
                        let container_id = format!("runp://{}", self.ids);
                        queue.push_back(if self.fail_start.contains(&c) {
                            Input::StartFailed { ctr: c, container_id, message: "no such file".into() }
                        } else {
                            Input::Started { ctr: c, container_id }
                        });
                    }
                    Action::RecreateSandbox => queue.push_back(Input::SandboxReady),
                    _ => {}
                }
                all.push(a);
            }
        }
        self.log.extend(all.clone());
        all
    }

    /// Moves the clock on by `d`, running every timer on the way at its time.
    fn wait(&mut self, d: Duration) -> Vec<Action> {
        let end = self.at + d;
        let mut all = Vec::new();
        while let Some(t) = self.m.next_deadline() {
            let due = t.saturating_duration_since(self.t0);
            if due > end {
                break;
            }
            self.at = self.at.max(due);
            all.extend(self.feed(Input::Tick));
        }
        self.at = end;
        all
    }

    fn idx(&self, name: &str) -> usize {
        self.m.ctrs.iter().position(|c| c.spec.name == name).expect("container name")
    }

    fn status(&self, name: &str) -> &crate::pod::status::ContainerStatus {
        &self.m.ctrs[self.idx(name)].status
    }

    fn exit(&mut self, name: &str, code: i32) -> Vec<Action> {
        let ctr = self.idx(name);
        self.feed(Input::Exited { ctr, exit_code: code, oom_killed: false, message: String::new() })
    }

    fn display(&self) -> String {
        status::display_status(
            self.m.phase,
            &self.m.reason,
            &self.m.statuses(),
            self.m.deleting(),
            self.m.initialized(),
        )
    }

    fn cond(&self, kind: &str) -> bool {
        self.m.conds.get(kind).is_some_and(|c| c.status)
    }
}

/// The containers (by name) a list of actions starts.
fn starts(p: &Pod, actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartContainer(i) => Some(p.m.ctrs[*i].spec.name.clone()),
            _ => None,
        })
        .collect()
}

/// The containers an expression's actions start (the expression borrows the pod mutably).
macro_rules! started {
    ($p:ident, $e:expr) => {{
        let a = $e;
        starts(&$p, &a)
    }};
}

/// `Reason: message` of the events in a list of actions.
fn events(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Record(n) => Some(format!("{}: {}", n.reason, n.message)),
            _ => None,
        })
        .collect()
}

fn signals(actions: &[Action]) -> Vec<(usize, i32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Signal(i, s) => Some((*i, *s)),
            Action::Kill(i) => Some((*i, libc::SIGKILL)),
            _ => None,
        })
        .collect()
}

fn waiting_reason(s: &crate::pod::status::ContainerStatus) -> &str {
    match &s.state {
        State::Waiting { reason, .. } => reason,
        _ => "",
    }
}

fn exit_code(s: &crate::pod::status::ContainerStatus) -> Option<i32> {
    match &s.state {
        State::Terminated(Terminated { exit_code, .. }) => Some(*exit_code),
        _ => None,
    }
}

const INIT2_APP2: &str = "  initContainers:
  - {name: i1, image: busybox}
  - {name: i2, image: busybox}
  containers:
  - {name: a, image: busybox}
  - {name: b, image: busybox}
";

#[test]
fn init_containers_run_one_at_a_time_then_the_apps_together() {
    let mut p = spec(INIT2_APP2);
    assert_eq!(p.m.phase, Phase::Pending);
    assert_eq!(p.display(), "Init:0/2");
    let a = p.feed(Input::SandboxReady);
    assert_eq!(starts(&p, &a), ["i1"]);
    assert_eq!(
        events(&a),
        [
            "Pulled: Container image \"busybox\" already present on machine",
            "Created: Created container: i1",
            "Started: Started container i1"
        ]
    );
    assert!(!p.cond("Initialized"));
    let a = p.exit("i1", 0);
    assert_eq!(starts(&p, &a), ["i2"]);
    assert_eq!(p.display(), "Init:1/2");
    let a = p.exit("i2", 0);
    assert_eq!(starts(&p, &a), ["a", "b"]);
    assert_eq!(p.m.phase, Phase::Running);
    assert!(p.cond("Initialized") && p.cond("Ready") && p.cond("PodReadyToStartContainers"));
    assert_eq!(p.display(), "Running");
    assert!(p.status("i1").ready && !p.status("i1").started);
}

#[test]
fn a_failed_init_container_fails_the_pod_under_never() {
    let mut p = spec(&format!("  restartPolicy: Never\n{INIT2_APP2}"));
    p.feed(Input::SandboxReady);
    let a = p.exit("i1", 3);
    assert!(starts(&p, &a).is_empty());
    assert!(a.contains(&Action::StopSandbox));
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Failed);
    assert_eq!(p.display(), "Init:Error");
    assert_eq!(waiting_reason(p.status("a")), "PodInitializing");
}

#[test]
fn a_failed_init_container_restarts_with_back_off() {
    let mut p = spec(&format!("  restartPolicy: OnFailure\n{INIT2_APP2}"));
    p.feed(Input::SandboxReady);
    assert_eq!(started!(p, p.exit("i1", 1)), ["i1"]); // the first restart is immediate
    let a = p.exit("i1", 1);
    assert!(starts(&p, &a).is_empty());
    assert_eq!(events(&a), ["BackOff: Back-off restarting failed container i1 in pod p_default(uid)"]);
    let st = p.status("i1");
    assert_eq!(
        st.state,
        State::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: "back-off 10s restarting failed container=i1 pod=p_default(uid)".into()
        }
    );
    assert_eq!(st.last_state.as_ref().map(|t| t.exit_code), Some(1));
    assert_eq!(st.restart_count, 1);
    assert_eq!(p.display(), "Init:CrashLoopBackOff");
    assert_eq!(p.m.phase, Phase::Pending);
    assert!(started!(p, p.wait(9 * S)).is_empty());
    assert_eq!(started!(p, p.wait(S)), ["i1"]);
    assert_eq!(p.status("i1").restart_count, 2);
}

#[test]
fn crash_loop_delays_double_up_to_five_minutes() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.feed(Input::SandboxReady);
    let mut delays = Vec::new();
    for _ in 0..8 {
        let before = p.at;
        p.exit("a", 1);
        while {
            let log = p.log.split_off(0);
            starts(&p, &log).is_empty()
        } {
            p.wait(S);
        }
        delays.push((p.at - before).as_secs());
    }
    assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(p.status("a").restart_count, 8);
}

#[test]
fn restart_policy_decides_what_an_exit_leads_to() {
    for (policy, code, restarts, phase) in [
        ("Always", 0, true, Phase::Running),
        ("Always", 1, true, Phase::Running),
        ("OnFailure", 0, false, Phase::Succeeded),
        ("OnFailure", 2, true, Phase::Running),
        ("Never", 0, false, Phase::Succeeded),
        ("Never", 2, false, Phase::Failed),
    ] {
        let mut p = spec(&format!("  restartPolicy: {policy}\n  containers:\n  - {{name: a, image: busybox}}\n"));
        p.feed(Input::SandboxReady);
        let a = p.exit("a", code);
        assert_eq!(!starts(&p, &a).is_empty(), restarts, "{policy} exit {code}");
        assert_eq!(p.m.phase, phase, "{policy} exit {code}");
        assert_eq!(p.m.finished, !restarts, "{policy} exit {code}");
        if restarts {
            assert_eq!(p.status("a").last_state.as_ref().map(|t| t.exit_code), Some(code));
            assert_eq!(p.status("a").restart_count, 1);
        } else {
            assert_eq!(exit_code(p.status("a")), Some(code));
            let reason = if code == 0 { "Completed" } else { "Error" };
            assert_eq!(p.display(), reason);
        }
    }
}

#[test]
fn post_start_holds_the_next_app_container_and_the_running_state() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    lifecycle: {postStart: {exec: {command: [true]}}}
  - {name: b, image: busybox}
",
    );
    let a = p.feed(Input::SandboxReady);
    assert_eq!(starts(&p, &a), ["a"]);
    assert!(a.contains(&Action::RunHook(0, HookKind::PostStart)));
    assert_eq!(waiting_reason(p.status("a")), "ContainerCreating");
    let a = p.feed(Input::HookDone { ctr: 0, kind: HookKind::PostStart, result: Ok(()) });
    assert_eq!(starts(&p, &a), ["b"]);
    assert!(matches!(p.status("a").state, State::Running { .. }));
    assert!(p.status("a").ready);
}

#[test]
fn a_failed_post_start_kills_the_container() {
    let mut p = spec(
        "  terminationGracePeriodSeconds: 5
  containers:
  - name: a
    image: busybox
    lifecycle: {postStart: {httpGet: {port: 80}}}
",
    );
    p.feed(Input::SandboxReady);
    let a = p.feed(Input::HookDone { ctr: 0, kind: HookKind::PostStart, result: Err("connection refused".into()) });
    assert_eq!(events(&a), ["FailedPostStartHook: PostStartHook failed", "Killing: FailedPostStartHook"]);
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
    assert_eq!(signals(&p.wait(5 * S)), [(0, libc::SIGKILL)]);
    let a = p.exit("a", 137);
    assert_eq!(starts(&p, &a), ["a"]); // Always: restarted
}

#[test]
fn termination_runs_pre_stop_then_the_stop_signal_then_sigkill() {
    let mut p = spec(
        "  terminationGracePeriodSeconds: 30
  os: {name: linux}
  containers:
  - name: a
    image: busybox
    lifecycle: {preStop: {exec: {command: [sh, -c, sleep 5]}}, stopSignal: SIGUSR1}
",
    );
    p.feed(Input::SandboxReady);
    p.wait(3 * S);
    let a = p.feed(Input::Stop { grace: None });
    assert_eq!(events(&a), ["Killing: Stopping container a"]);
    assert!(a.contains(&Action::RunHook(0, HookKind::PreStop)));
    assert!(signals(&a).is_empty());
    assert_eq!(p.display(), "Terminating");
    assert!(p.m.deletion_timestamp.is_some());
    p.wait(5 * S);
    let a = p.feed(Input::HookDone { ctr: 0, kind: HookKind::PreStop, result: Ok(()) });
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
    // SIGKILL when the grace ends: 30 s after the stop.
    assert!(signals(&p.wait(24 * S)).is_empty());
    assert_eq!(signals(&p.wait(S)), [(0, libc::SIGKILL)]);
    let a = p.exit("a", 137);
    assert!(a.contains(&Action::StopSandbox));
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Failed);
    assert!(starts(&p, &a).is_empty());
}

#[test]
fn a_pre_stop_past_the_grace_gets_the_signal_then_sigkill_two_seconds_later() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    lifecycle: {preStop: {exec: {command: [sleep, '100']}}}
",
    );
    p.feed(Input::SandboxReady);
    p.feed(Input::Stop { grace: Some(4) });
    assert!(signals(&p.wait(3 * S)).is_empty());
    assert_eq!(signals(&p.wait(S)), [(0, libc::SIGTERM)]);
    assert!(signals(&p.wait(S)).is_empty());
    assert_eq!(signals(&p.wait(S)), [(0, libc::SIGKILL)]);
}

#[test]
fn a_sleep_handler_is_a_timer() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    lifecycle: {preStop: {sleep: {seconds: 3}}}
",
    );
    p.feed(Input::SandboxReady);
    let a = p.feed(Input::Stop { grace: None });
    assert!(!a.iter().any(|x| matches!(x, Action::RunHook(..))));
    assert!(signals(&p.wait(2 * S)).is_empty());
    assert_eq!(signals(&p.wait(S)), [(0, libc::SIGTERM)]);
}

#[test]
fn force_stop_still_gives_one_second_plus_two() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.feed(Input::SandboxReady);
    let a = p.feed(Input::Stop { grace: Some(0) });
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
    assert!(signals(&p.wait(S)).is_empty());
    assert_eq!(signals(&p.wait(S)), [(0, libc::SIGKILL)]);
}

const SIDECARS: &str = "  initContainers:
  - {name: s1, image: busybox, restartPolicy: Always}
  - {name: s2, image: busybox, restartPolicy: Always}
  containers:
  - {name: a, image: busybox}
";

#[test]
fn sidecars_start_in_order_before_the_apps_and_stop_after_them_in_reverse() {
    let mut p = spec(SIDECARS);
    let a = p.feed(Input::SandboxReady);
    assert_eq!(starts(&p, &a), ["s1", "s2", "a"]);
    assert_eq!(p.m.phase, Phase::Running);
    let a = p.feed(Input::Stop { grace: None });
    assert_eq!(
        events(&a),
        ["Killing: Stopping container s1", "Killing: Stopping container s2", "Killing: Stopping container a"]
    );
    assert_eq!(signals(&a), [(2, libc::SIGTERM)]);
    assert_eq!(signals(&p.exit("a", 0)), [(1, libc::SIGTERM)]);
    assert_eq!(signals(&p.exit("s2", 0)), [(0, libc::SIGTERM)]);
    assert!(!p.m.finished);
    p.exit("s1", 0);
    assert!(p.m.finished);
}

#[test]
fn a_pod_completes_when_its_apps_are_done_and_its_sidecars_are_stopped() {
    let mut p = spec(&format!("  restartPolicy: Never\n{SIDECARS}"));
    p.feed(Input::SandboxReady);
    let a = p.exit("a", 0);
    assert_eq!(signals(&a), [(1, libc::SIGTERM)]);
    assert!(p.m.deletion_timestamp.is_none());
    p.exit("s2", 143);
    p.exit("s1", 143);
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Succeeded);
    assert_eq!(p.display(), "Completed");
}

#[test]
fn a_sidecar_restarts_even_under_never() {
    let mut p = spec(&format!("  restartPolicy: Never\n{SIDECARS}"));
    p.feed(Input::SandboxReady);
    assert_eq!(started!(p, p.exit("s1", 1)), ["s1"]);
}

const LIVENESS: &str = "  containers:
  - name: a
    image: busybox
    livenessProbe:
      exec: {command: [check]}
      periodSeconds: 10
      failureThreshold: 3
      terminationGracePeriodSeconds: 7
";

fn probe_starts(actions: &[Action]) -> Vec<(usize, usize)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartProbe { ctr, probe, .. } => Some((*ctr, *probe)),
            _ => None,
        })
        .collect()
}

#[test]
fn liveness_failures_stop_the_container_with_the_probe_grace() {
    let mut p = spec(LIVENESS);
    p.feed(Input::SandboxReady);
    // The first check right away, then one per period.
    let mut last = Vec::new();
    for n in 0..3 {
        let a = p.wait(if n == 0 { Duration::ZERO } else { 10 * S });
        assert_eq!(probe_starts(&a), [(0, 0)]);
        last = p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("exit 1".into()) });
    }
    assert_eq!(
        events(&last),
        ["Unhealthy: Liveness probe failed: exit 1", "Killing: Container a failed liveness probe, will be restarted"]
    );
    assert_eq!(signals(&last), [(0, libc::SIGTERM)]);
    // The probe's grace (7 s), not the pod's (30 s); no more checks meanwhile.
    let a = p.wait(7 * S);
    assert_eq!(signals(&a), [(0, libc::SIGKILL)]);
    assert!(probe_starts(&a).is_empty());
    assert_eq!(started!(p, p.exit("a", 137)), ["a"]);
}

#[test]
fn a_startup_probe_gates_liveness_and_readiness_and_started() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    startupProbe: {tcpSocket: {port: 80}, periodSeconds: 1, failureThreshold: 30}
    livenessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}
    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}
",
    );
    p.feed(Input::SandboxReady);
    let a = p.wait(Duration::ZERO);
    assert_eq!(probe_starts(&a), [(0, 0)]); // only startup
    assert!(!p.status("a").started && !p.status("a").ready);
    p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("refused".into()) });
    let a = p.wait(S);
    assert_eq!(probe_starts(&a), [(0, 0)]);
    let step = p.m.handle(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Success }, p.now());
    assert!(step.changed);
    assert!(p.status("a").started && !p.status("a").ready);
    let a = p.wait(S);
    assert_eq!(probe_starts(&a), [(0, 1), (0, 2)]); // startup is done for this instance
    p.feed(Input::ProbeDone { ctr: 0, probe: 2, verdict: Verdict::Success });
    assert!(p.status("a").ready && p.cond("Ready"));
}

#[test]
fn readiness_drives_ready_and_never_restarts() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    readinessProbe: {httpGet: {port: 80}, periodSeconds: 5, failureThreshold: 1}
",
    );
    p.feed(Input::SandboxReady);
    p.wait(Duration::ZERO);
    assert!(!p.cond("Ready"));
    assert_eq!(p.m.conds.get("Ready").map(|c| c.message.as_str()), Some("containers with unready status: [a]"));
    p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Success });
    assert!(p.cond("Ready") && p.cond("ContainersReady"));
    p.wait(5 * S);
    let a = p.feed(Input::ProbeDone {
        ctr: 0,
        probe: 0,
        verdict: Verdict::Failure("HTTP probe failed with statuscode: 503".into()),
    });
    assert!(!p.cond("Ready"));
    assert!(signals(&a).is_empty());
    assert_eq!(p.m.phase, Phase::Running);
}

#[test]
fn a_probe_check_past_its_timeout_is_asked_to_stop_and_errors_count_as_nothing() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    livenessProbe: {exec: {command: [check]}, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 1}
",
    );
    p.feed(Input::SandboxReady);
    p.wait(Duration::ZERO);
    let a = p.wait(3 * S);
    assert_eq!(a, [Action::ProbeTimedOut { ctr: 0, probe: 0 }]);
    let a = p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Error("exec: no such file".into()) });
    assert_eq!(events(&a), ["Unhealthy: Liveness probe errored: exec: no such file"]);
    assert!(signals(&a).is_empty());
    p.wait(7 * S);
    let a = p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("command timed out".into()) });
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
}

#[test]
fn probe_ticks_and_unchanged_results_do_not_touch_the_status() {
    let mut p = spec(LIVENESS);
    p.feed(Input::SandboxReady);
    let step = p.m.handle(Input::Tick, p.now());
    assert_eq!(step.actions.len(), 1);
    assert!(!step.changed);
    let step = p.m.handle(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Success }, p.now());
    assert!(!step.changed);
}

#[test]
fn active_deadline_fails_the_pod() {
    let mut p = spec("  activeDeadlineSeconds: 5\n  containers:\n  - {name: a, image: busybox}\n");
    p.feed(Input::SandboxReady);
    assert!(p.wait(4 * S).is_empty());
    let a = p.wait(S);
    assert_eq!(
        events(&a),
        [
            "DeadlineExceeded: Pod was active on the node longer than the specified deadline",
            "Killing: Stopping container a"
        ]
    );
    assert_eq!(p.m.phase, Phase::Failed);
    assert_eq!(p.m.reason, "DeadlineExceeded");
    assert_eq!(p.display(), "DeadlineExceeded");
    p.exit("a", 143);
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Failed);
}

#[test]
fn a_dead_sandbox_is_recreated_and_everything_runs_again_from_the_first_init_container() {
    let mut p = spec(&format!("  restartPolicy: OnFailure\n{INIT2_APP2}"));
    p.feed(Input::SandboxReady);
    p.exit("i1", 0);
    p.exit("i2", 0);
    p.exit("b", 0); // done for good under OnFailure
    let a = p.feed(Input::SandboxDied);
    assert_eq!(events(&a), ["SandboxChanged: Pod sandbox changed, it will be killed and re-created."]);
    assert_eq!(signals(&a), [(2, libc::SIGKILL)]);
    assert!(!p.cond("PodReadyToStartContainers"));
    let a = p.exit("a", 137);
    assert!(a.contains(&Action::RecreateSandbox));
    assert_eq!(starts(&p, &a), ["i1"]);
    assert_eq!(p.status("i2").last_state.as_ref().map(|t| t.exit_code), Some(0));
    assert_eq!(waiting_reason(p.status("i2")), "PodInitializing");
    p.exit("i1", 0);
    assert_eq!(started!(p, p.exit("i2", 0)), ["a"]); // b finished for good
}

#[test]
fn a_dead_sandbox_under_never_ends_the_pod() {
    let mut p = spec("  restartPolicy: Never\n  containers:\n  - {name: a, image: busybox}\n");
    p.feed(Input::SandboxReady);
    let a = p.feed(Input::SandboxDied);
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
    let a = p.exit("a", 137);
    assert!(!a.contains(&Action::StopSandbox) && !a.contains(&Action::RecreateSandbox));
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Failed);
}

#[test]
fn a_failed_start_is_a_start_error_that_backs_off() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.fail_start.insert(0);
    let a = p.feed(Input::SandboxReady);
    // Fails, restarts at once, fails again: back-off.
    assert_eq!(starts(&p, &a), ["a", "a"]);
    assert_eq!(events(&a)[0], "Failed: Error: no such file");
    let st = p.status("a");
    assert_eq!(waiting_reason(st), "CrashLoopBackOff");
    let last = st.last_state.clone().expect("last state");
    assert_eq!((last.exit_code, last.reason.as_str(), last.message.as_str()), (128, "StartError", "no such file"));
    assert_eq!(last.container_id, "runp://2");
    p.fail_start.clear();
    assert_eq!(started!(p, p.wait(10 * S)), ["a"]);
    assert!(matches!(p.status("a").state, State::Running { .. }));
}

#[test]
fn a_sandbox_that_cannot_be_made_fails_the_pod() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    let a = p.feed(Input::SandboxFailed("image \"busybox\" not found".into()));
    assert_eq!(events(&a), ["FailedCreatePodSandBox: Failed to create pod sandbox: image \"busybox\" not found"]);
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Failed);
    assert!(a.iter().all(|x| matches!(x, Action::Record(_))));
}

#[test]
fn a_stop_while_a_container_starts_stops_it_once_it_runs() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.hold_starts = true;
    assert_eq!(p.feed(Input::SandboxReady), [Action::StartContainer(0)]);
    let a = p.feed(Input::Stop { grace: None });
    assert!(signals(&a).is_empty());
    assert!(!p.m.finished);
    let a = p.feed(Input::Started { ctr: 0, container_id: "runp://x".into() });
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
    p.exit("a", 143);
    assert!(p.m.finished);
}

#[test]
fn answers_for_something_gone_are_ignored() {
    let mut p = spec(LIVENESS);
    p.feed(Input::SandboxReady);
    p.wait(Duration::from_millis(1));
    p.exit("a", 1); // restarted at once: a new instance, no check in flight
    let a = p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("old".into()) });
    assert!(a.is_empty());
    assert!(p.feed(Input::HookDone { ctr: 0, kind: HookKind::PostStart, result: Err("old".into()) }).is_empty());
    assert!(p.feed(Input::Started { ctr: 0, container_id: "x".into() }).is_empty());
    assert!(p.feed(Input::ProbeDone { ctr: 9, probe: 0, verdict: Verdict::Success }).is_empty());
    assert!(p.feed(Input::Exited { ctr: 9, exit_code: 0, oom_killed: false, message: String::new() }).is_empty());
}

#[test]
fn huge_durations_do_not_overflow() {
    let mut p = spec(&format!(
        "  terminationGracePeriodSeconds: {m}\n  activeDeadlineSeconds: {d}\n  containers:\n  - name: a\n    image: busybox\n    lifecycle: {{preStop: {{sleep: {{seconds: {m}}}}}}}\n",
        m = i64::MAX,
        d = i32::MAX
    ));
    p.feed(Input::SandboxReady);
    p.feed(Input::Stop { grace: None });
    p.wait(Duration::from_secs(3600));
    assert!(!p.m.finished);
    let mut q = spec("  containers:\n  - {name: a, image: busybox}\n");
    q.feed(Input::SandboxReady);
    q.feed(Input::Stop { grace: Some(i64::MAX) });
    assert!(q.m.next_deadline().is_some_and(|t| t > q.t0));
}

#[test]
fn oom_killed_and_termination_messages_reach_the_status() {
    let mut p = spec("  restartPolicy: Never\n  containers:\n  - {name: a, image: busybox}\n");
    p.feed(Input::SandboxReady);
    p.wait(2 * S);
    p.feed(Input::Exited { ctr: 0, exit_code: 137, oom_killed: true, message: "out of memory".into() });
    let State::Terminated(t) = &p.status("a").state else { panic!("not terminated") };
    assert_eq!((t.reason.as_str(), t.message.as_str(), t.exit_code), ("OOMKilled", "out of memory", 137));
    assert_eq!(t.container_id, "runp://1");
    assert_eq!(t.started_at, "2027-01-15T08:00:00Z");
    assert_eq!(t.finished_at, "2027-01-15T08:00:02Z");
    assert_eq!(p.display(), "OOMKilled");
}

#[test]
fn a_stop_during_crash_loop_back_off_finishes_at_once() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.feed(Input::SandboxReady);
    p.exit("a", 1);
    p.exit("a", 1);
    assert_eq!(waiting_reason(p.status("a")), "CrashLoopBackOff");
    let a = p.feed(Input::Stop { grace: None });
    assert!(a.contains(&Action::StopSandbox));
    assert!(p.m.finished);
    assert!(p.m.next_deadline().is_none(), "no restart left pending");
    assert_eq!(p.m.phase, Phase::Failed);
}

#[test]
fn a_failed_startup_probe_kills_the_container() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    startupProbe: {exec: {command: [check]}, periodSeconds: 2, failureThreshold: 2}
",
    );
    p.feed(Input::SandboxReady);
    p.wait(Duration::ZERO);
    p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("no".into()) });
    p.wait(2 * S);
    let a = p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("no".into()) });
    assert!(events(&a).contains(&"Killing: Container a failed startup probe, will be restarted".to_string()));
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
    assert!(!p.status("a").started);
}

#[test]
fn the_next_container_waits_for_a_sidecars_startup_probe() {
    let mut p = spec(
        "  initContainers:
  - name: s
    image: busybox
    restartPolicy: Always
    startupProbe: {tcpSocket: {port: 80}, periodSeconds: 1}
  containers:
  - {name: a, image: busybox}
",
    );
    let a = p.feed(Input::SandboxReady);
    assert_eq!(starts(&p, &a), ["s"]);
    assert_eq!(p.display(), "Init:0/1");
    assert_eq!(
        p.m.conds.get("Initialized").map(|c| c.message.as_str()),
        Some("containers with incomplete status: [s]")
    );
    p.wait(Duration::ZERO);
    let a = p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Success });
    assert_eq!(starts(&p, &a), ["a"]);
    assert!(p.cond("Initialized"));
}

#[test]
fn readiness_keeps_probing_while_the_pod_terminates_and_liveness_stops() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    livenessProbe: {exec: {command: [live]}, periodSeconds: 1}
    readinessProbe: {exec: {command: [ready]}, periodSeconds: 1}
",
    );
    p.feed(Input::SandboxReady);
    p.wait(Duration::ZERO);
    p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Success });
    p.feed(Input::ProbeDone { ctr: 0, probe: 1, verdict: Verdict::Success });
    p.feed(Input::Stop { grace: None });
    let a = p.wait(S);
    assert_eq!(probe_starts(&a), [(0, 1)]);
}

#[test]
fn conditions_keep_their_transition_time_until_they_flip() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    readinessProbe: {exec: {command: [ready]}, periodSeconds: 1, failureThreshold: 1}
",
    );
    p.feed(Input::SandboxReady);
    p.wait(Duration::ZERO);
    p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Success });
    let since = p.m.conds.get("Ready").map(|c| c.since.clone());
    assert_eq!(since.as_deref(), Some("2027-01-15T08:00:00Z"));
    p.wait(5 * S);
    p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Success });
    assert_eq!(p.m.conds.get("Ready").map(|c| c.since.clone()), since);
    p.wait(S);
    p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("no".into()) });
    let c = p.m.conds.get("Ready").cloned().expect("Ready");
    assert_eq!((c.status, c.since.as_str()), (false, "2027-01-15T08:00:06Z"));
}

#[test]
fn a_start_that_fails_before_it_has_an_id_keeps_the_last_container_id() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.hold_starts = true;
    p.feed(Input::SandboxReady);
    p.feed(Input::Started { ctr: 0, container_id: "runp://first".into() });
    p.exit("a", 1);
    p.feed(Input::StartFailed { ctr: 0, container_id: String::new(), message: "runAsNonRoot".into() });
    let st = p.status("a");
    assert_eq!(st.container_id, "runp://first");
    assert_eq!(st.last_state.as_ref().map(|t| t.container_id.as_str()), Some("runp://first"));
}

#[test]
fn an_exit_for_a_container_still_starting_is_ignored() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.hold_starts = true;
    p.feed(Input::SandboxReady);
    assert!(p.exit("a", 1).is_empty());
    p.feed(Input::Started { ctr: 0, container_id: "runp://1".into() });
    assert!(matches!(p.status("a").state, State::Running { .. }));
}

#[test]
fn a_stale_post_start_answer_does_not_end_a_pre_stop() {
    let mut p = spec(
        "  containers:
  - name: a
    image: busybox
    lifecycle: {postStart: {exec: {command: [a]}}, preStop: {exec: {command: [b]}}}
",
    );
    p.feed(Input::SandboxReady);
    p.feed(Input::HookDone { ctr: 0, kind: HookKind::PostStart, result: Ok(()) });
    p.feed(Input::Stop { grace: None });
    let a = p.feed(Input::HookDone { ctr: 0, kind: HookKind::PostStart, result: Ok(()) });
    assert!(signals(&a).is_empty(), "{a:?}");
    let a = p.feed(Input::HookDone { ctr: 0, kind: HookKind::PreStop, result: Ok(()) });
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
}

#[test]
fn a_crash_looping_sidecar_does_not_hold_a_finished_pod() {
    let mut p = spec(&format!("  restartPolicy: Never\n{SIDECARS}"));
    p.feed(Input::SandboxReady);
    p.exit("s2", 1); // restarted at once
    p.exit("s2", 1); // back-off
    assert_eq!(waiting_reason(p.status("s2")), "CrashLoopBackOff");
    let a = p.exit("a", 0);
    assert_eq!(signals(&a), [(0, libc::SIGTERM)]);
    p.exit("s1", 143);
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Succeeded);
}

#[test]
fn exits_during_a_deletion_decide_the_final_phase_and_restart_nothing() {
    for (code, phase) in [(0, Phase::Succeeded), (1, Phase::Failed)] {
        let mut p = spec("  containers:\n  - {name: a, image: busybox}\n  - {name: b, image: busybox}\n");
        p.feed(Input::SandboxReady);
        let a = p.feed(Input::Stop { grace: None });
        assert_eq!(signals(&a), [(0, libc::SIGTERM), (1, libc::SIGTERM)], "every app container at once");
        let a = p.exit("a", code);
        assert!(starts(&p, &a).is_empty() && events(&a).is_empty());
        p.exit("b", 0);
        assert!(p.m.finished);
        assert_eq!(p.m.phase, phase, "Always, exit {code} during the deletion");
        assert_eq!(p.status("a").restart_count, 0);
    }
}

#[test]
fn a_pod_stopped_while_initializing_fails_and_its_apps_never_ran() {
    let mut p = spec(INIT2_APP2);
    p.feed(Input::SandboxReady);
    p.feed(Input::Stop { grace: None });
    p.exit("i1", 143);
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Failed);
    assert_eq!(p.status("a").container_id, "");
}

#[test]
fn a_failed_post_start_under_never_fails_the_pod() {
    let mut p = spec(
        "  restartPolicy: Never
  containers:
  - name: a
    image: busybox
    lifecycle: {postStart: {exec: {command: [x]}}}
",
    );
    p.feed(Input::SandboxReady);
    p.feed(Input::HookDone { ctr: 0, kind: HookKind::PostStart, result: Err("exit 1".into()) });
    let a = p.exit("a", 143);
    assert!(starts(&p, &a).is_empty());
    assert_eq!(p.m.phase, Phase::Failed);
    assert_eq!(p.status("a").restart_count, 0);
}

#[test]
fn a_liveness_kill_under_never_says_nothing_of_a_restart() {
    let mut p = spec(&format!("  restartPolicy: Never\n{LIVENESS}"));
    p.feed(Input::SandboxReady);
    let mut last = Vec::new();
    for n in 0..3 {
        p.wait(if n == 0 { Duration::ZERO } else { 10 * S });
        last = p.feed(Input::ProbeDone { ctr: 0, probe: 0, verdict: Verdict::Failure("x".into()) });
    }
    assert_eq!(events(&last)[1], "Killing: Container a failed liveness probe");
    let a = p.exit("a", 137);
    assert!(starts(&p, &a).is_empty());
    assert_eq!(p.m.phase, Phase::Failed);
}

#[test]
fn a_sandbox_that_cannot_be_recreated_fails_the_pod() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n");
    p.feed(Input::SandboxReady);
    p.feed(Input::SandboxDied);
    // The fake runtime would answer SandboxReady: handle the exit by hand and answer otherwise.
    let step = p.m.handle(Input::Exited { ctr: 0, exit_code: 137, oom_killed: false, message: String::new() }, p.now());
    assert!(step.actions.contains(&Action::RecreateSandbox));
    let a = p.feed(Input::SandboxFailed("no pause".into()));
    assert_eq!(events(&a), ["FailedCreatePodSandBox: Failed to create pod sandbox: no pause"]);
    assert!(p.m.finished);
    assert_eq!(p.m.phase, Phase::Failed);
    assert!(!a.contains(&Action::StopSandbox));
}

// --- images: pull policy, pulls and their back-off ---

fn pulls(actions: &[Action]) -> usize {
    actions.iter().filter(|a| matches!(a, Action::PullImage(_))).count()
}

#[test]
fn a_missing_image_with_never_is_err_image_never_pull_and_is_retried() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox:1.36, imagePullPolicy: Never}\n");
    p.missing_images.insert(0);
    let a = p.feed(Input::SandboxReady);
    assert_eq!(pulls(&a), 0);
    assert_eq!(
        events(&a),
        [
            "ErrImageNeverPull: Container image \"busybox:1.36\" is not present with pull policy of Never",
            "Failed: Error: ErrImageNeverPull"
        ]
    );
    assert_eq!(waiting_reason(p.status("a")), "ErrImageNeverPull");
    assert_eq!(p.status("a").restart_count, 0);
    assert_eq!(p.display(), "ErrImageNeverPull");
    // Imported meanwhile: the next sync starts it.
    p.missing_images.clear();
    let a = p.wait(10 * S);
    assert_eq!(starts(&p, &a), ["a"]);
    assert!(p.m.ctrs[0].is_running_state());
    assert_eq!(p.status("a").restart_count, 0);
}

#[test]
fn a_missing_image_is_pulled_then_started_without_already_present() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox:1.36}\n");
    p.missing_images.insert(0);
    p.hold_starts = false;
    let a = p.feed(Input::SandboxReady);
    assert_eq!(pulls(&a), 1);
    let ev = events(&a);
    assert_eq!(ev[0], "Pulling: Pulling image \"busybox:1.36\"");
    assert!(
        ev[1].starts_with("Pulled: Successfully pulled image \"busybox:1.36\" in 0ms (0ms including waiting). Image size: 4000000 bytes."),
        "{ev:?}"
    );
    assert_eq!(&ev[2..], ["Created: Created container: a", "Started: Started container a"]);
    assert_eq!(p.status("a").restart_count, 0);
}

#[test]
fn a_present_image_with_if_not_present_is_already_present() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox:1.36, imagePullPolicy: IfNotPresent}\n");
    let a = p.feed(Input::SandboxReady);
    assert_eq!(pulls(&a), 0);
    assert_eq!(events(&a)[0], "Pulled: Container image \"busybox:1.36\" already present on machine");
}

#[test]
fn a_failed_pull_is_err_image_pull_then_image_pull_back_off_doubling() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n  - {name: b, image: busybox}\n");
    p.missing_images.insert(0);
    p.pull_error = Some("no registry client".into());
    let a = p.feed(Input::SandboxReady);
    assert_eq!(starts(&p, &a), ["a", "b"], "the other container runs");
    assert_eq!(pulls(&a), 1);
    assert!(events(&a).contains(&"Failed: Failed to pull image \"busybox\": no registry client".to_string()));
    assert!(events(&a).contains(&"Failed: Error: ErrImagePull".to_string()));
    assert_eq!(waiting_reason(p.status("a")), "ErrImagePull");
    assert!(p.m.ctrs[1].is_running_state());
    let a = p.wait(S);
    assert_eq!(waiting_reason(p.status("a")), "ImagePullBackOff");
    assert_eq!(events(&a), ["BackOff: Back-off pulling image \"busybox\"", "Failed: Error: ImagePullBackOff"]);
    assert_eq!(p.display(), "ImagePullBackOff");
    // 10 s after the failure: pulled again (fails), then 20 s, 40 s.
    let a = p.wait(8 * S);
    assert_eq!(pulls(&a), 0);
    let a = p.wait(S);
    assert_eq!(pulls(&a), 1);
    assert_eq!(waiting_reason(p.status("a")), "ErrImagePull");
    assert_eq!(pulls(&p.wait(19 * S)), 0);
    assert_eq!(pulls(&p.wait(S)), 1);
    assert_eq!(pulls(&p.wait(39 * S)), 0);
    assert_eq!(pulls(&p.wait(S)), 1);
    // The registry works again: pulled and started, no restart counted.
    p.pull_error = None;
    let a = p.wait(80 * S);
    assert_eq!(pulls(&a), 1);
    // Asked once to find the image missing, once after the pull.
    assert_eq!(starts(&p, &a), ["a", "a"]);
    assert!(p.m.ctrs[0].is_running_state());
    assert_eq!(p.status("a").restart_count, 0);
}

#[test]
fn the_pull_back_off_is_capped_at_five_minutes() {
    let mut b = crate::pod::backoff::Backoff::default();
    let cfg = BackoffConfig::default();
    let t = Instant::now();
    let delays: Vec<u64> = (0..7).map(|i| b.next(&cfg, t + S * i).as_secs()).collect();
    assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
    // No failure for 2 × cap: fresh again.
    assert_eq!(b.next(&cfg, t + S * 1000).as_secs(), 10);
}

#[test]
fn an_invalid_image_name_and_a_config_error_wait_with_the_kubelets_reasons() {
    let mut p = spec("  containers:\n  - {name: a, image: busybox}\n  - {name: b, image: busybox}\n");
    p.hold_starts = true;
    let a = p.feed(Input::SandboxReady);
    assert_eq!(starts(&p, &a), ["a", "b"]);
    let msg = "Failed to apply default image tag \"x\": couldn't parse image name \"x\": invalid reference format";
    let a = p.feed(Input::ImageInvalid { ctr: 0, reason: "InvalidImageName".into(), message: msg.into() });
    assert_eq!(events(&a), [format!("InspectFailed: {msg}"), "Failed: Error: InvalidImageName".into()]);
    assert_eq!(waiting_reason(p.status("a")), "InvalidImageName");
    let m = "container has runAsNonRoot and image will run as root (pod: \"p_default(uid)\", container: b)";
    let a = p.feed(Input::ConfigError { ctr: 1, message: m.into() });
    assert_eq!(events(&a), [format!("Failed: Error: {m}")]);
    assert_eq!(waiting_reason(p.status("b")), "CreateContainerConfigError");
    assert_eq!(p.status("b").restart_count, 0);
    // Retried at the next sync.
    let a = p.wait(10 * S);
    assert_eq!(starts(&p, &a), ["a", "b"]);
}
