//! The shipped policy profiles (`policies/*.toml`): each one loads through `Profile::load`, is
//! named after its file, spells out every key of the schema, never fails open, and carries the
//! thresholds its provider's acceptable-use policy states (`/work/shared/aup/*.txt`, see the
//! comments in each preset). A broken copy of every preset is refused with the path of the broken
//! value.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aupgate::config::TenantStateConfig;
use aupgate::policy::profile::{AuthResultsAction, Profile};

use TenantStateConfig::{FinalWarning, Suspended, Warned};

const DAY: u64 = 86_400;

/// What the AUP behind a preset states (or, where it is silent, the DESIGN default the preset keeps).
struct Expected {
    name: &'static str,
    bulk_max_recipients: u64,
    bulk_window_secs: u64,
    require_list_unsubscribe: bool,
    require_one_click: bool,
    require_recipient_in_to: bool,
    mail_bomb_max_messages: u64,
    mail_bomb_window_secs: u64,
    sms_enabled: bool,
    sms_max_recipients: u64,
    suppression: bool,
    /// `[headers] check_reply_to`: Reply-To held to the ownership rule ("false or misleading header
    /// information", "misrepresenting ... return mailing information").
    check_reply_to: bool,
    /// (events, window in seconds, state), in order.
    ladder: &'static [(u64, u64, TenantStateConfig)],
}

/// 3650d: the presets' stand-in for "the text sets no expiry".
const NO_EXPIRY: u64 = 3650 * DAY;

const DEFAULT_LADDER: &[(u64, u64, TenantStateConfig)] = &[
    (1, 30 * DAY, Warned),
    (2, 30 * DAY, FinalWarning),
    (3, 30 * DAY, Suspended),
];

const EXPECTED: &[Expected] = &[
    // DESIGN.md "Words, defined exactly": bulk > 20 distinct recipients, mail bomb > 10 to one
    // recipient in any 24 h; warned -> final_warning -> suspended.
    Expected {
        name: "default",
        bulk_max_recipients: 20,
        bulk_window_secs: DAY,
        require_list_unsubscribe: true,
        require_one_click: false,
        require_recipient_in_to: true,
        mail_bomb_max_messages: 10,
        mail_bomb_window_secs: DAY,
        sms_enabled: true,
        sms_max_recipients: 1,
        suppression: true,
        check_reply_to: false,
        ladder: DEFAULT_LADDER,
    },
    // SPCM: "substantively similar E-mails to more than 20 E-mail addresses"; "more than 10
    // substantively similar E-mails to the same recipient in any 24-hour period"; one chance
    // (notify), then termination.
    Expected {
        name: "spcm",
        bulk_max_recipients: 20,
        bulk_window_secs: DAY,
        require_list_unsubscribe: true,
        require_one_click: false,
        require_recipient_in_to: true,
        mail_bomb_max_messages: 10,
        mail_bomb_window_secs: DAY,
        sms_enabled: true,
        sms_max_recipients: 1,
        suppression: true,
        check_reply_to: false,
        ladder: &[(1, NO_EXPIRY, Warned), (2, NO_EXPIRY, Suspended)],
    },
    // Pageant Server: removal method in all messages, "both an automated and non-automated means of
    // removal", bounced addresses removed before the next mailing; 1st/2nd/3rd UCE/UBE event ->
    // warning / final warning / permanent disablement.
    Expected {
        name: "pageant-server",
        bulk_max_recipients: 20,
        bulk_window_secs: DAY,
        require_list_unsubscribe: true,
        require_one_click: true,
        require_recipient_in_to: true,
        mail_bomb_max_messages: 10,
        mail_bomb_window_secs: DAY,
        sms_enabled: true,
        sms_max_recipients: 1,
        suppression: true,
        check_reply_to: false,
        ladder: &[
            (1, NO_EXPIRY, Warned),
            (2, NO_EXPIRY, FinalWarning),
            (3, NO_EXPIRY, Suspended),
        ],
    },
    // SocketLabs: "You may not send bulk text messages via email"; unsubscribe procedure; the
    // recipient's address "in the "TO" line"; list "must be valid and not generate excessive failures".
    Expected {
        name: "socketlabs",
        bulk_max_recipients: 20,
        bulk_window_secs: DAY,
        require_list_unsubscribe: true,
        require_one_click: false,
        require_recipient_in_to: true,
        mail_bomb_max_messages: 10,
        mail_bomb_window_secs: DAY,
        sms_enabled: true,
        sms_max_recipients: 1,
        suppression: true,
        check_reply_to: true,
        ladder: DEFAULT_LADDER,
    },
    // IMS-Network: lists "must allow any party on the list to automatically and permanently remove
    // themselves"; no unsolicited bulk "SMS messages".
    Expected {
        name: "ims-network",
        bulk_max_recipients: 20,
        bulk_window_secs: DAY,
        require_list_unsubscribe: true,
        require_one_click: true,
        require_recipient_in_to: true,
        mail_bomb_max_messages: 10,
        mail_bomb_window_secs: DAY,
        sms_enabled: true,
        sms_max_recipients: 1,
        suppression: true,
        check_reply_to: true,
        ladder: DEFAULT_LADDER,
    },
    // Integra: a claim opens a case (warned); "multiple claims ... arising from related conduct" ->
    // "service interruption" (suspended); no final warning.
    Expected {
        name: "integra",
        bulk_max_recipients: 20,
        bulk_window_secs: DAY,
        require_list_unsubscribe: true,
        require_one_click: false,
        require_recipient_in_to: true,
        mail_bomb_max_messages: 10,
        mail_bomb_window_secs: DAY,
        sms_enabled: true,
        sms_max_recipients: 1,
        suppression: true,
        check_reply_to: false,
        ladder: &[(1, NO_EXPIRY, Warned), (2, NO_EXPIRY, Suspended)],
    },
];

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// Every `policies/*.toml`, sorted.
fn preset_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(policies_dir())
        .expect("policies/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().expect("file stem").to_string_lossy().into_owned()
}

fn load(path: &Path) -> Profile {
    Profile::load(path).unwrap_or_else(|errors| panic!("{} does not load:\n{errors}", path.display()))
}

fn raw(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).expect("readable preset");
    toml::from_str(&text).unwrap_or_else(|error| panic!("{} is not TOML: {error}", path.display()))
}

#[test]
fn the_preset_set_is_exactly_the_expected_one() {
    let found: BTreeSet<String> = preset_files().iter().map(|path| stem(path)).collect();
    let expected: BTreeSet<String> = EXPECTED.iter().map(|e| e.name.to_string()).collect();
    assert_eq!(
        found, expected,
        "every preset needs a row in EXPECTED (and every row a preset)"
    );
}

#[test]
fn every_preset_loads_and_is_named_after_its_file() {
    for path in preset_files() {
        let profile = load(&path);
        assert_eq!(profile.profile.name, stem(&path), "{}: [profile] name", path.display());
        assert!(
            !profile.profile.description.trim().is_empty(),
            "{}: [profile] description",
            path.display()
        );
    }
}

#[test]
fn every_preset_keeps_on_error_defer() {
    for path in preset_files() {
        assert!(
            load(&path).on_error.defer,
            "{}: on_error.defer must be true",
            path.display()
        );
    }
}

#[test]
fn every_preset_spells_out_every_key_of_the_schema() {
    // The serialised default profile lists every key the schema has; each preset must write each
    // one, so that no provider rule silently depends on a built-in default.
    let schema = toml::Value::try_from(Profile::default()).expect("profile serialises");
    let schema = schema.as_table().expect("profile is a table");
    for path in preset_files() {
        let preset = raw(&path);
        for (section, value) in schema {
            let Some(written) = preset.get(section).and_then(|v| v.as_table()) else {
                panic!("{}: section [{section}] missing", path.display());
            };
            let keys = value.as_table().expect("section is a table");
            if section == "escalation" {
                let steps = written.get("steps").and_then(|v| v.as_array());
                assert!(
                    steps.is_some_and(|s| !s.is_empty()),
                    "{}: no [[escalation.steps]]",
                    path.display()
                );
                continue;
            }
            for key in keys.keys() {
                assert!(
                    written.contains_key(key),
                    "{}: key {section}.{key} missing",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn thresholds_are_the_ones_the_aups_state() {
    for expected in EXPECTED {
        let path = policies_dir().join(format!("{}.toml", expected.name));
        let p = load(&path);
        let name = expected.name;
        assert!(p.bulk.enabled, "{name}: bulk.enabled");
        assert_eq!(
            p.bulk.max_recipients, expected.bulk_max_recipients,
            "{name}: bulk.max_recipients"
        );
        assert_eq!(
            p.bulk.window.get().as_secs(),
            expected.bulk_window_secs,
            "{name}: bulk.window"
        );
        assert_eq!(
            p.bulk.require_list_unsubscribe, expected.require_list_unsubscribe,
            "{name}: bulk.require_list_unsubscribe"
        );
        assert_eq!(
            p.bulk.require_one_click, expected.require_one_click,
            "{name}: bulk.require_one_click"
        );
        assert_eq!(
            p.bulk.require_recipient_in_to, expected.require_recipient_in_to,
            "{name}: bulk.require_recipient_in_to"
        );
        assert!(
            p.bulk.registered_senders.is_empty(),
            "{name}: a shipped preset exempts nobody"
        );
        assert!(p.mail_bomb.enabled, "{name}: mail_bomb.enabled");
        assert_eq!(
            p.mail_bomb.max_messages, expected.mail_bomb_max_messages,
            "{name}: mail_bomb.max_messages"
        );
        assert_eq!(
            p.mail_bomb.window.get().as_secs(),
            expected.mail_bomb_window_secs,
            "{name}: mail_bomb.window"
        );
        assert_eq!(
            p.sms_gateways.enabled, expected.sms_enabled,
            "{name}: sms_gateways.enabled"
        );
        assert_eq!(
            p.sms_gateways.max_recipients, expected.sms_max_recipients,
            "{name}: sms_gateways.max_recipients"
        );
        assert!(!p.sms_gateways.domains.is_empty(), "{name}: sms_gateways.domains");
        assert_eq!(
            p.suppression.enabled, expected.suppression,
            "{name}: suppression.enabled"
        );
        // Header integrity and letter bombing are on in every preset (aup/README.md rules 3 and 7).
        assert!(p.headers.enabled, "{name}: headers.enabled");
        assert_eq!(
            p.headers.check_reply_to, expected.check_reply_to,
            "{name}: headers.check_reply_to"
        );
        assert!(p.headers.check_resent_from, "{name}: headers.check_resent_from");
        assert_eq!(p.headers.max_received, 30, "{name}: headers.max_received");
        assert_eq!(
            p.headers.authentication_results,
            AuthResultsAction::Remove,
            "{name}: headers.authentication_results"
        );
        assert!(p.attachments.enabled, "{name}: attachments.enabled");
        assert!(
            p.attachments.block_double_extensions,
            "{name}: attachments.block_double_extensions"
        );
        assert!(p.attachments.inspect_archives, "{name}: attachments.inspect_archives");
        for ext in ["exe", "scr", "js", "jar", "lnk", "iso"] {
            assert!(
                p.attachments.extensions.iter().any(|e| e == ext),
                "{name}: attachments.extensions lacks {ext}"
            );
        }
        let ladder: Vec<(u64, u64, TenantStateConfig)> = p
            .escalation
            .steps
            .iter()
            .map(|step| (step.events, step.window.get().as_secs(), step.state))
            .collect();
        assert_eq!(ladder, expected.ladder, "{name}: escalation.steps");
        assert_eq!(
            ladder.last().map(|step| step.2),
            Some(Suspended),
            "{name}: the ladder ends in suspension"
        );
    }
}

#[test]
fn presets_keep_the_quotas_of_the_default() {
    // No AUP states a numeric volume; every preset starts from the default quotas.
    let default = load(&policies_dir().join("default.toml"));
    for path in preset_files() {
        assert_eq!(load(&path).quotas, default.quotas, "{}: [quotas]", path.display());
    }
}

#[test]
fn default_file_matches_the_built_in_defaults() {
    // `policies/default.toml` is the schema default made explicit (plus its ladder).
    let mut file = load(&policies_dir().join("default.toml"));
    let built_in = Profile::default();
    assert_eq!(file.quotas, built_in.quotas);
    assert_eq!(file.bulk, built_in.bulk);
    assert_eq!(file.mail_bomb, built_in.mail_bomb);
    assert_eq!(file.sms_gateways, built_in.sms_gateways);
    assert_eq!(file.suppression, built_in.suppression);
    assert_eq!(file.headers, built_in.headers);
    assert_eq!(file.attachments, built_in.attachments);
    assert_eq!(file.spf, built_in.spf);
    assert_eq!(file.dkim, built_in.dkim);
    assert_eq!(file.dmarc, built_in.dmarc);
    assert_eq!(file.on_error, built_in.on_error);
    file.escalation.steps.clear();
    file.profile.description.clear();
    assert_eq!(file, built_in);
}

/// A copy of `preset` with `section.key` (or `escalation.steps[0].key`) set to `value`, written to
/// a temporary file and loaded; returns the error paths.
fn broken_copy(preset: &Path, section: &str, key: &str, value: toml::Value) -> Vec<String> {
    let mut table = raw(preset);
    let target = table
        .get_mut(section)
        .and_then(|v| v.as_table_mut())
        .expect("section present");
    let target = if section == "escalation" {
        target
            .get_mut("steps")
            .and_then(|v| v.as_array_mut())
            .and_then(|steps| steps.first_mut())
            .and_then(|v| v.as_table_mut())
            .expect("first escalation step")
    } else {
        target
    };
    assert!(
        target.contains_key(key),
        "{}: {section}.{key} missing",
        preset.display()
    );
    target.insert(key.to_string(), value);
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join(preset.file_name().expect("file name"));
    std::fs::write(&copy, toml::to_string(&table).expect("serialise")).expect("write copy");
    match Profile::load(&copy) {
        Ok(_) => panic!("{}: {section}.{key} broken, yet the copy loads", preset.display()),
        Err(errors) => errors.0.into_iter().map(|e| e.path).collect(),
    }
}

#[test]
fn a_broken_copy_of_each_preset_names_the_broken_value() {
    use toml::Value;
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("bulk", "max_recipients", Value::Integer(0), "bulk.max_recipients"),
        ("bulk", "window", Value::String("24 hours".into()), "bulk.window"),
        ("mail_bomb", "max_messages", Value::Integer(0), "mail_bomb.max_messages"),
        ("mail_bomb", "window", Value::String("0s".into()), "mail_bomb.window"),
        ("mail_bomb", "window", Value::String("a day".into()), "mail_bomb.window"),
        (
            "quotas",
            "messages_per_day",
            Value::Integer(-1),
            "quotas.messages_per_day",
        ),
        (
            "sms_gateways",
            "domains",
            Value::Array(vec![Value::String("not a domain".into())]),
            "sms_gateways.domains[0]",
        ),
        ("escalation", "events", Value::Integer(0), "escalation.steps[0].events"),
        (
            "escalation",
            "window",
            Value::String("0s".into()),
            "escalation.steps[0].window",
        ),
        (
            "escalation",
            "state",
            Value::String("active".into()),
            "escalation.steps[0].state",
        ),
        ("headers", "max_received", Value::Integer(0), "headers.max_received"),
        (
            "headers",
            "authentication_results",
            Value::String("delete".into()),
            "headers.authentication_results",
        ),
        (
            "headers",
            "check_reply_to",
            Value::String("yes".into()),
            "headers.check_reply_to",
        ),
        (
            "attachments",
            "extensions",
            Value::Array(vec![Value::String(".exe".into())]),
            "attachments.extensions[0]",
        ),
        (
            "attachments",
            "extensions",
            Value::Array(vec![]),
            "attachments.extensions",
        ),
        (
            "attachments",
            "inspect_archives",
            Value::Integer(1),
            "attachments.inspect_archives",
        ),
        ("on_error", "defer", Value::Boolean(false), "on_error.defer"),
        ("profile", "name", Value::String(" ".into()), "profile.name"),
    ];
    for path in preset_files() {
        for (section, key, value, expected_path) in &cases {
            let paths = broken_copy(&path, section, key, value.clone());
            assert_eq!(
                paths,
                vec![expected_path.to_string()],
                "{}: breaking {section}.{key} must report exactly {expected_path}",
                path.display()
            );
        }
    }
}

#[test]
fn an_unknown_key_in_a_preset_is_refused_with_its_path() {
    for path in preset_files() {
        let mut table = raw(&path);
        let mail_bomb = table
            .get_mut("mail_bomb")
            .and_then(|v| v.as_table_mut())
            .expect("[mail_bomb]");
        mail_bomb.insert("max_mesages".into(), toml::Value::Integer(10));
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("typo.toml");
        std::fs::write(&copy, toml::to_string(&table).expect("serialise")).expect("write copy");
        let errors = Profile::load(&copy).expect_err("a misspelt key must not be ignored").0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["mail_bomb.max_mesages"], "{}", path.display());
    }
}
