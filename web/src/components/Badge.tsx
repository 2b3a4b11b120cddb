import { inbox } from "../inbox";
import { useAppState } from "../store";

/** The approval inbox's link in the header, with how many requests wait over all sessions. */
export function InboxBadge() {
  const st = useAppState();
  const n = inbox.items.length;
  const here = st.route.name === "inbox";
  const label = n === 0 ? "Approvals: none waiting" : `Approvals: ${n} waiting`;
  return (
    <a href="#/inbox" class={n > 0 ? "inbox-link waiting" : "inbox-link"} aria-label={label} aria-current={here ? "page" : undefined}>
      Approvals
      {n > 0 && (
        <span class="count" data-testid="inbox-count" aria-hidden="true">
          {n > 99 ? "99+" : String(n)}
        </span>
      )}
    </a>
  );
}
