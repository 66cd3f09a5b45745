//! `aupgate admin backup DIR`: asks the running gateway to write a consistent backup of its
//! queue and store into DIR under its backup root (`POST /api/v1/backup`), and says what it
//! wrote. The gateway writes the files; this command only asks.

use reqwest::Method;

use super::client::{Api, Failure};
use super::show;
use crate::admin::backup::BackupRequest;
use crate::backup::BackupReport;

pub async fn run(api: &Api, as_json: bool, directory: String) -> Result<(), Failure> {
    let request = BackupRequest { directory };
    let report: BackupReport = api.call(Method::POST, "/api/v1/backup", Some(&request)).await?;
    if as_json {
        show::json(&report);
        return Ok(());
    }
    outln!("backup written to {} in {} ms", report.directory, report.took_ms);
    outln!("  queue: {}", report.queue);
    match &report.store {
        Some(store) => outln!("  store: {store}"),
        None => outln!(
            "  store: not included: the {} store keeps its data itself (back it up with its own persistence)",
            report.backend
        ),
    }
    if !report.files.is_empty() {
        outln!("  keys:  {}", report.files.join(", "));
    }
    outln!("restore: stop the gateway, copy the directory's contents into its data_dir, start it");
    Ok(())
}
