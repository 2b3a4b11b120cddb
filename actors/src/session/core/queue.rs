//! The session's prompt queue: the prompts waiting their turn, in arrival order, every prompt id
//! the session has ever queued (so a retried `prompt_id` answers what the first try did), and
//! whether new prompts may start (paused by a client, drained by a shutdown).
//!
//! It is the one owner of these facts: the session object's `queue_length` and `paused` are read
//! from it, never kept beside it.

use std::collections::{HashMap, VecDeque};

use crate::ids::{PromptId, Seq};
use crate::prompt_images::PromptImage;
use crate::store::StoredPrompt;

/// A prompt waiting its turn.
#[derive(Clone, Debug)]
pub struct QueuedPrompt {
    pub prompt_id: PromptId,
    pub text: String,
    /// Sent to the CLI before the text.
    pub images: Vec<PromptImage>,
}

/// Where a known prompt was queued: its position then, and the seq of its `prompt.queued`
/// (0 for one restored from the store: already durable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queued {
    pub position: usize,
    pub seq: Seq,
}

/// The waiting prompts and what governs when the next one may start.
#[derive(Debug, Default)]
pub struct PromptQueue {
    waiting: VecDeque<QueuedPrompt>,
    known: HashMap<PromptId, Queued>,
    paused: bool,
    /// The server is shutting down: nothing new starts (what waits stays stored for the restart).
    draining: bool,
}

impl PromptQueue {
    /// An empty queue.
    pub fn new(paused: bool) -> Self {
        PromptQueue {
            paused,
            ..PromptQueue::default()
        }
    }

    /// The queue a stored session had, and the prompts that were running when the server went
    /// away (they cannot go on: their process is gone).
    pub fn restore(prompts: Vec<StoredPrompt>, paused: bool) -> (Self, Vec<PromptId>) {
        let mut queue = PromptQueue::new(paused);
        let mut running = Vec::new();
        for prompt in prompts {
            let queued = Queued {
                position: prompt.position,
                seq: 0,
            };
            queue.known.insert(prompt.prompt_id.clone(), queued);
            match prompt.state.as_str() {
                "queued" => queue.waiting.push_back(QueuedPrompt {
                    prompt_id: prompt.prompt_id,
                    text: prompt.text,
                    images: prompt.images,
                }),
                "running" => running.push(prompt.prompt_id),
                _ => {}
            }
        }
        (queue, running)
    }

    /// How an already queued prompt was queued, if it was.
    pub fn known(&self, prompt_id: &PromptId) -> Option<Queued> {
        self.known.get(prompt_id).copied()
    }

    /// Adds a prompt at the back.
    pub fn push(&mut self, prompt: QueuedPrompt, queued: Queued) {
        self.known.insert(prompt.prompt_id.clone(), queued);
        self.waiting.push_back(prompt);
    }

    /// How many prompts wait.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether a prompt waits and may start now.
    pub fn runnable(&self) -> bool {
        !self.paused && !self.draining && !self.waiting.is_empty()
    }

    /// Takes the next prompt to run, if one may start now.
    pub fn pop_runnable(&mut self) -> Option<QueuedPrompt> {
        if self.runnable() {
            self.waiting.pop_front()
        } else {
            None
        }
    }

    /// Forgets every waiting prompt (stop, delete) and answers their ids, in order.
    pub fn drop_waiting(&mut self) -> Vec<PromptId> {
        self.waiting.drain(..).map(|p| p.prompt_id).collect()
    }

    /// Pauses or resumes; false when it already was so.
    pub fn set_paused(&mut self, paused: bool) -> bool {
        let changed = self.paused != paused;
        self.paused = paused;
        changed
    }

    /// Whether a client paused the queue.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Starts nothing new from now on (server shutdown).
    pub fn drain(&mut self) {
        self.draining = true;
    }
}
