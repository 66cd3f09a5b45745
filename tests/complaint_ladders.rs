//! The complaint ladders of every preset, driven with complaints at injected times against a
//! real RocksDB store in a temp dir and the real presets of `policies/`: each rule at its
//! numbers N-1, N and N+1, with window edges (a complaint just outside 24 h or 72 h does not
//! count), the notices (a fake sender records them) and copies (a fake log holds the
//! complaints), events, blocks, cases and their resolution, rates, and lifting.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aupgate::complaints::cases::{self, ResolveError};
use aupgate::complaints::model::ComplaintFut;
use aupgate::complaints::summary::summarize;
use aupgate::complaints::{
    AttributedBy, Complaint, ComplaintLadders, ComplaintLog, ComplaintSink, ComplaintSource, DeliveryWatcher, Notice,
    NoticeKind, NoticeSender, Recorded,
};
use aupgate::policy::Engine;
use aupgate::store::faulty::Faulty;
use aupgate::store::rocks::RocksStore;
use aupgate::store::{BlockScope, Event, Lift, RateStore, TenantChange, TenantField, TenantRecord};
use aupgate::tenant::{TenantDirectory, TenantSpec, TenantState};

/// Monday 2026-12-07 10:00 UTC.
const T0: u64 = 1_796_637_600_000;
const MS: u64 = 1;
const H: u64 = 3_600_000;
const D: u64 = 24 * H;
const TENANT: &str = "t1";

/// Records every notice instead of queueing it.
#[derive(Default)]
struct RecordedNotices(Mutex<Vec<Notice>>);

impl NoticeSender for RecordedNotices {
    fn send<'a>(&'a self, notice: &'a Notice) -> ComplaintFut<'a, String> {
        let mut sent = self.0.lock().unwrap();
        sent.push(notice.clone());
        let id = format!("notice-{}", sent.len());
        Box::pin(async move { Ok(id) })
    }
}

/// The stored complaints, as intake would keep them.
#[derive(Default)]
struct MemoryLog(Mutex<Vec<Complaint>>);

impl ComplaintLog for MemoryLog {
    fn received<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> ComplaintFut<'a, Vec<Complaint>> {
        let found: Vec<Complaint> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.tenant.as_deref() == Some(tenant) && from <= c.received_at && c.received_at < to)
            .cloned()
            .collect();
        Box::pin(async move { Ok(found) })
    }
}

struct World {
    profile: String,
    _dir: tempfile::TempDir,
    store: Arc<dyn RateStore>,
    /// The same store, failing chosen operations on demand.
    faulty: Arc<Faulty>,
    tenants: Arc<TenantDirectory>,
    ladders: Arc<ComplaintLadders>,
    notices: Arc<RecordedNotices>,
    log: Arc<MemoryLog>,
    next: Mutex<u32>,
}

async fn world(profile: &str) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks: Arc<dyn RateStore> =
        Arc::new(RocksStore::open(&dir.path().join("store"), Duration::from_secs(3650 * 86_400)).expect("store"));
    let faulty = Arc::new(Faulty::new(rocks));
    let store: Arc<dyn RateStore> = faulty.clone();
    let presets = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let profiles = aupgate::policy::profile::load_directory(&presets, "gw.test").expect("presets load");
    assert!(profiles.contains_key(profile), "{profile}");
    let default = profiles["default"].clone();
    let mut record = TenantRecord::new(TENANT, "Tenant One");
    record.profile = profile.to_string();
    record.contact = Some("abuse@t1.example".into());
    assert!(store.tenant_create(&record).await.expect("create"));
    let tenants = Arc::new(TenantDirectory::from_specs(vec![TenantSpec::from_record(&record)]));
    let engine = Arc::new(Engine::new(store.clone(), profiles, default).with_tenants(tenants.clone()));
    let notices = Arc::new(RecordedNotices::default());
    let log = Arc::new(MemoryLog::default());
    let ladders = ComplaintLadders::new(engine, tenants.clone(), notices.clone(), log.clone());
    World {
        profile: profile.to_string(),
        _dir: dir,
        store,
        faulty,
        tenants,
        ladders,
        notices,
        log,
        next: Mutex::new(0),
    }
}

impl World {
    /// The ladders of a second node sharing this store (its own live tenants, lock and notices).
    async fn second_node(&self) -> (Arc<ComplaintLadders>, Arc<TenantDirectory>) {
        let presets = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let profiles = aupgate::policy::profile::load_directory(&presets, "gw.test").expect("presets load");
        let default = profiles["default"].clone();
        let record = self.store.tenant_get(TENANT).await.unwrap().expect("record");
        assert_eq!(record.profile, self.profile);
        let tenants = Arc::new(TenantDirectory::from_specs(vec![TenantSpec::from_record(&record)]));
        let engine = Arc::new(Engine::new(self.store.clone(), profiles, default).with_tenants(tenants.clone()));
        let ladders = ComplaintLadders::new(engine, tenants.clone(), self.notices.clone(), self.log.clone());
        (ladders, tenants)
    }

    fn complaint(&self, at: u64) -> Complaint {
        let mut next = self.next.lock().unwrap();
        *next += 1;
        let n = *next;
        Complaint {
            dedup_key: format!("report-{n}"),
            tenant: Some(TENANT.into()),
            campaign: Some("c1".into()),
            queue_id: Some(format!("q{n}")),
            attributed_by: Some(AttributedBy::TraceHeader),
            recipient: Some(format!("r{n}@example.org")),
            reporter: Some("fbl.mailbox.example".into()),
            feedback_type: "abuse".into(),
            received_at: at,
            original_message_id: Some(format!("<m{n}@t1.example>")),
            original: format!("Message-ID: <m{n}@t1.example>\r\nSubject: offer {n}\r\n\r\nbody {n}\r\n").into_bytes(),
            source: ComplaintSource::Smtp,
            urgent: false,
            note: None,
        }
    }

    /// Stores the complaint (as intake does) and hands it to the ladders.
    async fn feed(&self, complaint: Complaint) -> Recorded {
        self.log.0.lock().unwrap().push(complaint.clone());
        self.ladders.record(&complaint).await.expect("effects applied")
    }

    async fn complain_at(&self, at: u64) -> Recorded {
        let complaint = self.complaint(at);
        self.feed(complaint).await
    }

    fn state(&self) -> TenantState {
        self.tenants.get(TENANT).expect("live tenant").state.get()
    }

    async fn stored_state(&self) -> TenantState {
        self.store.tenant_get(TENANT).await.unwrap().expect("record").state
    }

    fn notices(&self) -> Vec<Notice> {
        self.notices.0.lock().unwrap().clone()
    }

    fn notice_kinds(&self) -> Vec<NoticeKind> {
        self.notices().iter().map(|n| n.kind).collect()
    }

    async fn events(&self, kind: &str) -> Vec<Event> {
        let all = self.store.events_range(TENANT, 0, u64::MAX).await.unwrap();
        all.into_iter().filter(|e| e.kind == kind).collect()
    }

    async fn block_by(&self) -> Option<String> {
        self.store
            .block_get(TENANT, BlockScope::Tenant, "")
            .await
            .unwrap()
            .map(|b| b.by)
    }

    /// What an operator's lift does (`admin::blocks`): the block lifted, the tenant active, the
    /// ladders restarted.
    async fn lift(&self, at: u64) {
        let lift = Lift {
            by: "alice".into(),
            reason: "customer cleaned up".into(),
            at,
        };
        assert!(self
            .store
            .block_lift(TENANT, BlockScope::Tenant, "", &lift)
            .await
            .unwrap()
            .is_some());
        let changes = [
            TenantChange::Set(TenantField::State(TenantState::Active)),
            TenantChange::Set(TenantField::LadderSince(at)),
        ];
        self.store.tenant_update(TENANT, &changes).await.unwrap();
        self.tenants.get(TENANT).unwrap().state.set(TenantState::Active);
    }

    /// Counts `delivered` and `hard` recipient outcomes at `at`, into the relay's counters.
    async fn outcomes(&self, delivered: u64, hard: u64, at: u64) {
        use aupgate::complaints::outcomes::{outcome_key, Outcome, OUTCOME_WINDOW};
        for (outcome, n) in [(Outcome::Delivered, delivered), (Outcome::HardBounce, hard)] {
            self.store
                .counter_add(&outcome_key(TENANT, outcome), n, at, OUTCOME_WINDOW)
                .await
                .unwrap();
        }
    }
}

// ---------------------------------------------------------------- SPCM

#[tokio::test]
async fn spcm_two_complaints_in_24h_warn_with_copies_and_any_further_one_suspends() {
    let w = world("spcm").await;
    w.complain_at(T0).await;
    assert_eq!(w.state(), TenantState::Active, "N-1: one complaint");
    assert!(w.notices().is_empty());

    w.complain_at(T0 + 24 * H - MS).await;
    assert_eq!(w.state(), TenantState::Warned, "N: two in one 24-hour period");
    assert_eq!(w.stored_state().await, TenantState::Warned);
    let notices = w.notices();
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning]);
    assert_eq!(notices[0].tenant, TENANT);
    assert!(
        notices[0].reason.contains("2 complaints within 24h"),
        "{}",
        notices[0].reason
    );
    assert!(
        notices[0].reason.contains("This one chance will be given"),
        "{}",
        notices[0].reason
    );
    assert_eq!(notices[0].copies.len(), 2, "copies of both reported mails");
    assert!(String::from_utf8_lossy(&notices[0].copies[0]).contains("Message-ID: <m1@t1.example>"));
    assert!(String::from_utf8_lossy(&notices[0].copies[1]).contains("Message-ID: <m2@t1.example>"));
    let warnings = w.events("complaint.warning").await;
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].rule.as_deref(), Some("complaints.steps"));
    assert_eq!(warnings[0].detail["complaints"], 2);
    assert_eq!(warnings[0].detail["by"], "policy:complaints.steps");
    assert_eq!(w.block_by().await, None);

    // N+1: any further complaint, days later.
    w.complain_at(T0 + 10 * D).await;
    assert_eq!(w.state(), TenantState::Suspended);
    assert_eq!(w.stored_state().await, TenantState::Suspended);
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.steps"));
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning, NoticeKind::Suspension]);
    assert!(w.notices()[1].reason.contains("terminated immediately"));
    assert_eq!(w.events("complaint.suspension").await.len(), 1);
}

#[tokio::test]
async fn spcm_a_complaint_just_outside_24h_does_not_count() {
    let w = world("spcm").await;
    w.complain_at(T0).await;
    w.complain_at(T0 + 24 * H).await;
    assert_eq!(w.state(), TenantState::Active, "24h apart: not in one 24-hour period");
    assert!(w.notices().is_empty());
    w.complain_at(T0 + 48 * H - MS).await;
    assert_eq!(w.state(), TenantState::Warned, "the 2nd and the 3rd are within 24h");
}

#[tokio::test]
async fn the_same_complaint_twice_counts_once() {
    let w = world("spcm").await;
    let complaint = w.complaint(T0);
    assert!(matches!(w.feed(complaint.clone()).await, Recorded::New { .. }));
    assert!(matches!(w.feed(complaint).await, Recorded::Duplicate { .. }));
    assert_eq!(w.state(), TenantState::Active);
}

#[tokio::test]
async fn lifting_a_ladder_suspension_restarts_the_ladder() {
    let w = world("spcm").await;
    for at in [T0, T0 + H, T0 + 2 * H] {
        w.complain_at(at).await;
    }
    assert_eq!(w.state(), TenantState::Suspended);
    w.lift(T0 + 3 * D).await;
    w.complain_at(T0 + 3 * D + H).await;
    assert_eq!(
        w.state(),
        TenantState::Active,
        "one complaint after the lift: step 1 again, not reached"
    );
    w.complain_at(T0 + 3 * D + 2 * H).await;
    assert_eq!(w.state(), TenantState::Warned);
}

// ---------------------------------------------------------------- Pageant Server

#[tokio::test]
async fn pageant_an_event_is_three_complaints_in_72h() {
    let w = world("pageant-server").await;
    w.complain_at(T0).await;
    w.complain_at(T0 + H).await;
    assert_eq!(w.state(), TenantState::Active, "N-1");
    w.complain_at(T0 + 72 * H - MS).await;
    assert_eq!(w.state(), TenantState::Warned, "N: 1st event, warning");
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning]);
    assert_eq!(w.notices()[0].copies.len(), 3, "the complaints go with the warning");
    w.complain_at(T0 + 73 * H).await;
    assert_eq!(w.state(), TenantState::Warned, "N+1: the same event's period");
    assert_eq!(w.notices().len(), 1);

    // The 2nd event: 3 more in a 72-hour period after the first event's.
    let second = T0 + 72 * H + 73 * H;
    for i in 0..3 {
        w.complain_at(second + i * H).await;
    }
    assert_eq!(w.state(), TenantState::FinalWarning);
    // The 3rd event disables.
    let third = second + 80 * H;
    for i in 0..3 {
        w.complain_at(third + i * H).await;
    }
    assert_eq!(w.state(), TenantState::Suspended);
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.steps"));
    assert_eq!(
        w.notice_kinds(),
        [NoticeKind::Warning, NoticeKind::FinalWarning, NoticeKind::Suspension]
    );
    let finals = w.events("complaint.final_warning").await;
    assert_eq!(finals[0].detail["step"], 2);
}

#[tokio::test]
async fn pageant_a_complaint_just_outside_72h_does_not_count() {
    let w = world("pageant-server").await;
    w.complain_at(T0).await;
    w.complain_at(T0 + H).await;
    w.complain_at(T0 + 72 * H).await;
    assert_eq!(w.state(), TenantState::Active, "the first is exactly 72h old: outside");
    w.complain_at(T0 + 72 * H + MS).await;
    assert_eq!(w.state(), TenantState::Warned, "three within 72h");
}

#[tokio::test]
async fn pageant_an_event_is_also_six_complaints_in_30_days() {
    let w = world("pageant-server").await;
    // Five days apart: never 3 in 72h.
    for i in 0..5 {
        w.complain_at(T0 + i * 5 * D).await;
    }
    assert_eq!(w.state(), TenantState::Active, "N-1: five in 30 days");
    w.complain_at(T0 + 25 * D).await;
    assert_eq!(w.state(), TenantState::Warned, "N: six in 30 days");
    let warning = &w.events("complaint.warning").await[0];
    assert_eq!(warning.detail["threshold"], 6);
    assert_eq!(warning.detail["window_seconds"], 30 * 86_400);
    // A seventh 31 days after the first: the window holds six again, but they made the event.
    w.complain_at(T0 + 31 * D).await;
    assert_eq!(w.state(), TenantState::Warned, "N+1");
}

#[tokio::test]
async fn pageant_ten_complaints_in_72h_disable_at_once() {
    let w = world("pageant-server").await;
    for i in 0..9 {
        w.complain_at(T0 + i * H).await;
    }
    assert_eq!(w.state(), TenantState::Warned, "N-1: nine in 72h are one event");
    w.complain_at(T0 + 71 * H).await;
    assert_eq!(w.state(), TenantState::Suspended, "N: ten in 72h");
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.immediate"));
    let suspension = &w.events("complaint.suspension").await[0];
    assert_eq!(suspension.rule.as_deref(), Some("complaints.immediate"));
    assert_eq!(suspension.detail["complaints"], 10);
    assert!(suspension.detail["reason"]
        .as_str()
        .unwrap()
        .contains("ten or more SPAM complaints"));
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning, NoticeKind::Suspension]);
    w.complain_at(T0 + 71 * H + MS).await;
    assert_eq!(w.notices().len(), 2, "N+1: no second suspension notice");
}

#[tokio::test]
async fn pageant_ten_complaints_just_over_72h_do_not_disable() {
    let w = world("pageant-server").await;
    w.complain_at(T0).await;
    for i in 1..10 {
        w.complain_at(T0 + 72 * H + i * MS - 9 * MS).await;
    }
    // The first left the window when the tenth arrived: nine in 72h.
    assert_eq!(w.state(), TenantState::Warned);
    assert_eq!(w.block_by().await, None);
}

#[tokio::test]
async fn pageant_does_not_act_on_anonymous_complaints_but_counts_them() {
    let w = world("pageant-server").await;
    for i in 0..12 {
        let mut complaint = w.complaint(T0 + i * H);
        complaint.reporter = None;
        w.feed(complaint).await;
    }
    assert_eq!(w.state(), TenantState::Active);
    assert!(w.notices().is_empty());
    let rules = aupgate::policy::profile::Profile::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/pageant-server.toml"),
    )
    .unwrap()
    .complaints;
    let summary = summarize(w.store.as_ref(), TENANT, &rules, T0 + 12 * H).await.unwrap();
    assert_eq!(summary.windows[1].window_seconds, 72 * 3600);
    assert_eq!((summary.windows[1].complaints, summary.windows[1].signed), (12, 0));
    // Signed ones still act.
    for i in 0..3 {
        w.complain_at(T0 + 13 * H + i * H).await;
    }
    assert_eq!(w.state(), TenantState::Warned);
}

// ---------------------------------------------------------------- Integra

async fn integra_with_case() -> (World, String, u64) {
    let w = world("integra").await;
    let Recorded::New { id } = w.complain_at(T0).await else {
        panic!("new");
    };
    let deadline = T0 + 7 * D; // Monday + 5 business days = the next Monday
    (w, id, deadline)
}

#[tokio::test]
async fn integra_a_complaint_opens_a_case_and_an_unresolved_one_suspends_at_its_deadline() {
    let (w, id, deadline) = integra_with_case().await;
    assert_eq!(cases::opened_at(&id), Some(T0));
    assert_eq!(w.notice_kinds(), [NoticeKind::CaseOpened]);
    assert!(w.notices()[0].reason.contains(&id), "{}", w.notices()[0].reason);
    assert!(
        w.notices()[0].reason.contains("Mon, 14 Dec 2026 10:00:00"),
        "{}",
        w.notices()[0].reason
    );
    let opened = w.events("complaint.case_opened").await;
    assert_eq!(opened[0].detail["deadline"], deadline);
    assert_eq!(w.state(), TenantState::Active);

    // The reminder: 24h before the deadline, once.
    assert_eq!(w.ladders.check_cases(deadline - 24 * H - MS).await, 0);
    assert_eq!(w.notices().len(), 1);
    w.ladders.check_cases(deadline - 24 * H).await;
    w.ladders.check_cases(deadline - 2 * H).await;
    assert_eq!(w.notice_kinds(), [NoticeKind::CaseOpened, NoticeKind::CaseDeadlineNear]);

    w.ladders.check_cases(deadline - MS).await;
    assert_eq!(w.state(), TenantState::Active, "N-1: before the deadline");
    w.ladders.check_cases(deadline).await;
    assert_eq!(w.state(), TenantState::Suspended, "N: the deadline passed");
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.case_deadline"));
    assert_eq!(w.events("complaint.case_overdue").await.len(), 1);
    assert_eq!(w.notices().last().unwrap().kind, NoticeKind::Suspension);
    w.ladders.check_cases(deadline + H).await;
    assert_eq!(w.notices().len(), 3, "N+1: once per case");

    // Lifted without resolving: the overdue case does not suspend again.
    w.lift(deadline + 2 * H).await;
    w.ladders.check_cases(deadline + 3 * H).await;
    assert_eq!(w.state(), TenantState::Active);
}

#[tokio::test]
async fn integra_a_case_resolved_before_its_deadline_does_not_suspend() {
    let (w, id, deadline) = integra_with_case().await;
    let case = cases::resolve(w.store.as_ref(), &id, "alice", "list cleaned", T0 + 2 * D)
        .await
        .expect("resolved");
    assert_eq!(case.tenant, TENANT);
    assert_eq!(case.resolved.as_ref().unwrap().by, "alice");
    w.ladders.check_cases(deadline + H).await;
    assert_eq!(w.state(), TenantState::Active);
    assert_eq!(w.notice_kinds(), [NoticeKind::CaseOpened]);
    assert!(matches!(
        cases::resolve(w.store.as_ref(), &id, "alice", "again", T0 + 3 * D).await,
        Err(ResolveError::AlreadyResolved(_))
    ));
    assert!(matches!(
        cases::resolve(w.store.as_ref(), "1796637600000-00000000", "alice", "x", T0 + 3 * D).await,
        Err(ResolveError::NotFound(_))
    ));
    let audit = w.store.audit_range(TENANT, 0, u64::MAX).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "complaint.resolve" && a.actor == "alice" && a.target == format!("case:{id}")));
    assert_eq!(w.events("complaint.case_resolved").await.len(), 1);
}

#[tokio::test]
async fn integra_an_urgent_case_has_24_hours() {
    let w = world("integra").await;
    let mut complaint = w.complaint(T0);
    complaint.urgent = true;
    w.feed(complaint).await;
    w.ladders.check_cases(T0 + 24 * H - MS).await;
    assert_eq!(w.state(), TenantState::Active);
    w.ladders.check_cases(T0 + 24 * H).await;
    assert_eq!(w.state(), TenantState::Suspended);
}

#[tokio::test]
async fn integra_two_open_cases_for_one_campaign_suspend() {
    let w = world("integra").await;
    w.complain_at(T0).await;
    let mut other = w.complaint(T0 + H);
    other.campaign = Some("c2".into());
    w.feed(other).await;
    assert_eq!(w.state(), TenantState::Active, "N-1: one open case per campaign");
    w.complain_at(T0 + 2 * H).await;
    assert_eq!(w.state(), TenantState::Suspended, "N: two open cases for c1");
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.related_cases"));
    let kinds = w.notice_kinds();
    assert_eq!(kinds.iter().filter(|k| **k == NoticeKind::CaseOpened).count(), 3);
    assert_eq!(kinds.last(), Some(&NoticeKind::Suspension));
}

#[tokio::test]
async fn integra_a_resolved_case_is_not_related_any_more() {
    let w = world("integra").await;
    let Recorded::New { id } = w.complain_at(T0).await else {
        panic!("new")
    };
    cases::resolve(w.store.as_ref(), &id, "alice", "fixed", T0 + H)
        .await
        .unwrap();
    w.complain_at(T0 + 2 * H).await;
    assert_eq!(w.state(), TenantState::Active);
}

#[tokio::test]
async fn integra_complaints_are_counted_per_calendar_month() {
    let w = world("integra").await;
    // Two in November, three in December (T0 is 2026-12-07).
    for at in [T0 - 10 * D, T0 - 8 * D, T0, T0 + D, T0 + 2 * D] {
        let mut complaint = w.complaint(at);
        complaint.campaign = None; // not related
        w.feed(complaint).await;
    }
    let rules =
        aupgate::policy::profile::Profile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/integra.toml"))
            .unwrap()
            .complaints;
    let summary = summarize(w.store.as_ref(), TENANT, &rules, T0 + 3 * D).await.unwrap();
    assert_eq!(summary.months[0].month, "2026-12");
    assert_eq!(summary.months[0].complaints, 3);
    assert_eq!(summary.months[1].month, "2026-11");
    assert_eq!(summary.months[1].complaints, 2);
    assert_eq!(summary.months.len(), 12);
    assert_eq!(summary.open_cases.len(), 5);
    assert!(summary.rates.is_none(), "Integra judges no rates");
}

// ---------------------------------------------------------------- SocketLabs and default: rates

#[tokio::test]
async fn socketlabs_complaint_rate_review_then_suspend() {
    let w = world("socketlabs").await;
    w.outcomes(1000, 0, T0).await;
    // 0.1% of 1000 = 1 complaint: review, an event on the escalation ladder (1 -> warned).
    w.complain_at(T0 + H).await;
    assert_eq!(w.state(), TenantState::Warned);
    let rate = w.events("complaint.rate").await;
    assert_eq!(rate.len(), 1);
    assert_eq!(rate[0].rule.as_deref(), Some("complaints.complaint_rate"));
    assert_eq!(rate[0].detail["band"], "review");
    assert_eq!(rate[0].detail["recipients"], 1000);
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning]);
    // 2..4 complaints (0.4%): the review band was acted on already this week.
    for i in 2..5 {
        w.complain_at(T0 + i * H).await;
    }
    assert_eq!(w.state(), TenantState::Warned, "N-1: 0.4%");
    assert_eq!(w.events("complaint.rate").await.len(), 1);
    // 5 = 0.5%: suspend.
    w.complain_at(T0 + 5 * H).await;
    assert_eq!(w.state(), TenantState::Suspended, "N: 0.5%");
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.complaint_rate"));
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning, NoticeKind::Suspension]);
    w.complain_at(T0 + 6 * H).await;
    assert_eq!(w.notices().len(), 2, "N+1: nothing more");
}

#[tokio::test]
async fn socketlabs_rates_need_the_minimum_volume() {
    let w = world("socketlabs").await;
    w.outcomes(499, 0, T0).await;
    for i in 0..5 {
        w.complain_at(T0 + i * H).await;
    }
    assert_eq!(w.state(), TenantState::Active, "499 recipients: not judged");
    w.outcomes(1, 0, T0 + 6 * H).await;
    w.ladders
        .judge_rates(&w.tenants.get(TENANT).unwrap(), T0 + 6 * H)
        .await
        .unwrap();
    assert_eq!(w.state(), TenantState::Suspended, "500 recipients, 5 complaints: 1%");
}

#[tokio::test]
async fn default_bounce_rate_bands_on_relay_outcomes() {
    let w = world("default").await;
    let tenant = w.tenants.get(TENANT).unwrap();
    w.outcomes(950, 49, T0).await;
    w.ladders.judge_rates(&tenant, T0).await.unwrap();
    assert_eq!(w.state(), TenantState::Active, "N-1: 49 of 999");
    w.outcomes(0, 1, T0 + MS).await;
    // What the relay calls after counting (at most every 10 s per tenant, on the wall clock):
    // judged here at the injected time.
    w.ladders.judge_rates(&tenant, T0 + MS).await.unwrap();
    assert_eq!(
        w.state(),
        TenantState::Warned,
        "N: 50 of 1000 = 5% is review, an event on the ladder"
    );
    let rate = w.events("complaint.rate").await;
    assert_eq!(rate[0].rule.as_deref(), Some("complaints.bounce_rate"));
    w.outcomes(0, 61, T0 + 2 * MS).await;
    w.ladders.judge_rates(&tenant, T0 + 2 * MS).await.unwrap();
    assert_eq!(w.state(), TenantState::Suspended, "111 of 1061: over 10%");
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.bounce_rate"));
}

#[tokio::test]
async fn outcomes_older_than_the_rate_window_do_not_count() {
    let w = world("default").await;
    w.outcomes(900, 100, T0).await;
    let tenant = w.tenants.get(TENANT).unwrap();
    // 8 days later: the counters' window (7 days, bucketed up to 2.8 h more) is past them.
    w.ladders.judge_rates(&tenant, T0 + 8 * D).await.unwrap();
    assert_eq!(w.state(), TenantState::Active);
    // The watcher the relay calls judges at the wall clock (not T0): nothing either.
    w.ladders.outcome_counted(TENANT).await.unwrap();
    assert_eq!(w.state(), TenantState::Active);
}

#[tokio::test]
async fn unattributed_complaints_have_no_effect() {
    let w = world("spcm").await;
    for i in 0..3 {
        let mut complaint = w.complaint(T0 + i * H);
        complaint.tenant = None;
        w.feed(complaint).await;
    }
    assert_eq!(w.state(), TenantState::Active);
    assert!(w.store.events_range(TENANT, 0, u64::MAX).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complaints_handled_at_once_take_one_step_each() {
    let w = world("spcm").await;
    w.complain_at(T0).await;
    let (a, b) = (w.complaint(T0 + H), w.complaint(T0 + H));
    w.log.0.lock().unwrap().extend([a.clone(), b.clone()]);
    let (ra, rb) = tokio::join!(w.ladders.record(&a), w.ladders.record(&b));
    assert!(ra.is_ok() && rb.is_ok());
    assert_eq!(w.state(), TenantState::Suspended);
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning, NoticeKind::Suspension]);
    assert_eq!(w.events("complaint.warning").await.len(), 1);
}

#[tokio::test]
async fn a_suspended_tenant_is_not_warned_again() {
    let w = world("pageant-server").await;
    let block = aupgate::store::Block {
        tenant: TENANT.into(),
        scope: BlockScope::Tenant,
        target: String::new(),
        by: "alice".into(),
        reason: "open relay".into(),
        at: T0,
        expires_at: None,
    };
    w.store.block_add(&block).await.unwrap();
    w.tenants.get(TENANT).unwrap().state.set(TenantState::Suspended);
    for i in 0..3 {
        w.complain_at(T0 + i * H).await;
    }
    assert_eq!(w.events("complaint.warning").await.len(), 1, "the step is recorded");
    assert!(w.notices().is_empty(), "but not told to a suspended tenant");
    assert_eq!(w.state(), TenantState::Suspended);
}

// ---------------------------------------------------------------- store failures

async fn complaints_counted(w: &World, at: u64) -> u32 {
    aupgate::complaints::counts::in_window(w.store.as_ref(), TENANT, false, at, Duration::from_secs(86_400))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_count_that_failed_is_counted_once_by_the_retry() {
    let w = world("spcm").await;
    let complaint = w.complaint(T0);
    w.log.0.lock().unwrap().push(complaint.clone());
    // The count's marker fails after the count: the count is taken back, the retry counts.
    w.faulty.fail_after("events_check_and_add", 1, 1);
    assert!(
        w.ladders.record(&complaint).await.is_err(),
        "a store failure is an error"
    );
    assert_eq!(complaints_counted(&w, T0 + MS).await, 0);
    assert!(matches!(
        w.ladders.record(&complaint).await.unwrap(),
        Recorded::New { .. }
    ));
    assert!(matches!(
        w.ladders.record(&complaint).await.unwrap(),
        Recorded::Duplicate { .. }
    ));
    assert_eq!(complaints_counted(&w, T0 + 10 * MS).await, 1);
    let month = aupgate::complaints::counts::month_of(T0);
    assert_eq!(
        aupgate::complaints::counts::in_month(w.store.as_ref(), TENANT, &month, T0 + 10 * MS)
            .await
            .unwrap(),
        1
    );
    // A later effect fails (the month counter): the counts already made are not made again.
    let second = w.complaint(T0 + H);
    w.log.0.lock().unwrap().push(second.clone());
    w.faulty.fail_next("counter_add", 1);
    assert!(w.ladders.record(&second).await.is_err());
    assert!(w.ladders.record(&second).await.is_ok());
    assert_eq!(complaints_counted(&w, T0 + H + 10 * MS).await, 2);
    assert_eq!(
        aupgate::complaints::counts::in_month(w.store.as_ref(), TENANT, &month, T0 + H + 10 * MS)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        w.notice_kinds(),
        [NoticeKind::Warning],
        "the step of the second complaint taken"
    );
}

#[tokio::test]
async fn spcm_a_step_whose_event_failed_is_taken_by_the_retry_once() {
    let w = world("spcm").await;
    w.complain_at(T0).await;
    let second = w.complaint(T0 + H);
    w.log.0.lock().unwrap().push(second.clone());
    w.faulty.fail_next("event_append", 1);
    assert!(w.ladders.record(&second).await.is_err());
    assert_eq!(
        w.state(),
        TenantState::Active,
        "the live state moves only with the step"
    );
    assert!(w.events("complaint.warning").await.is_empty());
    assert!(w.ladders.record(&second).await.is_ok());
    assert_eq!(w.state(), TenantState::Warned);
    assert_eq!(w.stored_state().await, TenantState::Warned);
    assert_eq!(w.events("complaint.warning").await.len(), 1);
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning]);
    assert_eq!(complaints_counted(&w, T0 + H + 10 * MS).await, 2, "counted once each");
}

#[tokio::test]
async fn spcm_a_suspension_whose_block_failed_is_taken_by_the_retry() {
    let w = world("spcm").await;
    w.complain_at(T0).await;
    w.complain_at(T0 + H).await;
    assert_eq!(w.state(), TenantState::Warned);
    let third = w.complaint(T0 + 2 * H);
    w.log.0.lock().unwrap().push(third.clone());
    w.faulty.fail_next("block_add", 1);
    assert!(w.ladders.record(&third).await.is_err());
    assert_eq!(w.block_by().await, None);
    assert!(
        w.events("complaint.suspension").await.is_empty(),
        "no step without its block"
    );
    assert!(w.ladders.record(&third).await.is_ok());
    assert_eq!(w.state(), TenantState::Suspended);
    assert_eq!(w.block_by().await.as_deref(), Some("policy:complaints.steps"));
    assert_eq!(w.events("complaint.suspension").await.len(), 1);
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning, NoticeKind::Suspension]);
    assert_eq!(complaints_counted(&w, T0 + 2 * H + 10 * MS).await, 3);
}

#[tokio::test]
async fn the_book_answers_an_error_when_an_effect_fails_and_its_retry_completes_them() {
    use aupgate::complaints::book::ComplaintBook;
    let w = world("spcm").await;
    let book = ComplaintBook::new(w.store.clone(), vec![w.ladders.clone()]);
    let first = w.complaint(T0);
    w.log.0.lock().unwrap().push(first.clone());
    assert!(matches!(book.record(&first).await.unwrap(), Recorded::New { .. }));
    let second = w.complaint(T0 + H);
    w.log.0.lock().unwrap().push(second.clone());
    // The suppression fails: an error, and the retry (a duplicate) runs the effects too.
    w.faulty.fail_next("suppression_add", 1);
    assert!(book.record(&second).await.is_err());
    assert_eq!(complaints_counted(&w, T0 + H + 10 * MS).await, 1);
    assert!(matches!(
        book.record(&second).await.unwrap(),
        Recorded::Duplicate { .. }
    ));
    let recipient = second.recipient.clone().unwrap();
    assert!(w.store.suppression_contains(TENANT, &recipient).await.unwrap());
    assert_eq!(complaints_counted(&w, T0 + H + 10 * MS).await, 2);
    assert_eq!(w.state(), TenantState::Warned);
    // An effect fails (the step's event): an error; the retry takes the step, counts once.
    let third = w.complaint(T0 + 2 * H);
    w.log.0.lock().unwrap().push(third.clone());
    w.faulty.fail_next("event_append", 1);
    assert!(book.record(&third).await.is_err());
    assert_eq!(w.state(), TenantState::Warned);
    assert!(matches!(book.record(&third).await.unwrap(), Recorded::Duplicate { .. }));
    assert_eq!(w.state(), TenantState::Suspended);
    assert_eq!(w.events("complaint.suspension").await.len(), 1);
    assert_eq!(complaints_counted(&w, T0 + 2 * H + 10 * MS).await, 3);
    // Done: a further resend changes nothing.
    assert!(matches!(book.record(&third).await.unwrap(), Recorded::Duplicate { .. }));
    assert_eq!(complaints_counted(&w, T0 + 2 * H + 10 * MS).await, 3);
    assert_eq!(w.notice_kinds(), [NoticeKind::Warning, NoticeKind::Suspension]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_store_take_a_step_once() {
    for round in 0..5 {
        let w = world("spcm").await;
        let (other, _) = w.second_node().await;
        w.complain_at(T0).await;
        let (a, b) = (w.complaint(T0 + H), w.complaint(T0 + H + MS));
        w.log.0.lock().unwrap().extend([a.clone(), b.clone()]);
        let (ra, rb) = tokio::join!(w.ladders.record(&a), other.record(&b));
        assert!(ra.is_ok() && rb.is_ok(), "round {round}");
        assert_eq!(w.events("complaint.warning").await.len(), 1, "round {round}");
    }
}

#[tokio::test]
async fn a_step_that_failed_on_one_node_is_taken_by_the_retry_on_another() {
    let w = world("spcm").await;
    let (other, other_tenants) = w.second_node().await;
    w.complain_at(T0).await;
    let second = w.complaint(T0 + H);
    w.log.0.lock().unwrap().push(second.clone());
    w.faulty.fail_next("event_append", 1);
    assert!(w.ladders.record(&second).await.is_err());
    assert!(
        other.record(&second).await.is_ok(),
        "the failed step's claim was given back"
    );
    assert_eq!(w.events("complaint.warning").await.len(), 1);
    assert_eq!(other_tenants.get(TENANT).unwrap().state.get(), TenantState::Warned);
    assert_eq!(complaints_counted(&w, T0 + H + 10 * MS).await, 2);
}
