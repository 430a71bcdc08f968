//! `--events-out` fed by the collector as events are kept ([`crate::collect::Tap`]), so the
//! events are never all in memory. A bucket owner's copy of a cross-account request only stands
//! if its caller's copy never turns up, and a caller's copy that names no bucket owner learns it
//! from the owner's copy; both are known at the end: such copies wait in anonymous temporary
//! files (spilled, not held) and are written, completed or dropped, when settled. Past the
//! identities' limit the same copy may come twice: the files are split by identity, and each
//! is read back with a set of its own, so one copy stands (a 16th of them in memory at a time).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use denytrail_core::tally::{Identity, LearnedOwners, rewound, spill_file};

use super::escape::display;
use super::hive::EventsOut;
use crate::event::Event;

/// Rows handed to the writer at once when provisional copies are read back.
const BATCH: usize = 4096;
/// Files the provisional copies are split into, by identity.
const PARTS: usize = 16;

#[derive(Default)]
struct State {
    out: Option<EventsOut>,
    /// The first write error: it stops the writing (the scan goes on) and fails the command.
    error: Option<anyhow::Error>,
    /// Provisional copies, one JSON line each (the identity, then the event), by identity.
    spill: Vec<Option<BufWriter<File>>>,
    /// The denials counted more than once ([`crate::collect::Tap::settle`]).
    repeated: HashSet<Identity>,
}

impl State {
    fn attempt(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) {
        if self.error.is_none()
            && let Err(e) = f(self)
        {
            self.error = Some(e);
        }
    }
}

/// The events writer shared between the command and the collector's tap.
#[derive(Clone)]
pub struct Stream(Arc<Mutex<State>>);

impl Stream {
    pub fn open(out: EventsOut) -> Stream {
        Stream(Arc::new(Mutex::new(State { out: Some(out), ..State::default() })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn tap(&self) -> Box<dyn crate::collect::Tap + Send> {
        Box::new(self.clone())
    }

    /// Flushes and closes the writer; says what was written unless `quiet`.
    pub fn finish(this: Option<Stream>, quiet: bool) -> Result<()> {
        let Some(this) = this else { return Ok(()) };
        let state = std::mem::take(&mut *this.state());
        if let Some(e) = state.error {
            return Err(e);
        }
        let Some(to) = state.out else { return Ok(()) };
        let name = to.target().name();
        let partitioned = to.target().is_partitioned();
        let s = to.finish(&state.repeated)?;
        if !quiet {
            let layout = if partitioned {
                format!(" ({} files in {} partitions)", s.files, s.partitions)
            } else {
                String::new()
            };
            eprintln!("denytrail: events: {} rows written to {}{layout}", s.rows, display(&name));
        }
        Ok(())
    }
}

impl crate::collect::Tap for Stream {
    fn kept(&mut self, events: &[&Event]) {
        self.kept_owned(events.iter().map(|e| (*e).clone()).collect());
    }

    fn kept_owned(&mut self, events: Vec<Event>) {
        self.state().attempt(|s| match &mut s.out {
            Some(out) => out.add_owned(events),
            None => Ok(()),
        });
    }

    fn counted(&mut self, events: Vec<Event>, identities: Vec<Identity>) {
        self.state().attempt(|s| match &mut s.out {
            Some(out) => out.add_counted(events, identities),
            None => Ok(()),
        });
    }

    fn provisional(&mut self, event: &Event, identity: Identity) {
        self.state().attempt(|s| {
            if s.spill.is_empty() {
                s.spill.resize_with(PARTS, || None);
            }
            let part = &mut s.spill[(identity >> 124) as usize % PARTS];
            let w = match part {
                Some(w) => w,
                None => part.insert(spill_file().context("cannot make a temporary file for --events-out")?),
            };
            write!(w, "{identity:032x} ")?;
            serde_json::to_writer(&mut *w, event)?;
            w.write_all(b"\n")?;
            Ok(())
        });
    }

    fn settle(&mut self, withdrawn: &HashSet<Identity>, owners: &LearnedOwners, repeated: &HashSet<Identity>) {
        self.state().attempt(|s| {
            s.repeated.extend(repeated);
            let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
            let flush = |batch: &mut Vec<Event>, out: &mut Option<EventsOut>| -> Result<()> {
                let batch = std::mem::take(batch);
                match out {
                    Some(out) => out.add_owned(batch),
                    None => Ok(()),
                }
            };
            for part in std::mem::take(&mut s.spill).into_iter().flatten() {
                let (file, _) = rewound(part)?;
                let mut stands: HashSet<Identity> = HashSet::new();
                for line in BufReader::new(file).lines() {
                    let line = line?;
                    let (id, event) = line.split_once(' ').context("a damaged --events-out spill line")?;
                    let id = Identity::from_str_radix(id, 16).context("a damaged --events-out spill line")?;
                    if withdrawn.contains(&id) || !stands.insert(id) {
                        continue;
                    }
                    let mut event: Event = serde_json::from_str(event)?;
                    owners.fill(&mut event);
                    batch.push(event);
                    if batch.len() == BATCH {
                        flush(&mut batch, &mut s.out)?;
                    }
                }
            }
            flush(&mut batch, &mut s.out)
        });
    }
}
