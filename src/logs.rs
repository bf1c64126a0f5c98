//! Log lines on stderr (tracing): every line names its source — `master`,
//! `worker 2`, `count` — and, while a job runs, the job's id, so that the
//! interleaved logs of a `run` (whose workers share the terminal) read at a
//! glance. A job id is written one way everywhere, logs, errors and metrics:
//! 16 lowercase hex digits ([`job_hex`]). Colour only on a terminal, and
//! never when `NO_COLOR` is set.

use std::fmt;
use std::io::IsTerminal;
use std::sync::RwLock;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// What this process is, as log lines name it.
static SOURCE: RwLock<String> = RwLock::new(String::new());

/// A job id as it is written everywhere.
pub fn job_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// Starts logging at `level` (`error` … `trace`; `RUST_LOG` overrides it)
/// for a process that logs as `source`.
pub fn init(level: &str, source: &str) {
    set_source(source);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("wordfreq={level}")));
    let colour = colour_wanted(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .event_format(Line { colour })
        .try_init();
}

/// Names the source of the lines logged from now on (a worker takes its
/// rank and job when a job starts, and drops them when it ends).
pub fn set_source(source: impl Into<String>) {
    if let Ok(mut s) = SOURCE.write() {
        *s = source.into();
    }
}

/// The source and job of a node in a job, e.g. `worker 2 job 00c0ffee00c0ffee`.
pub fn in_job(role: &str, job_id: u64) -> String {
    format!("{role} job {}", job_hex(job_id))
}

/// Colour on a terminal unless `NO_COLOR` is set to anything but "" (as
/// no-color.org asks).
fn colour_wanted(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// One log line: `TIME LEVEL SOURCE: MESSAGE`.
struct Line {
    colour: bool,
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        SystemTime.format_time(&mut writer)?;
        let level = *event.metadata().level();
        if self.colour {
            let code = match level {
                Level::ERROR => 31,
                Level::WARN => 33,
                Level::INFO => 32,
                Level::DEBUG => 34,
                Level::TRACE => 35,
            };
            write!(writer, " \x1b[{code}m{level:>5}\x1b[0m")?;
        } else {
            write!(writer, " {level:>5}")?;
        }
        let source = SOURCE.read().map(|s| s.clone()).unwrap_or_default();
        write!(writer, " {source}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_have_one_form() {
        assert_eq!(job_hex(0xc0ffee), "0000000000c0ffee");
        assert_eq!(in_job("worker 2", u64::MAX), "worker 2 job ffffffffffffffff");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some("".into())));
        assert!(!colour_wanted(true, Some("1".into())));
        assert!(!colour_wanted(false, None));
    }
}
