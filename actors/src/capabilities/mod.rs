//! What the Claude Code CLI of a session can do, as its `initialize` answer says (protocol §16):
//! its slash commands and skills, agents, models with their effort levels, output styles and
//! version, plus the permission modes its `set_permission_mode` accepts (learned from the CLI's
//! own `invalid_mode` answer, see [`modes`]).
//!
//! Claude Code's answer changes from release to release, so it is read tolerantly: every field
//! may be missing, unknown fields are ignored, an entry that makes no sense (a command without a
//! name) is skipped, and an answer that is not an object gives empty capabilities. Nothing here
//! ever fails.

pub mod modes;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Effort levels of the pinned CLI (2.1.330, `claude --help`: `--effort <level>`), offered when
/// the CLI has not said which levels a model takes.
pub const PINNED_EFFORTS: [&str; 5] = ["low", "medium", "high", "xhigh", "max"];

/// A slash command or skill the CLI offers (`/name args`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashCommand {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// What to type after the name, as the CLI shows it (`[issue description]`).
    #[serde(default)]
    pub argument_hint: String,
    /// Other names of the same command (`review` for `code-review`).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// A subagent the CLI can hand work to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The model it runs on (`inherit`, `sonnet`), when the CLI says.
    #[serde(default)]
    pub model: Option<String>,
}

/// A model the CLI offers, with the effort levels it takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// What to pass as `--model` or to `set_model` (`opus`, `default`).
    pub value: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    /// The full model name the alias stands for today.
    #[serde(default)]
    pub resolved_model: Option<String>,
    #[serde(default)]
    pub supports_effort: bool,
    #[serde(default)]
    pub effort_levels: Vec<String>,
}

/// One CLI's capabilities, as the relay keeps, stores and shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub claude_code_version: Option<String>,
    #[serde(default)]
    pub commands: Vec<SlashCommand>,
    #[serde(default)]
    pub agents: Vec<AgentInfo>,
    #[serde(default)]
    pub models: Vec<ModelInfo>,
    #[serde(default)]
    pub output_style: Option<String>,
    #[serde(default)]
    pub output_styles: Vec<String>,
    /// The modes `set_permission_mode` accepts, as the CLI listed them; empty when it never said
    /// (older CLIs accept any text there).
    #[serde(default)]
    pub permission_modes: Vec<String>,
}

/// The parts of `initialize`'s answer the relay reads, in the CLI's spelling.
#[derive(Deserialize, Default)]
#[serde(default)]
struct InitializeAnswer {
    commands: Vec<Value>,
    agents: Vec<Value>,
    models: Vec<Value>,
    output_style: Option<Value>,
    available_output_styles: Vec<Value>,
    claude_code_version: Option<Value>,
    current_permission_mode: Option<Value>,
}

/// The text of `value` when it is a non-empty string.
fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn texts(values: Option<&Value>) -> Vec<String> {
    match values {
        Some(Value::Array(items)) => items.iter().filter_map(|v| text(Some(v))).collect(),
        _ => Vec::new(),
    }
}

fn command(entry: &Value) -> Option<SlashCommand> {
    Some(SlashCommand {
        name: text(entry.get("name"))?,
        description: text(entry.get("description")).unwrap_or_default(),
        argument_hint: text(entry.get("argumentHint")).unwrap_or_default(),
        aliases: texts(entry.get("aliases")),
    })
}

fn agent(entry: &Value) -> Option<AgentInfo> {
    // Older CLIs list agents by name only.
    if let Some(name) = text(Some(entry)) {
        return Some(AgentInfo {
            name,
            ..AgentInfo::default()
        });
    }
    Some(AgentInfo {
        name: text(entry.get("name"))?,
        description: text(entry.get("description")).unwrap_or_default(),
        model: text(entry.get("model")),
    })
}

fn model(entry: &Value) -> Option<ModelInfo> {
    let effort_levels = texts(entry.get("supportedEffortLevels"));
    let supports_effort = entry
        .get("supportsEffort")
        .and_then(Value::as_bool)
        .unwrap_or(!effort_levels.is_empty());
    Some(ModelInfo {
        value: text(entry.get("value"))?,
        display_name: text(entry.get("displayName")).unwrap_or_default(),
        description: text(entry.get("description")).unwrap_or_default(),
        resolved_model: text(entry.get("resolvedModel")),
        supports_effort,
        effort_levels,
    })
}

impl Capabilities {
    /// Reads the `response` body of the CLI's `initialize` answer; also answers the permission
    /// mode the CLI says it is in.
    pub fn from_initialize(body: &Value) -> (Capabilities, Option<String>) {
        let answer: InitializeAnswer = serde_json::from_value(body.clone()).unwrap_or_default();
        let capabilities = Capabilities {
            claude_code_version: text(answer.claude_code_version.as_ref()),
            commands: answer.commands.iter().filter_map(command).collect(),
            agents: answer.agents.iter().filter_map(agent).collect(),
            models: answer.models.iter().filter_map(model).collect(),
            output_style: text(answer.output_style.as_ref()),
            output_styles: answer
                .available_output_styles
                .iter()
                .filter_map(|v| text(Some(v)))
                .collect(),
            permission_modes: Vec::new(),
        };
        (capabilities, text(answer.current_permission_mode.as_ref()))
    }

    /// The model `name` names: by its value (`opus`) or the full name it resolves to.
    pub fn model(&self, name: &str) -> Option<&ModelInfo> {
        self.models
            .iter()
            .find(|m| m.value == name || m.resolved_model.as_deref() == Some(name))
    }

    /// Whether `model` may be asked for: any value when the CLI listed none, else one it listed.
    pub fn check_model(&self, model: &str) -> Result<(), String> {
        if self.models.is_empty() || self.model(model).is_some() {
            return Ok(());
        }
        let valid: Vec<&str> = self.models.iter().map(|m| m.value.as_str()).collect();
        Err(format!(
            "model {model:?} is not one this Claude Code offers; valid: {}",
            valid.join(", ")
        ))
    }
}

/// The effort levels a session may ask for with `model` (`None`: the CLI's default model):
/// what the CLI listed for it when it is known, else the pinned CLI's levels.
pub fn effort_levels(capabilities: Option<&Capabilities>, model: Option<&str>) -> Vec<String> {
    let known = capabilities.and_then(|c| c.model(model.unwrap_or("default")));
    match known {
        Some(m) if m.supports_effort => m.effort_levels.clone(),
        Some(_) => Vec::new(),
        None => PINNED_EFFORTS.iter().map(|e| e.to_string()).collect(),
    }
}

/// Whether `effort` may be asked for with `model`, with a clear error naming the valid ones.
pub fn check_effort(
    capabilities: Option<&Capabilities>,
    model: Option<&str>,
    effort: &str,
) -> Result<(), String> {
    let valid = effort_levels(capabilities, model);
    if valid.iter().any(|e| e == effort) {
        return Ok(());
    }
    let model = model.unwrap_or("default");
    if valid.is_empty() {
        return Err(format!("model {model:?} takes no effort level"));
    }
    Err(format!(
        "effort {effort:?} is not one model {model:?} takes; valid: {}",
        valid.join(", ")
    ))
}

/// What `session.capabilities` answers and the `session.capabilities` event carries: the
/// session's last known capabilities (`known: false` and `null` when its CLI never answered),
/// and what a client may choose now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CapabilitiesView {
    pub known: bool,
    pub capabilities: Option<std::sync::Arc<Capabilities>>,
    /// The permission modes a client may choose: the CLI's (or the pinned CLI's while unknown),
    /// `bypassPermissions` only when the configuration allows it.
    pub permission_modes: Vec<String>,
    /// `sessions.allow_bypass_permissions`.
    pub allow_bypass_permissions: bool,
    /// The effort levels of the session's current model (the pinned CLI's while unknown).
    pub effort_levels: Vec<String>,
}

impl CapabilitiesView {
    /// The view of a session with these capabilities, model and configuration.
    pub fn new(
        capabilities: Option<std::sync::Arc<Capabilities>>,
        model: Option<&str>,
        sessions: &crate::config::SessionsConfig,
    ) -> Self {
        let known_modes = capabilities
            .as_ref()
            .map(|c| c.permission_modes.clone())
            .unwrap_or_default();
        CapabilitiesView {
            known: capabilities.is_some(),
            permission_modes: modes::selectable_modes(&known_modes, sessions),
            allow_bypass_permissions: sessions.allow_bypass_permissions,
            effort_levels: effort_levels(capabilities.as_deref(), model),
            capabilities,
        }
    }
}
