//! What a scenario measured: its figures in order, the targets it is held to, and notes; printed
//! as a table and written as JSON together with the command line that produced it.

use serde_json::{json, Map, Value};

use crate::stats::{ms, MedianInterval, Summary};

/// One scenario's results.
pub struct Report {
    pub scenario: &'static str,
    /// The command line that runs this scenario alone with the same options.
    pub command: String,
    figures: Vec<Figure>,
    targets: Vec<Target>,
    notes: Vec<String>,
}

struct Figure {
    key: String,
    value: Value,
    unit: &'static str,
}

/// A goal from the benchmark brief and whether this run met it.
struct Target {
    what: String,
    actual: f64,
    comparison: Comparison,
    limit: f64,
    unit: &'static str,
}

#[derive(Clone, Copy)]
pub enum Comparison {
    Below,
    AtMost,
    AtLeast,
}

impl Comparison {
    fn symbol(self) -> &'static str {
        match self {
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
            Comparison::AtLeast => ">=",
        }
    }

    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Comparison::Below => actual < limit,
            Comparison::AtMost => actual <= limit,
            Comparison::AtLeast => actual >= limit,
        }
    }
}

impl Target {
    fn met(&self) -> bool {
        self.comparison.holds(self.actual, self.limit)
    }

    /// How far off a missed target is, as a factor of the limit.
    fn factor(&self) -> f64 {
        match self.comparison {
            Comparison::AtLeast => self.limit / self.actual.max(f64::MIN_POSITIVE),
            _ => self.actual / self.limit,
        }
    }
}

impl Report {
    /// A report that starts with the machine's 1-minute load average (the run shares the cores
    /// with whatever else runs).
    pub fn new(scenario: &'static str, command: String) -> Report {
        let mut report = Report {
            scenario,
            command,
            figures: Vec::new(),
            targets: Vec::new(),
            notes: Vec::new(),
        };
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok());
        if let Some(load) = load {
            report.float("machine_load_average_1m", load, "");
        }
        report
    }

    /// Adds a figure; the JSON key gets the unit as suffix (`p99_ms`).
    pub fn figure(&mut self, key: &str, value: impl Into<Value>, unit: &'static str) {
        self.figures.push(Figure {
            key: key.to_string(),
            value: value.into(),
            unit,
        });
    }

    /// A float figure rounded to 3 decimals.
    pub fn float(&mut self, key: &str, value: f64, unit: &'static str) {
        self.figure(key, round3(value), unit);
    }

    /// A latency summary as `key_samples`, `key_p50`, `key_p99`, `key_max` and `key_mean`, in ms.
    pub fn latency(&mut self, key: &str, summary: &Summary) {
        self.figure(&format!("{key}_samples"), summary.count, "");
        self.float(&format!("{key}_p50"), ms(summary.p50), "ms");
        self.float(&format!("{key}_p99"), ms(summary.p99), "ms");
        self.float(&format!("{key}_max"), ms(summary.max), "ms");
        self.float(&format!("{key}_mean"), ms(summary.mean), "ms");
    }

    /// A median as `key`, with its 95% interval as `key_ci95_low` and `key_ci95_high`.
    pub fn median_interval(&mut self, key: &str, median: &MedianInterval, unit: &'static str) {
        self.float(key, median.median, unit);
        self.float(&format!("{key}_ci95_low"), median.low, unit);
        self.float(&format!("{key}_ci95_high"), median.high, unit);
    }

    pub fn target(
        &mut self,
        what: &str,
        actual: f64,
        comparison: Comparison,
        limit: f64,
        unit: &'static str,
    ) {
        self.targets.push(Target {
            what: what.to_string(),
            actual,
            comparison,
            limit,
            unit,
        });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn all_met(&self) -> bool {
        self.targets.iter().all(Target::met)
    }

    /// The human-readable table.
    pub fn print(&self) {
        println!("\n== {} ==", self.scenario);
        println!("command: {}", self.command);
        for f in &self.figures {
            let value = match &f.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("  {:<36} {:>16} {}", f.key, value, f.unit);
        }
        for t in &self.targets {
            let factor = t.factor();
            let verdict = if t.met() {
                "met".to_string()
            } else if factor.is_finite() && t.limit != 0.0 {
                format!("MISSED ({factor:.2}x the limit)")
            } else {
                "MISSED".to_string()
            };
            println!(
                "  target: {} {} {} {} -> {} {}: {}",
                t.what,
                t.comparison.symbol(),
                t.limit,
                t.unit,
                round3(t.actual),
                t.unit,
                verdict
            );
        }
        for n in &self.notes {
            println!("  note: {n}");
        }
    }

    pub fn to_json(&self) -> Value {
        let mut figures = Map::new();
        for f in &self.figures {
            let key = if f.unit.is_empty() {
                f.key.clone()
            } else {
                format!("{}_{}", f.key, unit_suffix(f.unit))
            };
            figures.insert(key, f.value.clone());
        }
        let targets: Vec<Value> = self
            .targets
            .iter()
            .map(|t| {
                json!({"what": t.what, "comparison": t.comparison.symbol(), "limit": t.limit,
                       "actual": round3(t.actual), "unit": t.unit, "met": t.met()})
            })
            .collect();
        json!({"scenario": self.scenario, "command": self.command, "figures": figures,
               "targets": targets, "notes": self.notes})
    }
}

fn unit_suffix(unit: &str) -> String {
    unit.replace('/', "_per_")
        .replace('%', "pct")
        .replace(' ', "_")
}

fn round3(value: f64) -> f64 {
    if value.is_finite() {
        (value * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}
