//! The authentication stage of DATA, run after the other message checks passed: what will the
//! receiver's SPF, DKIM and DMARC checks say about this message as we relay it, and does the
//! profile let it go? It reads the message as `cleanup` will queue it (the [`Draft`]: forged
//! fields removed, the gateway's fields added), chooses the key, signs what the draft says is
//! signed, verifies the result with our signature on it, and writes our Authentication-Results.
//! `cleanup` puts the signature and the results on the message ([`Draft::seal`]); this stage
//! never edits it.
//!
//! Replies: a failure as the tenant's domain is `550 5.7.1` naming the rule and what to publish;
//! DNS trouble is `451 4.7.24` for SPF and `451 4.4.3` for DKIM and DMARC.

use mail_auth::dmarc::Policy;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DkimResult, DmarcResult, SpfOutput, SpfResult};

use super::cleanup::Draft;
use super::profile::{AuthAction, Profile};
use super::{DataContext, Rule, Verdict};
use crate::auth::{Authenticator, SpfPrediction};
use crate::dns::cache::TtlCache;
use crate::message::{parse_mailboxes, Headers};
use crate::wire::reply::Reply;
use crate::wire::Path;

/// The stage's outcome: a verdict naming its rule, and for a message it lets through the
/// fields for [`Draft::seal`] (each empty or ending in CRLF).
pub struct Outcome {
    pub rule: Rule,
    pub verdict: Verdict,
    /// Our DKIM-Signature, over [`Draft::signed`].
    pub signature: String,
    /// Our Authentication-Results.
    pub results: String,
}

impl Outcome {
    fn refuse(rule: Rule, code: u16, status: &'static str, text: String) -> Outcome {
        let reply = Reply::refusal(code, status, rule, text);
        let verdict = if code >= 500 {
            Verdict::Reject(reply)
        } else {
            Verdict::Defer(reply)
        };
        Outcome {
            rule,
            verdict,
            signature: String::new(),
            results: String::new(),
        }
    }
}

/// How long an outcome for unsigned mail is reused: as long as the authenticator reuses the SPF
/// prediction it is built on.
const REUSE: std::time::Duration = std::time::Duration::from_secs(5);
/// Outcomes kept at most.
const OUTCOMES: usize = 16_384;

/// Outcomes of this stage for unsigned mail, reused for a few seconds. For a message without a
/// DKIM-Signature field, under a profile that signs nothing, the outcome depends only on the
/// profile, the envelope sender and the From domain: the sender's SPF prediction, the From
/// domain's DMARC verdict with no DKIM results, and the Authentication-Results built from them.
/// The next such message from the same sender reuses it instead of evaluating and formatting it
/// again. Only passes are kept: refusals and temporary failures are evaluated again with the next
/// message. Outcomes are kept per profile generation, so a reload takes effect at once. An
/// outcome may rest on an SPF prediction that was itself reused (`Authenticator::spf`), so what
/// it says may be up to twice [`REUSE`] old.
pub struct UnsignedOutcomes(TtlCache<String, (Rule, Verdict, String)>);

impl Default for UnsignedOutcomes {
    fn default() -> UnsignedOutcomes {
        UnsignedOutcomes(TtlCache::new(OUTCOMES))
    }
}

/// Runs the stage for `ctx` under `profile`, which is the profile `name` of the engine's profile
/// generation `generation`; `unsigned` keeps outcomes to reuse.
/// `headers` are the message's fields as the other checks read them (parsed once per message;
/// what `cleanup` removes does not change the From or DKIM-Signature fields); `draft` is the
/// message as it will be queued, before the signature.
pub async fn authenticate(
    auth: &Authenticator,
    profile: &Profile,
    (generation, name): (u64, &str),
    unsigned: &UnsignedOutcomes,
    ctx: &DataContext<'_>,
    headers: &Headers,
    draft: &Draft<'_>,
) -> Outcome {
    if !profile.spf.enabled && !profile.dkim.sign && !profile.dkim.verify && !profile.dmarc.enabled {
        // Nothing to predict or sign: no Authentication-Results either.
        return Outcome {
            rule: Rule::Authentication,
            verdict: Verdict::Continue,
            signature: String::new(),
            results: String::new(),
        };
    }
    let sender = match ctx.sender {
        Path::Mailbox { local, domain } => Some((format!("{local}@{domain}"), domain.to_ascii_lowercase())),
        Path::Null => None,
    };
    // Keyed by the From fields as they are (what mail-auth reads for DMARC), not by our reading.
    // Only where our header parse saw every field mail-auth will read.
    let whole = !headers.truncated() && headers.malformed().is_none();
    let memo = (whole && !profile.dkim.sign && headers.count("dkim-signature") == 0).then(|| {
        let address = sender.as_ref().map(|(a, _)| a.as_str()).unwrap_or("");
        let mut key = format!("{generation}\n{name}\n{address}");
        for from in headers.all("from") {
            key.push('\n');
            key.push_str(from);
        }
        key
    });
    if let Some((rule, verdict, results)) = memo.as_deref().and_then(|key| unsigned.0.get(key)) {
        return Outcome {
            rule,
            verdict,
            signature: String::new(),
            results,
        };
    }
    let outcome = evaluate(auth, profile, ctx, headers, draft, sender).await;
    if let Some(key) = memo {
        // Only passes: a refusal may come from a DNS failure mail-auth folds into its result
        // (an organizational-domain lookup that failed makes alignment fail), so it is
        // evaluated again; temporary failures are too.
        if outcome.verdict == Verdict::Continue {
            let kept = (outcome.rule, outcome.verdict.clone(), outcome.results.clone());
            unsigned.0.insert(key, kept, std::time::Instant::now() + REUSE);
        }
    }
    outcome
}

/// The stage itself, on the draft `cleanup` made, for the envelope sender (address, lower-cased
/// domain).
async fn evaluate(
    auth: &Authenticator,
    profile: &Profile,
    ctx: &DataContext<'_>,
    headers: &Headers,
    draft: &Draft<'_>,
    sender: Option<(String, String)>,
) -> Outcome {
    let authserv_id = profile.headers.authserv_id();
    let from_domain = single_from_domain(headers);

    // SPF, as the receiver will evaluate it for our egress addresses.
    let spf = match (&sender, profile.spf.enabled) {
        (Some((address, _)), true) => auth.spf(address).await,
        _ => None,
    };
    if let Some(prediction) = &spf {
        if let Some(outcome) = judge_spf(auth, profile, prediction) {
            return outcome;
        }
    }

    // Sign the message as it will leave (`cleanup` says what that is).
    let key = match (&from_domain, profile.dkim.sign) {
        // Only for a From domain the tenant owns as the profile counts it; a key of a parent
        // domain then signs its subdomains.
        (Some(domain), true) if ctx.tenant.owns(domain, profile.sender_domain.include_subdomains) => {
            auth.signing_key(domain, |d| ctx.tenant.owns(d, true)).await
        }
        _ => None,
    };
    let mut signature = String::new();
    let mut signature_b = Vec::new();
    if let Some(key) = &key {
        match auth.sign(key, &draft.signed()) {
            Ok((header, b)) => (signature, signature_b) = (header, b),
            Err(error) => {
                tracing::error!(domain = %key.domain, selector = %key.selector, %error, "DKIM signing failed");
                return Outcome::refuse(
                    Rule::DkimSign,
                    451,
                    "4.3.0",
                    "Temporary failure signing the message, please try again later".into(),
                );
            }
        }
    }

    // Verify every signature on the outgoing message, ours included.
    let outgoing = draft.outgoing(&signature);
    let Some(parsed) = AuthenticatedMessage::parse(&outgoing) else {
        return Outcome::refuse(
            Rule::DkimUnparsable,
            550,
            "5.6.0",
            "The message header cannot be parsed for authentication".into(),
        );
    };
    let dkim = if profile.dkim.verify || profile.dmarc.enabled || key.is_some() {
        auth.verify_dkim(&parsed).await
    } else {
        Vec::new()
    };
    let ours = |output: &mail_auth::DkimOutput<'_>| {
        !signature_b.is_empty() && output.signature().is_some_and(|s| s.b == signature_b)
    };
    if profile.dkim.verify {
        for output in dkim.iter().filter(|o| !ours(o)) {
            if let Some(outcome) = judge_tenant_signature(profile, output) {
                return outcome;
            }
        }
        // A DKIM-Signature field so malformed that the verifier skips it altogether is broken
        // too (RFC 6376 6.1.1: PERMFAIL), not absent.
        let fields = headers.count("dkim-signature");
        let evaluated = dkim.iter().filter(|o| !ours(o)).count();
        if fields > evaluated && profile.dkim.on_broken == AuthAction::Refuse {
            return Outcome::refuse(
                Rule::DkimBroken,
                550,
                "5.7.1",
                "The message's DKIM-Signature field cannot be parsed".into(),
            );
        }
    }

    // DMARC, for the message as relayed.
    let none_spf = SpfOutput::new(String::new());
    let spf_output = spf.as_ref().map(|p| &p.output).unwrap_or(&none_spf);
    let mail_from_domain = sender.as_ref().map(|(_, d)| d.as_str()).unwrap_or("");
    let dmarc = if profile.dmarc.enabled && from_domain.is_some() {
        let dmarc = auth.dmarc(&parsed, &dkim, mail_from_domain, spf_output).await;
        let our_result = dkim.iter().find(|o| ours(o)).map(|o| o.result().clone());
        // Nothing signed although the gateway holds a key for the domain: its record is not
        // published (the refusal names it).
        let unpublished = match (&key, &from_domain) {
            (None, Some(domain)) if profile.dkim.sign => auth.newest_key(domain, |d| ctx.tenant.owns(d, true)),
            _ => None,
        };
        let keys = DkimKeys {
            signed: key.as_deref(),
            unpublished: unpublished.as_deref(),
        };
        if let Some(outcome) = judge_dmarc(auth, &dmarc, our_result, keys, &spf, from_domain.as_deref()) {
            return outcome;
        }
        Some(dmarc)
    } else {
        None
    };

    // Our Authentication-Results.
    let header_from = from_domain.clone().unwrap_or_default();
    let mut results = AuthenticationResults::new(authserv_id);
    if let (Some(prediction), Some((address, _))) = (&spf, &sender) {
        results = results.with_spf_mailfrom_result(&prediction.output, prediction.ip, address, auth.helo());
    }
    results = results.with_dkim_results(&dkim, &header_from);
    use mail_auth::common::headers::HeaderWriter;
    Outcome {
        rule: Rule::Authentication,
        verdict: Verdict::Continue,
        signature,
        results: with_dmarc(results.to_header(), dmarc.as_ref()),
    }
}

/// Adds the DMARC result to an Authentication-Results field. Ours, not mail-auth's: a message
/// that fails a published record is `dmarc=fail` whatever the record's policy (RFC 7489 11.2).
fn with_dmarc(field: String, dmarc: Option<&mail_auth::DmarcOutput>) -> String {
    let Some(dmarc) = dmarc else {
        return field;
    };
    let mut field = field.trim_end_matches("\r\n").to_string();
    if let Some(stripped) = field.strip_suffix("; none") {
        field = stripped.to_string();
    }
    let pass = |r: &DmarcResult| matches!(r, DmarcResult::Pass);
    let result = if pass(dmarc.spf_result()) || pass(dmarc.dkim_result()) {
        "pass"
    } else if dmarc.dmarc_record().is_some() {
        "fail"
    } else {
        "none"
    };
    let policy = match dmarc.policy() {
        Policy::Reject => "reject",
        Policy::Quarantine => "quarantine",
        Policy::None | Policy::Unspecified => "none",
    };
    let domain: String = dmarc
        .domain()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    field.push_str(&format!(
        ";\r\n\tdmarc={result} header.from={domain} policy.dmarc={policy}\r\n"
    ));
    field
}

fn judge_spf(auth: &Authenticator, profile: &Profile, prediction: &SpfPrediction) -> Option<Outcome> {
    let domain = prediction.output.domain().to_string();
    let ip = prediction.ip;
    let missing = || {
        format!(
            "SPF of {domain} does not authorize this gateway's address {ip}; publish {} in the SPF record of {domain}",
            auth.spf_hint()
        )
    };
    match prediction.result() {
        SpfResult::TempError => Some(Outcome::refuse(
            Rule::SpfTemperror,
            451,
            "4.7.24",
            format!("Temporary DNS failure evaluating SPF of {domain}, please try again later"),
        )),
        SpfResult::PermError if profile.spf.on_fail == AuthAction::Refuse => Some(Outcome::refuse(
            Rule::SpfPermerror,
            550,
            "5.7.1",
            format!(
                "The SPF record of {domain} is invalid (a syntax error, more than 10 DNS lookups, or a loop); receivers will reject it"
            ),
        )),
        SpfResult::Fail if profile.spf.on_fail == AuthAction::Refuse => Some(Outcome::refuse(
            Rule::SpfFail,
            550,
            "5.7.1",
            format!("{} (SPF fail)", missing()),
        )),
        SpfResult::SoftFail if profile.spf.on_softfail == AuthAction::Refuse => Some(Outcome::refuse(
            Rule::SpfSoftfail,
            550,
            "5.7.1",
            format!("{} (SPF softfail)", missing()),
        )),
        _ => None,
    }
}

fn judge_tenant_signature(profile: &Profile, output: &mail_auth::DkimOutput<'_>) -> Option<Outcome> {
    let who = output
        .signature()
        .map(|s| format!("d={} s={}", s.d, s.s))
        .unwrap_or_else(|| "unknown signer".into());
    match output.result() {
        DkimResult::TempError(error) => Some(Outcome::refuse(
            Rule::DkimTemperror,
            451,
            "4.4.3",
            format!("Temporary DNS failure verifying the DKIM signature ({who}): {error}; please try again later"),
        )),
        // Neutral covers a body-hash mismatch, an expired or malformed signature: none of them
        // counts for the receiver either.
        DkimResult::Fail(error) | DkimResult::PermError(error) | DkimResult::Neutral(error)
            if profile.dkim.on_broken == AuthAction::Refuse =>
        {
            Some(Outcome::refuse(
                Rule::DkimBroken,
                550,
                "5.7.1",
                format!("The message's DKIM signature ({who}) does not verify: {error}"),
            ))
        }
        _ => None,
    }
}

/// The gateway's key that signed the message, or else the one that would have, had its record
/// been published.
struct DkimKeys<'a> {
    signed: Option<&'a crate::auth::keys::DkimKey>,
    unpublished: Option<&'a crate::auth::keys::DkimKey>,
}

fn judge_dmarc(
    auth: &Authenticator,
    dmarc: &mail_auth::DmarcOutput,
    our_result: Option<DkimResult>,
    keys: DkimKeys<'_>,
    spf: &Option<SpfPrediction>,
    from_domain: Option<&str>,
) -> Option<Outcome> {
    let from = from_domain.unwrap_or_default();
    let temporary = |r: &DmarcResult| matches!(r, DmarcResult::TempError(_));
    if temporary(dmarc.spf_result()) || temporary(dmarc.dkim_result()) {
        return Some(Outcome::refuse(
            Rule::DmarcTemperror,
            451,
            "4.4.3",
            format!("Temporary DNS failure evaluating DMARC for {from}, please try again later"),
        ));
    }
    let pass = |r: &DmarcResult| matches!(r, DmarcResult::Pass);
    if pass(dmarc.spf_result()) || pass(dmarc.dkim_result()) {
        return None;
    }
    let policy = match dmarc.policy() {
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
        Policy::None | Policy::Unspecified => return None,
    };
    let spf_reason = match spf {
        None => "SPF is not evaluated (no envelope sender domain)".to_string(),
        Some(prediction) => match prediction.result() {
            SpfResult::Pass => format!(
                "SPF passes for {} but that domain is not aligned with {from}",
                prediction.output.domain()
            ),
            other => format!(
                "SPF of {} is {} for {} (publish {})",
                prediction.output.domain(),
                spf_name(other),
                prediction.ip,
                auth.spf_hint()
            ),
        },
    };
    let dkim_reason = match keys.signed {
        None => match keys.unpublished {
            Some(key) => format!(
                "the DKIM key {} is not published in DNS, so nothing signed (publish it: `aupgate admin domains records`)",
                key.record_name()
            ),
            None => format!(
                "no DKIM key of the gateway for {from} (run `aupgate dkim generate {from}` and publish the record)"
            ),
        },
        Some(key) => match our_result {
            Some(DkimResult::Pass) => format!("the DKIM signature d={} is not aligned with {from}", key.domain),
            _ => format!(
                "the DKIM key {} is not published in DNS or does not match the gateway's key",
                key.record_name()
            ),
        },
    };
    Some(Outcome::refuse(
        Rule::DmarcPolicy,
        550,
        "5.7.1",
        format!("DMARC policy of {from} is p={policy} and this message would fail it: {spf_reason}; {dkim_reason}"),
    ))
}

fn spf_name(result: SpfResult) -> &'static str {
    match result {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none (no SPF record)",
    }
}

/// The one domain of the From field, lower-cased; `None` when there is no From or its
/// mailboxes are at different domains (header integrity refuses those unless disabled).
fn single_from_domain(headers: &Headers) -> Option<String> {
    let mut domains = headers
        .all("from")
        .filter_map(|value| parse_mailboxes(value, false).ok())
        .flatten()
        .map(|m| m.domain.trim_end_matches('.').to_ascii_lowercase());
    let first = domains.next()?;
    domains.all(|d| d == first).then_some(first)
}
