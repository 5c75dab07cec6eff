//! MPEG-2 transport stream packets (ISO/IEC 13818-1): 188 bytes each,
//! starting with the sync byte 0x47.
//!
//! ```text
//! 0x47 | TEI PUSI prio PID(13) | scrambling(2) adaptation_field_control(2) CC(4)
//! adaptation field (control 2 or 3): length(8) | flags(8): PCR_flag = 0x10
//!   PCR: base(33) reserved(6) extension(9), value = base × 300 + extension
//!   in 27 MHz ticks
//! ```

/// Bytes in a packet.
pub(crate) const PACKET: usize = 188;

/// The first byte of every packet.
pub(crate) const SYNC: u8 = 0x47;

/// The program clock reference a packet carries, in 27 MHz ticks.
pub(crate) fn pcr(packet: &[u8]) -> Option<u64> {
    let &[_, b1, _, b3, af_len, flags, p0, p1, p2, p3, p4, p5, ..] = packet else {
        return None;
    };
    // A packet flagged in error is not trusted; control 2 or 3 means an
    // adaptation field; it must hold the flags and the 6 PCR bytes.
    if b1 & 0x80 != 0 || b3 & 0x20 == 0 || af_len < 7 || flags & 0x10 == 0 {
        return None;
    }
    let base = (u64::from(p0) << 25)
        | (u64::from(p1) << 17)
        | (u64::from(p2) << 9)
        | (u64::from(p3) << 1)
        | (u64::from(p4) >> 7);
    let ext = (u64::from(p4 & 1) << 8) | u64::from(p5);
    Some(base * 300 + ext)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A packet of `pid` with continuity counter `cc`, carrying `pcr`
    /// (27 MHz ticks) in an adaptation field when given; the payload is free
    /// of 0x47.
    pub(crate) fn packet(pid: u16, cc: u8, pcr: Option<u64>) -> Vec<u8> {
        let mut p = vec![SYNC, ((pid >> 8) as u8) & 0x1F, pid as u8];
        match pcr {
            Some(pcr) => {
                p.push(0x30 | (cc & 0x0F));
                let (base, ext) = (pcr / 300, pcr % 300);
                p.extend_from_slice(&[
                    7,
                    0x10,
                    (base >> 25) as u8,
                    (base >> 17) as u8,
                    (base >> 9) as u8,
                    (base >> 1) as u8,
                    (((base & 1) as u8) << 7) | 0x7E | ((ext >> 8) as u8),
                    ext as u8,
                ]);
            }
            None => p.push(0x10 | (cc & 0x0F)),
        }
        while p.len() < PACKET {
            p.push((p.len() % 61) as u8);
        }
        p
    }

    #[test]
    fn reads_pcr() {
        for v in [0, 1, 299, 300, 27_000_000, (1 << 33) * 300 - 1] {
            assert_eq!(pcr(&packet(256, 0, Some(v))), Some(v), "{v}");
        }
        assert_eq!(pcr(&packet(256, 0, None)), None);
    }

    #[test]
    fn no_pcr_without_flag_or_room() {
        let mut p = packet(256, 0, Some(1234));
        p[5] = 0x00; // PCR_flag clear
        assert_eq!(pcr(&p), None);
        let mut p = packet(256, 0, Some(1234));
        p[4] = 1; // adaptation field too short
        assert_eq!(pcr(&p), None);
        let mut p = packet(256, 0, Some(1234));
        p[3] = 0x10; // payload only
        assert_eq!(pcr(&p), None);
        let mut p = packet(256, 0, Some(1234));
        p[3] = 0x20; // adaptation field only
        assert_eq!(pcr(&p), Some(1234));
        p[1] |= 0x80; // transport error
        assert_eq!(pcr(&p), None);
        assert_eq!(pcr(&p[..11]), None);
    }
}
