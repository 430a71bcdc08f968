//! `denytrail explain`: each group in prose — what was denied, the likely causes with evidence,
//! the commands that confirm them, and the corrective policy where one applies.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::{Exit, exit_for};
use crate::cli::ExplainArgs;
use crate::event::Event;
use crate::plan::{EventsFrom, usage};
use crate::report::{self, escape::display};

pub fn run(args: &ExplainArgs) -> Result<Exit> {
    let quiet = args.run.quiet;
    if args.group == Some(0) {
        return Err(usage("--group counts from 1 (the group with the most denials)"));
    }
    let from = EventsFrom::of(args.events.as_deref(), &args.input, &args.aws, quiet, Utc::now())?;
    let config_from = crate::plan::ConfigFrom::of(&args.live)?;
    let configuration = super::Configuration::prepare(&config_from)?;
    let saved = matches!(from, EventsFrom::Saved(..));
    let mut out = super::events(from)?;
    let config = configuration.resolve(&out, &crate::plan::aws_options(&args.aws), quiet)?;
    let snapshot = config.as_ref().map(|c| &c.0);
    // Only the order and keys of the groups are needed here; each is diagnosed once below.
    let groups = report::rows_of(&out.groups, &HashMap::new());
    let chosen: Vec<(usize, &report::Group)> = match args.group {
        Some(n) if n > groups.len() => {
            return Err(usage(format!("--group {n}: the report has {} group(s)", groups.len())));
        }
        Some(n) => vec![(n, &groups[n - 1])],
        None => groups.iter().enumerate().map(|(i, g)| (i + 1, g)).collect(),
    };
    let index = crate::diagnose::Companions::new(out.companions.iter().chain(&out.targets).collect());
    let mut live = config.as_ref().map(|c| c.1.clone());
    let mut stdout = std::io::stdout().lock();
    if chosen.is_empty() {
        writeln!(stdout, "no matching denials")?;
    }
    for (rank, g) in chosen {
        let key = g.key();
        let members: Vec<&Event> = out.targets.iter().filter(|e| key.holds(e)).collect();
        let d = denytrail_core::diagnose_one(&members, &index, snapshot);
        if let Some(live) = &mut live {
            let (confidence, confirmed_by) = (d.confidence_column(), d.confirmed_by_column());
            super::count_verdicts(live, std::iter::once((confidence.as_str(), confirmed_by.as_str())));
        }
        let text = crate::diagnose::explain_group(&members, &d);
        writeln!(stdout, "## Group {rank} of {}\n", groups.len())?;
        // Log text inside the explanation is shown escaped, never raw.
        for line in text.lines() {
            writeln!(stdout, "{}", display(line))?;
        }
        writeln!(stdout)?;
    }
    drop(index);
    out.stats.live = live;
    if !quiet && !saved {
        eprint!("{}", report::summary::render(&out.stats, groups.len()));
    } else if !quiet && let Some(live) = &out.stats.live {
        let stats = crate::stats::Stats { live: Some(live.clone()), ..Default::default() };
        if let Some(line) = report::summary::render(&stats, 0).lines().find(|l| l.contains("configuration of")) {
            eprintln!("{line}");
        }
    }
    Ok(exit_for(&out, args.run.fail_on_findings, !groups.is_empty()))
}
