//! Differential target: NOW bytes decoded by our codec (profile now-1.6) and by now-proto-pdu
//! 0.4.4. now-proto-pdu panics on some short bodies (finding D3 in protocols/now/README.md), so its
//! decode runs under `catch_unwind` with a silent panic hook: its panics are recorded, never mask
//! ours. Our decoder panicking is a crash. Disagreements are not crashes (there are known ones,
//! D1–D9); with `PEERCHECK_DIFF_LOG=<file>` the first example of each kind of disagreement per
//! (class, type) is appended to that file, for docs/fuzzing.md.

use now_proto_pdu::ironrdp_core::{decode, encode_vec, IntoOwned};
use peercheck_now::{decode_message, Layout, Profile};
use std::collections::BTreeSet;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

static SEEN: Mutex<Option<BTreeSet<String>>> = Mutex::new(None);

enum Up {
    Ok(Vec<u8>),
    Err,
    Panic,
}

fn upstream(bytes: &[u8]) -> Up {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(|| {
        decode::<now_proto_pdu::NowMessage<'_>>(bytes)
            .map(IntoOwned::into_owned)
            .map(|m| encode_vec(&m).unwrap_or_default())
    }));
    std::panic::set_hook(hook);
    match r {
        Ok(Ok(b)) => Up::Ok(b),
        Ok(Err(_)) => Up::Err,
        Err(_) => Up::Panic,
    }
}

fn record(kind: &str, bytes: &[u8]) {
    let Ok(path) = std::env::var("PEERCHECK_DIFF_LOG") else {
        return;
    };
    let class = bytes.get(4).copied().unwrap_or(0);
    let ty = bytes.get(5).copied().unwrap_or(0);
    let key = format!("{kind} {class:02x}/{ty:02x}");
    let Ok(mut seen) = SEEN.lock() else { return };
    if !seen.get_or_insert_with(BTreeSet::new).insert(key.clone()) {
        return;
    }
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{key} {}", hex::encode(bytes));
    }
}

/// One NOW message's bytes: the input is cut to the length its header gives (when longer), so
/// both decoders see exactly one message.
pub fn now_diff(data: &[u8]) {
    let declared = data
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| n.checked_add(8));
    let data = match declared {
        Some(end) if end < data.len() => data.get(..end).unwrap_or(data),
        _ => data,
    };
    let layout = Layout::new(Profile::Now16);
    // Ours: a panic here is the finding this target exists for.
    let ours = decode_message(data, 0, &layout, true);
    match (ours, upstream(data)) {
        (_, Up::Panic) => record("upstream-panics", data),
        (Ok(_), Up::Err) => record("upstream-rejects-we-accept", data),
        (Err(_), Up::Ok(_)) => record("upstream-accepts-we-reject", data),
        (Ok(_), Up::Ok(re)) => {
            if re != data {
                record("upstream-reencode-differs", data);
            }
        }
        (Err(_), Up::Err) => {}
    }
}
