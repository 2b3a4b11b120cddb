import { useEffect, useRef, useState } from "preact/hooks";
import { SessionNotify } from "./SessionNotify";

/** The conversation's menu (⋯): settings of this session that are not needed at every turn. */
export function SessionMenu({ sessionId }: { sessionId: string }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const away = (e: Event) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("pointerdown", away);
    document.addEventListener("keydown", esc);
    return () => {
      document.removeEventListener("pointerdown", away);
      document.removeEventListener("keydown", esc);
    };
  }, [open]);
  return (
    <div class="menu" ref={ref}>
      <button type="button" class="menu-button" aria-label="Session menu" aria-expanded={open} aria-controls="session-menu" onClick={() => setOpen(!open)}>
        ⋯
      </button>
      {open && (
        <div id="session-menu" class="menu-body" role="group" aria-label="Session menu">
          <SessionNotify sessionId={sessionId} />
        </div>
      )}
    </div>
  );
}
