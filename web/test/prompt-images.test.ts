// Images on prompts: the conversation knows how many a prompt carried, the app takes the
// server's limits from `welcome`, and a preview's URL is a data: URL of the image only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fold } from "../src/conversation";
import { dataUrl, imageLimits, setImageLimits } from "../src/images";
import type { RelayEvent } from "../src/types";

const ev = (seq: number, kind: string, data: any): RelayEvent => ({ session_id: "s", seq, ts: "", kind, data });

test("a prompt's images are counted from prompt.queued, none when it has no `images`", () => {
  const items = fold([
    ev(1, "prompt.queued", { prompt_id: "p1", text: "", position: 0, images: [{ media_type: "image/png", bytes: 67 }, { media_type: "image/jpeg", bytes: 9 }] }),
    ev(2, "prompt.queued", { prompt_id: "p2", text: "plain", position: 1 }),
  ]);
  assert.deepEqual(
    items.map((i) => (i.type === "prompt" ? [i.prompt_id, i.images] : null)),
    [["p1", 2], ["p2", 0]],
  );
});

test("the server's limits replace the defaults; nonsense is ignored", () => {
  assert.deepEqual(imageLimits, { max_image_bytes: 3_750_000, max_images_per_prompt: 4 });
  setImageLimits({ max_image_bytes: 2000, max_images_per_prompt: 2 });
  assert.deepEqual(imageLimits, { max_image_bytes: 2000, max_images_per_prompt: 2 });
  setImageLimits({ max_image_bytes: "big", max_images_per_prompt: -1 });
  setImageLimits(undefined);
  assert.deepEqual(imageLimits, { max_image_bytes: 2000, max_images_per_prompt: 2 });
});

test("a preview is a data: URL of the image", () => {
  assert.equal(dataUrl({ media_type: "image/png", data: "iVBORw0K" }), "data:image/png;base64,iVBORw0K");
});
