// The composer's images: take a photo or pick from the gallery (several at once), see them, take
// one off again. Photos are scaled down here (images.ts) before they are kept.

import { useState } from "preact/hooks";
import { dataUrl, imageLimits, prepare, type Attachment } from "../images";

export function AttachButtons({ images, onChange }: { images: Attachment[]; onChange: (images: Attachment[]) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const room = imageLimits.max_images_per_prompt - images.length;
  const add = async (input: HTMLInputElement) => {
    const files = Array.from(input.files ?? []);
    input.value = ""; // the same file may be picked again after a removal
    if (files.length === 0) return;
    setError(null);
    if (files.length > room) {
      setError(`A prompt can carry ${imageLimits.max_images_per_prompt} images; ${room > 0 ? `only the first ${room} were added` : "remove one first"}.`);
    }
    setBusy(true);
    const added: Attachment[] = [];
    for (const file of files.slice(0, Math.max(0, room))) {
      try {
        added.push(await prepare(file));
      } catch (e) {
        setError(`${file.name || "An image"}: ${e instanceof Error ? e.message : e}`);
      }
    }
    setBusy(false);
    if (added.length) onChange([...images, ...added]);
  };
  const full = room <= 0 || busy;
  return (
    <div class="attach">
      <label class={full ? "button disabled" : "button"} title="Take a photo">
        <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round">
          <path d="M4 8h3l2-3h6l2 3h3v11H4z" />
          <circle cx="12" cy="13" r="3.5" />
        </svg>
        <input class="sr" type="file" accept="image/*" capture="environment" aria-label="Take a photo" disabled={full} onChange={(e) => void add(e.currentTarget)} />
      </label>
      <label class={full ? "button disabled" : "button"} title="Attach images">
        <svg aria-hidden="true" viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round">
          <rect x="3" y="5" width="18" height="14" rx="2" />
          <path d="M3 17l5-5 4 4 3-3 6 6" />
          <circle cx="16" cy="9" r="1.5" />
        </svg>
        <input class="sr" type="file" accept="image/*" multiple aria-label="Attach images" disabled={full} onChange={(e) => void add(e.currentTarget)} />
      </label>
      {busy && <span class="small muted">Preparing…</span>}
      {error && (
        <span class="small err" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

export function AttachedPreviews({ images, onChange }: { images: Attachment[]; onChange: (images: Attachment[]) => void }) {
  if (images.length === 0) return null;
  return (
    <ul class="thumbs" aria-label="Attached images">
      {images.map((image, i) => (
        <li key={image.data.slice(0, 64) + i}>
          <img src={dataUrl(image)} alt={`Attached image ${i + 1}`} />
          <button type="button" class="remove" aria-label={`Remove image ${i + 1}`} onClick={() => onChange(images.filter((_, j) => j !== i))}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}
