//! The `prompt_images` table: a prompt's images, written with its `prompt.queued` in the same
//! transaction, read back for the queue at start-up and one at a time for
//! `GET /api/v1/sessions/{id}/prompts/{prompt_id}/images/{index}`, and removed with their
//! session or when their `prompt.queued` is pruned.

use std::collections::HashMap;

use actors::ids::SessionId;
use actors::prompt_images::{ImageType, PromptImage};
use actors::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};

use super::schema::failed;

/// Stores the images of a newly queued prompt, replacing those of an earlier prompt that had
/// the same id (a done prompt's id queued again after a restart).
pub fn insert(
    conn: &Connection,
    session: &str,
    prompt_id: &str,
    images: &[PromptImage],
    seq: u64,
) -> Result<(), StoreError> {
    let what = || format!("cannot store the images of prompt {prompt_id} of session {session}");
    conn.prepare_cached("DELETE FROM prompt_images WHERE session_id = ?1 AND prompt_id = ?2")
        .and_then(|mut delete| delete.execute(params![session, prompt_id]))
        .map_err(|e| failed(&what(), e))?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO prompt_images (session_id, prompt_id, idx, media_type, data, queued_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(|e| failed(&what(), e))?;
    for (idx, image) in images.iter().enumerate() {
        insert
            .execute(params![
                session,
                prompt_id,
                idx,
                image.kind.media_type(),
                &*image.bytes,
                seq
            ])
            .map_err(|e| failed(&what(), e))?;
    }
    Ok(())
}

/// Removes the images whose `prompt.queued` was pruned (seq ≤ `through`), except those of prompts
/// still waiting or running: they have yet to reach the CLI (or a retry after a restart).
pub fn prune(conn: &Connection, session: &str, through: u64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM prompt_images WHERE session_id = ?1 AND queued_seq <= ?2
         AND prompt_id NOT IN
             (SELECT prompt_id FROM prompts WHERE session_id = ?1 AND state <> 'done')",
    )
    .and_then(|mut delete| delete.execute(params![session, through]))
    .map_err(|e| failed(&format!("cannot prune the images of session {session}"), e))?;
    Ok(())
}

/// The images of every prompt still queued, by (session id, prompt id), in order.
pub fn select_queued(
    conn: &Connection,
) -> Result<HashMap<(String, String), Vec<PromptImage>>, StoreError> {
    let what = "cannot read the images of queued prompts";
    let mut select = conn
        .prepare(
            "SELECT i.session_id, i.prompt_id, i.media_type, i.data FROM prompt_images i
             JOIN prompts p ON p.session_id = i.session_id AND p.prompt_id = i.prompt_id
             WHERE p.state = 'queued'
             ORDER BY i.session_id, i.prompt_id, i.idx",
        )
        .map_err(|e| failed(what, e))?;
    let mut rows = select.query([]).map_err(|e| failed(what, e))?;
    let mut images: HashMap<(String, String), Vec<PromptImage>> = HashMap::new();
    while let Some(row) = rows.next().map_err(|e| failed(what, e))? {
        let key = (
            row.get(0).map_err(|e| failed(what, e))?,
            row.get(1).map_err(|e| failed(what, e))?,
        );
        match image_from(row.get(2), row.get(3)) {
            Some(image) => images.entry(key).or_default().push(image),
            None => log::error!("store: skipping an unreadable image of prompt {}", key.1),
        }
    }
    Ok(images)
}

/// Image `idx` of a prompt, if stored.
pub fn select_one(
    conn: &Connection,
    session: SessionId,
    prompt_id: &str,
    idx: usize,
) -> Result<Option<PromptImage>, StoreError> {
    let what = "cannot read a prompt image";
    let row = conn
        .prepare_cached(
            "SELECT media_type, data FROM prompt_images
             WHERE session_id = ?1 AND prompt_id = ?2 AND idx = ?3",
        )
        .and_then(|mut select| {
            select
                .query_row(params![session.to_string(), prompt_id, idx], |row| {
                    Ok((row.get(0), row.get(1)))
                })
                .optional()
        })
        .map_err(|e| failed(what, e))?;
    Ok(row.and_then(|(media_type, data)| image_from(media_type, data)))
}

fn image_from(
    media_type: rusqlite::Result<String>,
    data: rusqlite::Result<Vec<u8>>,
) -> Option<PromptImage> {
    let kind = ImageType::from_media_type(&media_type.ok()?)?;
    Some(PromptImage {
        kind,
        bytes: data.ok()?.into(),
    })
}
