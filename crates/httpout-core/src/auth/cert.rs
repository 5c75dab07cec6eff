//! Client certificates (`--ca`): the user a verified certificate names.
//!
//! The user is the subject's common name (CN), when the subject has
//! exactly one and it is a valid user name ([`valid_name`]: no spaces,
//! `:`, `,` or `#`, at most 64 characters, not starting with `$`). A
//! certificate without one names nobody: its connection is served as an
//! anonymous one.
//!
//! The certificate has been verified by rustls (webpki) before it gets
//! here, so its DER is well formed; this reads only the few fields on the
//! way to the subject, and gives up (no user) on anything unexpected.

use rustls_pki_types::CertificateDer;

use super::users::valid_name;

/// The user a verified client certificate names. The engine puts it in the
/// extensions of each request of the connection, where
/// [`Access::check`](super::Access::check) finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The subject's common name.
    pub user: String,
}

impl ClientCert {
    /// The user `cert` (a verified end-entity certificate) names: its
    /// subject's only CN, if it is a valid user name.
    pub fn of(cert: &CertificateDer<'_>) -> Option<Self> {
        let cn = common_name(cert.as_ref())?;
        valid_name(&cn).then_some(Self { user: cn })
    }
}

/// DER tags read here.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const VERSION: u8 = 0xa0;
/// The string types a CN is written in that are UTF-8 as they are:
/// UTF8String, PrintableString, IA5String.
const TEXT: [u8; 3] = [0x0c, 0x13, 0x16];
/// id-at-commonName, 2.5.4.3.
const CN: &[u8] = &[0x55, 0x04, 0x03];

/// One DER element: its tag, its content and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The content of the element at the start of `der` if it has `tag`, and
/// what follows it.
fn expect(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, content, rest) = element(der)?;
    (t == tag).then_some((content, rest))
}

/// The subject's common name, when it has exactly one in a text type.
fn common_name(der: &[u8]) -> Option<String> {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    // [0] version (optional), serialNumber, signature, issuer, validity, subject
    let mut rest = match expect(tbs, VERSION) {
        Some((_, after)) => after,
        None => tbs,
    };
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (mut rdns, _) = expect(rest, SEQUENCE)?;
    let mut found = None;
    while !rdns.is_empty() {
        let (set, after) = expect(rdns, SET)?;
        rdns = after;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (attribute, after) = expect(attributes, SEQUENCE)?;
            attributes = after;
            let (oid, value) = expect(attribute, OID)?;
            if oid != CN {
                continue;
            }
            let (tag, text, _) = element(value)?;
            if found.is_some() || !TEXT.contains(&tag) {
                return None;
            }
            found = Some(String::from_utf8(text.to_vec()).ok()?);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert(subject: &[(DnType, &str)]) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(vec!["client.example".into()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (t, v) in subject {
            params.distinguished_name.push(t.clone(), *v);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn the_subjects_common_name_is_the_user() {
        let c = cert(&[
            (DnType::OrganizationName, "Example, Inc."),
            (DnType::CommonName, "encoder-1"),
            (DnType::CountryName, "FR"),
        ]);
        assert_eq!(
            ClientCert::of(&c),
            Some(ClientCert {
                user: "encoder-1".into()
            })
        );
    }

    #[test]
    fn no_user_without_one_valid_common_name() {
        assert_eq!(
            ClientCert::of(&cert(&[(DnType::OrganizationName, "O")])),
            None
        );
        assert_eq!(
            ClientCert::of(&cert(&[(DnType::CommonName, "two words")])),
            None
        );
        assert_eq!(ClientCert::of(&cert(&[(DnType::CommonName, "$ALL")])), None);
        assert_eq!(
            ClientCert::of(&CertificateDer::from(vec![0x30, 0x03, 1])),
            None
        );
        assert_eq!(ClientCert::of(&CertificateDer::from(Vec::new())), None);
    }

    #[test]
    fn long_lengths_and_truncation() {
        let c = cert(&[(DnType::CommonName, "alice")]);
        let der = c.as_ref();
        assert_eq!(common_name(der).as_deref(), Some("alice"));
        for cut in [1, 2, 10, der.len() / 2, der.len() - 1] {
            // A cut certificate's outer length says more than there is.
            assert_eq!(common_name(&der[..cut]), None, "cut at {cut}");
        }
    }
}
