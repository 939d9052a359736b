//! `peercheck simulate`: play a protocol peer over TCP (listen or connect) or stdio.

use super::exit;
use crate::cli::{params_for, SimulateArgs};
use crate::protocols;
use peercheck_simulator::driver::{self, Annotator, DriveConfig, LogSink};
use peercheck_simulator::faults::{FaultKind, FaultRule, FaultScript};
use peercheck_simulator::peer::{PeerConfig, REAL_COMMANDS_PARAM};
use peercheck_wire::session::{Role, SessionOptions};
use std::sync::{Arc, Mutex};

pub async fn run(args: &SimulateArgs) -> i32 {
    if args.list_misbehaviours {
        let names: Vec<&str> = match &args.protocol {
            Some(p) => vec![p.as_str()],
            None => protocols::names(),
        };
        for p in names {
            for m in protocols::misbehaviours(p) {
                println!("{:<45} {:<6} {:<6} {}", m.name, p, m.role.as_str(), m.description);
            }
        }
        return exit::OK;
    }
    let (Some(protocol), Some(role)) = (&args.protocol, &args.role) else {
        eprintln!("error: simulate needs --protocol and --role (or --list-misbehaviours)");
        return exit::USAGE;
    };
    let proto = match protocols::get(protocol) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let role = if role == "server" {
        Role::Server
    } else {
        Role::Client
    };
    let mut params = match params_for(&args.param, protocol) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    // Real command execution only through the flag, never through a --param.
    params.remove(REAL_COMMANDS_PARAM);
    if args.run_real_commands {
        if let Err(e) = check_real_commands(args, protocol, role) {
            eprintln!("error: --run-real-commands: {e}");
            return exit::USAGE;
        }
        params.insert(REAL_COMMANDS_PARAM.to_owned(), "true".to_owned());
    }
    let script = match &args.script {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_yaml::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return exit::USAGE;
            }
        },
        None => None,
    };
    let mut faults = Vec::new();
    if let Some(p) = &args.faults {
        match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| FaultScript::from_yaml(&t))
        {
            Ok(s) => faults.extend(s.faults),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return exit::USAGE;
            }
        }
    }
    for f in &args.fault {
        match parse_fault_shorthand(f) {
            Ok(r) => faults.push(r),
            Err(e) => {
                eprintln!("error: --fault {f}: {e}");
                return exit::USAGE;
            }
        }
    }
    if let Some(m) = &args.misbehave {
        if !protocols::misbehaviours(protocol).iter().any(|x| x.name == m) {
            let names: Vec<&str> = protocols::misbehaviours(protocol)
                .iter()
                .map(|x| x.name)
                .collect();
            let hint = protocols::closest(m, names.iter().copied());
            eprintln!(
                "error: unknown misbehaviour `{m}` for {protocol}{}",
                if hint.is_empty() {
                    String::new()
                } else {
                    format!("; did you mean {}?", hint.join(", "))
                }
            );
            return exit::USAGE;
        }
    }
    let config = PeerConfig {
        role: Some(role),
        profile: args.profile.clone(),
        params: params.clone(),
        script,
        misbehave: args.misbehave.clone(),
        seed: args.seed,
    };
    // Validate the configuration once before serving.
    if let Err(e) = protocols::new_peer(protocol, &config) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    let quiet = args.quiet;
    let real = args.run_real_commands;
    let make_cfg = |conn: usize| -> DriveConfig {
        let log: Option<LogSink> = if quiet {
            None
        } else {
            Some(Arc::new(move |l: &str| eprintln!("[conn {conn}] {l}")))
        };
        let opts = SessionOptions {
            local_role: Some(role),
            profile: config.profile.clone(),
            params: params.clone(),
        };
        // Field spans only matter to field-aware faults: no codec session per connection without.
        let annotate: Option<Annotator> = (!faults.is_empty())
            .then(|| proto.new_session(&opts).ok())
            .flatten()
            .map(|s| {
                let s = Arc::new(Mutex::new(s));
                let a: Annotator =
                    Arc::new(move |b: &[u8]| s.lock().map(|s| s.annotate_sent(b)).unwrap_or_default());
                a
            });
        DriveConfig {
            faults: faults.clone(),
            seed: args.seed.wrapping_add(conn as u64),
            length_field: proto.length_field(),
            annotate,
            log,
            idle_timeout: None,
            clock_speed: args.clock_speed,
            run_real_commands: real,
        }
    };
    if args.stdio {
        let peer = match protocols::new_peer(protocol, &config) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        let link = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        let out = driver::drive(peer, link, make_cfg(0)).await;
        return finished_code(&out);
    }
    if let Some(addr) = &args.connect {
        let s = match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot connect to {addr}: {e}");
                return exit::UNREACHABLE;
            }
        };
        let peer = match protocols::new_peer(protocol, &config) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        let out = driver::drive(peer, s, make_cfg(0)).await;
        return finished_code(&out);
    }
    let addr = args.listen.clone().unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = match listen(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return exit::USAGE;
        }
    };
    match listener.local_addr() {
        Ok(a) if real && !a.ip().is_loopback() => {
            eprintln!("error: --run-real-commands: {a} is not a loopback address (127.0.0.0/8 or ::1)");
            return exit::USAGE;
        }
        Ok(a) => println!("listening on {a}"),
        Err(e) => {
            eprintln!("error: cannot read the listening address: {e}");
            return exit::USAGE;
        }
    }
    if real {
        eprintln!("{REAL_COMMANDS_BANNER}");
    }
    let mut n = 0usize;
    loop {
        tokio::select! {
            acc = listener.accept() => {
                let Ok((s, from)) = acc else { continue };
                n += 1;
                let _ = s.set_nodelay(true);
                let cfg = make_cfg(n);
                if let Some(log) = &cfg.log { log(&format!("accepted {from}")); }
                match protocols::new_peer(protocol, &config) {
                    Ok(peer) => { tokio::spawn(async move { let out = driver::drive(peer, s, cfg.clone()).await; if let Some(log) = &cfg.log { log(&format!("ended: {}", out.end)); } }); }
                    Err(e) => eprintln!("error: {e}"),
                }
            }
            _ = tokio::signal::ctrl_c() => return exit::OK,
        }
    }
}

const REAL_COMMANDS_BANNER: &str = "\
WARNING: --run-real-commands: this NOW agent simulator RUNS THE COMMANDS ITS CLIENTS SEND, for real,
WARNING: as this user, on this machine. It listens on loopback only; anyone who can connect to the
WARNING: port can run anything this user can. Stop it when the test is over.";

/// `--run-real-commands` needs the NOW server role and a loopback listener (not stdio, not connect:
/// the other end of those cannot be checked).
fn check_real_commands(args: &SimulateArgs, protocol: &str, role: Role) -> Result<(), String> {
    if protocol != "now" || role != Role::Server {
        return Err("only the NOW server simulator (--protocol now --role server) runs commands".into());
    }
    if args.stdio || args.connect.is_some() {
        return Err(
            "needs a loopback listener (--listen 127.0.0.1:PORT or [::1]:PORT), not --stdio or --connect"
                .into(),
        );
    }
    let addr = args.listen.as_deref().unwrap_or("127.0.0.1:0");
    let sock: std::net::SocketAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IP address and port (host names are not accepted here)"))?;
    if !sock.ip().is_loopback() {
        return Err(format!("`{addr}` is not a loopback address (127.0.0.0/8 or ::1)"));
    }
    Ok(())
}

/// Pending connections the listener queues (the kernel caps it at net.core.somaxconn). The default
/// of `TcpListener::bind` is 128: a load test opening a few hundred connections at once overflowed
/// it, and every overflowed connection waited for a SYN retransmission (1 s).
const LISTEN_BACKLOG: u32 = 4096;

async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other(format!("`{addr}` resolves to no address"))))
}

fn finished_code(out: &driver::DriveOutcome) -> i32 {
    match &out.finished {
        Some((false, _)) => exit::FAILURES,
        _ => exit::OK,
    }
}

/// `[target[#n]:]fault[=arg]`: `drop`, `exec.data#2:drop`, `split=3`, `delay=200ms`, `corrupt-field=msgSize`.
pub fn parse_fault_shorthand(s: &str) -> Result<FaultRule, String> {
    let (target, fault) = match s.rsplit_once(':') {
        Some((t, f)) => (Some(t), f),
        None => (None, s),
    };
    let (target, nth) = match target {
        Some(t) => match t.split_once('#') {
            Some((name, n)) => (
                Some(name.to_owned()),
                Some(n.parse::<usize>().map_err(|_| format!("`{n}` is not a count"))?),
            ),
            None => (Some(t.to_owned()), None),
        },
        None => (None, None),
    };
    let (kind, arg) = match fault.split_once('=') {
        Some((k, a)) => (k, Some(a)),
        None => (fault, None),
    };
    let num = |a: Option<&str>| -> Result<u64, String> {
        a.ok_or_else(|| format!("`{kind}` needs =N"))?
            .parse::<u64>()
            .map_err(|_| format!("`{kind}` needs a number"))
    };
    let fault = match kind {
        "drop" => FaultKind::Drop,
        "duplicate" => FaultKind::Duplicate,
        "reorder" => FaultKind::Reorder,
        "stall" => FaultKind::Stall,
        "close" => FaultKind::Close,
        "reset" => FaultKind::Reset,
        "split" => {
            FaultKind::Split(usize::try_from(num(arg)?).map_err(|_| "`split` is too large".to_string())?)
        }
        "slice" => {
            FaultKind::Slice(usize::try_from(num(arg)?).map_err(|_| "`slice` is too large".to_string())?)
        }
        "bandwidth" => FaultKind::Bandwidth(num(arg)?),
        "truncate" => FaultKind::Truncate(
            usize::try_from(num(arg)?).map_err(|_| "`truncate` is too large".to_string())?,
        ),
        "delay" => FaultKind::Delay(arg.ok_or("delay needs =DURATION")?.to_owned()),
        "wrong-length" => FaultKind::WrongLength(
            arg.ok_or("wrong-length needs =DELTA")?
                .parse()
                .map_err(|_| "wrong-length needs a number")?,
        ),
        "corrupt-field" => FaultKind::CorruptField {
            field: arg.ok_or("corrupt-field needs =FIELD")?.to_owned(),
            xor: None,
        },
        "garbage" => FaultKind::Garbage(arg.ok_or("garbage needs =HEX")?.to_owned()),
        other => return Err(format!("unknown fault `{other}`")),
    };
    fault.validate()?;
    Ok(FaultRule { target, nth, fault })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shorthand() {
        let r = parse_fault_shorthand("exec.data#2:drop").unwrap();
        assert_eq!(
            (r.target.as_deref(), r.nth, r.fault),
            (Some("exec.data"), Some(2), FaultKind::Drop)
        );
        assert_eq!(
            parse_fault_shorthand("split=3").unwrap().fault,
            FaultKind::Split(3)
        );
        assert!(parse_fault_shorthand("explode").is_err());
    }
}
