//! `peercheck decode`: bytes in, one JSON object (or annotated dump) per message out.

use super::exit;
use crate::cli::{params_for, DecodeArgs};
use crate::protocols;
use peercheck_wire::hexdump;
use peercheck_wire::session::{Role, SessionOptions};
use std::io::Read;

/// Most input read (a decoder input, not a capture archive).
pub const MAX_INPUT: u64 = 256 * 1024 * 1024;

pub fn run(args: &DecodeArgs) -> i32 {
    let (proto_name, framing) = match args.protocol.as_str() {
        "psrp" => ("psrp", Some("fragments")),
        "psrp-outofproc" => ("psrp", Some("outofproc")),
        other => (other, None),
    };
    let proto = match protocols::get(proto_name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e} (decode also takes psrp-outofproc)");
            return exit::USAGE;
        }
    };
    let input = match read_input(args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut params = match params_for(&args.param, proto_name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Some(f) = framing {
        params.insert("framing".into(), f.into());
    }
    // The decoding side is the receiver of the direction.
    let receiver = if args.direction == "to-server" {
        Role::Server
    } else {
        Role::Client
    };
    let opts = SessionOptions {
        local_role: Some(receiver),
        profile: args.profile.clone(),
        params,
    };
    let mut session = match proto.new_session(&opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    session.push_received(&input);
    let mut count = 0usize;
    loop {
        match session.next_received() {
            Ok(Some(m)) => {
                count += 1;
                if args.format == "text" {
                    println!(
                        "#{count} {} at byte {} ({} bytes)",
                        m.name,
                        m.offset,
                        m.bytes.len()
                    );
                    print!("{}", hexdump::annotated(&m.bytes, m.offset, &m.spans));
                    println!("  fields: {}", m.fields);
                } else {
                    let v = serde_json::json!({
                        "offset": m.offset, "length": m.bytes.len(), "name": m.name,
                        "fields": m.fields, "spans": m.spans,
                    });
                    println!("{v}");
                }
            }
            Ok(None) => break,
            Err(e) => return report_error(args, &e.to_string(), e.offset, &e.field, count),
        }
    }
    if let Err(e) = session.finish() {
        return report_error(args, &e.to_string(), e.offset, &e.field, count);
    }
    eprintln!("{count} message(s) decoded");
    exit::OK
}

fn report_error(args: &DecodeArgs, msg: &str, offset: usize, field: &str, decoded: usize) -> i32 {
    if args.format == "json" {
        println!(
            "{}",
            serde_json::json!({"error": msg, "offset": offset, "field": field, "decoded_before": decoded})
        );
    }
    eprintln!("error: {msg}");
    exit::FAILURES
}

fn read_input(args: &DecodeArgs) -> Result<Vec<u8>, String> {
    if let Some(h) = &args.hex {
        return peercheck_wire::hexparse::parse_hex(h).map_err(|e| format!("--hex: {e}"));
    }
    let mut raw = Vec::new();
    match &args.file {
        Some(p) => std::fs::File::open(p)
            .and_then(|f| f.take(MAX_INPUT).read_to_end(&mut raw))
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => std::io::stdin()
            .take(MAX_INPUT)
            .read_to_end(&mut raw)
            .map_err(|e| format!("stdin: {e}"))?,
    };
    if args.input_hex {
        let text = String::from_utf8(raw).map_err(|_| "input is not hex text".to_string())?;
        return peercheck_wire::hexparse::parse_hex(&text);
    }
    Ok(raw)
}
