//! The table at the top of bench/RESULTS.md: every budgeted metric with ferrochat's figure, the
//! baseline's where there is one, their ratio, the budget and whether it is met.

use std::fmt::Write as _;

/// One budgeted metric.
pub struct Budgeted {
    pub metric: String,
    pub ferrochat: String,
    /// "—" where nothing is compared.
    pub baseline: String,
    pub ratio: String,
    pub budget: String,
    pub met: bool,
}

impl Budgeted {
    /// A metric without a baseline.
    pub fn alone(metric: &str, ferrochat: String, budget: &str, met: bool) -> Self {
        Budgeted {
            metric: metric.to_owned(),
            ferrochat,
            baseline: "—".into(),
            ratio: "—".into(),
            budget: budget.to_owned(),
            met,
        }
    }
}

/// Requests per second, rounded.
pub fn per_second(value: f64) -> String {
    format!("{:.0} req/s", value)
}

/// The summary table.
pub fn table(rows: &[Budgeted]) -> String {
    let mut out = String::from(
        "| metric | ferrochat | baseline | ratio | budget | |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.metric,
            row.ferrochat,
            row.baseline,
            row.ratio,
            row.budget,
            if row.met { "pass" } else { "**FAIL**" }
        );
    }
    let failed = rows.iter().filter(|row| !row.met).count();
    let _ = writeln!(
        out,
        "\n{} of {} budgets met{}.",
        rows.len() - failed,
        rows.len(),
        if failed > 0 {
            ": the failures are findings, not noise to hide"
        } else {
            ""
        }
    );
    out
}
