//! Fast byte searches for the hot path: every incoming line is scanned for its newline and
//! for the markers of internal messages, so a 64 KiB message must not cost a byte-at-a-time
//! loop. Eight bytes at a time ("SWAR"), in safe code.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The index of the first `byte` in `haystack`, if any.
pub fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    let pattern = ONES.wrapping_mul(byte as u64);
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ pattern;
        // A zero byte in `word` is a match; this sets its high bit (and maybe later ones).
        let found = word.wrapping_sub(ONES) & !word & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == byte)
        .map(|i| offset + i)
}

/// Whether `needle` (non-empty) occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(i) = find_byte(&haystack[from..], first) {
        let at = from + i;
        if haystack[at + 1..].starts_with(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    #[test]
    fn agrees_with_the_obvious_search() {
        let mut rng = Rng(0x005E_ED0F_BA5E);
        for _ in 0..20_000 {
            let len = rng.below(70) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|_| b"ab\n\"N"[rng.below(5) as usize])
                .collect();
            let byte = rng.pick(b"ab\n\"Nz");
            assert_eq!(find_byte(&hay, byte), hay.iter().position(|&b| b == byte));
            let needle: &[u8] = rng.pick(&[&b"\"N"[..], b"a\n", b"NN", b"z", b"ab\"", b"\n"]);
            assert_eq!(
                contains(&hay, needle),
                hay.windows(needle.len()).any(|w| w == needle)
            );
        }
    }

    #[test]
    fn high_bytes_do_not_confuse_it() {
        let hay = [0xffu8, 0x8a, 0x0b, 0x09, 0x80, 0x0a, 0xff, 0xff, 0xff, 0x0a];
        assert_eq!(find_byte(&hay, b'\n'), Some(5));
        assert_eq!(find_byte(&hay[6..], b'\n'), Some(3));
        assert_eq!(find_byte(&[0x8a; 16], b'\n'), None);
    }
}
