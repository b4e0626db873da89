// A frame: one page-sized slot of the buffer pool's arena, and the handle callers hold while
// a page is pinned. The pool makes a frame the first time a miss finds no empty one (not at
// open: a large pool costs nothing for frames that never held a page), each with every
// field initialised in the constructor (so hot code stays monomorphic, whenever it was made),
// and reuses it for other pages after its last unpin; a frame is never freed before the pool.

/** What a caller sees of a pinned page. Valid only while the caller holds its pin. */
export interface Frame {
  /** The page this frame holds. */
  readonly pgno: number;
  /** The page's usable bytes (pageSize minus the trailer), a stable view of the arena. */
  readonly data: Uint8Array;
  /**
   * A word for the layer above, 0 whenever the frame is bound to a page (read in, or
   * allocated): the B-tree sets it once it has checked the node whole, so a page that came
   * from the disk is checked once, not at every write pin. The pager never reads it.
   */
  checked: number;
  /** Pins taken for writing still outstanding, by anyone (0 while only read pins are out). */
  readonly writers: number;
}

/** PoolFrame.version of a page's current image (in the page table, or an empty frame). */
export const CURRENT = -1;
/**
 * PoolFrame.version of an older image dropped from the version table while still pinned
 * (the log was reset under it): its bytes stay valid for its pins; the last unpin frees it.
 */
export const ORPHAN = -2;

/** PoolFrame.freq with no use counted and the next pin counted as one (see `freq`). */
export const FREQ_NO_USE = 1;
/** PoolFrame.freq at or above this: at least two uses (a page of small moves to main). */
export const FREQ_TWO_USES = 7;

export class PoolFrame implements Frame {
  /** Page held, 0 while the frame is empty. */
  pgno = 0;
  /** Outstanding pins; a frame with pins > 0 is never chosen as a victim. */
  pins = 0;
  /** Pins taken for writing still outstanding (never more than pins); see Pager.unpin. */
  writers = 0;
  /** The bytes differ from the page's durable image and must be written before reuse. */
  dirty = false;
  /**
   * S3-FIFO's use counter, as a 4-bit shift register of pins (buffer-pool.ts): bind clears
   * it to 0 and every pin shifts a 1 in, `((freq << 1) | 1) & 15`, one store on the hit
   * path. The first pin after a bind is the one of the caller that brought the page in (a
   * miss or an allocate), which is not a use, so the uses since the bind are its ones less
   * one: 0 or 1 none, 3 one, 7 two, 15 three (the cap). `>>= 1` takes one use away, and
   * FREQ_NO_USE is "none yet, the next pin is one".
   */
  freq = 0;
  /** On the pool's dirty list (which may also hold frames that have since been cleaned). */
  listed = false;
  /** See Frame.checked: reset by every bind. */
  checked = 0;
  /**
   * CURRENT, or the version of an older image a snapshot reads (a log frame + 1, or 0 for
   * the main file's image; see version-table.ts), or ORPHAN. Older images are never dirty.
   */
  version = CURRENT;

  constructor(
    /** Position in the pool's frame array; frames[index] === this. */
    readonly index: number,
    /** The whole page: usable bytes then the 8-byte trailer. */
    readonly page: Uint8Array,
    /** The usable bytes, handed to callers. */
    readonly data: Uint8Array,
    /** The bytes the page checksum covers (checksummedView(page)). */
    readonly covered: Uint8Array,
  ) {}
}
