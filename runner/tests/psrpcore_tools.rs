//! `peercheck diff`, `shrink` and `golden verify` with psrpcore (adapters/psrpcore, PyPI psrpcore
//! pinned in requirements.txt) on the other side: its stdio server (`server.py`) against the
//! built-in simulator, a scenario psrpcore fails shrunk against it, and psrpcore's decoder behind
//! the `golden verify` shim protocol (`decode_shim.py`) over every PSRP vector.
//!
//! The Python comes from `PEERCHECK_PSRPCORE_PYTHON`, else `adapters/psrpcore/.venv/bin/python`
//! (made by `adapters/psrpcore/setup.sh`). Without either the tests fail when `CI` is set and
//! print a skip note otherwise. Everything runs on loopback or pipes; every child is bounded in
//! time, killed and reaped.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used
)]

mod common;
use common::{peercheck, psrpcore_python as python, psrpcore_shim as shim, repo};

/// `peercheck ARGS` to the end (at most `secs`): exit code, stdout, stdout + stderr.
fn pc(args: &[&str], secs: u64) -> (Option<i32>, String, String) {
    let o = common::run_bounded(peercheck(args), None, secs, &format!("peercheck {}", args[0]));
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        common::text(&o),
    )
}

/// The block `diff` printed for scenario `id` (its `DIFFERS`/`same` line and the indented lines).
fn block<'a>(out: &'a str, id: &str) -> Vec<&'a str> {
    let mut lines = out.lines().skip_while(|l| {
        !(l.starts_with(&format!("DIFFERS {id}")) || l.starts_with(&format!("same    {id} ")))
    });
    let Some(head) = lines.next() else {
        panic!("no line for {id} in:\n{out}")
    };
    std::iter::once(head)
        .chain(lines.take_while(|l| l.starts_with("    ")))
        .collect()
}

/// psrpcore's server and the built-in simulator over the same PSRP server scenarios: where
/// psrpcore is known to answer differently (expectations/psrpcore-server.yaml) the report names
/// the message and the field with both values; where both agree it says so; the JSON says the same.
#[test]
fn diff_psrpcore_server_against_the_builtin_simulator_message_by_message() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = shim(&py, "server.py");
    let json = dir.path().join("diff.json");
    let j = json.display().to_string();
    let base = [
        "diff",
        "--role",
        "server",
        "--exec",
        &server,
        "--exec",
        "builtin",
        "--seed",
        "7",
        "--filter",
        "psrp.pipeline.run",
        "--filter",
        "psrp.capability.twice-after-open",
        "--filter",
        "psrp.pool.open",
        "--filter",
        "psrp.capability.split",
    ];
    // Both sides write their own CLIXML layout, ApplicationPrivateData and fragment numbering;
    // those are compared in the second run below.
    let mut args = base.to_vec();
    args.extend([
        "--ignore-field",
        "data",
        "--ignore-field",
        "applicationPrivateData",
        "--ignore-field",
        "objectId",
        "--json",
        &j,
    ]);
    let (code, out, all) = pc(&args, 120);
    assert_eq!(code, Some(1), "some scenarios differ:\n{all}");
    assert!(
        all.contains("not compared (differ between correct peers; --all-fields compares them): bom, processId, timeGenerated"),
        "{all}"
    );

    // PIPELINE_STATE Running (1) where the simulator (like PowerShell) sends Completed (4).
    let run = block(&out, "psrp.pipeline.run");
    assert_eq!(run[0], "DIFFERS psrp.pipeline.run", "{out}");
    assert!(run.contains(&"    verdict: A=fail B=pass"), "{run:#?}");
    assert!(
        run.iter()
            .any(|l| l.starts_with("    A: step 9: expected pipeline-output, got pipeline-state")),
        "{run:#?}"
    );
    let i = run
        .iter()
        .position(|l| *l == "    message #4 pipeline-state:")
        .unwrap_or_else(|| panic!("the 4th message is a pipeline-state on both sides: {run:#?}"));
    assert_eq!(
        run[i + 1],
        "        pipeline-state.pipelineState: A=1 B=4",
        "field by field, both values: {run:#?}"
    );
    assert_eq!(run.len(), i + 2, "the pool opening agrees: {run:#?}");

    // A second SESSION_CAPABILITY after the pool opened: psrpcore answers another capability,
    // the simulator closes the pool (RUNSPACEPOOL_STATE): the message names differ.
    let twice = block(&out, "psrp.capability.twice-after-open");
    assert!(
        twice.contains(&"    message #4: A=session-capability B=runspacepool-state"),
        "{twice:#?}"
    );
    // Where both agree (the volatile `bom` aside) the report says so.
    for id in ["psrp.pool.open", "psrp.capability.split"] {
        assert_eq!(block(&out, id), [format!("same    {id}  (pass)")], "{out}");
    }
    assert!(
        out.contains("4 scenario(s): 2 differ, 2 the same (seed 7)"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let runs = v["scenarios"].as_array().unwrap();
    let run = runs.iter().find(|s| s["id"] == "psrp.pipeline.run").unwrap();
    let m = run["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["index"] == 4)
        .unwrap();
    assert_eq!(m["a"], "pipeline-state");
    assert_eq!(m["fields"][0]["path"], "pipeline-state.pipelineState");
    assert_eq!(
        (m["fields"][0]["a"].clone(), m["fields"][0]["b"].clone()),
        (1.into(), 4.into())
    );

    // Everything compared: the CLIXML layouts and psrpcore's missing BOM (ERRATA PSRP-4) show.
    let mut args = base.to_vec();
    args.extend(["--filter", "psrp.pool.open", "--all-fields"]);
    let (code, out, all) = pc(&args, 120);
    assert_eq!(code, Some(1), "{all}");
    let open = block(&out, "psrp.pool.open");
    assert!(
        open.contains(&"        session-capability.bom: A=false B=true"),
        "{open:#?}"
    );
    assert!(
        open.contains(
            &"        session-capability.data.Obj.ms[0].name: A=\"PSVersion\" B=\"protocolversion\""
        ),
        "psrpcore writes PSVersion first, the simulator protocolversion: {open:#?}"
    );
}

/// `peercheck shrink` against the psrpcore server: psrp.pipeline.run fails there (PIPELINE_STATE
/// Running where output is expected). With the built-in simulator as the oracle the shrunk
/// scenario has fewer steps and simpler sends, still fails the same way against psrpcore on
/// `replay`, and passes against the correct simulator.
#[test]
fn shrink_a_scenario_psrpcore_fails_and_replay_the_result() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = shim(&py, "server.py");
    let src = repo().join("scenarios/psrp/pipeline/run.yaml");
    let min = dir.path().join("min.yaml");
    let (s, m) = (src.display().to_string(), min.display().to_string());
    let (code, _, all) = pc(
        &[
            "shrink",
            &s,
            "--exec",
            &server,
            "--oracle-builtin",
            "--seed",
            "7",
            "--timeout-scale",
            "0.5",
            "-o",
            &m,
        ],
        280,
    );
    assert_eq!(
        code,
        Some(0),
        "shrink exits 0 when it wrote a minimal scenario:\n{all}"
    );
    assert!(
        all.contains(
            "shrinking psrp.pipeline.run (10 steps): fail at a `expect` step (pipeline-output): unexpected pipeline-state"
        ),
        "{all}"
    );
    let yaml = std::fs::read_to_string(&min).unwrap();
    let steps: Vec<&str> = yaml.lines().filter(|l| l.starts_with("  - ")).collect();
    assert!(
        !steps.is_empty() && steps.len() < 10,
        "fewer than the 10 steps of the original (the psrp/open prelude included): {yaml}"
    );
    assert!(yaml.contains("# Shrunk by peercheck shrink"), "{yaml}");
    assert!(yaml.contains("--seed 7"), "{yaml}");
    assert!(
        !steps.iter().any(|l| l.contains(r#""oop.command-ack""#)),
        "the CommandAck expectation is not needed for the failure: {yaml}"
    );
    assert!(
        steps
            .last()
            .is_some_and(|l| l.starts_with(r#"  - expect: { "pipeline-output""#)),
        "it ends where psrpcore parts ways: {yaml}"
    );
    assert!(
        !yaml.contains("noInput"),
        "sends are simplified where the failure does not need the field: {yaml}"
    );

    // Still the same failure against psrpcore…
    let (code, out, all) = pc(&["replay", &m, "--seed", "7", "--exec", &server], 60);
    assert_eq!(code, Some(1), "{all}");
    assert!(
        out.contains(&format!(
            "step {}: expected pipeline-output, got pipeline-state",
            steps.len()
        )) && out.contains(r#""pipelineState":1"#),
        "{out}"
    );
    // …and a fair scenario: the correct simulator passes it.
    let (code, out, all) = pc(&["replay", &m, "--seed", "7"], 60);
    assert_eq!(code, Some(0), "{all}");
    assert!(out.contains("PASS"), "{out}");
}

/// psrpcore's decoder behind the shim protocol over every PSRP vector: the report lists every
/// disagreement field by field and counts the rest; what psrpcore decodes like peercheck agrees,
/// invalid vectors psrpcore's receive path rejects agree, and the ones it accepts are listed.
#[test]
fn golden_verify_psrpcore_decoder_over_every_psrp_vector() {
    let Some(py) = python() else { return };
    let decode = shim(&py, "decode_shim.py");
    let (code, out, all) = pc(
        &[
            "golden",
            "verify",
            "--protocol",
            "psrp",
            "--exec",
            &decode,
            "--timeout",
            "20",
        ],
        120,
    );
    assert_eq!(code, Some(1), "psrpcore disagrees on some vectors:\n{all}");
    // Every PSRP vector got an answer: the summary counts them all.
    let (_, export, _) = pc(&["golden", "export", "--protocol", "psrp"], 60);
    let n = serde_json::from_str::<serde_json::Value>(&export).unwrap()["numberOfTests"]
        .as_u64()
        .unwrap();
    let summary = out.lines().last().unwrap();
    let counts: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    assert!(
        summary.ends_with(" disagree") && counts.len() == 3 && counts[0] == n && counts[1] + counts[2] == n,
        "{summary}"
    );
    assert!(
        counts[1] >= 40,
        "psrpcore decodes many vectors like peercheck: {summary}"
    );
    let listed = out.lines().filter(|l| l.starts_with("DISAGREE ")).count() as u64;
    assert_eq!(listed, counts[2], "each disagreement is listed: {out}");
    let agrees = |id: &str| !out.contains(&format!("DISAGREE {id} "));
    // What psrpcore decodes as peercheck does, field for field.
    for id in [
        "psrp.clixml.primitive-string",
        "psrp.clixml.primitive-signed-long",
        "psrp.clixml.primitive-guid",
        "psrp.pipeline.pipeline-state-completed",
        "psrp.fragments.three-fragments",
        "psrp.outofproc.command",
        // Invalid bytes psrpcore's receive path rejects.
        "psrp.fragments.fragment-id-gap",
        "psrp.fragments.truncated-fragment-header",
        "psrp.fragments.bad-clixml",
    ] {
        assert!(agrees(id), "{id}:\n{out}");
    }
    // Invalid vectors psrpcore accepts: listed as such (findings, docs/golden.md).
    for id in [
        "psrp.fragments.object-id-zero",
        "psrp.fragments.missing-start",
        "psrp.fragments.wrong-destination",
        "psrp.fragments.clixml-depth-over-limit",
        "psrp.fragments.missing-protocolversion",
        "psrp.outofproc.data-bad-fragment",
        // The adapter's OutOfProc framing (transport.py), not psrpcore: PSGuid is not compared.
        "psrp.outofproc.psguid-differs-from-pid",
    ] {
        let head = format!("DISAGREE {id} [invalid]");
        let at = out.find(&head).unwrap_or_else(|| panic!("{head}:\n{out}"));
        assert!(
            out[at..]
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("    - accepted bytes that must be rejected (decoded as ")),
            "{out}"
        );
    }
    // Unknown message types: peercheck keeps them (MS-PSRP §2.2.1), psrpcore's enum refuses.
    assert!(
        out.contains(
            "DISAGREE psrp.unknown.type-0x00099999 [valid] (MS-PSRP §2.2.1 MessageType (unknown values kept); psrp/unknown.yaml)\n    \
             - rejected bytes that must be accepted: ValueError: 629145 is not a valid PSRPMessageType\n"
        ),
        "{out}"
    );
    // Every listed difference is one of three kinds; none is a value psrpcore decoded
    // differently from the vector (that would read `<field>: expected A, got B`).
    for l in out.lines().filter(|l| l.starts_with("    - ")) {
        assert!(
            l.starts_with("    - accepted bytes that must be rejected (decoded as ")
                || l.starts_with("    - rejected bytes that must be accepted: ValueError: ")
                || (l.ends_with(" missing") && !l.contains(": expected ")),
            "a new kind of disagreement, look at it (docs/golden.md): {l}\n{out}"
        );
    }
    // Field by field: psrpcore decodes the DateTime, the shim has no mapping of its value to
    // peercheck's form, so the one field is listed as missing (and the rest of the message agrees).
    let at = out
        .find("DISAGREE psrp.clixml.primitive-datetime [valid]")
        .unwrap_or_else(|| panic!("{out}"));
    let lines: Vec<&str> = out[at..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("    - "))
        .collect();
    assert_eq!(lines, ["    - pipeline-output.value missing"], "{out}");
    assert!(
        all.contains("decode_shim: unsupported: pipeline-output.value: value of psrpcore type PSDateTime"),
        "the shim says why on stderr: {all}"
    );
}
