//! The names a complaint ladder writes into the tenant's event log: one table read by the
//! writers (`ladder`, `cases`, `rates`), the escalation ladder (which counts [`Kind::Rate`]
//! events as it counts violations) and the readers (`cases` folding a case's history, the
//! summary). Never spell these strings anywhere else.

/// The kind of an event a complaint ladder records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A step or an immediate rule warned the tenant.
    Warning,
    /// A step or an immediate rule gave the final warning.
    FinalWarning,
    /// A step, an immediate rule, an overdue case or related cases suspended the tenant.
    Suspension,
    /// A complaint opened a case.
    CaseOpened,
    /// The "deadline near" notice of a case went out.
    CaseDeadlineNear,
    /// A case passed its deadline unresolved.
    CaseOverdue,
    /// An operator resolved a case.
    CaseResolved,
    /// A complaint- or bounce-rate band was crossed: an event on the `[escalation]` ladder.
    Rate,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Warning,
        Kind::FinalWarning,
        Kind::Suspension,
        Kind::CaseOpened,
        Kind::CaseDeadlineNear,
        Kind::CaseOverdue,
        Kind::CaseResolved,
        Kind::Rate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Warning => "complaint.warning",
            Kind::FinalWarning => "complaint.final_warning",
            Kind::Suspension => "complaint.suspension",
            Kind::CaseOpened => "complaint.case_opened",
            Kind::CaseDeadlineNear => "complaint.case_deadline_near",
            Kind::CaseOverdue => "complaint.case_overdue",
            Kind::CaseResolved => "complaint.case_resolved",
            Kind::Rate => "complaint.rate",
        }
    }

    pub fn parse(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

/// The rule a complaint event names (the event's `rule`, a block's `by` = `policy:<rule>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LadderRule {
    /// `[[complaints.steps]]`.
    Steps,
    /// `[[complaints.immediate]]`.
    Immediate,
    /// `[complaints.cases]`: opened, reminded, resolved.
    Case,
    /// A case past its deadline.
    CaseDeadline,
    /// `related_open_cases` open cases for one campaign.
    RelatedCases,
    /// The complaint rate.
    ComplaintRate,
    /// The hard-bounce rate.
    BounceRate,
}

impl LadderRule {
    pub fn as_str(self) -> &'static str {
        match self {
            LadderRule::Steps => "complaints.steps",
            LadderRule::Immediate => "complaints.immediate",
            LadderRule::Case => "complaints.case",
            LadderRule::CaseDeadline => "complaints.case_deadline",
            LadderRule::RelatedCases => "complaints.related_cases",
            LadderRule::ComplaintRate => "complaints.complaint_rate",
            LadderRule::BounceRate => "complaints.bounce_rate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("violation"), None);
    }
}
