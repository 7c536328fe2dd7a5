// The split virtqueue's memory layout, flags, feature bits and fault codes (virtio 1.2 section 2.7), shared by both sides.

// ---- descriptor table (virtio 1.2 2.7.5): 16 bytes per entry, 16-byte aligned ----
export const DESC_SIZE: u32 = 16;
export const DESC_ADDR: u32 = 0; // le64
export const DESC_LEN: u32 = 8; // le32
export const DESC_FLAGS: u32 = 12; // le16
export const DESC_NEXT: u32 = 14; // le16

export const VIRTQ_DESC_F_NEXT: u32 = 1;
export const VIRTQ_DESC_F_WRITE: u32 = 2;
export const VIRTQ_DESC_F_INDIRECT: u32 = 4;

// ---- available ring (virtio 1.2 2.7.6): flags, idx, ring[size], used_event; 2-byte aligned ----
export const AVAIL_FLAGS: u32 = 0;
export const AVAIL_IDX: u32 = 2;
export const AVAIL_RING: u32 = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT: u32 = 1;

// ---- used ring (virtio 1.2 2.7.8): flags, idx, ring[size] of {id le32, len le32}, avail_event; 4-byte aligned ----
export const USED_FLAGS: u32 = 0;
export const USED_IDX: u32 = 2;
export const USED_RING: u32 = 4;
export const USED_ELEM_SIZE: u32 = 8;
export const VIRTQ_USED_F_NO_NOTIFY: u32 = 1;

// Alignment of each part (virtio 1.2 2.7, table "Virtqueue Part Alignment").
export const DESC_ALIGN: u64 = 16;
export const AVAIL_ALIGN: u64 = 2;
export const USED_ALIGN: u64 = 4;
/** Legacy (0.9.5) devices want the used ring on a 4096-byte boundary after the avail ring (virtio 1.2 2.7.2). */
export const LEGACY_USED_ALIGN: u64 = 4096;

/** Largest queue size (virtio 1.2 2.7: "Queue Size ... maximum 32768"). */
export const MAX_QUEUE_SIZE: u32 = 32768;

@inline export function descTableBytes(size: u32): u64 {
  return <u64>size * DESC_SIZE;
}
/** Avail ring bytes including used_event (present whatever the features: the space is always laid out). */
@inline export function availRingBytes(size: u32): u64 {
  return 6 + 2 * <u64>size;
}
/** Used ring bytes including avail_event. */
@inline export function usedRingBytes(size: u32): u64 {
  return 6 + USED_ELEM_SIZE * <u64>size;
}
@inline export function isPowerOf2(n: u32): bool {
  return n != 0 && (n & (n - 1)) == 0;
}

/**
 * The EVENT_IDX rule (virtio 1.2 2.7.7.2 / 2.7.10): moving an index from `old` to `now` crosses the
 * other side's event index `event` when event is in [old, now) modulo 2^16.
 */
@inline export function needEvent(event: u32, now: u32, old: u32): bool {
  return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
}

// ---- feature bits (virtio 1.2 6) ----
export const VIRTIO_F_INDIRECT_DESC: u32 = 28;
export const VIRTIO_F_EVENT_IDX: u32 = 29;
export const VIRTIO_F_VERSION_1: u32 = 32;
export const VIRTIO_F_ACCESS_PLATFORM: u32 = 33;
export const VIRTIO_F_RING_PACKED: u32 = 34;

@inline export function featureBit(bit: u32): u64 {
  return (<u64>1) << bit;
}

// ---- device status (virtio 1.2 2.1) ----
export const STATUS_ACKNOWLEDGE: u32 = 1;
export const STATUS_DRIVER: u32 = 2;
export const STATUS_DRIVER_OK: u32 = 4;
export const STATUS_FEATURES_OK: u32 = 8;
export const STATUS_DEVICE_NEEDS_RESET: u32 = 64;
export const STATUS_FAILED: u32 = 128;

// ---- fault codes: what is wrong with a ring (0 = nothing). README.md lists them. ----
export const FAULT_NONE: i32 = 0;
// Setup (device and driver side).
export const FAULT_QUEUE_SIZE: i32 = 1;
export const FAULT_RING_OUTSIDE: i32 = 2;
export const FAULT_RING_ALIGN: i32 = 3;
export const FAULT_NOT_READY: i32 = 4;
// Device side: what a driver (guest) wrote.
export const FAULT_AVAIL_IDX: i32 = 5;
export const FAULT_HEAD_INDEX: i32 = 6;
export const FAULT_NEXT_INDEX: i32 = 7;
export const FAULT_CHAIN_LOOP: i32 = 8;
export const FAULT_CHAIN_TOO_LONG: i32 = 9;
export const FAULT_ZERO_LENGTH: i32 = 10;
export const FAULT_BUFFER_OUTSIDE: i32 = 11;
export const FAULT_WRITE_ORDER: i32 = 12;
export const FAULT_LENGTH_OVERFLOW: i32 = 13;
export const FAULT_INDIRECT_FEATURE: i32 = 14;
export const FAULT_INDIRECT_LEN: i32 = 15;
export const FAULT_INDIRECT_OUTSIDE: i32 = 16;
export const FAULT_INDIRECT_NESTED: i32 = 17;
export const FAULT_INDIRECT_NEXT: i32 = 18;
// Driver side: what a device wrote.
export const FAULT_USED_IDX: i32 = 19;
export const FAULT_USED_ID: i32 = 20;
export const FAULT_USED_LEN: i32 = 21;
export const FAULT_COUNT: i32 = 22;

/** A fault's name, as the `[net]` line shows it. */
export function faultName(f: i32): string {
  switch (f) {
    case FAULT_NONE: return "none";
    case FAULT_QUEUE_SIZE: return "queue size not a power of 2 in 1..max";
    case FAULT_RING_OUTSIDE: return "ring outside memory";
    case FAULT_RING_ALIGN: return "ring misaligned";
    case FAULT_NOT_READY: return "queue not set up";
    case FAULT_AVAIL_IDX: return "avail idx more than queue size ahead";
    case FAULT_HEAD_INDEX: return "head index out of range";
    case FAULT_NEXT_INDEX: return "next index out of range";
    case FAULT_CHAIN_LOOP: return "descriptor chain longer than the queue (loop)";
    case FAULT_CHAIN_TOO_LONG: return "descriptor chain has more segments than the device takes";
    case FAULT_ZERO_LENGTH: return "zero-length buffer";
    case FAULT_BUFFER_OUTSIDE: return "buffer outside memory";
    case FAULT_WRITE_ORDER: return "readable descriptor after a writable one";
    case FAULT_LENGTH_OVERFLOW: return "chain length over 4 GiB";
    case FAULT_INDIRECT_FEATURE: return "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
    case FAULT_INDIRECT_LEN: return "indirect table length not a non-zero multiple of 16 within the queue size";
    case FAULT_INDIRECT_OUTSIDE: return "indirect table outside memory";
    case FAULT_INDIRECT_NESTED: return "indirect descriptor inside an indirect table";
    case FAULT_INDIRECT_NEXT: return "indirect descriptor with NEXT";
    case FAULT_USED_IDX: return "used idx beyond what was posted";
    case FAULT_USED_ID: return "used id not outstanding";
    case FAULT_USED_LEN: return "used len larger than the buffer";
    default: return "unknown fault";
  }
}
