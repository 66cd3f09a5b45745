//! The file names inside an archive attachment, for the letter-bomb check: ZIP (central
//! directory and local file headers, both, since extractors differ in which they trust), gzip
//! (the original name, and what it compresses) and tar, and archives inside archives, stored or
//! compressed, down to [`MAX_DEPTH`] levels. A nested name reads `inner.zip -> evil.exe`.
//!
//! Bounded: at most [`MAX_EXPANDED`] bytes are decompressed per attachment (a decompression bomb
//! stops there and is reported), at most [`MAX_ENTRIES`] names are listed. An archive inside an
//! archive that cannot be opened (encrypted, or a compression method other than stored or
//! deflate) is reported too: what cannot be looked into cannot be passed as clean.

use std::io::Read;

use crate::policy::headers::decode_charset;

/// Archive levels looked into (the attachment itself is level 1).
pub const MAX_DEPTH: usize = 3;
/// Bytes decompressed at most for one attachment, all levels together.
pub const MAX_EXPANDED: usize = 32 << 20;
/// Names listed at most for one attachment.
pub const MAX_ENTRIES: usize = 10_000;

/// What kind of archive `data` is, by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Gzip,
    Tar,
}

impl Kind {
    pub fn of(data: &[u8]) -> Option<Kind> {
        if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
            Some(Kind::Zip)
        } else if data.starts_with(&[0x1f, 0x8b]) {
            Some(Kind::Gzip)
        } else if data.get(257..262) == Some(b"ustar") {
            Some(Kind::Tar)
        } else {
            None
        }
    }

    /// The kind a file name announces (`.zip`, `.gz`/`.tgz`, `.tar`), so a named archive with
    /// a damaged start is still looked into (and reported when it cannot be).
    pub fn of_name(name: &str) -> Option<Kind> {
        let name = name.trim_end_matches(['.', ' ']).to_ascii_lowercase();
        if name.ends_with(".zip") {
            Some(Kind::Zip)
        } else if name.ends_with(".gz") || name.ends_with(".tgz") {
            Some(Kind::Gzip)
        } else if name.ends_with(".tar") {
            Some(Kind::Tar)
        } else {
            None
        }
    }
}

/// Every name inside the archive `data` of `kind`, nested archives included.
pub fn names(data: &[u8], kind: Kind) -> Result<Vec<String>, &'static str> {
    let mut lister = Lister {
        names: Vec::new(),
        expanded: 0,
    };
    lister.archive(data, kind, "", 1)?;
    Ok(lister.names)
}

struct Lister {
    names: Vec<String>,
    expanded: usize,
}

impl Lister {
    fn push(&mut self, prefix: &str, name: String) -> Result<(), &'static str> {
        if self.names.len() >= MAX_ENTRIES {
            return Err("an archive with more than 10000 entries");
        }
        self.names.push(format!("{prefix}{name}"));
        Ok(())
    }

    fn archive(&mut self, data: &[u8], kind: Kind, prefix: &str, depth: usize) -> Result<(), &'static str> {
        match kind {
            Kind::Zip => self.zip(data, prefix, depth),
            Kind::Gzip => self.gzip(data, prefix, depth),
            Kind::Tar => self.tar(data, prefix, depth),
        }
    }

    /// A member that is itself an archive (by name or magic) is listed one level down.
    fn nested(&mut self, name: &str, data: Member<'_>, prefix: &str, depth: usize) -> Result<(), &'static str> {
        let by_name = Kind::of_name(name);
        let bytes = match data {
            Member::Plain(bytes) => std::borrow::Cow::Borrowed(bytes),
            Member::Deflated(bytes) => {
                if by_name.is_none() && !self.deflated_starts_like_an_archive(bytes) {
                    return Ok(());
                }
                std::borrow::Cow::Owned(self.inflate(flate2::read::DeflateDecoder::new(bytes))?)
            }
            Member::Unreadable(why) => {
                return match by_name {
                    Some(_) => Err(why),
                    None => Ok(()),
                };
            }
        };
        let Some(kind) = Kind::of(&bytes).or(by_name) else {
            return Ok(());
        };
        if depth >= MAX_DEPTH {
            return Err("archives nested more than 3 deep");
        }
        self.archive(&bytes, kind, &format!("{prefix}{name} -> "), depth + 1)
    }

    /// Whether a deflated member's first bytes are an archive's magic (members not named as
    /// archives are only inflated this far).
    fn deflated_starts_like_an_archive(&self, bytes: &[u8]) -> bool {
        let mut head = [0u8; 262];
        let mut decoder = flate2::read::DeflateDecoder::new(bytes);
        let mut filled = 0;
        while filled < head.len() {
            match decoder.read(&mut head[filled..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => filled += n,
            }
        }
        Kind::of(&head[..filled]).is_some()
    }

    /// Decompresses within what is left of the budget.
    fn inflate(&mut self, decoder: impl Read) -> Result<Vec<u8>, &'static str> {
        let room = MAX_EXPANDED.saturating_sub(self.expanded);
        let mut out = Vec::new();
        decoder
            .take(room as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| "a compressed archive member that does not decompress")?;
        if out.len() > room {
            return Err("an archive that expands past 32 MiB");
        }
        self.expanded += out.len();
        Ok(out)
    }

    fn zip(&mut self, data: &[u8], prefix: &str, depth: usize) -> Result<(), &'static str> {
        let mut i = 0;
        while i + 4 <= data.len() {
            let local = match &data[i..i + 4] {
                b"PK\x01\x02" => false,
                b"PK\x03\x04" => true,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let at = i;
            i += 4;
            let (len_at, flags_at, name_at) = if local {
                (at + 26, at + 6, at + 30)
            } else {
                (at + 28, at + 8, at + 46)
            };
            let (Some(len), Some(flags)) = (u16_at(data, len_at), u16_at(data, flags_at)) else {
                continue;
            };
            let Some(raw) = data.get(name_at..name_at + len) else {
                continue;
            };
            let name = decode_charset(if flags & 0x0800 != 0 { "utf-8" } else { "cp437" }, raw);
            self.push(prefix, name.clone())?;
            if local {
                let member = zip_member(data, at, flags, name_at + len);
                self.nested(&name, member, prefix, depth)?;
            }
        }
        Ok(())
    }

    fn gzip(&mut self, data: &[u8], prefix: &str, depth: usize) -> Result<(), &'static str> {
        let mut decoder = flate2::read::MultiGzDecoder::new(data);
        let mut inner = decoder
            .header()
            .and_then(|h| h.filename())
            .map(|f| decode_charset("iso-8859-1", f));
        let bytes = self.inflate(&mut decoder)?;
        if inner.is_none() {
            inner = decoder
                .header()
                .and_then(|h| h.filename())
                .map(|f| decode_charset("iso-8859-1", f));
        }
        // A gzip file is one compressed file: its name (when stored) is a name to judge too.
        if let Some(name) = &inner {
            self.push(prefix, name.clone())?;
        }
        match Kind::of(&bytes) {
            Some(kind) if depth < MAX_DEPTH => self.archive(&bytes, kind, prefix, depth + 1),
            Some(_) => Err("archives nested more than 3 deep"),
            None => Ok(()),
        }
    }

    fn tar(&mut self, data: &[u8], prefix: &str, depth: usize) -> Result<(), &'static str> {
        let mut at = 0;
        while let Some(header) = data.get(at..at + 512) {
            if header.iter().all(|b| *b == 0) {
                break;
            }
            let field = |range: std::ops::Range<usize>| {
                let raw = &header[range];
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                decode_charset("utf-8", &raw[..end])
            };
            let mut name = field(0..100);
            if &header[257..262] == b"ustar" {
                let before = field(345..500);
                if !before.is_empty() {
                    name = format!("{before}/{name}");
                }
            }
            let size = field(124..136);
            let size = usize::from_str_radix(size.trim(), 8).map_err(|_| "a tar entry with a broken size")?;
            self.push(prefix, name.clone())?;
            let start = at + 512;
            let member = data.get(start..start.saturating_add(size)).unwrap_or_default();
            self.nested(&name, Member::Plain(member), prefix, depth)?;
            at = start.saturating_add(size.div_ceil(512).saturating_mul(512));
        }
        Ok(())
    }
}

/// A member's data as stored in its archive.
enum Member<'a> {
    Plain(&'a [u8]),
    Deflated(&'a [u8]),
    Unreadable(&'static str),
}

/// The data of the ZIP local file header at `at` (`data_at`: where its name ends).
fn zip_member(data: &[u8], at: usize, flags: usize, name_end: usize) -> Member<'_> {
    let (Some(method), Some(extra)) = (u16_at(data, at + 8), u16_at(data, at + 28)) else {
        return Member::Unreadable("a ZIP entry cut short");
    };
    if flags & 0x0001 != 0 {
        return Member::Unreadable("an encrypted archive inside an archive");
    }
    let start = name_end + extra;
    let size = u32_at(data, at + 18).unwrap_or(0);
    // Size 0 with a data descriptor (bit 3): the size comes after the data; read to the end
    // (a deflate stream ends itself, a stored member is found by its own signatures).
    let end = if size == 0 && flags & 0x0008 != 0 {
        data.len()
    } else {
        start.saturating_add(size).min(data.len())
    };
    let body = data.get(start..end).unwrap_or_default();
    match method {
        0 => Member::Plain(body),
        8 => Member::Deflated(body),
        _ => Member::Unreadable("an archive inside an archive compressed with an unknown method"),
    }
}

fn u16_at(data: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes([*data.get(at)?, *data.get(at + 1)?]) as usize)
}

fn u32_at(data: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A ZIP of (name, data, deflate?) members with a central directory.
    pub(crate) fn zip(members: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, body, deflate) in members {
            let stored = if *deflate {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(body).unwrap();
                e.finish().unwrap()
            } else {
                body.to_vec()
            };
            let method: u16 = if *deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00");
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&stored);
            central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00");
            central.extend_from_slice(&method.to_le_bytes());
            central.extend_from_slice(&[0; 8]);
            central.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            central.extend_from_slice(&(body.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    pub(crate) fn gzip(name: &str, body: &[u8]) -> Vec<u8> {
        let mut e = flate2::GzBuilder::new()
            .filename(name)
            .write(Vec::new(), flate2::Compression::default());
        e.write_all(body).unwrap();
        e.finish().unwrap()
    }

    pub(crate) fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, body) in members {
            let mut header = [0u8; 512];
            header[..name.len()].copy_from_slice(name.as_bytes());
            let size = format!("{:011o}\0", body.len());
            header[124..136].copy_from_slice(size.as_bytes());
            header[156] = b'0';
            header[257..263].copy_from_slice(b"ustar\0");
            out.extend_from_slice(&header);
            out.extend_from_slice(body);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0; 1024]);
        out
    }

    fn all(data: &[u8]) -> Vec<String> {
        names(data, Kind::of(data).expect("an archive")).expect("lists")
    }

    #[test]
    fn nested_archives_are_listed_with_their_path() {
        let inner = zip(&[("evil.scr", b"MZ", true)]);
        let outer = zip(&[("readme.txt", b"hello", true), ("more.zip", &inner, true)]);
        let names = all(&outer);
        assert!(names.contains(&"more.zip -> evil.scr".to_string()), "{names:?}");

        let tgz = gzip("bundle.tar", &tar(&[("docs/a.txt", b"a"), ("run.exe", b"MZ")]));
        let names = all(&tgz);
        assert!(
            names.contains(&"bundle.tar".to_string()) && names.contains(&"run.exe".to_string()),
            "{names:?}"
        );

        // A gzip inside a ZIP, unnamed as an archive but found by its magic once inflated.
        let gz = gzip("payload.exe", b"MZ");
        let names = all(&zip(&[("data.bin", &gz, true)]));
        assert!(names.contains(&"data.bin -> payload.exe".to_string()), "{names:?}");
    }

    #[test]
    fn what_cannot_be_opened_or_is_too_large_is_an_error() {
        let mut encrypted = zip(&[("inner.zip", b"PK\x03\x04garbage", false)]);
        encrypted[6] |= 1; // the local header's "encrypted" flag
        assert!(names(&encrypted, Kind::Zip).is_err());

        let mut level = zip(&[("x.exe", b"MZ", false)]);
        for i in 0..MAX_DEPTH {
            level = zip(&[(&format!("l{i}.zip"), &level, true)]);
        }
        assert_eq!(names(&level, Kind::Zip), Err("archives nested more than 3 deep"));

        let bomb = gzip("zeros.tar", &vec![0u8; MAX_EXPANDED + 1]);
        assert_eq!(names(&bomb, Kind::Gzip), Err("an archive that expands past 32 MiB"));
    }

    #[test]
    fn garbage_never_panics() {
        let inner = zip(&[("evil.scr", b"MZ", true)]);
        let outer = zip(&[("more.zip", &inner, true)]);
        for cut in 0..outer.len() {
            let _ = names(&outer[..cut], Kind::Zip);
        }
        let tgz = gzip("b.tar", &tar(&[("a", b"a")]));
        for cut in 0..tgz.len() {
            let _ = names(&tgz[..cut], Kind::Gzip);
        }
        let _ = names(&[0xff; 1024], Kind::Tar);
    }
}
