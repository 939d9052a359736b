//! `peercheck encode`: a message in the structured scenario form (YAML or JSON,
//! `{ name: { fields } }`, or a list of them) into its exact bytes, through the protocol's session
//! — the same encoder `send:` steps use. `decode` then `encode` gives back the same bytes.

use super::exit;
use crate::tools::proto::{self, Resolved};
use peercheck_wire::hexdump;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct EncodeArgs {
    /// now, psrp (raw fragments), psrp-outofproc, inedo.
    #[arg(long)]
    pub protocol: String,
    #[arg(long)]
    pub profile: Option<String>,
    /// to-server: encode as the client; to-client: as the server.
    #[arg(long, value_parser = ["to-server", "to-client"], default_value = "to-server")]
    pub direction: String,
    /// Session parameter `key=value` (repeatable), e.g. `phase=frames` and `iv=…` for a lone Inedo frame.
    #[arg(long)]
    pub param: Vec<String>,
    /// The message as YAML (`{ exec.run: { sessionId: 1, command: calc } }`); a list encodes each in
    /// turn through one session. Default: stdin.
    #[arg(long)]
    pub yaml: Option<PathBuf>,
    /// hex (one line per message) or annotated (hexdump with every field).
    #[arg(long, value_parser = ["hex", "annotated"], default_value = "hex")]
    pub format: String,
}

pub fn run(args: &EncodeArgs) -> i32 {
    match encode(args) {
        Ok(text) => {
            print!("{text}");
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

fn read_text(args: &EncodeArgs) -> Result<String, String> {
    let mut text = String::new();
    match &args.yaml {
        Some(p) => text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => {
            std::io::stdin()
                .take(super::decode::MAX_INPUT)
                .read_to_string(&mut text)
                .map_err(|e| format!("stdin: {e}"))?;
        }
    }
    Ok(text)
}

fn encode(args: &EncodeArgs) -> Result<String, String> {
    let Resolved { proto, params } = proto::resolve(&args.protocol, &args.param)?;
    let direction = proto::direction(&args.direction)?;
    let text = read_text(args)?;
    // JSON first: YAML refuses some characters JSON carries (C1 controls, DEL) in strings.
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => serde_yaml::from_str(&text).map_err(|e| format!("the message is not YAML: {e}"))?,
    };
    let messages = match doc {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Null => return Err("no message given (expected `{ name: { fields } }`)".into()),
        one => vec![one],
    };
    let mut session = proto::session(proto, direction.sender(), args.profile.as_deref(), &params)?;
    let mut out = String::new();
    for (i, m) in messages.iter().enumerate() {
        let name = m
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.keys().next())
            .cloned()
            .ok_or_else(|| {
                format!(
                    "message {}: expected a map with one key, the message name: {{ name: {{ fields }} }}",
                    i + 1
                )
            })?;
        if !proto.messages().iter().any(|x| x.name == name) && name != "unknown" {
            let hint = crate::protocols::closest(&name, proto.messages().iter().map(|x| x.name));
            return Err(format!(
                "message {}: unknown {} message `{name}`{}",
                i + 1,
                proto.name(),
                if hint.is_empty() {
                    String::new()
                } else {
                    format!("; did you mean {}?", hint.join(", "))
                }
            ));
        }
        let bytes = session
            .encode(m)
            .map_err(|e| format!("message {} ({name}): {e}", i + 1))?;
        // Bytes the session writes by itself (e.g. acknowledgements) are not part of the message.
        while session.poll_transmit().is_some() {}
        if args.format == "annotated" {
            out.push_str(&format!("#{} {name} ({} bytes)\n", i + 1, bytes.len()));
            out.push_str(&hexdump::annotated(&bytes, 0, &session.annotate_sent(&bytes)));
        } else {
            out.push_str(&hex::encode(&bytes));
            out.push('\n');
        }
    }
    Ok(out)
}
