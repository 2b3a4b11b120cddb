// What each session's Claude Code can do (protocol §16): `session.capabilities` answers and
// `session.capabilities` events, kept per session, and the pure helpers the composer and the
// pickers use (slash-command matching, the modes and efforts to offer). Everything here is data
// from the CLI: it is shown as text only, never as HTML.

import { notify } from "./store";

export interface SlashCommand {
  name: string;
  description?: string;
  argument_hint?: string;
  aliases?: string[];
}

export interface ModelInfo {
  value: string;
  display_name?: string;
  description?: string;
  resolved_model?: string | null;
  supports_effort?: boolean;
  effort_levels?: string[];
}

export interface Capabilities {
  claude_code_version?: string | null;
  commands?: SlashCommand[];
  models?: ModelInfo[];
  permission_modes?: string[];
  output_style?: string | null;
  output_styles?: string[];
}

export interface CapabilitiesView {
  known: boolean;
  capabilities: Capabilities | null;
  permission_modes: string[];
  allow_bypass_permissions: boolean;
  effort_levels: string[];
}

/** The pinned CLI's modes and efforts, until the server answered (and for a server before §16). */
export const FALLBACK_MODES = ["default", "acceptEdits", "plan", "dontAsk", "auto"];
export const FALLBACK_EFFORTS = ["low", "medium", "high", "xhigh", "max"];

const bySession = new Map<string, CapabilitiesView>();

export function capabilitiesOf(sessionId: string): CapabilitiesView | undefined {
  return bySession.get(sessionId);
}

/** Keeps an answer or an event's data (ignored unless it looks like one). */
export function putCapabilities(sessionId: string, data: unknown): void {
  const v = data as Partial<CapabilitiesView> | null;
  if (!v || typeof v !== "object" || !Array.isArray(v.permission_modes)) return;
  bySession.set(sessionId, {
    known: v.known === true,
    capabilities: v.capabilities && typeof v.capabilities === "object" ? v.capabilities : null,
    permission_modes: v.permission_modes.map(String),
    allow_bypass_permissions: v.allow_bypass_permissions === true,
    effort_levels: Array.isArray(v.effort_levels) ? v.effort_levels.map(String) : [],
  });
  notify();
}

/** Asks the server (errors are quiet: the pickers fall back to the pinned lists). */
export async function loadCapabilities(sessionId: string, request: (type: string, fields: Record<string, unknown>) => Promise<unknown>): Promise<void> {
  try {
    putCapabilities(sessionId, await request("session.capabilities", { session_id: sessionId }));
  } catch {
    /* an older server, or offline: fallbacks */
  }
}

/** The modes to offer, always including the session's current one. */
export function modesToOffer(view: CapabilitiesView | undefined, current: string): string[] {
  const modes = view ? [...view.permission_modes] : [...FALLBACK_MODES];
  if (current && !modes.includes(current)) modes.unshift(current);
  return modes;
}

/** The models to offer: the CLI's, plus the session's current one when the CLI did not list it. */
export function modelsToOffer(view: CapabilitiesView | undefined, current: string | null | undefined): ModelInfo[] {
  const models = [...(view?.capabilities?.models ?? [])];
  if (current && !models.some((m) => m.value === current || m.resolved_model === current)) models.unshift({ value: current });
  return models;
}

/** The effort levels of `model` (the CLI's when it listed the model, else the pinned ones). */
export function effortsFor(view: CapabilitiesView | undefined, model: string | null | undefined): string[] {
  const m = view?.capabilities?.models?.find((x) => x.value === (model || "default") || x.resolved_model === model);
  if (m) return m.supports_effort === false ? [] : (m.effort_levels ?? []);
  return FALLBACK_EFFORTS;
}

/** The slash command being typed: the text is `/word` with no space yet. */
export function slashQuery(text: string): string | null {
  const m = /^\/([^\s/]*)$/.exec(text);
  return m ? (m[1] ?? "").toLowerCase() : null;
}

/** Commands whose name or alias starts with (then contains) the query, at most `limit`. */
export function matchCommands(commands: SlashCommand[], query: string, limit = 8): SlashCommand[] {
  const names = (c: SlashCommand) => [c.name, ...(c.aliases ?? [])].map((n) => n.toLowerCase());
  const starts = commands.filter((c) => names(c).some((n) => n.startsWith(query)));
  const contains = commands.filter((c) => !starts.includes(c) && names(c).some((n) => n.includes(query)));
  return [...starts, ...contains].slice(0, limit);
}
