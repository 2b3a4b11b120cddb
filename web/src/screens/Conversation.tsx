import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import * as connection from "../connection";
import { fold, formatCost, formatDuration, type Item } from "../conversation";
import { renderMarkdown } from "../markdown";
import { useAppState, view } from "../store";
import type { Session } from "../types";
import { loadCapabilities } from "../capabilities";
import { ModePicker } from "../components/ModePicker";
import { ModelPicker } from "../components/ModelPicker";
import { useSlashCompletion } from "../components/SlashMenu";
import { PermissionCard } from "../components/PermissionCard";
import { ToolCard } from "../components/ToolCard";
import { AttachButtons, AttachedPreviews } from "../components/Attachments";
import { PendingImages, PromptImages } from "../components/PromptImages";
import type { Attachment } from "../images";
import { SessionMenu } from "../components/SessionMenu";
import { sessionName, statusLabel } from "./Sessions";
import { EarlierConversation } from "../components/EarlierConversation";
import { TerminalPanel } from "../components/TerminalPanel";

function Markdown({ text }: { text: string }) {
  // The one place HTML is inserted: markdown-it's output with `html: false`, so every `<`, `>`
  // and `&` of the model's text is escaped, and links are http(s) only (see ../markdown.ts).
  return <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}

export function ItemView({ item, sessionId }: { item: Item; sessionId: string }) {
  switch (item.type) {
    case "prompt":
      return (
        <div class="msg me">
          <PromptImages sessionId={sessionId} promptId={item.prompt_id} count={item.images} />
          {item.text.trim() && <div class="bubble">{item.text}</div>}
          {item.state === "queued" && <div class="small muted right">Queued</div>}
          {item.state === "failed" && <div class="small muted right">Not completed</div>}
        </div>
      );
    case "text":
      return (
        <div class="msg claude">
          <Markdown text={item.text} />
        </div>
      );
    case "thinking":
      return (
        <details class="thinking">
          <summary>Thinking</summary>
          <p class="pre">{item.text}</p>
        </details>
      );
    case "tool":
      return <ToolCard call={item.call} />;
    case "permission":
      return <PermissionCard sessionId={sessionId} p={item.p} />;
    case "turn":
      return (
        <p class={item.is_error ? "turn err" : "turn"}>
          {item.is_error ? `Error${item.error ? `: ${item.error}` : ""} · ` : ""}
          {[formatDuration(item.duration_ms), formatCost(item.cost_usd)].filter(Boolean).join(" · ")}
        </p>
      );
    case "note":
      return <p class={`note ${item.tone}`}>{item.text}</p>;
    case "stderr":
      return (
        <details class="stderr">
          <summary>Claude's error output</summary>
          <pre class="out err">{item.text}</pre>
        </details>
      );
  }
}

function StatusLine({ s }: { s: Session }) {
  return (
    <p class="statusline">
      <span class={`badge ${s.status}`}>{statusLabel(s.status)}</span>
      {s.paused && <span> · paused</span>}
      {(s.queue_length ?? 0) > 0 && <span> · {s.queue_length} queued</span>}
      {s.model && <span> · {s.model}</span>}
    </p>
  );
}

function Rules({ s }: { s: Session }) {
  const rules = s.allowed_rules ?? [];
  if (rules.length === 0) return null;
  return (
    <details class="rules">
      <summary>Allowed rules ({rules.length})</summary>
      <ul>
        {rules.map((r) => (
          <li key={r}>
            <code>{r}</code>
            <button type="button" class="link" aria-label={`Remove rule ${r}`} onClick={() => connection.act("session.remove_rule", { session_id: s.id, rule: r }, "Removing the rule")}>
              Remove
            </button>
          </li>
        ))}
      </ul>
    </details>
  );
}

function Controls({ s }: { s: Session }) {
  const st = useAppState();
  const off = st.conn !== "online";
  const busy = s.status === "running" || s.status === "starting" || s.status === "awaiting_permission";
  const id = s.id;
  return (
    <div class="controls" role="toolbar" aria-label="Session controls">
      <button type="button" disabled={off || !busy} onClick={() => connection.act("session.interrupt", { session_id: id }, "Interrupt")}>
        Interrupt
      </button>
      <button type="button" disabled={off || s.status === "stopped"} onClick={() => connection.act("session.stop", { session_id: id }, "Stop")}>
        Stop
      </button>
      {s.paused ? (
        <button type="button" disabled={off} onClick={() => connection.act("session.resume", { session_id: id }, "Resume")}>
          Resume
        </button>
      ) : (
        <button type="button" disabled={off} onClick={() => connection.act("session.pause", { session_id: id }, "Pause")}>
          Pause
        </button>
      )}
      <ModePicker s={s} disabled={off} />
      <ModelPicker s={s} disabled={off} />
    </div>
  );
}

function Composer({ sessionId }: { sessionId: string }) {
  const [text, setText] = useState("");
  const [images, setImages] = useState<Attachment[]>([]);
  const ref = useRef<HTMLTextAreaElement>(null);
  const slash = useSlashCompletion(sessionId, text, setText, () => ref.current?.focus());
  const send = () => {
    const t = text.trim();
    if (!t && images.length === 0) return;
    setText("");
    setImages([]);
    void connection.sendPrompt(
      sessionId,
      t,
      images.map(({ media_type, data }) => ({ media_type, data })),
    );
    ref.current?.focus();
  };
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <AttachedPreviews images={images} onChange={setImages} />
      <AttachButtons images={images} onChange={setImages} />
      <label for="message" class="sr">
        Message
      </label>
      {slash.menu}
      <textarea
        id="message"
        ref={ref}
        rows={2}
        value={text}
        placeholder="Message Claude"
        onInput={(e) => setText(e.currentTarget.value)}
        aria-controls={slash.menu ? "slash-commands" : undefined}
        onKeyDown={(e) => {
          if (slash.onKeyDown(e)) return;
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            send();
          }
        }}
      />
      <button type="submit" class="primary" disabled={!text.trim() && images.length === 0}>
        Send
      </button>
    </form>
  );
}

export function ConversationScreen({ id }: { id: string }) {
  const st = useAppState();
  const v = view(id);
  const s = st.sessions[id];
  const logRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const lastHeight = useRef(0);
  const lastFirst = useRef<number | undefined>(undefined);

  useEffect(() => {
    void connection.openSession(id);
    return () => connection.closeSession(id);
  }, [id]);
  const online = st.conn === "online";
  useEffect(() => {
    if (online) void loadCapabilities(id, connection.request);
  }, [id, online]);

  const events = v.events;
  const items = useMemo(() => fold(events), [events, events.length, events[events.length - 1]?.seq]);
  const outbox = st.outbox.filter((o) => o.session_id === id);
  const firstSeq = events[0]?.seq;

  useLayoutEffect(() => {
    const el = logRef.current;
    if (!el) return;
    if (lastFirst.current !== undefined && firstSeq !== undefined && firstSeq < lastFirst.current) {
      el.scrollTop += el.scrollHeight - lastHeight.current; // older page prepended: keep the view still
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    lastFirst.current = firstSeq;
    lastHeight.current = el.scrollHeight;
  });

  const onScroll = () => {
    const el = logRef.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 150 && !v.noOlder && !v.loadingOlder && events.length) void connection.loadOlder(id);
  };

  const live = v.live;
  return (
    <main class="conversation">
      <div class="convhead">
        <a href="#/" class="back" aria-label="Back to sessions">
          ‹
        </a>
        <div class="grow">
          <h1>{s ? sessionName(s) : "Session"}</h1>
          {s && <p class="folder small muted">{s.cwd}</p>}
        </div>
        <SessionMenu sessionId={id} />
      </div>
      {s && <StatusLine s={s} />}
      {s && <Rules s={s} />}
      {s && <TerminalPanel s={s} />}
      <div class="log" ref={logRef} onScroll={onScroll} aria-busy={!!live}>
        {events.length > 0 && !v.noOlder && (events[0]?.seq ?? 1) > 1 && (
          <button type="button" class="link older" disabled={v.loadingOlder || st.conn !== "online"} onClick={() => connection.loadOlder(id)}>
            {v.loadingOlder ? "Loading…" : "Load older messages"}
          </button>
        )}
        {(v.noOlder || (events[0]?.seq ?? 1) <= 1) && <EarlierConversation sessionId={id} from={s?.continued_from} />}
        {events.length === 0 && <p class="muted center">{st.conn === "online" ? "Loading…" : "Nothing saved for this session on this device."}</p>}
        {items.map((it) => (
          <ItemView key={it.key} item={it} sessionId={id} />
        ))}
        {live && live.text && (
          <div class="msg claude live">
            {live.kind === "thinking" ? (
              <p class="pre muted">Thinking… {live.text.slice(-400)}</p>
            ) : live.kind === "tool_use" ? (
              <p class="muted">Preparing {live.toolName ?? "a tool call"}…</p>
            ) : (
              <p class="pre">{live.text}</p>
            )}
          </div>
        )}
        {outbox.map((o) => (
          <div key={o.prompt_id} class="msg me pending">
            <PendingImages images={o.images ?? []} />
            {o.text.trim() && <div class="bubble">{o.text}</div>}
            <div class="small muted right">
              {o.state === "failed" ? (
                <>
                  Not sent: {o.error}{" "}
                  <button type="button" class="link" onClick={() => connection.retryPrompt(o.prompt_id)}>
                    Retry
                  </button>{" "}
                  <button type="button" class="link" onClick={() => connection.discardPrompt(o.prompt_id)}>
                    Discard
                  </button>
                </>
              ) : o.state === "waiting" ? (
                "Waiting for the connection — will be sent once"
              ) : (
                "Sending…"
              )}
            </div>
          </div>
        ))}
      </div>
      {s && <Controls s={s} />}
      <Composer sessionId={id} />
    </main>
  );
}
