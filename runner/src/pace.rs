//! How fast the built-in simulator's clock may run for one scenario (`--sim-speed`).
//!
//! The built-in simulator is ours, so its clock can run K times faster than real time while the
//! suite divides every window of the scenario by K: each timing relation the scenario checks
//! (a heartbeat within 2.5 s of a 1 s interval, a close after a 30 s handshake timeout) still
//! holds, and the waiting shrinks K times. K is chosen per scenario, as large as `max` allows
//! while no window becomes too short to be fair on a loaded machine: an answer window (`expect`,
//! `expect-close`) keeps at least [`MIN_ANSWER`] of real time, a silence or sleep at least
//! [`MIN_SILENCE`]. A scenario that neither waits on purpose (silence, sleep, a delay or bandwidth fault) nor
//! waits on the peer's timers (tagged [`CLOCK_TAGS`]) runs in real time: it only waits for
//! answers, which come as fast as the simulator can make them, and keeps its full windows for
//! the answers that cost real work (an RSA key generated for a key exchange, say).

use crate::engine::DEFAULT_WITHIN;
use crate::scenario::model::{parse_duration, Scenario};
use peercheck_simulator::faults::{self, FaultKind};
use std::time::Duration;

/// The default `--sim-speed`: the fastest the built-in simulator's clock may run.
pub const DEFAULT_MAX_SPEED: u32 = 32;

/// Tags of scenarios that wait on the peer's own timers (heartbeats, timeouts).
pub const CLOCK_TAGS: [&str; 3] = ["timing", "heartbeat", "timeout"];

/// The fastest clock for scenarios tagged `timing`: they check a tight relation between two clocks
/// (heartbeats every 600 ms keep a 2 s liveness timer from firing), whose slack shrinks with the
/// speed while scheduling delays on a loaded machine do not.
pub const MAX_SPEED_TIMING: u32 = 4;

/// The shortest real time an answer window may shrink to. 400 ms was once too short: a debug build
/// of selftest at -j 16 on 2 cores missed a 3 s close window run 7× faster (428 ms).
pub const MIN_ANSWER: Duration = Duration::from_millis(1000);
/// The shortest real time a silence window or a sleep may shrink to.
pub const MIN_SILENCE: Duration = Duration::from_millis(50);

/// Every window of `s`, split into answer windows and silences/sleeps, after `--timeout-scale`;
/// and whether the suite paces its own writes (a bandwidth fault: how long that takes depends on
/// the message's size, so it is not a window, but it runs on the clock all the same).
fn windows(s: &Scenario, scale: f64) -> (Vec<Duration>, Vec<Duration>, bool) {
    let parse = |t: &Option<String>| t.as_deref().and_then(|t| parse_duration(t).ok());
    let default_within = parse(&s.timeout).unwrap_or(DEFAULT_WITHIN);
    let scaled = |d: Duration| d.mul_f64(scale.max(0.0));
    let (mut answers, mut silences, mut paced) = (Vec::new(), Vec::new(), false);
    for step in &s.steps {
        if step.expect.is_some() {
            answers.push(scaled(parse(&step.within).unwrap_or(default_within)));
        }
        if let Some(close) = &step.expect_close {
            answers.push(scaled(parse(&close.within).unwrap_or(default_within)));
        }
        if let Some(d) = parse(&step.expect_silence) {
            silences.push(scaled(d));
        }
        if let Some(d) = parse(&step.sleep) {
            silences.push(d);
        }
        for f in &step.fault {
            let delay = match f {
                FaultKind::Delay(d) | FaultKind::Latency { delay: d, .. } => faults::parse_duration(d).ok(),
                FaultKind::Bandwidth(_) => {
                    paced = true;
                    None
                }
                _ => None,
            };
            silences.extend(delay.filter(|d| !d.is_zero()));
        }
    }
    (answers, silences, paced)
}

/// The clock speed for `s`: at most `max`, at least 1.
pub fn clock_speed(s: &Scenario, max: u32, scale: f64) -> u32 {
    let (answers, silences, paced) = windows(s, scale);
    let on_the_clock = paced || s.tags.iter().any(|t| CLOCK_TAGS.contains(&t.as_str()));
    if silences.is_empty() && !on_the_clock {
        return 1;
    }
    let fits = |d: &Duration, floor: Duration| -> u32 {
        let k = d.as_secs_f64() / floor.as_secs_f64();
        // Saturating float-to-int: a window shorter than its floor gives 0, clamped to 1 below.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let k = k.floor().min(f64::from(u32::MAX)) as u32;
        k
    };
    let by_answer = answers.iter().map(|d| fits(d, MIN_ANSWER));
    let by_silence = silences.iter().map(|d| fits(d, MIN_SILENCE));
    let max = if s.tags.iter().any(|t| t == "timing") {
        max.min(MAX_SPEED_TIMING)
    } else {
        max
    };
    by_answer.chain(by_silence).fold(max, u32::min).max(1)
}

/// How long `s` waits on purpose at clock speed `speed` (silences and sleeps): longest first is
/// the better order for a parallel run.
pub fn planned_wait(s: &Scenario, speed: u32, scale: f64) -> Duration {
    let (_, silences, _) = windows(s, scale);
    silences.iter().sum::<Duration>() / speed.max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scenario(steps: &str) -> Scenario {
        let text = format!(
            "id: t\ntitle: t\nspec: s\nrequirement: r\nlevel: must\nprotocol: now\npeer: server\nsteps:\n{steps}"
        );
        crate::scenario::load::parse_yaml(std::path::Path::new("t.yaml"), &text).unwrap()
    }

    #[test]
    fn answer_windows_keep_their_floor() {
        // 2.5 s / 1 s = 2.5: a heartbeat check runs 2 times faster, not more.
        let s = scenario("  - expect: { channel.heartbeat: {} }\n    within: 2500ms\ntags: [heartbeat]\n");
        assert_eq!(clock_speed(&s, 32, 1.0), 2);
        // The same with --timeout-scale 2: twice the room.
        assert_eq!(clock_speed(&s, 32, 2.0), 5);
        // A tight relation between two clocks (tag `timing`) never runs faster than 4.
        let t = scenario("  - expect: { channel.heartbeat: {} }\n    within: 2500ms\ntags: [timing]\n");
        assert_eq!(clock_speed(&t, 32, 2.0), MAX_SPEED_TIMING);
    }

    #[test]
    fn silences_keep_theirs_and_max_caps() {
        let s = scenario("  - expect-silence: 25s\n  - expect-close: { within: 8s }\n");
        // The 8 s close window allows 8 (the 25 s silence alone would allow 32).
        assert_eq!(clock_speed(&s, 32, 1.0), 8);
        assert_eq!(clock_speed(&s, 4, 1.0), 4);
        assert_eq!(planned_wait(&s, 20, 1.0), Duration::from_millis(1250));
        let short = scenario("  - expect-silence: 30ms\n");
        assert_eq!(clock_speed(&short, 32, 1.0), 1);
    }

    #[test]
    fn the_default_within_counts() {
        // No `within`: the default 5 s window allows 5.
        let s = scenario("  - expect: { channel.heartbeat: {} }\ntags: [heartbeat]\n");
        assert_eq!(clock_speed(&s, 32, 1.0), 5);
        assert_eq!(clock_speed(&s, 1, 1.0), 1);
    }

    #[test]
    fn answers_alone_run_in_real_time() {
        let s = scenario("  - expect: { channel.capset: {} }\n    within: 3s\n");
        assert_eq!(clock_speed(&s, 32, 1.0), 1);
        let delayed =
            scenario("  - send-hex: '00'\n    fault: [{ delay: 1s }]\n  - expect: { channel.capset: {} }\n");
        assert_eq!(clock_speed(&delayed, 32, 1.0), 5);
        // A bandwidth cap is the suite waiting on its own clock too.
        let slow = scenario("  - send-hex: '00'\n    fault: [{ bandwidth: 2000 }]\n  - expect: { channel.capset: {} }\n    within: 3s\n");
        assert_eq!(clock_speed(&slow, 32, 1.0), 3);
    }
}
