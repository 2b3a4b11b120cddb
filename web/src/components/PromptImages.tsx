// The images of a sent prompt, shown above its text: from memory when this device sent them,
// otherwise fetched once from the server (images.ts).

import { useEffect, useState } from "preact/hooks";
import { dataUrl, sentImageUrl } from "../images";
import type { PromptImageUpload } from "../types";

function SentImage({ sessionId, promptId, index }: { sessionId: string; promptId: string; index: number }) {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    sentImageUrl(sessionId, promptId, index).then(
      (u) => live && setUrl(u),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [sessionId, promptId, index]);
  if (failed) return <span class="thumb missing small muted">Image {index + 1} unavailable</span>;
  if (!url) return <span class="thumb loading" aria-label={`Loading image ${index + 1}`} />;
  return <img class="thumb" src={url} alt={`Image ${index + 1}`} />;
}

export function PromptImages({ sessionId, promptId, count }: { sessionId: string; promptId: string; count: number }) {
  if (count === 0) return null;
  return (
    <div class="prompt-images">
      {Array.from({ length: count }, (_, i) => (
        <SentImage key={i} sessionId={sessionId} promptId={promptId} index={i} />
      ))}
    </div>
  );
}

/** The images of a prompt not yet confirmed by the server. */
export function PendingImages({ images }: { images: PromptImageUpload[] }) {
  if (images.length === 0) return null;
  return (
    <div class="prompt-images">
      {images.map((image, i) => (
        <img key={i} class="thumb" src={dataUrl(image)} alt={`Image ${i + 1}`} />
      ))}
    </div>
  );
}
