//! A directory of profiles (`policies/*.toml`), loaded with every file's errors reported.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::Profile;
use crate::config::{Config, ConfigError, ConfigErrors};

/// The shipped `policies/default.toml`: the built-in `default`.
const SHIPPED_DEFAULT: &str = include_str!("../../../policies/default.toml");

/// The profile `default` when the directory has none: the shipped `policies/default.toml`, so a
/// gateway run without that directory (or `policy check` outside the source tree) judges as the
/// documented default does, its escalation ladder included.
pub fn builtin_default() -> Profile {
    Profile::parse(SHIPPED_DEFAULT).expect("the shipped policies/default.toml is valid (tested)")
}

/// Loads every `*.toml` in `directory` (when it exists) keyed by `[profile] name`, plus the
/// built-in `default` ([`builtin_default`]) when the directory has none. All files' errors are reported together.
/// A profile without `[headers] authserv_id` gets `hostname`, the gateway's `[server] hostname`.
pub fn load_directory(directory: &Path, hostname: &str) -> Result<HashMap<String, Arc<Profile>>, ConfigErrors> {
    let with_host = |mut profile: Profile| {
        profile.headers.authserv_id.get_or_insert_with(|| hostname.to_string());
        Arc::new(profile)
    };
    let mut profiles = HashMap::new();
    let mut errors = Vec::new();
    if let Ok(entries) = std::fs::read_dir(directory) {
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            match Profile::load(&path) {
                // Tenants name a profile and operators find it by its file: the two must agree
                // (a copied preset whose name was left alone would silently replace another).
                Ok(profile) if path.file_stem().and_then(|s| s.to_str()) != Some(profile.profile.name.as_str()) => {
                    errors.push(ConfigError {
                        path: format!("{}: profile.name", path.display()),
                        message: format!(
                            "`{}` must match the file name (profiles are named by their file, without `.toml`)",
                            profile.profile.name
                        ),
                    });
                }
                Ok(profile) => {
                    profiles.insert(profile.profile.name.clone(), with_host(profile));
                }
                Err(ConfigErrors(found)) => errors.extend(found.into_iter().map(|e| ConfigError {
                    path: format!("{}: {}", path.display(), e.path),
                    message: e.message,
                })),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    profiles
        .entry("default".to_string())
        .or_insert_with(|| with_host(builtin_default()));
    Ok(profiles)
}

/// The profiles of `config`'s `[policy] directory` ([`load_directory`]), and an error for each
/// `[[tenant]]` entry naming a profile that is not among them: what `serve` refuses to start with
/// (before it opens the store) and `check-config` reports.
pub fn load_for(config: &Config) -> Result<HashMap<String, Arc<Profile>>, ConfigErrors> {
    let directory = Path::new(&config.policy.directory);
    let profiles = load_directory(directory, &config.server.hostname)?;
    let errors: Vec<ConfigError> = config
        .tenants
        .iter()
        .enumerate()
        .filter_map(|(i, tenant)| {
            let name = tenant.profile.as_deref().unwrap_or("default");
            (!profiles.contains_key(name)).then(|| ConfigError {
                path: format!("tenant[{i}].profile"),
                message: format!(
                    "`{name}` is not a profile in {} (its profiles: {})",
                    config.policy.directory,
                    names(&profiles)
                ),
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(profiles)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// The profiles' names, sorted and comma-separated.
fn names(profiles: &HashMap<String, Arc<Profile>>) -> String {
    let mut names: Vec<&str> = profiles.keys().map(String::as_str).collect();
    names.sort_unstable();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_default_file_the_default_is_the_shipped_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let profiles = load_directory(dir.path(), "gw.example").expect("an empty directory loads");
        let mut shipped = Profile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/default.toml")).unwrap();
        // Its authserv-id is unset: the directory gives it the server's hostname.
        assert_eq!(shipped.headers.authserv_id, None);
        shipped.headers.authserv_id = Some("gw.example".into());
        assert_eq!(*profiles["default"], shipped);
        // Not the sections' own defaults: those have no escalation ladder.
        assert!(!shipped.escalation.steps.is_empty());
        assert_ne!(shipped, Profile::default());
    }

    #[test]
    fn a_profile_without_an_authserv_id_gets_the_hostname_and_one_with_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("spcm.toml"), "[profile]\nname = \"spcm\"\n").unwrap();
        std::fs::write(
            dir.path().join("own.toml"),
            "[profile]\nname = \"own\"\n[headers]\nauthserv_id = \"mx.provider.example\"\n",
        )
        .unwrap();
        let profiles = load_directory(dir.path(), "gw.example").expect("loads");
        assert_eq!(profiles["spcm"].headers.authserv_id(), "gw.example");
        assert_eq!(profiles["default"].headers.authserv_id(), "gw.example");
        assert_eq!(profiles["own"].headers.authserv_id(), "mx.provider.example");
    }

    #[test]
    fn a_directory_reports_every_profile_named_unlike_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("spcm.toml"), "[profile]\nname = \"spcm\"\n").unwrap();
        // A copy of a preset whose name was left alone, and a file without a name.
        std::fs::write(dir.path().join("custom.toml"), "[profile]\nname = \"spcm\"\n").unwrap();
        std::fs::write(dir.path().join("strict.toml"), "[bulk]\nmax_recipients = 5\n").unwrap();
        let ConfigErrors(errors) = load_directory(dir.path(), "gw.example").expect_err("two misnamed profiles");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].path.ends_with("custom.toml: profile.name") && errors[0].message.contains("`spcm`"));
        assert!(errors[1].path.ends_with("strict.toml: profile.name") && errors[1].message.contains("`default`"));
        std::fs::remove_file(dir.path().join("custom.toml")).unwrap();
        std::fs::remove_file(dir.path().join("strict.toml")).unwrap();
        let profiles = load_directory(dir.path(), "gw.example").expect("loads");
        assert!(profiles.contains_key("spcm") && profiles.contains_key("default"));
    }
}
