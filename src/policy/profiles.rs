//! The profile set the engine judges with: the profiles by name, replaced as a whole on reload
//! (SIGHUP), and a tenant's single-limit overrides applied on top of its profile. It decides
//! nothing itself.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::profile::Profile;
use crate::tenant::Tenant;

/// The profiles by name, and how many times they were replaced: outcomes reused across
/// messages are kept per generation, so a reload takes effect with the next message.
struct ProfileSet {
    generation: u64,
    by_name: HashMap<String, Arc<Profile>>,
}

/// The engine's profiles. Sessions keep the profile they started a check with.
pub struct Profiles {
    current: RwLock<ProfileSet>,
    /// For tenants whose profile is unknown, when there is no profile named `default` either.
    default: Arc<Profile>,
}

impl Profiles {
    pub fn new(profiles: HashMap<String, Arc<Profile>>, default: Arc<Profile>) -> Profiles {
        Profiles {
            current: RwLock::new(ProfileSet {
                generation: 0,
                by_name: profiles,
            }),
            default,
        }
    }

    /// The profile a tenant uses, with its overrides applied, and the generation of the profile
    /// set it came from, read together.
    pub fn versioned_for(&self, tenant: &Tenant) -> (u64, Arc<Profile>) {
        let settings = tenant.settings();
        let (generation, base) = {
            let profiles = self.current.read().unwrap_or_else(|p| p.into_inner());
            let base = profiles
                .by_name
                .get(&settings.profile)
                .or_else(|| profiles.by_name.get("default"))
                .cloned()
                .unwrap_or_else(|| self.default.clone());
            (profiles.generation, base)
        };
        (generation, with_limits(&settings.limits, base))
    }

    /// Whether a profile of this name is loaded.
    pub fn contains(&self, name: &str) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_name
            .contains_key(name)
    }

    /// Replaces the profiles (policy reload). Sessions in flight are not interrupted.
    pub fn replace(&self, profiles: HashMap<String, Arc<Profile>>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        current.generation += 1;
        current.by_name = profiles;
    }
}

/// `base` with the tenant's single-limit overrides applied.
fn with_limits(limits: &crate::tenant::TenantLimits, base: Arc<Profile>) -> Arc<Profile> {
    if *limits == crate::tenant::TenantLimits::default() {
        return base;
    }
    let mut profile = (*base).clone();
    let quotas = &mut profile.quotas;
    for (slot, value) in [
        (&mut quotas.messages_per_hour, limits.messages_per_hour),
        (&mut quotas.messages_per_day, limits.messages_per_day),
        (&mut quotas.recipients_per_hour, limits.recipients_per_hour),
        (&mut quotas.recipients_per_day, limits.recipients_per_day),
        (&mut profile.bulk.max_recipients, limits.bulk_max_recipients),
        (&mut profile.mail_bomb.max_messages, limits.mail_bomb_max_messages),
    ] {
        if let Some(value) = value {
            *slot = value;
        }
    }
    Arc::new(profile)
}
