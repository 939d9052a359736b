//! SSL mode (ERRATA Inedo-9): after the clear-text handshake and reply, TLS runs on the same socket
//! with the agent (the protocol's server) as the TLS server. rustls is driven sans-IO here: bytes in
//! through `read_tls`, records out through `write_tls`.
//!
//! The suite's TLS client accepts any server certificate: a conformance suite tests the protocol,
//! not the PKI, and agents ship self-signed certificates. The suite's TLS server presents an rcgen
//! self-signed certificate for `inedo-agent`.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, Connection, DigitallySignedStruct, ServerConfig, ServerConnection,
};
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};

/// The name the client asks for and the server's certificate carries.
pub const TLS_SERVER_NAME: &str = "inedo-agent";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts every certificate, but still checks the handshake signatures against it.
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let p = provider();
            let config = ClientConfig::builder_with_provider(p.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS client config: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(p)))
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

fn server_config() -> Result<Arc<ServerConfig>, String> {
    // One self-signed certificate per process: generating a key per connection is slow and buys nothing.
    static CONFIG: OnceLock<Result<Arc<ServerConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let certified = rcgen::generate_simple_self_signed(vec![TLS_SERVER_NAME.to_owned()])
                .map_err(|e| format!("self-signed certificate: {e}"))?;
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
            let config = ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS server config: {e}"))?
                .with_no_client_auth()
                .with_single_cert(vec![certified.cert.der().clone()], key)
                .map_err(|e| format!("TLS server certificate: {e}"))?;
            Ok(Arc::new(config))
        })
        .clone()
}

/// One TLS endpoint, fed and drained by the session.
#[derive(Debug)]
pub struct Tls {
    conn: Connection,
    /// The fatal alert the peer ended TLS with: its way of refusing the connection, which reads as
    /// a close (well-formed TLS), not as a malformed message. Later bytes are ignored.
    peer_alert: Option<String>,
}

impl Tls {
    /// The protocol client's side: the TLS client. Its ClientHello is ready at once.
    pub fn client() -> Result<Self, String> {
        let name = ServerName::try_from(TLS_SERVER_NAME).map_err(|e| format!("TLS server name: {e}"))?;
        let conn = ClientConnection::new(client_config()?, name).map_err(|e| format!("TLS client: {e}"))?;
        Ok(Tls {
            conn: Connection::Client(conn),
            peer_alert: None,
        })
    }

    /// The agent's side: the TLS server.
    pub fn server() -> Result<Self, String> {
        let conn = ServerConnection::new(server_config()?).map_err(|e| format!("TLS server: {e}"))?;
        Ok(Tls {
            conn: Connection::Server(conn),
            peer_alert: None,
        })
    }

    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The fatal alert the peer sent, if it ended TLS with one.
    pub fn peer_alert(&self) -> Option<&str> {
        self.peer_alert.as_deref()
    }

    /// Feed received TLS bytes; decrypted application data is appended to `plain`. A fatal alert
    /// from the peer ends the stream quietly (see `peer_alert`).
    pub fn receive(&mut self, mut input: &[u8], plain: &mut Vec<u8>) -> Result<(), String> {
        while !input.is_empty() && self.peer_alert.is_none() {
            let n = self
                .conn
                .read_tls(&mut input)
                .map_err(|e| format!("TLS read: {e}"))?;
            match self.conn.process_new_packets() {
                Ok(_) => {}
                Err(rustls::Error::AlertReceived(alert)) => {
                    self.peer_alert = Some(format!("{alert:?}"));
                    return Ok(());
                }
                Err(e) => return Err(format!("TLS: {e}")),
            }
            self.drain_plaintext(plain)?;
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    fn drain_plaintext(&mut self, plain: &mut Vec<u8>) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => plain.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(format!("TLS plaintext: {e}")),
            }
        }
    }

    /// Queue application data (rustls holds it until the handshake is done).
    pub fn send(&mut self, data: &[u8]) -> Result<(), String> {
        self.conn
            .writer()
            .write_all(data)
            .map_err(|e| format!("TLS write: {e}"))
    }

    /// TLS records waiting to be written.
    pub fn take_records(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            self.conn
                .write_tls(&mut out)
                .map_err(|e| format!("TLS write: {e}"))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn client_and_server_handshake_in_memory_and_carry_data_both_ways() {
        let mut client = Tls::client().unwrap();
        let mut server = Tls::server().unwrap();
        client.send(b"ping").unwrap();
        let (mut at_client, mut at_server) = (Vec::new(), Vec::new());
        for _ in 0..10 {
            let c = client.take_records().unwrap();
            server.receive(&c, &mut at_server).unwrap();
            let s = server.take_records().unwrap();
            client.receive(&s, &mut at_client).unwrap();
            if !client.is_handshaking() && !server.is_handshaking() && at_server == b"ping" {
                break;
            }
        }
        assert_eq!(at_server, b"ping");
        server.send(b"pong").unwrap();
        let s = server.take_records().unwrap();
        client.receive(&s, &mut at_client).unwrap();
        assert_eq!(at_client, b"pong");
    }

    #[test]
    fn a_fatal_alert_from_the_peer_ends_the_stream_without_an_error() {
        let mut client = Tls::client().unwrap();
        let mut server = Tls::server().unwrap();
        let mut plain = Vec::new();
        let _hello = client.take_records().unwrap();
        // The server refuses bytes that are no TLS record, with a fatal alert.
        assert!(server
            .receive(b"\x00\x00\x00\x00\x00\x03\x00\x00\x00", &mut plain)
            .is_err());
        let alert = server.take_records().unwrap();
        assert!(!alert.is_empty());
        client.receive(&alert, &mut plain).unwrap();
        assert!(client.peer_alert().is_some());
        client.receive(b"anything after it", &mut plain).unwrap();
        assert!(plain.is_empty());
    }

    #[test]
    fn garbage_is_a_tls_error_not_a_panic() {
        let mut server = Tls::server().unwrap();
        let mut plain = Vec::new();
        assert!(server
            .receive(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5], &mut plain)
            .is_err());
    }
}
