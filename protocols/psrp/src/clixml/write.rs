//! CLIXML writer (MS-PSRP §2.2.5), shaped like PowerShell's own output: `N` before `RefId`,
//! empty elements as `<X />`, TN reused through `<TNRef>` when the writer numbers objects itself.

use super::escape;
use super::value::{ClixmlObject, ClixmlValue, Container};
use base64::Engine;
use std::collections::HashMap;
use std::fmt::Write;

/// Serialize one value (no `<Objs>` root, no namespace: ERRATA PSRP-4).
pub fn to_string(value: &ClixmlValue) -> String {
    let mut out = String::new();
    write_into(&mut out, value);
    out
}

/// Append the serialization of `value` to `out` (the bytes of [`to_string`] after what `out` holds).
pub fn write_into(out: &mut String, value: &ClixmlValue) {
    let mut w = Writer {
        out: std::mem::take(out),
        ..Writer::default()
    };
    w.value(value, None);
    *out = w.out;
}

#[derive(Default)]
struct Writer {
    out: String,
    next_obj: u64,
    next_tn: u64,
    tn_ids: HashMap<Vec<String>, String>,
}

fn xml_text(s: &str) -> String {
    let mut out = String::new();
    escape::encode_xml_into(&mut out, s, escape::Xml::Text);
    out
}

fn xml_attr(s: &str) -> String {
    let mut out = String::new();
    escape::encode_xml_into(&mut out, s, escape::Xml::Attr);
    out
}

impl Writer {
    fn open(&mut self, tag: &str, name: Option<&str>) {
        self.out.push('<');
        self.out.push_str(tag);
        if let Some(n) = name {
            self.out.push_str(" N=\"");
            escape::encode_xml_into(&mut self.out, n, escape::Xml::Attr);
            self.out.push('"');
        }
    }

    /// Like [`Writer::leaf`] for text that still needs escaping: escaped straight into the output
    /// (a 256 KiB string is scanned once and copied once).
    fn text_leaf(&mut self, tag: &str, name: Option<&str>, raw: &str) {
        self.open(tag, name);
        // Escaping never turns a non-empty text into an empty one, nor the reverse.
        if raw.is_empty() {
            self.out.push_str(" />");
        } else {
            self.out.push('>');
            escape::encode_xml_into(&mut self.out, raw, escape::Xml::Text);
            self.out.push_str("</");
            self.out.push_str(tag);
            self.out.push('>');
        }
    }

    /// `<tag N="…">text</tag>`, or `<tag N="…" />` for empty text.
    fn leaf(&mut self, tag: &str, name: Option<&str>, text: &str) {
        self.open(tag, name);
        if text.is_empty() {
            self.out.push_str(" />");
        } else {
            let _ = write!(self.out, ">{text}</{tag}>");
        }
    }

    fn value(&mut self, v: &ClixmlValue, name: Option<&str>) {
        use ClixmlValue as V;
        match v {
            V::Nil => self.leaf("Nil", name, ""),
            V::S(s) => self.text_leaf("S", name, s),
            V::SBK(s) => self.text_leaf("SBK", name, s),
            V::XD(s) => self.text_leaf("XD", name, s),
            V::C(c) => self.leaf("C", name, &c.to_string()),
            V::B(b) => self.leaf("B", name, if *b { "true" } else { "false" }),
            V::DT(s) => self.text_leaf("DT", name, s),
            V::TS(s) => self.text_leaf("TS", name, s),
            V::By(n) => self.leaf("By", name, &n.to_string()),
            V::SB(n) => self.leaf("SB", name, &n.to_string()),
            V::U16(n) => self.leaf("U16", name, &n.to_string()),
            V::I16(n) => self.leaf("I16", name, &n.to_string()),
            V::U32(n) => self.leaf("U32", name, &n.to_string()),
            V::I32(n) => self.leaf("I32", name, &n.to_string()),
            V::U64(n) => self.leaf("U64", name, &n.to_string()),
            V::I64(n) => self.leaf("I64", name, &n.to_string()),
            V::Sg(s) => self.text_leaf("Sg", name, s),
            V::Db(s) => self.text_leaf("Db", name, s),
            V::D(s) => self.text_leaf("D", name, s),
            V::BA(b) => self.leaf("BA", name, &base64::engine::general_purpose::STANDARD.encode(b)),
            V::G(s) => self.text_leaf("G", name, s),
            V::URI(s) => self.text_leaf("URI", name, s),
            V::Version(s) => self.text_leaf("Version", name, s),
            V::SS(s) => self.text_leaf("SS", name, s),
            V::SemanticVersion(s) => self.text_leaf("SemanticVersion", name, s),
            V::PR(fields) => {
                self.open("PR", name);
                self.out.push('>');
                for f in fields {
                    match &f.text {
                        Some(t) => self.text_leaf(&f.tag, None, t),
                        None => self.leaf(&f.tag, None, ""),
                    }
                }
                self.out.push_str("</PR>");
            }
            V::Ref(id) => {
                self.open("Ref", name);
                let _ = write!(self.out, " RefId=\"{}\" />", xml_attr(id));
            }
            V::Obj(o) => self.object(o, name),
        }
    }

    fn object(&mut self, o: &ClixmlObject, name: Option<&str>) {
        self.open("Obj", name);
        let id = match &o.ref_id {
            Some(id) => {
                // Keep numbering after explicit ids so mixed values never repeat a RefId.
                if let Ok(n) = id.parse::<u64>() {
                    self.next_obj = self.next_obj.max(n.saturating_add(1));
                }
                id.clone()
            }
            None => {
                let id = self.next_obj.to_string();
                self.next_obj += 1;
                id
            }
        };
        let _ = write!(self.out, " RefId=\"{}\">", xml_attr(&id));
        if let Some(names) = &o.type_names {
            self.type_names(names, o.tn_ref_id.as_deref(), o.tn_is_ref);
        }
        if let Some(s) = &o.to_string {
            self.text_leaf("ToString", None, s);
        }
        if let Some(v) = &o.value {
            self.value(v, None);
        }
        if let Some(c) = &o.container {
            self.container(c);
        }
        if !o.props.is_empty() {
            self.out.push_str("<Props>");
            for p in &o.props {
                self.value(&p.value, Some(&p.name));
            }
            self.out.push_str("</Props>");
        }
        if !o.ms.is_empty() {
            self.out.push_str("<MS>");
            for p in &o.ms {
                self.value(&p.value, Some(&p.name));
            }
            self.out.push_str("</MS>");
        }
        self.out.push_str("</Obj>");
    }

    fn type_names(&mut self, names: &[String], ref_id: Option<&str>, is_ref: bool) {
        let (id, as_ref) = match ref_id {
            Some(id) => {
                if let Ok(n) = id.parse::<u64>() {
                    self.next_tn = self.next_tn.max(n.saturating_add(1));
                }
                (id.to_owned(), is_ref)
            }
            None => match self.tn_ids.get(names) {
                Some(id) => (id.clone(), true),
                None => {
                    let id = self.next_tn.to_string();
                    self.next_tn += 1;
                    self.tn_ids.insert(names.to_vec(), id.clone());
                    (id, false)
                }
            },
        };
        if as_ref {
            let _ = write!(self.out, "<TNRef RefId=\"{}\" />", xml_attr(&id));
            return;
        }
        let _ = write!(self.out, "<TN RefId=\"{}\">", xml_attr(&id));
        for n in names {
            let _ = write!(self.out, "<T>{}</T>", xml_text(n));
        }
        self.out.push_str("</TN>");
    }

    fn container(&mut self, c: &Container) {
        let (tag, items) = match c {
            Container::LST(v) => ("LST", v),
            Container::IE(v) => ("IE", v),
            Container::STK(v) => ("STK", v),
            Container::QUE(v) => ("QUE", v),
            Container::DCT(entries) => {
                if entries.is_empty() {
                    self.out.push_str("<DCT />");
                    return;
                }
                self.out.push_str("<DCT>");
                for e in entries {
                    self.out.push_str("<En>");
                    self.value(&e.key, Some("Key"));
                    self.value(&e.value, Some("Value"));
                    self.out.push_str("</En>");
                }
                self.out.push_str("</DCT>");
                return;
            }
        };
        if items.is_empty() {
            let _ = write!(self.out, "<{tag} />");
            return;
        }
        let _ = write!(self.out, "<{tag}>");
        for v in items {
            self.value(v, None);
        }
        let _ = write!(self.out, "</{tag}>");
    }
}
