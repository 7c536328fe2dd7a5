// The memory ordering hook: the monitor supplies a real fence, Node tests nothing.

/**
 * Between publishing an index and reading the other side's event index or flags, x86 may reorder the
 * store after the load (SDM vol 3, "Loads May Be Reordered with Earlier Stores to Different Locations"), so both sides need a full fence there (virtio 1.2 2.7.13.4.1,
 * 2.7.7.2). WebAssembly without threads has no fence instruction: the monitor passes an object that
 * issues MFENCE through src/hw; pure code cannot import it.
 */
export abstract class Barrier {
  abstract full(): void;
}

/** No fence: for Node tests and for a device model whose driver (the guest) is stopped while it runs. */
export class NoBarrier extends Barrier {
  full(): void {}
}
