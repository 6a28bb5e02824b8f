//! Stable hashes shared by every process: FNV-1a (Fowler, Noll, Vo), 32 and 64 bit. Used
//! where a value must map to the same bucket in every backend and worker (the partition of
//! an entity in a parallel run, the seeded sample order of training), which Rust's
//! `DefaultHasher` does not promise.

const FNV32_OFFSET: u32 = 0x811c_9dc5;
const FNV32_PRIME: u32 = 0x0100_0193;
const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 32-bit FNV-1a of `bytes`.
pub fn fnv1a32(bytes: impl IntoIterator<Item = u8>) -> u32 {
    bytes.into_iter().fold(FNV32_OFFSET, |h, b| (h ^ u32::from(b)).wrapping_mul(FNV32_PRIME))
}

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(FNV64_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV64_PRIME))
}

/// The partition (0..n) of an entity in a run split over `n` workers: FNV-1a of its id,
/// modulo n (n = 0 counts as 1).
pub fn partition_of(entity_id: &str, n: u32) -> u32 {
    fnv1a32(entity_id.bytes()) % n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_fnv_values() {
        // Reference values of the FNV-1a specification.
        assert_eq!(fnv1a32(*b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(*b"a"), 0xe40c_292c);
        assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn partitions_cover_every_worker_and_are_stable() {
        let ids: Vec<String> = (0..1000).map(|i| format!("urun_{i:04}")).collect();
        let mut seen = [0usize; 4];
        for id in &ids {
            let p = partition_of(id, 4);
            assert_eq!(p, partition_of(id, 4));
            seen[p as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 150), "{seen:?}");
        assert_eq!(partition_of("x", 0), 0);
    }
}
