// Images on prompts: turning a picked photo or screenshot into what `session.prompt` takes
// (`{media_type, data}`, base64), scaled down on the phone so it fits the server's limits, and
// fetching the images of sent prompts back (`GET …/prompts/{id}/images/{n}`) for the
// conversation. Everything shown is an <img> whose src is a data: URL made here, of bytes with
// one of the accepted image media types (the app's CSP allows data: images, not blob:): never
// markup.

import { apiBlob } from "./api";
import type { PromptImageUpload } from "./types";

/** The types the server (and Claude) take. */
export const ACCEPTED_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/** Claude scales anything larger down to this long edge anyway, so the phone does it first. */
export const MAX_EDGE = 1568;

/** What the server allows, from its `welcome` (these are its defaults). */
export const imageLimits = { max_image_bytes: 3_750_000, max_images_per_prompt: 4 };

export function setImageLimits(l: unknown): void {
  const v = (l ?? {}) as Record<string, unknown>;
  if (typeof v.max_image_bytes === "number" && v.max_image_bytes > 0) imageLimits.max_image_bytes = v.max_image_bytes;
  if (typeof v.max_images_per_prompt === "number" && v.max_images_per_prompt >= 0) imageLimits.max_images_per_prompt = v.max_images_per_prompt;
}

/** An image ready to send, with a preview. */
export interface Attachment extends PromptImageUpload {
  /** The decoded size in bytes. */
  bytes: number;
}

/** A data: URL of an attachment (its media type is one of ACCEPTED_TYPES). */
export function dataUrl(image: PromptImageUpload): string {
  return `data:${image.media_type};base64,${image.data}`;
}

/**
 * A picked file as an attachment: kept as it is when the server takes it unchanged (an accepted
 * type, small enough, no larger than MAX_EDGE), otherwise drawn smaller on a canvas and encoded
 * as JPEG, smaller and at lower quality until it fits `max_image_bytes`.
 */
export async function prepare(file: Blob): Promise<Attachment> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error("This file is not an image the browser can read");
  }
  try {
    const limit = imageLimits.max_image_bytes;
    const edge = Math.max(bitmap.width, bitmap.height);
    const asIs = ACCEPTED_TYPES.includes(file.type) && file.size <= limit && edge <= MAX_EDGE;
    const blob = asIs ? file : await shrink(bitmap, limit);
    return { media_type: blob.type, data: await base64(blob), bytes: blob.size };
  } finally {
    bitmap.close();
  }
}

async function shrink(bitmap: ImageBitmap, limit: number): Promise<Blob> {
  let edge = Math.min(MAX_EDGE, Math.max(bitmap.width, bitmap.height));
  let quality = 0.85;
  for (let attempt = 0; attempt < 8; attempt++) {
    const scale = edge / Math.max(bitmap.width, bitmap.height);
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("This browser cannot scale images");
    ctx.fillStyle = "#fff"; // JPEG has no transparency: a transparent screenshot goes on white
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && blob.type === "image/jpeg" && blob.size <= limit) return blob;
    edge = Math.round(edge * 0.75);
    quality = Math.max(0.5, quality - 0.1);
  }
  throw new Error("This image cannot be made small enough to send");
}

function base64(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new Error("The image could not be read"));
    reader.readAsDataURL(blob);
  });
}

// ---------------------------------------------------------------- images of sent prompts

const urls = new Map<string, Promise<string>>();

function key(sessionId: string, promptId: string, index: number): string {
  return `${sessionId}/${promptId}/${index}`;
}

/** This device sent these images: show them from memory rather than fetch them back. */
export function rememberSent(sessionId: string, promptId: string, images: PromptImageUpload[]): void {
  images.forEach((image, i) => urls.set(key(sessionId, promptId, i), Promise.resolve(dataUrl(image))));
}

/** A URL for image `index` of a sent prompt, fetched once (with the token) and kept. */
export function sentImageUrl(sessionId: string, promptId: string, index: number): Promise<string> {
  const k = key(sessionId, promptId, index);
  let url = urls.get(k);
  if (!url) {
    const path = `/api/v1/sessions/${encodeURIComponent(sessionId)}/prompts/${encodeURIComponent(promptId)}/images/${index}`;
    url = apiBlob(path).then(async (blob) => {
      if (!ACCEPTED_TYPES.includes(blob.type)) throw new Error(`not an image: ${blob.type}`);
      return dataUrl({ media_type: blob.type, data: await base64(blob) });
    });
    url.catch(() => urls.delete(k)); // tried again next time it is shown
    urls.set(k, url);
  }
  return url;
}
