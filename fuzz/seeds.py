#!/usr/bin/env python3
"""Regenerates the seed corpora of the fuzz targets from the test suite's own material.

    python3 fuzz/seeds.py            # writes fuzz/seeds/<target>/ (git-ignored)

Sources: every Rust string literal in tests/*.rs and src/**/*.rs (plain, byte and raw strings,
escapes decoded), sorted into SMTP command lines, DATA streams and whole messages, SPF/DMARC/DKIM
records and Authentication-Results headers, TOML config text and SASL blobs; plus
policies/*.toml and deploy/*.toml for the config parser. Each seed file is named by the SHA-1 of
its content, so a rerun is idempotent. Run the fuzzers with the seed directory as a second,
read-only corpus: `cargo fuzz run smtp_command corpus/smtp_command seeds/smtp_command`.
"""

import base64
import glob
import hashlib
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")
TARGETS = ["smtp_command", "data_receiver", "config_parse", "auth_records", "sasl", "message_text", "message_parse", "complaint_report"]

LITERAL = re.compile(r'(?<![A-Za-z0-9_])b?(?:r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)")', re.S)
VERBS = ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
         "AUTH", "STARTTLS", "BDAT", "ETRN", "TURN")


def unescape(body):
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        i += 2
        if n == "n":
            out += b"\n"
        elif n == "r":
            out += b"\r"
        elif n == "t":
            out += b"\t"
        elif n == "0":
            out += b"\0"
        elif n in "\\\"'":
            out += n.encode()
        elif n == "x":
            out.append(int(body[i:i + 2], 16))
            i += 2
        elif n == "u":
            end = body.index("}", i)
            out += chr(int(body[i + 1:end], 16)).encode()
            i = end + 1
        elif n == "\n":  # line continuation: skip the next line's indentation
            while i < len(body) and body[i] in " \t\n\r":
                i += 1
        else:
            out += ("\\" + n).encode()
    return bytes(out)


def literals():
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "**", "*.rs"), recursive=True))
    files += sorted(glob.glob(os.path.join(ROOT, "src", "**", "*.rs"), recursive=True))
    for path in files:
        text = open(path, encoding="utf-8").read()
        for m in LITERAL.finditer(text):
            if m.group(2) is not None:
                yield m.group(2).encode()
            else:
                try:
                    yield unescape(m.group(3))
                except (ValueError, IndexError):
                    continue


def filled(lit):
    """The literal, and if it is a format string, a copy with its `{...}` holes filled."""
    yield lit
    if b"{" in lit:
        yield re.sub(rb"\{[a-z_0-9]*(:[^}]*)?\}", b"x", lit).replace(b"{{", b"{").replace(b"}}", b"}")


def main():
    seeds = {t: set() for t in TARGETS}
    for raw in literals():
        for lit in filled(raw):
            lines = re.split(rb"\r?\n", lit)
            for line in lines:
                word = line.split(b" ", 1)[0].split(b":", 1)[0].upper()
                if word in (v.encode() for v in VERBS):
                    seeds["smtp_command"].add(line)
                    if word == b"AUTH":
                        for part in line.split(b" ")[2:]:
                            seeds["sasl"].add(part)
            if (re.fullmatch(rb"[A-Za-z0-9+/]{4,}={0,2}", lit) and len(lit) % 4 == 0
                    and re.search(rb"[A-Z]", lit) and re.search(rb"[a-z0-9]", lit)):
                seeds["sasl"].add(lit)
            if re.search(rb"v=(spf1|DMARC1|DKIM1)", lit):
                seeds["auth_records"].add(lit)
            if b"Authentication-Results" in lit and b"\n" in lit:
                seeds["auth_records"].add(lit)
            header_like = re.search(rb"(?im)^(From|To|Subject|Content-Type|Received|Date|MIME-Version):", lit)
            if header_like and b"\n" in lit:
                # A DATA stream starts after DATA; a message is what the stream carries.
                msg = lit.split(b"DATA\r\n", 1)[-1]
                body = msg.split(b"\r\n.\r\n", 1)[0]
                seeds["message_text"].add(body)
                seeds["message_parse"].add(body)
                if b"feedback-report" in body or b"message/rfc822" in body or b"rfc822-headers" in body:
                    seeds["complaint_report"].add(body)
                seeds["auth_records"].add(body)
                stream = body + b"\r\n.\r\n"
                for split in (0, len(stream) // 2, len(stream) - 2):
                    seeds["data_receiver"].add(struct.pack("<H", split) + stream)
            elif b"\r\n.\r\n" in lit or lit.endswith(b"\n.\n"):
                seeds["data_receiver"].add(struct.pack("<H", len(lit) // 2) + lit)
            if re.search(rb"(?m)^\s*\[\[?[a-z_.]+\]\]?\s*$", lit) and b"=" in lit:
                seeds["config_parse"].add(lit)
    for pattern in ("policies/*.toml", "deploy/*.toml", "deploy/**/*.toml"):
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            seeds["config_parse"].add(open(path, "rb").read())
    # SASL PLAIN and LOGIN responses of the usual shapes.
    for user, password in [(b"bob", b"secret"), (b"t1@acme.example", b"p\xc3\xa4ss"), (b"", b"")]:
        for blob in (b"\0" + user + b"\0" + password, user + b"\0" + user + b"\0" + password, user):
            seeds["sasl"].add(base64.b64encode(blob))
    seeds["sasl"].add(b"=")
    seeds["sasl"].add(b"*")

    for target, items in seeds.items():
        directory = os.path.join(OUT, target)
        os.makedirs(directory, exist_ok=True)
        for item in items:
            if target in ("config_parse", "sasl"):
                try:
                    item.decode("utf-8")
                except UnicodeDecodeError:
                    continue
            name = hashlib.sha1(item).hexdigest()
            with open(os.path.join(directory, name), "wb") as f:
                f.write(item)
        print(f"{target}: {len(os.listdir(directory))} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
