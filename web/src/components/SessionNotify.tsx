import { useEffect, useState } from "preact/hooks";
import { getSettings, setSessionLevel, type Level } from "../push";
import { toast } from "../store";

const LABELS: Record<Level, string> = { all: "Everything", approvals: "Only approvals", none: "None" };

/** The conversation menu's notification level for one session ("follow" = the user's level). */
export function SessionNotify({ sessionId }: { sessionId: string }) {
  const [value, setValue] = useState<Level | "follow" | null>(null);
  const [userLevel, setUserLevel] = useState<Level | null>(null);

  useEffect(() => {
    getSettings().then(
      (s) => {
        setUserLevel(s.level);
        setValue(s.sessions[sessionId] ?? "follow");
      },
      () => setValue(null),
    );
  }, [sessionId]);

  const change = async (v: string) => {
    const before = value;
    setValue(v as Level | "follow");
    try {
      const s = await setSessionLevel(sessionId, v === "follow" ? null : (v as Level));
      setUserLevel(s.level);
      setValue(s.sessions[sessionId] ?? "follow");
    } catch (e) {
      setValue(before);
      toast(`Could not change notifications: ${e instanceof Error ? e.message : e}`);
    }
  };

  return (
    <label class="mode">
      <span>Notifications</span>
      <select aria-label="Notifications for this session" value={value ?? "follow"} disabled={value === null} onChange={(e) => change(e.currentTarget.value)}>
        <option value="follow">{`Default${userLevel ? ` (${LABELS[userLevel].toLowerCase()})` : ""}`}</option>
        {(["all", "approvals", "none"] as Level[]).map((l) => (
          <option key={l} value={l}>
            {LABELS[l]}
          </option>
        ))}
      </select>
    </label>
  );
}
