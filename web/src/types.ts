// Protocol v1 shapes the app reads (see README "Protocol v1" and docs/app-contract.md).
// Fields the app does not know are ignored, as the protocol asks.

export type SessionStatus =
  | "idle"
  | "waiting"
  | "starting"
  | "running"
  | "awaiting_permission"
  | "stopped"
  | "crashed";

/** Any mode the session's Claude Code accepts (protocol §16); v1 had a closed list of four. */
export type PermissionMode = string;
/** The pinned CLI's modes, offered where no session's capabilities are known (a new session). */
export const PERMISSION_MODES: PermissionMode[] = ["default", "acceptEdits", "plan", "dontAsk", "auto", "bypassPermissions"];

export interface Session {
  id: string;
  owner?: string;
  title?: string | null;
  cwd: string;
  model?: string | null;
  effort?: string | null;
  permission_mode?: PermissionMode;
  stream_deltas?: boolean;
  status: SessionStatus | string;
  paused?: boolean;
  claude_session_id?: string | null;
  created_at?: string;
  updated_at?: string;
  last_seq?: number;
  queue_length?: number;
  pending_permissions?: string[];
  allowed_rules?: string[];
  /** `cd <folder> && claude --resume <id>`, once the session has a conversation. */
  terminal_command?: string | null;
  /** The conversation from Claude Code's history this session continues (protocol §15.4). */
  continued_from?: { claude_session_id: string; messages: number } | null;
}

export interface RelayEvent {
  session_id: string;
  seq: number;
  ts: string;
  kind: string;
  data: any;
}

export interface ErrorObject {
  code: string;
  message: string;
  details?: unknown;
}

export interface Device {
  id: string;
  name: string;
  user: string;
  created_at: string;
  last_seen_at?: string | null;
  current: boolean;
}

/** A prompt the person sent that the server has not yet confirmed with `prompt.queued`. */
export interface OutboxPrompt {
  prompt_id: string;
  session_id: string;
  text: string;
  created_at: number;
  /** Sent before the text (see images.ts). */
  images?: PromptImageUpload[];
}

/** An image of `session.prompt`: `data` is base64 of the bytes. */
export interface PromptImageUpload {
  media_type: string;
  data: string;
}

export class RelayError extends Error {
  code: string;
  status?: number;
  constructor(code: string, message: string, status?: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}
