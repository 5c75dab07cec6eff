//! The PROXY protocol (HAProxy's, versions 1 and 2): the header a proxy
//! sends before anything else on a connection, saying whom it got the
//! connection from. Read on `proxy+http://` and `proxy+https://`
//! listeners only, before TLS and HTTP ([`read`]).
//!
//! The parser ([`parse`]) never reads past the header: it says how many
//! more bytes it needs, and those are all header bytes. Version 1 is a
//! text line of at most [`V1_MAX`] bytes; version 2 a 16-byte binary head
//! and at most [`V2_MAX_BODY`] bytes of addresses and TLVs (the TLVs are
//! skipped). `LOCAL` (v2) and `UNKNOWN` (v1) headers, which a proxy sends
//! for its own health checks, carry no client: the connection's peer (the
//! proxy) stays the client. Anything else is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

/// The longest version 1 header, `\r\n` included (the specification's).
pub(crate) const V1_MAX: usize = 107;
/// The longest version 2 body (addresses and TLVs) accepted.
pub(crate) const V2_MAX_BODY: usize = 1024;
/// The version 2 signature.
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// What both versions are told apart by (v1 is at least 15 bytes).
const PREFIX: usize = 12;

/// Where the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// At least this many more bytes are needed, all of them header bytes.
    Need(usize),
    /// A complete header of `len` bytes; `client`: the address it gives
    /// (`None` for `LOCAL`/`UNKNOWN`).
    Done {
        client: Option<SocketAddr>,
        len: usize,
    },
}

/// Why a header is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid(pub(crate) &'static str);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Parses the start of a connection, `buf`: everything read so far, and
/// nothing past the header (as [`Parsed::Need`] asks).
pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, Invalid> {
    if buf.len() < PREFIX {
        let sure = &buf[..buf.len().min(6)];
        if !V2_SIG.starts_with(sure) && !b"PROXY ".starts_with(sure) {
            return Err(Invalid("no PROXY protocol header"));
        }
        return Ok(Parsed::Need(PREFIX - buf.len()));
    }
    if buf.starts_with(V2_SIG) {
        v2(buf)
    } else if buf.starts_with(b"PROXY ") {
        v1(buf)
    } else {
        Err(Invalid("no PROXY protocol header"))
    }
}

/// `PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n`, or `PROXY UNKNOWN...\r\n`.
fn v1(buf: &[u8]) -> Result<Parsed, Invalid> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() >= V1_MAX {
            return Err(Invalid("v1 header longer than 107 bytes"));
        }
        return Ok(Parsed::Need(1));
    };
    let len = end + 2;
    if len > V1_MAX {
        return Err(Invalid("v1 header longer than 107 bytes"));
    }
    if len != buf.len() {
        return Err(Invalid("v1 header malformed"));
    }
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| Invalid("v1 header not ASCII"))?;
    let mut words = line.split(' ');
    let _proxy = words.next();
    let client = match words.next() {
        Some("UNKNOWN") => None,
        Some(family @ ("TCP4" | "TCP6")) => {
            let mut next = || words.next().ok_or(Invalid("v1 header cut short"));
            let (src, _dst, sport, _dport) = (next()?, next()?, next()?, next()?);
            if words.next().is_some() {
                return Err(Invalid("v1 header has extra fields"));
            }
            let ip: IpAddr = match family {
                "TCP4" => src.parse::<Ipv4Addr>().map(IpAddr::V4),
                _ => src.parse::<Ipv6Addr>().map(IpAddr::V6),
            }
            .map_err(|_| Invalid("v1 source address is not one"))?;
            let all_digits = !sport.is_empty() && sport.bytes().all(|b| b.is_ascii_digit());
            let port: u16 = sport
                .parse()
                .ok()
                .filter(|_| all_digits)
                .ok_or(Invalid("v1 source port is not one"))?;
            Some(SocketAddr::new(ip, port))
        }
        _ => return Err(Invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    Ok(Parsed::Done { client, len })
}

/// The binary version: signature, version and command, family and
/// protocol, body length, body.
fn v2(buf: &[u8]) -> Result<Parsed, Invalid> {
    if buf.len() < 16 {
        return Ok(Parsed::Need(16 - buf.len()));
    }
    let (ver_cmd, fam) = (buf[12], buf[13]);
    let body_len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if ver_cmd >> 4 != 2 {
        return Err(Invalid("v2 header of an unknown version"));
    }
    if body_len > V2_MAX_BODY {
        return Err(Invalid("v2 header longer than 1040 bytes"));
    }
    let len = 16 + body_len;
    if buf.len() < len {
        return Ok(Parsed::Need(len - buf.len()));
    }
    if buf.len() > len {
        return Err(Invalid("bytes past the v2 header"));
    }
    let body = &buf[16..len];
    let client = match ver_cmd & 0x0f {
        0 => None, // LOCAL: the proxy's own connection
        1 => match fam {
            0x11 => {
                let a: [u8; 12] = body
                    .get(..12)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(Invalid("v2 IPv4 addresses cut short"))?;
                let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
                Some(SocketAddr::new(ip.into(), u16::from_be_bytes([a[8], a[9]])))
            }
            0x21 => {
                let a: [u8; 36] = body
                    .get(..36)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(Invalid("v2 IPv6 addresses cut short"))?;
                let mut src = [0u8; 16];
                src.copy_from_slice(&a[..16]);
                let ip = Ipv6Addr::from(src);
                Some(SocketAddr::new(
                    ip.into(),
                    u16::from_be_bytes([a[32], a[33]]),
                ))
            }
            // UNSPEC or a Unix socket: no address to give.
            0x00 | 0x31 => None,
            _ => return Err(Invalid("v2 family or protocol not TCP")),
        },
        _ => return Err(Invalid("v2 command is neither LOCAL nor PROXY")),
    };
    Ok(Parsed::Done { client, len })
}

/// Why reading a header failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The bytes are no valid header.
    Invalid(Invalid),
    /// The peer closed, or the socket failed.
    Io(std::io::Error),
    /// No complete header within the deadline.
    Timeout,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(why) => write!(f, "{why}"),
            Self::Io(e) => write!(f, "{e}"),
            Self::Timeout => f.write_str("no complete PROXY protocol header in time"),
        }
    }
}

/// Reads the header at the start of `socket` within `deadline`, and
/// nothing more: the client it gives (`None` for `LOCAL`/`UNKNOWN`).
pub(crate) async fn read(
    socket: &TcpStream,
    deadline: Option<Duration>,
) -> Result<Option<SocketAddr>, ReadError> {
    let reading = async {
        let mut buf = Vec::with_capacity(PREFIX);
        loop {
            match parse(&buf).map_err(ReadError::Invalid)? {
                Parsed::Done { client, .. } => return Ok(client),
                Parsed::Need(n) => {
                    let start = buf.len();
                    buf.resize(start + n, 0);
                    let got = read_some(socket, &mut buf[start..]).await?;
                    buf.truncate(start + got);
                }
            }
        }
    };
    match deadline {
        Some(d) => tokio::time::timeout(d, reading)
            .await
            .unwrap_or(Err(ReadError::Timeout)),
        None => reading.await,
    }
}

/// Reads at least one byte into `buf` from a shared socket.
async fn read_some(socket: &TcpStream, buf: &mut [u8]) -> Result<usize, ReadError> {
    loop {
        socket.readable().await.map_err(ReadError::Io)?;
        match socket.try_read(buf) {
            Ok(0) => {
                return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` as the reader would: only what the parser asks for.
    pub(crate) fn feed(bytes: &[u8]) -> Result<(Option<SocketAddr>, usize), Invalid> {
        let mut buf = Vec::new();
        loop {
            match parse(&buf)? {
                Parsed::Done { client, len } => return Ok((client, len)),
                Parsed::Need(n) => {
                    assert!(n > 0);
                    let start = buf.len();
                    if start + n > bytes.len() {
                        return Err(Invalid("ran out"));
                    }
                    buf.extend_from_slice(&bytes[start..start + n]);
                }
            }
        }
    }

    fn v2_header(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIG.to_vec();
        h.push(0x20 | cmd);
        h.push(fam);
        h.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    #[test]
    fn version_1() {
        let line = b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            feed(line),
            Ok((Some("192.0.2.1:56324".parse().unwrap()), 42))
        );
        let v6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n";
        assert_eq!(
            feed(v6).unwrap().0,
            Some("[2001:db8::1]:1".parse().unwrap())
        );
        assert_eq!(feed(b"PROXY UNKNOWN\r\n").unwrap(), (None, 15));
        assert_eq!(feed(b"PROXY UNKNOWN whatever 1 2 3\r\n").unwrap().0, None);
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 +1 2\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n",
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n",
            b"PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n",
        ] {
            assert!(feed(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert_eq!(feed(&long), Err(Invalid("v1 header longer than 107 bytes")));
    }

    #[test]
    fn version_2() {
        let mut v4 = vec![192, 0, 2, 9, 10, 0, 0, 1];
        v4.extend_from_slice(&4711u16.to_be_bytes());
        v4.extend_from_slice(&443u16.to_be_bytes());
        v4.extend_from_slice(&[0x04, 0x00, 0x01, 0x00]); // a NOOP TLV
        let h = v2_header(1, 0x11, &v4);
        let with_request = [h.as_slice(), b"GET / HTTP/1.1\r\n"].concat();
        assert_eq!(
            feed(&with_request),
            Ok((Some("192.0.2.9:4711".parse().unwrap()), h.len()))
        );
        let mut v6 = "2001:db8::5".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        v6.extend_from_slice(&[0; 16]);
        v6.extend_from_slice(&[0, 80, 1, 187]);
        assert_eq!(
            feed(&v2_header(1, 0x21, &v6)).unwrap().0,
            Some("[2001:db8::5]:80".parse().unwrap())
        );
        assert_eq!(feed(&v2_header(0, 0x00, &[])).unwrap().0, None);
        assert!(feed(&v2_header(1, 0x11, &[1, 2, 3])).is_err());
        assert!(feed(&v2_header(1, 0x12, &v4)).is_err()); // UDP
        assert!(feed(&v2_header(2, 0x11, &v4)).is_err());
        let mut wrong_version = v2_header(1, 0x11, &v4);
        wrong_version[12] = 0x11;
        assert!(feed(&wrong_version).is_err());
        let huge = v2_header(1, 0x11, &vec![0; V2_MAX_BODY + 1]);
        assert!(feed(&huge).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any bytes, whole or fed as asked: an answer, never a panic, and
        /// never a header longer than the input or the bounds.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1200)) {
            let _ = parse(&bytes);
            if let Ok((_, len)) = feed(&bytes) {
                proptest::prop_assert!(len <= bytes.len() && len <= 16 + V2_MAX_BODY);
            }
        }

        /// Random bytes after a valid start: the same.
        #[test]
        fn random_tails_never_panic(
            v2 in proptest::prelude::any::<bool>(),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let start: &[u8] = if v2 { V2_SIG } else { b"PROXY TCP4 " };
            let bytes = [start, &tail].concat();
            let _ = parse(&bytes);
            let _ = feed(&bytes);
        }

        /// Every v1 and v2 header of a random address gives that address.
        #[test]
        fn headers_give_their_address(ip in proptest::prelude::any::<[u8; 4]>(), port in proptest::prelude::any::<u16>()) {
            let ip = Ipv4Addr::from(ip);
            let line = format!("PROXY TCP4 {ip} 127.0.0.1 {port} 80\r\n");
            let want = Some(SocketAddr::new(ip.into(), port));
            proptest::prop_assert_eq!(feed(line.as_bytes()).unwrap().0, want);
            let mut body = ip.octets().to_vec();
            body.extend_from_slice(&[127, 0, 0, 1]);
            body.extend_from_slice(&port.to_be_bytes());
            body.extend_from_slice(&[0, 80]);
            proptest::prop_assert_eq!(feed(&v2_header(1, 0x11, &body)).unwrap().0, want);
        }
    }
}
