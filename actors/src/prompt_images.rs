//! The images a prompt may carry (`session.prompt`'s `images`): what a client sends, the rules it
//! must pass (a known media type, base64 that decodes, bytes whose magic number is that type's,
//! `limits.max_image_bytes` each and `limits.max_images_per_prompt` at most), and the decoded
//! image the queue keeps, the store writes and the CLI gets as an image content block.
//!
//! Every transport decodes here, before the command reaches a session, so a session never spends
//! its time on base64 and every transport answers the same errors.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};

use crate::config::LimitsConfig;
use crate::error::RelayError;

/// The image formats Claude accepts, by their media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageType {
    /// Every accepted type, in the order error messages list them.
    pub const ALL: [ImageType; 4] = [
        ImageType::Png,
        ImageType::Jpeg,
        ImageType::Gif,
        ImageType::Webp,
    ];

    /// The media type as it appears on the wire and in the CLI's content block.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Gif => "image/gif",
            ImageType::Webp => "image/webp",
        }
    }

    /// The type named by `media_type`, exactly as listed (lower case).
    pub fn from_media_type(media_type: &str) -> Option<ImageType> {
        ImageType::ALL
            .into_iter()
            .find(|t| t.media_type() == media_type)
    }

    /// The type whose file signature `bytes` start with.
    pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageType::Png)
        } else if bytes.starts_with(b"\xff\xd8\xff") {
            Some(ImageType::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageType::Gif)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageType::Webp)
        } else {
            None
        }
    }
}

/// One image as a client sends it: `{media_type, data}` with `data` in standard base64.
#[derive(Clone, Debug, Deserialize)]
pub struct ImageUpload {
    pub media_type: String,
    pub data: String,
}

/// A checked image: its type and its decoded bytes (shared, so queue, store batch and event do
/// not copy them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptImage {
    pub kind: ImageType,
    pub bytes: Arc<[u8]>,
}

impl PromptImage {
    /// The image content block Claude Code takes in a user turn.
    pub fn content_block(&self) -> Value {
        json!({
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": self.kind.media_type(),
                "data": STANDARD.encode(&self.bytes),
            }
        })
    }
}

/// How `prompt.queued` shows an image: its type and size, never its bytes (clients fetch those
/// from `GET /api/v1/sessions/{id}/prompts/{prompt_id}/images/{index}`).
impl Serialize for PromptImage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown {
            media_type: &'static str,
            bytes: usize,
        }
        Shown {
            media_type: self.kind.media_type(),
            bytes: self.bytes.len(),
        }
        .serialize(serializer)
    }
}

/// Checks a prompt's images against the rules and `limits`, and decodes them. The error names
/// the image (1-based, as people count) and what is wrong with it.
pub fn decode_all(
    uploads: Vec<ImageUpload>,
    limits: &LimitsConfig,
) -> Result<Vec<PromptImage>, RelayError> {
    let max = limits.max_images_per_prompt;
    if uploads.len() > max {
        return Err(RelayError::BadRequest(format!(
            "a prompt may carry at most {max} images, not {}",
            uploads.len()
        )));
    }
    uploads
        .into_iter()
        .enumerate()
        .map(|(i, upload)| decode(i + 1, upload, limits.max_image_bytes))
        .collect()
}

fn decode(number: usize, upload: ImageUpload, max_bytes: usize) -> Result<PromptImage, RelayError> {
    let bad = |why: String| RelayError::BadRequest(format!("image {number}: {why}"));
    let Some(kind) = ImageType::from_media_type(&upload.media_type) else {
        let known: Vec<&str> = ImageType::ALL.iter().map(|t| t.media_type()).collect();
        return Err(bad(format!(
            "media_type must be one of {}, not {:?}",
            known.join(", "),
            upload.media_type
        )));
    };
    if upload.data.starts_with("data:") {
        return Err(bad(
            "data must be bare base64, without the `data:…;base64,` prefix".into(),
        ));
    }
    // Base64 is 4 characters for 3 bytes, less its padding: refuse what cannot fit before
    // decoding it.
    let padding = upload.data.bytes().rev().take_while(|&b| b == b'=').count();
    let decoded = (upload.data.len() / 4 * 3).saturating_sub(padding.min(2));
    if decoded > max_bytes {
        return Err(too_large(number, decoded, max_bytes));
    }
    let bytes = STANDARD
        .decode(upload.data.as_bytes())
        .map_err(|e| bad(format!("data is not valid base64 ({e})")))?;
    if bytes.len() > max_bytes {
        return Err(too_large(number, bytes.len(), max_bytes));
    }
    match ImageType::sniff(&bytes) {
        Some(found) if found == kind => Ok(PromptImage {
            kind,
            bytes: bytes.into(),
        }),
        Some(found) => Err(bad(format!(
            "the data is a {} image, not {}",
            found.media_type(),
            kind.media_type()
        ))),
        None => Err(bad(format!(
            "the data is not a {} image (its first bytes match no image format)",
            kind.media_type()
        ))),
    }
}

fn too_large(number: usize, bytes: usize, max_bytes: usize) -> RelayError {
    RelayError::TooLarge(format!(
        "image {number} is {bytes} bytes; the limit is {max_bytes} (limits.max_image_bytes)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF";

    fn upload(media_type: &str, bytes: &[u8]) -> ImageUpload {
        ImageUpload {
            media_type: media_type.into(),
            data: STANDARD.encode(bytes),
        }
    }

    fn limits(max_image_bytes: usize, max_images_per_prompt: usize) -> LimitsConfig {
        LimitsConfig {
            max_image_bytes,
            max_images_per_prompt,
            ..LimitsConfig::default()
        }
    }

    fn message(result: Result<Vec<PromptImage>, RelayError>) -> String {
        result.expect_err("refused").to_string()
    }

    #[test]
    fn every_format_is_recognised_by_its_signature() {
        let cases: [(&[u8], ImageType); 5] = [
            (PNG, ImageType::Png),
            (JPEG, ImageType::Jpeg),
            (b"GIF87a\x01\0", ImageType::Gif),
            (b"GIF89a\x01\0", ImageType::Gif),
            (b"RIFF\x24\0\0\0WEBPVP8 ", ImageType::Webp),
        ];
        for (bytes, kind) in cases {
            assert_eq!(ImageType::sniff(bytes), Some(kind));
            let decoded = decode_all(vec![upload(kind.media_type(), bytes)], &limits(100, 4));
            assert_eq!(decoded.expect("accepted")[0].bytes.as_ref(), bytes);
        }
        assert_eq!(ImageType::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(ImageType::sniff(b""), None);
    }

    #[test]
    fn a_wrong_or_unknown_media_type_is_named() {
        let text = message(decode_all(
            vec![upload("image/png", PNG), upload("image/bmp", PNG)],
            &limits(100, 4),
        ));
        assert!(text.starts_with("image 2: media_type must be one of image/png, image/jpeg"));
        assert!(text.contains("\"image/bmp\""), "{text}");
        let text = message(decode_all(vec![upload("image/jpeg", PNG)], &limits(100, 4)));
        assert_eq!(
            text,
            "image 1: the data is a image/png image, not image/jpeg"
        );
        let text = message(decode_all(
            vec![upload("image/gif", b"hello, world")],
            &limits(100, 4),
        ));
        assert!(text.contains("not a image/gif image"), "{text}");
    }

    #[test]
    fn data_must_be_bare_base64() {
        let bad = ImageUpload {
            media_type: "image/png".into(),
            data: "not base64!".into(),
        };
        let text = message(decode_all(vec![bad], &limits(100, 4)));
        assert!(
            text.starts_with("image 1: data is not valid base64"),
            "{text}"
        );
        let url = ImageUpload {
            media_type: "image/png".into(),
            data: format!("data:image/png;base64,{}", STANDARD.encode(PNG)),
        };
        let text = message(decode_all(vec![url], &limits(100, 4)));
        assert!(text.contains("without the `data:"), "{text}");
    }

    #[test]
    fn size_and_count_limits_hold_at_the_edge() {
        let exact = decode_all(vec![upload("image/png", PNG)], &limits(PNG.len(), 1));
        assert!(exact.is_ok());
        let over = decode_all(vec![upload("image/png", PNG)], &limits(PNG.len() - 1, 1));
        let error = over.expect_err("too large");
        assert!(matches!(error, RelayError::TooLarge(_)));
        assert!(error.to_string().starts_with("image 1 is 16 bytes"));
        let huge = ImageUpload {
            media_type: "image/png".into(),
            data: "A".repeat(4000),
        };
        let error = decode_all(vec![huge], &limits(100, 1)).expect_err("too large");
        assert!(matches!(error, RelayError::TooLarge(_)), "{error}");
        let many = vec![upload("image/png", PNG); 3];
        let text = message(decode_all(many, &limits(100, 2)));
        assert_eq!(text, "a prompt may carry at most 2 images, not 3");
    }

    #[test]
    fn the_event_shows_type_and_size_and_the_cli_gets_the_data() {
        let image = decode_all(vec![upload("image/png", PNG)], &limits(100, 1)).expect("ok");
        let shown = serde_json::to_value(&image[0]).expect("json");
        assert_eq!(shown, json!({"media_type": "image/png", "bytes": 16}));
        let block = image[0].content_block();
        assert_eq!(block["source"]["data"], STANDARD.encode(PNG));
        assert_eq!(block["source"]["media_type"], "image/png");
    }
}
