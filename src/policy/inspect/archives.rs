//! The file names inside an archive attachment, for the letter-bomb check: ZIP (central
//! directory and local file headers, both, since extractors differ in which they trust, and the
//! Unicode Path extra field), gzip (the original name, and what it compresses) and tar (ustar,
//! GNU long names, PAX paths), and archives inside archives, stored or compressed, down to
//! [`MAX_DEPTH`] levels. A nested name reads `inner.zip -> evil.exe`.
//!
//! Bounded per message ([`Budget`]): at most [`MAX_EXAMINED`] bytes of nested archives are
//! looked at, inflated or read as compressed input, together, so neither a decompression bomb
//! nor members that overlap one another (a ZIP is scanned by signature) can make the check
//! slow; at most [`MAX_ENTRIES`] names, each cut to its last [`MAX_NAME`] characters (the
//! extension is what is judged). An archive inside an archive that cannot be opened (encrypted,
//! or compressed with a method other than stored or deflate) is reported: what cannot be looked
//! into cannot be passed as clean. Only archives announced by name are reported at the depth
//! limit; an Office document (a ZIP by its bytes) deep inside is not looked into further.

use std::io::Read;

use crate::message::decode_charset;

/// Archive levels looked into (the attachment itself is level 1).
pub const MAX_DEPTH: usize = 4;
/// Bytes of nested archives examined at most per message, all attachments and levels together.
pub const MAX_EXAMINED: usize = 32 << 20;
/// Names listed at most per message.
pub const MAX_ENTRIES: usize = 10_000;
/// Characters kept of one name (its end: the extension is what is judged).
pub const MAX_NAME: usize = 1_024;

/// What looking into a message's archives may still cost.
#[derive(Debug, Default)]
pub struct Budget {
    examined: usize,
    entries: usize,
}

impl Budget {
    fn charge(&mut self, bytes: usize) -> Result<(), &'static str> {
        self.examined = self.examined.saturating_add(bytes);
        if self.examined > MAX_EXAMINED {
            return Err("archives whose contents exceed 32 MiB");
        }
        Ok(())
    }
}

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

/// A name cut to its last [`MAX_NAME`] characters.
fn kept(name: &str) -> std::borrow::Cow<'_, str> {
    match name.char_indices().rev().nth(MAX_NAME - 1) {
        Some((at, _)) => format!("...{}", &name[at..]).into(),
        None => name.into(),
    }
}

/// Whether a name announces a tar inside a gzip (`x.tgz`, `x.tar.gz`, or a stored name `x.tar`).
fn names_a_tar(name: &str) -> bool {
    let name = name.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    name.ends_with(".tgz") || name.ends_with(".tar.gz") || name.ends_with(".tar")
}

/// Every name inside the archive `data` of `kind` (called `name`), nested archives included,
/// charged to the message's `budget`.
pub fn names(data: &[u8], kind: Kind, name: &str, budget: &mut Budget) -> Result<Vec<String>, &'static str> {
    let mut lister = Lister {
        names: Vec::new(),
        budget,
    };
    lister.archive(data, kind, name, "", 1)?;
    Ok(lister.names)
}

struct Lister<'b> {
    names: Vec<String>,
    budget: &'b mut Budget,
}

impl Lister<'_> {
    fn push(&mut self, prefix: &str, name: &str) -> Result<(), &'static str> {
        if self.budget.entries >= MAX_ENTRIES {
            return Err("archives with more than 10000 entries");
        }
        self.budget.entries += 1;
        self.names.push(format!("{prefix}{}", kept(name)));
        Ok(())
    }

    fn archive(&mut self, data: &[u8], kind: Kind, name: &str, prefix: &str, depth: usize) -> Result<(), &'static str> {
        match kind {
            Kind::Zip => self.zip(data, prefix, depth),
            Kind::Gzip => self.gzip(data, name, prefix, depth),
            Kind::Tar => self.tar(data, prefix, depth),
        }
    }

    /// A member that is itself an archive (by name or magic) is listed one level down.
    fn nested(&mut self, name: &str, data: Member<'_>, prefix: &str, depth: usize) -> Result<(), &'static str> {
        let by_name = Kind::of_name(name);
        let bytes = match data {
            Member::Plain(bytes) => std::borrow::Cow::Borrowed(bytes),
            Member::Deflated(bytes) => {
                if by_name.is_none() && Kind::of(&self.inflate_member(bytes, 512)?).is_none() {
                    return Ok(());
                }
                std::borrow::Cow::Owned(self.inflate_member(bytes, usize::MAX)?)
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
            return match by_name {
                Some(_) => Err("archives nested more than 4 deep"),
                None => Ok(()),
            };
        }
        // Stored data is looked at again one level down (inflated data was charged as it came).
        if let std::borrow::Cow::Borrowed(stored) = &bytes {
            self.budget.charge(stored.len())?;
        }
        self.archive(&bytes, kind, name, &format!("{prefix}{} -> ", kept(name)), depth + 1)
    }

    /// Inflates a deflated ZIP member (at most `limit` bytes), charging the compressed input
    /// it read too: members may overlap, so their input is not otherwise bounded.
    fn inflate_member(&mut self, bytes: &[u8], limit: usize) -> Result<Vec<u8>, &'static str> {
        let mut decoder = flate2::read::DeflateDecoder::new(bytes);
        let out = self.inflate(&mut decoder, limit);
        self.budget
            .charge(usize::try_from(decoder.total_in()).unwrap_or(usize::MAX))?;
        out
    }

    /// Decompresses at most `limit` bytes, within the budget, and charges them; a stream that
    /// does not decompress is an error.
    fn inflate(&mut self, decoder: &mut dyn Read, limit: usize) -> Result<Vec<u8>, &'static str> {
        let room = MAX_EXAMINED.saturating_sub(self.budget.examined);
        let mut out = Vec::new();
        decoder
            .take(room.min(limit) as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| "a compressed archive member that does not decompress")?;
        if out.len() > limit {
            out.truncate(limit);
        } else if out.len() > room {
            return Err("archives whose contents exceed 32 MiB");
        }
        self.budget.charge(out.len())?;
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
            let (len_at, extra_len_at, flags_at, name_at) = if local {
                (at + 26, at + 28, at + 6, at + 30)
            } else {
                (at + 28, at + 30, at + 8, at + 46)
            };
            let (Some(len), Some(flags)) = (u16_at(data, len_at), u16_at(data, flags_at)) else {
                continue;
            };
            let Some(raw) = data.get(name_at..name_at + len) else {
                continue;
            };
            let name = decode_charset(if flags & 0x0800 != 0 { "utf-8" } else { "cp437" }, raw);
            self.push(prefix, &name)?;
            // The Unicode Path extra field (0x7075): the name extractors that read it show.
            let extra_at = name_at + len;
            let extra = data.get(extra_at..extra_at + u16_at(data, extra_len_at).unwrap_or(0));
            for unicode in unicode_paths(extra.unwrap_or_default()) {
                self.push(prefix, &unicode)?;
            }
            if local {
                let member = zip_member(data, at, flags, name_at + len);
                self.nested(&name, member, prefix, depth)?;
            }
        }
        Ok(())
    }

    fn gzip(&mut self, data: &[u8], name: &str, prefix: &str, depth: usize) -> Result<(), &'static str> {
        let head = self.inflate(&mut flate2::read::MultiGzDecoder::new(data), 512)?;
        let stored = flate2::read::GzDecoder::new(data)
            .header()
            .and_then(|h| h.filename())
            .map(|f| decode_charset("iso-8859-1", f));
        // A gzip file is one compressed file: its stored name is a name to judge too.
        if let Some(stored) = &stored {
            self.push(prefix, stored)?;
        }
        let tar_by_name = names_a_tar(name) || stored.as_deref().is_some_and(names_a_tar);
        let Some(kind) = Kind::of(&head).or(tar_by_name.then_some(Kind::Tar)) else {
            return Ok(());
        };
        if depth >= MAX_DEPTH {
            return Err("archives nested more than 4 deep");
        }
        let bytes = self.inflate(&mut flate2::read::MultiGzDecoder::new(data), usize::MAX)?;
        self.archive(&bytes, kind, stored.as_deref().unwrap_or(name), prefix, depth + 1)
    }

    fn tar(&mut self, data: &[u8], prefix: &str, depth: usize) -> Result<(), &'static str> {
        let mut at = 0;
        while let Some(header) = data.get(at..at + 512) {
            if header.iter().all(|b| *b == 0) {
                break;
            }
            let text = |raw: &[u8]| {
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                decode_charset("utf-8", &raw[..end])
            };
            let mut name = text(&header[0..100]);
            if &header[257..262] == b"ustar" {
                let before = text(&header[345..500]);
                if !before.is_empty() {
                    name = format!("{before}/{name}");
                }
            }
            let size = text(&header[124..136]);
            let size = usize::from_str_radix(size.trim(), 8).map_err(|_| "a tar entry with a broken size")?;
            let start = at + 512;
            let member = data.get(start..start.saturating_add(size)).unwrap_or_default();
            match header[156] {
                // GNU long name or link target, PAX extended headers: names an extractor shows.
                b'L' | b'K' => self.push(prefix, &text(member))?,
                b'x' | b'g' => {
                    for path in pax_paths(member) {
                        self.push(prefix, &path)?;
                    }
                }
                _ => {
                    self.push(prefix, &name)?;
                    self.nested(&name, Member::Plain(member), prefix, depth)?;
                }
            }
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

/// The data of the ZIP local file header at `at` (`name_end`: where its name ends).
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

/// The names in a ZIP extra field's Unicode Path records (id 0x7075: version, CRC, UTF-8 name).
fn unicode_paths(mut extra: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let (Some(id), Some(len)) = (u16_at(extra, 0), u16_at(extra, 2)) {
        let Some(body) = extra.get(4..4 + len) else {
            break;
        };
        if id == 0x7075 && body.len() > 5 {
            out.push(decode_charset("utf-8", &body[5..]));
        }
        extra = &extra[4 + len..];
    }
    out
}

/// The `path` and `linkpath` values of PAX extended-header records (`<len> <key>=<value>\n`).
fn pax_paths(records: &[u8]) -> Vec<String> {
    let text = decode_charset("utf-8", records);
    text.lines()
        .filter_map(|line| line.split_once(' ').map(|(_, record)| record))
        .filter_map(|record| record.split_once('='))
        .filter(|(key, _)| *key == "path" || *key == "linkpath")
        .map(|(_, value)| value.to_string())
        .collect()
}

fn u16_at(data: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_le_bytes([*data.get(at)?, *data.get(at + 1)?]) as usize)
}

fn u32_at(data: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

#[cfg(test)]
pub(crate) mod tests {
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

    fn list(data: &[u8], kind: Kind) -> Result<Vec<String>, &'static str> {
        names(data, kind, "attachment", &mut Budget::default())
    }

    fn all(data: &[u8]) -> Vec<String> {
        list(data, Kind::of(data).expect("an archive")).expect("lists")
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
        assert!(list(&encrypted, Kind::Zip).is_err());

        let mut level = zip(&[("x.exe", b"MZ", false)]);
        for i in 0..MAX_DEPTH {
            level = zip(&[(&format!("l{i}.zip"), &level, true)]);
        }
        assert_eq!(list(&level, Kind::Zip), Err("archives nested more than 4 deep"));

        let bomb = gzip("zeros.tar", &vec![0u8; MAX_EXAMINED + 1]);
        assert_eq!(list(&bomb, Kind::Gzip), Err("archives whose contents exceed 32 MiB"));
    }

    #[test]
    fn long_names_pax_paths_and_unicode_paths_are_judged_too() {
        // GNU long name, then a PAX path: both are names extractors show.
        let mut long = tar(&[("././@LongLink", b"very/long/evil.exe\0"), ("readme.txt", b"hi")]);
        long[156] = b'L';
        let names = all(&long);
        assert!(names.contains(&"very/long/evil.exe".to_string()), "{names:?}");
        let mut pax = tar(&[
            ("PaxHeader", b"30 path=payload/invoice.pdf.exe\n"),
            ("readme.txt", b"hi"),
        ]);
        pax[156] = b'x';
        assert!(all(&pax).contains(&"payload/invoice.pdf.exe".to_string()));
        // A v7 tar (no ustar magic) inside a .tgz is read as the name says.
        let mut v7 = tar(&[("run.exe", b"MZ")]);
        v7[257..263].fill(0);
        let names = list(&gzip("bundle", &v7), Kind::Gzip).unwrap();
        assert_eq!(names, ["bundle"], "without a tar name it is one compressed file");
        let names = names_of_named(&gzip("bundle", &v7), "bundle.tgz");
        assert!(names.contains(&"run.exe".to_string()), "{names:?}");
        // The ZIP Unicode Path extra field.
        let mut z = zip(&[("readme.txt", b"hi", false)]);
        let extra = [&[0x75, 0x70, 10, 0, 1, 0, 0, 0, 0][..], b"a.exe"].concat();
        z.splice(28..30, (extra.len() as u16).to_le_bytes());
        z.splice(30 + 10..30 + 10, extra);
        assert!(all(&z).contains(&"a.exe".to_string()), "{:?}", all(&z));
        // A name is cut to its end.
        let name = format!("{}.exe", "a".repeat(5_000));
        let listed = all(&zip(&[(&name, b"MZ", false)]));
        assert!(listed[0].starts_with("...") && listed[0].ends_with(".exe") && listed[0].len() < 1_100);
    }

    fn names_of_named(data: &[u8], name: &str) -> Vec<String> {
        names(data, Kind::of(data).unwrap(), name, &mut Budget::default()).unwrap()
    }

    #[test]
    fn the_budget_bounds_overlapping_members_and_big_files_are_not_inflated() {
        // Hundreds of local headers whose data all point at one large stored region.
        let region = vec![b'x'; 1 << 20];
        let mut overlapping = Vec::new();
        for i in 0..200 {
            let name = format!("m{i}.zip");
            overlapping.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00");
            overlapping.extend_from_slice(&[0; 8]);
            overlapping.extend_from_slice(&(region.len() as u32 + 4_000).to_le_bytes());
            overlapping.extend_from_slice(&(region.len() as u32).to_le_bytes());
            overlapping.extend_from_slice(&(name.len() as u16).to_le_bytes());
            overlapping.extend_from_slice(&[0, 0]);
            overlapping.extend_from_slice(name.as_bytes());
        }
        overlapping.extend_from_slice(&region);
        let started = std::time::Instant::now();
        assert!(list(&overlapping, Kind::Zip).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        // A large compressed log is one file, not an archive: its size does not matter.
        let log = gzip("server.log", &vec![b'a'; MAX_EXAMINED * 2]);
        assert_eq!(list(&log, Kind::Gzip), Ok(vec!["server.log".to_string()]));
        // One budget for the whole message: a second bomb-sized attachment exceeds it.
        let half = gzip("half.tar", &tar(&[("a.txt", &vec![0u8; MAX_EXAMINED / 2 + 1024])]));
        let mut budget = Budget::default();
        assert!(names(&half, Kind::Gzip, "a.tgz", &mut budget).is_ok());
        assert!(names(&half, Kind::Gzip, "b.tgz", &mut budget).is_err());
    }

    #[test]
    fn an_office_document_deep_inside_is_not_an_error() {
        let docx = zip(&[("word/document.xml", b"<w/>", true)]);
        let mut level = zip(&[("report.docx", &docx, true)]);
        for i in 0..MAX_DEPTH - 1 {
            level = zip(&[(&format!("l{i}.zip"), &level, true)]);
        }
        assert!(list(&level, Kind::Zip).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        let inner = zip(&[("evil.scr", b"MZ", true)]);
        let outer = zip(&[("more.zip", &inner, true)]);
        for cut in 0..outer.len() {
            let _ = list(&outer[..cut], Kind::Zip);
        }
        let tgz = gzip("b.tar", &tar(&[("a", b"a")]));
        for cut in 0..tgz.len() {
            let _ = list(&tgz[..cut], Kind::Gzip);
        }
        let _ = list(&[0xff; 1024], Kind::Tar);
    }
}
