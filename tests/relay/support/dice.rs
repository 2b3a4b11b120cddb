//! A small deterministic random source for the fuzz tests: a run is replayed from its seed.

/// xorshift64: not for anything but choosing test cases.
pub struct Dice(pub u64);

impl Dice {
    /// A seed from `FUZZ_SEED`, else a fresh one; the test prints it so a failure can be replayed.
    pub fn from_env() -> (Dice, u64) {
        let seed = std::env::var("FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        (Dice(seed | 1), seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
