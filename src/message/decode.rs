//! Byte-level decoders the message module shares: charsets (through mail-parser, hence
//! encoding_rs), lenient base64 and RFC 2047 `Q`. mail-parser decodes whole MIME bodies itself;
//! these are for the pieces it does not hand out decoded the way a strict check needs them
//! (encoded-words read as the most lenient reader reads them, RFC 2231 parameter values, base64
//! inside archives and nested messages). Linear in their input; never panic.

/// Bytes in `charset` as text. Every charset mail-parser knows (the WHATWG/IANA labels,
/// multi-byte ones such as Shift_JIS, GB2312/GBK/GB18030, Big5, EUC-KR and ISO-2022-JP through
/// encoding_rs) is decoded by it; UTF-8 and unknown labels are read as UTF-8 when they are valid
/// UTF-8 and byte for byte as Latin-1 otherwise, which keeps ASCII (and so any `@` or `.exe`)
/// where it is. RFC 2231 language suffixes (`utf-8*en`) are ignored.
pub fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    let charset = charset.split('*').next().unwrap_or("").trim();
    let utf8 = charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8");
    if !utf8 && !charset.is_empty() {
        if let Some(decoder) = mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes()) {
            return decoder(bytes);
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) if utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Base64 as mail readers take it: characters outside the alphabet skipped, padding optional.
pub fn base64_lenient(input: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
    use base64::Engine as _;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let mut clean: Vec<u8> = input
        .iter()
        .copied()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    LENIENT.decode(&clean).ok()
}

pub(crate) fn q_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < input.len() => match hex_pair(input[i + 1], input[i + 2]) {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'='),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

pub(crate) fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}
